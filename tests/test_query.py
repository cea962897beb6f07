"""Querying a database filled by the demo: search, views, the read-only role."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from pipeline.query import TABLES, search_articles

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_db(engine, corpus_server, allow_test_servers, prefect_server):
    from flows.ingest import ingest
    from tests.conftest import CORPUS

    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server)
    return engine


def titles(hits):
    return [hit.title for hit in hits]


def test_search_ranks_and_groups_copies_under_their_story(demo_db):
    with demo_db.connect() as conn:
        hits = search_articles(conn, "Blinken North Korea")
        every_copy = search_articles(conn, "Blinken North Korea", one_per_story=False)
    assert titles(hits) == ["Gleam: China must influence North Korea"]
    assert hits[0].story_size == 2 and "**Blinken**" in hits[0].snippet
    assert sorted(titles(every_copy)) == [
        "Blinken urges Beijing to use its influence on North Korea", "Gleam: China must influence North Korea",
    ]
    assert hits[0].score > 0


def test_search_understands_web_search_syntax_and_stemming(demo_db):
    with demo_db.connect() as conn:
        assert titles(search_articles(conn, "Blinken -Trump")) == []
        assert titles(search_articles(conn, '"denuclearization of North Korea"')) == [
            "Gleam: China must influence North Korea"]
        # English stemming: "bridges" finds the article about a bridge.
        assert titles(search_articles(conn, "bridges")) == [
            "Düsseldorf: Rhine bridge repairs to close lanes until 2023"]
        assert set(titles(search_articles(conn, "glacier or warehouse"))) == {
            "Fire crews tackle large warehouse blaze in Salford",
            "Alpine glaciers losing ice faster than models predicted, study finds",
            "Kestrel Freight to cut 400 jobs as port volumes slump",  # "a warehouse in the port"
        }


def test_search_filters_by_feed_entity_label_and_time(demo_db):
    from datetime import UTC, datetime

    with demo_db.connect() as conn:
        by_feed = search_articles(conn, "Korea", feed="The Daily Courier", one_per_story=False)
        by_entity = search_articles(conn, "Beijing", entity="Blinken")  # an alias of Antony Blinken
        wrong_label = search_articles(conn, "Beijing", entity="Antony Blinken", label="GPE")
        recent = search_articles(conn, "Korea", since=datetime(2022, 1, 1, tzinfo=UTC))
    assert titles(by_feed) == ["Blinken urges Beijing to use its influence on North Korea"]
    assert titles(by_entity) == ["Gleam: China must influence North Korea"]
    assert wrong_label == [] and recent == []


def test_views_give_one_row_per_story_and_named_mentions(demo_db):
    with demo_db.connect() as conn:
        story = conn.execute(text(
            "SELECT title, article_count, outlets, agencies, top_entities FROM v_stories"
            " WHERE article_count > 1")).one()
        articles = conn.execute(text("SELECT count(*), count(feed_name) FROM v_articles")).one()
        mention = conn.execute(text(
            "SELECT label, count(DISTINCT story_id) FROM v_entity_mentions WHERE name = 'Antony Blinken'"
            " GROUP BY label")).all()
    assert story.title == "Gleam: China must influence North Korea"
    assert story.article_count == 2 and sorted(story.outlets) == ["Free press", "The Daily Courier"]
    assert story.agencies == ["dpa"] and "Antony Blinken" in story.top_entities
    assert tuple(articles) == (11, 11)
    assert mention == [("PERSON", 1)]


def test_reader_role_reads_and_cannot_write(demo_db):
    with demo_db.connect() as conn:
        conn.execute(text("SET ROLE newsflow_reader"))
        assert conn.execute(text("SELECT count(*) FROM v_stories")).scalar() == 10
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 11
        for statement in (
            "INSERT INTO feeds (url) VALUES ('https://x.example/rss')",
            "UPDATE articles SET title = 'changed'",
            "DELETE FROM entities",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"):
                with conn.begin_nested():
                    conn.execute(text(statement))
        conn.rollback()


def test_grant_reader_gives_a_login_role_read_only_access(demo_db):
    import os
    import subprocess
    import sys

    with demo_db.begin() as conn:
        conn.execute(text(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsflow_test_analyst')"
            " THEN CREATE ROLE newsflow_test_analyst LOGIN; END IF; END $$"))
    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "db", "grant-reader", "newsflow_test_analyst"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with demo_db.connect() as conn:
        conn.execute(text("SET ROLE newsflow_test_analyst"))
        assert conn.execute(text("SELECT count(*) FROM v_articles")).scalar() == 11
        with pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("DELETE FROM articles"))
        conn.rollback()
    missing = subprocess.run(
        [sys.executable, "-m", "flows.cli", "db", "grant-reader", "nobody_by_that_name"],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60,
    )
    assert missing.returncode == 2 and "no role named" in missing.stdout
