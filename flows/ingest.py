"""The ingest flow: feeds -> new entries -> pages -> articles -> stories -> entities.

Tasks work on batches (tens to hundreds of articles): a Prefect task per
article would cost more in orchestration than the work itself.  Each batch
gets one HTTP client and one database transaction.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from flows.workers import map_in_chunks
from pipeline.config import Settings, get_settings
from pipeline.dedup import canonicalize_url, site_of
from pipeline.enrich import EnrichInput, extract_entities_with_model
from pipeline.feeds import FeedParseError, FeedSource, load_feed_list, parse_feed, refresh_interval
from pipeline.fetch import FetchError, FetchResult, run_fetch_feeds, run_fetch_pages
from pipeline.process import Entry, ProcessError, prepare_articles
from pipeline.store import load
from pipeline.store.engine import DatabaseUnavailable, get_engine, retry_database
from pipeline.store.migrate import upgrade

MAX_REPORTED_ERRORS = 20


@dataclass
class IngestSummary:
    feeds: int = 0
    feeds_failed: int = 0
    feeds_unchanged: int = 0
    entries: int = 0
    entries_new: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0
    articles_new: int = 0
    stories_new: int = 0
    copies: int = 0
    already_stored: int = 0
    articles_enriched: int = 0
    entity_links: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    batches_lost: int = 0  # batches the database would not take (retried by the next run)
    database_error: str | None = None

    def add_error(self, url: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((url, message))

    def timed(self, stage: str, started: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - started, 3)


@dataclass(frozen=True)
class FeedJob:
    id: int
    url: str
    etag: str | None
    last_modified: str | None


@dataclass
class FeedOutcome:
    job: FeedJob
    entries: list[Entry] = field(default_factory=list)
    status: int | None = None
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_fetch_at: datetime | None = None
    unchanged: bool = False
    error: str | None = None
    error_kind: str | None = None
    warning: str | None = None
    skipped: int = 0
    moved_to: str | None = None


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def register_feeds(
    engine: Engine, sources: list[FeedSource] | None, force: bool
) -> tuple[list[FeedJob], list[int] | None]:
    """Store the listed feeds; return the ones due now (all with ``force``)
    and the ids of the run's scope (the listed feeds, or None for all)."""
    return retry_database(lambda: _register_feeds(engine, sources, force))


def _register_feeds(engine, sources, force):
    with engine.begin() as conn:
        scope = None
        if sources is not None:
            ids = load.upsert_feeds(conn, [(source.url, source.name) for source in sources])
            scope = [ids[source.url] for source in sources]
        jobs = [FeedJob(*row) for row in load.select_feeds(conn, ids=scope, force=force)]
    return jobs, scope


@task(name="fetch-feeds", cache_policy=NO_CACHE)
def fetch_feeds(jobs: list[FeedJob], settings: Settings) -> list[FeedOutcome]:
    results = run_fetch_feeds([(job.url, job.etag, job.last_modified) for job in jobs], settings)
    outcomes = []
    now = datetime.now(UTC)
    for job, result in zip(jobs, results, strict=True):
        outcome = FeedOutcome(job=job)
        if isinstance(result, FetchError):
            outcome.error, outcome.error_kind, outcome.status = str(result), result.kind, result.status
            outcomes.append(outcome)
            continue
        outcome.status = result.status
        outcome.moved_to = result.permanent_redirect
        interval = refresh_interval(
            result.headers, None, default=settings.feed_interval, maximum=settings.feed_max_interval
        )
        if result.not_modified:
            outcome.unchanged = True
            outcome.next_fetch_at = now + interval
            outcomes.append(outcome)
            continue
        try:
            parsed = parse_feed(result.content, result.final_url, result.content_type)
        except FeedParseError as exc:
            outcome.error, outcome.error_kind = str(exc), "parse"
            outcomes.append(outcome)
            continue
        outcome.title = parsed.title
        outcome.etag, outcome.last_modified = result.etag, result.last_modified
        outcome.warning, outcome.skipped = parsed.warning, parsed.skipped
        outcome.next_fetch_at = now + refresh_interval(
            result.headers, parsed.ttl_minutes,
            default=settings.feed_interval, maximum=settings.feed_max_interval,
        )
        outcome.entries = [
            Entry(url=canonicalize_url(item.url), link=item.url, feed_id=job.id,
                  title=item.title, published_at=item.published_at, feed_title=parsed.title)
            for item in parsed.entries
        ]
        outcomes.append(outcome)
    return outcomes


def select_new_entries(
    engine: Engine, outcomes: list[FeedOutcome], scope: list[int] | None, settings: Settings
) -> list[Entry]:
    """Entries whose URL is not stored yet, each URL once (the first feed wins),
    and the entries of the run's feeds that failed before and may be retried."""
    unique: dict[str, Entry] = {}
    for outcome in outcomes:
        for entry in outcome.entries:
            unique.setdefault(entry.url, entry)

    def read() -> list[Entry]:
        candidates = dict(unique)
        with engine.connect() as conn:
            for url, feed_id in load.retryable_failures(conn, scope, settings.max_entry_attempts):
                candidates.setdefault(url, Entry(url=url, link=url, feed_id=feed_id))
            known = load.stored_urls(conn, list(candidates))
        return [entry for url, entry in candidates.items() if url not in known]

    return retry_database(read)


@task(name="ingest-batch", cache_policy=NO_CACHE)
def ingest_batch(engine: Engine, entries: list[Entry], settings: Settings) -> IngestSummary:
    """Fetch, extract, clean, fingerprint and store one batch in one transaction."""
    summary = IngestSummary()
    started = time.perf_counter()
    pages = run_fetch_pages([entry.link for entry in entries], settings)
    summary.timed("fetch pages", started)

    started = time.perf_counter()

    def read_learned():
        with engine.connect() as conn:
            return load.learned_site_lines(
                conn,
                (site_of(page.final_url) for page in pages if not isinstance(page, FetchError)),
                settings.site_rule_min_pages,
            )

    try:
        learned = retry_database(read_learned)
    except DatabaseUnavailable as exc:
        return _batch_lost(summary, entries, exc)
    records, failures, succeeded = [], [], []
    fetched: list[tuple[Entry, FetchResult]] = []
    for entry, page in zip(entries, pages, strict=True):
        if isinstance(page, FetchError):
            failures.append((entry.url, entry.feed_id, "fetch", str(page)))
            summary.pages_failed += 1
            summary.add_error(entry.link, str(page))
        else:
            fetched.append((entry, page))
    summary.pages_fetched = len(fetched)
    prepared = map_in_chunks(partial(prepare_articles, learned=learned), fetched, settings.workers)
    for (entry, _), result in zip(fetched, prepared, strict=True):
        if isinstance(result, ProcessError):
            failures.append((entry.url, entry.feed_id, "extract", str(result)))
            summary.add_error(entry.link, str(result))
        else:
            records.append(result)
            succeeded.append(entry.url)
    summary.timed("extract and clean", started)

    started = time.perf_counter()

    def store():
        with engine.begin() as conn:
            outcome = load.store_articles(conn, records)
            load.record_failures(conn, failures)
            load.clear_failures(conn, succeeded)
        return outcome

    try:
        outcome = retry_database(store)
    except DatabaseUnavailable as exc:
        return _batch_lost(summary, entries, exc)
    summary.timed("store", started)
    summary.articles_new = len(outcome.inserted)
    summary.stories_new = outcome.new_stories
    summary.copies = outcome.copies
    summary.already_stored = outcome.already_stored
    return summary


def _batch_lost(summary: IngestSummary, entries: list[Entry], error: DatabaseUnavailable) -> IngestSummary:
    """A batch the database would not take: nothing of it was written, the
    next run fetches its entries again."""
    summary.batches_lost += 1
    summary.database_error = str(error)
    summary.add_error(f"batch of {len(entries)} entries", str(error))
    return summary


def enrich_pending(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Named entities for canonical articles still pending (from this run or a
    run that stopped early), then for their copies.  Returns (articles, links)."""
    ner = partial(extract_entities_with_model, settings.spacy_model, max_chars=settings.ner_max_chars)

    def one_batch() -> tuple[int, int]:
        with engine.begin() as conn:
            pending = load.claim_pending_canonical(conn, settings.batch_size)
            if not pending:
                return 0, 0
            results = map_in_chunks(
                ner, [EnrichInput(item.title, item.text, item.language) for item in pending], settings.workers
            )
            written = load.store_entities(
                conn,
                [(item.id, result.status, result.entities)
                 for item, (_, result) in zip(pending, results, strict=True)],
                model=results[0][0],
            )
            return len(pending), written

    def copies() -> int:
        with engine.begin() as conn:
            return load.copy_entities_to_copies(conn)

    enriched = links = 0
    while True:
        done, written = retry_database(one_batch)
        if not done:
            break
        enriched, links = enriched + done, links + written
    return enriched + retry_database(copies), links


def commit_feed_states(engine: Engine, outcomes: list[FeedOutcome], settings: Settings) -> None:
    """Feed state (ETag, Last-Modified) is written only after the feed's
    articles are stored: a 304 must never hide entries we did not keep."""
    retry_database(lambda: _write_feed_states(engine, outcomes, settings))


def _write_feed_states(engine: Engine, outcomes: list[FeedOutcome], settings: Settings) -> None:
    with engine.begin() as conn:
        for outcome in outcomes:
            feed_id = outcome.job.id
            if outcome.error:
                load.record_feed_failure(
                    conn, feed_id, error=outcome.error, kind=outcome.error_kind or "network",
                    status=outcome.status, interval=settings.feed_interval,
                    max_interval=settings.feed_max_interval,
                    disable=outcome.status == 410,  # Gone: the publisher says it will not return
                )
                continue
            if outcome.unchanged:
                load.record_feed_unchanged(conn, feed_id, outcome.next_fetch_at)
            else:
                load.record_feed_success(
                    conn, feed_id, status=outcome.status or 200, title=outcome.title,
                    etag=outcome.etag, last_modified=outcome.last_modified,
                    next_fetch_at=outcome.next_fetch_at, warning=outcome.warning,
                    entries_skipped=outcome.skipped,
                )
            if outcome.moved_to and outcome.moved_to != outcome.job.url:
                load.move_feed(conn, feed_id, outcome.moved_to)


def _run(summary, logger, settings, feeds_path, base_url, limit, force) -> None:
    started = time.perf_counter()
    engine = get_engine(settings)
    retry_database(lambda: upgrade(engine))
    summary.timed("database", started)

    sources = load_feed_list(Path(feeds_path), base_url) if feeds_path else None
    jobs, scope = register_feeds(engine, sources, force)
    summary.feeds = len(jobs)

    started = time.perf_counter()
    outcomes = fetch_feeds(jobs, settings)
    summary.timed("fetch feeds", started)
    for outcome in outcomes:
        summary.entries += len(outcome.entries)
        summary.feeds_unchanged += outcome.unchanged
        if outcome.error:
            summary.feeds_failed += 1
            summary.add_error(outcome.job.url, outcome.error)
            logger.warning("feed %s: %s", outcome.job.url, outcome.error)
        elif outcome.warning:
            logger.info("feed %s: %s", outcome.job.url, outcome.warning)

    new_entries = select_new_entries(engine, outcomes, scope, settings)
    if limit is not None:
        new_entries = new_entries[:limit]
    summary.entries_new = len(new_entries)
    logger.info(
        "%d feeds, %d entries, %d new", summary.feeds, summary.entries, summary.entries_new
    )

    batches = list(_batches(new_entries, settings.batch_size))
    for number, batch in enumerate(batches, start=1):
        part = ingest_batch(engine, batch, settings)
        _merge(summary, part)
        logger.info(
            "batch %d/%d: %d pages, %d new articles, %d copies, %d failed",
            number, len(batches), len(batch), part.articles_new, part.copies,
            part.pages_failed + (part.pages_fetched - part.articles_new - part.already_stored),
        )

    started = time.perf_counter()
    summary.articles_enriched, summary.entity_links = enrich_pending(engine, settings)
    summary.timed("entities", started)

    commit_feed_states(engine, outcomes, settings)


def _merge(total: IngestSummary, part: IngestSummary) -> None:
    for name in ("pages_fetched", "pages_failed", "articles_new", "stories_new", "copies", "already_stored",
                 "batches_lost"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for url, message in part.errors:
        total.add_error(url, message)
    total.database_error = part.database_error or total.database_error
    for stage, seconds in part.seconds.items():
        total.seconds[stage] = round(total.seconds.get(stage, 0.0) + seconds, 3)


@flow(name="ingest", log_prints=False)
def ingest(
    feeds_path: str | None = None, base_url: str | None = None, limit: int | None = None,
    force: bool = False,
) -> dict:
    """Ingest the due feeds — those listed in ``feeds_path`` (YAML or OPML), or
    every stored feed; ``force`` fetches them whether due or not; ``limit``
    caps the number of new entries per run."""
    logger = get_run_logger()
    settings = get_settings()
    summary = IngestSummary()
    try:
        _run(summary, logger, settings, feeds_path, base_url, limit, force)
    except DatabaseUnavailable as exc:
        summary.database_error = str(exc)
        logger.error("stopped: %s; the next run repairs what this one missed", exc)
    return asdict(summary)
