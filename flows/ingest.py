"""The ingest flow: feeds -> new entries -> pages -> articles -> stories -> entities.

An ingest run is a coordinator.  Its work comes in shards: a shard claims a
chunk of whole hosts' due feeds (pipeline/shards.py), ingests it, and claims
again until none is left.  In a work pool the run starts its shards as child
flow runs of the ``ingest-shard`` deployment (``run_deployment``), waits for
them and adds up their counts; anywhere else (``newsflow ingest``,
``newsflow serve``) it works through the chunks itself, with the same code.

Tasks work on batches (tens to hundreds of articles): a Prefect task per
article would cost more in orchestration than the work itself.  Each batch
gets one HTTP client and one database transaction.  Every step that takes
time is a task, so that Prefect's UI shows where a run spends its time and
where it failed: fetch-feeds, then per batch fetch-pages, extract-batch,
store-batch and tag-entities, then tag-pending-entities and
commit-feed-states.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import deployment as prefect_deployment, flow_run as prefect_flow_run
from prefect.states import Failed, State
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.utilities.annotations import quote
from sqlalchemy import Connection, Engine

from flows.automations import CONSECUTIVE_FAILURES_LABEL
from flows.enrich import enrich_pending, file_by_agreed_type, names_of, ner_function, ner_time_limit
from flows.workers import Pending, TimeLimit, submit_in_chunks, warm_up
from pipeline.clean import LEARNED_MAX_SHARE
from pipeline.config import Settings, get_settings
from pipeline.dedup import canonicalize_url, site_of
from pipeline.enrich.models import EnrichInput
from pipeline.feed_events import FeedChange, FeedResult, feed_changes
from pipeline.feedlist import load_feed_list
from pipeline.feeds import FeedParseError, parse_feed, refresh_interval
from pipeline.fetch import FetchError, FetchResult, Politeness, run_fetch_feeds, run_fetch_pages
from pipeline.process import ProcessError, prepare_articles
from pipeline.records import Entry, EntryFailure
from pipeline.shards import HostFeeds, fill_chunk, group_by_host, shard_count
from pipeline.store import (
    articles as article_store,
    entities as entity_store,
    entries as entry_store,
    feeds as feed_store,
    site_lines as site_line_store,
    runs,
)
from pipeline.store.engine import DatabaseUnavailable, database_error_line, get_engine, retry_database
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
    database_error_kind: str | None = None  # "unavailable", "statement-timeout", "disk-full", "refused"
    error_count: int = 0  # all errors; ``errors`` keeps the first few
    run_id: int | None = None  # the row in ingest_runs
    failures_by_kind: dict[str, int] = field(default_factory=dict)  # "stage: kind" -> entries
    failure: str | None = None  # what ended the run early, in one line (any error but the database's)
    # Feeds this run left to live runs that hold them: (run, running since, feeds).
    feeds_held: list[tuple[int, datetime, int]] = field(default_factory=list)
    flow_seconds: float = 0.0  # the flow's body, start to end: the stages and what lies between them
    chunks: int = 0  # chunks of feeds this run claimed (pipeline/shards.py); a coordinator: its shards' sum
    # A coordinator in a work pool: one entry per shard (child flow run) —
    # its number, flow run, the worker that ran it, its run row, state, counts.
    shards: list[dict] = field(default_factory=list)
    # Pages that kept their site's learned furniture lines, because together
    # they would have taken more than LEARNED_MAX_SHARE of the article: how
    # many, and the first few as (page, site, lines kept).
    site_rules_withheld: int = 0
    site_rules_withheld_pages: list[tuple[str, str, int]] = field(default_factory=list)

    def add_failure(self, stage: str, kind: str) -> None:
        key = f"{stage}: {kind}"
        self.failures_by_kind[key] = self.failures_by_kind.get(key, 0) + 1

    def add_error(self, url: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((url, message))

    def add_withheld(self, url: str, site: str, lines: int) -> None:
        self.site_rules_withheld += 1
        if len(self.site_rules_withheld_pages) < MAX_REPORTED_ERRORS:
            self.site_rules_withheld_pages.append((url, site, lines))

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


def register_feed_list(engine: Engine, feeds_path: str | None, base_url: str | None) -> list[int] | None:
    """Store the feeds of the feed list at ``feeds_path`` and return their
    ids, the run's scope; None (every stored feed) without a feed list."""
    if not feeds_path:
        return None
    sources = load_feed_list(Path(feeds_path), base_url)

    def store() -> list[int]:
        with engine.begin() as conn:
            ids = feed_store.upsert_feeds(conn, [(source.url, source.name) for source in sources])
        return [ids[source.url] for source in sources]

    return retry_database(store)


def claim_chunk(
    engine: Engine, run_id: int, scope: list[int] | None, force: bool, settings: Settings, since: datetime
) -> tuple[list[FeedJob], list[int]]:
    """Lease this shard's next chunk of feeds — whole hosts, about
    ``NEWSFLOW_SHARD_SIZE`` feeds (pipeline/shards.py) — among the listed
    ones or all, none claimed since ``since`` (the run's start), and return
    the jobs to fetch (the due ones, all with ``force``) and the ids of every
    feed claimed (due or with entries to retry).  Nothing claimed: the shard
    is done."""

    def claim():
        with engine.begin() as conn:
            arguments = dict(ids=scope, force=force, max_attempts=settings.max_entry_attempts, since=since)
            groups = group_by_host(feed_store.claimable_feeds(conn, **arguments))

            def take(group: HostFeeds) -> list:
                if not feed_store.try_lock_host(conn, group.host):
                    return []  # another shard is claiming this host right now: it gets all of it
                return feed_store.claim_feeds(
                    conn, run_id, lease=settings.feed_lease, **{**arguments, "ids": list(group.feed_ids)})

            return fill_chunk(groups, settings.shard_size, take)

    claimed = retry_database(claim)
    jobs = [FeedJob(feed_id, url, etag, modified) for feed_id, url, etag, modified, due in claimed if due]
    return jobs, [row[0] for row in claimed]


@task(name="fetch-feeds", cache_policy=NO_CACHE)
def fetch_feeds(jobs: list[FeedJob], settings: Settings, politeness: Politeness | None = None) -> list[FeedOutcome]:
    results = run_fetch_feeds([(job.url, job.etag, job.last_modified) for job in jobs], settings, politeness)
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
            parsed = parse_feed(result.content, result.final_url, result.content_type, settings=settings)
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
    engine: Engine, outcomes: list[FeedOutcome], claimed: list[int], settings: Settings
) -> list[Entry]:
    """Entries whose URL is not stored yet, each URL once (the first feed wins),
    and the entries of the claimed feeds that failed before and may be retried."""
    unique: dict[str, Entry] = {}
    for outcome in outcomes:
        for entry in outcome.entries:
            unique.setdefault(entry.url, entry)

    def read() -> list[Entry]:
        candidates = dict(unique)
        with engine.connect() as conn:
            for url, feed_id in entry_store.retryable_failures(conn, claimed, settings.max_entry_attempts):
                candidates.setdefault(url, Entry(url=url, link=url, feed_id=feed_id))
            known = entry_store.stored_urls(conn, list(candidates))
        return [entry for url, entry in candidates.items() if url not in known]

    return retry_database(read)


@dataclass
class BatchInFlight:
    """A batch whose pages are fetched and whose extraction runs in the
    workers while the flow stores the batch before it."""

    number: int
    entries: list[Entry]
    summary: IngestSummary
    fetched: list[tuple[Entry, FetchResult]] = field(default_factory=list)
    failures: list[EntryFailure] = field(default_factory=list)
    prepared: Pending | None = None  # None: lost before extraction (the database would not answer)
    lost: DatabaseUnavailable | None = None


def start_batch(
    engine: Engine, number: int, entries: list[Entry], pages: list, settings: Settings
) -> BatchInFlight:
    """Hand a fetched batch to the workers for extraction, cleaning and
    fingerprinting, with the site lines learned so far."""
    batch = BatchInFlight(number, entries, IngestSummary())

    def read_learned():
        with engine.connect() as conn:
            return site_line_store.learned_site_lines(
                conn,
                (site_of(page.final_url) for page in pages if not isinstance(page, FetchError)),
                settings.site_rule_min_pages,
            )

    try:
        learned = retry_database(read_learned)
    except DatabaseUnavailable as exc:
        batch.lost = exc
        return batch
    for entry, page in zip(entries, pages, strict=True):
        if isinstance(page, FetchError):
            batch.failures.append(EntryFailure(entry.url, entry.feed_id, "fetch", page.kind, str(page)))
            batch.summary.pages_failed += 1
            batch.summary.add_error(entry.link, str(page))
        else:
            batch.fetched.append((entry, page))
    batch.summary.pages_fetched = len(batch.fetched)
    limit = settings.item_time_limit_seconds
    batch.prepared = submit_in_chunks(
        partial(prepare_articles, learned=learned, settings=settings, time_limit=limit), batch.fetched,
        settings.workers, TimeLimit(limit, _page_failed),
    )
    return batch


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_pages(links: list[str], settings: Settings, politeness: Politeness | None) -> list:
    """Fetch one batch's pages (one HTTP client): a FetchResult or a
    FetchError per link.  Submitted to the flow's thread task runner while
    the flow stores the batch before."""
    return run_fetch_pages(links, settings, politeness)


@dataclass
class ExtractedBatch:
    """What the workers made of a batch's fetched pages."""

    records: list = field(default_factory=list)
    failures: list[EntryFailure] = field(default_factory=list)  # the fetch failures, then the extraction ones
    entry_url: dict[int, str] = field(default_factory=dict)  # id(record) -> its entry's URL, its failures' key


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_batch(batch: BatchInFlight) -> ExtractedBatch:
    """Wait for the workers' extraction, cleaning and fingerprinting of a
    batch (started by start_batch while the batch before was stored) and
    sort its pages into records and failures.  Its time is what extraction
    adds to the run: the part the pipeline could not hide behind the other steps."""
    extracted = ExtractedBatch(failures=list(batch.failures))
    if batch.prepared is None:  # lost before extraction: store-batch records it
        return extracted
    summary = batch.summary
    started = time.perf_counter()
    for (entry, _), result in zip(batch.fetched, batch.prepared.result(), strict=True):
        if isinstance(result, ProcessError):
            extracted.failures.append(EntryFailure(entry.url, entry.feed_id, "extract", result.kind, str(result)))
            summary.add_error(entry.link, str(result))
        else:
            extracted.records.append(result)
            extracted.entry_url[id(result)] = entry.url
            if result.site_rules_withheld:
                summary.add_withheld(entry.link, result.site, len(result.site_rules_withheld))
                get_run_logger().warning(
                    "%s: kept %d learned furniture lines of %s: together they would take more than %d%% of the"
                    " article", entry.link, len(result.site_rules_withheld), result.site, LEARNED_MAX_SHARE * 100)
    summary.timed("extract and clean", started)
    return extracted


@task(name="store-batch", cache_policy=NO_CACHE)
def store_batch(
    engine: Engine, batch: BatchInFlight, extracted: ExtractedBatch, settings: Settings
) -> tuple[IngestSummary, list[int]]:
    """Store one extracted batch in one transaction; returns its summary and
    the ids of its new articles."""
    summary = batch.summary
    if batch.lost is not None:
        return _batch_lost(summary, batch.entries, batch.lost), []
    records, failures, entry_url = extracted.records, extracted.failures, extracted.entry_url
    started = time.perf_counter()

    def store():
        with engine.begin() as conn:
            outcome, refused = article_store.store_articles_isolated(conn, records)
            rejected = [
                EntryFailure(entry_url[id(record)], record.feed_id, "store", "rejected", database_error_line(exc))
                for record, exc in refused
            ]
            entry_store.record_failures(conn, failures + rejected)
            entry_store.clear_failures(conn, sorted(set(entry_url.values()) - {failure.url for failure in rejected}))
        return outcome, rejected

    try:
        outcome, rejected = retry_database(store)
    except DatabaseUnavailable as exc:
        return _batch_lost(summary, batch.entries, exc), []
    for failure in failures + rejected:
        summary.add_failure(failure.stage, failure.kind)
    for failure in rejected:
        summary.add_error(failure.url, failure.message)
    summary.timed("store", started)
    summary.articles_new = len(outcome.inserted)
    summary.stories_new = outcome.new_stories
    summary.copies = outcome.copies
    summary.already_stored = outcome.already_stored
    return summary, outcome.inserted


@task(name="tag-pending-entities", cache_policy=NO_CACHE)
def tag_pending_entities(engine: Engine, settings: Settings) -> tuple[int, int]:
    """The sweep at the end of a run: NER for the canonical articles still
    pending (the batches' NER that could not be stored, runs that stopped
    early), then their copies take their story's entities; (articles, links)."""
    return enrich_pending(engine, settings)


def _batch_lost(summary: IngestSummary, entries: list[Entry], error: DatabaseUnavailable) -> IngestSummary:
    """A batch the database would not take: nothing of it was written, the
    next run fetches its entries again."""
    summary.batches_lost += 1
    summary.database_error = str(error)
    summary.database_error_kind = error.kind
    summary.add_error(f"batch of {len(entries)} entries", str(error))
    return summary


def _page_failed(_job, kind: str, message: str) -> ProcessError:
    return ProcessError(f"extraction: {message}", kind=kind)


@dataclass
class EntitiesInFlight:
    """NER of a stored batch's new canonical articles, running in the workers
    while the flow goes on with the next batches."""

    article_ids: list[int]
    results: Pending


def start_entities(engine: Engine, article_ids: list[int], settings: Settings) -> EntitiesInFlight | None:
    """Hand the new canonical articles among ``article_ids`` to the workers for
    NER (copies take their story's entities later, without the model)."""
    if not article_ids:
        return None

    def read():
        with engine.connect() as conn:
            return entity_store.pending_canonical(conn, article_ids)

    pending = retry_database(read)
    if not pending:
        return None
    inputs = [EnrichInput(item.title, item.text, item.language) for item in pending]
    return EntitiesInFlight(
        [item.id for item in pending],
        submit_in_chunks(ner_function(settings), inputs, settings.workers, ner_time_limit(settings)),
    )


@task(name="tag-entities", cache_policy=NO_CACHE)
def finish_entities(engine: Engine, job: EntitiesInFlight) -> tuple[int, int]:
    """Wait for a stored batch's NER in the workers, then store the entities
    for the articles still pending (another run may have tagged some
    meanwhile); (articles, links)."""
    results = dict(zip(job.article_ids, job.results.result(), strict=True))

    def store() -> tuple[int, int]:
        with engine.begin() as conn:
            still_pending = entity_store.lock_pending_canonical(conn, list(results))
            by_model: dict[str | None, list] = {}
            for article_id in still_pending:
                model, result = results[article_id]
                by_model.setdefault(model, []).append((article_id, result.status, result.entities))
            written = sum(entity_store.store_entities(conn, rows, model=model) for model, rows in by_model.items())
            return len(still_pending), written, names_of(by_model.values())

    tagged, written, names = retry_database(store)
    file_by_agreed_type(engine, names)
    return tagged, written


@task(name="commit-feed-states", cache_policy=NO_CACHE)
def commit_feed_states(
    engine: Engine, outcomes: list[FeedOutcome], settings: Settings, run_id: int
) -> list[FeedChange]:
    """Feed state (ETag, Last-Modified) is written only after the feed's
    articles are stored: a 304 must never hide entries we did not keep.  The
    run's leases end in the same transaction.  Returns the feeds that failed,
    recovered or were disabled."""
    return retry_database(lambda: _write_feed_states(engine, outcomes, settings, run_id))


def _write_feed_states(
    engine: Engine, outcomes: list[FeedOutcome], settings: Settings, run_id: int
) -> list[FeedChange]:
    with engine.begin() as conn:
        feed_store.release_leases(conn, run_id)
        failures_before = feed_store.consecutive_failures(conn, [outcome.job.id for outcome in outcomes])
        changes = feed_changes(
            (FeedResult(outcome.job.id, outcome.job.url, outcome.error, outcome.error_kind, outcome.status,
                        disabled=outcome.status == 410) for outcome in outcomes),
            failures_before,
        )
        for outcome in outcomes:
            feed_id = outcome.job.id
            if outcome.error:
                feed_store.record_feed_failure(
                    conn, feed_id, error=outcome.error, kind=outcome.error_kind or "network",
                    status=outcome.status, interval=settings.feed_interval,
                    max_interval=settings.feed_max_interval,
                    disable=outcome.status == 410,  # Gone: the publisher says it will not return
                )
                continue
            if outcome.unchanged:
                feed_store.record_feed_unchanged(conn, feed_id, outcome.next_fetch_at)
            else:
                feed_store.record_feed_success(
                    conn, feed_id, status=outcome.status or 200, title=outcome.title,
                    etag=outcome.etag, last_modified=outcome.last_modified,
                    next_fetch_at=outcome.next_fetch_at, warning=outcome.warning,
                    entries_skipped=outcome.skipped,
                )
            if outcome.moved_to and outcome.moved_to != outcome.job.url:
                feed_store.move_feed(conn, feed_id, outcome.moved_to)
    return changes


def emit_feed_events(changes: list[FeedChange]) -> None:
    """``newsflow.feed.failed`` / ``.recovered`` / ``.disabled``, the feed as
    resource, for automations (an alert after N failures in a row)."""
    for change in changes:
        emit_event(
            event=f"newsflow.feed.{change.kind}",
            # Automations match resource labels, not payloads: the count is a
            # label so that "failed N runs in a row" can be a trigger.
            resource={"prefect.resource.id": f"newsflow.feed.{change.feed_id}",
                      "prefect.resource.name": change.url,
                      CONSECUTIVE_FAILURES_LABEL: str(change.consecutive_failures)},
            payload={"error": change.error, "error_kind": change.error_kind, "status": change.status,
                     "consecutive_failures": change.consecutive_failures},
        )


class RunHold:
    """The database session that holds this run (pipeline/store/runs.py),
    open from the run's start to its end: while it lives, the run's row
    reads 'running' and its feeds are its own; when it ends, however the
    process ended, both are free at once."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.run_id: int | None = None
        self._conn: Connection | None = None

    def start(self, flow_run_id: str | None, parent_id: int | None = None) -> int:
        def start() -> int:
            self.release()
            self._conn = self.engine.connect()
            with self._conn.begin():
                return runs.start_run(self._conn, flow_run_id, parent_id)

        self.run_id = retry_database(start)
        return self.run_id

    def keep(self) -> None:
        """Hold the run again on a new session if its session was lost (a
        database restart): until then other runs may take its feeds."""
        def hold() -> None:
            if self._conn is None or self._conn.invalidated or self._conn.closed:
                self.release()
                self._conn = self.engine.connect()
            with self._conn.begin():
                runs.hold_run(self._conn, self.run_id)

        if self.run_id is not None:
            retry_database(hold)

    def release(self) -> None:
        """End the session: closing it, not an unlock, is what frees the
        hold, so that no pooled connection can keep a finished run alive."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class Deadline:
    """The run's time limit, checked between its steps and batches: a
    backstop for Prefect's own, whose alarm (SIGALRM) is lost when it lands
    while a finalizer runs (Python ignores exceptions there).  Prefect ends
    a run that raises TimeoutError as TimedOut either way."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    @classmethod
    def of_this_flow_run(cls) -> Deadline:
        context = FlowRunContext.get()
        return cls(context.flow.timeout_seconds if context and context.flow else None)

    def check(self) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise TimeoutError(f"the run passed its time limit of {self.seconds:g} s")


def _run(summary, hold, logger, settings, feeds_path, base_url, limit, force, deadline=Deadline(None)) -> None:
    """The coordinator: start the run, register the feed list, then work
    through the shards — as child flow runs in the work pool when this run
    is one of the pool's, in this process otherwise."""
    started = time.perf_counter()
    engine = hold.engine
    retry_database(lambda: upgrade(engine))
    summary.run_id = hold.start(str(prefect_flow_run.id) if prefect_flow_run.id else None)
    summary.timed("database", started)

    started = time.perf_counter()
    scope = register_feed_list(engine, feeds_path, base_url)
    summary.timed("database", started)
    pool_deployment = shard_deployment()
    if pool_deployment is None:
        _run_shard(summary, hold, logger, settings, summary.run_id, scope, limit, force, deadline)
    else:
        run_shards_in_pool(summary, hold, logger, settings, pool_deployment, scope, limit, force, deadline)


def _run_shard(summary, hold, logger, settings, parent_run, scope, limit, force, deadline=Deadline(None)) -> None:
    """One shard: claim a chunk of whole hosts, ingest it, and claim again
    until no feed is left that this run (``parent_run``, the coordinator)
    has not claimed yet, or the page limit is reached.  Identical shards on
    several workers thereby balance themselves: a fast one claims more."""
    engine = hold.engine
    started = time.perf_counter()

    def read():
        with engine.connect() as conn:
            return (runs.run_started_at(conn, parent_run),
                    runs.feeds_held_by_others(conn, summary.run_id, scope))

    since, summary.feeds_held = retry_database(read)
    summary.timed("database", started)
    for run_id, held_since, count in summary.feeds_held:
        logger.info("%s", held_feeds_line(run_id, held_since, count))
    politeness = Politeness()  # the gap to each host and its robots.txt hold for the whole run
    pages_left = min(limit, settings.max_pages_per_run) if limit is not None else settings.max_pages_per_run
    warmed = stopped = False
    while pages_left > 0 and not stopped:
        started = time.perf_counter()
        jobs, claimed = claim_chunk(engine, summary.run_id, scope, force, settings, since)
        summary.timed("database", started)
        if not claimed:
            break
        summary.chunks += 1
        logger.info("run %d claimed %d feeds (chunk %d), %d of them due",
                    summary.run_id, len(claimed), summary.chunks, len(jobs))
        if jobs and not warmed:
            # Worker start-up (imports, the NER models: seconds) overlaps the feed fetches.
            warm_up(settings.ner_models, settings.workers)
            warmed = True
        pages, stopped = _ingest_chunk(summary, hold, logger, settings, jobs, claimed, pages_left, politeness,
                                       deadline)
        pages_left -= pages
    if pages_left <= 0:
        logger.info("at most %d pages a run (NEWSFLOW_MAX_PAGES_PER_RUN): the feeds not claimed yet wait for "
                    "the next run", min(limit or settings.max_pages_per_run, settings.max_pages_per_run))
    if not summary.chunks:
        # Nothing to fetch: still tag what a run that died left pending.
        _tag_pending(summary, engine, settings)


def _tag_pending(summary: IngestSummary, engine: Engine, settings: Settings) -> None:
    started = time.perf_counter()
    enriched, links = tag_pending_entities(engine, settings)
    summary.articles_enriched += enriched
    summary.entity_links += links
    summary.timed("entities", started)


def _ingest_chunk(summary, hold, logger, settings, jobs, claimed, limit, politeness, deadline) -> tuple[int, bool]:
    """Fetch a chunk's feeds and their new pages (at most ``limit``), store
    them, then write the feeds' states and hand back their leases; returns
    (new entries taken, whether the run had to stop)."""
    engine = hold.engine
    summary.feeds += len(jobs)
    started = time.perf_counter()
    outcomes = fetch_feeds(jobs, settings, politeness)
    summary.timed("fetch feeds", started)
    deadline.check()
    entries = 0
    for outcome in outcomes:
        entries += len(outcome.entries)
        summary.feeds_unchanged += outcome.unchanged
        if outcome.error:
            summary.feeds_failed += 1
            summary.add_failure("feed", outcome.error_kind or "network")
            summary.add_error(outcome.job.url, outcome.error)
            logger.warning("feed %s: %s", outcome.job.url, outcome.error)
        elif outcome.warning:
            logger.info("feed %s: %s", outcome.job.url, outcome.warning)
    summary.entries += entries

    started = time.perf_counter()
    new_entries = select_new_entries(engine, outcomes, claimed, settings)
    summary.timed("database", started)
    # Feeds with entries this run did not store: their state (ETag,
    # Last-Modified, next fetch) is not written, so the next run fetches them in full.
    unsettled: set[int | None] = set()
    if len(new_entries) > limit:
        unsettled.update(entry.feed_id for entry in new_entries[limit:])
        logger.info("%d new entries wait for the next run (at most %d pages a run: NEWSFLOW_MAX_PAGES_PER_RUN)",
                    len(new_entries) - limit, limit)
        new_entries = new_entries[:limit]
    summary.entries_new += len(new_entries)
    logger.info("%d feeds, %d entries, %d new", len(jobs), entries, len(new_entries))

    batches = list(_batches(new_entries, settings.batch_size))
    stopped = _ingest_batches(hold, batches, settings, summary, unsettled, logger, politeness, deadline)
    if not stopped:
        # Before the feeds' states: a feed's state is written once its
        # articles and their entities are all stored (copies take theirs here).
        _tag_pending(summary, engine, settings)

    deadline.check()
    started = time.perf_counter()
    settled = [outcome for outcome in outcomes if outcome.error or outcome.job.id not in unsettled]
    changes = commit_feed_states(engine, quote(settled), settings, summary.run_id)
    summary.timed("database", started)
    emit_feed_events(changes)
    return len(new_entries), stopped


def _ingest_batches(hold, batches, settings, summary, unsettled, logger, politeness=None,
                    deadline=Deadline(None)) -> bool:
    """The batches as a pipeline: while batch n is stored, the pages of n+2
    are fetched (a thread), n+1 is extracted and n-1's new articles go
    through NER (the worker processes), so the CPUs never wait for the
    network or the database.  Returns True when the run had to stop (the
    database disk is full)."""
    engine = hold.engine
    ner_jobs: list[EntitiesInFlight] = []

    def collect(wait: bool) -> None:
        started = time.perf_counter()
        for job in [job for job in ner_jobs if wait or job.results.ready()]:
            ner_jobs.remove(job)
            try:
                enriched, links = finish_entities(engine, quote(job))
            except DatabaseUnavailable as exc:  # still pending: the sweep or the next run tags them
                logger.warning("entities of %d articles not stored: %s", len(job.article_ids), exc)
                continue
            summary.articles_enriched += enriched
            summary.entity_links += links
        summary.timed("entities: the last batches" if wait else "entities", started)

    def store(batch: BatchInFlight) -> bool:
        # quote: Prefect would otherwise walk every page and entry of the
        # batch looking for futures to wait on (about 100 ms a batch).
        # Two tasks, not one: batch n+1's extraction and n+2's pages are
        # already under way, so waiting for n's extraction and storing it one
        # after the other is what one task did, now timed apart.
        extracted = extract_batch(quote(batch))
        part, inserted = store_batch(engine, quote(batch), quote(extracted), settings)
        _merge(summary, part)
        logger.info(
            "batch %d/%d: %d pages, %d new articles, %d copies, %d failed",
            batch.number, len(batches), len(batch.entries), part.articles_new, part.copies,
            part.pages_failed + (part.pages_fetched - part.articles_new - part.already_stored),
        )
        if part.batches_lost:
            unsettled.update(entry.feed_id for entry in batch.entries)
            logger.error("batch %d/%d not stored: %s; the next run fetches its %d entries again",
                         batch.number, len(batches), part.database_error, len(batch.entries))
            if part.database_error_kind == "disk-full":
                # Every write would fail alike: stop rather than fetch the
                # remaining pages for nothing.  A timeout is one batch's trouble.
                unsettled.update(entry.feed_id for rest in batches[batch.number:] for entry in rest)
                logger.error("stopped: the database disk is full; the %d later batches are left for the next run",
                             len(batches) - batch.number)
                return False
        else:
            started = time.perf_counter()
            try:
                job = start_entities(engine, inserted, settings)
            except DatabaseUnavailable:
                job = None  # the sweep at the end, or the next run, tags them
            if job is not None:
                ner_jobs.append(job)
            summary.timed("entities", started)
        collect(wait=False)
        started = time.perf_counter()
        hold.keep()
        retry_database(lambda: _renew_leases(engine, summary.run_id, settings))
        summary.timed("database", started)
        deadline.check()
        return True

    def fetch(entries: list[Entry]):
        # The flow's default task runner runs it in a thread: one batch's
        # pages at a time, fetched while the flow works on the batches before.
        return fetch_pages.submit(quote(_links(entries)), quote(settings), quote(politeness))

    upcoming = None
    try:
        upcoming = fetch(batches[0]) if batches else None
        previous: BatchInFlight | None = None
        for index, entries in enumerate(batches):
            started = time.perf_counter()
            pages = upcoming.result()
            summary.timed("fetch pages", started)
            if index + 1 < len(batches):
                upcoming = fetch(batches[index + 1])
            started = time.perf_counter()
            current = start_batch(engine, index + 1, entries, pages, settings)
            summary.timed("extract and clean", started)
            if previous is not None and not store(previous):
                return True
            previous = current
        if previous is not None and not store(previous):
            return True
        collect(wait=True)
        return False
    finally:
        if upcoming is not None:  # a run that stops early lets the fetch under way end first
            upcoming.wait()


def _links(entries: list[Entry]) -> list[str]:
    return [entry.link for entry in entries]


def held_feeds_line(run_id: int, since: datetime, count: int) -> str:
    return (f"{count} feed{'s' if count != 1 else ''} held by run {run_id}, running since "
            f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")


def _renew_leases(engine: Engine, run_id: int, settings: Settings) -> None:
    with engine.begin() as conn:
        feed_store.renew_leases(conn, run_id, settings.feed_lease)


def record_run(engine: Engine, summary: IngestSummary, artifact_key: str = "ingest-summary") -> None:
    """The run's row in ingest_runs and its Prefect table artifact
    (``ingest-summary``; a shard's: ``ingest-shard-summary``); the run's
    leases end in the same transaction.  A database that is gone leaves the
    row 'running': it reads as abandoned once the run's session has ended."""
    status = "failed" if summary.database_error or summary.failure else "completed"
    counts = {
        "feeds": summary.feeds, "feeds_failed": summary.feeds_failed, "entries_new": summary.entries_new,
        "pages_fetched": summary.pages_fetched, "pages_failed": summary.pages_failed,
        "articles_new": summary.articles_new, "stories_new": summary.stories_new, "copies": summary.copies,
        "articles_enriched": summary.articles_enriched, "errors": summary.error_count,
    }
    details = {"seconds": summary.seconds, "errors": summary.errors, "database_error": summary.database_error,
               "failure": summary.failure, "failures_by_kind": summary.failures_by_kind,
               "feeds_held": [{"run": run, "since": since, "feeds": count} for run, since, count in summary.feeds_held],
               "feeds_unchanged": summary.feeds_unchanged, "entries": summary.entries,
               "already_stored": summary.already_stored, "entity_links": summary.entity_links,
               "batches_lost": summary.batches_lost, "chunks": summary.chunks, "shards": summary.shards,
               "site_rules_withheld": summary.site_rules_withheld,
               "site_rules_withheld_pages": [{"url": url, "site": site, "lines": lines}
                                             for url, site, lines in summary.site_rules_withheld_pages]}
    if summary.run_id is not None:
        def write():
            with engine.begin() as conn:
                runs.finish_run(conn, summary.run_id, status, counts, details)
                feed_store.release_leases(conn, summary.run_id)
        try:
            retry_database(write, attempts=1)
        except DatabaseUnavailable:
            pass
    emit_event(
        event="newsflow.ingest.completed",
        resource={"prefect.resource.id": f"newsflow.ingest-run.{summary.run_id}",
                  "prefect.resource.name": f"ingest run {summary.run_id}"},
        payload={"status": status, **counts, "failures_by_kind": summary.failures_by_kind,
                 "error": summary.database_error or summary.failure},
    )
    if prefect_flow_run.id:
        create_table_artifact(
            key=artifact_key,
            table=[{"measure": name.replace("_", " "), "value": value} for name, value in counts.items()]
            + [{"measure": f"failed: {kind}", "value": count} for kind, count in sorted(summary.failures_by_kind.items())]
            + [{"measure": "pages that kept their learned site lines", "value": summary.site_rules_withheld}]
            + [{"measure": f"seconds: {stage}", "value": seconds} for stage, seconds in summary.seconds.items()]
            + [{"measure": f"shard {shard['shard']}", "value": shard_line(shard)} for shard in summary.shards],
            description=f"newsflow ingest run {summary.run_id}: {status}"
            + (f" ({summary.database_error or summary.failure})" if status == "failed" else ""),
        )


#: What a part of a run (a batch, a shard) adds to the run's summary, besides
#: its errors, failures and seconds.
ADDED_COUNTS = ("feeds", "feeds_failed", "feeds_unchanged", "entries", "entries_new", "pages_fetched",
                "pages_failed", "articles_new", "stories_new", "copies", "already_stored", "articles_enriched",
                "entity_links", "batches_lost", "chunks")


def _merge(total: IngestSummary, part: IngestSummary) -> None:
    for name in ADDED_COUNTS:
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for url, message in part.errors:
        total.add_error(url, message)
    for url, site, lines in part.site_rules_withheld_pages:
        total.add_withheld(url, site, lines)
    total.site_rules_withheld += part.site_rules_withheld - len(part.site_rules_withheld_pages)
    for key, count in part.failures_by_kind.items():
        total.failures_by_kind[key] = total.failures_by_kind.get(key, 0) + count
    total.error_count += part.error_count - len(part.errors)
    total.database_error = part.database_error or total.database_error
    total.database_error_kind = part.database_error_kind or total.database_error_kind
    for stage, seconds in part.seconds.items():
        total.seconds[stage] = round(total.seconds.get(stage, 0.0) + seconds, 3)


class IngestFailed(Exception):
    """A run that ended failed (its database was lost or refused a batch),
    already recorded so in ingest_runs: the flow run's Failed state carries
    it, and with it the run's summary, for whoever called the flow."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


def failed_state(summary: IngestSummary) -> State | None:
    """The Failed state a run ends in when ingest_runs records it failed for
    its database (None: it did not); other failures raise and Prefect fails
    the run with their exception."""
    if not summary.database_error:
        return None
    message = f"{summary.database_error}; the next run repairs what this one missed"
    return Failed(message=message, data=IngestFailed(message, asdict(summary)))


# The time limit is read at import: Prefect takes it from the flow object,
# which a worker loads from prefect.yaml's entrypoint (0: no limit).
@flow(name="ingest", log_prints=False, timeout_seconds=get_settings().ingest_timeout_seconds or None)
def ingest(
    feeds_path: str | None = None, base_url: str | None = None, limit: int | None = None,
    force: bool = False,
) -> dict:
    """Ingest the due feeds: fetch them and their new pages, clean,
    deduplicate, tag entities, store.  Ends Failed when the database is lost
    or refuses a batch, after recording the run in ingest_runs.  In a work
    pool the feeds are split into shards of whole hosts, each a child flow
    run (ingest-shard) that any worker takes; the run fails when one of them
    does not complete.

    Args:
        feeds_path: A feed list on the machine that runs the flow (YAML with
            feeds: [{url, name}], or OPML): its feeds are stored and only they
            are fetched.  Empty: every stored feed that is due.
        base_url: Resolves root-relative feed URLs in the feed list against
            this (e.g. http://127.0.0.1:8000 for a locally served corpus).
        limit: At most this many new pages this run, in a work pool each of
            its shards (also capped by NEWSFLOW_MAX_PAGES_PER_RUN); the rest
            wait for the next run.
        force: Fetch the feeds whether they are due or not.
    """
    def body(summary, hold, logger, settings):
        _run(summary, hold, logger, settings, feeds_path, base_url, limit, force, Deadline.of_this_flow_run())

    return _recorded_run(body, "ingest-summary")


def _recorded_run(body, artifact_key: str) -> dict | State:
    """Run ``body(summary, hold, logger, settings)`` and record the run
    (ingest_runs, its artifact ``artifact_key``) however it ends; the
    flow's return value: the summary, or a Failed state when the database
    was lost."""
    logger = get_run_logger()
    settings = get_settings()
    summary = IngestSummary()
    started = time.perf_counter()
    hold: RunHold | None = None
    try:
        hold = RunHold(get_engine(settings))
        body(summary, hold, logger, settings)
    except DatabaseUnavailable as exc:
        summary.database_error = str(exc)
        summary.database_error_kind = exc.kind
        logger.error("stopped: %s; the next run repairs what this one missed", exc)
    except BaseException as exc:
        # Whatever ends the run early — a bad feed list, a bug, Ctrl-C, a
        # failed shard — it is recorded as failed and its feeds are handed
        # back, then it goes on up.
        summary.failure = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        logger.error("run failed: %s; the next run repairs what this one missed", summary.failure)
        raise
    finally:
        summary.flow_seconds = round(time.perf_counter() - started, 3)
        if hold is not None:
            try:
                record_run(hold.engine, summary, artifact_key)
            finally:
                hold.release()
    return failed_state(summary) or asdict(summary)



# --- shards -------------------------------------------------------------------

#: The flow of a shard's child run, and of its deployment in the work pool
#: (flows/deployments.py): '<SHARD_FLOW>/<the coordinator's deployment name>'.
SHARD_FLOW = "ingest-shard"
#: Seconds between two looks at the shards' states.
SHARD_POLL_SECONDS = 2.0
#: How long a coordinator without a time limit (NEWSFLOW_INGEST_TIMEOUT_SECONDS=0)
#: waits for its shards: every wait has a limit.
SHARD_WAIT_WITHOUT_LIMIT_SECONDS = 24 * 3600.0


def shard_deployment() -> str | None:
    """'ingest-shard/<name>' when this flow run is a run of a deployment in a
    work pool (prefect.yaml's ``ingest/scheduled``): its shards run there,
    as that pool's workers pick them up.  None under ``newsflow serve``
    (served deployments have no pool), ``newsflow ingest`` and a plain call:
    the shards run in this process."""
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    if flow_run is None or flow_run.deployment_id is None or not flow_run.work_pool_name:
        return None
    return f"{SHARD_FLOW}/{prefect_deployment.name}"


class ShardsFailed(RuntimeError):
    """Shards of a run ended other than Completed, or were still running
    when the run's time was up: the run is failed; what the others stored
    stays, and the next run takes what they missed."""


def run_shards_in_pool(summary, hold, logger, settings, deployment, scope, limit, force, deadline) -> None:
    """Start the shards as child flow runs of ``deployment`` in the work pool,
    wait for all of them, add their counts to this run's and fail the run
    when any of them did not complete."""
    from prefect.deployments import run_deployment

    engine = hold.engine
    started = time.perf_counter()

    def read_groups():
        with engine.connect() as conn:
            since = runs.run_started_at(conn, summary.run_id)
            return group_by_host(feed_store.claimable_feeds(
                conn, ids=scope, force=force, max_attempts=settings.max_entry_attempts, since=since))

    groups = retry_database(read_groups)
    count = shard_count(groups, settings.shard_size, settings.shards)
    summary.timed("database", started)
    logger.info("run %d: %d feeds to claim on %d hosts, in %d shards of %s",
                summary.run_id, sum(len(group.feed_ids) for group in groups), len(groups), count, deployment)
    if not count:
        # Nothing to fetch: still tag what a shard that died left pending.
        _tag_pending(summary, engine, settings)
        return
    parent = str(prefect_flow_run.id)
    parameters = {"parent_run": summary.run_id, "feed_ids": scope, "limit": limit, "force": force}
    children = {
        number: run_deployment(
            deployment, parameters={**parameters, "shard": number},
            flow_run_name=f"{prefect_flow_run.name}-shard-{number}-of-{count}",
            # A retried coordinator (same flow run) finds its shards again
            # instead of starting them twice.
            idempotency_key=f"{parent}-{number}",
            # Subflows: cancelling this run cancels them.
            as_subflow=True,
            # Started, not waited for here: they are waited for together below.
            timeout=0,
        ).id
        for number in range(1, count + 1)
    }
    started = time.perf_counter()
    final = wait_for_flow_runs(list(children.values()), deadline)
    summary.timed("shards", started)

    def read_rows():
        with engine.connect() as conn:
            return runs.runs_of_flow_runs(conn, [str(flow_run_id) for flow_run_id in children.values()])

    rows = {row["flow_run_id"]: row for row in retry_database(read_rows)}
    for number, flow_run_id in children.items():
        flow_run = final[flow_run_id]
        row = rows.get(str(flow_run_id))
        shard = shard_record(number, flow_run, row)
        summary.shards.append(shard)
        logger.info("shard %s", shard_line(shard))
        if row is not None:
            _merge(summary, summary_of_row(row))
    problems = shard_failures(summary.shards)
    if problems:
        raise ShardsFailed(problems)


def shard_record(number: int, flow_run, row: dict | None) -> dict:
    """What a run keeps of one of its shards: its number, flow run, the
    worker that ran it, its final state (and message), its row's id and counts
    (none when it never wrote one: it crashed, or never started)."""
    state = flow_run.state
    return {"shard": number, "flow_run": flow_run.name, "worker": flow_run.labels.get(WORKER_LABEL),
            "state": state.type.value if state else "UNKNOWN", "message": (state.message if state else None) or "",
            "run": row["id"] if row else None, "feeds": row["feeds"] if row else 0,
            "articles_new": row["articles_new"] if row else 0,
            "chunks": (row["details"] or {}).get("chunks", 0) if row else 0}


def shard_failures(shards: list[dict]) -> str | None:
    """Why the run fails for its shards, in one line, or None when all of
    them completed.  ``run_deployment`` hands back a child's final state
    whatever it is, Failed and Crashed included: this is where they count."""
    problems = [
        f"shard {shard['shard']} ({shard['flow_run']}) {shard['state'].lower()}"
        + (f": {shard['message']}" if shard["message"] else "")
        for shard in shards if shard["state"] != "COMPLETED"
    ]
    return "; ".join(problems) or None


#: The label a worker gives each flow run it starts: its name.
WORKER_LABEL = "prefect.worker.name"


def shard_line(shard: dict) -> str:
    """A shard in one line, for the log and the run's artifact."""
    return (f"{shard['flow_run']}: {shard['state'].lower()} on worker {shard['worker'] or '?'}, run "
            f"{shard['run'] or '-'}, {shard['feeds']} feeds in {shard['chunks']} chunks, "
            f"{shard['articles_new']} new articles")


def wait_for_flow_runs(flow_run_ids: list, deadline: Deadline) -> dict:
    """The flow runs, once all of them are final, or as they are when the
    run's time is up (then ShardsFailed: a shard still running keeps going,
    its feeds its own until it ends)."""
    from prefect.client.orchestration import get_client

    seconds = deadline.end - time.monotonic() if deadline.end is not None else SHARD_WAIT_WITHOUT_LIMIT_SECONDS
    give_up = time.monotonic() + max(seconds, 0.0)
    with get_client(sync_client=True) as client:
        while True:
            flow_runs = {flow_run_id: client.read_flow_run(flow_run_id) for flow_run_id in flow_run_ids}
            running = [run for run in flow_runs.values() if not (run.state and run.state.is_final())]
            if not running:
                return flow_runs
            if time.monotonic() >= give_up:
                raise ShardsFailed(
                    "still running when the run's time was up (they go on): " + ", ".join(run.name for run in running))
            time.sleep(SHARD_POLL_SECONDS)


def summary_of_row(row: dict) -> IngestSummary:
    """A finished run's summary as its ingest_runs row keeps it (a shard's,
    for its coordinator to add up)."""
    details = row["details"] or {}
    return IngestSummary(
        feeds=row["feeds"], feeds_failed=row["feeds_failed"], entries_new=row["entries_new"],
        pages_fetched=row["pages_fetched"], pages_failed=row["pages_failed"], articles_new=row["articles_new"],
        stories_new=row["stories_new"], copies=row["copies"], articles_enriched=row["articles_enriched"],
        error_count=row["errors"], run_id=row["id"],
        errors=[tuple(error) for error in details.get("errors") or []],
        seconds=details.get("seconds") or {}, failures_by_kind=details.get("failures_by_kind") or {},
        feeds_unchanged=details.get("feeds_unchanged", 0), entries=details.get("entries", 0),
        already_stored=details.get("already_stored", 0), entity_links=details.get("entity_links", 0),
        batches_lost=details.get("batches_lost", 0), chunks=details.get("chunks", 0),
        site_rules_withheld=details.get("site_rules_withheld", 0),
        site_rules_withheld_pages=[(page["url"], page["site"], page["lines"])
                                   for page in details.get("site_rules_withheld_pages") or []],
        database_error=details.get("database_error"),
    )


@flow(name=SHARD_FLOW, log_prints=False, timeout_seconds=get_settings().ingest_timeout_seconds or None)
def ingest_shard(
    parent_run: int, feed_ids: list[int] | None = None, limit: int | None = None, force: bool = False,
    shard: int = 1,
) -> dict:
    """One shard of an ingest run in the work pool: claim a chunk of whole
    hosts' feeds, ingest it, claim again until the run's feeds are all
    claimed.  Started by the ingest flow (its coordinator), not by hand.

    Args:
        parent_run: The coordinator's row in ingest_runs: this shard's row
            names it, and no feed it claimed since it started is claimed again.
        feed_ids: Only these feeds (the coordinator's feed list); empty: every stored feed.
        limit: At most this many new pages this shard (also capped by
            NEWSFLOW_MAX_PAGES_PER_RUN).
        force: Fetch the feeds whether they are due or not.
        shard: The shard's number among its coordinator's, for the logs.
    """
    def body(summary, hold, logger, settings):
        started = time.perf_counter()
        retry_database(lambda: upgrade(hold.engine))
        summary.run_id = hold.start(str(prefect_flow_run.id) if prefect_flow_run.id else None, parent_run)
        summary.timed("database", started)
        logger.info("shard %d of run %d: run %d", shard, parent_run, summary.run_id)
        _run_shard(summary, hold, logger, settings, parent_run, feed_ids, limit, force, Deadline.of_this_flow_run())

    return _recorded_run(body, "ingest-shard-summary")
