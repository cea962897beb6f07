#!/usr/bin/env python3
"""Throughput of the real ingest flow against the floor the machine allows.

Usage::

    python bench/throughput.py [--articles 2000] [--feeds 50] [--workers N] [--json FILE] [--data DIR]
    python bench/throughput.py --store-only [--articles 500]

1. **Corpus.**  N distinct articles of realistic size — each a seeded draw of
   real sentences from the extraction benchmark's bodies, so spaCy sees real
   prose (``extraction-benchmark/`` in the benchmark data directory:
   ``--data DIR``, ``$NEWSFLOW_BENCH_DATA`` or ``bench/data/``; without it the
   script says so and exits 0) — on ``--feeds`` outlets with real site chrome (bench/dedup.py's
   templates), one RSS feed each, served from 127.0.0.1.
2. **The flow.**  ``newsflow ingest --feeds … --json`` in a subprocess on a
   fresh database, as a user runs it (Prefect's temporary server included,
   on a Prefect home whose database exists, as after a user's first run):
   articles/s end to end, articles/s inside the flow (its stage times), the
   time per stage, and the peak RSS of its largest process.
3. **The floor.**  The same pages from disk through the same work —
   decode, extract and clean, fingerprint, NER — in ``--workers`` long-lived
   processes, no HTTP, no database, no orchestration; run before and after
   the flow, and the mean of the two taken.
4. The ratio flow/floor (issue #9's target: >= 0.8 at N = 2,000).

``--store-only`` times the store stage alone instead: the pages prepared as
the flow prepares them (outside the clock), then ``article_store.store_articles`` in
batches of ``NEWSFLOW_BATCH_SIZE`` on a fresh database, one transaction per
batch, as the flow does; then the same batches again (all already stored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import dedup  # noqa: E402  (the corpus templates and helpers of bench/dedup.py)

from bench import benchdata  # noqa: E402


def sentence_pool(data_dir: Path) -> list[str]:
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    sentences: list[str] = []
    for value in truth.values():
        body = value.get("articleBody") or ""
        for paragraph in dedup.split_paragraphs(body):
            sentences += [s for s in dedup._SENTENCE_SPLIT.split(paragraph) if len(s.split()) >= 6]
    return sentences


def build_corpus(root: Path, base: str, articles: int, feeds: int, seed: int,
                 data: str | Path | None = None) -> tuple[Path, list[Path]]:
    """The corpus in ``root``, with sentences from the data directory ``data``'s extraction benchmark."""
    rng = random.Random(seed)
    pool = sentence_pool(benchdata.extraction_benchmark(data))
    start = datetime(2021, 3, 18, 6, tzinfo=UTC)
    items: dict[int, list] = {feed: [] for feed in range(feeds)}
    pages: list[Path] = []
    for number in range(articles):
        feed = number % feeds
        template = dedup.OUTLETS[feed % len(dedup.OUTLETS)]
        outlet = dedup.Outlet(f"{template.slug}{feed}", f"{template.name} {feed}", template.prefix,
                              template.layout, template.canonical, template.nav)
        paragraphs = [" ".join(rng.sample(pool, rng.randint(2, 4))) for _ in range(rng.randint(5, 12))]
        headline = dedup.make_headline(paragraphs) + f" ({number})"
        slug = f"{outlet.slug}/story-{number}.html"
        published = start + timedelta(minutes=number)
        html = dedup.render_page(outlet, f"{base}/{slug}", headline, paragraphs, published, [], base)
        path = root / slug
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        pages.append(path)
        items[feed].append((headline, f"{base}/{slug}", published, f"story-{number}"))
    lines = ["feeds:"]
    for feed, entries in items.items():
        template = dedup.OUTLETS[feed % len(dedup.OUTLETS)]
        outlet = dedup.Outlet(f"{template.slug}{feed}", f"{template.name} {feed}", template.prefix,
                              template.layout, template.canonical, template.nav)
        (root / outlet.slug / "rss.xml").write_text(dedup.render_feed(outlet, base, entries), encoding="utf-8")
        lines.append(f"  - url: {base}/{outlet.slug}/rss.xml\n    name: {outlet.name}")
    feed_list = root / "feeds.yaml"
    feed_list.write_text("\n".join(lines) + "\n")
    return feed_list, pages


def floor_work(paths: list[str]) -> list[int]:
    """What the flow does to a page, minus HTTP, the database and Prefect."""
    from pipeline.config import get_settings
    from pipeline.enrich.models import EnrichInput, extract_entities_with_models
    from pipeline.neardup import fingerprint
    from pipeline.process import ProcessError, extract_page

    inputs = []
    for path in paths:
        try:
            article = extract_page(Path(path).read_bytes(), "http://127.0.0.1/" + Path(path).name)
        except ProcessError:
            continue
        fingerprint(article.text)
        inputs.append(EnrichInput(article.title, article.text, article.language))
    settings = get_settings()  # the models and text limit the flow uses
    results = extract_entities_with_models(settings.ner_models, inputs, max_chars=settings.ner_max_chars)
    return [len(result.entities) for _, result in results]


def run_floor(pages: list[Path], workers: int) -> dict:
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as executor:
        # Warm the workers (imports, model) before the clock starts: the floor
        # is the steady state of long-lived workers.
        list(executor.map(floor_work, [[str(pages[0])]] * workers))
        started = time.perf_counter()
        chunks = [[str(page) for page in pages[i:i + 25]] for i in range(0, len(pages), 25)]
        done = sum(len(part) for part in executor.map(floor_work, chunks))
        seconds = time.perf_counter() - started
    return {"articles": done, "seconds": round(seconds, 1), "per_second": round(done / seconds, 2)}


def run_store_only(pages: list[Path], root: Path, base: str, url: str) -> dict:
    from sqlalchemy import create_engine, text

    from pipeline.config import get_settings
    from pipeline.fetch import FetchResult
    from pipeline.process import ProcessError, prepare_articles
    from pipeline.records import Entry
    from pipeline.store import articles as article_store
    from pipeline.store.engine import sqlalchemy_url
    from pipeline.store.migrate import upgrade

    jobs = []
    for page in pages:
        page_url = f"{base}/{page.relative_to(root)}"
        jobs.append((Entry(page_url, page_url, None),
                     FetchResult(page_url, page_url, 200, page.read_bytes(), "text/html; charset=utf-8")))
    records = [record for record in prepare_articles(jobs) if not isinstance(record, ProcessError)]
    batch = get_settings().batch_size
    engine = create_engine(sqlalchemy_url(url))
    upgrade(engine)
    results = {"articles": len(records), "batch_size": batch}
    for label in ("first_run", "rerun"):
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(records), batch):
            with engine.begin() as conn:
                article_store.store_articles(conn, records[start:start + batch])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        results[f"{label}_seconds"] = round(seconds, 2)
        results[f"{label}_ms_per_article"] = round(1000 * seconds / len(records), 2)
        results[f"{label}_python_cpu_ms_per_article"] = round(1000 * cpu / len(records), 2)
    with engine.connect() as conn:
        results["rows"] = dict(conn.execute(text(
            "SELECT (SELECT count(*) FROM articles) AS articles, (SELECT count(*) FROM stories) AS stories,"
            " (SELECT count(*) FROM article_bands) AS bands, (SELECT count(*) FROM raw_pages) AS raw_pages"
        )).one()._mapping)
    engine.dispose()
    return results


def prepare_prefect_home(home: Path) -> float:
    """A Prefect home of the benchmark's own, its database created before the
    clock starts, as on a machine where newsflow has run before: the first
    run on a new home creates it (Prefect's migrations), which a scheduled
    run pays once, not each time.  Returns the seconds that took."""
    os.environ["PREFECT_HOME"] = str(home)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                   check=True, capture_output=True, timeout=300)
    return round(time.perf_counter() - started, 1)


@contextlib.contextmanager
def prefect_api(home: Path, wanted: bool):
    """A running Prefect server for the flow (PREFECT_API_URL), or nothing:
    then the ingest process starts a temporary one of its own."""
    if not wanted:
        yield
        return
    from flows.serve import free_port, start_local_server

    local = start_local_server(home, port=free_port(None), timeout=120)
    os.environ["PREFECT_API_URL"] = local.api_url
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        local.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--store-only", action="store_true", help="time the store stage alone (see above)")
    parser.add_argument(
        "--prefect-server", action="store_true",
        help="run the flow against a Prefect server started beforehand, as scheduled runs"
             " (newsflow serve, workers) do, instead of a temporary server of its own",
    )
    benchdata.add_option(parser)
    args = parser.parse_args()
    if skipped := benchdata.extraction_benchmark_missing(args.data):
        print(skipped)
        return 0
    args.feeds = min(args.feeds, args.articles)  # every feed needs an article

    from flows.demo import serve_directory

    server = os.environ.get("NEWSFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    if args.store_only:
        with tempfile.TemporaryDirectory(prefix="newsflow-store-") as tmp:
            base = "http://127.0.0.1:8000"
            _, pages = build_corpus(Path(tmp), base, args.articles, args.feeds, args.seed, args.data)
            print(f"store: {args.articles} prepared articles, article_store.store_articles per batch …", flush=True)
            with dedup.fresh_database(server, f"newsflow_bench_store_{os.getpid()}", False) as url:
                results = run_store_only(pages, Path(tmp), base, url)
        report(results, args.json)
        return 0
    with tempfile.TemporaryDirectory(prefix="newsflow-throughput-") as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        with serve_directory(root) as base:
            print(f"corpus: {args.articles} articles on {args.feeds} feeds at {base} …", flush=True)
            feed_list, pages = build_corpus(root, base, args.articles, args.feeds, args.seed, args.data)
            # The floor before and after the flow, and their mean: the shared
            # machine's speed drifts by 10-20 % within minutes.
            print(f"floor: the same pages in {args.workers} long-lived worker processes …", flush=True)
            floors = [run_floor(pages, args.workers)]
            prefect_home_seconds = prepare_prefect_home(Path(tmp) / "prefect")
            with dedup.fresh_database(server, f"newsflow_bench_throughput_{os.getpid()}", False) as url, \
                    prefect_api(Path(tmp) / "prefect", args.prefect_server):
                os.environ["NEWSFLOW_WORKERS"] = str(args.workers)
                print("flow: newsflow ingest …", flush=True)
                summary = dedup.run_ingest(feed_list, url, base.removeprefix("http://"), Path(tmp) / "data", False)
                # Before the Prefect server (a child too) is stopped and waited for.
                flow_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print("floor again …", flush=True)
            floors.append(run_floor(pages, args.workers))
        floor = {
            "articles": floors[0]["articles"],
            "per_second": round(sum(run["per_second"] for run in floors) / len(floors), 2),
            "before_and_after": [run["per_second"] for run in floors],
        }

    stored = summary["articles_new"]
    in_flow = sum(summary["seconds"].values())
    results = {
        "articles": args.articles, "feeds": args.feeds, "workers": args.workers,
        "prefect": "a running server" if args.prefect_server else "the run's own temporary server",
        "flow_articles_stored": stored, "flow_wall_seconds": summary["wall_seconds"],
        "flow_per_second_end_to_end": round(stored / summary["wall_seconds"], 2),
        "flow_stage_seconds": summary["seconds"], "flow_seconds_in_stages": round(in_flow, 1),
        "flow_per_second_in_stages": round(stored / in_flow, 2) if in_flow else None,
        # The flow's body against the process: what is left is starting Python,
        # the imports and Prefect (its temporary server, the flow run's set-up and end).
        "flow_body_seconds": summary["flow_seconds"],
        "outside_the_flow_body_seconds": round(summary["wall_seconds"] - summary["flow_seconds"], 1),
        "flow_peak_rss_mb": round(flow_rss, 1),
        # Paid once per Prefect home, before the clock (see prepare_prefect_home).
        "prefect_database_created_seconds": prefect_home_seconds,
        "floor": floor,
    }
    results["ratio_end_to_end"] = round(results["flow_per_second_end_to_end"] / floor["per_second"], 2)
    if results["flow_per_second_in_stages"]:
        results["ratio_in_stages"] = round(results["flow_per_second_in_stages"] / floor["per_second"], 2)
    print()
    report(results, args.json)
    return 0


def report(results: dict, json_path: str | None) -> None:
    """The results as a Markdown table, and as JSON to ``json_path`` if given."""
    print("| measure | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value} |")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
