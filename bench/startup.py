#!/usr/bin/env python3
"""Start-up times: how long newsflow takes to get its servers and clients ready.

Usage::

    python bench/startup.py [--runs 3] [--only serve|temporary|database|fetch ...] [--json FILE]

Each measure runs in child processes under a new ``HOME`` (``DATABASE_URL``
and ``PREFECT_API_URL`` unset), so nothing is shared with the user's own data
or with another measure, and the clock includes the Python start and the
imports, as a user waits for them:

- ``serve``: ``newsflow serve`` until it reports the Prefect server ready, and
  until its deployments are served (a flow run can be submitted).  The first
  start in a new home migrates Prefect's new SQLite database; the next ones
  reuse it.
- ``temporary``: Prefect's temporary server as ``newsflow ingest`` and
  ``newsflow demo`` start it (``flows.serve.TemporaryApi``), from the start of
  the child process until the server answers its health check.
- ``database``: the embedded PostgreSQL (``pipeline.store.engine.start_embedded``)
  in a new data directory (initdb and the first start), then started again
  in that directory after the first child stopped it.
- ``fetch``: building the fetch client (``pipeline.fetch.build_client``),
  opening it and its first request to a server on 127.0.0.1 (the first client
  of a process also checks that its connections go through the
  private-network guard, ``pipeline/transport.py``), and a second request.

Prints a Markdown table: median, minimum and maximum of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))
CHILD_TIMEOUT = 180.0


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    for name in ("DATABASE_URL", "PREFECT_API_URL", "PREFECT_HOME", "NEWSFLOW_DATA_DIR", "XDG_DATA_HOME"):
        env.pop(name, None)
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _times_of_lines(command: list[str], env: dict[str, str], markers: dict[str, str]) -> dict[str, float]:
    """Seconds from spawning ``command`` until each marker's text appears in
    its output; the process is then interrupted (SIGINT) and waited for."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=REPO_ROOT, start_new_session=True)
    found: dict[str, float] = {}
    output: list[str] = []

    def read() -> None:
        for line in process.stdout:
            output.append(line)
            for name, text in markers.items():
                if name not in found and text in line:
                    found[name] = time.perf_counter() - started

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = started + CHILD_TIMEOUT
    while len(found) < len(markers) and process.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    reader.join(5)
    if len(found) < len(markers):
        raise RuntimeError(f"{command[1:3]}: no {set(markers) - set(found)} in:\n{''.join(output)[-2000:]}")
    return found


def _child_seconds(code: str, env: dict[str, str]) -> dict[str, float]:
    """Run ``code`` in a child Python, which prints one JSON object of seconds."""
    result = subprocess.run([PYTHON, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=CHILD_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"child failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_serve(home: Path) -> dict[str, float]:
    port = _free_port()
    figures = {}
    for label in ("new home", "existing home"):
        times = _times_of_lines(
            [NEWSFLOW, "serve", "--port", str(port)], _environment(home),
            {"ready": "Prefect server ready", "served": "being served"},
        )
        figures[f"serve: server ready ({label})"] = times["ready"]
        figures[f"serve: deployments served ({label})"] = times["served"]
    return figures


TEMPORARY_CHILD = """
import time
started = time.perf_counter()
import json
from flows.serve import TemporaryApi
api = TemporaryApi()
with api.in_use():
    ready = time.perf_counter() - started
api.stop()
print(json.dumps({"ready": ready}))
"""


def measure_temporary(home: Path) -> dict[str, float]:
    figures = {}
    for label in ("new home", "existing home"):
        figures[f"temporary server healthy ({label})"] = _child_seconds(TEMPORARY_CHILD, _environment(home))["ready"]
    return figures


DATABASE_CHILD = """
import time
started = time.perf_counter()
import json, sys
from pathlib import Path
from pipeline.store.engine import start_embedded
start_embedded(Path(sys.argv[1]) if len(sys.argv) > 1 else Path({pgdata!r}))
print(json.dumps({{"ready": time.perf_counter() - started}}))
"""


def measure_database(home: Path) -> dict[str, float]:
    pgdata = home / "postgres"
    code = DATABASE_CHILD.format(pgdata=str(pgdata))
    return {
        f"embedded PostgreSQL ({label})": _child_seconds(code, _environment(home))["ready"]
        for label in ("new data directory", "existing data directory")
    }


FETCH_CHILD = """
import time
started = time.perf_counter()
import asyncio, json, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pipeline.config import Settings
from pipeline.fetch import Fetcher, build_client
imported = time.perf_counter()
server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory="seeds"))
threading.Thread(target=server.serve_forever, daemon=True).start()
settings = Settings(allow_private_hosts=f"127.0.0.1:{server.server_port}", respect_robots=False)
timings = {}

async def main():
    t = time.perf_counter()
    client = build_client(settings)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    async with client:
        await Fetcher(client, settings).fetch(f"http://127.0.0.1:{server.server_port}/", max_bytes=1 << 20)
        timings["first"] = time.perf_counter() - t
        t = time.perf_counter()
        await Fetcher(client, settings).fetch(f"http://127.0.0.1:{server.server_port}/", max_bytes=1 << 20)
        timings["second"] = time.perf_counter() - t

asyncio.run(main())
server.shutdown()
print(json.dumps({"import": imported - started, **timings}))
"""


def measure_fetch(home: Path) -> dict[str, float]:
    seconds = _child_seconds(FETCH_CHILD, _environment(home))
    return {
        "fetch: import pipeline.fetch": seconds["import"],
        "fetch: build_client": seconds["build"],
        "fetch: client opened, first request (127.0.0.1)": seconds["first"],
        "fetch: second request (127.0.0.1)": seconds["second"],
    }


MEASURES = {
    "serve": measure_serve,
    "temporary": measure_temporary,
    "database": measure_database,
    "fetch": measure_fetch,
}


def _format(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measure, each in a new home")
    parser.add_argument("--only", nargs="+", choices=sorted(MEASURES), help="these measures only")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()

    runs: dict[str, list[float]] = {}
    for name in args.only or list(MEASURES):
        for _ in range(args.runs):
            home = Path(tempfile.mkdtemp(prefix=f"newsflow-startup-{name}-"))
            try:
                for label, seconds in MEASURES[name](home).items():
                    runs.setdefault(label, []).append(seconds)
            finally:
                shutil.rmtree(home, ignore_errors=True)
    print(f"| measure ({args.runs} runs) | median | min | max |\n|---|---:|---:|---:|")
    for label, values in runs.items():
        print(f"| {label} | {_format(statistics.median(values))} | {_format(min(values))} | {_format(max(values))} |")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
