"""Unit tests for pipeline.dedup: canonical URLs, same-site checks, content hashes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean import clean_article
from pipeline.dedup import article_url, canonicalize_url, content_hash, normalize_text, same_site
from pipeline.extract import extract_article

DEMO = Path(__file__).parent.parent / "seeds" / "demo"
DEMO_BASE = "http://127.0.0.1:8000"
FREEPRESS_PATH = "/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
COURIER_PATH = "/courier/world/blinken-urges-beijing-north-korea.html"


# ------------------------------------------------------------ canonicalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://example.org/a?utm_source=rss&utm_medium=feed&utm_campaign=world",
            "https://example.org/a", id="utm-params",
        ),
        pytest.param("https://example.org/a?UTM_Source=rss&id=7", "https://example.org/a?id=7", id="utm-any-case"),
        pytest.param("https://example.org/a?id=7&fbclid=IwAR0x", "https://example.org/a?id=7", id="fbclid"),
        pytest.param("https://example.org/a?gclid=Cj0K&id=7", "https://example.org/a?id=7", id="gclid"),
        pytest.param("https://example.org/a?mc_cid=3f2a&mc_eid=9b&id=7", "https://example.org/a?id=7", id="mailchimp"),
        pytest.param("https://example.org/a?ocid=msnews&id=7", "https://example.org/a?id=7", id="ocid"),
        pytest.param("https://example.org/a?cmpid=rss&id=7", "https://example.org/a?id=7", id="cmpid"),
        pytest.param("https://example.org/a?page=2&id=7&sort=new", "https://example.org/a?id=7&page=2&sort=new",
                     id="other-params-kept-and-sorted"),
        pytest.param("https://example.org/a?id=7#comments", "https://example.org/a?id=7", id="fragment"),
        pytest.param("HTTPS://WWW.Example.ORG/News/Story.html", "https://www.example.org/News/Story.html",
                     id="scheme-and-host-lower-cased-path-kept"),
        pytest.param("https://example.org:443/a", "https://example.org/a", id="https-default-port"),
        pytest.param("http://example.org:80/a", "http://example.org/a", id="http-default-port"),
        pytest.param("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/a", id="other-port-kept"),
        pytest.param("https://example.org/news/", "https://example.org/news", id="trailing-slash"),
        pytest.param("https://example.org", "https://example.org/", id="empty-path-is-root"),
        pytest.param("https://example.org/", "https://example.org/", id="root-kept"),
        pytest.param("  https://example.org/a  ", "https://example.org/a", id="surrounding-spaces"),
        pytest.param(
            f"{DEMO_BASE}{COURIER_PATH}?utm_source=rss&utm_medium=feed&utm_campaign=world",
            f"{DEMO_BASE}{COURIER_PATH}", id="demo-courier-feed-link",
        ),
    ],
)
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


@st.composite
def http_urls(draw) -> str:
    segment = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
    key = st.one_of(
        st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "id", "page", "q", "fbclid", "gclid", "ref"]),
        st.text(alphabet="abcxyz_%+ =;", min_size=1, max_size=6),
    )
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "HtTpS"]))
    host = draw(st.sampled_from(["example.org", "EXAMPLE.org", "www.example.com", "127.0.0.1", "news.example.co.uk"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8000"]))
    path = "/".join(draw(st.lists(segment, max_size=4)))
    query = "&".join(f"{draw(key)}={draw(segment)}" for _ in range(draw(st.integers(0, 4))))
    fragment = draw(st.one_of(st.just(""), segment.map(lambda s: "#" + s)))
    return f"{scheme}://{host}{port}/{path}" + (f"?{query}" if query else "") + fragment


@settings(max_examples=200, deadline=None)
@given(url=http_urls())
def test_canonicalize_url_is_idempotent_and_drops_utm_params_and_fragments(url):
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once
    parts = urlsplit(once)
    assert parts.fragment == ""
    assert "#" not in once
    keys = [key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert not any(key.startswith("utm_") for key in keys)
    assert parts.scheme in {"http", "https"}
    assert parts.netloc == parts.netloc.lower()


# ------------------------------------------------------------------ same_site


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("https://www.example.org/a", "https://example.org/b", True),
        ("https://amp.example.org/a", "https://www.example.org/b", True),
        ("https://m.example.org/a", "https://example.org/b", True),
        ("https://WWW.EXAMPLE.ORG/a", "http://example.org/b", True),
        ("https://example.org/a", "https://example.com/a", False),
        ("https://news.example.org/a", "https://example.org/a", False),
        ("https://www.example.org/a", "https://www.example.org.evil.example/a", False),
        ("", "", False),
        ("not a url", "not a url", False),
    ],
)
def test_same_site(first, second, expected):
    assert same_site(first, second) is expected


# ----------------------------------------------------------------- article_url


def test_article_url_prefers_a_same_site_canonical_link():
    assert article_url(
        "https://amp.example.org/a.amp.html?utm_source=twitter", "https://www.example.org/news/a.html/"
    ) == "https://www.example.org/news/a.html"


def test_article_url_ignores_a_cross_site_canonical_link():
    assert article_url(
        "https://www.example.org/a.html?utm_source=rss&id=3", "https://aggregator.example.net/copy/a.html"
    ) == "https://www.example.org/a.html?id=3"


def test_article_url_without_canonical_link_is_the_canonical_fetched_url():
    assert article_url("https://Example.org:443/a.html?b=2&a=1#top", None) == "https://example.org/a.html?a=1&b=2"


def test_article_url_for_the_demo_courier_page_is_the_clean_canonical_path():
    html = (DEMO / "courier" / "world" / "blinken-urges-beijing-north-korea.html").read_bytes()
    fetched = f"{DEMO_BASE}{COURIER_PATH}?utm_source=rss&utm_medium=feed&utm_campaign=world"
    extracted = extract_article(html, fetched)
    assert article_url(fetched, extracted.canonical_link) == f"{DEMO_BASE}{COURIER_PATH}"


# --------------------------------------------------------------- content_hash


def test_content_hash_ignores_quote_dash_case_and_whitespace_differences():
    curly = "China has “clear self-interest” – Blinken’s words,\n  he said."
    straight = 'china has "clear self-interest" - blinken\'s WORDS, he   said.'
    assert curly != straight
    assert content_hash(curly) == content_hash(straight)
    assert normalize_text(curly) == normalize_text(straight)


def test_content_hash_folds_unicode_compatibility_forms():
    assert content_hash("Oﬃce ﬁre in Leeds") == content_hash("Office fire in Leeds")


@pytest.mark.parametrize(
    "other",
    [
        "Little progress has been made on this point!",
        "Little progress has been made on that point.",
        "Little progress has been made on this point. Talks continue.",
        "Littleprogress has been made on this point.",
    ],
)
def test_content_hash_differs_for_different_text(other):
    assert content_hash("Little progress has been made on this point.") != content_hash(other)


def test_content_hash_is_a_32_digit_hex_string():
    digest = content_hash("Any text at all.")
    assert len(digest) == 32
    int(digest, 16)


@pytest.fixture(scope="module")
def wire_copies():
    pages = {}
    for outlet, path in (("freepress", FREEPRESS_PATH), ("courier", COURIER_PATH)):
        html = (DEMO / path.lstrip("/")).read_bytes()
        extracted = extract_article(html, f"{DEMO_BASE}{path}")
        pages[outlet] = (extracted, clean_article(extracted))
    return pages


def test_wire_story_on_two_outlets_has_one_content_hash_after_cleaning(wire_copies):
    (_, freepress), (_, courier) = wire_copies["freepress"], wire_copies["courier"]
    assert content_hash(freepress.text) == content_hash(courier.text)


def test_wire_story_on_two_outlets_differs_before_cleaning(wire_copies):
    # The equal hashes above are the cleaner's doing, not an accident of extraction.
    (freepress_raw, _), (courier_raw, _) = wire_copies["freepress"], wire_copies["courier"]
    assert content_hash(freepress_raw.text) != content_hash(courier_raw.text)


def test_wire_story_on_two_outlets_keeps_different_datelines_and_titles(wire_copies):
    (_, freepress), (_, courier) = wire_copies["freepress"], wire_copies["courier"]
    assert freepress.dateline == "Seoul / Pyongyang"
    assert courier.dateline == "Seoul"
    assert freepress.agency == courier.agency == "dpa"
    assert freepress.title != courier.title


def test_wire_story_on_two_outlets_has_two_canonical_urls(wire_copies):
    (freepress_raw, _), (courier_raw, _) = wire_copies["freepress"], wire_copies["courier"]
    urls = {
        article_url(freepress_raw.url, freepress_raw.canonical_link),
        article_url(courier_raw.url, courier_raw.canonical_link),
    }
    assert urls == {f"{DEMO_BASE}{FREEPRESS_PATH}", f"{DEMO_BASE}{COURIER_PATH}"}


@pytest.mark.parametrize(
    ("amp", "plain"),
    [
        ("https://amp.example.com/world/story?outputType=amp", "https://example.com/world/story"),
        ("https://www.example.com/amp/world/story", "https://www.example.com/world/story"),
        ("https://www.example.com/world/story/amp/", "https://www.example.com/world/story"),
        ("https://www.example.com/world/story.amp.html?amp=1&id=3", "https://www.example.com/world/story.html?id=3"),
    ],
)
def test_amp_forms_canonicalise_to_the_plain_page(amp, plain):
    assert canonicalize_url(amp) == plain


@pytest.mark.parametrize("url", [
    "https://amp.com/news", "https://example.com/ampere/news", "https://example.com/story/camp",
])
def test_words_that_merely_contain_amp_are_kept(url):
    assert canonicalize_url(url) == url
