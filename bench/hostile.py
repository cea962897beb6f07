#!/usr/bin/env python3
"""Time and peak memory of each hostile-server case, one child process per case.

Usage::

    python bench/hostile.py [--json FILE] [--flat-mb MB] [--case NAME ...]
    python bench/hostile.py --child CASE BASE_URL     # one case (used by the parent)
    python bench/hostile.py --child --baseline        # imports only (used by the parent)

The parent starts ``tests.hostile_server.HostileServer`` and, for each case of
``FEED_CASES`` and ``ISOLATED_FEED_CASES`` in turn, runs a child process that
does what an ingest run does with one feed, without the database: fetch the
feed (``run_fetch_feeds``), ``parse_feed`` on the result, fetch the entries'
pages (``run_fetch_pages``, robots.txt included), then extract and clean the
fetched pages (``prepare_articles``, as the workers do); for ``etag`` it
fetches the feed a second time with the ETag it got.  What only the database
can refuse (a NUL in a title, a search vector past 1 MiB) shows in
tests/test_hostile_matrix.py, not here.  Each child runs with its address
space capped (``CHILD_ADDRESS_SPACE``): a case that reads without end ends in
MemoryError instead of taking the machine's memory.  The child prints one JSON object; the parent reads the child's
peak RSS with ``os.wait4`` (``ru_maxrss``) and prints a Markdown table, the
wall time of the whole matrix and the peak RSS of a baseline child that only
imports the modules, so each case's cost above baseline is visible.

Peak RSS caveat handled here: on Linux a child's ``ru_maxrss`` starts from the
*parent's* peak RSS (exec records the high-water mark of the memory image it
replaces, and subprocess uses vfork).  Importing ``tests.hostile_server``
builds a 64 MiB buffer, so the parent's peak would mask every child's.  Before
each spawn the parent resets its own high-water mark (``/proc/self/clear_refs``
← ``5``); if that is not possible the figures are marked as upper bounds.
Children never import ``tests`` for the same reason.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The cases whose memory must stay flat: each would add 64 MB to gigabytes if
# read or expanded whole (billion laughs ~3 GB of text, the bombs 64 MiB, the
# endless body ~130 MB), while a cut-off body may hold at most 5 MiB.
FLAT_CASES = ("billion-laughs", "gzip-bomb", "deflate-bomb", "endless")
DEFAULT_FLAT_MB = 16.0
CHILD_TIMEOUT = 90.0  # a safety net only: every case ends on its own well before
CHILD_ADDRESS_SPACE = 2 * 1024 ** 3
MAX_TEXT = 90  # characters of a warning or an error shown in the outcome


# ---------------------------------------------------------------- the child


def _settings(base_url: str):
    from pipeline.config import Settings

    return Settings(
        allow_private_hosts=base_url.removeprefix("http://").removeprefix("https://"),
        per_host_delay=0,
        retries=2,
        retry_backoff=0.1,
        total_timeout=3,
        read_timeout=2,
    )


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def child(case: str | None, base_url: str | None) -> int:
    """Run one case (or, with ``case=None``, only the imports) and print JSON."""
    started = time.perf_counter()
    from pipeline.config import Settings  # noqa: F401 - the baseline's imports
    from pipeline.feeds import FeedParseError, parse_feed
    from pipeline.fetch import FetchError, run_fetch_feeds, run_fetch_pages
    from pipeline.process import ProcessError, prepare_articles
    from pipeline.records import Entry

    imported = time.perf_counter()
    report: dict = {"case": case, "import_seconds": round(imported - started, 3)}
    if case is None:
        report.update(outcome="baseline: imports only", seconds=0.0)
        print(json.dumps(report))
        return 0

    settings = _settings(base_url)
    feed_url = f"{base_url}/feed/{case}.xml"
    report["feed_url"] = feed_url
    work_started = time.perf_counter()
    [result] = run_fetch_feeds([(feed_url, None, None)], settings)
    report["feed_seconds"] = round(time.perf_counter() - work_started, 3)

    if isinstance(result, FetchError):
        report.update(kind=result.kind, status=result.status, error=str(result))
        report["outcome"] = f"{result.kind}: {result}"
    else:
        report.update(status=result.status, bytes=len(result.content), final_url=result.final_url,
                      redirects=len(result.redirects), etag=result.etag)
        notes: list[str] = []
        try:
            parsed = parse_feed(result.content, result.final_url, result.content_type)
        except FeedParseError as exc:
            report.update(kind="parse", error=str(exc))
            report["outcome"] = f"parse: {_short(exc)}"
        else:
            urls = [entry.url for entry in parsed.entries]
            report.update(title=parsed.title, entries=len(urls), skipped=parsed.skipped,
                          warning=parsed.warning)
            pages_started = time.perf_counter()
            pages = run_fetch_pages(urls, settings) if urls else []
            report["pages_seconds"] = round(time.perf_counter() - pages_started, 3)
            errors = [page for page in pages if isinstance(page, FetchError)]
            report["pages_ok"] = len(pages) - len(errors)
            report["page_errors"] = {page.url: f"{page.kind}: {page}" for page in errors}
            fetched = [(Entry(url=page.url, link=page.url, feed_id=None, feed_title=parsed.title), page)
                       for page in pages if not isinstance(page, FetchError)]
            extract_started = time.perf_counter()
            prepared = prepare_articles(fetched)
            report["extract_seconds"] = round(time.perf_counter() - extract_started, 3)
            extract_errors = [result for result in prepared if isinstance(result, ProcessError)]
            articles = len(prepared) - len(extract_errors)
            outcome = (f"ok: {_plural(len(urls), 'entry')}, {_plural(len(pages) - len(errors), 'page')}, "
                       f"{_plural(articles, 'article')}")
            if parsed.skipped:
                notes.append(f"{parsed.skipped} without link skipped")
            for message, count in Counter(_short(error) for error in extract_errors).items():
                notes.append(f"extract: {message}" + (f" ×{count}" if count > 1 else ""))
            for message, count in Counter(f"{p.kind}: {p}" for p in errors).items():
                notes.append(f"page {message}" + (f" ×{count}" if count > 1 else ""))
            if result.permanent_redirect:
                notes.append(f"moved permanently to {result.permanent_redirect.removeprefix(base_url)}")
            elif result.redirects:
                notes.append(f"{_plural(len(result.redirects), 'redirect')} followed")
            if parsed.warning:
                notes.append(_short(parsed.warning))
            if case == "etag":
                [again] = run_fetch_feeds([(feed_url, result.etag, result.last_modified)], settings)
                if isinstance(again, FetchError):
                    second = f"second fetch failed: {again.kind}: {again}"
                elif again.not_modified:
                    second = "304 on second fetch"
                else:
                    second = f"second fetch got {again.status}, not 304"
                report["second_fetch"] = second
                notes.append(second)
            report["outcome"] = outcome + (f" ({'; '.join(notes)})" if notes else "")
    report["seconds"] = round(time.perf_counter() - work_started, 3)
    print(json.dumps(report))
    return 0


# ---------------------------------------------------------------- the parent


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux ≥ 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _current_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))


def run_child(args: list[str], env: dict[str, str]) -> dict:
    """One child process; its JSON report plus wall time and peak RSS (MB)."""
    reset = _reset_peak_rss()
    spawner_rss = _current_rss_mb()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=_cap_address_space,
    )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(CHILD_TIMEOUT, kill)
    timer.start()
    # Read the pipes on threads so a chatty child cannot block on a full pipe.
    output: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda name=name, pipe=pipe: output.__setitem__(name, pipe.read()))
        for name, pipe in (("out", process.stdout), ("err", process.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = output.get("out", b"").decode(errors="replace")
    stderr = output.get("err", b"").decode(errors="replace")
    report: dict = {}
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                report = json.loads(line)
                break
            except ValueError:
                pass
    if killed.is_set():
        report["outcome"] = f"HUNG: killed after {CHILD_TIMEOUT:g} s"
    elif process.returncode != 0 or not report:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        report["outcome"] = f"CRASHED (exit {process.returncode}): {_short(last)}"
    if "Traceback" in stderr and not killed.is_set():
        report["stderr"] = stderr[-2000:]
    report.update(
        exit_code=process.returncode,
        wall_seconds=round(wall, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
        spawner_rss_mb=round(spawner_rss, 1) if spawner_rss is not None else None,
        peak_rss_exact=reset,
    )
    return report


def _child_env() -> dict[str, str]:
    # The child's settings come from the arguments only, not from the caller's
    # NEWSFLOW_* environment (a .env file in the repo root still applies).
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}


def _table(rows: list[dict], baseline_mb: float) -> str:
    lines = [
        "| case | outcome | seconds | peak RSS (MB) | above baseline (MB) |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        outcome = row["outcome"].replace("|", "\\|")
        seconds = row.get("seconds")
        lines.append(
            f"| {row['case']} | {outcome} | {seconds if seconds is not None else row['wall_seconds']:.2f} "
            f"| {row['peak_rss_mb']:.1f} | {row['peak_rss_mb'] - baseline_mb:+.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs="*", metavar="ARG",
                        help="internal: run CASE BASE_URL (or --baseline) in this process")
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="also write the rows (and totals) as JSON to FILE ('-' for stdout)")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--flat-mb", type=float, default=DEFAULT_FLAT_MB,
                        help=f"largest rise over baseline that counts as flat (default {DEFAULT_FLAT_MB:g} MB)")
    args = parser.parse_args(argv)

    if args.child is not None:
        if args.baseline:
            return child(None, None)
        if len(args.child) != 2:
            parser.error("--child takes CASE BASE_URL (or --baseline)")
        return child(*args.child)

    from tests.hostile_server import FEED_CASES, ISOLATED_FEED_CASES, HostileServer

    known = FEED_CASES + ISOLATED_FEED_CASES
    cases = args.case or known
    unknown = sorted(set(cases) - set(known))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    env = _child_env()

    baseline = run_child(["--baseline"], env)
    if baseline.get("exit_code") != 0:
        print(f"baseline child failed: {baseline['outcome']}", file=sys.stderr)
        return 1
    baseline_mb = baseline["peak_rss_mb"]

    rows = []
    with HostileServer() as server:
        print(f"hostile server at {server.base_url}; {len(cases)} cases, one child each, in turn",
              file=sys.stderr)
        matrix_started = time.perf_counter()
        for case in cases:
            row = run_child([case, server.base_url], env)
            row["case"] = case
            rows.append(row)
            print(f"  {case}: {row['outcome']} ({row['wall_seconds']:.2f} s, {row['peak_rss_mb']:.1f} MB)",
                  file=sys.stderr)
        matrix_seconds = time.perf_counter() - matrix_started
        second_listener = list(server.state.second_listener_requests)
        second_port = server.state.second_port

    print(_table(rows, baseline_mb))
    print()
    print(f"Matrix wall time: {matrix_seconds:.1f} s for {len(rows)} cases, one child process each, in turn "
          f"(child wall times sum to {sum(r['wall_seconds'] for r in rows):.1f} s, of which fetch/parse work "
          f"{sum(r.get('seconds') or 0 for r in rows):.1f} s; the rest is interpreter start and imports).")
    print(f"Baseline (a child that only imports pipeline.config/.feeds/.fetch/.process and fetches nothing): "
          f"peak RSS {baseline_mb:.1f} MB, imports {baseline.get('import_seconds', 0):.2f} s.")
    spawner = max((r["spawner_rss_mb"] or 0) for r in [baseline, *rows])
    if all(r["peak_rss_exact"] for r in [baseline, *rows]):
        print(f"Peak RSS is each child's own: the parent reset its high-water mark before each spawn "
              f"(parent RSS at spawn ≤ {spawner:.1f} MB, a floor for every figure).")
    else:
        print("WARNING: could not reset the parent's RSS high-water mark; each figure is an upper bound "
              "that includes the parent's peak.")
    print(f"Second listener (127.0.0.2:{second_port}) requests: {len(second_listener)}"
          + (f" — {second_listener}" if second_listener else " (none reached it)"))

    flat_verdicts = []
    # What the same work costs on a well-formed feed: a case that stores a
    # page pays for extracting it (tens of MB of parser state) whatever its feed.
    good = next((row for row in rows if row["case"] == "good"), None)
    reference_mb = max(baseline_mb, good["peak_rss_mb"] if good else baseline_mb)
    print()
    print(f"Memory on the entity-expansion, bomb and endless cases (flat = at most {args.flat_mb:g} MB above "
          f"the larger of the baseline and the good case, {reference_mb:.1f} MB):")
    for row in rows:
        if row["case"] not in FLAT_CASES:
            continue
        rise = row["peak_rss_mb"] - reference_mb
        flat = rise <= args.flat_mb
        flat_verdicts.append({"case": row["case"], "rise_mb": round(rise, 1), "flat": flat})
        print(f"- {row['case']}: peak {row['peak_rss_mb']:.1f} MB, {rise:+.1f} MB vs {reference_mb:.1f} MB "
              f"→ {'flat' if flat else 'NOT flat'}")

    failed = [r["case"] for r in rows if r["outcome"].startswith(("HUNG", "CRASHED"))]
    if failed:
        print(f"\nCases that did not finish on their own: {', '.join(failed)}")

    if args.json:
        document = {
            "rows": rows,
            "baseline": baseline,
            "matrix_seconds": round(matrix_seconds, 3),
            "flat_mb": args.flat_mb,
            "flat": flat_verdicts,
            "second_listener_requests": second_listener,
            "python": sys.version.split()[0],
            "max_rss_unit": "MiB (ru_maxrss / 1024)",
        }
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
            print(f"\nRows written to {args.json}", file=sys.stderr)
    return 1 if failed or not all(v["flat"] for v in flat_verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
