"""Feed-list management in pipeline.feeds: export (OPML, YAML) and feed discovery."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from flows.demo import serve_directory
from pipeline.config import Settings
from pipeline.feeds import (
    COMMON_FEED_PATHS,
    DiscoveredFeed,
    FeedDiscoveryError,
    FeedListError,
    FeedSource,
    discover_feeds,
    export_opml,
    export_yaml,
    feed_links_in_page,
    load_feed_list,
)

FIXTURES = Path(__file__).parent / "fixtures"
HARBOUR = "https://harbour.example.org/"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load_text(text: str, suffix: str) -> list[FeedSource]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"feeds{suffix}"
        path.write_bytes(text.encode("utf-8"))
        return load_feed_list(path)


# ------------------------------------------------------------------ export

SOURCES = [
    FeedSource("https://harbour.example.org/news/rss.xml?a=1&b=2", 'Harbour "Gazette" & <Co>'),
    FeedSource("https://valley.example.org/atom.xml", None),
    FeedSource("https://rhein.example.de/feed.xml", "Rhein-Bote – Nachrichten\nvom Rhein"),
]


def test_opml_is_an_opml_2_subscription_list_with_one_rss_outline_per_feed():
    root = etree.fromstring(export_opml(SOURCES, title="My & your feeds").encode("utf-8"))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "My & your feeds"
    outlines = root.findall("body/outline")
    assert [dict(outline.attrib) for outline in outlines] == [
        {
            "type": "rss",
            "text": 'Harbour "Gazette" & <Co>',
            "title": 'Harbour "Gazette" & <Co>',
            "xmlUrl": "https://harbour.example.org/news/rss.xml?a=1&b=2",
        },
        # OPML requires text: a feed without a name shows its URL.
        {"type": "rss", "text": "https://valley.example.org/atom.xml", "xmlUrl": "https://valley.example.org/atom.xml"},
        {
            "type": "rss",
            "text": "Rhein-Bote – Nachrichten\nvom Rhein",
            "title": "Rhein-Bote – Nachrichten\nvom Rhein",
            "xmlUrl": "https://rhein.example.de/feed.xml",
        },
    ]


def test_opml_escapes_markup_in_names_and_urls():
    document = export_opml(SOURCES)
    assert document.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    assert "<Co>" not in document and "&lt;Co&gt;" in document
    assert "?a=1&amp;b=2" in document
    assert "Nachrichten&#10;vom Rhein" in document  # a raw line break would read back as a space


def test_opml_round_trip_keeps_names_and_an_unnamed_feed_unnamed():
    # OPML requires text=, so an unnamed feed is written with its URL there;
    # reading takes a text equal to the URL as no name.
    assert load_text(export_opml(SOURCES), ".opml") == SOURCES


def test_opml_drops_characters_xml_cannot_carry_from_names_but_refuses_such_urls():
    document = export_opml([FeedSource("https://a.example.org/rss", "bell\x07 and nul\x00 gone\ufffe")])
    assert load_text(document, ".opml") == [FeedSource("https://a.example.org/rss", "bell and nul gone")]
    with pytest.raises(FeedListError, match="XML"):
        export_opml([FeedSource("https://a.example.org/\x01rss")])


def test_yaml_export_has_the_feeds_list_shape_and_leaves_out_missing_names():
    data = yaml.safe_load(export_yaml(SOURCES))
    assert data == {
        "feeds": [
            {"url": SOURCES[0].url, "name": SOURCES[0].name},
            {"url": "https://valley.example.org/atom.xml"},
            {"url": SOURCES[2].url, "name": SOURCES[2].name},
        ]
    }


def test_yaml_export_quotes_names_that_would_read_as_other_types():
    sources = [FeedSource(f"https://e.example.org/{i}", name) for i, name in enumerate(["true", "123", "null", "", "~"])]
    assert load_text(export_yaml(sources), ".yaml") == sources


def test_empty_lists_round_trip():
    assert load_text(export_yaml([]), ".yaml") == []
    assert load_text(export_opml([]), ".opml") == []


_ODD = "\"'&<>;=?#% \u00e9\u00df\u4e2d\u0627\U0001f4f0\u2028\u00a0\\"
_PATHS = st.text(alphabet=st.one_of(st.sampled_from(_ODD), st.characters(blacklist_categories=("Cs", "Cc"))), max_size=20)
_URLS = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["example.org", "news.example.co.uk", "b\u00fccher.example", "127.0.0.1:8080", "[::1]:81"]),
    _PATHS,
).filter(lambda url: url == url.strip())
_NAMES = st.one_of(st.none(), st.text(alphabet=st.one_of(st.sampled_from(_ODD), st.characters(blacklist_categories=("Cs",))), max_size=20))


def _feed_lists(names):
    return st.lists(st.builds(FeedSource, _URLS, names), max_size=5, unique_by=lambda source: source.url)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds=_feed_lists(_NAMES))
def test_yaml_round_trip_on_odd_names_and_urls(feeds):
    assert load_text(export_yaml(feeds), ".yaml") == feeds


_XML_NAMES = st.text(
    alphabet=st.one_of(st.sampled_from(_ODD + "\t\n\r"), st.characters(blacklist_categories=("Cs", "Cc"))),
    min_size=1, max_size=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds=_feed_lists(st.one_of(st.none(), _XML_NAMES)), title=_XML_NAMES)
def test_opml_round_trip_on_odd_names_and_urls(feeds, title):
    expected = [
        FeedSource(feed.url, None if feed.name is None or feed.name.strip() == feed.url.strip() else feed.name)
        for feed in feeds
    ]
    document = export_opml(feeds, title=title)
    assert load_text(document, ".opml") == expected
    assert etree.fromstring(document.encode("utf-8")).findtext("head/title") == title


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
