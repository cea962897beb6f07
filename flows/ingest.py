"""The ingest flow: feeds -> new entries -> pages -> articles -> stories -> entities.

Tasks work on batches (tens to hundreds of articles): a Prefect task per
article would cost more in orchestration than the work itself.  Each batch
gets one HTTP client and one database transaction.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, select

from pipeline.config import Settings, get_settings
from pipeline.dedup import canonicalize_url
from pipeline.enrich import EnrichInput, extract_entities, load_nlp
from pipeline.feeds import FeedParseError, FeedSource, load_feed_list, parse_feed
from pipeline.fetch import FetchError, run_fetch_feeds, run_fetch_pages
from pipeline.process import Entry, ProcessError, prepare_article
from pipeline.store import load
from pipeline.store.engine import get_engine
from pipeline.store.migrate import upgrade
from pipeline.store.models import Feed

DEFAULT_FEED_INTERVAL = timedelta(minutes=30)
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
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_fetch_at: datetime | None = None
    unchanged: bool = False
    error: str | None = None


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@task(name="register-feeds", cache_policy=NO_CACHE)
def register_feeds(engine: Engine, sources: list[FeedSource] | None) -> list[FeedJob]:
    """Store the listed feeds (or, with no list, take the stored feeds that are due)."""
    with engine.begin() as conn:
        if sources is not None:
            ids = load.upsert_feeds(conn, [(source.url, source.name) for source in sources])
            wanted = [ids[source.url] for source in sources]
            condition = Feed.__table__.c.id.in_(wanted)
        else:
            table = Feed.__table__
            condition = (table.c.disabled.is_(False)) & (
                table.c.next_fetch_at.is_(None) | (table.c.next_fetch_at <= datetime.now(UTC))
            )
        table = Feed.__table__
        rows = conn.execute(
            select(table.c.id, table.c.url, table.c.etag, table.c.last_modified)
            .where(condition).order_by(table.c.id)
        )
        return [FeedJob(*row) for row in rows]


@task(name="fetch-feeds", cache_policy=NO_CACHE)
def fetch_feeds(jobs: list[FeedJob], settings: Settings) -> list[FeedOutcome]:
    results = run_fetch_feeds([(job.url, job.etag, job.last_modified) for job in jobs], settings)
    outcomes = []
    now = datetime.now(UTC)
    for job, result in zip(jobs, results, strict=True):
        outcome = FeedOutcome(job=job)
        if isinstance(result, FetchError):
            outcome.error = str(result)
        elif result.not_modified:
            outcome.unchanged = True
            outcome.etag, outcome.last_modified = job.etag, job.last_modified
        else:
            try:
                parsed = parse_feed(result.content, result.final_url, result.content_type)
            except FeedParseError as exc:
                outcome.error = str(exc)
            else:
                outcome.title = parsed.title
                outcome.etag, outcome.last_modified = result.etag, result.last_modified
                interval = (
                    timedelta(minutes=parsed.ttl_minutes) if parsed.ttl_minutes else DEFAULT_FEED_INTERVAL
                )
                outcome.next_fetch_at = now + max(interval, DEFAULT_FEED_INTERVAL)
                outcome.entries = [
                    Entry(url=canonicalize_url(item.url), link=item.url, feed_id=job.id,
                          title=item.title, published_at=item.published_at)
                    for item in parsed.entries
                ]
        outcomes.append(outcome)
    return outcomes


@task(name="select-new-entries", cache_policy=NO_CACHE)
def select_new_entries(engine: Engine, outcomes: list[FeedOutcome], settings: Settings) -> list[Entry]:
    """Entries whose URL is not stored yet, each URL once (the first feed wins),
    and the entries of these feeds that failed before and may be retried."""
    unique: dict[str, Entry] = {}
    for outcome in outcomes:
        for entry in outcome.entries:
            unique.setdefault(entry.url, entry)
    with engine.connect() as conn:
        retries = load.retryable_failures(
            conn, [outcome.job.id for outcome in outcomes], settings.max_entry_attempts
        )
        for url, feed_id in retries:
            unique.setdefault(url, Entry(url=url, link=url, feed_id=feed_id))
        known = load.stored_urls(conn, list(unique))
    return [entry for url, entry in unique.items() if url not in known]


@task(name="ingest-batch", cache_policy=NO_CACHE)
def ingest_batch(engine: Engine, entries: list[Entry], settings: Settings) -> IngestSummary:
    """Fetch, extract, clean, fingerprint and store one batch in one transaction."""
    summary = IngestSummary()
    started = time.perf_counter()
    pages = run_fetch_pages([entry.link for entry in entries], settings)
    summary.timed("fetch pages", started)

    started = time.perf_counter()
    records, failures, succeeded = [], [], []
    for entry, page in zip(entries, pages, strict=True):
        if isinstance(page, FetchError):
            failures.append((entry.url, entry.feed_id, "fetch", str(page)))
            summary.pages_failed += 1
            summary.add_error(entry.link, str(page))
            continue
        summary.pages_fetched += 1
        try:
            records.append(prepare_article(entry, page))
            succeeded.append(entry.url)
        except ProcessError as exc:
            failures.append((entry.url, entry.feed_id, "extract", str(exc)))
            summary.add_error(entry.link, str(exc))
    summary.timed("extract and clean", started)

    started = time.perf_counter()
    with engine.begin() as conn:
        outcome = load.store_articles(conn, records)
        load.record_failures(conn, failures)
        load.clear_failures(conn, succeeded)
    summary.timed("store", started)
    summary.articles_new = len(outcome.inserted)
    summary.stories_new = outcome.new_stories
    summary.copies = outcome.copies
    summary.already_stored = outcome.already_stored
    return summary


@task(name="enrich-pending", cache_policy=NO_CACHE)
def enrich_pending(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Named entities for canonical articles still pending (from this run or a
    run that stopped early), then for their copies.  Returns (articles, links)."""
    nlp = None
    enriched = links = 0
    while True:
        with engine.begin() as conn:
            pending = load.claim_pending_canonical(conn, settings.batch_size)
            if not pending:
                break
            if nlp is None:
                nlp = load_nlp(settings.spacy_model)
            results = extract_entities(
                nlp,
                [EnrichInput(item.title, item.text, item.language) for item in pending],
                max_chars=settings.ner_max_chars,
            )
            links += load.store_entities(
                conn,
                [(item.id, result.status, result.entities) for item, result in zip(pending, results, strict=True)],
            )
            enriched += len(pending)
    with engine.begin() as conn:
        enriched += load.copy_entities_to_copies(conn)
    return enriched, links


@task(name="commit-feed-states", cache_policy=NO_CACHE)
def commit_feed_states(engine: Engine, outcomes: list[FeedOutcome]) -> None:
    """Feed state (ETag, Last-Modified) is written only after the feed's
    articles are stored: a 304 must never hide entries we did not keep."""
    with engine.begin() as conn:
        for outcome in outcomes:
            if outcome.error:
                load.record_feed_failure(conn, outcome.job.id, outcome.error)
            elif outcome.unchanged:
                load.record_feed_unchanged(conn, outcome.job.id, datetime.now(UTC) + DEFAULT_FEED_INTERVAL)
            else:
                load.record_feed_success(
                    conn, outcome.job.id, title=outcome.title, etag=outcome.etag,
                    last_modified=outcome.last_modified, next_fetch_at=outcome.next_fetch_at,
                )


def _merge(total: IngestSummary, part: IngestSummary) -> None:
    for name in ("pages_fetched", "pages_failed", "articles_new", "stories_new", "copies", "already_stored"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for url, message in part.errors:
        total.add_error(url, message)
    for stage, seconds in part.seconds.items():
        total.seconds[stage] = round(total.seconds.get(stage, 0.0) + seconds, 3)


@flow(name="ingest", log_prints=False)
def ingest(feeds_path: str | None = None, base_url: str | None = None, limit: int | None = None) -> dict:
    """Ingest the feeds listed in ``feeds_path`` (YAML or OPML), or every stored
    feed that is due; ``limit`` caps the number of new entries per run."""
    logger = get_run_logger()
    settings = get_settings()
    summary = IngestSummary()

    started = time.perf_counter()
    engine = get_engine(settings)
    upgrade(engine)
    summary.timed("database", started)

    sources = load_feed_list(Path(feeds_path), base_url) if feeds_path else None
    jobs = register_feeds(engine, sources)
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

    new_entries = select_new_entries(engine, outcomes, settings)
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

    commit_feed_states(engine, outcomes)
    return asdict(summary)
