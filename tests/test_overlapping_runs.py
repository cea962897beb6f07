"""Overlapping ingest runs (issue 7): two runs started together over the same
feeds share them out through leases, so each feed and each page is fetched
once, no row is stored twice, and both runs are recorded in ingest_runs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import CORPUS, ROOT, child_ingest_env

pytestmark = pytest.mark.integration

# Each answer of the server takes this long, so that one run is still
# fetching when the other claims its feeds.
ANSWER_DELAY = 0.4


@pytest.fixture
def both_runs_started(clean_db):
    """Set once both runs have their ingest_runs row, so have claimed or are
    about to claim: until then the server answers nobody, and the first run
    cannot finish before the second starts (on a loaded machine a process can
    take longer to start than a run takes)."""
    started = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and not started.is_set():
            with clean_db.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM ingest_runs")).scalar_one() >= 2:
                    started.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    yield started
    stop.set()
    watcher.join(timeout=5)


@pytest.fixture
def counting_server(both_runs_started):
    from flows.demo import serve_directory

    requests: Counter[str] = Counter()
    lock = threading.Lock()

    def count(request) -> None:
        with lock:
            requests[request.path.split("?")[0]] += 1
        both_runs_started.wait(timeout=120)
        time.sleep(ANSWER_DELAY)

    with serve_directory(CORPUS, on_request=count) as base_url:
        yield base_url, requests


def _ingest(base_url: str, env: dict, logs: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(CORPUS / "feeds.yaml"),
         "--base-url", base_url, "--json"],
        env=env, cwd=ROOT, stdout=open(logs / f"{name}.out", "w"), stderr=open(logs / f"{name}.err", "w"),
        text=True,
    )


def test_two_overlapping_runs_fetch_each_feed_and_page_once(clean_db, counting_server, prefect_server, tmp_path):
    base_url, requests = counting_server
    env = child_ingest_env(base_url, tmp_path / "data", workers="1")
    runs = [_ingest(base_url, env, tmp_path, name) for name in ("first", "second")]
    summaries = []
    for name, run in zip(("first", "second"), runs, strict=True):
        assert run.wait(timeout=240) == 0, (tmp_path / f"{name}.err").read_text()[-3000:]
        stdout = (tmp_path / f"{name}.out").read_text()
        summaries.append(json.loads(stdout[stdout.index("{"):]))

    feed_paths = ["/freepress/rss.xml", "/courier/atom.xml", "/rheinpost/feed.xml", "/metrowire/rss.xml"]
    assert {path: requests[path] for path in feed_paths} == dict.fromkeys(feed_paths, 1)
    pages = {path: n for path, n in requests.items() if path.endswith(".html")}
    assert pages and set(pages.values()) == {1}, pages
    assert sorted(summary["feeds"] for summary in summaries) in ([0, 4], [1, 3], [2, 2])

    with clean_db.connect() as conn:
        articles, urls = conn.execute(text("SELECT count(*), count(DISTINCT canonical_url) FROM articles")).one()
        stories = conn.execute(text("SELECT count(*) FROM stories")).scalar_one()
        leased = conn.execute(text("SELECT count(*) FROM feeds WHERE leased_by IS NOT NULL")).scalar_one()
        recorded = conn.execute(text(
            "SELECT id, status, started_at, finished_at, feeds, articles_new FROM ingest_runs ORDER BY id"
        )).all()
    assert (articles, urls, stories) == (11, 11, 10)
    assert leased == 0
    assert [row.status for row in recorded] == ["completed", "completed"]
    assert sorted(row.id for row in recorded) == sorted(summary["run_id"] for summary in summaries)
    assert sum(row.articles_new for row in recorded) == 11
    # The runs did overlap: each began before the other ended.
    first, second = recorded
    assert first.started_at < second.finished_at and second.started_at < first.finished_at
