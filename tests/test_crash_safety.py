"""Crash safety (issue 10): a killed run, a restarted database or a run that
stopped before its feeds' state was written loses nothing and duplicates
nothing.

Every ingest here is a user's ``python -m flows.cli ingest --feeds … --json``
in its own process group, against a syndication corpus generated at test
time (tests/syndication.py: ~230 pages, 6 outlets, wire stories carried 3-6
times with variations, so exact and near copies and story merges happen),
served on 127.0.0.1 and loaded in batches of 25.  The reference is one clean
run; every other path must end in the same data (ids aside) with
``newsflow db check`` clean.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import child_ingest_env, truncate_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SEED = 20_240_610
ORIGINALS = 50  # wire stories; with their copies ~230 pages
OUTLETS = 6
BATCH_SIZE = 25
KILL_TRIALS = 10
RUN_TIMEOUT = 240  # seconds; a run that takes longer is a hang
# Invariants that must hold at every instant, killed or not: an article is
# never stored without its story, text and fingerprint, a story's count
# always matches its members.  Only entities of copies may lag (they are
# filled after the canonical articles' NER, by this run or the next).
ALWAYS = ("article-without-story", "story-count-mismatch", "empty-story", "canonical-mismatch",
          "article-without-fingerprint", "orphan-entity")
BATCH_LINE = re.compile(r"batch (\d+)/(\d+)")


# ---------------------------------------------------------------- running ingest


class Ingest:
    """``newsflow ingest`` in a child process and its own process group (so a
    kill reaches its worker processes too), output in files."""

    def __init__(self, feeds: Path, env: dict, logs: Path, *extra: str):
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = logs / "stdout.txt", logs / "stderr.txt"
        self._out, self._err = open(self.stdout_path, "w"), open(self.stderr_path, "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(feeds), "--json", *extra],
            env=env, cwd=ROOT, stdout=self._out, stderr=self._err, text=True, start_new_session=True,
        )
        self.pgid = self.process.pid
        self.seconds: float | None = None

    def output(self) -> tuple[str, str]:
        return self.stdout_path.read_text(), self.stderr_path.read_text()

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.seconds = time.monotonic() - self.started
            self.kill()
        return code

    def wait_for(self, pattern: str, timeout: float = RUN_TIMEOUT) -> bool:
        """Until ``pattern`` appears in the output (True) or the process ends (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.stderr_path.read_text() + self.stdout_path.read_text()):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} did not appear within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the whole process group and make sure nothing in it survives."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"processes of group {self.pgid} survived SIGKILL")
        for handle in (self._out, self._err):
            if not handle.closed:
                handle.close()

    def summary(self) -> dict:
        stdout, _ = self.output()
        return json.loads(stdout[stdout.index("{"):])

    def phase(self) -> str:
        """How far the run got, from its log: what it had committed last."""
        log = self.output()[1]
        if "Beginning flow run" not in log:
            return "before the flow began"
        if "commit-feed-states" in log:
            return "after committing feed state"
        if "enrich-pending" in log:
            return "after entities"
        batches = BATCH_LINE.findall(log)
        if batches:
            done, total = batches[-1]
            return f"after batch {done}/{total}" + (", during entities" if done == total else "")
        if re.search(r"\d+ feeds, \d+ entries, 0 new", log):
            return "no new entries, during entities"
        if re.search(r"\d+ feeds, \d+ entries", log):
            return "during batch 1"
        return "fetching feeds"

    def members(self) -> int:
        """Processes alive in the run's process group."""
        count = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.pgid and fields[0] != "Z":
                    count += 1
        return count


@contextlib.contextmanager
def ingest(feeds: Path, env: dict, logs: Path, *extra: str) -> Iterator[Ingest]:
    run = Ingest(feeds, env, logs, *extra)
    try:
        yield run
    finally:
        run.kill()


def run_to_completion(feeds: Path, env: dict, logs: Path, *extra: str) -> tuple[dict, float]:
    with ingest(feeds, env, logs, *extra) as run:
        code = run.wait()
        stdout, stderr = run.output()
        assert code == 0, f"ingest exited {code}:\n{stdout[-3000:]}\n{stderr[-5000:]}"
        assert "Traceback" not in stdout + stderr, stderr[-5000:]
        return run.summary(), run.seconds


# ---------------------------------------------------------------- the data


COUNTED = ("articles", "stories", "raw_pages", "article_fingerprints", "article_bands", "entities",
           "article_entities", "fetch_failures", "site_boilerplate")


def snapshot(engine) -> dict:
    """The stored data without ids: per article (by canonical URL) its title,
    text, hash, the canonical URLs of its story's members, whether it is its
    story's canonical article, its entity status and its entities; stories'
    counts; learned site lines with their support; each table's row count."""
    with engine.connect() as conn:
        members: dict[int, set[str]] = {}
        rows = conn.execute(text(
            "SELECT id, canonical_url, title, text, content_hash, story_id, is_canonical, entities_status"
            " FROM articles"
        )).all()
        for row in rows:
            members.setdefault(row.story_id, set()).add(row.canonical_url)
        entities: dict[int, set] = {}
        for article_id, name, label, mentions, in_title in conn.execute(text(
            "SELECT ae.article_id, e.name, e.label, ae.mentions, ae.in_title"
            " FROM article_entities ae JOIN entities e ON e.id = ae.entity_id"
        )):
            entities.setdefault(article_id, set()).add((name, label, mentions, in_title))
        articles = {
            row.canonical_url: {
                "title": row.title, "text": row.text, "content_hash": row.content_hash,
                "story": frozenset(members[row.story_id]), "is_canonical": row.is_canonical,
                "entities_status": row.entities_status,
                "entities": frozenset(entities.get(row.id, ())),
            }
            for row in rows
        }
        stories = sorted(
            (canonical_url, count) for canonical_url, count in conn.execute(text(
                "SELECT a.canonical_url, s.article_count FROM stories s"
                " JOIN articles a ON a.id = s.canonical_article_id"
            ))
        )
        site_lines = sorted(tuple(row) for row in conn.execute(text(
            "SELECT host, line_hash, support FROM site_boilerplate"
        )))
        counts = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in COUNTED}
    return {"articles": articles, "stories": stories, "site_lines": site_lines, "counts": counts}


def differences(expected: dict, actual: dict, limit: int = 12) -> list[str]:
    """What differs between two snapshots, briefly."""
    found = []
    for key in ("counts", "stories", "site_lines"):
        if expected[key] != actual[key]:
            found.append(f"{key}: expected {str(expected[key])[:300]} got {str(actual[key])[:300]}")
    want, got = expected["articles"], actual["articles"]
    for url in sorted(want.keys() - got.keys())[:limit]:
        found.append(f"missing article {url}")
    for url in sorted(got.keys() - want.keys())[:limit]:
        found.append(f"unexpected article {url}")
    for url in sorted(want.keys() & got.keys()):
        for name, value in want[url].items():
            if got[url][name] != value and len(found) < 3 * limit:
                found.append(f"{url} {name}: expected {str(value)[:200]} got {str(got[url][name])[:200]}")
    return found


def checks(engine) -> dict[str, int]:
    from pipeline.store.check import run_checks

    with engine.connect() as conn:
        return run_checks(conn)


@dataclass
class State:
    articles: int
    stories: int
    pending: int  # articles still waiting for entities
    feeds_with_state: int  # feeds whose ETag/Last-Modified were written
    broken: dict[str, int] = field(default_factory=dict)


def state(engine) -> State:
    with engine.connect() as conn:
        articles, stories, pending, with_state = conn.execute(text(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM stories),"
            " (SELECT count(*) FROM articles WHERE entities_status = 'pending'),"
            " (SELECT count(*) FROM feeds WHERE etag IS NOT NULL OR last_modified IS NOT NULL)"
        )).one()
    return State(articles, stories, pending, with_state,
                 {name: count for name, count in checks(engine).items() if count})


# ---------------------------------------------------------------- fixtures


@dataclass
class Corpus:
    feeds: Path  # the feed list
    base_url: str
    pages: int
    feed_urls: list[str]
    folder: Path  # the runs' logs and data


@pytest.fixture(scope="module")
def corpus(syndication_site, tmp_path_factory) -> Corpus:
    site = syndication_site(originals=ORIGINALS, outlets=OUTLETS, seed=SEED)
    return Corpus(site.feeds_path, site.base_url, len(site.pages), site.feed_urls, tmp_path_factory.mktemp("crash"))


def ingest_env(corpus: Corpus, database_url: str, data_dir: Path) -> dict:
    return child_ingest_env(
        corpus.base_url, data_dir, database_url,
        batch_size=str(BATCH_SIZE), retries="1", retry_backoff="0.1",
        # Extraction and NER in the flow's own process: on this corpus a
        # worker pool costs more to start than it saves (21 s against 12 s a
        # run on 2 cores).  The stale-state test kills a run with workers.
        workers="1",
        # The lease time is the default (15 minutes): a killed run's feeds
        # are free the moment its database session ends, not when it lapses.
    )


@pytest.fixture(scope="module")
def env(corpus, engine, prefect_server) -> dict:
    return ingest_env(corpus, os.environ["DATABASE_URL"], corpus.folder / "data")


@pytest.fixture(scope="module")
def reference(corpus, engine, env) -> Iterator[dict]:
    """One clean run into an empty schema: what every other path must end in."""
    truncate_all(engine)
    summary, seconds = run_to_completion(corpus.feeds, env, corpus.folder / "logs" / "reference")
    data = snapshot(engine)
    found = checks(engine)
    print(f"\nreference: {corpus.pages} pages, {summary['articles_new']} articles, "
          f"{data['counts']['stories']} stories, {summary['copies']} copies, "
          f"{data['counts']['article_entities']} entity links, {seconds:.1f} s")
    # The corpus exercises what can go wrong: stories of several members,
    # copies found by MinHash, entities copied to copies, many batches.
    assert summary["articles_new"] == corpus.pages, summary
    assert summary["pages_failed"] == 0 and not summary["errors"], summary
    assert summary["copies"] > corpus.pages // 2
    assert any(len(article["story"]) >= 4 for article in data["articles"].values())
    assert any(article["entities_status"] == "copied" and article["entities"]
               for article in data["articles"].values())
    assert corpus.pages // BATCH_SIZE >= 8
    assert not any(found.values()), found
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles WHERE match_kind = 'near'")).scalar_one() > 10
        assert conn.execute(text("SELECT count(*) FROM feeds WHERE last_modified IS NULL")).scalar_one() == 0
    yield {"snapshot": data, "seconds": seconds}
    truncate_all(engine)  # the next module starts from what it expects


# ---------------------------------------------------------------- kill test


def test_killed_runs_then_one_run_to_completion_equal_one_clean_run(corpus, engine, env, reference):
    """SIGKILL at seeded random moments between 1 s and a clean run's length;
    each killed run resumes from what the one before it committed.  A run
    that completes its work before its kill is checked against the reference
    like the final run, and the next trial starts from an empty schema."""
    rng = random.Random(SEED)
    truncate_all(engine)
    lines: list[str] = []
    started = time.monotonic()
    completed = 0
    for trial in range(1, KILL_TRIALS + 1):
        delay = rng.uniform(1.0, reference["seconds"])
        before = state(engine)
        with ingest(corpus.feeds, env, corpus.folder / "logs" / f"trial-{trial}") as run:
            try:
                code = run.process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                code = None
                run.kill()
            phase = run.phase()
            stdout, stderr = run.output()
        after = state(engine)
        outcome = f"killed at {delay:5.2f} s" if code is None else f"exited {code} before {delay:5.2f} s"
        line = (f"trial {trial:2d}: {outcome} ({phase}); from {before.articles} to {after.articles} articles, "
                f"{after.stories} stories, {after.pending} pending entities, "
                f"{after.feeds_with_state} feeds with state; checks: {after.broken or 'clean'}")
        lines.append(line)
        print(line)
        report = "\n".join(lines)
        # Never half an article, an article without its story, a story miscounted.
        assert not {name: after.broken[name] for name in ALWAYS if name in after.broken}, report
        # Feed state follows the articles: written only once everything is stored.
        if after.feeds_with_state:
            assert after.articles == corpus.pages and after.pending == 0, report
        if code is not None:
            assert code == 0 and "Traceback" not in stdout + stderr, f"{report}\n{stderr[-3000:]}"
        if after.feeds_with_state == OUTLETS:
            # The run completed its work (before its kill, or before Prefect's
            # teardown was killed): it must equal the clean run.  The next
            # trial starts over from an empty schema, so that it has work to be
            # killed in.
            diff = differences(reference["snapshot"], snapshot(engine))
            assert not diff, report + "\n" + "\n".join(diff)
            assert not after.broken, report
            completed += 1
            truncate_all(engine)
    before = state(engine)
    # Killed runs never wrote feed state: a plain run (no --force) fetches
    # every feed in full and completes the data in one go.
    assert before.feeds_with_state == 0
    summary, seconds = run_to_completion(corpus.feeds, env, corpus.folder / "logs" / "final")
    lines.append(f"final run: from {before.articles} articles ({before.pending} pending entities); "
                 f"{summary['feeds']} feeds fetched ({summary['feeds_unchanged']} unchanged), "
                 f"{summary['entries_new']} new entries, {summary['articles_new']} articles stored, "
                 f"{summary['articles_enriched']} enriched, {seconds:.1f} s; {completed} trial(s) "
                 f"completed their work before the kill; trials took {time.monotonic() - started:.0f} s")
    print(lines[-1])
    report = "\n".join(lines)
    assert summary["feeds"] == OUTLETS and summary["feeds_unchanged"] == 0, report
    assert summary["articles_new"] == corpus.pages - before.articles, report
    diff = differences(reference["snapshot"], snapshot(engine))
    assert not diff, report + "\n" + "\n".join(diff)
    found = checks(engine)
    assert not any(found.values()), f"{report}\n{found}"
    assert state(engine).feeds_with_state == OUTLETS, report


# ---------------------------------------------------------------- kill at chosen moments

# The log line that says a run has reached the moment, and the phase its log
# then shows.
MOMENTS = {
    "during feed fetches": (r"claimed \d+ feeds", "fetching feeds"),
    "mid-batch": (r"batch 2/\d+", "after batch 2/"),
    "during entities": (r"batch (\d+)/\1\b", "during entities"),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_killed_at_a_moment_then_rerun_at_once_equals_one_clean_run(corpus, engine, env, reference, moment):
    """kill -9, then the next run at once with the default lease time: it
    takes every feed (the dead run's session is gone), marks the dead run
    abandoned and ends in the clean run's data."""
    pattern, phase = MOMENTS[moment]
    truncate_all(engine)
    with ingest(corpus.feeds, env, corpus.folder / "logs" / f"moment-{moment}") as run:
        assert run.wait_for(pattern), run.output()
        run.kill()
        seen = run.phase()
    assert phase in seen, seen
    after = state(engine)
    assert not {name: after.broken[name] for name in ALWAYS if name in after.broken}, after
    assert after.articles < corpus.pages or after.pending, f"the run was done before the kill: {after}"
    with engine.connect() as conn:
        killed_status = conn.execute(text("SELECT status FROM ingest_runs")).scalar_one()
    summary, _ = run_to_completion(corpus.feeds, env, corpus.folder / "logs" / f"moment-{moment}-rerun")
    assert summary["feeds"] == OUTLETS and summary["feeds_held"] == [], summary
    diff = differences(reference["snapshot"], snapshot(engine))
    assert not diff, f"{seen}\n" + "\n".join(diff)
    assert not any(checks(engine).values()), checks(engine)
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM ingest_runs ORDER BY id")).scalars().all()
    # Written by nobody: the killed run read as abandoned before the rerun began.
    assert killed_status == "running"
    assert statuses == ["abandoned", "completed"]


# ---------------------------------------------------------------- stale-state test


def test_feed_whose_articles_were_not_committed_is_fetched_in_full_again(corpus, engine, env, reference):
    from pipeline.config import Settings

    truncate_all(engine)
    # This run extracts in worker processes (where the pipeline has them):
    # killing its process group must leave none of them behind.
    workers = "workers" in Settings.model_fields
    killed_env = {**env, "NEWSFLOW_WORKERS": "2"}
    with ingest(corpus.feeds, killed_env, corpus.folder / "logs" / "stale-killed") as run:
        # The feeds are fetched and their new entries chosen: kill during the
        # first batch, before it commits (once its workers run).
        assert run.wait_for(r"\d+ feeds, \d+ entries, \d+ new"), run.output()
        deadline = time.monotonic() + 20
        while workers and run.members() < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        members = run.members()
        run.kill()  # asserts that no process of the group survives
        assert run.phase() == "during batch 1", run.output()[1][-3000:]
    assert members >= (3 if workers else 1)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT url, etag, last_modified, next_fetch_at,"
            " (SELECT count(*) FROM articles a WHERE a.feed_id = f.id) AS articles FROM feeds f"
        )).mappings().all()
    assert len(rows) == OUTLETS
    for row in rows:
        assert (row["etag"], row["last_modified"], row["next_fetch_at"], row["articles"]) == (None, None, None, 0), row
    # A run that had kept the feeds' validators would be answered 304 and
    # never see these entries again.
    for feed in corpus.feed_urls:
        with urllib.request.urlopen(feed) as response:
            validator = response.headers["Last-Modified"]
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(urllib.request.Request(feed, headers={"If-Modified-Since": validator}))
        assert answer.value.code == 304

    summary, _ = run_to_completion(corpus.feeds, env, corpus.folder / "logs" / "stale-rerun")
    assert summary["feeds"] == OUTLETS and summary["feeds_unchanged"] == 0
    assert summary["entries_new"] == corpus.pages and summary["articles_new"] == corpus.pages
    diff = differences(reference["snapshot"], snapshot(engine))
    assert not diff, "\n".join(diff)
    assert not any(checks(engine).values())
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT last_status, last_modified IS NOT NULL FROM feeds")).all()
    assert statuses == [(200, True)] * OUTLETS


# ---------------------------------------------------------------- restart test


@pytest.fixture
def own_cluster() -> Iterator:
    """A PostgreSQL cluster this test owns (initdb/pg_ctl), stopped and removed afterwards."""
    from pipeline.store.engine import InitdbCluster

    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("no initdb/pg_ctl on PATH")
    # Not pytest's tmp_path: as root, PostgreSQL runs as another user, who
    # must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="newsflow-crash-pg-"))
    os.chmod(folder, 0o755)
    (folder / "pg").mkdir()
    cluster = InitdbCluster(folder / "pg")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_database_restart_mid_run_ends_cleanly_and_a_rerun_completes(corpus, env, reference, own_cluster):
    """The test's own PostgreSQL is stopped (fast: connections cut) and started
    again while the run writes its batches."""
    from pipeline.store.engine import sqlalchemy_url
    from pipeline.store.migrate import upgrade

    engine = create_engine(sqlalchemy_url(own_cluster.url), poolclass=NullPool)
    try:
        upgrade(engine)
        cluster_env = {**env, "DATABASE_URL": own_cluster.url}
        with ingest(corpus.feeds, cluster_env, corpus.folder / "logs" / "restart") as run:
            assert run.wait_for(r"batch 2/\d+"), run.output()
            stopped = time.monotonic()
            own_cluster.stop()
            own_cluster.start()
            down = time.monotonic() - stopped
            code = run.wait()
            stdout, stderr = run.output()
            phase = run.phase()
        after = state(engine)
        errors = [line for line in stderr.splitlines() if "| ERROR" in line]
        behaviour = (
            f"database restarted after batch 2 (down {down:.1f} s); run exited {code} after {run.seconds:.1f} s "
            f"({phase}); {after.articles} articles, {after.pending} pending entities, "
            f"{after.feeds_with_state} feeds with state; {stderr.count('Traceback')} tracebacks; "
            f"errors logged: {[line[:200] for line in errors[:3]]}"
        )
        print("\nrestart: " + behaviour)
        # Whatever the run did, nothing is half-written, and feed state
        # was not written for entries that were not stored.
        assert not {name: after.broken[name] for name in ALWAYS if name in after.broken}, behaviour
        if after.feeds_with_state:
            assert after.articles == corpus.pages and after.pending == 0, behaviour

        # The rerun completes the data, whatever the first run left.
        summary, _ = run_to_completion(corpus.feeds, cluster_env, corpus.folder / "logs" / "restart-rerun")
        diff = differences(reference["snapshot"], snapshot(engine))
        assert not diff, behaviour + "\n" + "\n".join(diff)
        assert not any(checks(engine).values()), behaviour

        # The run ended cleanly: finished (the lost batch retried or reported
        # as an error), or failed with a clear message — never a traceback.
        assert "Traceback" not in stdout + stderr, behaviour + "\n" + stderr[-3000:]
        assert code in (0, 1), behaviour
        if code == 0:
            assert after.articles == corpus.pages or run.summary()["errors"], behaviour
    finally:
        engine.dispose()
