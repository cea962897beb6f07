#!/usr/bin/env python3
"""Start-up times: how long newsflow takes to get its servers and clients ready.

Usage::

    python bench/startup.py [--runs 3] [--only serve|workers|temporary|database|fetch ...] [--json FILE]

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
- ``workers``: what every flow run of `newsflow serve` pays before its first
  batch, since each runs in a new process (flows/workers.py): the worker
  pool started (``NEWSFLOW_WORKERS`` processes from the fork server, which
  imports trafilatura, spaCy and datasketch once) and each worker's NER
  models loaded, timed from after the child's own imports.
- ``fetch``: building the fetch client (``pipeline.fetch.build_client``),
  opening it and its first request to a server on 127.0.0.1 (the first client
  of a process also checks that its connections go through the
  private-network guard, ``pipeline/transport.py``), and a second request.

Prints a Markdown table: the median, minimum and maximum wall time of
``--runs`` runs, and the median CPU time (user + system) of the child process
and the children it waited for: for ``serve``, the whole start and stop,
Prefect server included, until the deployments are served; for ``temporary``, the server from launch until it is
stopped once healthy; for ``database``, not the PostgreSQL server itself
(it is not the child's child).  On a shared machine the CPU time varies less
than the wall time.
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


def _times_of_lines(command: list[str], env: dict[str, str], markers: dict[str, str]) -> tuple[dict[str, float], float]:
    """Seconds from spawning ``command`` until each marker's text appears in
    its output, and the CPU seconds of the process and the children it waited
    for, once it is stopped (SIGTERM, which `newsflow serve` takes as Ctrl-C;
    a SIGINT would be ignored under a shell's background job) as soon as the
    last marker appears."""
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
    process.send_signal(signal.SIGTERM)
    killer = threading.Timer(60, os.killpg, (process.pid, signal.SIGKILL))
    killer.start()
    _, _, usage = os.wait4(process.pid, 0)
    killer.cancel()
    reader.join(5)
    if len(found) < len(markers):
        raise RuntimeError(f"{command[1:3]}: no {set(markers) - set(found)} in:\n{''.join(output)[-2000:]}")
    return found, usage.ru_utime + usage.ru_stime


def _child_seconds(code: str, env: dict[str, str], *args: str) -> dict[str, float]:
    """Run ``code`` in a child Python, which prints one JSON object of
    seconds; ``cpu`` is added: the CPU seconds of the child and of the
    children it waited for."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([PYTHON, "-c", code, *args], env=env, cwd=REPO_ROOT,
                                   stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"child failed:\n{err.read()[-2000:]}")
        return {**json.loads(out.read().strip().splitlines()[-1]), "cpu": usage.ru_utime + usage.ru_stime}


def measure_serve(home: Path) -> dict[str, tuple[float, float | None]]:
    port = _free_port()
    figures = {}
    for label in ("new home", "existing home"):
        times, cpu = _times_of_lines(
            [NEWSFLOW, "serve", "--port", str(port)], _environment(home),
            {"ready": "Prefect server ready", "served": "being served"},
        )
        figures[f"serve: server ready ({label})"] = (times["ready"], None)
        figures[f"serve: deployments served ({label})"] = (times["served"], cpu)
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


def measure_temporary(home: Path) -> dict[str, tuple[float, float | None]]:
    figures = {}
    for label in ("new home", "existing home"):
        seconds = _child_seconds(TEMPORARY_CHILD, _environment(home))
        figures[f"temporary server healthy ({label})"] = (seconds["ready"], seconds["cpu"])
    return figures


DATABASE_CHILD = """
import time
started = time.perf_counter()
import json, sys
from pathlib import Path
from pipeline.store.engine import start_embedded
start_embedded(Path(sys.argv[1]))
print(json.dumps({"ready": time.perf_counter() - started}))
"""


def measure_database(home: Path) -> dict[str, tuple[float, float | None]]:
    figures = {}
    for label in ("new data directory", "existing data directory"):
        seconds = _child_seconds(DATABASE_CHILD, _environment(home), str(home / "postgres"))
        figures[f"embedded PostgreSQL ({label})"] = (seconds["ready"], seconds["cpu"])
    return figures


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


def measure_fetch(home: Path) -> dict[str, tuple[float, float | None]]:
    seconds = _child_seconds(FETCH_CHILD, _environment(home))
    return {
        "fetch: import pipeline.fetch": (seconds["import"], None),
        "fetch: build_client": (seconds["build"], None),
        "fetch: client opened, first request (127.0.0.1)": (seconds["first"], None),
        "fetch: second request (127.0.0.1)": (seconds["second"], None),
    }


WORKERS_CHILD = """
import time
started = time.perf_counter()
import json
from flows.workers import _prepare_worker, pool
from pipeline.config import get_settings
settings = get_settings()
imported = time.perf_counter()
executor = pool(settings.workers)
for future in [executor.submit(_prepare_worker, settings.ner_models) for _ in range(settings.workers)]:
    future.result()
print(json.dumps({"import": imported - started, "ready": time.perf_counter() - imported,
                  "workers": settings.workers}))
"""


def measure_workers(home: Path) -> dict[str, tuple[float, float | None]]:
    seconds = _child_seconds(WORKERS_CHILD, _environment(home))
    # The workers are the fork server's children, not the child's: their CPU
    # is not in the child's figure, so none is shown.
    return {f"workers: pool started, NER models loaded ({seconds['workers']:g} workers)": (seconds["ready"], None)}


MEASURES = {
    "serve": measure_serve,
    "workers": measure_workers,
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

    runs: dict[str, list[tuple[float, float | None]]] = {}
    for name in args.only or list(MEASURES):
        for _ in range(args.runs):
            home = Path(tempfile.mkdtemp(prefix=f"newsflow-startup-{name}-"))
            os.chmod(home, 0o755)  # as root, the embedded PostgreSQL runs as another user
            try:
                for label, figures in MEASURES[name](home).items():
                    runs.setdefault(label, []).append(figures)
            finally:
                shutil.rmtree(home, ignore_errors=True)
    print(f"| measure ({args.runs} runs) | wall, median | min | max | CPU, median |\n|---|---:|---:|---:|---:|")
    for label, values in runs.items():
        walls = [wall for wall, _ in values]
        cpus = [cpu for _, cpu in values if cpu is not None]
        cpu = _format(statistics.median(cpus)) if cpus else ""
        print(f"| {label} | {_format(statistics.median(walls))} | {_format(min(walls))} "
              f"| {_format(max(walls))} | {cpu} |")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
