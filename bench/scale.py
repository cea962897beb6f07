#!/usr/bin/env python3
"""Scale-out: what several writers, and several workers, give on one database.

Usage::

    python bench/scale.py store [--writers 1,2,4,8] [--locks keys,single] [--deal hosts,stories] [--rounds 3]
                                [--originals 55] [--groups 8] [--batch 100] [--json FILE]

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
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from collections import Counter
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    args = parser.parse_args(argv)
    if args.command == "store" and not set(args.locks.split(",")) <= {"keys", "single"}:
        parser.error("--locks takes keys, single or both")
    if args.command == "store" and not set(args.deal.split(",")) <= {"hosts", "stories"}:
        parser.error("--deal takes hosts, stories or both")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
