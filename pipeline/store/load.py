"""Writes, each idempotent: running a batch twice, or two runs at once,
leaves the same rows.  Unique constraints, ON CONFLICT and advisory locks do
this, never in-memory sets.  Every function takes the caller's connection
and runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from pipeline.enrich import EntityMention
from pipeline.clean import SITE_RULES_VERSION
from pipeline.neardup import Fingerprint, same_story
from pipeline.store.models import (
    Article, ArticleBand, ArticleEntity, ArticleFingerprint, Entity, EntityAlias, Feed, FetchFailure,
    RawPage, SiteBoilerplate, Story,
)

articles = Article.__table__
feeds = Feed.__table__
stories = Story.__table__
raw_pages = RawPage.__table__
entities = Entity.__table__
article_entities = ArticleEntity.__table__
fetch_failures = FetchFailure.__table__
site_boilerplate = SiteBoilerplate.__table__
article_fingerprints = ArticleFingerprint.__table__
article_bands = ArticleBand.__table__
entity_aliases = EntityAlias.__table__


@dataclass(frozen=True)
class ArticleRecord:
    """One cleaned article ready to store."""

    canonical_url: str
    url: str
    feed_id: int | None
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    language: str | None
    site_name: str | None
    dateline: str | None
    agency: str | None
    content_hash: str
    html_gzip: bytes = b""
    final_url: str = ""
    content_type: str | None = None
    charset_declared: str | None = None
    charset_used: str | None = None
    replacement_ratio: float | None = None
    image_url: str | None = None
    date_source: str | None = None
    date_candidates: list = field(default_factory=list)
    date_warning: str | None = None
    site: str | None = None
    # (key, line) of the article's lines, counted towards its site's furniture.
    site_lines: list[tuple[int, str]] = field(default_factory=list)
    fingerprint: Fingerprint | None = None


@dataclass
class StoreOutcome:
    inserted: list[int] = field(default_factory=list)
    new_stories: int = 0
    copies: int = 0  # articles that joined an existing story
    already_stored: int = 0  # canonical URL was there already (another feed, another run)
    near_copies: int = 0  # copies found by MinHash rather than an equal text


# ---------------------------------------------------------------- feeds


def upsert_feeds(conn: Connection, sources: Iterable[tuple[str, str | None]]) -> dict[str, int]:
    """Register feeds by URL (keeping their state); returns url -> id.  A URL
    that a feed was permanently redirected away from maps to that feed."""
    sources = list(sources)
    if not sources:
        return {}
    urls = [url for url, _ in sources]
    moved = dict(conn.execute(
        select(feeds.c.previous_url, feeds.c.id).where(feeds.c.previous_url.in_(urls))
    ).all())
    rows = [{"url": url, "name": name} for url, name in sources if url not in moved]
    if rows:
        statement = insert(feeds).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[feeds.c.url],
            set_={"name": func.coalesce(statement.excluded.name, feeds.c.name)},
        )
        conn.execute(statement)
    result = conn.execute(select(feeds.c.url, feeds.c.id).where(feeds.c.url.in_(urls)))
    return {**dict(result.all()), **moved}


def select_feeds(
    conn: Connection, *, ids: Sequence[int] | None = None, force: bool = False
) -> list[tuple[int, str, str | None, str | None]]:
    """(id, url, etag, last_modified) of the enabled feeds to fetch now: those
    due (or all of them with ``force``), among ``ids`` when given."""
    condition = feeds.c.disabled.is_(False)
    if ids is not None:
        condition &= feeds.c.id.in_(ids)
    if not force:
        condition &= feeds.c.next_fetch_at.is_(None) | (feeds.c.next_fetch_at <= func.now())
    rows = conn.execute(
        select(feeds.c.id, feeds.c.url, feeds.c.etag, feeds.c.last_modified)
        .where(condition).order_by(feeds.c.id)
    )
    return [tuple(row) for row in rows]


def record_feed_success(
    conn: Connection, feed_id: int, *, status: int, title: str | None, etag: str | None,
    last_modified: str | None, next_fetch_at: datetime, warning: str | None = None,
    entries_skipped: int = 0,
) -> None:
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(
            title=func.coalesce(title, feeds.c.title),
            etag=etag,
            last_modified=last_modified,
            last_status=status,
            last_fetched_at=func.now(),
            last_success_at=func.now(),
            next_fetch_at=next_fetch_at,
            consecutive_failures=0,
            last_error=None,
            last_error_kind=None,
            last_warning=warning,
            entries_skipped=entries_skipped,
        )
    )


def record_feed_unchanged(conn: Connection, feed_id: int, next_fetch_at: datetime) -> None:
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(
            last_status=304, last_fetched_at=func.now(), last_success_at=func.now(),
            next_fetch_at=next_fetch_at, consecutive_failures=0, last_error=None,
            last_error_kind=None,
        )
    )


def record_feed_failure(
    conn: Connection, feed_id: int, *, error: str, kind: str, status: int | None,
    interval: timedelta, max_interval: timedelta, disable: bool = False,
) -> None:
    """Count the failure and back off: interval x 2^failures, capped, so a
    broken feed is asked less often but never given up on (unless 410 Gone)."""
    failures = feeds.c.consecutive_failures + 1
    backoff = func.least(
        func.make_interval(0, 0, 0, 0, 0, 0, interval.total_seconds() * func.power(2, failures - 1)),
        func.make_interval(0, 0, 0, 0, 0, 0, max_interval.total_seconds()),
    )
    values = dict(
        last_status=status,
        last_fetched_at=func.now(),
        consecutive_failures=failures,
        last_error=error,
        last_error_kind=kind,
        next_fetch_at=func.now() + backoff,
    )
    if disable:
        values.update(disabled=True, disabled_reason=error)
    conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


def move_feed(conn: Connection, feed_id: int, new_url: str) -> bool:
    """Follow a permanent redirect: the feed takes its new URL, unless another
    stored feed has it already (then both stay as they are)."""
    taken = conn.execute(select(feeds.c.id).where(feeds.c.url == new_url)).scalar()
    if taken is not None:
        return False
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(url=new_url, previous_url=feeds.c.url)
    )
    return True


# ---------------------------------------------------------------- entries


def stored_urls(conn: Connection, urls: Sequence[str]) -> set[str]:
    """Which of these canonical URLs are stored already, as canonical or as fetched URL."""
    if not urls:
        return set()
    found = conn.execute(
        select(articles.c.canonical_url).where(articles.c.canonical_url.in_(urls))
        .union(select(articles.c.url).where(articles.c.url.in_(urls)))
    )
    return {row[0] for row in found}


def record_failures(conn: Connection, failures: Sequence[tuple[str, int | None, str, str]]) -> None:
    """(url, feed_id, stage, error) for entries that did not make it this run."""
    if not failures:
        return
    rows = [
        {"url": url, "feed_id": feed_id, "stage": stage, "error": error[:2000]}
        for url, feed_id, stage, error in {failure[0]: failure for failure in failures}.values()
    ]
    statement = insert(fetch_failures).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[fetch_failures.c.url],
            set_={
                "stage": statement.excluded.stage,
                "error": statement.excluded.error,
                "attempts": fetch_failures.c.attempts + 1,
                "last_failed_at": func.now(),
            },
        )
    )


def retryable_failures(
    conn: Connection, feed_ids: Sequence[int] | None, max_attempts: int
) -> list[tuple[str, int | None]]:
    """(url, feed_id) of entries that failed before and may be tried again,
    for these feeds (None: every enabled feed).

    They are retried whether or not their feed is fetched this run: with
    conditional GET an unchanged feed lists nothing, and its missed entries
    would otherwise never come back."""
    condition = (fetch_failures.c.attempts < max_attempts) & feeds.c.disabled.is_(False)
    if feed_ids is not None:
        condition &= fetch_failures.c.feed_id.in_(feed_ids)
    rows = conn.execute(
        select(fetch_failures.c.url, fetch_failures.c.feed_id)
        .join(feeds, feeds.c.id == fetch_failures.c.feed_id)
        .where(condition)
        .order_by(fetch_failures.c.url)
    )
    return [tuple(row) for row in rows]


def clear_failures(conn: Connection, urls: Sequence[str]) -> None:
    if urls:
        conn.execute(fetch_failures.delete().where(fetch_failures.c.url.in_(urls)))


# ---------------------------------------------------------------- articles and stories

# One lock per database for story assignment: near copies have different
# texts, so no per-text lock could stop two runs from each starting a story
# for the same wire copy.  It is held only while a batch's rows are written
# (milliseconds per article); fetching, extraction and NER run outside it.
_STORY_LOCK = text("SELECT pg_advisory_xact_lock(7351120002)")
# Candidates sharing at least one band, most bands first; a few are enough.
MAX_CANDIDATES = 20
# An index-only look-up on article_bands' primary key (bench/dedup.py times it).
CANDIDATE_SQL = (
    "SELECT b.article_id, a.story_id, f.minhash, f.shingles, f.version"
    " FROM (SELECT article_id, count(*) AS shared FROM article_bands"
    "       WHERE hash = ANY(:bands) AND article_id <> :id"
    "       GROUP BY article_id ORDER BY shared DESC, article_id LIMIT :limit) b"
    " JOIN articles a ON a.id = b.article_id"
    " JOIN article_fingerprints f ON f.article_id = b.article_id"
    " WHERE a.story_id IS NOT NULL ORDER BY b.shared DESC, b.article_id"
)


def store_articles(conn: Connection, records: Sequence[ArticleRecord]) -> StoreOutcome:
    """Insert articles and give each its story: the story of an article with
    the same normalised text (exact copy), else of articles it verifiably
    near-copies (MinHash bands, then Jaccard/containment), merging stories
    the article proves to be one; else a new story.

    Earlier publications are placed first, so a story's first article is its
    earliest; each touched story's canonical article is then re-chosen.
    """
    outcome = StoreOutcome()
    touched: set[int] = set()
    stored: list[ArticleRecord] = []
    conn.execute(_STORY_LOCK)
    ordered = sorted(
        records,
        key=lambda item: (
            item.published_at.timestamp() if item.published_at else float("inf"),
            item.canonical_url,
        ),
    )
    for record in ordered:
        article_id = conn.execute(
            insert(articles)
            .values(
                canonical_url=record.canonical_url, url=record.url, feed_id=record.feed_id,
                title=record.title, text=record.text, author=record.author,
                published_at=record.published_at, language=record.language,
                site_name=record.site_name, dateline=record.dateline, agency=record.agency,
                content_hash=record.content_hash, image_url=record.image_url,
                date_source=record.date_source, date_candidates=record.date_candidates,
                date_warning=record.date_warning,
            )
            .on_conflict_do_nothing(index_elements=[articles.c.canonical_url])
            .returning(articles.c.id)
        ).scalar()
        if article_id is None:
            outcome.already_stored += 1
            continue
        story_id, kind, matched, score = _find_story(conn, article_id, record)
        if story_id is None:
            story_id = conn.execute(
                insert(stories).values(canonical_article_id=article_id, article_count=0)
                .returning(stories.c.id)
            ).scalar_one()
            outcome.new_stories += 1
        else:
            outcome.copies += 1
            outcome.near_copies += kind == "near"
        conn.execute(
            update(articles).where(articles.c.id == article_id).values(
                story_id=story_id, match_kind=kind, matched_article_id=matched, match_score=score,
            )
        )
        store_fingerprint(conn, article_id, record.fingerprint)
        touched.add(story_id)
        if record.html_gzip:
            conn.execute(
                insert(raw_pages).values(
                    article_id=article_id, final_url=record.final_url or record.url,
                    content_type=record.content_type, html_gzip=record.html_gzip,
                    charset_declared=record.charset_declared, charset_used=record.charset_used,
                    replacement_ratio=record.replacement_ratio,
                ).on_conflict_do_nothing()
            )
        outcome.inserted.append(article_id)
        if kind == "new":
            # Furniture repeats across different stories; article text only
            # across copies of one.  Counting only story-starting articles
            # keeps a wire story carried five times by one site (or one host,
            # as in the demo) from being learned as that site's boilerplate.
            stored.append(record)
    touched = {story for story in touched if _story_exists(conn, story)}
    rechoose_canonical(conn, touched)
    refresh_story_counts(conn, touched)
    count_site_lines(conn, stored)
    return outcome


def _find_story(
    conn: Connection, article_id: int, record: ArticleRecord
) -> tuple[int | None, str, int | None, float | None]:
    """(story, how it matched: new/exact/near, the matched article, score)."""
    exact = conn.execute(
        select(articles.c.id, articles.c.story_id)
        .where(articles.c.content_hash == record.content_hash, articles.c.id != article_id,
               articles.c.story_id.is_not(None))
        .order_by(articles.c.id).limit(1)
    ).first()
    if exact is not None:
        return exact.story_id, "exact", exact.id, 1.0
    fingerprint = record.fingerprint
    if fingerprint is None or not fingerprint.bands:
        return None, "new", None, None
    candidates = conn.execute(
        text(CANDIDATE_SQL), {"bands": fingerprint.bands, "id": article_id, "limit": MAX_CANDIDATES}
    ).all()
    matches: list[tuple[int, int, float]] = []
    for candidate_id, story_id, minhash, shingles, version in candidates:
        if version != fingerprint.version:
            continue
        same, score, _ = same_story(fingerprint, Fingerprint.from_stored(minhash, shingles, version))
        if same:
            matches.append((candidate_id, story_id, score))
    if not matches:
        return None, "new", None, None
    best_id, best_story, best_score = max(matches, key=lambda match: (match[2], -match[0]))
    story_ids = {story for _, story, _ in matches}
    if len(story_ids) > 1:
        best_story = merge_stories(conn, story_ids)
    return best_story, "near", best_id, round(best_score, 4)


def store_fingerprint(conn: Connection, article_id: int, fingerprint: Fingerprint | None) -> None:
    """An article's MinHash signature, shingle hashes and band hashes."""
    if fingerprint is None:
        return
    conn.execute(
        insert(article_fingerprints).values(
            article_id=article_id, version=fingerprint.version,
            minhash=fingerprint.minhash, shingles=fingerprint.shingles,
        ).on_conflict_do_nothing()
    )
    if fingerprint.bands:
        conn.execute(
            insert(article_bands).values(
                [{"hash": key, "band": band, "article_id": article_id}
                 for band, key in enumerate(fingerprint.bands)]
            ).on_conflict_do_nothing()
        )


def _story_exists(conn: Connection, story_id: int) -> bool:
    return conn.execute(select(stories.c.id).where(stories.c.id == story_id)).scalar() is not None


def merge_stories(conn: Connection, story_ids: Iterable[int]) -> int:
    """One article proved these stories to be one: the oldest keeps its id,
    the others' members move to it, and the others are deleted."""
    keep, *others = sorted(set(story_ids))
    if others:
        conn.execute(update(articles).where(articles.c.story_id.in_(others)).values(story_id=keep))
        conn.execute(stories.delete().where(stories.c.id.in_(others)))
    return keep


def rechoose_canonical(conn: Connection, story_ids: Iterable[int]) -> None:
    """A story's canonical article is the agency's own when one member is
    published by the agency its dateline credits (site name or host), else
    the earliest publication (undated ones last); between equals, the longer
    text, then the first stored."""
    ids = sorted(set(story_ids))
    if not ids:
        return
    conn.execute(
        text(
            """
            WITH ranked AS (
                SELECT id, story_id, row_number() OVER (
                    PARTITION BY story_id
                    ORDER BY (agency IS NOT NULL AND (
                                 strpos(lower(coalesce(site_name, '')), agency) > 0
                                 OR split_part(split_part(canonical_url, '://', 2), '/', 1)
                                    ~ ('(^|\\.)' || regexp_replace(agency, '\\W', '', 'g') || '\\.'))) DESC,
                             published_at ASC NULLS LAST, length(text) DESC, id) AS rank
                FROM articles WHERE story_id = ANY(:ids)
            )
            UPDATE articles a SET is_canonical = (r.rank = 1)
            FROM ranked r WHERE a.id = r.id AND a.is_canonical IS DISTINCT FROM (r.rank = 1)
            """
        ),
        {"ids": ids},
    )
    conn.execute(
        text(
            "UPDATE stories s SET canonical_article_id = a.id FROM articles a"
            " WHERE a.story_id = s.id AND a.is_canonical AND s.id = ANY(:ids)"
            " AND s.canonical_article_id IS DISTINCT FROM a.id"
        ),
        {"ids": ids},
    )


def count_site_lines(conn: Connection, records: Sequence[ArticleRecord]) -> None:
    """Each newly stored article adds one to the support of each of its lines
    on its site.  Called only for articles just inserted, so a rerun does not
    count a page twice; rows are written in key order so that concurrent runs
    cannot deadlock."""
    support: dict[tuple[str, int], list] = {}
    for record in records:
        if not record.site:
            continue
        for key, line in record.site_lines:
            entry = support.setdefault((record.site, key), [line, 0])
            entry[1] += 1
    if not support:
        return
    rows = [
        {"rules_version": SITE_RULES_VERSION, "host": host, "line_hash": key, "text": line, "support": count}
        for (host, key), (line, count) in sorted(support.items())
    ]
    statement = insert(site_boilerplate).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_boilerplate.c.rules_version, site_boilerplate.c.host, site_boilerplate.c.line_hash],
            set_={"support": site_boilerplate.c.support + statement.excluded.support, "last_seen_at": func.now()},
        )
    )


def learned_site_lines(conn: Connection, hosts: Iterable[str], min_support: int) -> dict[str, frozenset[int]]:
    """The furniture lines of these sites: support at or above the threshold."""
    hosts = sorted({host for host in hosts if host})
    if not hosts:
        return {}
    rows = conn.execute(
        select(site_boilerplate.c.host, site_boilerplate.c.line_hash).where(
            site_boilerplate.c.rules_version == SITE_RULES_VERSION,
            site_boilerplate.c.host.in_(hosts),
            site_boilerplate.c.support >= min_support,
        )
    )
    learned: dict[str, set[int]] = {}
    for host, key in rows:
        learned.setdefault(host, set()).add(key)
    return {host: frozenset(keys) for host, keys in learned.items()}


def refresh_story_counts(conn: Connection, story_ids: Iterable[int]) -> None:
    """Story counts derived from their members, never incremented blindly."""
    ids = sorted(set(story_ids))
    if ids:
        conn.execute(
            text(
                "UPDATE stories SET article_count = counts.n FROM ("
                " SELECT story_id, count(*) AS n FROM articles"
                " WHERE story_id = ANY(:ids) GROUP BY story_id) AS counts"
                " WHERE stories.id = counts.story_id"
            ),
            {"ids": ids},
        )


# ---------------------------------------------------------------- entities


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


def store_entities(
    conn: Connection, results: Sequence[tuple[int, str, Sequence[EntityMention]]], model: str | None = None
) -> int:
    """Save each article's entities (article_id, status, mentions), replacing
    any it had, and the aliases that resolved to them; returns rows written."""
    names = sorted({(m.name, m.label) for _, _, mentions in results for m in mentions})
    ids: dict[tuple[str, str], int] = {}
    if names:
        conn.execute(
            insert(entities).values([{"name": n, "label": lab} for n, lab in names])
            .on_conflict_do_nothing(constraint="entities_name_label_key")
        )
        lookup = conn.execute(
            text(
                "SELECT e.id, e.name, e.label FROM entities e"
                " JOIN unnest(CAST(:names AS text[]), CAST(:labels AS text[])) AS wanted(name, label)"
                " ON e.name = wanted.name AND e.label = wanted.label"
            ),
            {"names": [n for n, _ in names], "labels": [lab for _, lab in names]},
        )
        ids = {(name, label): entity_id for entity_id, name, label in lookup}
    article_ids = [article_id for article_id, _, _ in results]
    if article_ids:
        conn.execute(article_entities.delete().where(article_entities.c.article_id.in_(article_ids)))
    rows = [
        {"article_id": article_id, "entity_id": ids[(m.name, m.label)], "mentions": m.mentions,
         "in_title": m.in_title, "first_offset": m.first_offset, "salience": m.salience}
        for article_id, _, mentions in results
        for m in mentions
    ]
    if rows:
        conn.execute(insert(article_entities).values(rows))
    aliases = sorted({
        (alias, ids[(m.name, m.label)])
        for _, _, mentions in results for m in mentions for alias in m.aliases if alias != m.name
    })
    if aliases:
        conn.execute(
            insert(entity_aliases).values([{"alias": alias, "entity_id": entity_id} for alias, entity_id in aliases])
            .on_conflict_do_nothing()
        )
    if results:
        conn.execute(
            update(articles)
            .where(articles.c.id == bindparam("article_id"))
            .values(entities_status=bindparam("status"), entities_model=bindparam("model")),
            [{"article_id": article_id, "status": status, "model": model} for article_id, status, _ in results],
        )
    return len(rows)


def mark_for_reenrichment(conn: Connection, *, model: str, since: datetime | None = None) -> int:
    """Articles whose entities came from another model (or all articles
    fetched since ``since``) go back to pending, their entity rows removed;
    the next enrichment recomputes them."""
    condition = articles.c.entities_model.is_distinct_from(model)
    if since is not None:
        condition = condition | (articles.c.fetched_at >= since)
    ids = [row[0] for row in conn.execute(select(articles.c.id).where(condition).with_for_update())]
    if ids:
        conn.execute(article_entities.delete().where(article_entities.c.article_id.in_(ids)))
        conn.execute(update(articles).where(articles.c.id.in_(ids)).values(entities_status="pending"))
    return len(ids)


def delete_orphan_entities(conn: Connection) -> int:
    """Entities no article mentions any more (after a re-enrichment)."""
    return conn.execute(text(
        "DELETE FROM entities e WHERE NOT EXISTS (SELECT 1 FROM article_entities ae WHERE ae.entity_id = e.id)"
    )).rowcount


def copy_entities_to_copies(conn: Connection) -> int:
    """Copies take their story's canonical entities instead of paying for NER
    again: the text is the same, only the headline differs."""
    result = conn.execute(
        text(
            """
            WITH ready AS (
                SELECT copy.id AS copy_id, copy.title AS copy_title, s.canonical_article_id,
                       canon.entities_model
                FROM articles copy
                JOIN stories s ON s.id = copy.story_id
                JOIN articles canon ON canon.id = s.canonical_article_id
                WHERE copy.entities_status = 'pending' AND NOT copy.is_canonical
                  AND canon.entities_status <> 'pending'
                FOR UPDATE OF copy SKIP LOCKED
            ), inserted AS (
                INSERT INTO article_entities (article_id, entity_id, mentions, first_offset, salience, in_title)
                SELECT ready.copy_id, ae.entity_id, ae.mentions, ae.first_offset, ae.salience,
                       coalesce(ready.copy_title ~* ('(^|\\W)' || regexp_replace(e.name, '([.^$*+?()\\[\\]{}|\\\\])', '\\\\\\1', 'g') || '($|\\W)'), false)
                FROM ready
                JOIN article_entities ae ON ae.article_id = ready.canonical_article_id
                JOIN entities e ON e.id = ae.entity_id
                ON CONFLICT DO NOTHING
            )
            UPDATE articles SET entities_status = 'copied', entities_model = ready.entities_model
            FROM ready WHERE articles.id = ready.copy_id
            RETURNING articles.id
            """
        )
    )
    return len(result.fetchall())
