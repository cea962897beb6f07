"""flows/cli/fast_exit.py: a command ends after its threads and atexit
handlers, without the interpreter's teardown, and only when it asks to."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import atexit, threading, time
import flows.cli
from flows.cli.fast_exit import exit_without_teardown

class Teardown:
    def __del__(self):
        print("teardown", flush=True)

kept = Teardown()
atexit.register(lambda: print("atexit handler", flush=True))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread done", flush=True))).start()
print("unflushed output", end="")
{ending}
"""


def run(ending: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRAM.format(ending=ending))],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_exit_without_teardown_joins_threads_runs_handlers_flushes_and_keeps_the_code():
    result = run("exit_without_teardown(3)")
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == ["unflushed outputthread done", "atexit handler"]


def test_importing_the_command_line_leaves_an_ordinary_exit_alone():
    result = run("raise SystemExit(4)")
    assert result.returncode == 4, result.stderr
    assert result.stdout.splitlines() == ["unflushed outputthread done", "atexit handler", "teardown"]
