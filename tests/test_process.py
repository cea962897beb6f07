"""One page through extract -> clean -> fingerprint: the date chosen among candidates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.clean import CleanedArticle
from pipeline.process import choose_date


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
