"""Database limits (issue 10): a statement timeout and a full disk end as
recorded errors, not hangs, retry storms or half-written batches, and the
next run repairs what they cost; a lost connection is still retried.

Everything here is real: statements cancelled by PostgreSQL's own
statement_timeout while another session holds a lock, a full disk from a
tmpfs tablespace of a cluster the test owns, connections terminated by the
server.  The ingest runs are the flow itself against a small syndication
corpus (tests/syndication.py) served on 127.0.0.1.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.integration

SEED = 20_240_611
ORIGINALS = 4  # wire stories; on 2 outlets: 8 pages, 4 per feed
OUTLETS = 2
BATCH_SIZE = 3  # 8 entries: batches of 3, 3 and 2
TIMEOUT_SECONDS = 1.0  # the runs' statement timeout: a blocked statement waits this long
TINY_BYTES = 1024 * 1024  # the tablespace's file system


# ---------------------------------------------------------------- the corpus and runs


@dataclass
class Corpus:
    feeds_path: Path
    base_url: str
    feed_urls: list[str]
    entries: list[str]  # canonical URLs in the order the run batches them: feed by feed, newest first


@pytest.fixture(scope="module")
def corpus(syndication_site) -> Corpus:
    from pipeline.dedup import canonicalize_url

    site = syndication_site(originals=ORIGINALS, outlets=OUTLETS, seed=SEED)
    outlets = list(dict.fromkeys(page.outlet for page in site.pages))  # the feeds' order
    entries = [
        canonicalize_url(page.feed_link)
        for outlet in outlets
        for page in sorted((p for p in site.pages if p.outlet == outlet), key=lambda p: p.published, reverse=True)
    ]
    assert len(entries) == ORIGINALS * OUTLETS
    return Corpus(site.feeds_path, site.base_url, site.feed_urls, entries)


@pytest.fixture
def run_settings(corpus, monkeypatch) -> Iterator[None]:
    """The runs' settings: the corpus server allowed, small batches, a short
    statement timeout, extraction and NER in this process."""
    from pipeline.config import reset_settings_cache

    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", corpus.base_url.removeprefix("http://"))
    monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY", "0")
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", str(BATCH_SIZE))
    monkeypatch.setenv("NEWSFLOW_STATEMENT_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
    monkeypatch.setenv("NEWSFLOW_WORKERS", "1")
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def run_ingest(corpus: Corpus) -> dict:
    """The run's summary; a run the database refused a batch of ends Failed
    in Prefect, with the same summary."""
    from flows.ingest import ingest

    state = ingest(feeds_path=str(corpus.feeds_path), return_state=True)
    summary = state.result(raise_on_failure=False)
    if state.is_failed():
        assert summary.summary["database_error"] in state.message
        return summary.summary
    assert summary["database_error"] is None
    return summary


def stored(engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        return {
            "articles": set(conn.execute(text("SELECT canonical_url FROM articles")).scalars()),
            "raw_pages": set(conn.execute(text(
                "SELECT a.canonical_url FROM raw_pages r JOIN articles a ON a.id = r.article_id"
            )).scalars()),
        }


def broken(engine) -> dict[str, int]:
    from pipeline.store.check import run_checks

    with engine.connect() as conn:
        return {name: count for name, count in run_checks(conn).items() if count}


def feed_states(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {row.url: (row.etag, row.last_modified, row.last_status) for row in conn.execute(text(
            "SELECT url, etag, last_modified, last_status FROM feeds"
        ))}


# ---------------------------------------------------------------- the engine's timeout and retries


def settings_with_timeout(seconds: float):
    from pipeline.config import get_settings

    return get_settings().model_copy(update={"statement_timeout_seconds": seconds})


def test_every_connection_has_the_configured_statement_timeout(engine):
    from pipeline.store.engine import get_engine

    limited = get_engine(settings_with_timeout(1.5))
    unlimited = get_engine(settings_with_timeout(0))
    for _ in range(2):  # a fresh connection, then the same one back from the pool after its rollback
        with limited.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1500ms"
            conn.rollback()
    with unlimited.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    assert limited.pool.checkedin() == 1  # the pooled connection was reused


def test_a_statement_timeout_is_not_retried(engine):
    from pipeline.store.engine import StatementTimeout, get_engine, retry_database

    limited = get_engine(settings_with_timeout(0.2))
    calls = []

    def operation():
        calls.append(1)
        with limited.begin() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))

    with pytest.raises(StatementTimeout) as raised:
        retry_database(operation, first_wait=0.05)
    assert len(calls) == 1
    message = str(raised.value)
    assert message.startswith("statement timeout: canceling statement due to statement timeout"), message
    assert "pg_sleep" in message  # which statement it was
    assert raised.value.kind == "statement-timeout"


def test_a_lost_connection_is_still_retried(engine):
    """The server terminates the operation's connection (as a restart or a
    failover does) in its first attempt; the second attempt succeeds."""
    from pipeline.store.engine import get_engine, retry_database

    limited = get_engine(settings_with_timeout(5))
    calls = []

    def operation() -> int:
        calls.append(1)
        with limited.begin() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            if len(calls) == 1:
                with engine.connect() as other:
                    assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            return conn.execute(text("SELECT 42")).scalar_one()

    assert retry_database(operation, first_wait=0.05) == 42
    assert len(calls) == 2


def test_migrations_are_not_cut_off_by_the_statement_timeout(engine):
    """Another process's migration holds the migration lock longer than the
    statement timeout: this one waits for it and succeeds, and its
    connection keeps the timeout afterwards."""
    from pipeline.store.engine import get_engine
    from pipeline.store.migrate import _MIGRATION_LOCK, head_revision, upgrade

    limited = get_engine(settings_with_timeout(0.3))
    holder = engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
    release = threading.Timer(1.5, lambda: holder.execute(
        text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}))
    release.start()
    try:
        assert upgrade(limited) == head_revision()
    finally:
        release.join()
        holder.close()
    with limited.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "300ms"


# ---------------------------------------------------------------- a statement timeout in a batch


def test_statement_timeout_loses_one_batch_the_run_carries_on_and_the_next_run_repairs(
    corpus, clean_db, run_settings, prefect_server
):
    """Another session holds a row lock the first batch must take: a failure
    row of one of its entries, left by an earlier run, which the batch deletes
    once the entry is stored.  The batch's DELETE waits, PostgreSQL cancels it
    after the statement timeout, the batch's transaction rolls back, the
    other batches are stored.  Once the lock is released, a plain rerun
    stores the lost batch."""
    from pipeline.records import EntryFailure
    from pipeline.store import entries as entry_store, feeds as feed_store

    engine = clean_db
    locked_url = corpus.entries[0]
    lost = set(corpus.entries[:BATCH_SIZE])
    agency_feed, other_feed = corpus.feed_urls
    with engine.begin() as conn:
        feed_ids = feed_store.upsert_feeds(conn, [(url, None) for url in corpus.feed_urls])
        entry_store.record_failures(
            conn, [EntryFailure(locked_url, feed_ids[agency_feed], "fetch", "timeout", "timed out (an earlier run)")])
    holder = engine.connect()
    try:
        holder.execute(text("SELECT 1 FROM fetch_failures WHERE url = :url FOR UPDATE"), {"url": locked_url})

        first = run_ingest(corpus)

        assert first["batches_lost"] == 1, first
        assert first["database_error_kind"] == "statement-timeout", first
        assert first["database_error"].startswith("statement timeout: canceling statement due to statement timeout")
        assert "DELETE FROM fetch_failures" in first["database_error"]
        assert (f"batch of {BATCH_SIZE} entries", first["database_error"]) in [tuple(e) for e in first["errors"]]
        # The run carried on: the other batches are stored.
        assert first["articles_new"] == len(corpus.entries) - BATCH_SIZE, first
        data = stored(engine)
        assert data["articles"] == set(corpus.entries) - lost
        assert data["raw_pages"] == data["articles"]
        assert not broken(engine)
        with engine.connect() as conn:
            # Nothing of the lost batch was written, its failure bookkeeping included.
            assert conn.execute(text("SELECT attempts FROM fetch_failures")).scalars().all() == [1]
        # The feed with lost entries keeps no validators (a 304 would hide
        # them); the feed that was stored in full does.
        states = feed_states(engine)
        assert states[agency_feed] == (None, None, None), states
        assert states[other_feed][1] is not None and states[other_feed][2] == 200, states
    finally:
        holder.rollback()
        holder.close()

    second = run_ingest(corpus)

    assert second["database_error"] is None and second["batches_lost"] == 0, second
    assert second["feeds"] == 1  # only the feed with lost entries was due
    assert second["articles_new"] == BATCH_SIZE, second
    data = stored(engine)
    assert data["articles"] == data["raw_pages"] == set(corpus.entries)
    assert not broken(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fetch_failures")).scalar_one() == 0
        assert conn.execute(text(
            "SELECT count(*) FROM articles WHERE entities_status = 'pending'")).scalar_one() == 0
    assert all(state[1] is not None for state in feed_states(engine).values())


# ---------------------------------------------------------------- a full disk


@dataclass
class TinyDisk:
    url: str  # the cluster's database
    mountpoint: Path  # the tablespace's file system
    log: Path  # the cluster's server log

    def fill(self) -> None:
        """Write a file until the file system has no byte left."""
        with open(self.mountpoint / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)  # the last write is short, the one after fails
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        assert os.statvfs(self.mountpoint).f_bavail == 0

    def free(self) -> None:
        (self.mountpoint / "filler").unlink()


@pytest.fixture
def tiny_disk() -> Iterator[TinyDisk]:
    """A PostgreSQL cluster this test owns (initdb/pg_ctl) whose raw_pages
    table lives in a tablespace on a 1 MiB tmpfs."""
    from pipeline.store.engine import InitdbCluster, sqlalchemy_url
    from pipeline.store.migrate import upgrade

    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("a full disk needs a cluster of our own: no initdb/pg_ctl on PATH")
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small file system: mounting a tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="newsflow-diskfull-"))
    os.chmod(folder, 0o755)  # PostgreSQL runs as postgres and must reach pg/ and tiny/
    (folder / "pg").mkdir()
    mountpoint = folder / "tiny"
    mountpoint.mkdir()
    owner = pwd.getpwnam("postgres")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TINY_BYTES},mode=0700,uid={owner.pw_uid},gid={owner.pw_gid}",
         "newsflow-diskfull", str(mountpoint)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"this machine refuses to mount a tmpfs: {mounted.stderr.strip()}")
    cluster = InitdbCluster(folder / "pg")
    engine = None
    try:
        cluster.start()
        engine = create_engine(sqlalchemy_url(cluster.url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        upgrade(engine)
        with engine.connect() as conn:
            conn.execute(text(f"CREATE TABLESPACE tiny LOCATION '{mountpoint}'"))
            conn.execute(text("ALTER TABLE raw_pages SET TABLESPACE tiny"))
        yield TinyDisk(cluster.url, mountpoint, folder / "pg" / "postgres.log")
    finally:
        from pipeline.store.engine import _engine

        if engine is not None:
            engine.dispose()
        _engine.cache_clear()  # the runs' pools point at this cluster
        cluster.stop()
        subprocess.run(["umount", str(mountpoint)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def test_full_disk_ends_the_run_with_a_recorded_error_and_the_next_run_repairs(
    corpus, tiny_disk, run_settings, prefect_server, monkeypatch
):
    """The disk of raw_pages is full: the first batch's transaction (articles
    inserted, then their raw pages) fails once, is rolled back and not
    retried; the run fetches no further pages and ends with the error in its
    summary.  Once space is freed, a plain rerun stores everything."""
    from pipeline.config import reset_settings_cache
    from pipeline.store.engine import sqlalchemy_url

    monkeypatch.setenv("DATABASE_URL", tiny_disk.url)
    reset_settings_cache()
    engine = create_engine(sqlalchemy_url(tiny_disk.url), poolclass=NullPool)
    try:
        tiny_disk.fill()

        first = run_ingest(corpus)

        assert first["database_error_kind"] == "disk-full", first
        assert first["database_error"].startswith("database disk is full: could not extend file"), first
        assert "No space left on device" in first["database_error"]
        assert first["batches_lost"] == 1 and first["articles_new"] == 0, first
        # The run stopped at the first batch rather than fetch pages it could not store.
        assert first["pages_fetched"] == BATCH_SIZE, first
        # One failed write in the server's log: no retries.
        assert tiny_disk.log.read_text().count("could not extend file") == 1
        assert stored(engine) == {"articles": set(), "raw_pages": set()}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM stories")).scalar_one() == 0
        assert not broken(engine)
        assert set(feed_states(engine).values()) == {(None, None, None)}

        tiny_disk.free()
        second = run_ingest(corpus)

        assert second["database_error"] is None and second["batches_lost"] == 0, second
        assert second["articles_new"] == len(corpus.entries), second
        data = stored(engine)
        assert data["articles"] == data["raw_pages"] == set(corpus.entries)
        assert not broken(engine)
        assert all(state[1] is not None for state in feed_states(engine).values())
    finally:
        engine.dispose()
