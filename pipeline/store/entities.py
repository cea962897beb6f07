"""Named entities of articles: the canonical articles waiting for NER, their
entities and aliases, copies taking their story's entities, re-enrichment
and orphan clean-up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from pipeline.enrich.models import UNDECLARED_LANGUAGE, language_tag
from pipeline.enrich.normalise import EntityMention, named_in_title
from pipeline.store.bulk import copy_rows
from pipeline.store.models import Article, ArticleEntity


articles = Article.__table__
article_entities = ArticleEntity.__table__


@dataclass(frozen=True)
class PendingArticle:
    id: int
    title: str | None
    text: str
    language: str | None


def claim_pending_canonical(conn: Connection, limit: int) -> list[PendingArticle]:
    """Canonical articles still waiting for entities, locked for this transaction."""
    rows = conn.execute(
        select(articles.c.id, articles.c.title, articles.c.text, articles.c.language)
        .where(articles.c.entities_status == "pending", articles.c.is_canonical.is_(True))
        .order_by(articles.c.id).limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [PendingArticle(*row) for row in rows]


def pending_canonical(conn: Connection, article_ids: Sequence[int]) -> list[PendingArticle]:
    """Those of ``article_ids`` that are canonical and still wait for entities."""
    rows = conn.execute(
        select(articles.c.id, articles.c.title, articles.c.text, articles.c.language)
        .where(articles.c.id.in_(article_ids), articles.c.entities_status == "pending",
               articles.c.is_canonical.is_(True))
        .order_by(articles.c.id)
    )
    return [PendingArticle(*row) for row in rows]


def lock_pending_canonical(conn: Connection, article_ids: Sequence[int]) -> list[int]:
    """Lock those of ``article_ids`` still canonical and pending, for this
    transaction; rows another run is tagging right now are skipped."""
    return list(conn.execute(
        select(articles.c.id)
        .where(articles.c.id.in_(article_ids), articles.c.entities_status == "pending",
               articles.c.is_canonical.is_(True))
        .order_by(articles.c.id)
        .with_for_update(skip_locked=True)
    ).scalars())


def store_entities(
    conn: Connection, results: Sequence[tuple[int, str, Sequence[EntityMention]]], model: str | None = None
) -> int:
    """Save each article's entities (article_id, status, mentions), replacing
    any it had, and the aliases that resolved to them; returns rows written.

    A fixed number of statements per call, whatever the number of entities:
    arrays through unnest, and COPY for the link rows."""
    names = sorted({(m.name, m.label) for _, _, mentions in results for m in mentions})
    ids: dict[tuple[str, str], int] = {}
    if names:
        # Until this transaction links them, the entities it names may be
        # orphans: delete_orphan_entities waits (shared here, exclusive there).
        conn.execute(_ENTITIES_IN_USE_SHARED)
        params = {"names": [n for n, _ in names], "labels": [lab for _, lab in names]}
        conn.execute(text(
            "INSERT INTO entities (name, label)"
            " SELECT name, label FROM unnest(CAST(:names AS text[]), CAST(:labels AS text[])) AS w(name, label)"
            " ON CONFLICT ON CONSTRAINT entities_name_label_key DO NOTHING"
        ), params)
        # A statement of its own: it sees the names another run inserted meanwhile.
        lookup = conn.execute(
            text(
                "SELECT e.id, e.name, e.label FROM entities e"
                " JOIN unnest(CAST(:names AS text[]), CAST(:labels AS text[])) AS wanted(name, label)"
                " ON e.name = wanted.name AND e.label = wanted.label"
            ),
            params,
        )
        ids = {(name, label): entity_id for entity_id, name, label in lookup}
    article_ids = [article_id for article_id, _, _ in results]
    if article_ids:
        conn.execute(article_entities.delete().where(article_entities.c.article_id.in_(article_ids)))
    rows = [
        (article_id, ids[(m.name, m.label)], m.mentions, m.in_title, m.first_offset, m.salience,
         list(m.descriptors))
        for article_id, _, mentions in results
        for m in mentions
    ]
    if rows:
        # The article's old rows are deleted above: nothing can conflict.
        copy_rows(conn, "article_entities",
                   ("article_id", "entity_id", "mentions", "in_title", "first_offset", "salience", "descriptors"),
                   rows)
    aliases = sorted({
        (alias, ids[(m.name, m.label)])
        for _, _, mentions in results for m in mentions for alias in m.aliases if alias != m.name
    })
    if aliases:
        conn.execute(text(
            "INSERT INTO entity_aliases (alias, entity_id)"
            " SELECT * FROM unnest(CAST(:aliases AS text[]), CAST(:entity_ids AS bigint[]))"
            " ON CONFLICT DO NOTHING"
        ), {"aliases": [alias for alias, _ in aliases], "entity_ids": [entity_id for _, entity_id in aliases]})
    if results:
        conn.execute(text(
            "UPDATE articles SET entities_status = w.status, entities_model = :model"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[])) AS w(id, status)"
            " WHERE articles.id = w.id"
        ), {"ids": article_ids, "statuses": [status for _, status, _ in results], "model": model})
    return len(rows)


def mark_for_reenrichment(
    conn: Connection, *, models: Mapping[str, str], since: datetime | None = None
) -> int:
    """Articles whose entities did not come from the model now configured for
    their language (``models``: language tag -> model version, from
    ``pipeline.enrich.models.model_versions``) go back to pending, their entity rows
    removed; so do all articles fetched since ``since``.  A language that newly
    got a model re-tags its articles (stored model NULL); one that lost its
    model clears them.  A copy is judged by its canonical's language, whose
    entities it takes.  The next enrichment recomputes them."""
    ids = [row[0] for row in conn.execute(
        text(
            """
            SELECT a.id
            FROM articles a
            LEFT JOIN stories s ON s.id = a.story_id
            LEFT JOIN articles canon ON canon.id = s.canonical_article_id
            CROSS JOIN LATERAL (
                SELECT lower(replace(coalesce(nullif(trim(coalesce(canon.language, a.language)), ''),
                                              :undeclared), '_', '-')) AS tag
            ) lang
            LEFT JOIN unnest(CAST(:tags AS text[]), CAST(:versions AS text[])) AS full_tag(tag, version)
                ON full_tag.tag = lang.tag
            LEFT JOIN unnest(CAST(:tags AS text[]), CAST(:versions AS text[])) AS primary_tag(tag, version)
                ON primary_tag.tag = split_part(lang.tag, '-', 1)
            WHERE a.entities_status <> 'pending'
              AND (a.entities_model IS DISTINCT FROM coalesce(full_tag.version, primary_tag.version)
                   OR a.fetched_at >= CAST(:since AS timestamptz))
            FOR UPDATE OF a
            """
        ),
        {"undeclared": UNDECLARED_LANGUAGE, "tags": [language_tag(tag) for tag in models],
         "versions": list(models.values()), "since": since},
    )]
    if ids:
        conn.execute(article_entities.delete().where(article_entities.c.article_id.in_(ids)))
        conn.execute(update(articles).where(articles.c.id.in_(ids)).values(entities_status="pending"))
    return len(ids)


_ENTITIES_IN_USE_KEY = 7351120004


_ENTITIES_IN_USE_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_ENTITIES_IN_USE_KEY})")


def delete_orphan_entities(conn: Connection) -> int:
    """Entities no article mentions any more (after a re-enrichment).  Not
    while a writer is between naming an entity and linking it: an entity
    that already existed unlinked would be deleted under it."""
    conn.execute(text(f"SELECT pg_advisory_xact_lock({_ENTITIES_IN_USE_KEY})"))
    return conn.execute(text(
        "DELETE FROM entities e WHERE NOT EXISTS (SELECT 1 FROM article_entities ae WHERE ae.entity_id = e.id)"
    )).rowcount


def copy_entities_to_copies(conn: Connection) -> int:
    """Copies take their story's canonical entities instead of paying for NER
    again: the text is the same, only the headline differs, so whether the
    headline names each entity is decided again, by the rule new articles
    follow (``named_in_title``, over the entity's name and aliases)."""
    ready = conn.execute(text("""
        SELECT copy.id, copy.title, s.canonical_article_id, canon.entities_model
        FROM articles copy
        JOIN stories s ON s.id = copy.story_id
        JOIN articles canon ON canon.id = s.canonical_article_id
        WHERE copy.entities_status = 'pending' AND NOT copy.is_canonical
          AND canon.entities_status <> 'pending'
        ORDER BY copy.id
        FOR UPDATE OF copy SKIP LOCKED
        """)).all()
    if not ready:
        return 0
    canonical_entities: dict[int, list] = {}
    for row in conn.execute(text("""
        SELECT ae.article_id, ae.entity_id, ae.mentions, ae.first_offset, ae.salience, ae.descriptors, e.name,
               coalesce(array_agg(a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases
        FROM article_entities ae
        JOIN entities e ON e.id = ae.entity_id
        LEFT JOIN entity_aliases a ON a.entity_id = e.id
        WHERE ae.article_id = ANY(:canonical)
        GROUP BY ae.article_id, ae.entity_id, ae.mentions, ae.first_offset, ae.salience, ae.descriptors, e.name
        """), {"canonical": sorted({row.canonical_article_id for row in ready})}):
        canonical_entities.setdefault(row.article_id, []).append(row)
    links = [
        (copy.id, entity.entity_id, entity.mentions, named_in_title(copy.title, [entity.name, *entity.aliases]),
         entity.first_offset, entity.salience, entity.descriptors)
        for copy in ready for entity in canonical_entities.get(copy.canonical_article_id, ())
    ]
    if links:
        conn.execute(text("""
            INSERT INTO article_entities (article_id, entity_id, mentions, in_title, first_offset, salience)
            SELECT * FROM unnest(CAST(:articles AS bigint[]), CAST(:entities AS bigint[]),
                                 CAST(:mentions AS integer[]), CAST(:in_title AS boolean[]),
                                 CAST(:offsets AS integer[]), CAST(:salience AS double precision[]))
            ON CONFLICT DO NOTHING
            """), {name: list(column) for name, column in zip(
                ("articles", "entities", "mentions", "in_title", "offsets", "salience"),
                zip(*(link[:6] for link in links)), strict=True)})
        # A copy says of its entities what its canonical article says
        # (text[] cannot be unnested beside the other columns: one row each).
        described = [(link[0], link[1], link[6]) for link in links if link[6]]
        for article_id, entity_id, descriptors in described:
            conn.execute(text(
                "UPDATE article_entities SET descriptors = :descriptors"
                " WHERE article_id = :article_id AND entity_id = :entity_id"
            ), {"descriptors": list(descriptors), "article_id": article_id, "entity_id": entity_id})
    conn.execute(text("""
        UPDATE articles SET entities_status = 'copied', entities_model = w.model
        FROM unnest(CAST(:ids AS bigint[]), CAST(:models AS text[])) AS w(id, model)
        WHERE articles.id = w.id
        """), {"ids": [row.id for row in ready], "models": [row.entities_model for row in ready]})
    return len(ready)
