"""The ingest flow end to end: feeds served over real HTTP on 127.0.0.1,
a real PostgreSQL, a real Prefect test server."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from pipeline.query import table_counts
from tests.conftest import settings_from

pytestmark = pytest.mark.integration

SEED_TITLE = "Gleam: China must influence North Korea"
SEED_PATH = "/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
COPY_PATH = "/courier/world/blinken-urges-beijing-north-korea.html"


def _run(corpus_root, base_url, **kwargs) -> dict:
    from flows.ingest import ingest

    return ingest(feeds_path=str(corpus_root / "feeds.yaml"), base_url=base_url, **kwargs)


@pytest.fixture(scope="module")
def demo_run(engine, corpus_server, allow_test_servers, prefect_server):
    """The demo corpus ingested once into an empty schema, then a second time."""
    from tests.conftest import CORPUS, truncate_all

    truncate_all(engine)
    first = _run(CORPUS, corpus_server)
    with engine.connect() as conn:
        counts_after_first = table_counts(conn)
    second = _run(CORPUS, corpus_server, force=True)
    with engine.connect() as conn:
        counts_after_second = table_counts(conn)
    return {
        "first": first, "second": second,
        "counts_first": counts_after_first, "counts_second": counts_after_second,
    }


def _seed_article(engine, corpus_server):
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT * FROM articles WHERE canonical_url = :url"),
            {"url": corpus_server + SEED_PATH},
        ).mappings().one()


def test_seed_article_title_has_no_site_name(engine, corpus_server, demo_run):
    assert _seed_article(engine, corpus_server)["title"] == SEED_TITLE


def test_seed_article_text_is_clean(engine, corpus_server, demo_run):
    article = _seed_article(engine, corpus_server)
    for litter in ("Related Articles", "Back to top button", "Free press", "(dpa)"):
        assert litter not in article["text"]
    assert article["text"].endswith("Little progress has been made on this point.")
    assert article["text"].startswith("US Secretary of State Antony Blinken")
    assert article["dateline"] == "Seoul / Pyongyang"
    assert article["agency"] == "dpa"
    assert article["site_name"] == "Free press"
    assert article["language"] == "en"
    assert article["author"] == "dpa"
    # The feed's pubDate (10:12 +01:00), with the page's own claims kept beside it.
    assert article["published_at"] == datetime(2021, 3, 18, 9, 12, tzinfo=UTC)
    assert article["date_source"] == "feed"
    assert ["meta", "2021-03-18T09:12:00+00:00"] in article["date_candidates"]
    assert article["date_warning"] is None


def test_both_outlets_share_one_story(engine, corpus_server, demo_run):
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.canonical_url, a.url, a.story_id, a.is_canonical, s.article_count,"
                " s.canonical_article_id = a.id AS leads"
                " FROM articles a JOIN stories s ON s.id = a.story_id"
                " WHERE a.story_id = (SELECT story_id FROM articles WHERE canonical_url = :seed)"
                " ORDER BY a.id"
            ),
            {"seed": corpus_server + SEED_PATH},
        ).mappings().all()
    assert {row["canonical_url"] for row in rows} == {
        corpus_server + SEED_PATH, corpus_server + COPY_PATH,
    }
    assert all(row["article_count"] == 2 for row in rows)
    # The tracking parameters of the feed link are gone from the stored URL.
    assert all("utm_" not in row["url"] for row in rows)
    # The earlier publication (Free press, 10:12) leads the story.
    leads = [row["canonical_url"] for row in rows if row["leads"]]
    assert leads == [corpus_server + SEED_PATH]
    assert sum(row["is_canonical"] for row in rows) == 1


def test_story_counts(engine, demo_run):
    with engine.connect() as conn:
        stories, articles, mismatched = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM articles),"
                " (SELECT count(*) FROM stories s WHERE s.article_count <>"
                "   (SELECT count(*) FROM articles a WHERE a.story_id = s.id))"
            )
        ).one()
    # 11 pages in the corpus, two of them carry the same wire story.
    assert articles == 11
    assert stories == 10
    assert mismatched == 0
    summary = demo_run["first"]
    assert summary["articles_new"] == 11
    assert summary["stories_new"] == 10
    assert summary["copies"] == 1


def test_seed_story_entities(engine, corpus_server, demo_run):
    with engine.connect() as conn:
        for path in (SEED_PATH, COPY_PATH):
            entities = set(
                conn.execute(
                    text(
                        "SELECT e.name, e.label FROM article_entities ae"
                        " JOIN entities e ON e.id = ae.entity_id"
                        " JOIN articles a ON a.id = ae.article_id WHERE a.canonical_url = :url"
                    ),
                    {"url": corpus_server + path},
                )
            )
            assert ("Antony Blinken", "PERSON") in entities
            assert not any(name == "Blinken" for name, _ in entities)
            assert not any(label in {"DATE", "ORDINAL", "CARDINAL"} for _, label in entities)


def test_missing_page_is_recorded_and_the_run_goes_on(engine, demo_run):
    with engine.connect() as conn:
        failures = conn.execute(text("SELECT url, stage, kind, error, attempts FROM fetch_failures")).all()
    assert len(failures) == 1
    url, stage, kind, error, attempts = failures[0]
    assert url.endswith("/metrowire/2021/03/18/removed-story.html")
    assert (stage, kind, error) == ("fetch", "http", "HTTP 404")
    # The second run tried it again.
    assert attempts == 2
    assert demo_run["first"]["pages_failed"] == 1
    assert demo_run["first"]["failures_by_kind"] == {"fetch: http": 1}


def test_second_run_adds_no_rows(demo_run):
    first, second = demo_run["counts_first"], demo_run["counts_second"]
    assert first["articles"] == 11
    assert second == first
    assert demo_run["second"]["articles_new"] == 0
    # Everything but the missing page is known and not fetched again.
    assert demo_run["second"]["entries_new"] == 1


def test_feed_state_is_stored_for_conditional_get(engine, demo_run):
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT url, last_modified, last_fetched_at, next_fetch_at, consecutive_failures FROM feeds")
        ).all()
    assert len(rows) == 4
    for url, last_modified, fetched, next_fetch, failures in rows:
        assert last_modified, url
        assert fetched is not None and next_fetch > fetched
        assert failures == 0
    # The test server honours If-Modified-Since: the second run parsed nothing.
    assert demo_run["second"]["feeds_unchanged"] == 4


def test_broken_feed_is_recorded_and_the_others_are_ingested(
    clean_db, tmp_corpus, corpus_server, fixture_server, allow_test_servers, prefect_server
):
    feed_list = tmp_corpus / "feeds.yaml"
    feed_list.write_text(
        feed_list.read_text()
        + f"  - url: {fixture_server}/feed-is-an-html-page.html\n    name: Broken\n"
        + f"  - url: {fixture_server}/no-such-feed.xml\n    name: Gone\n"
    )
    summary = _run(tmp_corpus, corpus_server)
    assert summary["feeds"] == 6
    assert summary["feeds_failed"] == 2
    assert summary["articles_new"] == 11
    with clean_db.connect() as conn:
        errors = dict(
            conn.execute(text("SELECT name, last_error FROM feeds WHERE consecutive_failures > 0")).all()
        )
    assert set(errors) == {"Broken", "Gone"}
    assert errors["Gone"] == "HTTP 404"
    assert errors["Broken"].startswith("not a feed")


def test_feed_from_a_private_address_is_refused_without_allowance(
    clean_db, fixture_server, prefect_server, monkeypatch, tmp_path
):
    from flows.ingest import ingest
    from pipeline.config import reset_settings_cache

    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "")
    reset_settings_cache()
    try:
        feed_list = tmp_path / "feeds.yaml"
        feed_list.write_text(f"feeds:\n  - url: {fixture_server}/feed-atom.xml\n")
        summary = ingest(feeds_path=str(feed_list))
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert summary["feeds_failed"] == 1
    assert summary["errors"][0][1] == "refused: loopback address 127.0.0.1"


BONN_PARAGRAPHS = [
    "Bonn's city council voted on Thursday to turn the former post office on Münsterplatz into a public library.",
    "The conversion is expected to cost 18 million euros and take three years, the city's building department said.",
    "Opposition councillors questioned whether the listed façade could carry the weight of a new glass roof.",
    "Library director Sabine Hartmann said the move would double the space for children's books and study rooms.",
    "Construction is due to start next spring once the last postal counters have moved to the main station.",
]

TRANSLATION_NOTE = (
    "This article was translated from German. Rhein Post English is the English-language "
    "service of the Rhein Post."
)


def add_rheinpost_story(folder, slug: str, title: str, next_paragraph) -> None:
    """A new Rhein Post page of 2021-03-19 at the head of its feed: the chrome
    and translation note of the site's Cologne page, each of its paragraphs
    replaced by ``next_paragraph()``."""
    source = folder / "2021" / "03" / "18" / "cologne-exhibition-bauhaus-weavers.html"
    (folder / "2021" / "03" / "19").mkdir(exist_ok=True)
    page = re.sub(r"<p>[^<]*</p>", lambda match: f"<p>{next_paragraph()}</p>",
                  source.read_text(encoding="utf-8").replace("cologne-exhibition-bauhaus-weavers", slug))
    (folder / "2021" / "03" / "19" / f"{slug}.html").write_text(page, encoding="utf-8")
    feed = folder / "feed.xml"
    feed.write_bytes(feed.read_bytes().replace(
        b"<item>", f"<item><title>{title}</title><link>/rheinpost/2021/03/19/{slug}.html</link></item><item>".encode(),
        1,
    ))


def test_learned_site_line_is_removed_once_past_its_threshold(
    clean_db, tmp_corpus, prefect_server, monkeypatch
):
    """Rhein Post ends every article with the same translation note.  With a
    threshold of 3 pages, the three pages of the first run teach it; a page
    arriving later loses the line, the earlier ones keep it."""
    from flows.demo import serve_directory

    folder = tmp_corpus / "rheinpost"
    with serve_directory(tmp_corpus) as base_url:
        with settings_from(monkeypatch, NEWSFLOW_ALLOW_PRIVATE_HOSTS=base_url.removeprefix("http://"),
                           NEWSFLOW_SITE_RULE_MIN_PAGES="3"):
            first = _run(tmp_corpus, base_url)
            assert first["articles_new"] == 11
            # Another story on the same site: the page's chrome and its
            # translation note, with a body of its own.
            counter = iter(range(99))
            add_rheinpost_story(folder, "bonn-exhibition", "Bonn exhibition",
                                lambda: BONN_PARAGRAPHS[next(counter) % 5])
            second = _run(tmp_corpus, base_url, force=True)
            assert second["articles_new"] == 1
    with clean_db.connect() as conn:
        texts = dict(conn.execute(text(
            "SELECT canonical_url, text FROM articles WHERE site_name = 'Rhein Post English'"
        )).all())
        support = conn.execute(text(
            "SELECT support FROM site_boilerplate WHERE text = :line"), {"line": TRANSLATION_NOTE}
        ).scalar()
    later = [url for url in texts if url.endswith("bonn-exhibition.html")]
    assert len(later) == 1 and len(texts) == 4
    assert TRANSLATION_NOTE not in texts[later[0]]
    assert all(TRANSLATION_NOTE in body for url, body in texts.items() if url not in later)
    # The line keeps gaining support from the pages it is removed from.
    assert support == 4


def test_learned_lines_that_would_take_too_much_of_an_article_are_kept_and_the_run_records_it(
    clean_db, tmp_corpus, prefect_server, monkeypatch
):
    """Issue 20: a short Rhein Post story of two paragraphs ends with the
    translation note the site's first pages taught as furniture, and with it
    the note would be more than LEARNED_MAX_SHARE of the article.  The
    article keeps the note, and the run's summary, its ingest_runs row and
    `newsflow runs` (recent_runs) say which page kept it."""
    from flows.demo import serve_directory
    from pipeline.clean import LEARNED_MAX_SHARE
    from pipeline.dedup import site_of
    from pipeline.query import recent_runs

    folder = tmp_corpus / "rheinpost"
    with serve_directory(tmp_corpus) as base_url:
        with settings_from(monkeypatch, NEWSFLOW_ALLOW_PRIVATE_HOSTS=base_url.removeprefix("http://"),
                           NEWSFLOW_SITE_RULE_MIN_PAGES="3"):
            first = _run(tmp_corpus, base_url)
            assert first["articles_new"] == 11 and first["site_rules_withheld"] == 0
            # The page's chrome and its translation note, with a body of two short paragraphs.
            body = iter(BONN_PARAGRAPHS[:2])
            add_rheinpost_story(folder, "bonn-library", "Bonn library", lambda: next(body, ""))
            second = _run(tmp_corpus, base_url, force=True)
    url = f"{base_url}/rheinpost/2021/03/19/bonn-library.html"
    assert second["articles_new"] == 1
    assert second["site_rules_withheld"] == 1
    assert [tuple(page) for page in second["site_rules_withheld_pages"]] == [(url, site_of(url), 1)]
    with clean_db.connect() as conn:
        stored = conn.execute(text("SELECT text FROM articles WHERE url = :url"), {"url": url}).scalar_one()
        details = conn.execute(text("SELECT details FROM ingest_runs ORDER BY id DESC LIMIT 1")).scalar_one()
        runs = recent_runs(conn, 2)
    # The note was learned, and would have been more than the bound: it stays, with both paragraphs.
    assert TRANSLATION_NOTE in stored and all(paragraph in stored for paragraph in BONN_PARAGRAPHS[:2])
    assert len(TRANSLATION_NOTE) > LEARNED_MAX_SHARE * len(stored)
    assert details["site_rules_withheld"] == 1
    assert details["site_rules_withheld_pages"] == [{"url": url, "site": site_of(url), "lines": 1}]
    assert [run["site_rules_withheld"] for run in runs] == [1, 0]


def test_entries_left_out_by_limit_come_in_the_next_run_despite_conditional_get(
    clean_db, corpus_server, allow_test_servers, prefect_server
):
    """The static server answers If-Modified-Since with 304: had the feeds'
    validators been stored by the limited run, the next run would see no
    entries and the rest would never come."""
    from tests.conftest import CORPUS

    first = _run(CORPUS, corpus_server, limit=3)
    second = _run(CORPUS, corpus_server)
    with clean_db.connect() as conn:
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        validators = conn.execute(text("SELECT count(*) FROM feeds WHERE last_modified IS NOT NULL")).scalar_one()
    assert first["articles_new"] == 3
    assert second["feeds_unchanged"] == 0
    assert articles == 11
    assert validators == 4


def test_a_run_that_fails_midway_is_recorded_failed_and_hands_its_feeds_back(
    clean_db, corpus_server, allow_test_servers, prefect_server, monkeypatch
):
    """Any error, not only a lost database, ends the run as failed with its
    error and frees its feeds at once; the next run completes the work."""
    from pipeline.config import reset_settings_cache
    from tests.conftest import CORPUS

    monkeypatch.setenv("NEWSFLOW_NER_MODELS", '{"en": "no_such_pipeline_installed"}')
    monkeypatch.setenv("NEWSFLOW_WORKERS", "1")
    reset_settings_cache()
    with pytest.raises(Exception, match="no_such_pipeline_installed"):
        _run(CORPUS, corpus_server)
    monkeypatch.undo()
    reset_settings_cache()
    with clean_db.connect() as conn:
        [(status, failure)] = conn.execute(text("SELECT status, details->>'failure' FROM ingest_runs")).all()
        leased = conn.execute(text("SELECT count(*) FROM feeds WHERE leased_by IS NOT NULL")).scalar_one()
        stored = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    assert status == "failed" and "ModelUnavailable" in failure and "NEWSFLOW_NER_MODELS" in failure
    assert leased == 0
    assert stored > 0  # it failed after storing, at the entities

    second = _run(CORPUS, corpus_server)
    assert second["feeds"] == 4 and second["feeds_held"] == []
    with clean_db.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM ingest_runs ORDER BY id")).scalars().all()
        pending = conn.execute(text("SELECT count(*) FROM articles WHERE entities_status = 'pending'")).scalar_one()
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
    assert statuses == ["failed", "completed"]
    assert (articles, pending) == (11, 0)
