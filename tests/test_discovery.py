"""Feed discovery (pipeline.discovery): the links a page declares, and whole sites served on 127.0.0.1."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.demo import serve_directory
from pipeline.config import Settings
from pipeline.discovery import (
    COMMON_FEED_PATHS,
    DiscoveredFeed,
    FeedDiscoveryError,
    discover_feeds,
    feed_links_in_page,
)
from tests.conftest import fixture_bytes

HARBOUR = "https://harbour.example.org/"


# ------------------------------------------------------------ feed links


def test_page_links_keep_declared_rss_atom_and_json_feeds_in_order_once_each():
    links = feed_links_in_page(fixture_bytes("page-declares-rss-and-atom-links.html"), HARBOUR)
    assert links == [
        "https://harbour.example.org/news/rss.xml",  # also declared again absolutely: kept once
        "https://harbour.example.org/atom.xml",  # rel="alternate home", type in mixed case with a charset
        "https://harbour.example.org/comments/feed/",
        "https://harbour.example.org/feed.json",
    ]
    # Left out: stylesheet, hreflang page, WordPress JSON API and oEmbed, an
    # empty href, javascript:, rel="feed" to HTML, a commented-out link, <a>.


def test_page_links_resolve_against_the_page_directory_and_base_href():
    assert feed_links_in_page(
        fixture_bytes("page-declares-rss-and-atom-links.html"), "https://harbour.example.org/section/index.html"
    )[1] == "https://harbour.example.org/section/atom.xml"
    assert feed_links_in_page(
        fixture_bytes("page-declares-feed-relative-to-base-href.html"), "https://valley.example.org/about/team.html"
    ) == ["https://valley.example.org/blog/feed.xml"]


def test_page_without_feed_links_gives_none():
    assert feed_links_in_page(fixture_bytes("page-declares-no-feed.html"), HARBOUR) == []


def test_page_bytes_decode_by_meta_charset_and_text_by_itself():
    raw = fixture_bytes("page-charset-windows-1252-declares-feed.html")
    expected = ["https://port.example.fr/actualit\u00e9s/rss.xml"]
    assert feed_links_in_page(raw, "https://port.example.fr/") == expected
    assert feed_links_in_page(raw.decode("cp1252"), "https://port.example.fr/") == expected
    # Undeclared UTF-8 is read as UTF-8, not Latin-1.
    utf8 = '<link rel=alternate type=application/rss+xml href="/caf\u00e9.xml">'.encode("utf-8")
    assert feed_links_in_page(utf8, "https://port.example.fr/") == ["https://port.example.fr/caf\u00e9.xml"]


@pytest.mark.parametrize("html", [b"", b"  \n", "", "<html></html>", b"\x00\xff\xfe", "<?xml version='1.0' encoding='utf-8'?><html/>"])
def test_empty_or_odd_documents_give_no_links(html):
    assert feed_links_in_page(html, HARBOUR) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.builds(
            lambda rel, kind, href: f'<html><head><link rel="{rel}" type="{kind}" href="{href}"></head></html>',
            st.sampled_from(["alternate", "ALTERNATE home", "stylesheet", ""]),
            st.sampled_from(["application/rss+xml", "application/atom+xml;charset=utf-8", "text/html", ""]),
            st.text(alphabet="htps:/[]@?#.exampl%\uff0f\"<> ", max_size=30),
        ),
    )
)
def test_page_links_are_absolute_http_urls_without_duplicates_whatever_the_page(html):
    links = feed_links_in_page(html, HARBOUR)
    assert len(links) == len(set(links))
    for link in links:
        parts = urlsplit(link)
        assert parts.scheme in {"http", "https"} and parts.hostname


# ------------------------------------------------------------ discovery

ATOM = fixture_bytes("feed-atom.xml")  # "Valley Observer", 2 entries
RSS = fixture_bytes("feed-rss2-relative-links.xml")  # "Harbour Gazette", 2 usable entries


@pytest.fixture
def site(tmp_path):
    """A static site on 127.0.0.1 serving tmp_path, and settings that may fetch it."""
    with serve_directory(tmp_path) as base_url:
        allowed = Settings(
            allow_private_hosts=base_url.removeprefix("http://"), per_host_delay=0, retries=0, respect_robots=True
        )
        yield tmp_path, base_url, allowed


def put(root: Path, path: str, content: bytes) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


@pytest.mark.integration
def test_declared_feeds_come_first_then_common_paths_that_answer_with_a_feed(site):
    root, base, allowed = site
    put(root, "index.html", fixture_bytes("page-declares-missing-and-present-feeds.html"))
    put(root, "news/rss.xml", RSS)
    put(root, "atom.xml", ATOM)  # common path, not declared
    put(root, "index.xml", b"<html><body>not a feed</body></html>")
    assert discover_feeds(base + "/", allowed) == [
        DiscoveredFeed(base + "/news/rss.xml", "Harbour Gazette", 2),
        DiscoveredFeed(base + "/atom.xml", "Valley Observer", 2),
    ]
    # Left out: /old/rss.xml (404), /news/ (a directory listing, HTML), the
    # other common paths (404, or the HTML index for /?feed=rss2).


@pytest.mark.integration
def test_page_without_feed_links_finds_feed_xml(site):
    root, base, allowed = site
    put(root, "index.html", fixture_bytes("page-declares-no-feed.html"))
    put(root, "feed.xml", RSS)
    assert discover_feeds(base + "/", allowed) == [DiscoveredFeed(base + "/feed.xml", "Harbour Gazette", 2)]


@pytest.mark.integration
def test_feed_with_no_entries_is_still_a_feed(site):
    root, base, allowed = site
    put(root, "index.html", fixture_bytes("page-declares-no-feed.html"))
    put(root, "rss.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    assert discover_feeds(base + "/", allowed) == [DiscoveredFeed(base + "/rss.xml", "Quiet", 0)]


@pytest.mark.integration
def test_declared_json_feed_is_not_returned_while_parse_feed_cannot_read_it(site):
    root, base, allowed = site
    put(root, "index.html", b'<link rel="alternate" type="application/feed+json" href="/feed.json">')
    put(root, "feed.json", b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": []}')
    assert discover_feeds(base + "/", allowed) == []


@pytest.mark.integration
def test_relative_link_is_resolved_against_the_page_after_its_redirect(site):
    root, base, allowed = site
    # The static server redirects /blog to /blog/ (301); "feed.xml" is then /blog/feed.xml.
    put(root, "blog/index.html", b'<link rel="alternate" type="application/atom+xml" href="feed.xml">')
    put(root, "blog/feed.xml", ATOM)
    assert discover_feeds(base + "/blog", allowed) == [DiscoveredFeed(base + "/blog/feed.xml", "Valley Observer", 2)]


@pytest.mark.integration
def test_feed_moved_for_good_is_given_at_its_new_address_and_only_once(site):
    root, base, allowed = site
    # Declared as /rss/, and the common path /rss answers 301 -> /rss/: one feed.
    put(root, "index.html", b'<link rel="alternate" type="application/rss+xml" href="/rss/">')
    put(root, "rss/index.html", RSS)  # served as text/html, still a feed
    assert discover_feeds(base + "/", allowed) == [DiscoveredFeed(base + "/rss/", "Harbour Gazette", 2)]


@pytest.mark.integration
def test_site_url_that_is_a_feed_is_returned_alone(site):
    root, base, allowed = site
    put(root, "news/atom.xml", ATOM)
    put(root, "feed.xml", RSS)  # not probed: the URL given was already a feed
    assert discover_feeds(base + "/news/atom.xml", allowed) == [
        DiscoveredFeed(base + "/news/atom.xml", "Valley Observer", 2)
    ]


@pytest.mark.integration
def test_site_url_that_is_a_feed_served_as_html_is_returned_alone(site):
    root, base, allowed = site
    put(root, "news/index.html", RSS)
    put(root, "feed.xml", ATOM)
    assert discover_feeds(base + "/news/", allowed) == [DiscoveredFeed(base + "/news/", "Harbour Gazette", 2)]


@pytest.mark.integration
def test_site_page_that_is_missing_still_gets_common_paths_tried(site):
    root, base, allowed = site
    put(root, "feed.xml", ATOM)
    assert discover_feeds(base + "/no-such-page.html", allowed) == [
        DiscoveredFeed(base + "/feed.xml", "Valley Observer", 2)
    ]


@pytest.mark.integration
def test_page_disallowed_by_robots_is_not_read_but_common_paths_are_tried(site):
    root, base, allowed = site
    put(root, "robots.txt", b"User-agent: *\nDisallow: /\n")
    put(root, "index.html", b'<link rel="alternate" type="application/rss+xml" href="/declared.xml">')
    put(root, "declared.xml", RSS)
    put(root, "feed.xml", ATOM)
    assert discover_feeds(base + "/", allowed) == [DiscoveredFeed(base + "/feed.xml", "Valley Observer", 2)]


@pytest.mark.integration
def test_private_address_without_allowance_raises_a_clear_error(site):
    root, base, _ = site
    put(root, "feed.xml", RSS)
    closed = Settings(allow_private_hosts="", per_host_delay=0, retries=0)
    with pytest.raises(FeedDiscoveryError, match=r"refused: loopback address 127\.0\.0\.1") as caught:
        discover_feeds(base + "/", closed)
    assert caught.value.kind == "refused" and caught.value.url == base + "/"


@pytest.mark.integration
def test_unreachable_site_raises_with_the_network_error():
    with serve_directory(Path(tempfile.mkdtemp())) as base:
        pass  # the server is gone: nothing listens on its port any more
    allowed = Settings(allow_private_hosts=base.removeprefix("http://"), per_host_delay=0, retries=0)
    with pytest.raises(FeedDiscoveryError, match="cannot discover feeds on") as caught:
        discover_feeds(base + "/", allowed)
    assert caught.value.kind == "network"


@pytest.mark.parametrize("url", ["harbour.example.org", "ftp://harbour.example.org/", "/feed.xml", "http://[x"])
def test_site_url_that_is_not_absolute_http_raises_before_any_request(url):
    with pytest.raises(FeedDiscoveryError, match="not an absolute http") as caught:
        discover_feeds(url, Settings(per_host_delay=0, retries=0))
    assert caught.value.kind == "url"


def test_common_feed_paths_are_root_relative():
    assert all(path.startswith("/") for path in COMMON_FEED_PATHS)
    assert "/feed.xml" in COMMON_FEED_PATHS and "/?feed=rss2" in COMMON_FEED_PATHS
