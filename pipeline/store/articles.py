"""Articles and their stories: a batch stored in a fixed number of
statements, each article joined to the story of its exact or near copies,
with its fingerprint, bands and raw page.  Idempotent: running a batch
twice, or two runs at once, leaves the same rows; writers storing at the
same moment wait only for those whose decisions overlap theirs."""

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
from pipeline.stories import MAX_CANDIDATES, StoredCandidate, StoryAssigner, decision_keys
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


# Writers store at the same moment: the shards of one run, overlapping runs.
# A story decision reads three things: whether a canonical URL is stored, the
# stored articles with the same content hash, and the stored articles sharing
# a band key (CANDIDATE_SQL: ``hash = ANY(bands)``, any band).  So two articles
# whose decisions could see each other share a key of
# pipeline.stories.decision_keys, and each writer holds its batch's keys from
# before its first read until it commits: of two writers with a key in
# common, the second waits, then reads the first's rows (read committed: each
# statement sees what committed before it).  Writers with no key in common
# could not see each other's articles in any order, so they go on side by side.
#
# The keys are rows of story_locks, not advisory locks.  A batch of 100
# articles has about 6,600 keys (64 band keys each), and PostgreSQL's shared
# lock table holds about max_locks_per_transaction x max_connections locks
# (64 x 100 by default) for the whole server: two or three such writers
# would fill it, and then every session on the server fails with "out of
# shared memory".  A row is no entry in that table.  A second insert of a key
# that a transaction still open has inserted waits for that transaction to
# end, even when it deleted the row again (PostgreSQL's documentation, "Index
# Uniqueness Checks"); so a writer deletes its rows before it commits, and the
# table is empty between transactions.  ON CONFLICT DO UPDATE rather than DO
# NOTHING: a row that were ever left committed would then still be locked and
# waited for, never silently passed.
#
# Then the stored stories the decisions touch (joined, merged, their canonical
# article re-chosen, their counts refreshed) are locked FOR UPDATE in id order:
# two articles joining one story through different band keys share no key,
# and each writer would count the story's members and choose its canonical
# article without the other's.  Which stories those are is known only after
# the reads, and a writer with no key in common may meanwhile merge one away
# (its members moved to an older story); so the candidates' stories are read
# again once locked, and if one has moved, the story locks are given back
# (a savepoint) and taken anew.
#
# Every writer takes its keys first, in ascending order and in one statement,
# then its stories in ascending order: a fixed order, so no two writers can
# wait for each other in a cycle.
LOCK_KEYS_SQL = (
    "INSERT INTO story_locks (key) SELECT key FROM unnest(CAST(:keys AS bigint[])) AS key"
    " ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key"
)
UNLOCK_KEYS_SQL = "DELETE FROM story_locks WHERE key = ANY(CAST(:keys AS bigint[]))"
LOCK_STORIES_SQL = "SELECT id FROM stories WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
# A concurrent merge moves a candidate to another story at most once per
# writer that merges; a few attempts are plenty.
LOCK_STORIES_ATTEMPTS = 10


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
    ordered = sorted(records, key=_publication_order)
    # One article at a time would take keys and stories in publication order,
    # not in the fixed order; so the batch's keys and the stories its stored
    # candidates lie in are taken first, in that order, and each article then
    # takes only locks this transaction holds, or on stories it created itself.
    keys = decision_keys(ordered)
    conn.execute(text(LOCK_KEYS_SQL), {"keys": keys})
    _locked_story_candidates(conn, ordered)
    for record in ordered:
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
    # Also the keys of the articles refused, whose own deletes were undone.
    conn.execute(text(UNLOCK_KEYS_SQL), {"keys": keys})
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

    Concurrent writers give the stories one writer would: a writer waits
    only for those whose articles its decisions could read (same URL, text
    or band key) or whose stories it joins (LOCK_KEYS_SQL says how).  One
    call per transaction: a second takes its locks out of the fixed order
    (store_articles_isolated takes its batch's locks first for that reason).
    """
    ordered = sorted(records, key=_publication_order)
    keys = decision_keys(ordered)
    if keys:
        conn.execute(text(LOCK_KEYS_SQL), {"keys": keys})
    outcome = _store_locked(conn, ordered)
    if keys:
        conn.execute(text(UNLOCK_KEYS_SQL), {"keys": keys})
    return outcome


def _store_locked(conn: Connection, ordered: Sequence[ArticleRecord]) -> StoreOutcome:
    """store_articles once the batch's keys are held, its records in publication order."""
    outcome = StoreOutcome()
    # With the batch's URLs held, no other writer inserts them: this read is exact.
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
    assigner = StoryAssigner(*_locked_story_candidates(conn, fresh))
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
        raise RuntimeError("articles were inserted without their URL's lock while a batch was stored")
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


def _locked_story_candidates(
    conn: Connection, records: Sequence[ArticleRecord]
) -> tuple[dict[str, tuple[int, int]], dict[int, list[StoredCandidate]]]:
    """_story_candidates with the stored stories they lie in locked (see
    LOCK_KEYS_SQL's comment), each candidate's story as it is once locked."""
    for _ in range(LOCK_STORIES_ATTEMPTS):
        exact, near = _story_candidates(conn, records)
        wanted = {story_id for _, story_id in exact.values()}
        wanted |= {candidate[2] for candidates in near.values() for candidate in candidates}
        articles_read = {article_id for article_id, _ in exact.values()}
        articles_read |= {candidate[1] for candidates in near.values() for candidate in candidates}
        if not articles_read:  # nothing stored to join: no story to lock
            return exact, near
        savepoint = conn.begin_nested()
        locked = set(conn.execute(text(LOCK_STORIES_SQL), {"ids": sorted(wanted)}).scalars())
        now = dict(conn.execute(
            text("SELECT id, story_id FROM articles WHERE id = ANY(:ids)"), {"ids": sorted(articles_read)}
        ).all())
        if all(now.get(article_id) in locked for article_id in articles_read):
            savepoint.commit()
            exact = {key: (article_id, now[article_id]) for key, (article_id, _) in exact.items()}
            near = {
                position: [(shared, article_id, now[article_id], stored)
                           for shared, article_id, _, stored in candidates]
                for position, candidates in near.items()
            }
            return exact, near
        # A writer with no key in common merged a candidate's story away
        # before this one locked it: give the story locks back and read again.
        savepoint.rollback()
    raise RuntimeError(
        f"the stories of a batch's copies kept moving while they were locked ({LOCK_STORIES_ATTEMPTS} attempts)"
    )


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
