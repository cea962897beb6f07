"""Articles and their stories: a batch stored in a fixed number of
statements, each article joined to the story of its exact or near copies,
with its fingerprint, bands and raw page.  Idempotent: running a batch
twice, or two runs at once, leaves the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from sqlalchemy import Connection, func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from pipeline.neardup import Fingerprint
from pipeline.records import ArticleRecord
from pipeline.stories import MAX_CANDIDATES, StoredCandidate, StoryAssigner
from pipeline.store.bulk import copy_rows
from pipeline.store.engine import is_row_error
from pipeline.store.models import Article, ArticleBand, ArticleFingerprint, RawPage, Story
from pipeline.store.site_lines import count_site_lines


articles = Article.__table__
stories = Story.__table__
raw_pages = RawPage.__table__
article_fingerprints = ArticleFingerprint.__table__
article_bands = ArticleBand.__table__


@dataclass
class StoreOutcome:
    inserted: list[int] = field(default_factory=list)
    new_stories: int = 0
    copies: int = 0  # articles that joined an existing story
    already_stored: int = 0  # canonical URL was there already (another feed, another run)
    near_copies: int = 0  # copies found by MinHash rather than an equal text


def prune_raw_pages(conn: Connection, older_than: timedelta) -> int:
    """Delete stored HTML fetched longer ago than ``older_than``; the articles
    stay, only re-processing them from their original bytes is no longer possible."""
    return conn.execute(
        raw_pages.delete().where(raw_pages.c.fetched_at < func.now() - older_than)
    ).rowcount


# One lock per database for story assignment: near copies have different
# texts, so no per-text lock could stop two runs from each starting a story
# for the same wire copy.  It is held only while a batch's rows are written
# (milliseconds per article); fetching, extraction and NER run outside it.
_STORY_LOCK = text("SELECT pg_advisory_xact_lock(7351120002)")


# The stored near-copy candidates of a whole batch in one query: ``bands``
# holds every article's band keys, ``positions`` the article (its place in the
# batch) each key belongs to.  Per article, the look-up of one article alone:
# an index-only scan on article_bands' primary key (bench/dedup.py times it).
CANDIDATE_SQL = (
    "WITH wanted AS (SELECT position, array_agg(hash) AS bands"
    "       FROM unnest(CAST(:positions AS int[]), CAST(:bands AS bigint[])) AS w(position, hash)"
    "       GROUP BY position)"
    " SELECT w.position, c.article_id, c.shared, a.story_id, f.minhash, f.shingles, f.version"
    " FROM wanted w CROSS JOIN LATERAL ("
    "       SELECT article_id, count(*) AS shared FROM article_bands WHERE hash = ANY(w.bands)"
    "       GROUP BY article_id ORDER BY shared DESC, article_id LIMIT :limit) c"
    " JOIN articles a ON a.id = c.article_id"
    " JOIN article_fingerprints f ON f.article_id = c.article_id"
    " WHERE a.story_id IS NOT NULL ORDER BY w.position, c.shared DESC, c.article_id"
)


# The first stored article (with a story) of each of a batch's content hashes.
EXACT_SQL = (
    "SELECT DISTINCT ON (content_hash) content_hash, id, story_id FROM articles"
    " WHERE content_hash = ANY(:hashes) AND story_id IS NOT NULL ORDER BY content_hash, id"
)


def _publication_order(record: ArticleRecord) -> tuple[float, str]:
    return (record.published_at.timestamp() if record.published_at else float("inf"), record.canonical_url)


def store_articles_isolated(
    conn: Connection, records: Sequence[ArticleRecord]
) -> tuple[StoreOutcome, list[tuple[ArticleRecord, BaseException]]]:
    """``store_articles``; when the batch holds a row PostgreSQL will not
    take, each article again on a savepoint of its own, in publication
    order, so that one bad row costs one article, not the batch.  Returns
    the outcome and the articles refused, with the error."""
    try:
        with conn.begin_nested():
            return store_articles(conn, records), []
    except (DBAPIError, psycopg.Error) as exc:
        if not is_row_error(exc):
            raise
    outcome, refused = StoreOutcome(), []
    for record in sorted(records, key=_publication_order):
        try:
            with conn.begin_nested():
                part = store_articles(conn, [record])
        except (DBAPIError, psycopg.Error) as exc:
            if not is_row_error(exc):
                raise
            refused.append((record, exc))
            continue
        outcome.inserted += part.inserted
        for name in ("new_stories", "copies", "already_stored", "near_copies"):
            setattr(outcome, name, getattr(outcome, name) + getattr(part, name))
    return outcome, refused


def store_articles(conn: Connection, records: Sequence[ArticleRecord]) -> StoreOutcome:
    """Insert articles and give each its story: the story of an article with
    the same normalised text (exact copy), else of articles it verifiably
    near-copies (MinHash bands, then Jaccard/containment), merging stories
    the article proves to be one; else a new story.

    Earlier publications are placed first, so a story's first article is its
    earliest; each touched story's canonical article is then re-chosen.

    A batch costs a fixed number of statements, not a few per article: the
    stored candidates of all its articles are read in two queries, stories
    are assigned in memory in publication order (an article may copy one
    stored earlier in the same batch, exactly as if they were stored one at
    a time), and the rows go in with multi-row INSERTs and COPY.
    """
    outcome = StoreOutcome()
    conn.execute(_STORY_LOCK)
    ordered = sorted(records, key=_publication_order)
    # Under the lock no other batch inserts articles, so this read is exact.
    taken = set(conn.execute(
        text("SELECT canonical_url FROM articles WHERE canonical_url = ANY(:urls)"),
        {"urls": sorted({record.canonical_url for record in ordered})},
    ).scalars())
    fresh: list[ArticleRecord] = []
    for record in ordered:
        if record.canonical_url in taken:
            outcome.already_stored += 1
        else:
            taken.add(record.canonical_url)
            fresh.append(record)
    if not fresh:
        return outcome
    ids = _next_ids(conn, "articles", len(fresh))
    assigner = StoryAssigner(*_story_candidates(conn, fresh))
    rows, stored = [], []
    for position, (article_id, record) in enumerate(zip(ids, fresh, strict=True)):
        placed = assigner.place(position, article_id, record)
        if placed.kind == "new":
            outcome.new_stories += 1
            # Furniture repeats across different stories; article text only
            # across copies of one.  Counting only story-starting articles
            # keeps a wire story carried five times by one site (or one host,
            # as in the demo) from being learned as that site's boilerplate.
            stored.append(record)
        else:
            outcome.copies += 1
            outcome.near_copies += placed.kind == "near"
        rows.append((article_id, record, placed))
    for group in assigner.stored_merges:
        merge_stories(conn, group)
    created = _create_stories(conn, assigner.new_stories())

    def story_id(key: int) -> int:
        key = assigner.resolve(key)
        return created[key] if key < 0 else key

    inserted = conn.execute(
        insert(articles).on_conflict_do_nothing(index_elements=[articles.c.canonical_url])
        .returning(articles.c.id),
        [
            dict(
                id=article_id, canonical_url=record.canonical_url, url=record.url, feed_id=record.feed_id,
                title=record.title, text=record.text, author=record.author,
                published_at=record.published_at, language=record.language,
                site_name=record.site_name, dateline=record.dateline, agency=record.agency,
                content_hash=record.content_hash, image_url=record.image_url,
                date_source=record.date_source, date_candidates=record.date_candidates,
                date_warning=record.date_warning, story_id=story_id(placed.story), match_kind=placed.kind,
                matched_article_id=placed.matched_article_id, match_score=placed.score,
                # A guess rechoose_canonical corrects; right for every story
                # of one article, it saves rewriting (and re-indexing) the row.
                is_canonical=placed.kind == "new",
            )
            for article_id, record, placed in rows
        ],
    ).scalars().all()
    if len(inserted) != len(rows):
        raise RuntimeError("articles were inserted without the story lock while a batch was stored")
    outcome.inserted = list(ids)
    copy_rows(conn, "article_fingerprints", ("article_id", "version", "minhash", "shingles"), (
        (article_id, record.fingerprint.version, record.fingerprint.minhash, record.fingerprint.shingles)
        for article_id, record in zip(ids, fresh) if record.fingerprint is not None
    ))
    copy_rows(conn, "article_bands", ("hash", "band", "article_id"), (
        (key, band, article_id)
        for article_id, record in zip(ids, fresh) if record.fingerprint is not None
        for band, key in _distinct_bands(record.fingerprint.bands)
    ))
    copy_rows(conn, "raw_pages", (
        "article_id", "final_url", "content_type", "html_gzip", "charset_declared", "charset_used",
        "replacement_ratio",
    ), (
        (article_id, record.final_url or record.url, record.content_type, record.html_gzip,
         record.charset_declared, record.charset_used, record.replacement_ratio)
        for article_id, record in zip(ids, fresh) if record.html_gzip
    ))
    touched = {story_id(placed.story) for _, _, placed in rows}
    rechoose_canonical(conn, touched)
    refresh_story_counts(conn, touched)
    count_site_lines(conn, stored)
    return outcome


def _next_ids(conn: Connection, table: str, count: int) -> list[int]:
    """``count`` ids from a table's sequence, ascending: rows written in one
    statement get ids in the order they are stored, as one at a time would."""
    if not count:
        return []
    return sorted(conn.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": table, "count": count},
    ).scalars())


def _story_candidates(
    conn: Connection, records: Sequence[ArticleRecord]
) -> tuple[dict[str, tuple[int, int]], dict[int, list[StoredCandidate]]]:
    """What pipeline/stories.py decides on, for a batch, in two queries: the
    first stored article (with a story) per content hash, and each article's
    best stored near-copy candidates, by position in the batch."""
    exact = {
        content_hash: (article_id, story_id) for content_hash, article_id, story_id in conn.execute(
            text(EXACT_SQL), {"hashes": sorted({record.content_hash for record in records})}
        )
    }
    positions, bands = [], []
    for position, record in enumerate(records):
        if record.fingerprint is not None:
            positions += [position] * len(record.fingerprint.bands)
            bands += record.fingerprint.bands
    near: dict[int, list[StoredCandidate]] = {}
    if bands:
        for position, article_id, shared, story_id, minhash, shingles, version in conn.execute(
            text(CANDIDATE_SQL), {"positions": positions, "bands": bands, "limit": MAX_CANDIDATES}
        ):
            near.setdefault(position, []).append((shared, article_id, story_id, (minhash, shingles, version)))
    return exact, near


def _create_stories(conn: Connection, keys: Sequence[int]) -> dict[int, int]:
    """The batch's new stories (their canonical article is set by
    rechoose_canonical); returns key -> id."""
    created = dict(zip(keys, _next_ids(conn, "stories", len(keys)), strict=True))
    if created:
        conn.execute(insert(stories), [{"id": story_id, "article_count": 0} for story_id in created.values()])
    return created


def _distinct_bands(bands: Sequence[int]) -> list[tuple[int, int]]:
    """(band, key) with each key once, the first band it appears in: a
    band's key is unique per article (the primary key is key and article)."""
    seen: set[int] = set()
    distinct = []
    for band, key in enumerate(bands):
        if key not in seen:
            seen.add(key)
            distinct.append((band, key))
    return distinct


def store_fingerprint(conn: Connection, article_id: int, fingerprint: Fingerprint | None) -> None:
    """An article's MinHash signature, shingle hashes and band hashes (one
    article, possibly stored before: `newsflow db check --repair`)."""
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
            insert(article_bands).on_conflict_do_nothing(),
            [{"hash": key, "band": band, "article_id": article_id}
             for band, key in enumerate(fingerprint.bands)],
        )


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
