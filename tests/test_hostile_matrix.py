"""Every way a feed or a page can go wrong, in one ingest run as a user
starts it (a subprocess), against the hostile server on 127.0.0.1: the run
finishes, the good feeds load fully, each feed's health row says what
happened, and the process stays within bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.hostile_server import FEED_CASES, HostileServer

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Generous, and an upper bound only: a child's peak RSS starts at the peak of
# the pytest process that forks it, and Prefect, spaCy and its model take
# ~0.5 GB.  An endless body read whole would blow through it; bench/hostile.py
# measures each case on its own against a baseline (a bomb costs +14 MB).
PEAK_RSS_LIMIT_MB = 900


def run_ingest(feed_list, env, *extra) -> tuple[dict, float]:
    """newsflow ingest in a child process; its summary and its peak RSS in MB."""
    with open(feed_list.parent / "out.txt", "w+") as out, open(feed_list.parent / "err.txt", "w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(feed_list), "--json", *extra],
            env=env, cwd=ROOT, stdout=out, stderr=err, text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stdout + stderr, stderr
    summary = json.loads(stdout[stdout.index("{"):])
    return summary, usage.ru_maxrss / 1024  # Linux reports kilobytes


@pytest.fixture(scope="module")
def matrix(engine, prefect_server, tmp_path_factory):
    from sqlalchemy import text as sql

    from tests.conftest import child_ingest_env, truncate_all

    truncate_all(engine)
    folder = tmp_path_factory.mktemp("matrix")
    with HostileServer() as server:
        feed_list = folder / "feeds.yaml"
        feed_list.write_text(
            "feeds:\n" + "".join(f"  - url: {server.base_url}/feed/{case}.xml\n    name: {case}\n"
                                 for case in FEED_CASES)
        )
        env = child_ingest_env(server.base_url, folder / "data", retries="2", retry_backoff="0.1",
                               total_timeout="3", read_timeout="2")
        first, first_rss = run_ingest(feed_list, env)
        second, second_rss = run_ingest(feed_list, env, "--force")
        with engine.connect() as conn:
            feeds = {
                row["name"]: row for row in conn.execute(sql(
                    "SELECT f.*, (SELECT count(*) FROM articles a WHERE a.feed_id = f.id) AS articles"
                    " FROM feeds f"
                )).mappings()
            }
            failures = dict(conn.execute(sql("SELECT url, error FROM fetch_failures")).all())
        yield {
            "first": first, "second": second, "rss": max(first_rss, second_rss),
            "feeds": feeds, "failures": failures, "state": server.state, "base": server.base_url,
        }


def test_run_finishes_and_good_feeds_load_fully(matrix):
    feeds = matrix["feeds"]
    expected_articles = {
        "good": 2, "malformed": 1, "429-then-ok": 1, "503-then-ok": 1, "etag": 1,
        "duplicate-guids": 1, "windows-1252": 1, "moved": 1, "redirect-chain": 0,
    }
    for name, count in expected_articles.items():
        assert feeds[name]["articles"] == count, name
    assert matrix["first"]["feeds"] == len(FEED_CASES)


def test_memory_stays_bounded(matrix):
    assert matrix["rss"] < PEAK_RSS_LIMIT_MB


@pytest.mark.parametrize(
    ("case", "kind", "status", "error"),
    [
        ("gzip-bomb", "too-large", None, "too large: more than 5242880 bytes"),
        ("deflate-bomb", "too-large", None, "too large: more than 5242880 bytes"),
        ("endless", "too-large", None, "too large: more than 5242880 bytes"),
        ("drip", "timeout", None, "timed out after 3 s (after 3 attempts)"),
        ("500", "http", 500, "HTTP 500 (after 3 attempts)"),
        ("404", "http", 404, "HTTP 404"),
        ("redirect-loop", "redirects", None, "more than 5 redirects"),
        ("redirect-chain", "redirects", None, "more than 5 redirects"),
        ("redirect-to-metadata", "refused", None, "refused: link-local address 169.254.169.254"),
        ("redirect-to-other-loopback", "refused", None, "refused: loopback address 127.0.0.2"),
        ("empty", "parse", 200, "not a feed: no RSS/Atom feed found"),
        ("html", "parse", 200, "not a feed: got an HTML page, not RSS or Atom"),
    ],
)
def test_failing_feed_health_says_what_happened(matrix, case, kind, status, error):
    feed = matrix["feeds"][case]
    assert (feed["last_error_kind"], feed["last_status"], feed["last_error"]) == (kind, status, error)
    # Failed twice (both runs), backing off, never disabled.
    assert feed["consecutive_failures"] == 2
    assert feed["next_fetch_at"] > feed["last_fetched_at"]
    assert feed["disabled"] is False


def test_only_transient_failures_are_retried(matrix):
    hits = matrix["state"].hits
    assert hits["/feed/404.xml"] == 2  # once per run
    assert hits["/feed/500.xml"] == 6  # three attempts per run
    assert hits["/feed/429-then-ok.xml"] >= 2


def test_gone_feed_is_disabled_and_not_fetched_again(matrix):
    feed = matrix["feeds"]["410"]
    assert feed["disabled"] is True
    assert feed["disabled_reason"] == "HTTP 410"
    assert matrix["state"].hits["/feed/410.xml"] == 1


def test_no_request_reaches_a_private_address(matrix):
    assert matrix["state"].second_listener_requests == []
    failures = matrix["failures"]
    assert failures["http://169.254.169.254/latest/meta-data"] == "refused: link-local address 169.254.169.254"
    assert failures["http://10.0.0.1/index.html"] == "refused: private address 10.0.0.1"
    second = f"http://127.0.0.2:{matrix['state'].second_port}/page.html"
    assert failures[second] == "refused: loopback address 127.0.0.2"


def test_robots_txt_is_honoured_for_pages(matrix):
    assert matrix["failures"][matrix["base"] + "/private/page.html"] == "disallowed by robots.txt"
    assert matrix["state"].hits["/private/page.html"] == 0


def test_malformed_feed_keeps_what_it_could_read_and_says_so(matrix):
    feed = matrix["feeds"]["malformed"]
    assert feed["last_status"] == 200 and feed["consecutive_failures"] == 0
    assert feed["last_warning"].startswith("malformed feed, read 2 entries: ")
    assert "mismatched tag" in feed["last_warning"]
    # The second, broken item still had a link; it leads nowhere.
    assert matrix["failures"][matrix["base"] + "/page/never.html"] == "HTTP 404"


def test_billion_laughs_costs_nothing(matrix):
    feed = matrix["feeds"]["billion-laughs"]
    # Read without expanding the entities: the title stays the reference.
    assert feed["title"] == "&lol9;"
    assert feed["last_warning"].startswith("malformed feed")
    assert matrix["rss"] < PEAK_RSS_LIMIT_MB


def test_duplicate_guids_are_taken_once(matrix):
    assert matrix["feeds"]["duplicate-guids"]["articles"] == 1
    assert matrix["state"].hits["/page/good-8.html"] == 0


def test_conditional_get_on_the_second_run(matrix):
    feed = matrix["feeds"]["etag"]
    assert feed["etag"] == '"v1"'
    assert feed["last_status"] == 304
    assert matrix["second"]["feeds_unchanged"] >= 1


def test_permanent_redirect_updates_the_feed_url(matrix):
    assert matrix["feeds"]["moved"]["url"] == matrix["base"] + "/feed/moved-here.xml"


def test_windows_1252_page_with_late_charset_decodes(matrix, engine):
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT a.text, r.charset_declared, r.charset_used, r.replacement_ratio"
            " FROM articles a JOIN raw_pages r ON r.article_id = a.id"
            " WHERE a.canonical_url LIKE '%/page/windows-1252.html'"
        )).one()
    body, declared, used, ratio = row
    assert "Café owners on the “quay” say the pier delay costs them €500 a week." in body
    assert (declared, used, ratio) == ("windows-1252", "cp1252", 0.0)
