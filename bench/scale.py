#!/usr/bin/env python3
"""How newsflow scales out (issue 21).

Usage::

    python bench/scale.py workers [--workers 1,2] [--hosts 6] [--feeds-per-host 10] [--stories 40]
                                  [--shard-size 10] [--per-host-delay 0.5] [--json FILE]

``workers``: one ingest run of the work pool (``ingest/scheduled``, as
prefect.yaml declares it) over the same corpus with 1 worker, then with 2, on
this machine, each on a fresh database, against one real ``prefect server``
(SQLite, a home of its own) and PostgreSQL at ``DATABASE_URL`` (a server URL;
the script creates and drops its databases there).  The clock runs from
``prefect deployment run ingest/scheduled --watch`` to its end: the
coordinator, its shards as child flow runs the workers pick up, every feed,
page, extraction, story and entity.  Reported: each wall time, and the ratio
of the two from the same invocation.

The corpus: ``--stories`` made-up wire stories (tests/syndication.py), each
on the agency outlet and 2-5 others with the copies varied, one outlet per
loopback host (127.0.0.2, 127.0.0.3, …; 127.0.0.0/8 is loopback on Linux),
each outlet's items spread over ``--feeds-per-host`` RSS feeds.  Each worker
is ``prefect worker start --limit 2``: the coordinator and one shard at a
time, each flow run one process (``NEWSFLOW_WORKERS=1``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))


# ---------------------------------------------------------------------------
# The corpus: outlets on loopback hosts, many feeds each
# ---------------------------------------------------------------------------


def loopback_hosts(count: int) -> list[str]:
    """127.0.0.2, 127.0.0.3, …: hosts of their own to the fetcher, all on this machine."""
    if not 1 <= count <= 250:
        raise ValueError(f"between 1 and 250 hosts, not {count}")
    return [f"127.0.0.{number}" for number in range(2, 2 + count)]


class CountingHandler(SimpleHTTPRequestHandler):
    """Serves a folder; counts every GET by (host, path without query) and
    keeps the User-Agents each host saw."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".xml": "application/xml", ".html": "text/html; charset=utf-8"}
    counts: Counter
    agents: dict
    lock: threading.Lock

    def do_GET(self):  # noqa: N802 - the standard library's name
        key = (self.server.server_address[0], urlsplit(self.path).path)
        with self.lock:
            self.counts[key] += 1
            self.agents.setdefault(key[0], set()).add(self.headers.get("User-Agent", ""))
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002
        pass


@contextlib.contextmanager
def serve_on_hosts(root: Path, hosts: list[str]) -> Iterator[tuple[list[str], type[CountingHandler]]]:
    """``root`` served on each host (a free port each); yields the base URLs
    and the handler class whose ``counts`` and ``agents`` fill as requests come."""
    handler = type("Handler", (CountingHandler,), {"counts": Counter(), "agents": {}, "lock": threading.Lock()})
    with contextlib.ExitStack() as stack:
        bases = []
        for host in hosts:
            server = ThreadingHTTPServer((host, 0), partial(handler, directory=str(root)))
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            stack.callback(thread.join, 5)
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            bases.append(f"http://{host}:{server.server_address[1]}")
        yield bases, handler


def build_sharded_corpus(root: Path, bases: list[str], *, feeds_per_host: int, stories: int,
                         seed: int) -> tuple[list[str], list[str]]:
    """One outlet per base URL carrying copies of ``stories`` made-up wire
    stories, each outlet's items spread over ``feeds_per_host`` RSS feeds;
    writes ``root/feeds.yaml``; returns the feed URLs and the page URLs."""
    from dedup import OUTLETS, build_corpus
    from tests.syndication import synthetic_originals

    if len(bases) > len(OUTLETS):
        raise ValueError(f"at most {len(OUTLETS)} hosts (one outlet each), not {len(bases)}")
    originals = synthetic_originals(stories, seed=seed)
    headlines = {original.key: original.headline for original in originals}
    corpus = build_corpus(root, bases, originals, 0, len(bases), seed=seed)
    rng = random.Random(seed)
    feed_urls = []
    for outlet, base in zip(OUTLETS, bases, strict=False):
        pages = [page for page in corpus.pages if page.outlet == outlet.slug]
        rng.shuffle(pages)
        for number in range(feeds_per_host):
            items = "".join(
                f"<item><title>{headlines[page.original]}</title><link>{page.feed_link.replace('&', '&amp;')}</link>"
                f"<pubDate>{page.published:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
                for page in pages[number::feeds_per_host]
            )
            (root / outlet.slug / f"feed-{number}.xml").write_text(
                f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>{outlet.name} "
                f"{number}</title><link>{base}/{outlet.slug}/</link><description>x</description>{items}"
                "</channel></rss>", encoding="utf-8")
            feed_urls.append(f"{base}/{outlet.slug}/feed-{number}.xml")
    (root / "feeds.yaml").write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in feed_urls))
    return feed_urls, [page.url for page in corpus.pages]


# ---------------------------------------------------------------------------
# A work pool on this machine
# ---------------------------------------------------------------------------


def pool_environment(api_url: str, database_url: str, home: Path, hosts: list[str], **settings: str) -> dict:
    """The environment of the Prefect CLI and the workers: this Prefect
    server and database, the loopback hosts allowed, the checkout as the
    project folder (prefect.yaml's pull step), the user's NEWSFLOW_* dropped;
    ``settings`` add NEWSFLOW_<NAME> values."""
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("NEWSFLOW_")},
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home / "prefect-client"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DATABASE_URL": database_url,
        "NEWSFLOW_DATA_DIR": str(home / "data"),
        "NEWSFLOW_PROJECT_DIR": str(REPO_ROOT),
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": ",".join(hosts),
        "PYTHONUNBUFFERED": "1",
        **{f"NEWSFLOW_{name.upper()}": value for name, value in settings.items()},
    }


def prefect_cli(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    from flows.serve import prefect_executable

    done = subprocess.run([prefect_executable(), "--no-prompt", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def deploy_pool(env: dict) -> None:
    """The work pool ``newsflow`` (if missing) and prefect.yaml's deployments."""
    import httpx

    pools = httpx.post(f"{env['PREFECT_API_URL']}/work_pools/filter", json={}, timeout=10, trust_env=False)
    pools.raise_for_status()
    if "newsflow" not in {pool["name"] for pool in pools.json()}:
        prefect_cli(env, "work-pool", "create", "newsflow", "--type", "process")
    prefect_cli(env, "deploy", "--all")


@contextlib.contextmanager
def workers_running(env: dict, names: list[str], log_dir: Path, limit: int = 2) -> Iterator[list[Path]]:
    """``prefect worker start --pool newsflow`` once per name (each run it
    starts sends ``newsflow-<name>`` as its User-Agent), in process groups of
    their own, stopped on the way out; yields their log files."""
    import signal

    from flows.serve import prefect_executable

    with contextlib.ExitStack() as stack:
        logs = []
        for name in names:
            log_path = log_dir / f"{name}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [prefect_executable(), "worker", "start", "--pool", "newsflow", "--name", name,
                     "--limit", str(limit)],
                    cwd=REPO_ROOT, env={**env, "NEWSFLOW_USER_AGENT": f"newsflow-{name}"},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            logs.append(log_path)

            def stop(process=process):
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(20)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)

            stack.callback(stop)
        yield logs


def run_in_pool(env: dict, feeds_path: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """One manual run of ``ingest/scheduled`` over ``feeds_path``, watched to its end."""
    return prefect_cli(env, "deployment", "run", "ingest/scheduled", "--param", f"feeds_path={feeds_path}",
                       "--watch", "--watch-timeout", str(int(timeout)), timeout=timeout + 60)


# ---------------------------------------------------------------------------
# workers: one worker against two
# ---------------------------------------------------------------------------


def bench_workers(args: argparse.Namespace) -> dict:
    from sqlalchemy import create_engine, text

    from dedup import fresh_database
    from flows.serve import free_port, start_local_server

    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit("bench/scale.py: set DATABASE_URL to a PostgreSQL server URL, e.g. "
                         "postgresql://postgres@127.0.0.1:5432/postgres (its databases are created there)")
    server_url = server_url.rsplit("/", 1)[0]
    counts = [int(count) for count in args.workers.split(",")]
    hosts = loopback_hosts(args.hosts)
    results: dict = {"hosts": args.hosts, "feeds": args.hosts * args.feeds_per_host, "stories": args.stories,
                     "shard_size": args.shard_size, "per_host_delay": args.per_host_delay, "runs": []}
    with tempfile.TemporaryDirectory(prefix="newsflow-scale-") as folder:
        work = Path(folder)
        (work / "site").mkdir()
        with serve_on_hosts(work / "site", hosts) as (bases, served):
            feed_urls, page_urls = build_sharded_corpus(
                work / "site", bases, feeds_per_host=args.feeds_per_host, stories=args.stories, seed=21)
            results["pages"] = len(page_urls)
            server = start_local_server(work / "prefect-server", port=free_port(None), timeout=120)
            try:
                for count in counts:
                    with fresh_database(server_url, f"newsflow_scale_{count}", keep=False) as database_url:
                        env = pool_environment(
                            server.api_url, database_url, work / f"run-{count}", hosts,
                            shard_size=str(args.shard_size), per_host_delay=str(args.per_host_delay), workers="1")
                        deploy_pool(env)
                        served.counts.clear()
                        names = [f"scale-worker-{number}" for number in range(1, count + 1)]
                        with workers_running(env, names, work):
                            started = time.perf_counter()
                            done = run_in_pool(env, work / "site" / "feeds.yaml")
                            seconds = time.perf_counter() - started
                        if "Completed" not in done.stdout:
                            raise RuntimeError(f"the run with {count} workers did not complete:\n{done.stdout}")
                        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
                        with engine.connect() as conn:
                            stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
                            shards = conn.execute(text(
                                "SELECT count(*) FROM ingest_runs WHERE parent_id IS NOT NULL")).scalar_one()
                        engine.dispose()
                        fetched = sum(n for (host, path), n in served.counts.items() if path != "/robots.txt")
                        results["runs"].append({"workers": count, "seconds": round(seconds, 1), "articles": stored,
                                                "shards": shards, "requests": fetched})
                        print(f"{count} worker{'s' if count > 1 else ''}: {seconds:.1f} s, {stored} articles, "
                              f"{shards} shards, {fetched} feed and page requests", flush=True)
            finally:
                server.stop()
    by_count = {run["workers"]: run["seconds"] for run in results["runs"]}
    if 1 in by_count:
        results["ratios"] = {f"{count} vs 1": round(by_count[1] / seconds, 2)
                             for count, seconds in by_count.items() if count != 1}
        for name, ratio in results["ratios"].items():
            print(f"speed-up, {name} worker: {ratio:.2f}x (wall time of 1 / wall time of {name.split()[0]})")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    workers = commands.add_parser("workers", help="one ingest run in a work pool: 1 worker against 2")
    workers.add_argument("--workers", default="1,2", help="worker counts to compare, in order (default 1,2)")
    workers.add_argument("--hosts", type=int, default=6, help="loopback hosts, one outlet each (default 6)")
    workers.add_argument("--feeds-per-host", type=int, default=10, help="feeds per host (default 10)")
    workers.add_argument("--stories", type=int, default=40, help="wire stories, 3-6 copies each (default 40)")
    workers.add_argument("--shard-size", type=int, default=10, help="NEWSFLOW_SHARD_SIZE (default 10)")
    workers.add_argument("--per-host-delay", type=float, default=0.5, help="NEWSFLOW_PER_HOST_DELAY (default 0.5)")
    workers.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = bench_workers(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
