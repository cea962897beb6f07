"""bench/throughput.py end to end on a tiny corpus: the one command the
README gives for issue #9's figures runs, stores every article through the
real flow (with Prefect's temporary server, as a user's `newsflow ingest`)
and through the floor, and reports the measures the README quotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import benchdata
from tests.conftest import processes_with_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(benchdata.extraction_benchmark_missing()),
                       reason=benchdata.extraction_benchmark_missing() or ""),
]

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_bench_measures_flow_and_floor(database_url, tmp_path):
    # The bench makes (and drops) a database of its own on this session's server.
    base, separator, query = database_url.partition("?")
    server = base.rsplit("/", 1)[0] + separator + query
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NEWSFLOW_", "PREFECT_"))}
    # Every process the bench starts inherits THROUGHPUT_TEST_RUN: none may outlive it.
    env.update(NEWSFLOW_BENCH_PG=server, THROUGHPUT_TEST_RUN=str(tmp_path),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", NEWSFLOW_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "throughput.json"
    done = subprocess.run(
        [sys.executable, "bench/throughput.py", "--articles", "24", "--feeds", "4", "--workers", "2",
         "--json", str(out), "--data", str(benchdata.root())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    results = json.loads(out.read_text())
    assert results["flow_articles_stored"] == 24
    assert results["floor"]["articles"] == 24
    assert len(results["floor"]["before_and_after"]) == 2  # the floor around the flow
    assert results["ratio_end_to_end"] > 0 and results["ratio_in_stages"] > 0
    assert results["flow_wall_seconds"] >= results["flow_body_seconds"] > 0
    assert {"fetch pages", "extract and clean", "store"} <= set(results["flow_stage_seconds"])
    assert results["flow_peak_rss_mb"] > 50  # the flow's largest process, spaCy loaded
    # The table the README copies is printed too.
    assert "| ratio_end_to_end |" in done.stdout
    # The Prefect home is the bench's own, its database made before the clock.
    assert results["prefect_database_created_seconds"] > 0
    assert processes_with_env("THROUGHPUT_TEST_RUN", str(tmp_path)) == []
