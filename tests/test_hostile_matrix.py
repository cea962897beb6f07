"""Every way a feed or a page can go wrong, in one ingest run as a user
starts it (a subprocess), against the hostile server on 127.0.0.1: the run
finishes, the good feeds load fully, each feed's health row says what
happened, and the process stays within bounded memory.

The cases of issue 16 (``ISOLATED_FEED_CASES``) each get a run of their own
beside a normal feed, so one that stops or hangs a run fails only itself."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from tests.hostile_server import (
    FEED_CASES,
    ISOLATED_FEED_CASES,
    LOCAL_FEED_FILE,
    NON_TEXT_CHARSETS,
    HostileServer,
)

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Generous, and an upper bound only: a child's peak RSS starts at the peak of
# the pytest process that forks it, and Prefect, spaCy and its model take
# ~0.5 GB.  An endless body read whole would blow through it; bench/hostile.py
# measures each case on its own against a baseline (a bomb costs +14 MB).
PEAK_RSS_LIMIT_MB = 900
# A hang guard, not a timing assert: an isolated case's run takes ~10 s;
# the backtracking dateline would take half an hour.
ISOLATED_RUN_TIMEOUT = 180
# Address space of each process of a run (workers too): a body read from
# /dev/zero ends in MemoryError here instead of eating the shared machine.
ISOLATED_RUN_ADDRESS_SPACE = 3 * 1024 ** 3


@dataclass
class ChildRun:
    returncode: int | None  # None: killed by the hang guard
    stdout: str
    stderr: str
    peak_rss_mb: float


def run_child(args: list[str], env: dict, *, timeout: float | None = None,
              address_space: int | None = None) -> ChildRun:
    """``python -m flows.cli ARGS`` in its own session; on ``timeout`` the
    whole session (its workers too) is killed."""

    def limit_memory() -> None:
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    with tempfile.TemporaryFile("w+", errors="replace") as out, \
            tempfile.TemporaryFile("w+", errors="replace") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, text=True, start_new_session=True, preexec_fn=limit_memory,
        )
        guard = threading.Timer(timeout, _kill_session, (process.pid,)) if timeout else None
        if guard:
            guard.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        hung = guard is not None and not guard.is_alive() and process.returncode == -signal.SIGKILL
        if guard:
            guard.cancel()
        out.seek(0)
        err.seek(0)
        return ChildRun(None if hung else process.returncode, out.read(), err.read(),
                        usage.ru_maxrss / 1024)  # Linux reports kilobytes


def _kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended just now


def run_ingest(feed_list, env, *extra) -> tuple[dict, float]:
    """newsflow ingest in a child process; its summary and its peak RSS in MB."""
    run = run_child(["ingest", "--feeds", str(feed_list), "--json", *extra], env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    summary = json.loads(run.stdout[run.stdout.index("{"):])
    return summary, run.peak_rss_mb


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


# ------------------------------------------------ issue 16: one run per case


@dataclass
class IsolatedRun:
    """What the user sees of one case's run: the command's end, the run row,
    the case's feed health, its articles and recorded failures."""

    case: str
    base: str
    child: ChildRun
    run: dict | None  # the ingest_runs row the command wrote
    feed: dict | None  # the case's feed row
    articles: dict  # canonical URL path -> row (title, text, charset_used)
    failures: dict  # URL -> row (stage, error), the case's feed only
    alongside_stored: bool  # the normal feed beside the case
    hits: dict  # request path -> count, for this case's run

    def assert_run_completed(self) -> None:
        assert self.child.returncode is not None, (
            f"{self.case}: killed after {ISOLATED_RUN_TIMEOUT} s (hung)\n{self.child.stderr[-3000:]}")
        assert self.child.returncode == 0, f"{self.case}: exit {self.child.returncode}\n{self.child.stderr[-3000:]}"
        assert "Traceback" not in self.child.stdout + self.child.stderr, self.child.stderr[-3000:]
        assert self.run is not None and self.run["status"] == "completed", self.run
        assert self.alongside_stored, f"{self.case}: the normal feed beside it was not stored"

    def assert_read_or_a_clear_parse_failure(self, page: str) -> None:
        """The run completed, and the feed was either read (its one page
        stored) or recorded as "not a feed"."""
        self.assert_run_completed()
        if self.feed["last_error"] is None:
            assert set(self.articles) == {page}
            assert self.feed["last_status"] == 200
        else:
            assert self.feed["last_error_kind"] == "parse"
            assert self.feed["last_error"].startswith("not a feed"), self.feed["last_error"]


@pytest.fixture(scope="module")
def hostile_server():
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def isolated_run(engine, prefect_server, hostile_server, tmp_path_factory):
    """``isolated_run(case)``: newsflow ingest over that case's feed and its
    ``alongside-<case>`` feed, once per case and module."""
    from tests.conftest import child_ingest_env

    runs: dict[str, IsolatedRun] = {}
    base = hostile_server.base_url

    def run(case: str) -> IsolatedRun:
        if case in runs:
            return runs[case]
        folder = tmp_path_factory.mktemp(f"isolated-{case}")
        feed_list = folder / "feeds.yaml"
        urls = {case: f"{base}/feed/{case}.xml", "alongside": f"{base}/feed/alongside-{case}.xml"}
        feed_list.write_text("feeds:\n" + "".join(f"  - url: {url}\n    name: {name}\n" for name, url in urls.items()))
        env = child_ingest_env(base, folder / "data", retries="2", retry_backoff="0.1",
                               total_timeout="3", read_timeout="2")
        env["COLUMNS"] = "500"  # no wrapping in what the human-readable output shows
        hits_before = dict(hostile_server.state.hits)
        # The markup case runs as a person would, without --json: its summary
        # prints the recorded failures, URLs with brackets among them.
        extra = [] if case == "rich-markup-titles" else ["--json"]
        child = run_child(["ingest", "--feeds", str(feed_list), *extra], env,
                          timeout=ISOLATED_RUN_TIMEOUT, address_space=ISOLATED_RUN_ADDRESS_SPACE)
        with engine.connect() as conn:
            run_row = conn.execute(text("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT 1")).mappings().first()
            feeds = {row["name"]: dict(row) for row in conn.execute(
                text("SELECT * FROM feeds WHERE url = ANY(:urls) OR previous_url = ANY(:urls)"),
                {"urls": list(urls.values())},
            ).mappings()}
            case_feed = feeds.get(case)
            articles = {
                row["canonical_url"].removeprefix(base): dict(row) for row in conn.execute(text(
                    "SELECT a.canonical_url, a.title, a.text, a.dateline, r.charset_used"
                    " FROM articles a LEFT JOIN raw_pages r ON r.article_id = a.id WHERE a.feed_id = :feed"
                ), {"feed": case_feed["id"] if case_feed else -1}).mappings()
            }
            failures = {
                row["url"]: dict(row) for row in conn.execute(
                    text("SELECT url, stage, error FROM fetch_failures WHERE feed_id = :feed"),
                    {"feed": case_feed["id"] if case_feed else -1},
                ).mappings()
            }
            alongside_stored = conn.execute(
                text("SELECT count(*) FROM articles WHERE canonical_url = :url"),
                {"url": f"{base}/page/good-alongside-{case}.html"},
            ).scalar() == 1
        hits = {path: count - hits_before.get(path, 0) for path, count in hostile_server.state.hits.items()
                if count > hits_before.get(path, 0)}
        runs[case] = IsolatedRun(case, base, child, dict(run_row) if run_row else None, case_feed,
                                 articles, failures, alongside_stored, hits)
        return runs[case]

    return run


def test_isolated_cases_are_all_tested():
    tested = {"invalid-host-links", "retry-after-superscript", "char-ref-past-unicode", "nul-titles",
              "charset-punycode", "charset-binary-codecs", "dateline-backtracking", "huge-vocabulary",
              "body-is-local-path", "body-is-dev-zero", "rich-markup-titles",
              "feed-charset-punycode", "expires-past-year-9999", "retry-after-past-year-9999"}
    assert set(ISOLATED_FEED_CASES) == tested


def test_entry_links_with_invalid_host_or_port_are_recorded_failures(isolated_run):
    case = isolated_run("invalid-host-links")
    case.assert_run_completed()
    assert set(case.articles) == {"/page/good-invalid-host-1.html", "/page/good-invalid-host-2.html"}
    recorded = {url for url, row in case.failures.items() if row["error"]}
    assert any("999.0.0.1" in url for url in recorded), case.failures
    assert any("x.example:abc" in url for url in recorded), case.failures
    assert case.feed["consecutive_failures"] == 0


def test_non_ascii_digit_in_retry_after_counts_as_no_retry_after(isolated_run):
    case = isolated_run("retry-after-superscript")
    case.assert_run_completed()
    # Asked again after the usual back-off, then read as any feed.
    assert case.hits["/feed/retry-after-superscript.xml"] == 2
    assert (case.feed["last_status"], case.feed["last_error"], case.feed["consecutive_failures"]) == (200, None, 0)
    assert set(case.articles) == {"/page/good-retry-after-superscript.html"}


def test_character_reference_past_unicode_is_read_or_a_clear_parse_failure(isolated_run):
    isolated_run("char-ref-past-unicode").assert_read_or_a_clear_parse_failure("/page/good-char-ref.html")


def test_nul_in_feed_entry_and_page_titles_is_dropped(isolated_run):
    case = isolated_run("nul-titles")
    case.assert_run_completed()
    article = case.articles["/page/nul-title.html"]
    assert "\x00" not in article["title"] and article["title"].startswith("Harbour"), article["title"]
    assert "Nul story." in article["text"]
    assert case.feed["title"] is not None and "\x00" not in case.feed["title"]
    assert "with a NUL" in case.feed["title"]


@pytest.mark.parametrize(
    ("case_name", "labels"),
    [("charset-punycode", ["punycode"]), ("charset-binary-codecs", ["rot13", "uu_codec", "undefined"])],
)
def test_page_declaring_a_non_text_codec_is_decoded_as_undeclared(isolated_run, case_name, labels):
    assert set(labels) <= set(NON_TEXT_CHARSETS)
    case = isolated_run(case_name)
    case.assert_run_completed()
    for label in labels:
        path = f"/page/charset-{label}.html"
        if path in case.articles:
            article = case.articles[path]
            assert f"Charset {label}." in article["text"]
            assert article["charset_used"] not in {"punycode", "rot-13", "uu", "undefined"}
        else:
            assert case.base + path in case.failures, f"{path}: neither stored nor recorded"


def test_backtracking_dateline_pattern_finishes(isolated_run):
    case = isolated_run("dateline-backtracking")
    case.assert_run_completed()
    article = case.articles["/page/dateline-backtracking.html"]
    assert "said the harbour would stay closed" in article["text"]
    assert article["dateline"] is None


def test_huge_vocabulary_article_costs_only_itself(isolated_run):
    case = isolated_run("huge-vocabulary")
    case.assert_run_completed()
    normal = {"/page/good-huge-vocabulary-1.html", "/page/good-huge-vocabulary-2.html"}
    assert normal <= set(case.articles)
    huge = "/page/huge-vocabulary.html"
    # Stored (its search vector cut down) or recorded; never neither.
    assert (huge in case.articles) != (case.base + huge in case.failures), (set(case.articles), case.failures)
    assert case.run["articles_new"] >= 2


@pytest.mark.parametrize("case_name", ["body-is-local-path", "body-is-dev-zero"])
def test_feed_body_naming_a_local_file_is_not_a_feed(isolated_run, case_name):
    case = isolated_run(case_name)
    case.assert_run_completed()
    assert case.feed["last_error_kind"] == "parse"
    assert case.feed["last_error"].startswith("not a feed"), case.feed["last_error"]
    assert case.articles == {} and case.failures == {}
    # The local feed's entries (root-relative links) were never asked for.
    assert LOCAL_FEED_FILE.exists()
    assert not any(path.startswith("/2021/") for path in case.hits), case.hits


def test_markup_and_escapes_in_titles_are_text(isolated_run):
    case = isolated_run("rich-markup-titles")
    case.assert_run_completed()
    article = case.articles["/page/rich-markup.html"]
    assert "[/]" in article["title"] and "[link=https://evil.example]x[/link]" in article["title"]
    # The summary printed the failing URL, brackets and all, as text.
    assert any("[/]" in url or "%5B/%5D" in url for url in case.failures), case.failures
    assert "recorded errors" in case.child.stdout
    assert "\x1b" not in case.child.stdout


def test_markup_and_escapes_in_titles_show_as_text_in_search(isolated_run, tmp_path):
    from tests.conftest import child_ingest_env

    case = isolated_run("rich-markup-titles")
    assert "/page/rich-markup.html" in case.articles
    env = {**child_ingest_env(case.base, tmp_path / "data"), "COLUMNS": "500"}
    search = run_child(["search", "Markup story", "--all-copies"], env, timeout=ISOLATED_RUN_TIMEOUT)
    assert search.returncode == 0, search.stderr[-3000:]
    assert "[link=https://evil.example]x[/link]" in search.stdout and "[/]" in search.stdout
    assert "\x1b" not in search.stdout


def test_feed_declaring_a_non_text_charset_is_read_or_a_clear_parse_failure(isolated_run):
    isolated_run("feed-charset-punycode").assert_read_or_a_clear_parse_failure(
        "/page/good-feed-charset-punycode.html"
    )


def test_expires_past_year_9999_is_a_far_next_fetch(isolated_run):
    case = isolated_run("expires-past-year-9999")
    case.assert_run_completed()
    assert set(case.articles) == {"/page/good-expires.html"}
    assert (case.feed["last_error"], case.feed["consecutive_failures"]) == (None, 0)
    assert case.feed["next_fetch_at"] > case.feed["last_fetched_at"]


def test_retry_after_date_past_year_9999_is_read_as_no_retry_after(isolated_run):
    case = isolated_run("retry-after-past-year-9999")
    case.assert_run_completed()
    # No date at all, as any unreadable Retry-After: the 503 is retried after
    # the usual back-off, and the second answer is read.
    assert case.hits["/feed/retry-after-past-year-9999.xml"] == 2
    assert (case.feed["last_error"], case.feed["last_status"]) == (None, 200)
    assert set(case.articles) == {"/page/good-retry-after-date.html"}
