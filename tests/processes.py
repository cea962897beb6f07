"""Child processes for tests and benchmarks that start real servers and
workers: each in a process group of its own, killed whole on the way out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def process_group(args, *, env: dict, log_dir: Path, name: str) -> Iterator[subprocess.Popen]:
    """A child in its own process group, its output in ``log_dir``/``name``.out
    and .err (``process.out``, ``process.err``); asked to stop (SIGTERM, 20 s)
    and then the whole group killed on the way out, whatever happened."""
    out, err = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            start_new_session=True,
        )
    process.out, process.err = out, err
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
