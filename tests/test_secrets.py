"""The database URL from a Prefect Secret block (NEWSFLOW_DATABASE_URL_SECRET):
how the settings take it (offline), and a real run that finds its database
through a Secret block on a real Prefect server while DATABASE_URL is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.config import SecretUnavailable, get_settings, reset_settings_cache, use_secret_reader
from tests.conftest import CORPUS, child_ingest_env

ROOT = Path(__file__).resolve().parents[1]
WRONG_URL = "postgresql://nobody@127.0.0.1:9/no_such_database"


@pytest.fixture
def reader_restored():
    from flows.secrets import read_secret

    yield
    use_secret_reader(read_secret)
    reset_settings_cache()


def test_the_secret_wins_over_database_url(monkeypatch, reader_restored):
    monkeypatch.setenv("DATABASE_URL", WRONG_URL)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL_SECRET", "db-url")
    asked = []
    use_secret_reader(lambda name: asked.append(name) or "postgresql://app@db.example:5432/news")
    assert get_settings().database_url == "postgresql://app@db.example:5432/news"
    get_settings()
    assert asked == ["db-url"]  # read once per process: a served run is a process of its own


def test_without_the_setting_no_secret_is_read(monkeypatch, reader_restored):
    monkeypatch.setenv("DATABASE_URL", WRONG_URL)
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL_SECRET", raising=False)
    use_secret_reader(lambda name: pytest.fail("no secret should be read"))
    assert get_settings().database_url == WRONG_URL


def test_a_secret_setting_with_no_reader_is_a_clear_error(monkeypatch, reader_restored):
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL_SECRET", "db-url")
    use_secret_reader(None)
    with pytest.raises(SecretUnavailable, match="NEWSFLOW_DATABASE_URL_SECRET='db-url'"):
        get_settings()


def test_importing_flows_registers_the_prefect_reader():
    done = subprocess.run(
        [sys.executable, "-c", "import flows, pipeline.config as c; print(c._secret_reader.__module__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.stdout.strip() == "flows.secrets", done.stderr


@pytest.mark.integration
def test_a_run_reads_its_database_from_a_secret_block(
    clean_db, corpus_server, allow_test_servers, prefect_server, database_url, tmp_path
):
    from prefect.blocks.system import Secret

    Secret(value=database_url).save("newsflow-test-database-url", overwrite=True)
    env = child_ingest_env(corpus_server, tmp_path / "data", database_url=WRONG_URL,
                           database_url_secret="newsflow-test-database-url")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(CORPUS / "feeds.yaml"),
         "--base-url", corpus_server, "--limit", "2", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with clean_db.connect() as conn:
        runs = conn.execute(text("SELECT status FROM ingest_runs")).scalars().all()
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    assert runs == ["completed"] and articles == 2

    # A secret that is not there fails the command plainly, before any run.
    env["NEWSFLOW_DATABASE_URL_SECRET"] = "no-such-secret"
    missing = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(CORPUS / "feeds.yaml"),
         "--base-url", corpus_server, "--limit", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert missing.returncode != 0
    assert "no Prefect Secret block 'no-such-secret'" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stderr, missing.stderr[-2000:]
