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
from tests.conftest import CORPUS, SEED_DOCUMENT, SEED_PAGE, fixture_bytes

SEED_URL = "http://127.0.0.1:8000/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
HARBOUR_URL = "https://harbour.example.org/news/ferry-timetable.html?utm_source=rss"


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
    # The page's <time class="published" datetime="2021-03-18T10:12:00+01:00">:
    # the time of day is kept (in UTC) where the page has one.
    assert seed.published_at == datetime(2021, 3, 18, 9, 12, tzinfo=UTC)
    assert seed.date_source == "meta"
    assert ("url", "2021-03-18T00:00:00+00:00") in seed.date_candidates


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
    # article:published_time 2021-03-17T08:30:00+01:00, kept with its time of day.
    assert cleaned.published_at == datetime(2021, 3, 17, 7, 30, tzinfo=UTC)
    assert cleaned.date_source == "meta"
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
    html = (CORPUS / "courier" / "world" / "blinken-urges-beijing-north-korea.html").read_bytes()
    extracted = extract_article(html, "http://127.0.0.1:8000/courier/world/blinken-urges-beijing-north-korea.html")
    assert extracted.language == "en"  # <html lang="en-GB">
    assert extracted.site_name == "The Daily Courier"
    assert "Sign up for our newsletter" not in extracted.text
    assert "Advertisement" not in extracted.text


def test_rhein_post_page_date_from_meta_name_date():
    html = (CORPUS / "rheinpost" / "2021" / "03" / "17" / "duesseldorf-rhine-bridge-repairs.html").read_bytes()
    extracted = extract_article(html, "http://127.0.0.1:8000/rheinpost/2021/03/17/duesseldorf-rhine-bridge-repairs.html")
    # <meta name="date" content="2021-03-17T11:00:00+01:00">, kept with its time of day.
    assert extracted.published_at == datetime(2021, 3, 17, 10, 0, tzinfo=UTC)
    assert extracted.date_source == "meta"
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


# ----------------------------------------------------- issue #4: body and metadata

from pipeline.extract import clean_author, continuation_chunks, detect_language  # noqa: E402

NORTH_PIER_URL = "https://harbour.example.org/news/2021/03/16/north-pier.html"


def test_body_split_into_same_class_chunks_is_read_from_all_of_them():
    import trafilatura

    tree = trafilatura.load_html(fixture_bytes("page-body-split-into-chunks.html"))
    first_chunk = tree.xpath("//div[@class='story-body']")[0]
    text = "\n".join(p.text_content() for p in first_chunk.iter("p"))
    chunks = continuation_chunks(tree, text)
    assert len(chunks) == 1
    assert "Fishermen who moor at the north pier" in chunks[0].text_content()
    # Everything already in the text: nothing to add.
    assert continuation_chunks(tree, extract_article(fixture_bytes("page-body-split-into-chunks.html"), NORTH_PIER_URL).text) == []


TOP_STORIES_URL = "https://courier.example.org/news/2024/05/07/ferry-terminal-approved"


def test_top_stories_beside_the_body_is_not_appended_and_paragraphs_stay_apart():
    # Issue 20's page: the sidebar is a container of the body's tag and class
    # beside it, with long teaser paragraphs; it was appended as a "later
    # part" of the body.  Nor may the title be glued on or paragraphs joined.
    import trafilatura

    from pipeline.process import extract_page

    html = fixture_bytes("page-top-stories-sidebar.html")
    trafilatura_lines = trafilatura.extract(html, url=TOP_STORIES_URL, favor_precision=True).splitlines()
    lines = extract_page(html, TOP_STORIES_URL).text.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("The harbour board voted on Tuesday evening")
    assert lines[-1].startswith("The board expects work to start in the autumn")
    # Each paragraph exactly as trafilatura gave it (the heading it repeats is the cleaner's to drop).
    assert lines == trafilatura_lines[1:]
    assert "Top stories" not in "\n".join(lines) and "Lifeboat crew" not in "\n".join(lines)


@pytest.fixture(scope="module")
def north_pier() -> ExtractedArticle:
    return extract_article(fixture_bytes("page-metadata-json-ld-date-image.html"), NORTH_PIER_URL)


def test_json_ld_date_with_time_is_chosen_and_all_candidates_kept(north_pier):
    assert north_pier.published_at == datetime(2021, 3, 16, 16, 45, tzinfo=UTC)
    assert north_pier.date_source == "json-ld"
    sources = [source for source, _ in north_pier.date_candidates]
    assert sources[:3] == ["json-ld", "meta", "url"]
    assert north_pier.future_date is False


def test_lead_image_is_og_image_made_absolute(north_pier):
    assert north_pier.image_url == "https://harbour.example.org/images/2021/north-pier.jpg"


def test_author_keeps_the_case_written_on_the_page(north_pier):
    assert north_pier.author == "dpa"


@pytest.mark.parametrize(
    ("raw", "page", "expected"),
    [
        ("Dpa", ["dpa"], "dpa"),
        ("Maren Holt ·", [], "Maren Holt"),
        ("By Maren Holt |", [], "Maren Holt"),
        ("Maren Holt; Jo Lin", ["By Maren Holt and Jo Lin"], "Maren Holt; Jo Lin"),
        ("  ", [], None),
    ],
)
def test_clean_author(raw, page, expected):
    assert clean_author(raw, page) == expected


def test_future_publication_date_is_flagged():
    extracted = extract_article(fixture_bytes("page-future-date.html"), NORTH_PIER_URL)
    assert extracted.published_at == datetime(2099, 6, 1, 8, 0, tzinfo=UTC)
    assert extracted.future_date is True


def test_language_detected_when_the_page_declares_none():
    extracted = extract_article(fixture_bytes("page-language-undeclared-german.html"), NORTH_PIER_URL)
    assert extracted.language == "de"


def test_language_detector_overrules_a_declaration_contradicted_by_long_text():
    extracted = extract_article(fixture_bytes("page-language-declared-english-text-german.html"), NORTH_PIER_URL)
    assert extracted.language == "de"


def test_language_declaration_wins_on_short_text():
    assert detect_language("Der Stadtrat hat am Dienstag beschlossen.", "en") == "en"
    assert detect_language("Kurz.", None) is None


def test_heading_repeated_as_first_line_is_dropped_even_when_it_differs_from_og_title():
    cleaned = clean_article(extract_article(fixture_bytes("page-heading-repeated-differs-from-og-title.html"), NORTH_PIER_URL))
    assert cleaned.title == "Jetty plan approved"
    assert cleaned.text.startswith("The harbour authority approved a plan on Tuesday")


def test_author_with_a_long_run_of_separators_is_cleaned_without_hanging():
    # The trailing-separators pattern was tried at every position of the run:
    # quadratic, minutes for this.  A child process: a regex holds the GIL.
    import subprocess
    import sys

    author = "Maren Holt" + " |" * 150_000 + " Harbour Gazette"
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pipeline.extract import clean_author;"
         " print(clean_author(sys.stdin.read())[-40:])"],
        input=author, capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n") == author[-40:]


# ------------------------------------------------------------ page metadata

from pipeline.extract import page_metadata  # noqa: E402

META_PAGE = """<html><head><title>Ferry terminal approved | harbour.example.org</title>
<meta property="og:site_name" content="HarbourGaz">
<meta property="og:title" content="Ferry terminal approved">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Ferry terminal approved on the north quay",
 "author": [{"@type": "Person", "name": "Maren Holt"}, {"@type": "Person", "name": "Jo Lin"}],
 "publisher": {"@type": "Organization", "name": "Harbour Gazette"}}</script>
</head><body><h1>Ferry terminal approved</h1><p class="byline">By Someone Else</p></body></html>"""

BYLINE_PAGE = """<html><head><title>Jetty plan approved</title></head><body>
<h1>Jetty plan approved</h1>
<div class="article-author">Tom Davies Associated Press Published 11:34 PM EST Nov 19, 2019</div>
<p>Body.</p>
<div id="comments"><form><label class="comment-author">Name *</label></form></div>
</body></html>"""


def test_page_metadata_takes_the_stated_fields_first():
    import lxml.html

    metadata = page_metadata(lxml.html.fromstring(META_PAGE), "https://www.harbour.example.org/news/a.html")
    # <meta> before JSON-LD for the title; JSON-LD's people before a byline in the markup.
    assert metadata.title == "Ferry terminal approved"
    assert metadata.author == "Maren Holt; Jo Lin"
    # The publisher's name wins over a shorter og:site_name, a handle.
    assert metadata.site_name == "Harbour Gazette"


def test_page_metadata_reads_a_byline_outside_comments_and_falls_back_to_the_host_for_the_site():
    import lxml.html

    metadata = page_metadata(lxml.html.fromstring(BYLINE_PAGE), "https://www.harbour.example.org/news/a.html")
    assert metadata.title == "Jetty plan approved"
    # The byline's names without its time stamp; a comment form's label is no author.
    assert metadata.author == "Tom Davies Associated Press"
    assert metadata.site_name == "harbour.example.org"


GRAPH_AUTHOR_PAGE = """<html><head><title>Pier reopens</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
 {"@type": "Article", "headline": "Pier reopens", "author": {"@id": "https://harbour.example.org/#/person/7"}},
 {"@type": ["Person"], "@id": "https://harbour.example.org/#/person/7", "name": "Yoav Berger"},
 {"@type": "Organization", "@id": "https://harbour.example.org/#org", "name": "Harbour Gazette"}]}</script>
</head><body><h1>Pier reopens</h1><p>Body.</p></body></html>"""

SITE_AS_AUTHOR_PAGE = """<html><head><title>Quay review</title>
<meta name="twitter:creator" content="@harbourinsider">
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Quay review", "author": {"@type": "Person", "name": "HarbourInsider"}}</script>
</head><body><h1>Quay review</h1>
<div class="author">By Mike Wren and Malcolm Ode Monday, November 18, 2019 10:40 am PT</div>
<p>Body.</p></body></html>"""


def test_page_metadata_follows_a_json_ld_author_given_by_reference():
    import lxml.html

    metadata = page_metadata(lxml.html.fromstring(GRAPH_AUTHOR_PAGE), "https://harbour.example.org/pier")
    assert metadata.author == "Yoav Berger"


def test_page_metadata_takes_the_sites_own_name_for_no_author_and_reads_the_byline():
    import lxml.html

    metadata = page_metadata(lxml.html.fromstring(SITE_AS_AUTHOR_PAGE), "https://harbourinsider.example/quay")
    # Its names, without the weekday and date the byline runs on into.
    assert clean_author(metadata.author) == "Mike Wren and Malcolm Ode"


def test_a_character_reference_xml_cannot_hold_costs_only_that_character():
    # lxml refuses a whole document over one "&#1;" or "&#65535;": without
    # them, the article is read as it would be without them.
    page = fixture_bytes("page-char-ref-to-control-character.html")
    article = extract_article(page, "https://harbour.example.org/night-ferry")
    assert article.title.startswith("Night ferry resumes after storm")
    assert "A spokesman for the operator said the timetable" in article.text
    assert article.text.split("\n")[-5].startswith("The night ferry between the north quay")
    assert article.text.endswith("an hour before the first sailing.")
    assert extract_article(page.decode("utf-8"), "https://harbour.example.org/night-ferry").text == article.text
