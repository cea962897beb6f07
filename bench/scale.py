#!/usr/bin/env python3
"""Scale-out: what several writers, and several workers, give on one database.

Usage::

    python bench/scale.py store [--writers 1,2,4,8] [--locks keys,single] [--deal hosts,stories] [--rounds 3]
                                [--originals 55] [--groups 8] [--batch 100] [--json FILE]
    python bench/scale.py workers [--workers 1,2] [--hosts 6] [--feeds-per-host 10] [--stories 40]
                                  [--shard-size 10] [--per-host-delay 0.5] [--json FILE]

``store`` — how many articles per second PostgreSQL's store stage absorbs
from N concurrent writers.

1. **Corpus.**  ``--groups`` copies of the generated syndication corpus of the
   tests (tests/syndication.py: made-up wire stories, each on the agency's
   outlet and 2–5 others, varied as bench/dedup.py varies copies), each with
   ``--originals`` stories on 8 outlets, every outlet of every group a host of
   its own: 64 hosts.  The pages are prepared as the flow prepares them
   (extracted, cleaned, fingerprinted) before any clock starts; no NER.
2. **Writers.**  The hosts are dealt to N writer processes as the ingest
   coordinator deals feeds to shards: a host's articles all go to one writer,
   the hosts balanced by article count.  So each wire story's copies are
   stored by several writers, as shards store them (``--deal hosts``).  The
   other bound (``--deal stories``): each corpus group's 8 hosts to one
   writer, so that a story's copies are all stored by one.  Each writer opens its own
   connection, waits at a barrier for the others, then stores its articles in
   batches of ``--batch`` (``NEWSFLOW_BATCH_SIZE``'s default), one transaction
   per batch with ``store_articles_isolated``, as the flow's store task does.
3. **Measure.**  A fresh database for each measurement.  Articles per second
   from the first writer's start to the last one's end; the share of the
   writers' time in a transaction spent waiting for a lock (pg_stat_activity,
   sampled every 20 ms); the CPU seconds of the writers (Python) and of their
   PostgreSQL backends (from /proc) per article.
4. **Locks.**  ``keys``: the store as it is (each batch locks the keys its
   story decisions read, then the stories it touches).  ``single``: each batch
   first takes one database-wide advisory lock, as the store did before issue
   #21, so writers queue.  Both for each N, alternated, ``--rounds`` times
   in the same run; the table gives each cell's median and range.
5. **Check.**  Every measurement's stories (members and canonical article,
   by URL) are compared with the first measurement's.

Needs a PostgreSQL server: ``NEWSFLOW_BENCH_PG`` (a URL without the database;
default postgresql://postgres@127.0.0.1:5432), where it creates and drops a
database per measurement.

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
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (REPO_ROOT, REPO_ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench import dedup  # noqa: E402  (fresh_database, the corpus's outlets)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
# The lock the store took for every batch before issue #21 (pipeline/store/articles.py then).
SINGLE_LOCK_SQL = "SELECT pg_advisory_xact_lock(7351120002)"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def prepared_corpus(root: Path, groups: int, originals: int) -> list:
    """The articles of ``groups`` syndication corpora, prepared for storing."""
    from tests.syndication import prepared_syndication

    records = []
    for group in range(groups):
        folder = root / f"group-{group}"
        folder.mkdir()
        _, prepared = prepared_syndication(
            folder, originals=originals, outlets=len(dedup.OUTLETS), seed=group + 1, group=group)
        records += prepared
    return records


def group_of(record) -> str:
    """The corpus group of an article, from its host (``<outlet>-<group>.example``)."""
    return record.site.rsplit("-", 1)[1]


def deal(records: list, writers: int, unit: str) -> list[list]:
    """Each unit's articles to one writer, the largest units first, each to
    the writer with the fewest articles so far; every writer's articles in
    publication order, as a shard's batches come.  ``hosts``: a unit is a
    host, as the coordinator deals feeds, so a wire story's copies go to
    several writers.  ``stories``: a unit is a corpus group (8 hosts), whose
    stories no other group carries, so no writer's decisions read another's
    articles: the least the writers can wait for each other."""
    key = (lambda record: record.site) if unit == "hosts" else group_of
    by_unit: dict[str, list] = {}
    for record in records:
        by_unit.setdefault(key(record), []).append(record)
    shares: list[list] = [[] for _ in range(writers)]
    for name in sorted(by_unit, key=lambda name: (-len(by_unit[name]), name)):
        min(shares, key=len).extend(by_unit[name])
    for share in shares:
        share.sort(key=lambda record: (record.published_at, record.canonical_url))
    return shares


def backend_cpu_seconds(pid: int) -> float:
    """User and system CPU of a process, from /proc (the PostgreSQL backend
    runs on this machine as another user; its stat file is readable)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def write(url: str, share: list, batch: int, locks: str, barrier, results) -> None:
    """One writer process: its own connection, the barrier, then its batches."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from pipeline.store import articles as article_store
    from pipeline.store.engine import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    stored = 0
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()
        backend_before = backend_cpu_seconds(backend)
        barrier.wait()
        started, cpu = time.monotonic(), time.process_time()
        for start in range(0, len(share), batch):
            with conn.begin():
                if locks == "single":
                    conn.execute(text(SINGLE_LOCK_SQL))
                outcome, refused = article_store.store_articles_isolated(conn, share[start:start + batch])
                if refused:
                    raise RuntimeError(f"{len(refused)} articles refused: {refused[0][1]}")
                stored += len(outcome.inserted)
        ended, cpu = time.monotonic(), time.process_time() - cpu
        backend_cpu = backend_cpu_seconds(backend) - backend_before
    engine.dispose()
    results.put({"stored": stored, "started": started, "ended": ended, "cpu": cpu, "backend_cpu": backend_cpu})


def sample_waits(url: str, results, writers: int) -> tuple[list[dict], dict[str, float]]:
    """The writers' results, and the share of the time the writers spent in
    a transaction that their backends waited for a lock, by the lock's kind
    (pg_stat_activity's wait_event, sampled every 20 ms): ``advisory`` the
    single lock, ``transactionid`` another writer's key row, ``tuple`` a row
    another writer holds (a story), ``extend`` a table or index growing
    under another writer's insert.  Unlike articles/s, it hardly depends on
    what else the machine runs at the time."""
    import queue

    import psycopg

    finished: list[dict] = []
    samples, waits = 0, Counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while len(finished) < writers:
            try:
                finished.append(results.get(timeout=0.02))
                continue
            except queue.Empty:
                pass
            # The writers inside a transaction: running a statement, waiting
            # for a lock, or between statements (their own Python work).
            states = conn.execute(
                "SELECT wait_event_type = 'Lock', wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state IN ('active', 'idle in transaction')"
            ).fetchall()
            samples += len(states)
            waits.update(event for waiting, event in states if waiting)
    return finished, {event: round(count / samples, 3) for event, count in waits.items()} if samples else {}


def story_partition(url: str) -> list[tuple[tuple[str, ...], str]]:
    """Every story as (its members' URLs, its canonical article's URL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from pipeline.store.engine import sqlalchemy_url

    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT array_agg(a.canonical_url ORDER BY a.canonical_url), min(c.canonical_url)"
            " FROM stories s JOIN articles a ON a.story_id = s.id"
            " LEFT JOIN articles c ON c.id = s.canonical_article_id GROUP BY s.id"
        )).all()
    engine.dispose()
    return sorted((tuple(members), canonical) for members, canonical in rows)


def measure(server: str, records: list, writers: int, batch: int, locks: str, unit: str) -> tuple[dict, list]:
    """One measurement on a fresh database: N writer processes at once."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from pipeline.store.engine import sqlalchemy_url
    from pipeline.store.migrate import upgrade

    shares = deal(records, writers, unit)
    with dedup.fresh_database(server, f"newsflow_bench_scale_{os.getpid()}", False) as url:
        engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
        upgrade(engine)
        engine.dispose()
        # Forked, so the writers share the prepared articles without pickling them.
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(writers), context.Queue()
        processes = [context.Process(target=write, args=(url, share, batch, locks, barrier, results))
                     for share in shares]
        for process in processes:
            process.start()
        finished, waiting = sample_waits(url, results, len(processes))
        for process in processes:
            process.join(timeout=60)
            if process.exitcode != 0:
                raise RuntimeError(f"a writer ended with exit code {process.exitcode}")
        stories = story_partition(url)
    stored = sum(part["stored"] for part in finished)
    seconds = max(part["ended"] for part in finished) - min(part["started"] for part in finished)
    return {
        "deal": unit, "writers": writers, "locks": locks, "articles": stored, "seconds": round(seconds, 2),
        "per_second": round(stored / seconds, 1),
        "writer_cpu_ms_per_article": round(1000 * sum(part["cpu"] for part in finished) / stored, 2),
        "postgres_cpu_ms_per_article": round(1000 * sum(part["backend_cpu"] for part in finished) / stored, 2),
        "lock_wait_share": round(sum(waiting.values()), 3),
        "lock_waits": waiting,
        "shares": [len(share) for share in shares],
    }, stories


def run_store(args: argparse.Namespace) -> int:
    server = os.environ.get("NEWSFLOW_BENCH_PG", DEFAULT_PG).rstrip("/")
    writer_counts = [int(n) for n in args.writers.split(",")]
    lock_modes = args.locks.split(",")
    with tempfile.TemporaryDirectory(prefix="newsflow-scale-") as tmp:
        print(f"corpus: {args.groups} groups of {args.originals} stories on 8 outlets, prepared …", flush=True)
        records = prepared_corpus(Path(tmp), args.groups, args.originals)
    print(f"{len(records)} articles on {len({r.site for r in records})} hosts", flush=True)
    measurements, reference, same = [], None, True
    for round_ in range(args.rounds):
        for unit in args.deal.split(","):
            for writers in writer_counts:
                # Alternated, so that neither mode always follows the other.
                for locks in lock_modes if round_ % 2 == 0 else lock_modes[::-1]:
                    result, stories = measure(server, records, writers, args.batch, locks, unit)
                    reference = reference if reference is not None else stories
                    result["round"] = round_
                    result["same_stories_as_first"] = stories == reference
                    same &= result["same_stories_as_first"]
                    measurements.append(result)
                    print(json.dumps(result), flush=True)
    stories_count = len(reference or [])
    for unit in args.deal.split(","):
        print(f"\nwriters dealt {unit}:")
        print(table([m for m in measurements if m["deal"] == unit], lock_modes))
    print(f"\n{len(records)} articles, {stories_count} stories; every measurement the same stories: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "articles": len(records), "stories": stories_count, "batch": args.batch, "cpus": os.cpu_count(),
            "measurements": measurements, "same_stories": same,
        }, indent=2))
    return 0 if same else 1


def table(measurements: list[dict], lock_modes: list[str]) -> str:
    """Per N and lock mode: the median articles/s of the rounds (their
    range), the speed-up over the fewest writers and, when both modes were
    measured, keys over single; and the median CPU per article."""
    def median(values: list[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    cell: dict[tuple[int, str], dict] = {}
    for writers in {m["writers"] for m in measurements}:
        for locks in lock_modes:
            runs = [m for m in measurements if (m["writers"], m["locks"]) == (writers, locks)]
            cell[(writers, locks)] = {
                "per_second": median([m["per_second"] for m in runs]),
                "range": (min(m["per_second"] for m in runs), max(m["per_second"] for m in runs)),
                "writer_cpu": median([m["writer_cpu_ms_per_article"] for m in runs]),
                "postgres_cpu": median([m["postgres_cpu_ms_per_article"] for m in runs]),
                "waiting": median([m["lock_wait_share"] for m in runs]),
                "extending": median([m["lock_waits"].get("extend", 0.0) for m in runs]),
            }
    counts = sorted({m["writers"] for m in measurements})
    both = set(lock_modes) == {"keys", "single"}
    header = ["writers"] + [f"{locks}: articles/s, median (range)" for locks in lock_modes]
    header += [f"{locks}: × {counts[0]} writer{'s' if counts[0] > 1 else ''}" for locks in lock_modes]
    header += ["keys / single"] if both else []
    header += [f"{locks}: time waiting for locks (of it: tables growing)" for locks in lock_modes]
    header += [f"{locks}: CPU ms/article, writers + PostgreSQL" for locks in lock_modes]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for writers in counts:
        here = {locks: cell[(writers, locks)] for locks in lock_modes}
        cells = [str(writers)]
        cells += [f"{c['per_second']:.0f} ({c['range'][0]:.0f}–{c['range'][1]:.0f})" for c in here.values()]
        cells += [f"{here[locks]['per_second'] / cell[(counts[0], locks)]['per_second']:.2f}" for locks in lock_modes]
        cells += [f"{here['keys']['per_second'] / here['single']['per_second']:.2f}"] if both else []
        cells += [f"{100 * c['waiting']:.0f} % ({100 * c['extending']:.0f} %)" for c in here.values()]
        cells += [f"{c['writer_cpu']:.2f} + {c['postgres_cpu']:.2f}" for c in here.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)



# ---------------------------------------------------------------------------
# The corpus: outlets on loopback hosts, many feeds each
# ---------------------------------------------------------------------------


def loopback_hosts(count: int) -> list[str]:
    """127.0.0.2, 127.0.0.3, …: hosts of their own to the fetcher, all on this machine."""
    if not 1 <= count <= 250:
        raise ValueError(f"between 1 and 250 hosts, not {count}")
    return [f"127.0.0.{number}" for number in range(2, 2 + count)]


@dataclass
class RequestCounts:
    """Every GET by (host, path without query), and the User-Agents each host saw."""

    counts: Counter = field(default_factory=Counter)
    agents: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request) -> None:
        key = (request.server.server_address[0], urlsplit(request.path).path)
        with self.lock:
            self.counts[key] += 1
            self.agents.setdefault(key[0], set()).add(request.headers.get("User-Agent", ""))


@contextlib.contextmanager
def serve_on_hosts(root: Path, hosts: list[str]) -> Iterator[tuple[list[str], RequestCounts]]:
    """``root`` served on each host (flows.demo.serve_directory, a free port
    each); yields the base URLs and the counts that fill as requests come."""
    from flows.demo import serve_directory

    served = RequestCounts()
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(serve_directory(root, host=host, on_request=served.record)) for host in hosts]
        yield bases, served


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
    their own, stopped on the way out; yields their output files."""
    from flows.serve import prefect_executable
    from tests.processes import process_group

    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(process_group(
                [prefect_executable(), "worker", "start", "--pool", "newsflow", "--name", name,
                 "--limit", str(limit)],
                env={**env, "NEWSFLOW_USER_AGENT": f"newsflow-{name}"}, log_dir=log_dir, name=name))
            for name in names
        ]
        yield [log for worker in workers for log in (worker.out, worker.err)]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    store = commands.add_parser("store", help="articles/s the store absorbs from N concurrent writers")
    store.add_argument("--writers", default="1,2,4,8", help="writer counts, comma-separated (default 1,2,4,8)")
    store.add_argument("--locks", default="keys,single",
                       help="keys (the store as it is), single (one database-wide lock per batch, as before"
                            " issue #21), or both comma-separated (default)")
    store.add_argument("--originals", type=int, default=55, help="stories per group (default 55: ~2,000 articles)")
    store.add_argument("--groups", type=int, default=8, help="corpora of 8 outlets each (default 8: 64 hosts)")
    store.add_argument("--batch", type=int, default=100, help="articles per transaction (default 100)")
    store.add_argument("--rounds", type=int, default=3,
                       help="measurements per N and lock mode, alternated; the table gives their median (default 3)")
    store.add_argument("--deal", default="hosts,stories",
                       help="how articles go to writers: hosts (as shards take feeds: a wire story's copies to"
                            " several writers), stories (a story's copies to one writer), or both (default)")
    store.add_argument("--json", metavar="FILE")
    store.set_defaults(run=run_store)
    workers = commands.add_parser("workers", help="one ingest run in a work pool: 1 worker against 2")
    workers.add_argument("--workers", default="1,2", help="worker counts to compare, in order (default 1,2)")
    workers.add_argument("--hosts", type=int, default=6, help="loopback hosts, one outlet each (default 6)")
    workers.add_argument("--feeds-per-host", type=int, default=10, help="feeds per host (default 10)")
    workers.add_argument("--stories", type=int, default=40, help="wire stories, 3-6 copies each (default 40)")
    workers.add_argument("--shard-size", type=int, default=10, help="NEWSFLOW_SHARD_SIZE (default 10)")
    workers.add_argument("--per-host-delay", type=float, default=0.5, help="NEWSFLOW_PER_HOST_DELAY (default 0.5)")
    workers.add_argument("--json", help="also write the results to this file")
    workers.set_defaults(run=run_workers)
    args = parser.parse_args(argv)
    if args.command == "store" and not set(args.locks.split(",")) <= {"keys", "single"}:
        parser.error("--locks takes keys, single or both")
    if args.command == "store" and not set(args.deal.split(",")) <= {"hosts", "stories"}:
        parser.error("--deal takes hosts, stories or both")
    return args.run(args)


def run_workers(args: argparse.Namespace) -> int:
    results = bench_workers(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
