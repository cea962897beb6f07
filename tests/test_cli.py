"""The command line as a user runs it: a subprocess, the embedded database."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import processes_with_env

pytestmark = pytest.mark.integration

NEWSFLOW = [sys.executable, "-m", "flows.cli"]
CORPUS_FEEDS = Path(__file__).resolve().parents[1] / "seeds" / "demo" / "feeds.yaml"


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
        # A port of its own: a demo run elsewhere on the machine holds the default.
        NEWSFLOW_DEMO_PORT=str(free_port()),
        COLUMNS="160",
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def summary_value(output: str, row: str) -> str:
    """The value cell of one row of the printed ingest summary."""
    line = next(line for line in output.splitlines() if f" {row} " in line)
    return line.strip(" │|").split("│")[-1].strip()


def assert_clean_output(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for alarm in ("Traceback", "Warning", "WARNING", "Error flushing"):
        lines = [line for line in output.splitlines() if alarm in line]
        assert not lines, f"{alarm!r} in the output: {lines}"


def test_help_describes_every_command():
    result = subprocess.run([*NEWSFLOW, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("demo", "ingest", "db", "search", "stats", "web"):
        assert command in result.stdout


def test_a_temporary_server_that_does_not_start_is_a_clear_error(embedded_env, tmp_path):
    # Prefect's temporary server needs seconds to import its API: one second
    # of patience is too little, on any machine.
    env = {**embedded_env, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"}
    result = run_cli("ingest", "--feeds", str(CORPUS_FEEDS), "--base-url", "http://127.0.0.1:9", env=env)
    assert result.returncode == 2
    assert "Prefect's temporary server did not start" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert processes_with_env("PREFECT_HOME", env["PREFECT_HOME"]) == []


def test_a_demo_whose_port_is_taken_stops_and_says_so_rather_than_store_it_all_again(embedded_env, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        result = run_cli("demo", env={**embedded_env, "NEWSFLOW_DEMO_PORT": str(taken),
                                      "NEWSFLOW_DATA_DIR": str(tmp_path / "newsflow")})
    assert result.returncode == 2
    assert f"the demo's port {taken} on 127.0.0.1 is taken" in " ".join(result.stdout.split())
    assert "Traceback" not in result.stdout + result.stderr
    # It stopped before starting anything: no database was created.
    assert not (tmp_path / "newsflow").exists()


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
    # Prefect's temporary server (started by newsflow, see flows/serve.py) is
    # gone with the command.
    assert processes_with_env("PREFECT_HOME", embedded_env["PREFECT_HOME"]) == []
    # Its runs were recorded there, without flow-run heartbeats: the server
    # ends with the run, no one is there to miss them.
    with contextlib.closing(sqlite3.connect(Path(embedded_env["PREFECT_HOME"]) / "prefect.db")) as prefect_db:
        events = dict(prefect_db.execute("SELECT event, count(*) FROM events GROUP BY event").fetchall())
    assert events["prefect.flow-run.Completed"] == 2
    assert "prefect.flow-run.heartbeat" not in events

    recorded = json.loads(run_cli("runs", "--json", env=embedded_env).stdout)
    assert [(run["status"], run["feeds"], run["articles_new"]) for run in recorded] == [
        ("completed", 4, 0), ("completed", 4, 11),
    ]
    assert recorded[1]["pages_failed"] == 1 and recorded[1]["errors"] == 1  # the corpus's 404
    assert recorded[1]["failures_by_kind"] == {"fetch: http": 1}
    assert summary_value(again.stdout, "run") == f"{recorded[0]['id']} (newsflow runs)"
    runs_table = run_cli("runs", env=embedded_env)
    assert_clean_output(runs_table)
    assert "completed" in runs_table.stdout
    assert f"run {recorded[1]['id']} failures by kind: 1 fetch: http" in runs_table.stdout

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

    listed = run_cli("stories", "--min-outlets", "2", "--json", env=embedded_env)
    assert listed.returncode == 0, listed.stderr
    wire = json.loads(listed.stdout)
    assert len(wire) == 1
    assert sorted(wire[0]["outlets"]) == ["Free press", "The Daily Courier"]
    assert wire[0]["agencies"] == ["dpa"]
    members = json.loads(run_cli("story", str(wire[0]["id"]), "--json", env=embedded_env).stdout)
    assert [(m["site_name"], m["is_canonical"], m["match_kind"]) for m in members] == [
        ("Free press", True, "new"), ("The Daily Courier", False, "exact"),
    ]
    assert run_cli("stories", "--since", "soon", env=embedded_env).returncode == 2

    people = json.loads(run_cli("entities", "--label", "PERSON", "--json", env=embedded_env).stdout)
    assert people[0]["label"] == "PERSON"
    blinken = json.loads(run_cli("entity", "Blinken", "--json", env=embedded_env).stdout)
    assert [(item["name"], item["label"]) for item in blinken] == [("Antony Blinken", "PERSON")]
    assert "Blinken" in blinken[0]["aliases"]
    assert len(blinken[0]["stories"]) == 1
    assert "North Korea" in {other["name"] for other in blinken[0]["cooccurring"]}

    rules = run_cli("site-rules", "127.0.0.1", "--json", env=embedded_env)
    assert rules.returncode == 0, rules.stderr
    by_line = {rule["text"]: rule for rule in json.loads(rules.stdout)}
    note = ("This article was translated from German. Rhein Post English is the "
            "English-language service of the Rhein Post.")
    # Three Rhein Post pages carry it: support 3, short of the threshold of 5.
    assert (by_line[note]["support"], by_line[note]["active"]) == (3, False)

    stats = run_cli("stats", env=embedded_env)
    assert_clean_output(stats)
    assert "Antony Blinken" in stats.stdout


def test_web_serves_the_embedded_database(embedded_env):
    """`newsflow web` with no DATABASE_URL: the embedded database, read as
    newsflow_reader, over HTTP; Ctrl-C ends it cleanly."""
    import signal
    import socket
    import time

    import httpx

    if not json.loads(run_cli("stories", "--json", env=embedded_env).stdout):
        assert run_cli("demo", env=embedded_env).returncode == 0  # this test alone: the demo's data first
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*NEWSFLOW, "web", "--port", str(port)], env=embedded_env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                stories = httpx.get(f"http://127.0.0.1:{port}/api/stories", params={"min_outlets": 2}, timeout=10)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()
                time.sleep(0.5)
        assert stories.status_code == 200
        assert "Gleam: China must influence North Korea" in {story["title"] for story in stories.json()["items"]}
        assert "Gleam: China must influence North Korea" in httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
    finally:
        server.send_signal(signal.SIGINT)
        output, errors = server.communicate(timeout=60)
    assert server.returncode == 0, output + errors
    assert f"newsflow web on http://127.0.0.1:{port}/" in output
    assert "Traceback" not in output + errors


def test_db_upgrade_reports_the_revision(embedded_env):
    result = run_cli("db", "upgrade", env=embedded_env)
    assert_clean_output(result)
    from pipeline.store.migrate import head_revision

    assert f"is at revision {head_revision()}" in result.stdout


def test_ingest_with_a_missing_feed_list_says_so(embedded_env, tmp_path):
    result = run_cli("ingest", "--feeds", str(tmp_path / "nope.yaml"), env=embedded_env)
    assert result.returncode == 2
    assert "cannot read feed list" in result.stdout and "No such file" in result.stdout


def test_extract_writes_one_record_per_page_and_errors_as_records(embedded_env, tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    seed = Path(__file__).resolve().parents[1] / "seeds" / "demo" / "freepress" / "2021" / "03" / "18"
    (pages / "seed.html").write_bytes((seed / "gleam-china-must-influence-north-korea.html").read_bytes())
    (pages / "seed-copy.html.gz").write_bytes(
        gzip.compress((seed / "gleam-china-must-influence-north-korea.html").read_bytes()))
    (pages / "empty.htm").write_text("<html><body></body></html>")
    (pages / "notes.txt").write_text("not a page, not walked")
    named = tmp_path / "page.data"  # a file given by name is read whatever its extension
    named.write_bytes((seed / "gleam-china-must-influence-north-korea.html").read_bytes())
    out = tmp_path / "out.jsonl"
    result = run_cli("extract", str(pages), str(named), "--out", str(out),
                     "--base-url", "https://freepress.example", env=embedded_env)
    assert_clean_output(result)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4
    by_path = {Path(record["path"]).name: record for record in records}
    assert by_path["empty.htm"]["error"] == "no article text found"
    for name in ("seed.html", "seed-copy.html.gz", "page.data"):
        record = by_path[name]
        assert record["title"] == "Gleam: China must influence North Korea"
        assert (record["dateline"], record["agency"]) == ("Seoul / Pyongyang", "dpa")
        assert record["text"].endswith("Little progress has been made on this point.")
    assert by_path["seed.html"]["url"] == "https://freepress.example/seed.html"
    assert "1 failed" in result.stdout


def test_feeds_add_import_export_and_health(embedded_env, tmp_path):
    env = {**embedded_env, "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    added = run_cli("feeds", "add", "https://harbour.example/rss.xml", "--name", "Harbour & Co", env=env)
    assert_clean_output(added)
    assert "1 new feed(s), 0 already stored" in added.stdout
    listed = tmp_path / "list.opml"
    listed.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline type="rss" text="Harbour" xmlUrl="https://harbour.example/rss.xml"/>'
        '<outline type="rss" text="https://valley.example/atom.xml" xmlUrl="https://valley.example/atom.xml"/>'
        "</body></opml>"
    )
    imported = run_cli("feeds", "import", str(listed), env=env)
    assert_clean_output(imported)
    assert "1 new feed(s), 1 already stored" in imported.stdout
    exported = run_cli("feeds", "export", env=env)
    assert exported.returncode == 0, exported.stderr
    import yaml

    assert yaml.safe_load(exported.stdout) == {"feeds": [
        {"url": "https://harbour.example/rss.xml", "name": "Harbour"},
        {"url": "https://valley.example/atom.xml"},
    ]}
    opml = run_cli("feeds", "export", "--opml", env=env)
    assert 'xmlUrl="https://valley.example/atom.xml"' in opml.stdout
    health = run_cli("feeds", "--json", env=env)
    rows = json.loads(health.stdout)
    assert [(row["url"], row["last_status"], row["consecutive_failures"]) for row in rows] == [
        ("https://harbour.example/rss.xml", None, 0), ("https://valley.example/atom.xml", None, 0),
    ]
    bad = run_cli("feeds", "add", "ftp://example.org/feed", env=env)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stdout


# What a site may put in a title, a name or an error: rich markup (a closing
# tag with nothing open, a link to another site, a style) and escape
# sequences (clear the screen; an OSC 8 hyperlink hidden behind "click").
HOSTILE = ("[/] [link=https://evil.example]Reuters[/link] [bold red]alarm"
           " \x1b[2J\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m")
# How it must print: every character of it as text, without the controls.
HOSTILE_SHOWN = "[/] [link=https://evil.example]Reuters[/link] [bold red]alarm [2J]8;;https://evil.example\\click]8;;\\ 31m"


@pytest.fixture
def hostile_db(clean_db) -> dict[str, str]:
    """Stored rows whose every text is HOSTILE (with a word to find them by),
    and the environment of a newsflow command on that database."""
    from sqlalchemy import text

    from pipeline.clean import SITE_RULES_VERSION

    values = {"title": f"Harbour {HOSTILE}", "name": f"Feed {HOSTILE}", "error": f"refused {HOSTILE}",
              "entity": f"Entity {HOSTILE}", "version": SITE_RULES_VERSION}
    with clean_db.begin() as conn:
        for statement in (
            "INSERT INTO feeds (url, name, consecutive_failures, last_error, last_error_kind)"
            " VALUES ('https://harbour.example/rss', :name, 1, :error, :error)",
            "INSERT INTO stories (id, article_count) VALUES (1, 2)",
            "INSERT INTO articles (id, canonical_url, url, title, text, content_hash, story_id, is_canonical,"
            " site_name, agency, dateline, language, feed_id, published_at)"
            " SELECT n, 'https://harbour.example/' || n, 'https://harbour.example/' || n, :title,"
            " 'The harbour reopened. ' || :title, 'hash' || n, 1, n = 1, :name, :name, :name, 'en',"
            " (SELECT id FROM feeds), now() - interval '1 hour' FROM generate_series(1, 2) n",
            "UPDATE stories SET canonical_article_id = 1",
            "INSERT INTO entities (id, name, label) VALUES (1, :entity, :entity)",
            "INSERT INTO entity_aliases (entity_id, alias) VALUES (1, 'hostile'), (1, :entity)",
            "INSERT INTO article_entities (article_id, entity_id, mentions) VALUES (1, 1, 2), (2, 1, 1)",
            "INSERT INTO ingest_runs (status, finished_at, details)"
            " VALUES ('failed', now(), jsonb_build_object('database_error', CAST(:error AS text)))",
            "INSERT INTO fetch_failures (url, stage, kind, error, attempts) VALUES (:title, :name, :name, :error, 1)",
            "INSERT INTO site_boilerplate (rules_version, host, line_hash, text, support)"
            " VALUES (:version, 'harbour.example', 1, :title, 9)",
        ):
            conn.execute(text(statement), values)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NEWSFLOW_", "PREFECT_"))}
    return {**env, "DATABASE_URL": os.environ["DATABASE_URL"], "COLUMNS": "1000"}


@pytest.mark.parametrize("command", [
    ["search", "harbour"], ["search", "harbour", "--all-copies"], ["stories"], ["story", "1"], ["feeds"],
    ["entities"], ["entity", "hostile"], ["runs"], ["stats"], ["site-rules", "harbour.example"],
])
def test_stored_text_prints_as_text_without_escape_sequences(hostile_db, command):
    result = run_cli(*command, env=hostile_db)
    assert_clean_output(result)
    assert HOSTILE_SHOWN in result.stdout
    assert "\x1b" not in result.stdout + result.stderr and "\x9b" not in result.stdout


def test_stored_text_on_a_colour_terminal_gets_only_newsflows_own_styles(hostile_db):
    import re

    result = run_cli("search", "harbour", env={**hostile_db, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert_clean_output(result)
    # Colours and bold (SGR: ESC [ … m) and nothing else: no OSC 8 link, no screen clearing.
    assert re.findall(r"\x1b(?!\[[0-9;]*m)", result.stdout) == []
    assert "\x1b[" in result.stdout  # it did print in colour
    assert HOSTILE_SHOWN in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


@pytest.mark.parametrize("command", [["search", "harbour"], ["stories"], ["entities"], ["reenrich"]])
def test_an_age_out_of_range_or_malformed_is_a_usage_error(embedded_env, command):
    for age in ("99999999999d", "9" * 5000 + "w", "soon", "-3d"):
        result = run_cli(*command, "--since", age, env=embedded_env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Invalid value for '--since'" in result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_db_shell_gives_psql_the_password_in_its_environment_not_its_arguments(tmp_path):
    # A psql that records what it was given, first on PATH.
    recorded = tmp_path / "psql.json"
    fake = tmp_path / "bin" / "psql"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"json.dump({{'argv': sys.argv, 'password': os.environ.get('PGPASSWORD')}},"
                    f" open({str(recorded)!r}, 'w'))\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}",
           "DATABASE_URL": "postgresql://analyst:s3cret-pw@db.example:6543/news?sslmode=require"}
    result = run_cli("db", "shell", "-c", "SELECT 1", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    given = json.loads(recorded.read_text())
    assert not any("s3cret" in argument for argument in given["argv"])
    assert given["password"] == "s3cret-pw"
    assert set(given["argv"][1].split()) == {
        "user=analyst", "host=db.example", "port=6543", "dbname=news", "sslmode=require"}
    assert given["argv"][2:] == ["-c", "SELECT 1"]


def test_db_shell_connects_with_a_password_url(clean_db):
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["DATABASE_URL"]).set(password="any-password")  # the test server trusts
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
    result = run_cli("db", "shell", "-c", "SELECT 40 + 2 AS answer", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 42\n" in result.stdout


@pytest.mark.parametrize("url", [
    "postgresql://analyst:s3cret-pw@127.0.0.1:1/news",  # nothing listens there
    "postgresql://analyst:s3cret-pw@127.0.0.1:port/news",  # no port number
    "mysql://analyst:s3cret-pw@127.0.0.1/news",
])
def test_a_database_url_that_does_not_work_is_shown_without_its_password(embedded_env, url):
    for command in (["stories"], ["db", "upgrade"], ["db", "shell", "-c", "SELECT 1"]):
        result = run_cli(*command, env={**embedded_env, "DATABASE_URL": url})
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert "s3cret" not in output and "Traceback" not in output
        if "port/news" in url or "mysql" in url:
            assert "not a PostgreSQL URL" in output
            assert url.replace("s3cret-pw", "***") in output.replace("\n", "")


def test_settings_and_messages_mask_the_password():
    from pipeline.config import Settings
    from pipeline.store.engine import redacted_url

    assert "s3cret" not in repr(Settings(database_url="postgresql://analyst:s3cret@db.example/news"))
    assert redacted_url("postgresql://analyst:s3cret@db.example:5432/news") == \
        "postgresql://analyst:***@db.example:5432/news"
    assert redacted_url("postgresql://db.example/news?user=analyst&password=s3cret&sslmode=require") == \
        "postgresql://db.example/news?user=analyst&password=***&sslmode=require"
    assert redacted_url("postgresql://analyst:s3@cret@db.example/news") == "postgresql://analyst:***@db.example/news"
    assert redacted_url("postgresql://analyst@db.example/news") == "postgresql://analyst@db.example/news"
