"""Unit tests for pipeline.extract: article text and metadata from a page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import clean_article
from pipeline.dedup import article_url
from pipeline.extract import ExtractedArticle, ExtractError, extract_article

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = Path(__file__).parent.parent / "seeds" / "demo"
SEED_DOCUMENT = Path("/work/shared/seeds/000_c944d76fca4ddc45.txt")
SEED_PAGE = DEMO / "freepress" / "2021" / "03" / "18" / "gleam-china-must-influence-north-korea.html"
SEED_URL = "http://127.0.0.1:8000/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
HARBOUR_URL = "https://harbour.example.org/news/ferry-timetable.html?utm_source=rss"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# -------------------------------------------------------------- the seed page


@pytest.fixture(scope="module")
def seed() -> ExtractedArticle:
    return extract_article(SEED_PAGE.read_bytes(), SEED_URL)


def test_seed_page_title_is_the_page_title_with_its_site_suffix(seed):
    # Removing " | Free press" is the cleaner's job; extraction reports what the page says.
    assert seed.title == "Gleam: China must influence North Korea | Free press"


def test_seed_page_site_name_and_language(seed):
    assert seed.site_name == "Free press"
    assert seed.language == "en"


def test_seed_page_published_at_is_the_utc_date(seed):
    assert seed.published_at.utcoffset() == timedelta(0)
    assert seed.published_at.date() == date(2021, 3, 18)
    assert seed.published_at == datetime(2021, 3, 18, tzinfo=UTC)


def test_seed_page_canonical_link_is_resolved_to_an_absolute_url(seed):
    assert seed.canonical_link == SEED_URL
    parts = urlsplit(seed.canonical_link)
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:8000")


def test_seed_page_canonical_link_follows_the_host_it_was_fetched_from():
    extracted = extract_article(SEED_PAGE.read_bytes(), "https://freepress.example/some/other/path.html")
    assert extracted.canonical_link == (
        "https://freepress.example/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
    )


def test_seed_page_title_and_text_rebuild_the_seed_document(seed):
    # The demo corpus promise: title + text lines joined by blank lines is the seed file.
    rebuilt = seed.title + "\n\n" + "\n\n".join(seed.text.split("\n"))
    assert rebuilt == SEED_DOCUMENT.read_text(encoding="utf-8")


def test_seed_page_text_leaves_out_comments_cookie_banner_navigation_and_sidebar(seed):
    for furniture in (
        "Nothing new here",  # reader comment
        "We use cookies",  # cookie banner
        "Privacy policy",  # footer
        "Most read",  # sidebar
        "Vaccination centre",  # sidebar link
        "WhatsApp",  # share bar
    ):
        assert furniture not in seed.text


def test_seed_page_url_is_the_fetched_url(seed):
    assert seed.url == SEED_URL


def test_extract_accepts_str_as_well_as_bytes(seed):
    from_str = extract_article(SEED_PAGE.read_text(encoding="utf-8"), SEED_URL)
    assert from_str == seed


# ----------------------------------------------------------------- other pages


def test_page_with_site_suffix_in_title_gives_bare_title_after_extract_and_clean():
    cleaned = clean_article(extract_article(fixture_bytes("page-title-site-suffix.html"), HARBOUR_URL))
    assert cleaned.title == "Ferry timetable changes from Monday"
    assert cleaned.site_name == "Harbour Gazette"
    assert cleaned.author == "Maren Holt"
    assert cleaned.language == "en"  # from lang="en-GB"
    assert cleaned.published_at == datetime(2021, 3, 17, tzinfo=UTC)
    assert cleaned.text.startswith("The harbour ferry between the old town pier")
    for furniture in ("Share on Facebook", "Skip to main content", "All rights reserved", "About us"):
        assert furniture not in cleaned.text


def test_root_relative_canonical_link_is_resolved_against_the_fetched_url():
    extracted = extract_article(fixture_bytes("page-title-site-suffix.html"), HARBOUR_URL)
    assert extracted.canonical_link == "https://harbour.example.org/news/ferry-timetable.html"


def test_malformed_canonical_href_is_ignored_not_raised():
    # href="https://[harbour..." makes urljoin raise ValueError; the article is still usable.
    extracted = extract_article(fixture_bytes("page-canonical-href-malformed.html"), HARBOUR_URL)
    assert extracted.canonical_link is None
    assert extracted.text.startswith("The harbour ferry between the old town pier")
    assert article_url(extracted.url, extracted.canonical_link) == "https://harbour.example.org/news/ferry-timetable.html"


def test_windows_1252_page_declared_in_meta_is_decoded():
    content = fixture_bytes("page-charset-windows-1252.html")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # the fixture really is not UTF-8
    extracted = extract_article(content, "https://ledger.example.de/local/2021/03/16/cafe-terrace-season.html")
    assert extracted.title == "Café owners in Düsseldorf welcome “longer terrace season”"
    assert "Björn Schäfer" in extracted.text
    assert "€120 per table" in extracted.text
    assert "22:00 on weekdays – the council" in extracted.text
    assert "Düsseldorf’s old town" in extracted.text
    assert "\ufffd" not in extracted.text
    assert extracted.site_name == "Rhine Valley Ledger"


def test_courier_page_language_from_regional_lang_attribute():
    html = (DEMO / "courier" / "world" / "blinken-urges-beijing-north-korea.html").read_bytes()
    extracted = extract_article(html, "http://127.0.0.1:8000/courier/world/blinken-urges-beijing-north-korea.html")
    assert extracted.language == "en"  # <html lang="en-GB">
    assert extracted.site_name == "The Daily Courier"
    assert "Sign up for our newsletter" not in extracted.text
    assert "Advertisement" not in extracted.text


def test_rhein_post_page_date_from_meta_name_date():
    html = (DEMO / "rheinpost" / "2021" / "03" / "17" / "duesseldorf-rhine-bridge-repairs.html").read_bytes()
    extracted = extract_article(html, "http://127.0.0.1:8000/rheinpost/2021/03/17/duesseldorf-rhine-bridge-repairs.html")
    assert extracted.published_at == datetime(2021, 3, 17, tzinfo=UTC)
    assert extracted.site_name == "Rhein Post English"


# ------------------------------------------------------------------ no article


def test_page_without_article_text_raises_extract_error():
    with pytest.raises(ExtractError, match="no article text"):
        extract_article(fixture_bytes("page-no-article-text.html"), "https://harbour.example.org/local/")


@pytest.mark.parametrize(
    "content",
    [b"", b"   ", b"\x00\x01\x02", "<html><body></body></html>", b"<html><head><title>Only a title</title></head></html>"],
    ids=["empty", "spaces", "binary", "empty-body", "title-only"],
)
def test_empty_or_non_html_input_raises_extract_error(content):
    with pytest.raises(ExtractError):
        extract_article(content, "https://example.org/a.html")


_HTML_PIECES = st.sampled_from([
    "<html>", "<head>", "<body>", "<p>", "</p>", "<article>", "</article>", "<script>", "<title>T</title>",
    "Word ", "A longer sentence that goes on for a while about the harbour. ",
    "<meta charset='x-bogus'>", "<meta charset='utf-16'>", "<link rel='canonical' href='http://[x'>",
    "<link rel='canonical' href='javascript:void(0)'>", "<html lang='!!'>",
    "<meta property='article:published_time' content='9999-99-99'>", "\x00", "&#0;", "&#xD800;", "<![CDATA[",
    "<?xml version='1.0' encoding='utf-8'?>",
])


@settings(max_examples=100, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.lists(_HTML_PIECES, max_size=30).map("".join),
        st.lists(_HTML_PIECES, max_size=30).map(lambda pieces: "".join(pieces).encode("utf-8")),
    )
)
def test_extract_on_hostile_html_raises_only_extract_error(content):
    try:
        extracted = extract_article(content, "https://example.org/a.html")
    except ExtractError:
        return
    assert extracted.text.strip()
    assert extracted.published_at is None or extracted.published_at.utcoffset() == timedelta(0)
