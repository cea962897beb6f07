"""The schema and the loaders on a real PostgreSQL."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from pipeline.dedup import content_hash
from pipeline.enrich.normalise import EntityMention
from pipeline.neardup import fingerprint
from pipeline.records import ArticleRecord, EntryFailure
from pipeline.store import (
    articles as article_store,
    entities as entity_store,
    entries as entry_store,
    feeds as feed_store,
    site_lines as site_line_store,
    runs,
)
from pipeline.store.engine import sqlstate
from pipeline.store.migrate import current_revision, head_revision, upgrade
from pipeline.store.models import metadata

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=15)


def record(url: str, body: str, published: datetime | None = None, feed_id=None) -> ArticleRecord:
    return ArticleRecord(
        canonical_url=url, url=url, feed_id=feed_id, title=f"Title of {url}", text=body,
        author=None, published_at=published, language="en", site_name=None,
        dateline=None, agency=None, content_hash=content_hash(body), html_gzip=gzip.compress(b"<p>x</p>"),
        fingerprint=fingerprint(body),
        final_url=url,
    )


def test_migrations_match_the_models(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert differences == []


def test_upgrade_is_idempotent(engine):
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    assert current_revision(engine) == head_revision()


def test_same_text_joins_one_story_and_earliest_leads(clean_db):
    body = "A wire story told the same way by two outlets. " * 5
    late = record("https://b.example/story", body, datetime(2021, 3, 18, 12, tzinfo=UTC))
    early = record("https://a.example/story", body.replace("way", "way"), datetime(2021, 3, 18, 9, tzinfo=UTC))
    other = record("https://a.example/other", "Something else entirely happened today. " * 5)
    with clean_db.begin() as conn:
        outcome = article_store.store_articles(conn, [late, early, other])
    assert (len(outcome.inserted), outcome.new_stories, outcome.copies) == (3, 2, 1)
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.canonical_url, a.is_canonical, s.article_count, s.canonical_article_id = a.id"
            " FROM articles a JOIN stories s ON s.id = a.story_id ORDER BY a.canonical_url"
        )).all()
    assert rows == [
        ("https://a.example/other", True, 1, True),
        ("https://a.example/story", True, 2, True),
        ("https://b.example/story", False, 2, False),
    ]


def test_storing_twice_adds_nothing(clean_db):
    batch = [record(f"https://a.example/{n}", f"Story number {n} with enough words. " * 5) for n in range(3)]
    with clean_db.begin() as conn:
        article_store.store_articles(conn, batch)
    with clean_db.begin() as conn:
        again = article_store.store_articles(conn, batch)
    assert again.inserted == [] and again.already_stored == 3
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM stories")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM raw_pages")).scalar() == 3


def test_a_copy_takes_the_entities_of_its_story(clean_db):
    body = "Antony Blinken spoke in Seoul about North Korea. " * 5
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [
            record("https://a.example/1", body, datetime(2021, 3, 18, 9, tzinfo=UTC)),
            record("https://b.example/1", body, datetime(2021, 3, 18, 10, tzinfo=UTC)),
        ])
    with clean_db.begin() as conn:
        pending = entity_store.claim_pending_canonical(conn, 10)
        assert [item.id for item in pending] == [1]
        entity_store.store_entities(conn, [(1, "done", [
            EntityMention("Antony Blinken", "PERSON", 5, False),
            EntityMention("North Korea", "GPE", 5, False),
        ])])
    with clean_db.begin() as conn:
        assert entity_store.copy_entities_to_copies(conn) == 1
        assert entity_store.copy_entities_to_copies(conn) == 0
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.canonical_url, e.name, a.entities_status FROM article_entities ae"
            " JOIN entities e ON e.id = ae.entity_id JOIN articles a ON a.id = ae.article_id"
            " ORDER BY 1, 2"
        )).all()
    assert rows == [
        ("https://a.example/1", "Antony Blinken", "done"),
        ("https://a.example/1", "North Korea", "done"),
        ("https://b.example/1", "Antony Blinken", "copied"),
        ("https://b.example/1", "North Korea", "copied"),
    ]


def test_failures_count_attempts_and_clear_on_success(clean_db):
    with clean_db.begin() as conn:
        feed_id = feed_store.upsert_feeds(conn, [("https://a.example/rss", "A")])["https://a.example/rss"]
        entry_store.record_failures(conn, [EntryFailure("https://a.example/x", feed_id, "fetch", "http", "HTTP 503")])
        entry_store.record_failures(conn, [EntryFailure("https://a.example/x", feed_id, "fetch", "timeout", "timed out after 30 s")])
        assert entry_store.retryable_failures(conn, [feed_id], max_attempts=5) == [("https://a.example/x", feed_id)]
        assert entry_store.retryable_failures(conn, [feed_id], max_attempts=2) == []
        row = conn.execute(text("SELECT error, attempts FROM fetch_failures")).one()
        assert tuple(row) == ("timed out after 30 s", 2)
        entry_store.clear_failures(conn, ["https://a.example/x"])
        assert conn.execute(text("SELECT count(*) FROM fetch_failures")).scalar() == 0


def test_upsert_feeds_keeps_state_and_names(clean_db):
    with clean_db.begin() as conn:
        first = feed_store.upsert_feeds(conn, [("https://a.example/rss", "A")])
        feed_store.record_feed_failure(
            conn, first["https://a.example/rss"], error="HTTP 500", kind="http", status=500,
            interval=timedelta(minutes=30), max_interval=timedelta(hours=24),
        )
        second = feed_store.upsert_feeds(conn, [("https://a.example/rss", None), ("https://b.example/rss", "B")])
        assert second["https://a.example/rss"] == first["https://a.example/rss"]
        row = conn.execute(text(
            "SELECT name, consecutive_failures, last_error FROM feeds WHERE url = 'https://a.example/rss'"
        )).one()
    assert tuple(row) == ("A", 1, "HTTP 500")


def _feed_state(conn, url):
    return conn.execute(text(
        "SELECT consecutive_failures, round(extract(epoch FROM next_fetch_at - last_fetched_at)) AS wait,"
        " disabled, disabled_reason, last_error_kind, last_status FROM feeds WHERE url = :url"
    ), {"url": url}).mappings().one()


def test_failing_feed_backs_off_exponentially_up_to_the_cap_and_is_never_dropped(clean_db):
    url = "https://a.example/rss"
    with clean_db.begin() as conn:
        feed_id = feed_store.upsert_feeds(conn, [(url, "A")])[url]
        waits = []
        for _ in range(8):
            feed_store.record_feed_failure(
                conn, feed_id, error="HTTP 503 (after 3 attempts)", kind="http", status=503,
                interval=timedelta(minutes=30), max_interval=timedelta(hours=24),
            )
            waits.append(_feed_state(conn, url)["wait"])
        state = _feed_state(conn, url)
    assert waits == [1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400]
    assert state["consecutive_failures"] == 8
    assert state["disabled"] is False
    assert (state["last_error_kind"], state["last_status"]) == ("http", 503)


def test_gone_feed_is_disabled_with_its_reason(clean_db):
    url = "https://a.example/gone.xml"
    with clean_db.begin() as conn:
        feed_id = feed_store.upsert_feeds(conn, [(url, None)])[url]
        feed_store.record_feed_failure(
            conn, feed_id, error="HTTP 410", kind="http", status=410,
            interval=timedelta(minutes=30), max_interval=timedelta(hours=24), disable=True,
        )
        state = _feed_state(conn, url)
        assert feed_store.claim_feeds(conn, runs.start_run(conn, None), lease=LEASE, force=True) == []
    assert state["disabled"] is True
    assert state["disabled_reason"] == "HTTP 410"


def test_only_due_feeds_are_claimed_unless_forced_and_a_leased_feed_is_skipped(clean_db):
    with clean_db.begin() as conn:
        ids = feed_store.upsert_feeds(conn, [("https://a.example/1", None), ("https://a.example/2", None)])
        feed_store.record_feed_success(
            conn, ids["https://a.example/1"], status=200, title="One", etag='"e"', last_modified=None,
            next_fetch_at=datetime.now(UTC) + timedelta(minutes=30),
        )
        first, second, third = (runs.start_run(conn, None) for _ in range(3))
        due = [(row[1], row[4]) for row in feed_store.claim_feeds(conn, first, lease=LEASE)]
        # Feed 2 is leased by the first run: even a forced run leaves it alone.
        forced = [row[1] for row in feed_store.claim_feeds(conn, second, lease=LEASE, force=True)]
        feed_store.release_leases(conn, first)
        feed_store.release_leases(conn, second)
        listed = [row[1] for row in feed_store.claim_feeds(
            conn, third, lease=LEASE, ids=[ids["https://a.example/1"]], force=True)]
        holders = dict(conn.execute(text("SELECT url, leased_by FROM feeds")).all())
    assert due == [("https://a.example/2", True)]
    assert forced == ["https://a.example/1"]
    assert listed == ["https://a.example/1"]
    assert holders == {"https://a.example/1": third, "https://a.example/2": None}


def test_a_feed_with_entries_to_retry_is_claimed_but_not_due(clean_db):
    with clean_db.begin() as conn:
        ids = feed_store.upsert_feeds(conn, [("https://a.example/1", None)])
        feed_store.record_feed_success(
            conn, ids["https://a.example/1"], status=200, title="One", etag=None, last_modified=None,
            next_fetch_at=datetime.now(UTC) + timedelta(minutes=30),
        )
        run = runs.start_run(conn, None)
        assert feed_store.claim_feeds(conn, run, lease=LEASE, max_attempts=3) == []
        entry_store.record_failures(
            conn, [EntryFailure("https://a.example/x", ids["https://a.example/1"], "fetch", "http", "HTTP 503")])
        claimed = feed_store.claim_feeds(conn, run, lease=LEASE, max_attempts=3)
    assert [(row[1], row[4]) for row in claimed] == [("https://a.example/1", False)]


def wait_until_session_ended(engine, pid: int, timeout: float = 10.0) -> None:
    """A closed connection's server process ends a moment later, and with it
    the locks it held: wait for that, not for a fixed time."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first():
                return
        time.sleep(0.02)
    raise AssertionError(f"session {pid} still alive after {timeout} s")


def test_a_dead_runs_feeds_are_claimed_at_once_and_it_reads_abandoned(clean_db):
    """A run lives as long as its session: no clock to wait out after a kill."""
    from pipeline.query import recent_runs

    holder = clean_db.connect()
    with holder.begin():
        feed_store.upsert_feeds(holder, [("https://a.example/1", None)])
        dead = runs.start_run(holder, None)
        assert len(feed_store.claim_feeds(holder, dead, lease=LEASE)) == 1
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with clean_db.begin() as conn:
        other = runs.start_run(conn, None)
        assert feed_store.claim_feeds(conn, other, lease=LEASE) == []  # alive: its feed is its own
        assert runs.feeds_held_by_others(conn, other) == [(dead, recent_runs(conn)[-1]["started_at"], 1)]
    # The process is killed: its session ends, the lease has 15 minutes to run.
    holder.invalidate()
    holder.close()
    wait_until_session_ended(clean_db, holder_pid)
    with clean_db.begin() as conn:
        shown = {row["id"]: row["status"] for row in recent_runs(conn)}
        live = runs.start_run(conn, None)
        claimed = feed_store.claim_feeds(conn, live, lease=LEASE)
        statuses = dict(conn.execute(text("SELECT id, status FROM ingest_runs")).all())
    assert shown[dead] == "abandoned"  # at once, before any later run says so
    assert [row[1] for row in claimed] == ["https://a.example/1"]
    assert statuses == {dead: "abandoned", other: "running", live: "running"}


def test_a_live_run_whose_lease_lapsed_loses_its_feeds_but_stays_running(clean_db):
    """The lease time is the backstop for a run that is alive but stuck."""
    with clean_db.begin() as conn:
        feed_store.upsert_feeds(conn, [("https://a.example/1", None)])
        stuck = runs.start_run(conn, None)
        assert len(feed_store.claim_feeds(conn, stuck, lease=LEASE)) == 1
        conn.execute(text("UPDATE feeds SET lease_until = now() - interval '1 minute'"))
        live = runs.start_run(conn, None)
        claimed = feed_store.claim_feeds(conn, live, lease=LEASE)
        statuses = dict(conn.execute(text("SELECT id, status FROM ingest_runs")).all())
    assert [row[1] for row in claimed] == ["https://a.example/1"]
    assert statuses == {stuck: "running", live: "running"}


def test_a_claim_in_progress_is_skipped_not_waited_for(clean_db):
    with clean_db.begin() as conn:
        feed_store.upsert_feeds(conn, [(f"https://a.example/{n}", None) for n in range(4)])
        first, second = runs.start_run(conn, None), runs.start_run(conn, None)
    with clean_db.connect() as one, clean_db.connect() as other:
        with one.begin():
            taken = feed_store.claim_feeds(one, first, lease=LEASE)
            # Not committed yet: the rows are locked, the other run skips them at once.
            with other.begin():
                other.execute(text("SET LOCAL lock_timeout = '2s'"))
                assert feed_store.claim_feeds(other, second, lease=LEASE) == []
        with other.begin():
            assert feed_store.claim_feeds(other, second, lease=LEASE) == []
    assert len(taken) == 4


def test_permanent_redirect_moves_the_feed_unless_the_target_is_stored(clean_db):
    with clean_db.begin() as conn:
        ids = feed_store.upsert_feeds(conn, [("https://old.example/rss", None), ("https://taken.example/rss", None)])
        assert feed_store.move_feed(conn, ids["https://old.example/rss"], "https://new.example/rss")
        assert not feed_store.move_feed(conn, ids["https://old.example/rss"], "https://taken.example/rss")
        urls = sorted(row[0] for row in conn.execute(text("SELECT url FROM feeds")))
        # A feed list that still names the old URL finds the moved feed.
        again = feed_store.upsert_feeds(conn, [("https://old.example/rss", "Old name")])
        assert again == {"https://old.example/rss": ids["https://old.example/rss"]}
        assert conn.execute(text("SELECT count(*) FROM feeds")).scalar() == 2
    assert urls == ["https://new.example/rss", "https://taken.example/rss"]


def test_site_lines_count_once_per_stored_page_and_learn_past_the_threshold(clean_db):
    from pipeline.clean import site_lines

    note = "Subscribe to the Harbour Gazette print edition for €5 a month."
    topics = ["the ferry timetable", "a new fish market", "dredging the harbour mouth"]

    def page(n: int) -> ArticleRecord:
        # Three different stories of one site, each ending with the same line.
        body = " ".join(f"Report {n}, part {part}: the council discussed {topics[n - 1]} at length."
                        for part in range(30)) + f"\n{note}"
        return replace(record(f"https://harbour.example/{n}", body), site="harbour.example",
                       site_lines=site_lines(body))

    with clean_db.begin() as conn:
        article_store.store_articles(conn, [page(1), page(2)])
        assert site_line_store.learned_site_lines(conn, ["harbour.example"], min_support=3) == {}
        article_store.store_articles(conn, [page(1), page(2)])  # already stored: not counted again
        assert site_line_store.learned_site_lines(conn, ["harbour.example"], min_support=3) == {}
        article_store.store_articles(conn, [page(3)])
        learned = site_line_store.learned_site_lines(conn, ["harbour.example", "other.example"], min_support=3)
        # A copy of a stored story on the same site is not furniture evidence.
        article_store.store_articles(conn, [replace(page(3), canonical_url="https://harbour.example/3-again",
                                           url="https://harbour.example/3-again")])
        support = conn.execute(text("SELECT support FROM site_boilerplate WHERE text = :t"), {"t": note}).scalar()
    assert support == 3
    from pipeline.clean import LearnedLines, line_key

    # Learned on three pages; not yet common (three pages are too few to judge a share by).
    assert learned == {"harbour.example": LearnedLines(frozenset({line_key(note)}))}


def test_story_assignment_waits_for_a_concurrent_batch_and_joins_its_story(clean_db):
    """Run B stores a near copy while run A's batch with the original is not
    committed yet: B must wait for A, then join A's story, not start its own."""
    import threading
    import time

    body = " ".join(f"Sentence number {n} of the wire story about the harbour strike." for n in range(60))
    near = body.rsplit(" Sentence number 59", 1)[0] + " Advertisement"
    original = record("https://a.example/original", body, datetime(2021, 3, 18, 9, tzinfo=UTC))
    copy = record("https://b.example/copy", near, datetime(2021, 3, 18, 10, tzinfo=UTC))
    assert original.content_hash != copy.content_hash

    done = threading.Event()

    def run_b():
        with clean_db.begin() as conn_b:
            article_store.store_articles(conn_b, [copy])
        done.set()

    with clean_db.begin() as conn_a:
        article_store.store_articles(conn_a, [original])
        worker = threading.Thread(target=run_b)
        worker.start()
        time.sleep(1.0)
        assert not done.is_set(), "run B did not wait for run A's uncommitted story"
    worker.join(timeout=30)
    assert done.is_set()
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT canonical_url, story_id, match_kind FROM articles ORDER BY canonical_url"
        )).all()
    assert rows[0].story_id == rows[1].story_id
    assert [row.match_kind for row in rows] == ["new", "near"]


def test_an_article_matching_two_stories_merges_them_into_the_older(clean_db):
    sentences = [f"Line {n} tells part {n} of the long report on the port authority budget." for n in range(140)]
    first_half = " ".join(sentences[:80])
    second_half = " ".join(sentences[60:])
    whole = " ".join(sentences)
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record("https://a.example/1", first_half, datetime(2021, 3, 18, 9, tzinfo=UTC))])
        article_store.store_articles(conn, [record("https://b.example/2", second_half, datetime(2021, 3, 18, 10, tzinfo=UTC))])
        assert conn.execute(text("SELECT count(*) FROM stories")).scalar() == 2
        article_store.store_articles(conn, [record("https://c.example/3", whole, datetime(2021, 3, 18, 11, tzinfo=UTC))])
    with clean_db.connect() as conn:
        stories = conn.execute(text("SELECT id, article_count, canonical_article_id FROM stories")).all()
        members = conn.execute(text("SELECT id, story_id, is_canonical FROM articles ORDER BY id")).all()
    assert [(story.id, story.article_count, story.canonical_article_id) for story in stories] == [(1, 3, 1)]
    assert [(m.id, m.story_id, m.is_canonical) for m in members] == [(1, 1, True), (2, 1, False), (3, 1, False)]


def _mixed_batch() -> list[ArticleRecord]:
    """Exact and near copies, a copy of a copy, an article bridging two
    stories and a URL given twice, in one batch (listed out of order)."""
    sentences = [f"Line {n} tells part {n} of the long report on the port authority budget." for n in range(140)]
    wire = " ".join(f"Sentence number {n} of the wire story about the harbour strike." for n in range(60))
    at = [datetime(2021, 3, 18, hour, tzinfo=UTC) for hour in range(24)]
    return [
        record("https://c.example/bridge", " ".join(sentences), at[11]),
        record("https://a.example/first-half", " ".join(sentences[:80]), at[9]),
        record("https://b.example/second-half", " ".join(sentences[60:]), at[10]),
        record("https://d.example/wire", wire, at[5]),
        record("https://e.example/wire-cut", wire.rsplit(" Sentence number 59", 1)[0] + " Advertisement", at[6]),
        record("https://f.example/wire-again", wire, at[7]),
        record("https://g.example/wire-cut-again", wire.rsplit(" Sentence number 59", 1)[0] + " Advertisement", at[8]),
        record("https://a.example/first-half", " ".join(sentences[:80]), at[9]),
        record("https://h.example/other", "Something else entirely happened at the harbour today. " * 12, at[4]),
        record("https://i.example/undated", "An undated note about the ferry timetable changes. " * 12),
    ]


def _story_view(conn) -> list[tuple]:
    """Every article's story membership and match, by URL, not by id."""
    return conn.execute(text(
        "SELECT a.canonical_url, a.match_kind, m.canonical_url AS matched, a.match_score, a.is_canonical,"
        " s.article_count, (SELECT array_agg(o.canonical_url ORDER BY o.canonical_url) FROM articles o"
        "                   WHERE o.story_id = a.story_id) AS members,"
        " (SELECT c.canonical_url FROM articles c WHERE c.id = s.canonical_article_id) AS canonical"
        " FROM articles a JOIN stories s ON s.id = a.story_id LEFT JOIN articles m ON m.id = a.matched_article_id"
        " ORDER BY a.canonical_url"
    )).all()


@pytest.mark.parametrize("stored_before", [0, 1, 4])
def test_a_batch_stores_the_same_stories_as_its_articles_one_at_a_time(clean_db, stored_before):
    """store_articles writes a batch in a few statements and assigns its
    stories in memory; the result must equal storing the articles one per
    call in publication order (which sees each earlier one in the database),
    also when part of the batch was stored before."""
    batch = _mixed_batch()
    ordered = sorted(batch, key=lambda r: (r.published_at or datetime.max.replace(tzinfo=UTC), r.canonical_url))
    earlier = ordered[:stored_before]

    def store(batches: list[list[ArticleRecord]]) -> tuple[list[tuple], tuple[int, ...]]:
        with clean_db.begin() as conn:
            conn.execute(text("TRUNCATE articles, stories RESTART IDENTITY CASCADE"))
            article_store.store_articles(conn, earlier)
            totals = [0, 0, 0, 0, 0]
            for part in batches:
                outcome = article_store.store_articles(conn, part)
                for i, value in enumerate((len(outcome.inserted), outcome.new_stories, outcome.copies,
                                           outcome.near_copies, outcome.already_stored)):
                    totals[i] += value
            return _story_view(conn), tuple(totals)

    at_once, at_once_counts = store([batch])
    one_by_one, one_by_one_counts = store([[item] for item in ordered])
    assert at_once == one_by_one
    assert at_once_counts == one_by_one_counts
    kinds = {row.canonical_url: row.match_kind for row in at_once}
    assert kinds["https://f.example/wire-again"] == "exact"
    assert kinds["https://e.example/wire-cut"] == "near"
    members = {row.canonical_url: row.members for row in at_once}
    assert members["https://c.example/bridge"] == [
        "https://a.example/first-half", "https://b.example/second-half", "https://c.example/bridge"]
    assert len(members["https://d.example/wire"]) == 4
    with clean_db.begin() as conn:
        again = article_store.store_articles(conn, batch)
        assert (again.inserted, again.already_stored) == ([], len(batch))
        assert _story_view(conn) == at_once


def test_db_check_finds_broken_invariants_and_repair_fixes_them(clean_db):
    from pipeline.store.check import repair, run_checks

    body = "A wire story told the same way by two outlets, long enough to count. " * 8
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [
            record("https://a.example/1", body, datetime(2021, 3, 18, 9, tzinfo=UTC)),
            record("https://b.example/1", body, datetime(2021, 3, 18, 10, tzinfo=UTC)),
            record("https://c.example/2", "Another story entirely, about the weather. " * 8),
        ])
        entity_store.store_entities(conn, [(1, "done", [EntityMention("Harbour Board", "ORG", 2, False)])])
        assert set(run_checks(conn).values()) == {0, 1}  # the copy still lacks its entities
        assert run_checks(conn)["copy-without-entities"] == 1
        # Break every invariant the way a bug or a crash might.
        conn.execute(text("UPDATE articles SET story_id = NULL WHERE canonical_url = 'https://c.example/2'"))
        conn.execute(text("UPDATE stories SET article_count = 5 WHERE id = 1"))
        conn.execute(text("UPDATE articles SET is_canonical = false WHERE id = 1"))
        conn.execute(text("DELETE FROM article_fingerprints WHERE article_id = 2"))
        conn.execute(text("INSERT INTO entities (name, label) VALUES ('Nobody', 'PERSON')"))
        ids = feed_store.upsert_feeds(conn, [("https://a.example/dead.xml", None), ("https://a.example/live.xml", None)])
        dead, live = runs.start_run(conn, None), runs.start_run(conn, None)
        feed_store.claim_feeds(conn, dead, lease=LEASE, ids=[ids["https://a.example/dead.xml"]])
        feed_store.claim_feeds(conn, live, lease=LEASE, ids=[ids["https://a.example/live.xml"]])
        conn.execute(text("UPDATE feeds SET lease_until = now() - interval '1 minute' WHERE leased_by = :run"),
                     {"run": dead})
        found = run_checks(conn)
    assert found == {
        "article-without-story": 1, "story-count-mismatch": 2, "empty-story": 1, "canonical-mismatch": 2,
        "article-without-fingerprint": 1, "orphan-entity": 1, "copy-without-entities": 1, "stale-lease": 1,
    }
    with clean_db.begin() as conn:
        repaired = repair(conn)
        assert set(run_checks(conn).values()) == {0}
        bands = conn.execute(text("SELECT count(*) FROM article_bands WHERE article_id = 2")).scalar()
    assert repaired["article-without-story"] == 1 and repaired["orphan-entity"] == 1
    assert repaired["stale-lease"] == 1  # the live run keeps its lease
    assert bands == 64


def test_the_agency_own_copy_leads_its_story_even_when_published_later(clean_db):
    body = "Reporters said the harbour strike ended after talks through the night. " * 8
    outlet = replace(record("https://daily.example/strike", body, datetime(2021, 3, 18, 9, tzinfo=UTC)),
                     agency="reuters", site_name="The Daily")
    agency = replace(record("https://www.reuters.com/world/strike", body, datetime(2021, 3, 18, 10, tzinfo=UTC)),
                     agency="reuters", site_name=None)
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [outlet, agency])
        leader = conn.execute(text(
            "SELECT a.canonical_url FROM stories s JOIN articles a ON a.id = s.canonical_article_id")).scalar()
    assert leader == "https://www.reuters.com/world/strike"


def _words_beyond_the_tsvector_limit() -> str:
    """Distinct made-up words enough for a search vector over PostgreSQL's
    1 MiB limit (about 1.3 million characters)."""
    letters = "bcdfghjklmnpqrstvwxz"
    words = []
    for number in range(160_000):
        word = ""
        for _ in range(6):
            number, digit = divmod(number, len(letters))
            word += letters[digit]
        words.append(word + "a")
    return " ".join(words)


def test_a_row_the_database_refuses_costs_that_article_not_its_batch(clean_db):
    body = "Harbour workers ended their strike after talks that lasted through the night. " * 6
    normal = [record(f"https://a.example/{n}", body.replace("night", f"night {n} {'x' * n}"),
                     datetime(2021, 3, 18, n, tzinfo=UTC)) for n in range(1, 4)]
    huge = record("https://a.example/huge", _words_beyond_the_tsvector_limit(), datetime(2021, 3, 18, 2, tzinfo=UTC))
    with clean_db.begin() as conn:
        outcome, refused = article_store.store_articles_isolated(conn, [*normal, huge])
        stored = conn.execute(text("SELECT canonical_url FROM articles ORDER BY canonical_url")).scalars().all()
    assert stored == [item.canonical_url for item in normal]
    assert len(outcome.inserted) == 3
    assert [(item.canonical_url, sqlstate(error)) for item, error in refused] == [("https://a.example/huge", "54000")]


def test_a_batch_of_good_rows_is_stored_in_one_go(clean_db):
    body = "Harbour workers ended their strike after talks that lasted through the night. " * 6
    with clean_db.begin() as conn:
        outcome, refused = article_store.store_articles_isolated(conn, [record("https://a.example/1", body)])
    assert refused == [] and len(outcome.inserted) == 1


def test_a_nul_the_driver_refuses_costs_that_article_not_its_batch(clean_db):
    body = "Harbour workers ended their strike after talks that lasted through the night. " * 6
    good = record("https://a.example/good", body)
    bad = replace(record("https://a.example/nul", body.replace("night", "day")), title="A title with a \x00 in it")
    with clean_db.begin() as conn:
        outcome, refused = article_store.store_articles_isolated(conn, [good, bad])
    assert len(outcome.inserted) == 1
    assert [item.canonical_url for item, _ in refused] == ["https://a.example/nul"]


def test_a_copy_whose_headline_names_an_entity_by_an_alias_has_it_in_title(clean_db):
    """One rule for new articles and copies: name or alias, whole word, any case."""
    body = "Antony Blinken spoke in Seoul about North Korea. Blinken said talks go on. " * 4
    canonical = replace(record("https://a.example/1", body, datetime(2021, 3, 18, 9, tzinfo=UTC)),
                        title="Talks on North Korea")
    copy = replace(record("https://b.example/1", body, datetime(2021, 3, 18, 10, tzinfo=UTC)),
                   title="BLINKEN in Seoul")
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [canonical, copy])
        entity_store.store_entities(conn, [(1, "done", [
            EntityMention("Antony Blinken", "PERSON", 8, False, aliases=("Antony Blinken", "Blinken")),
            EntityMention("North Korea", "GPE", 4, True),
        ])])
        entity_store.copy_entities_to_copies(conn)
        rows = conn.execute(text(
            "SELECT a.canonical_url, e.name, ae.in_title FROM article_entities ae"
            " JOIN entities e ON e.id = ae.entity_id JOIN articles a ON a.id = ae.article_id ORDER BY 1, 2"
        )).all()
    assert rows == [
        ("https://a.example/1", "Antony Blinken", False), ("https://a.example/1", "North Korea", True),
        ("https://b.example/1", "Antony Blinken", True), ("https://b.example/1", "North Korea", False),
    ]


def test_what_an_article_calls_an_entity_is_stored_with_it_and_reaches_its_copies(clean_db):
    body = "Defender Hassan Abbas scored in Seoul. Abbas said the team played well. " * 4
    canonical = record("https://a.example/1", body, datetime(2021, 3, 18, 9, tzinfo=UTC))
    copy = record("https://b.example/1", body, datetime(2021, 3, 18, 10, tzinfo=UTC))
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [canonical, copy])
        entity_store.store_entities(conn, [(1, "done", [
            EntityMention("Hassan Abbas", "PERSON", 8, False, descriptors=("defender",)),
            EntityMention("Seoul", "GPE", 4, False),
        ])])
        entity_store.copy_entities_to_copies(conn)
        rows = conn.execute(text(
            "SELECT a.canonical_url, e.name, ae.descriptors FROM article_entities ae"
            " JOIN entities e ON e.id = ae.entity_id JOIN articles a ON a.id = ae.article_id ORDER BY 1, 2"
        )).all()
    assert rows == [
        ("https://a.example/1", "Hassan Abbas", ["defender"]), ("https://a.example/1", "Seoul", []),
        ("https://b.example/1", "Hassan Abbas", ["defender"]), ("https://b.example/1", "Seoul", []),
    ]


def filed(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT a.canonical_url, e.name, e.label, ae.own_label FROM article_entities ae"
            " JOIN entities e ON e.id = ae.entity_id JOIN articles a ON a.id = ae.article_id ORDER BY 1, 2"
        )).all()


def test_a_thin_article_is_filed_under_the_type_the_entitys_articles_agree_on_until_they_change_their_minds(
        clean_db):
    from flows.enrich import file_by_agreed_type

    bodies = [f"Story {n}: Oliver Bierhoff scored twice for the side on day {n}. " * 4 for n in range(4)]
    records = [record(f"https://a.example/{n}", body, datetime(2021, 3, 18, 9 + n, tzinfo=UTC))
               for n, body in enumerate(bodies)]
    copy = record("https://b.example/3", bodies[3], datetime(2021, 3, 18, 18, tzinfo=UTC))
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [*records, copy])
        ids = dict(conn.execute(text("SELECT canonical_url, id FROM articles")).all())
        entity_store.store_entities(conn, [
            *[(ids[f"https://a.example/{n}"], "done", [EntityMention("Oliver Bierhoff", "PERSON", 3, False)])
              for n in range(3)],
            # One mention, the model's guess alone: thin evidence.
            (ids["https://a.example/3"], "done", [EntityMention("Oliver Bierhoff", "ORG", 1, False,
                                                                aliases=("Bierhoff",))]),
        ])
        entity_store.copy_entities_to_copies(conn)

    assert file_by_agreed_type(clean_db, {"oliver bierhoff"}) == 2  # the article and its copy
    assert filed(clean_db) == [
        *[(f"https://a.example/{n}", "Oliver Bierhoff", "PERSON", "PERSON") for n in range(3)],
        ("https://a.example/3", "Oliver Bierhoff", "PERSON", "ORG"),
        ("https://b.example/3", "Oliver Bierhoff", "PERSON", "ORG"),
    ]
    with clean_db.connect() as conn:
        # The ORG entity is gone; its alias went with its link.
        assert conn.execute(text("SELECT name, label FROM entities")).all() == [("Oliver Bierhoff", "PERSON")]
        assert conn.execute(text("SELECT alias FROM entity_aliases")).scalars().all() == ["Bierhoff"]
    assert file_by_agreed_type(clean_db, {"Oliver Bierhoff"}) == 0  # settled: nothing moves twice

    # The articles that said "person" are tagged again and now say otherwise,
    # by a rule: the thin article goes back to the label it gave itself.
    with clean_db.begin() as conn:
        entity_store.store_entities(conn, [
            (ids[f"https://a.example/{n}"], "done", [EntityMention("Oliver Bierhoff", "ORG", 3, False,
                                                                   label_by_rule=True)])
            for n in range(3)])
    assert file_by_agreed_type(clean_db, None) == 2
    assert {label for _, _, label, _ in filed(clean_db)} == {"ORG"}
    with clean_db.connect() as conn:
        # The PERSON entity went with its last link.
        assert conn.execute(text("SELECT name, label FROM entities")).all() == [("Oliver Bierhoff", "ORG")]


def test_names_whose_articles_agree_are_not_read_for_refiling(clean_db):
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record("https://a.example/1", "Talks in Seoul went on. " * 12)])
        entity_store.store_entities(conn, [(1, "done", [EntityMention("Seoul", "GPE", 12, False)])])
        assert entity_store.label_votes(conn, {"Seoul"}) == []
        assert entity_store.label_votes(conn, None) == []
        assert entity_store.label_votes(conn, set()) == []


def test_orphan_entities_are_not_deleted_under_a_writer_about_to_link_them(clean_db):
    with clean_db.begin() as conn:
        conn.execute(text("INSERT INTO entities (name, label) VALUES ('Seoul', 'GPE')"))  # an orphan
        article_store.store_articles(conn, [record("https://a.example/1", "Talks in Seoul went on. " * 12)])
    with clean_db.connect() as writer, clean_db.connect() as maintenance:
        with writer.begin():
            entity_store.store_entities(writer, [(1, "done", [EntityMention("Seoul", "GPE", 12, False)])])
            # Not committed: the maintenance waits rather than delete the entity under it.
            with maintenance.begin():
                maintenance.execute(text("SET LOCAL lock_timeout = '300ms'"))
                with pytest.raises(Exception, match="lock timeout"):
                    entity_store.delete_orphan_entities(maintenance)
        with maintenance.begin():
            assert entity_store.delete_orphan_entities(maintenance) == 0
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM article_entities")).scalar_one() == 1


def test_holding_a_run_again_on_its_own_session_does_not_stack_the_lock(clean_db):
    holder = clean_db.connect()
    try:
        with holder.begin():
            run = runs.start_run(holder, None)
            runs.hold_run(holder, run)
            runs.hold_run(holder, run)
            held = holder.execute(text(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
                " AND classid = :cls AND objid = :run"), {"cls": runs.RUN_LOCK_CLASS, "run": run}).scalar_one()
        with holder.begin():
            holder.execute(text("SELECT pg_advisory_unlock(:cls, :run)"), {"cls": runs.RUN_LOCK_CLASS, "run": run})
        with clean_db.connect() as other:
            alive = other.execute(text(f"SELECT {runs.run_alive(str(run))}")).scalar_one()
    finally:
        holder.invalidate()
        holder.close()
    assert held == 1
    assert alive is False  # one unlock freed it: it was taken once


def test_count_feeds_counts_each_url_once(clean_db):
    with clean_db.begin() as conn:
        assert feed_store.count_feeds(conn) == 0
        feed_store.upsert_feeds(conn, [("https://a.example/rss", None), ("https://b.example/rss", "B")])
        feed_store.upsert_feeds(conn, [("https://a.example/rss", "A")])
        assert feed_store.count_feeds(conn) == 2


def test_grant_reader_makes_an_existing_role_a_member_of_the_reader_role(engine):
    from pipeline.store.roles import READER_ROLE, grant_reader, role_exists

    # Roles belong to the whole cluster: this one lives only inside the rolled-back transaction.
    with engine.connect() as conn, conn.begin() as transaction:
        if not role_exists(conn, READER_ROLE):
            pytest.skip("the migrations ran as a user that may not create roles")
        assert not role_exists(conn, "newsflow test analyst")
        conn.execute(text('CREATE ROLE "newsflow test analyst" LOGIN'))
        assert role_exists(conn, "newsflow test analyst")
        grant_reader(conn, "newsflow test analyst")
        member = conn.execute(text(
            "SELECT pg_has_role('newsflow test analyst', :reader, 'MEMBER')"), {"reader": READER_ROLE}
        ).scalar_one()
        transaction.rollback()
    assert member


def test_refresh_planner_statistics_analyzes_every_listed_table(clean_db):
    from pipeline.store.statistics import ANALYZED_TABLES, refresh_planner_statistics

    with clean_db.begin() as conn:
        conn.execute(text("SELECT pg_stat_reset()"))
    with clean_db.begin() as conn:
        assert refresh_planner_statistics(conn) == ANALYZED_TABLES
    with clean_db.connect() as conn:
        analyzed = conn.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL ORDER BY relname"
        )).scalars().all()
    assert analyzed == sorted(ANALYZED_TABLES)


def test_a_feed_claimed_since_a_moment_is_not_claimed_again_by_a_shard_of_that_moment(clean_db):
    """The shards of one run claim each feed once between them, even when the
    first claimant has handed its lease back and left the feed due."""
    from pipeline.query import recent_runs

    with clean_db.begin() as conn:
        feed_store.upsert_feeds(conn, [("https://a.example/1", None), ("https://b.example/2", None)])
        parent = runs.start_run(conn, None)
    with clean_db.begin() as conn:
        since = runs.run_started_at(conn, parent)
        shard = runs.start_run(conn, None, parent)
        assert feed_store.claimable_feeds(conn, since=since) == [
            (1, "https://a.example/1"), (2, "https://b.example/2")]
        taken = feed_store.claim_feeds(conn, shard, lease=LEASE, ids=[1], since=since)
        feed_store.release_leases(conn, shard)  # its state unwritten: the feed is still due
        other = runs.start_run(conn, None, parent)
        left = feed_store.claimable_feeds(conn, since=since)
        again = feed_store.claim_feeds(conn, other, lease=LEASE, since=since)
        # A later run (the next tick) takes it again.
        later = feed_store.claim_feeds(conn, runs.start_run(conn, None), lease=LEASE, ids=[1])
        parents = dict(conn.execute(text("SELECT id, parent_id FROM ingest_runs")).all())
        listed = {row["id"]: row["parent_id"] for row in recent_runs(conn)}
    assert [row[0] for row in taken] == [1]
    assert left == [(2, "https://b.example/2")]
    assert [row[0] for row in again] == [2]
    assert [row[0] for row in later] == [1]
    assert parents[shard] == parents[other] == parent and parents[parent] is None
    assert listed == parents  # newsflow runs and the web app show which runs are shards of which


def test_a_host_being_claimed_is_skipped_by_the_other_claimant_until_it_commits(clean_db):
    with clean_db.connect() as one, clean_db.connect() as other:
        with one.begin():
            assert feed_store.try_lock_host(one, "a.example:443")
            with other.begin():
                assert not feed_store.try_lock_host(other, "a.example:443")
                assert feed_store.try_lock_host(other, "b.example:443")
        with other.begin():  # the first transaction ended: its lock with it
            assert feed_store.try_lock_host(other, "a.example:443")


def test_finished_runs_of_flow_runs_the_last_attempt_each(clean_db):
    with clean_db.begin() as conn:
        first = runs.start_run(conn, "flow-a")
        runs.finish_run(conn, first, "failed", {"feeds": 1}, {"failure": "boom"})
        retried = runs.start_run(conn, "flow-a")
        runs.finish_run(conn, retried, "completed", {"feeds": 2, "articles_new": 5}, {"chunks": 2})
        runs.start_run(conn, "flow-b")  # still running: not counted yet
        rows = runs.runs_of_flow_runs(conn, ["flow-a", "flow-b", "flow-c"])
    assert [(row["id"], row["status"], row["feeds"], row["articles_new"], row["details"]) for row in rows] == [
        (retried, "completed", 2, 5, {"chunks": 2})]
