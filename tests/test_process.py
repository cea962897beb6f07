"""One page through extract -> clean -> fingerprint: the date chosen among candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.clean import CleanedArticle
from pipeline.config import Settings
from pipeline.fetch import FetchResult
from pipeline.process import choose_date, prepare_article
from pipeline.records import Entry, EntryFailure
from pipeline.store import runs

FIXTURES = Path(__file__).parent / "fixtures"


def cleaned(published_at=None, source=None, candidates=(), future=False) -> CleanedArticle:
    return CleanedArticle(
        url="https://a.example/x", title="T", text="body", author=None, published_at=published_at,
        site_name=None, language="en", canonical_link=None, dateline=None, agency=None,
        date_source=source, date_candidates=candidates, future_date=future,
    )


def test_feed_date_wins_and_page_candidates_are_kept():
    feed = datetime(2021, 3, 18, 9, 12, tzinfo=UTC)
    page = cleaned(feed, "meta", (("meta", feed.isoformat()),))
    chosen = choose_date(feed, page)
    assert chosen["published_at"] == feed
    assert chosen["date_source"] == "feed"
    assert chosen["date_candidates"] == [["feed", feed.isoformat()], ["meta", feed.isoformat()]]
    assert chosen["date_warning"] is None


def test_page_date_stands_in_without_a_feed_date():
    page_date = datetime(2021, 3, 17, 7, 30, tzinfo=UTC)
    chosen = choose_date(None, cleaned(page_date, "json-ld", (("json-ld", page_date.isoformat()),)))
    assert (chosen["published_at"], chosen["date_source"]) == (page_date, "json-ld")


def test_feed_and_page_disagreeing_by_days_is_flagged():
    feed = datetime(2021, 3, 18, 9, 0, tzinfo=UTC)
    page_date = feed - timedelta(days=5, hours=1)
    chosen = choose_date(feed, cleaned(page_date, "meta"))
    assert chosen["date_warning"] == "feed and page dates differ by 5 days"
    assert choose_date(feed, cleaned(feed - timedelta(days=1), "meta"))["date_warning"] is None


def test_future_date_is_flagged():
    future = datetime.now(UTC) + timedelta(days=3)
    assert choose_date(future, cleaned())["date_warning"] == "date in the future"
    assert choose_date(None, cleaned(future, "meta", future=True))["date_warning"] == "date in the future"


def test_no_date_at_all():
    chosen = choose_date(None, cleaned())
    assert chosen == {"published_at": None, "date_source": None, "date_candidates": [], "date_warning": None}


@pytest.mark.integration
def test_control_characters_from_a_feed_and_a_page_never_reach_postgresql(clean_db):
    """NUL made PostgreSQL refuse the row (text and jsonb); the other
    controls are dropped with it wherever a record is made."""
    from pipeline.feeds import parse_feed
    from pipeline.store import articles as article_store, entries as entry_store, feeds as feed_store

    url = "https://harbour.example.org/news/pier.html"
    raw = (FIXTURES / "page-without-title-author-with-control-character.html").read_bytes()
    page = FetchResult(url, url, 200, raw, "text/html; charset=utf-8")
    # The page has no title: the feed's stands in for it.
    entry = Entry(url=url, link=url, feed_id=None, title="Pier\x00 opening moves\x1b to May",
                  feed_title="Harbour\x00Gazette")
    record = prepare_article(entry, page)
    feed = parse_feed((FIXTURES / "feed-titles-with-control-characters.xml").read_bytes(), url)
    with clean_db.begin() as conn:
        feed_id = feed_store.upsert_feeds(conn, [("https://harbour.example.org/rss", None)])["https://harbour.example.org/rss"]
        article_store.store_articles(conn, [record])
        entry_store.record_failures(conn, [EntryFailure(url + "?2", feed_id, "fetch", "refused", "refused:\x00 nothing \x07here")])
        feed_store.record_feed_success(conn, feed_id, status=200, title=feed.title, etag=None, last_modified=None,
                                 next_fetch_at=datetime.now(UTC), warning="malformed\x00 feed")
        feed_store.record_feed_failure(conn, feed_id, error="HTTP\x00 500", kind="http", status=500,
                                 interval=timedelta(minutes=30), max_interval=timedelta(hours=24))
        run_id = runs.start_run(conn, None)
        runs.finish_run(conn, run_id, "completed", {}, {"errors": [[url + "\x00", "not\x00 a feed"]]})
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT title, author FROM articles")).one() == (
            "Pier opening moves to May", "Maren Holt")
        assert conn.execute(text("SELECT error FROM fetch_failures")).scalar() == "refused: nothing here"
        assert conn.execute(text("SELECT title, last_warning, last_error FROM feeds")).one() == (
            "Harbour Gazette News", "malformed feed", "HTTP 500")
        assert conn.execute(text("SELECT details->'errors' FROM ingest_runs")).scalar() == [
            [url, "not a feed"]]


def test_text_past_the_limit_is_cut_at_a_paragraph_and_the_title_at_a_word():
    url = "https://harbour.example.org/news/long.html"
    paragraph = "The harbour authority said on Tuesday that the new ferry pier will open in May. " * 6
    html = "<html><head><title>" + "Pier " * 400 + "</title></head><body><article>" + "".join(
        f"<p>{n} {paragraph}</p>" for n in range(40)) + "</article></body></html>"
    page = FetchResult(url, url, 200, html.encode(), "text/html; charset=utf-8")
    settings = Settings(max_text_chars=5_000, max_title_chars=100)
    record = prepare_article(Entry(url=url, link=url, feed_id=None), page, settings=settings)
    assert 2_500 <= len(record.text) <= 5_000
    assert record.text.endswith(paragraph.strip())  # whole paragraphs only
    assert record.title == ("Pier " * 20).strip()


def test_limits_that_could_make_a_search_vector_too_large_are_refused():
    with pytest.raises(ValueError, match="at most 95000"):
        Settings(max_text_chars=200_000)


def worst_case_search_vector_page(paragraphs: int) -> bytes:
    """Text that costs the most search vector per character: hyphenated
    pairs of 4-byte letters ("𠀀-𠀁"), each a lexeme with both its parts."""
    letters = [chr(code) for code in range(0x20000, 0x2A6D0)]  # CJK Extension B
    count = len(letters)
    # Pair i is letters i and 7i + i // count: no pair repeats.
    pairs = [f"{letters[i % count]}-{letters[(7 * i + i // count) % count]}" for i in range(250 * paragraphs)]
    body = "".join(f"<p>{' '.join(pairs[n * 250:(n + 1) * 250])}</p>" for n in range(paragraphs))
    return f"<html><head><title>Harbour</title></head><body><article>{body}</article></body></html>".encode()


@pytest.mark.integration
def test_the_longest_text_stored_keeps_its_search_vector_under_postgresql_limit(clean_db):
    from pipeline.store import articles as article_store, entries as entry_store, feeds as feed_store

    url = "https://harbour.example.org/news/worst-case.html"
    page = FetchResult(url, url, 200, worst_case_search_vector_page(250), "text/html; charset=utf-8")
    record = prepare_article(Entry(url=url, link=url, feed_id=None, title="\U00020000-\U00020001 " * 300), page)
    assert len(record.text) <= Settings().max_text_chars
    with clean_db.begin() as conn:  # PostgreSQL refused it before: "string is too long for tsvector"
        article_store.store_articles(conn, [record])
    with clean_db.connect() as conn:
        size = conn.execute(text("SELECT pg_column_size(search_vector) FROM articles")).scalar()
    assert 0 < size < 1024 * 1024


def test_a_worker_builds_records_without_loading_the_store_or_prefect():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, pipeline.process; "
         "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'prefect', 'flows') if m in sys.modules))"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    ).stdout.strip()
    assert loaded == "[]"
