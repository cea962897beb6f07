"""The schema and the loaders on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from pipeline.dedup import content_hash
from pipeline.enrich import EntityMention
from pipeline.store import load
from pipeline.store.migrate import current_revision, head_revision, upgrade
from pipeline.store.models import metadata

pytestmark = pytest.mark.integration


def record(url: str, body: str, published: datetime | None = None, feed_id=None) -> load.ArticleRecord:
    return load.ArticleRecord(
        canonical_url=url, url=url, feed_id=feed_id, title=f"Title of {url}", text=body,
        author=None, published_at=published, language="en", site_name=None,
        dateline=None, agency=None, content_hash=content_hash(body), html=b"<p>x</p>",
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
        outcome = load.store_articles(conn, [late, early, other])
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
        load.store_articles(conn, batch)
    with clean_db.begin() as conn:
        again = load.store_articles(conn, batch)
    assert again.inserted == [] and again.already_stored == 3
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM stories")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM raw_pages")).scalar() == 3


def test_a_copy_takes_the_entities_of_its_story(clean_db):
    body = "Antony Blinken spoke in Seoul about North Korea. " * 5
    with clean_db.begin() as conn:
        load.store_articles(conn, [
            record("https://a.example/1", body, datetime(2021, 3, 18, 9, tzinfo=UTC)),
            record("https://b.example/1", body, datetime(2021, 3, 18, 10, tzinfo=UTC)),
        ])
    with clean_db.begin() as conn:
        pending = load.claim_pending_canonical(conn, 10)
        assert [item.id for item in pending] == [1]
        load.store_entities(conn, [(1, "done", [
            EntityMention("Antony Blinken", "PERSON", 5, False),
            EntityMention("North Korea", "GPE", 5, False),
        ])])
    with clean_db.begin() as conn:
        assert load.copy_entities_to_copies(conn) == 1
        assert load.copy_entities_to_copies(conn) == 0
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
        feed_id = load.upsert_feeds(conn, [("https://a.example/rss", "A")])["https://a.example/rss"]
        load.record_failures(conn, [("https://a.example/x", feed_id, "fetch", "HTTP 503")])
        load.record_failures(conn, [("https://a.example/x", feed_id, "fetch", "timed out after 30 s")])
        assert load.retryable_failures(conn, [feed_id], max_attempts=5) == [("https://a.example/x", feed_id)]
        assert load.retryable_failures(conn, [feed_id], max_attempts=2) == []
        row = conn.execute(text("SELECT error, attempts FROM fetch_failures")).one()
        assert tuple(row) == ("timed out after 30 s", 2)
        load.clear_failures(conn, ["https://a.example/x"])
        assert conn.execute(text("SELECT count(*) FROM fetch_failures")).scalar() == 0


def test_upsert_feeds_keeps_state_and_names(clean_db):
    with clean_db.begin() as conn:
        first = load.upsert_feeds(conn, [("https://a.example/rss", "A")])
        load.record_feed_failure(conn, first["https://a.example/rss"], "HTTP 500")
        second = load.upsert_feeds(conn, [("https://a.example/rss", None), ("https://b.example/rss", "B")])
        assert second["https://a.example/rss"] == first["https://a.example/rss"]
        row = conn.execute(text(
            "SELECT name, consecutive_failures, last_error FROM feeds WHERE url = 'https://a.example/rss'"
        )).one()
    assert tuple(row) == ("A", 1, "HTTP 500")
