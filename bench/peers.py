#!/usr/bin/env python3
"""Extraction throughput of newsflow against its peers, on one core.

Usage::

    python bench/peers.py [--articles 300] [--rounds 2] [--json FILE] [--data DIR]

1. **Corpus.**  bench/throughput.py's generator: N distinct articles of
   realistic size on 50 outlets with real site chrome, written to disk (its
   sentences come from ``extraction-benchmark/`` in the benchmark data
   directory: ``--data DIR``, ``$NEWSFLOW_BENCH_DATA`` or ``bench/data/``;
   without it the script says so and exits 0).
2. **Peers.**  newspaper4k (falling back to news-please when pip cannot
   install it) in its own virtual environment, ``bench/.peers-venv``
   (git-ignored), created and filled by this script with pip on first use:
   never a dependency of newsflow.  trafilatura alone runs in newsflow's
   environment (it is newsflow's extractor).
3. **Measure.**  Each extractor reads the same pages from disk in one
   process on one core, turning each into text and metadata: newsflow with
   ``pipeline.process.extract_page`` (decode, two trafilatura passes, cleaning;
   what ``newsflow extract`` runs), trafilatura with ``extract(...,
   with_metadata=True)``, newspaper4k with ``Article.download(input_html=...)``
   and ``parse()``.  The extractors take turns, ``--rounds`` times, so that
   other load on the machine falls on all of them; each reports its best round
   in docs/s of wall time and of its own CPU time (the ratios use CPU time,
   the steadier of the two on a shared machine).  The first pages of each
   process warm it up and are not timed.

The worker side (``--worker NAME``) uses only the standard library at import,
so that the peers' environment needs nothing of newsflow's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from bench import benchdata  # noqa: E402  (standard library only, like the worker side)

PEERS_VENV = REPO_ROOT / "bench" / ".peers-venv"
# Pinned so that a rerun measures the same code; news-please only if
# newspaper4k will not install.
PEERS = {"newspaper4k": "newspaper4k==0.9.6", "news-please": "news-please==1.6.16"}
WARMUP_PAGES = 5


# ---------------------------------------------------------------- workers (one per extractor and round)


def _newsflow(html: bytes, url: str) -> str:
    from pipeline.process import ProcessError, extract_page

    try:
        return extract_page(html, url).text
    except ProcessError:
        return ""


def _trafilatura(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, with_metadata=True) or ""


def _newspaper4k(html: bytes, url: str) -> str:
    from newspaper import Article

    article = Article(url, fetch_images=False)
    article.download(input_html=html.decode("utf-8"))
    article.parse()
    return article.text or ""


def _news_please(html: bytes, url: str) -> str:
    from newsplease import NewsPlease

    article = NewsPlease.from_html(html.decode("utf-8"), url=url, fetch_images=False)
    return article.maintext or ""


EXTRACTORS = {"newsflow": _newsflow, "trafilatura": _trafilatura,
              "newspaper4k": _newspaper4k, "news-please": _news_please}


def worker(name: str, listing: Path) -> dict:
    """Extract every listed page; time all but the first few."""
    extract = EXTRACTORS[name]
    pages = [(Path(line), url) for line, url in (row.split("\t") for row in listing.read_text().splitlines())]
    for path, url in pages[:WARMUP_PAGES]:
        extract(path.read_bytes(), url)
    timed = pages[WARMUP_PAGES:]
    wall, cpu = time.perf_counter(), time.process_time()
    with_text = sum(len(extract(path.read_bytes(), url)) >= 200 for path, url in timed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"docs": len(timed), "with_text": with_text, "wall_seconds": wall, "cpu_seconds": cpu}


# ---------------------------------------------------------------- the harness


def peers_python() -> tuple[Path, str] | None:
    """The peers' environment's python and the peer installed in it
    (created on first use), or None when neither peer installs."""
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / "installed-peer"
    if marker.exists() and python.exists():
        return python, marker.read_text().strip()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    for peer, requirement in PEERS.items():
        print(f"peers: pip install {requirement} into {PEERS_VENV.relative_to(REPO_ROOT)} …", flush=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement])
        if done.returncode == 0:
            marker.write_text(peer)
            return python, peer
        print(f"peers: {requirement} did not install (pip exit {done.returncode})", flush=True)
    return None


def run_worker(python: Path, name: str, listing: Path) -> dict:
    # One process, one thread of extraction: one core.
    command = [str(python), str(Path(__file__).resolve()), "--worker", name, str(listing)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)} if name in ("newsflow", "trafilatura") else None
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--worker", nargs=2, metavar=("EXTRACTOR", "LISTING"), help=argparse.SUPPRESS)
    benchdata.add_option(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return 0
    if skipped := benchdata.extraction_benchmark_missing(args.data):
        print(skipped)
        return 0

    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import throughput  # the corpus generator

    peer = peers_python()
    extractors = [("newsflow", Path(sys.executable)), ("trafilatura", Path(sys.executable))]
    if peer is not None:
        extractors.append((peer[1], peer[0]))
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="newsflow-peers-") as tmp:
        base = "http://127.0.0.1:8000"
        count = args.articles + WARMUP_PAGES
        _, pages = throughput.build_corpus(Path(tmp), base, count, min(args.feeds, count), args.seed, args.data)
        listing = Path(tmp) / "pages.tsv"
        listing.write_text("".join(f"{page}\t{base}/{page.relative_to(tmp)}\n" for page in pages))
        print(f"corpus: {len(pages)} pages ({WARMUP_PAGES} to warm up); {args.rounds} rounds, one core", flush=True)
        for round_number in range(args.rounds):
            # Rotate who goes first, so no extractor always meets the same load.
            turn = extractors[round_number % len(extractors):] + extractors[:round_number % len(extractors)]
            for name, python in turn:
                result = run_worker(python, name, listing)
                print(f"  round {round_number + 1}: {name}: {result['docs'] / result['wall_seconds']:.1f} docs/s"
                      f" ({result['docs'] / result['cpu_seconds']:.1f} per CPU second)", flush=True)
                runs.setdefault(name, []).append(result)
    rows = {}
    for name, results in runs.items():
        # Each figure from its extractor's least disturbed round.
        wall = min(result["wall_seconds"] for result in results)
        cpu = min(result["cpu_seconds"] for result in results)
        docs = results[0]["docs"]
        rows[name] = {
            "docs": docs, "with_text": min(result["with_text"] for result in results),
            "docs_per_second": round(docs / wall, 1),
            "docs_per_cpu_second": round(docs / cpu, 1),
            "ms_per_doc": round(1000 * wall / docs, 1),
        }
    print()
    print("| extractor (one core) | docs/s | docs per CPU-second | ms/doc | docs with text |\n|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['docs_per_second']} | {row['docs_per_cpu_second']} | {row['ms_per_doc']}"
              f" | {row['with_text']}/{row['docs']} |")
    ratios = {}
    for other in rows:
        if other != "newsflow":
            ratios[f"newsflow/{other}"] = round(rows["newsflow"]["docs_per_cpu_second"]
                                                 / rows[other]["docs_per_cpu_second"], 2)
    for key, value in ratios.items():
        print(f"{key}: {value} (docs per CPU-second)")
    if peer is None:
        print("peers: neither newspaper4k nor news-please installed; see pip's output above")
    if args.json:
        Path(args.json).write_text(json.dumps({"articles": args.articles, "rounds": args.rounds,
                                               "extractors": rows, "ratios": ratios}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
