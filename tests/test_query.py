"""Querying a database filled by the demo: search, views, the read-only role."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from pipeline.query import SearchHit, search_articles, search_parameters, search_statement

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo_db(engine, corpus_server, allow_test_servers, prefect_server):
    from flows.ingest import ingest
    from tests.conftest import CORPUS, truncate_all

    truncate_all(engine)
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
    with demo_db.connect() as conn:
        by_feed = search_articles(conn, "Korea", feed="The Daily Courier", one_per_story=False)
        by_entity = search_articles(conn, "Beijing", entity="Blinken")  # an alias of Antony Blinken
        wrong_label = search_articles(conn, "Beijing", entity="Antony Blinken", label="GPE")
        recent = search_articles(conn, "Korea", since=datetime(2022, 1, 1, tzinfo=UTC))
    assert titles(by_feed) == ["Blinken urges Beijing to use its influence on North Korea"]
    assert titles(by_entity) == ["Gleam: China must influence North Korea"]
    assert wrong_label == [] and recent == []


@pytest.mark.parametrize(("words", "options"), [
    ("Korea", {"one_per_story": False}),
    ("Korea", {"feed": "The Daily Courier", "one_per_story": False}),
    ("Beijing", {"entity": "Blinken"}),
    ("Korea or bridge", {"label": "PERSON"}),
    ("police or fire", {"since": datetime(2020, 1, 1, tzinfo=UTC)}),
])
def test_every_way_of_finding_candidates_gives_the_same_hits(demo_db, words, options):
    # search_way picks one of three plans by estimates; each must return the same results.
    with demo_db.connect() as conn:
        parameters = search_parameters(conn, words, **options)
        hits = {way: [SearchHit(*row) for row in conn.execute(search_statement(parameters, way), parameters)]
                for way in ("walk", "index", "scope")}
        chosen = search_articles(conn, words, **options)
    assert chosen, "the case must find something"
    assert hits["walk"] == hits["index"] == hits["scope"] == chosen


def test_search_ranks_only_its_newest_candidates(demo_db):
    with demo_db.connect() as conn:
        every_match = search_articles(conn, "Korea or police", one_per_story=False, limit=50)
        newest_only = search_articles(conn, "Korea or police", one_per_story=False, candidates=1)
    assert len(every_match) > 1
    newest = max(every_match, key=lambda hit: (hit.published_at, hit.article_id))
    assert [hit.article_id for hit in newest_only] == [newest.article_id]


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


def test_stats_window_is_the_last_24_hours_or_else_the_newest_24_hours_of_data(demo_db):
    from datetime import timedelta

    from pipeline.query import busiest_stories, busiest_window, top_entities_by_story

    with demo_db.connect() as conn:
        # The demo corpus was published in March 2021: nothing in the last 24 h.
        window = busiest_window(conn)
        newest = conn.execute(text("SELECT max(coalesce(published_at, fetched_at)) FROM articles")).scalar()
        assert not window.current and window.end == newest and window.end - window.start == timedelta(hours=24)
        in_window = conn.execute(text(
            "SELECT count(*) FROM articles WHERE coalesce(published_at, fetched_at) >= :start"),
            {"start": window.start}).scalar()
        assert sum(row["window_articles"] for row in busiest_stories(conn, window, limit=50)) == in_window
        # Two fresh copies of one story, in a transaction that is rolled back.
        story = conn.execute(text("INSERT INTO stories (article_count) VALUES (2) RETURNING id")).scalar()
        for n in (1, 2):
            conn.execute(text(
                "INSERT INTO articles (canonical_url, url, title, text, content_hash, story_id, published_at)"
                " VALUES (:url, :url, 'Fresh wire story', 'Fresh text.', 'fresh', :story, now() - interval '1 hour')"),
                {"url": f"https://fresh.example/{n}", "story": story})
        conn.execute(text("UPDATE stories SET canonical_article_id = (SELECT min(id) FROM articles"
                          " WHERE story_id = :story) WHERE id = :story"), {"story": story})
        window = busiest_window(conn)
        busiest = busiest_stories(conn, window)
        entities = top_entities_by_story(conn, since=window.start, until=window.end)
        conn.rollback()
    assert window.current and window.end - window.start == timedelta(hours=24)
    assert [(row["id"], row["window_articles"]) for row in busiest] == [(story, 2)]
    assert entities == []  # the demo's entities are all older than the last 24 h


def test_search_parses_queries_in_every_configuration_articles_are_indexed_in(engine):
    import re

    from pipeline.query import SEARCH_CONFIGS, TEXT_SEARCH_CONFIGS

    with engine.connect() as conn:
        definition = conn.execute(text(
            "SELECT pg_get_functiondef('newsflow_ts_config(text)'::regprocedure)")).scalar_one()
        by_function = {code: conn.execute(text("SELECT newsflow_ts_config(:code)::text"), {"code": code}).scalar()
                       for code in TEXT_SEARCH_CONFIGS}
        other = conn.execute(text("SELECT newsflow_ts_config('xx')::text")).scalar()
    assert dict(re.findall(r"WHEN '([a-z-]+)' THEN '([a-z]+)'", definition)) == TEXT_SEARCH_CONFIGS
    assert by_function == TEXT_SEARCH_CONFIGS and other == "simple"
    assert sorted(SEARCH_CONFIGS) == sorted({*TEXT_SEARCH_CONFIGS.values(), "simple"})


def test_swedish_and_russian_articles_are_found_by_their_word_stems(engine):
    articles = {
        "sv": ("Skolorna stängs i Malmö", "Skolorna i Malmö stängs efter stormen."),
        "ru": ("Правительство объявило новые налоги", "Правительство объявило новые налоги на импорт."),
    }
    with engine.connect() as conn:
        for language, (title, body) in articles.items():
            conn.execute(text(
                "INSERT INTO articles (canonical_url, url, title, text, content_hash, language)"
                " VALUES (:url, :url, :title, :body, :url, :language)"),
                {"url": f"https://{language}.example/1", "title": title, "body": body, "language": language})
        # Other forms of the words than those in the articles: only the
        # language's own stemmer brings them together.
        swedish = search_articles(conn, "skolor")
        russian = search_articles(conn, "налогами")
        conn.rollback()
    assert titles(swedish) == [articles["sv"][0]]
    assert titles(russian) == [articles["ru"][0]]
