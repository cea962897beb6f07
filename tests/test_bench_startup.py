"""bench/startup.py runs: the command docs/benchmarks.md gives for the
start-up figures measures the embedded database and the fetch client and
reports every row (its figures are not asserted: they are the machine's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.version_info >= (3, 13), reason="no pgserver wheel for Python 3.13 and newer"),
]

ROOT = Path(__file__).resolve().parents[1]


def test_startup_bench_measures_the_database_and_the_fetch_client(tmp_path):
    out = tmp_path / "startup.json"
    done = subprocess.run(
        [sys.executable, "bench/startup.py", "--runs", "1", "--only", "database", "fetch", "--json", str(out)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert set(figures) == {
        "embedded PostgreSQL (new data directory)", "embedded PostgreSQL (existing data directory)",
        "fetch: import pipeline.fetch", "fetch: build_client",
        "fetch: client opened, first request (127.0.0.1)", "fetch: second request (127.0.0.1)",
    }
    for label, [(wall, cpu)] in figures.items():
        assert wall > 0, label
        assert f"| {label} |" in done.stdout
    # Both database starts ran in a child of their own, which counted its CPU.
    assert all(cpu > 0 for label, [(_, cpu)] in figures.items() if label.startswith("embedded"))
