"""The command line as a user runs it: a subprocess, the embedded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

NEWSFLOW = [sys.executable, "-m", "flows.cli"]


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*NEWSFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory) -> dict[str, str]:
    """A user's environment with no DATABASE_URL: newsflow starts its own PostgreSQL."""
    home = tmp_path_factory.mktemp("user")
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("NEWSFLOW_", "PREFECT_")) and key != "DATABASE_URL"
    }
    env.update(
        NEWSFLOW_DATA_DIR=str(home / "newsflow"),
        PREFECT_HOME=str(home / "prefect"),
        COLUMNS="160",
    )
    return env


def summary_value(output: str, row: str) -> str:
    """The value cell of one row of the printed ingest summary."""
    line = next(line for line in output.splitlines() if f" {row} " in line)
    return line.strip(" │|").split("│")[-1].strip()


def assert_clean_output(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for alarm in ("Traceback", "Warning", "WARNING", "Error flushing"):
        assert alarm not in output, output


def test_help_describes_every_command():
    result = subprocess.run([*NEWSFLOW, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("demo", "ingest", "db", "search", "stats"):
        assert command in result.stdout


def test_demo_on_the_embedded_database(embedded_env):
    result = run_cli("demo", env=embedded_env)
    assert_clean_output(result)
    out = result.stdout
    assert "database: newsflow on" in out
    assert summary_value(out, "new articles") == "11"
    assert summary_value(out, "new stories") == "10"
    assert "removed-story.html: HTTP 404" in out
    assert "Gleam: China must influence" in out or "Blinken urges Beijing" in out

    again = run_cli("demo", env=embedded_env)
    assert_clean_output(again)
    assert summary_value(again.stdout, "new articles") == "0"

    found = run_cli("search", "--json", "Blinken North Korea", env=embedded_env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    # Two outlets carry the story; search shows it once, led by the earlier one.
    assert [hit["title"] for hit in hits] == ["Gleam: China must influence North Korea"]
    assert hits[0]["story_size"] == 2
    assert "Antony Blinken" in hits[0]["entities"]

    shell = run_cli("db", "shell", "-c", "SELECT count(*) AS n FROM articles", env=embedded_env)
    assert shell.returncode == 0, shell.stderr
    assert " 11\n" in shell.stdout

    stats = run_cli("stats", env=embedded_env)
    assert_clean_output(stats)
    assert "Antony Blinken" in stats.stdout


def test_db_upgrade_reports_the_revision(embedded_env):
    result = run_cli("db", "upgrade", env=embedded_env)
    assert_clean_output(result)
    from pipeline.store.migrate import head_revision

    assert f"is at revision {head_revision()}" in result.stdout


def test_ingest_with_a_missing_feed_list_says_so(embedded_env, tmp_path):
    result = run_cli("ingest", "--feeds", str(tmp_path / "nope.yaml"), env=embedded_env)
    assert result.returncode == 2
    assert "no such feed list" in result.stdout
