"""The worker pool for the CPU stages: order kept, failures returned in place."""

from __future__ import annotations

import os
import signal
import time

from flows import workers
from flows.workers import TimeLimit, map_in_chunks, pool
from pipeline.fetch import FetchResult
from pipeline.process import ProcessError, prepare_articles
from pipeline.records import Entry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "seeds", "demo", "freepress", "2021", "03", "18",
                    "gleam-china-must-influence-north-korea.html")


def _job(n: int, html: bytes) -> tuple[Entry, FetchResult]:
    url = f"https://site{n}.example/story.html"
    return Entry(url=url, link=url, feed_id=None), FetchResult(url, url, 200, html, "text/html")


def test_pages_are_prepared_in_workers_in_input_order_with_failures_in_place():
    seed = open(SEED, "rb").read()
    jobs = [_job(n, seed if n % 3 else b"<html><body><p>too short</p></body></html>") for n in range(7)]
    results = map_in_chunks(prepare_articles, jobs, workers=2)
    assert pool(2) is not None  # the pool lives on for the next batch
    assert [type(result).__name__ for result in results] == [
        "ProcessError", "ArticleRecord", "ArticleRecord", "ProcessError", "ArticleRecord", "ArticleRecord",
        "ProcessError",
    ]
    assert [result.canonical_url for result in results if not isinstance(result, ProcessError)] == [
        # the page's rel=canonical path, on the host it was fetched from
        f"https://site{n}.example/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
        for n in (1, 2, 4, 5)
    ]
    assert results[1].title == "Gleam: China must influence North Korea"
    assert results[1].fingerprint is not None and len(results[1].fingerprint.bands) == 64


def test_one_worker_runs_in_this_process():
    assert pool(1) is None
    assert map_in_chunks(lambda items: [item * 2 for item in items], [1, 2, 3], workers=1) == [2, 4, 6]


def test_workers_start_with_the_extractor_and_ner_libraries_loaded():
    # A fresh pool: its workers fork from a server that imported the
    # libraries once, rather than importing them again each.
    workers._shutdown()
    worker = pool(2).submit(os.getpid).result()
    assert worker != os.getpid()
    with open(f"/proc/{worker}/maps") as maps:
        mapped = maps.read()
    # Compiled modules of lxml (trafilatura's parser) and spaCy, in memory
    # before the worker has been given any work that needs them.
    assert "/lxml/etree" in mapped
    assert "/spacy/" in mapped


# ---------------------------------------------------------------- time limits


def _sleep_items(items):
    """Each item is seconds to sleep, under the per-item limit of a page."""
    from pipeline.timelimit import TimeLimitExceeded, time_limit

    results = []
    for seconds in items:
        try:
            with time_limit(0.5):
                time.sleep(seconds)
            results.append(("slept", os.getpid()))
        except TimeLimitExceeded:
            results.append(("stopped", os.getpid()))
    return results


def _sleep_deaf_to_signals(items):
    """Work that no signal interrupts, as C code stuck in a loop would be."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(max(items))
    return [("slept", os.getpid()) for _ in items]


def _failed(item, kind, message):
    return (kind, item)


def test_an_item_past_its_limit_is_stopped_in_its_worker_and_the_rest_go_on():
    limit = TimeLimit(0.5, _failed, grace=20)
    results = map_in_chunks(_sleep_items, [0, 60, 0, 0], workers=2, limit=limit)
    assert [outcome for outcome, _ in results] == ["slept", "stopped", "slept", "slept"]
    # Stopped by its own worker, which went on with its next item: nobody was replaced.
    assert results[1][1] == results[0][1] or results[1][1] == results[2][1]
    assert len({pid for _, pid in results}) == 2


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_deaf_to_its_limit_is_replaced_and_its_items_fail_alone():
    pids_before = set(workers.pool(2).submit(os.getpid).result() for _ in range(4))
    limit = TimeLimit(0.5, _failed, grace=2)
    started = time.monotonic()
    stuck = workers.submit_in_chunks(_sleep_deaf_to_signals, [600, 600], workers=2, limit=limit)
    assert stuck.result() == [("timeout", 600), ("timeout", 600)]
    assert time.monotonic() - started < 60  # a hang guard: the items would sleep 10 minutes
    # The stuck workers are gone, and the next work gets fresh ones.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids_before):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids_before)
    after = map_in_chunks(_sleep_items, [0, 0], workers=2, limit=limit)
    assert [outcome for outcome, _ in after] == ["slept", "slept"]
    assert not {pid for _, pid in after} & pids_before


def _die_the_first_time(items):
    """Each item a path: the first call creates it and ends its worker, as the
    kernel's OOM killer would; the next call returns."""
    for path in items:
        if not os.path.exists(path):
            open(path, "w").close()
            os._exit(1)
    return [("done", path) for path in items]


def test_a_chunk_whose_worker_died_runs_once_more_on_fresh_workers(tmp_path):
    marker = str(tmp_path / "died-once")
    results = map_in_chunks(_die_the_first_time, [marker], workers=2, limit=TimeLimit(5, _failed, grace=20))
    assert results == [("done", marker)]
    # The pool that took the retry serves the next batch as usual.
    assert [outcome for outcome, _ in map_in_chunks(_sleep_items, [0, 0], workers=2)] == ["slept", "slept"]
