"""Named entities of articles: the canonical articles waiting for NER, their
entities and aliases, copies taking their story's entities, re-enrichment
and orphan clean-up, and the filing of each link under the type the
entity's articles agree on."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, select, text, update

from pipeline.enrich.labels import LabelVote
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
         list(m.descriptors), m.label, m.label_by_rule)
        for article_id, _, mentions in results
        for m in mentions
    ]
    if rows:
        # The article's old rows are deleted above: nothing can conflict.
        copy_rows(conn, "article_entities",
                   ("article_id", "entity_id", "mentions", "in_title", "first_offset", "salience", "descriptors",
                    "own_label", "label_by_rule"),
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


def lock_entities(conn: Connection) -> None:
    """Wait until no writer is between naming an entity and linking it, and
    keep new ones waiting until this transaction ends: for whatever deletes
    or refiles entities."""
    conn.execute(text(f"SELECT pg_advisory_xact_lock({_ENTITIES_IN_USE_KEY})"))


def delete_orphan_entities(conn: Connection) -> int:
    """Entities no article mentions any more (after a re-enrichment).  Not
    while a writer is between naming an entity and linking it: an entity
    that already existed unlinked would be deleted under it."""
    lock_entities(conn)
    return conn.execute(text(
        "DELETE FROM entities e WHERE NOT EXISTS (SELECT 1 FROM article_entities ae WHERE ae.entity_id = e.id)"
    )).rowcount


def copy_entities_to_copies(conn: Connection) -> int:
    """Copies take their story's canonical entities instead of paying for NER
    again: the text is the same, only the headline differs, so whether the
    headline names each entity is decided again, by the rule new articles
    follow (``named_in_title``, over the entity's name and aliases)."""
    # The canonical's rows name their entities by id: they must not be
    # refiled or deleted between this read and the copies' insert.
    conn.execute(_ENTITIES_IN_USE_SHARED)
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
        SELECT ae.article_id, ae.entity_id, e.name,
               coalesce(array_agg(a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases
        FROM article_entities ae
        JOIN entities e ON e.id = ae.entity_id
        LEFT JOIN entity_aliases a ON a.entity_id = e.id
        WHERE ae.article_id = ANY(:canonical)
        GROUP BY ae.article_id, ae.entity_id, e.name
        """), {"canonical": sorted({row.canonical_article_id for row in ready})}):
        canonical_entities.setdefault(row.article_id, []).append(row)
    links = [
        (copy.id, copy.canonical_article_id, entity.entity_id,
         named_in_title(copy.title, [entity.name, *entity.aliases]))
        for copy in ready for entity in canonical_entities.get(copy.canonical_article_id, ())
    ]
    if links:
        # A copy says of its entities what its canonical article says: the
        # row's other columns come from the canonical's row.
        conn.execute(text("""
            INSERT INTO article_entities (article_id, entity_id, mentions, in_title, first_offset, salience,
                                          descriptors, own_label, label_by_rule)
            SELECT w.article_id, ae.entity_id, ae.mentions, w.in_title, ae.first_offset, ae.salience,
                   ae.descriptors, ae.own_label, ae.label_by_rule
            FROM unnest(CAST(:articles AS bigint[]), CAST(:canonicals AS bigint[]), CAST(:entities AS bigint[]),
                        CAST(:in_title AS boolean[])) AS w(article_id, canonical_id, entity_id, in_title)
            JOIN article_entities ae ON ae.article_id = w.canonical_id AND ae.entity_id = w.entity_id
            ON CONFLICT DO NOTHING
            """), {name: list(column) for name, column in zip(
                ("articles", "canonicals", "entities", "in_title"), zip(*links), strict=True)})
    conn.execute(text("""
        UPDATE articles SET entities_status = 'copied', entities_model = w.model
        FROM unnest(CAST(:ids AS bigint[]), CAST(:models AS text[])) AS w(id, model)
        WHERE articles.id = w.id
        """), {"ids": [row.id for row in ready], "models": [row.entities_model for row in ready]})
    return len(ready)


class FiledRow(NamedTuple):
    """One article's link to one entity, and the entity it is filed under."""

    article_id: int
    entity_id: int
    name: str
    label: str


def label_votes(conn: Connection, names: Collection[str] | None = None) -> list[LabelVote]:
    """What each article says of the entities named ``names`` (any case), for
    the names filed under more than one label or told under more than one
    by their articles; all such names when ``names`` is None.  Copies do not
    count: they repeat their canonical article.  Call under ``lock_entities``."""
    if names is not None and not names:
        return []
    name_filter = "lower(e.name) = ANY(:names)" if names is not None else "true"
    rows = conn.execute(text(f"""
        WITH split AS (
            SELECT lower(e.name) AS name FROM article_entities ae JOIN entities e ON e.id = ae.entity_id
            WHERE {name_filter}
            GROUP BY lower(e.name)
            HAVING count(DISTINCT e.label) > 1 OR count(DISTINCT coalesce(ae.own_label, e.label)) > 1)
        SELECT ae.article_id, ae.entity_id, e.name, e.label, coalesce(ae.own_label, e.label) AS own_label,
               ae.mentions, ae.label_by_rule, a.is_canonical
        FROM split JOIN entities e ON lower(e.name) = split.name
        JOIN article_entities ae ON ae.entity_id = e.id
        JOIN articles a ON a.id = ae.article_id
        ORDER BY ae.article_id, ae.entity_id
        """), {"names": sorted({name.lower() for name in names}) if names is not None else None})
    return [LabelVote(FiledRow(row.article_id, row.entity_id, row.name, row.label), row.name, row.own_label,
                      row.mentions, row.label_by_rule, counts=row.is_canonical) for row in rows]


def refile(conn: Connection, moves: Sequence[tuple[FiledRow, str]]) -> int:
    """File each row under the entity of the same name with the new label,
    keeping the label its article gave it; entities left with no row go.
    Returns the rows moved.  Call under ``lock_entities``."""
    moves = [(row, label) for row, label in moves if label != row.label]
    if not moves:
        return 0
    params = {"articles": [row.article_id for row, _ in moves], "froms": [row.entity_id for row, _ in moves],
              "from_labels": [row.label for row, _ in moves], "names": [row.name for row, _ in moves],
              "labels": [label for _, label in moves]}
    conn.execute(text(
        "INSERT INTO entities (name, label)"
        " SELECT DISTINCT name, label FROM unnest(CAST(:names AS text[]), CAST(:labels AS text[])) AS w(name, label)"
        " ON CONFLICT ON CONSTRAINT entities_name_label_key DO NOTHING"
    ), params)
    moved = conn.execute(text("""
        WITH m AS (
            SELECT w.article_id, w.from_id, w.from_label, e.id AS to_id
            FROM unnest(CAST(:articles AS bigint[]), CAST(:froms AS bigint[]), CAST(:from_labels AS text[]),
                        CAST(:names AS text[]), CAST(:labels AS text[]))
                 AS w(article_id, from_id, from_label, name, label)
            JOIN entities e ON e.name = w.name AND e.label = w.label),
        moved AS (
            DELETE FROM article_entities ae USING m
            WHERE ae.article_id = m.article_id AND ae.entity_id = m.from_id
            RETURNING ae.*, m.to_id, m.from_label)
        INSERT INTO article_entities AS ae (article_id, entity_id, mentions, in_title, first_offset, salience,
                                            descriptors, own_label, label_by_rule)
        SELECT article_id, to_id, mentions, in_title, first_offset, salience, descriptors,
               coalesce(own_label, from_label), label_by_rule
        FROM moved
        ON CONFLICT (article_id, entity_id) DO UPDATE SET
            mentions = ae.mentions + excluded.mentions,
            in_title = ae.in_title OR excluded.in_title,
            first_offset = least(ae.first_offset, excluded.first_offset),
            salience = greatest(ae.salience, excluded.salience),
            descriptors = ARRAY(SELECT DISTINCT unnest(ae.descriptors || excluded.descriptors))
        """), params).rowcount
    conn.execute(text("""
        INSERT INTO entity_aliases (alias, entity_id)
        SELECT DISTINCT a.alias, e.id
        FROM unnest(CAST(:froms AS bigint[]), CAST(:names AS text[]), CAST(:labels AS text[])) AS w(from_id, name, label)
        JOIN entities e ON e.name = w.name AND e.label = w.label
        JOIN entity_aliases a ON a.entity_id = w.from_id
        ON CONFLICT DO NOTHING
        """), params)
    conn.execute(text(
        "DELETE FROM entities e WHERE e.id = ANY(CAST(:froms AS bigint[]))"
        " AND NOT EXISTS (SELECT 1 FROM article_entities ae WHERE ae.entity_id = e.id)"
    ), params)
    return moved
