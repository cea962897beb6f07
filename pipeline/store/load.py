"""Writes, each idempotent: running a batch twice, or two runs at once,
leaves the same rows.  Unique constraints, ON CONFLICT and advisory locks do
this, never in-memory sets.  Every function takes the caller's connection
and runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects.postgresql import insert

from pipeline.enrich import UNDECLARED_LANGUAGE, EntityMention, language_tag, named_in_title
from pipeline.clean import SITE_RULES_VERSION
from pipeline.neardup import Fingerprint, same_story
from pipeline.records import ArticleRecord, EntryFailure
from pipeline.store.engine import is_row_error
from pipeline.store.runs import lease_held
from pipeline.text import storable_text
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


def claim_feeds(
    conn: Connection, run_id: int, *, lease: timedelta, ids: Sequence[int] | None = None,
    force: bool = False, max_attempts: int = 1,
) -> list[tuple[int, str, str | None, str | None, bool]]:
    """Lease the enabled feeds this run will work on and return
    (id, url, etag, last_modified, due) for each.

    A feed is claimed when it is due (or with ``force``) or when entries of
    it wait to be retried; ``due`` says whether to fetch it.  A feed leased
    by another run is skipped, and rows another transaction is claiming right
    now are skipped rather than waited for (SKIP LOCKED): overlapping runs and
    several workers split the feeds between them and never fetch one twice.
    The lease ends when the run releases it, or the moment the run's
    session ends (see ``hold_run``); ``lease_until`` is only a backstop for a
    run that is alive but stuck."""
    scope = "AND f.id = ANY(:ids)" if ids is not None else ""
    rows = conn.execute(
        text(f"""
        WITH candidates AS (
            SELECT f.id,
                   (:force OR f.next_fetch_at IS NULL OR f.next_fetch_at <= now()) AS due
            FROM feeds f
            WHERE NOT f.disabled {scope}
              AND NOT {lease_held("f")}
              AND (:force OR f.next_fetch_at IS NULL OR f.next_fetch_at <= now()
                   OR EXISTS (SELECT 1 FROM fetch_failures ff
                              WHERE ff.feed_id = f.id AND ff.attempts < :max_attempts))
            ORDER BY f.id
            FOR UPDATE OF f SKIP LOCKED
        )
        UPDATE feeds f SET leased_by = :run, lease_until = now() + :lease
        FROM candidates c WHERE f.id = c.id
        RETURNING f.id, f.url, f.etag, f.last_modified, c.due
        """),
        {"run": run_id, "lease": lease, "force": force, "max_attempts": max_attempts,
         **({"ids": list(ids)} if ids is not None else {})},
    )
    return sorted(tuple(row) for row in rows)


def renew_leases(conn: Connection, run_id: int, lease: timedelta) -> int:
    """Extend the leases a run still holds, for runs longer than one lease."""
    return conn.execute(
        update(feeds).where(feeds.c.leased_by == run_id)
        .values(lease_until=func.now() + lease)
    ).rowcount


def release_leases(conn: Connection, run_id: int, feed_ids: Sequence[int] | None = None) -> None:
    """Hand back the run's feeds (these ones, or all it holds)."""
    condition = feeds.c.leased_by == run_id
    if feed_ids is not None:
        condition &= feeds.c.id.in_(feed_ids)
    conn.execute(update(feeds).where(condition).values(leased_by=None, lease_until=None))


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
            last_warning=storable_text(warning),
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
    error = storable_text(error) or kind
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


def prune_raw_pages(conn: Connection, older_than: timedelta) -> int:
    """Delete stored HTML fetched longer ago than ``older_than``; the articles
    stay, only re-processing them from their original bytes is no longer possible."""
    return conn.execute(
        raw_pages.delete().where(raw_pages.c.fetched_at < func.now() - older_than)
    ).rowcount


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


def record_failures(conn: Connection, failures: Sequence[EntryFailure]) -> None:
    """Entries that did not make it this run (the last word on a URL wins)."""
    if not failures:
        return
    rows = [
        {"url": failure.url, "feed_id": failure.feed_id, "stage": failure.stage, "kind": failure.kind,
         "error": (storable_text(failure.message) or failure.stage)[:2000]}
        for failure in {failure.url: failure for failure in failures}.values()
    ]
    statement = insert(fetch_failures).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[fetch_failures.c.url],
            set_={
                "stage": statement.excluded.stage,
                "kind": statement.excluded.kind,
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
    assigner = _StoryAssigner(conn, fresh)
    rows, stored = [], []
    for position, (article_id, record) in enumerate(zip(ids, fresh, strict=True)):
        story, kind, matched, score = assigner.find(position, article_id, record)
        if story is None:
            story = assigner.new_story()
            outcome.new_stories += 1
        else:
            outcome.copies += 1
            outcome.near_copies += kind == "near"
        assigner.add(article_id, record, story)
        rows.append((article_id, record, story, kind, matched, score))
        if kind == "new":
            # Furniture repeats across different stories; article text only
            # across copies of one.  Counting only story-starting articles
            # keeps a wire story carried five times by one site (or one host,
            # as in the demo) from being learned as that site's boilerplate.
            stored.append(record)
    assigner.create_stories()
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
                date_warning=record.date_warning, story_id=assigner.story_id(story), match_kind=kind,
                matched_article_id=matched, match_score=score,
                # A guess rechoose_canonical corrects; right for every story
                # of one article, it saves rewriting (and re-indexing) the row.
                is_canonical=kind == "new",
            )
            for article_id, record, story, kind, matched, score in rows
        ],
    ).scalars().all()
    if len(inserted) != len(rows):
        raise RuntimeError("articles were inserted without the story lock while a batch was stored")
    outcome.inserted = list(ids)
    _copy_rows(conn, "article_fingerprints", ("article_id", "version", "minhash", "shingles"), (
        (article_id, record.fingerprint.version, record.fingerprint.minhash, record.fingerprint.shingles)
        for article_id, record in zip(ids, fresh) if record.fingerprint is not None
    ))
    _copy_rows(conn, "article_bands", ("hash", "band", "article_id"), (
        (key, band, article_id)
        for article_id, record in zip(ids, fresh) if record.fingerprint is not None
        for band, key in _distinct_bands(record.fingerprint.bands)
    ))
    _copy_rows(conn, "raw_pages", (
        "article_id", "final_url", "content_type", "html_gzip", "charset_declared", "charset_used",
        "replacement_ratio",
    ), (
        (article_id, record.final_url or record.url, record.content_type, record.html_gzip,
         record.charset_declared, record.charset_used, record.replacement_ratio)
        for article_id, record in zip(ids, fresh) if record.html_gzip
    ))
    touched = {assigner.story_id(story) for _, _, story, _, _, _ in rows}
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


def _copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """COPY rows into a table in the caller's transaction.  Only for rows
    that cannot conflict: those of articles inserted by this transaction."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class _StoryAssigner:
    """Story assignment for one batch, in memory, after two queries.

    Stored stories are keyed by their ids; the batch's new stories by
    negative keys (-1, -2, ... in creation order) until they are created.
    Merges are recorded here (and done in the database for stored stories),
    so that every key resolves to the story it ended in."""

    def __init__(self, conn: Connection, records: Sequence[ArticleRecord]) -> None:
        self.conn = conn
        self.new_keys: list[int] = []
        self.created: dict[int, int] = {}
        self.merged_into: dict[int, int] = {}
        # The stored side: first article (with a story) per content hash, and
        # each article's best stored near-copy candidates, by batch position.
        self.stored_exact: dict[str, tuple[int, int]] = {
            content_hash: (article_id, story_id) for content_hash, article_id, story_id in conn.execute(
                text(EXACT_SQL), {"hashes": sorted({record.content_hash for record in records})}
            )
        }
        positions, bands = [], []
        for position, record in enumerate(records):
            if record.fingerprint is not None:
                positions += [position] * len(record.fingerprint.bands)
                bands += record.fingerprint.bands
        self.stored_near: dict[int, list[tuple[int, int, int, object]]] = {}
        if bands:
            for position, article_id, shared, story_id, minhash, shingles, version in conn.execute(
                text(CANDIDATE_SQL), {"positions": positions, "bands": bands, "limit": MAX_CANDIDATES}
            ):
                self.stored_near.setdefault(position, []).append(
                    (shared, article_id, story_id, (minhash, shingles, version))
                )
        # The batch side, filled as articles are assigned.
        self.batch_exact: dict[str, tuple[int, int]] = {}
        self.batch_bands: dict[int, list[int]] = {}
        self.batch_articles: dict[int, tuple[int, Fingerprint]] = {}

    def find(
        self, position: int, article_id: int, record: ArticleRecord
    ) -> tuple[int | None, str, int | None, float | None]:
        """(story key, how it matched: new/exact/near, the matched article,
        score) for the batch's article at ``position``, among stored articles
        and those of the batch placed before it."""
        exact = min(
            (found for found in (self.stored_exact.get(record.content_hash),
                                 self.batch_exact.get(record.content_hash)) if found),
            default=None,
        )
        if exact is not None:
            return self.resolve(exact[1]), "exact", exact[0], 1.0
        fingerprint = record.fingerprint
        if fingerprint is None or not fingerprint.bands:
            return None, "new", None, None
        # The same ranking as one look-up over everything stored so far:
        # most shared band keys first, then the lowest id, cut to the limit.
        shared: dict[int, int] = {}
        for key in set(fingerprint.bands):
            for other in self.batch_bands.get(key, ()):
                shared[other] = shared.get(other, 0) + 1
        candidates = [
            (count, other, self.batch_articles[other][0], self.batch_articles[other][1])
            for other, count in shared.items()
        ] + self.stored_near.get(position, [])
        candidates.sort(key=lambda candidate: (-candidate[0], candidate[1]))
        matches: list[tuple[int, int, float]] = []
        for _, candidate_id, story, stored in candidates[:MAX_CANDIDATES]:
            version = stored.version if isinstance(stored, Fingerprint) else stored[2]
            if version != fingerprint.version:
                continue
            other = stored if isinstance(stored, Fingerprint) else Fingerprint.from_stored(*stored)
            same, score, _ = same_story(fingerprint, other)
            if same:
                matches.append((candidate_id, self.resolve(story), score))
        if not matches:
            return None, "new", None, None
        best_id, best_story, best_score = max(matches, key=lambda match: (match[2], -match[0]))
        story_keys = {story for _, story, _ in matches}
        if len(story_keys) > 1:
            best_story = self.merge(story_keys)
        return best_story, "near", best_id, round(best_score, 4)

    def add(self, article_id: int, record: ArticleRecord, story: int) -> None:
        """An article placed in a story: a candidate for those after it."""
        self.batch_exact.setdefault(record.content_hash, (article_id, story))
        if record.fingerprint is not None:
            self.batch_articles[article_id] = (story, record.fingerprint)
            for key in set(record.fingerprint.bands):
                self.batch_bands.setdefault(key, []).append(article_id)

    def new_story(self) -> int:
        self.new_keys.append(-(len(self.new_keys) + 1))
        return self.new_keys[-1]

    def resolve(self, story: int) -> int:
        while story in self.merged_into:
            story = self.merged_into[story]
        return story

    def merge(self, story_keys: Iterable[int]) -> int:
        """The oldest story keeps its id (stored ones are older than the
        batch's), as merge_stories does; returns it."""
        keys = sorted({self.resolve(key) for key in story_keys}, key=lambda key: (key < 0, abs(key)))
        keep, others = keys[0], keys[1:]
        stored = [key for key in keys if key > 0]
        if len(stored) > 1:
            merge_stories(self.conn, stored)
        for key in others:
            self.merged_into[key] = keep
        return keep

    def create_stories(self) -> None:
        """Create the batch's new stories that were not merged into another;
        their canonical article is set by rechoose_canonical."""
        alive = [key for key in self.new_keys if key not in self.merged_into]
        self.created = dict(zip(alive, _next_ids(self.conn, "stories", len(alive)), strict=True))
        if self.created:
            self.conn.execute(
                insert(stories), [{"id": story_id, "article_count": 0} for story_id in self.created.values()]
            )

    def story_id(self, story: int) -> int:
        """The id of the story a key ended in (after create_stories)."""
        story = self.resolve(story)
        return self.created[story] if story < 0 else story


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
    statement = insert(site_boilerplate)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_boilerplate.c.rules_version, site_boilerplate.c.host, site_boilerplate.c.line_hash],
            set_={"support": site_boilerplate.c.support + statement.excluded.support, "last_seen_at": func.now()},
        ),
        rows,
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
        (article_id, ids[(m.name, m.label)], m.mentions, m.in_title, m.first_offset, m.salience)
        for article_id, _, mentions in results
        for m in mentions
    ]
    if rows:
        # The article's old rows are deleted above: nothing can conflict.
        _copy_rows(conn, "article_entities",
                   ("article_id", "entity_id", "mentions", "in_title", "first_offset", "salience"), rows)
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
    ``pipeline.enrich.model_versions``) go back to pending, their entity rows
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
        SELECT ae.article_id, ae.entity_id, ae.mentions, ae.first_offset, ae.salience, e.name,
               coalesce(array_agg(a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases
        FROM article_entities ae
        JOIN entities e ON e.id = ae.entity_id
        LEFT JOIN entity_aliases a ON a.entity_id = e.id
        WHERE ae.article_id = ANY(:canonical)
        GROUP BY ae.article_id, ae.entity_id, ae.mentions, ae.first_offset, ae.salience, e.name
        """), {"canonical": sorted({row.canonical_article_id for row in ready})}):
        canonical_entities.setdefault(row.article_id, []).append(row)
    links = [
        (copy.id, entity.entity_id, entity.mentions, named_in_title(copy.title, [entity.name, *entity.aliases]),
         entity.first_offset, entity.salience)
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
                ("articles", "entities", "mentions", "in_title", "offsets", "salience"), zip(*links), strict=True)})
    conn.execute(text("""
        UPDATE articles SET entities_status = 'copied', entities_model = w.model
        FROM unnest(CAST(:ids AS bigint[]), CAST(:models AS text[])) AS w(id, model)
        WHERE articles.id = w.id
        """), {"ids": [row.id for row in ready], "models": [row.entities_model for row in ready]})
    return len(ready)
