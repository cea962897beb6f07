"""The worker pool for the CPU stages: order kept, failures returned in place."""

from __future__ import annotations

import os

from flows import workers
from flows.workers import map_in_chunks, pool
from pipeline.fetch import FetchResult
from pipeline.process import Entry, ProcessError, prepare_articles

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
