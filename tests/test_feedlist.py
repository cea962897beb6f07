"""Unit tests for pipeline.feedlist: reading YAML and OPML feed lists, and writing them back out."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipeline.feedlist import FeedListError, FeedSource, export_opml, export_yaml, load_feed_list
from tests.conftest import CORPUS, FIXTURES, HOSTILE_LINKS, fixture_bytes

DEMO_BASE = "http://127.0.0.1:8000"


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load_text(text: str, suffix: str) -> list[FeedSource]:
    with tempfile.TemporaryDirectory() as directory:
        return load_feed_list(write(Path(directory), f"feeds{suffix}", text))


# ------------------------------------------------------------------ reading


def test_yaml_feed_list_resolves_relative_urls_accepts_strings_and_drops_duplicates():
    sources = load_feed_list(FIXTURES / "feed-list.yaml", DEMO_BASE)
    assert sources == [
        FeedSource(url="http://127.0.0.1:8000/feed-rss2-relative-links.xml", name="Harbour Gazette"),
        FeedSource(url="https://example.org/rss.xml", name=None),
        FeedSource(url="http://127.0.0.1:8000/feed-atom.xml", name=None),
    ]


def test_yaml_feed_list_with_relative_url_and_no_base_url_raises():
    with pytest.raises(FeedListError, match="feed-rss2-relative-links.xml"):
        load_feed_list(FIXTURES / "feed-list.yaml")


def test_yaml_feed_list_drops_a_duplicate_that_only_appears_after_resolution(tmp_path):
    path = write(
        tmp_path, "feeds.yaml",
        "feeds:\n  - /courier/atom.xml\n  - url: http://127.0.0.1:8000/courier/atom.xml\n    name: again\n",
    )
    assert load_feed_list(path, DEMO_BASE) == [FeedSource(url="http://127.0.0.1:8000/courier/atom.xml")]


def test_yaml_feed_list_strips_whitespace_around_urls(tmp_path):
    path = write(tmp_path, "feeds.yaml", 'feeds:\n  - url: "  https://example.org/rss.xml  "\n    name: Ex\n')
    assert load_feed_list(path) == [FeedSource(url="https://example.org/rss.xml", name="Ex")]


def test_demo_feed_list_resolves_to_four_feeds_on_the_demo_host():
    sources = load_feed_list(CORPUS / "feeds.yaml", DEMO_BASE)
    assert len(sources) == 4
    assert all(source.url.startswith(DEMO_BASE + "/") for source in sources)


def test_opml_feed_list_reads_nested_outlines_and_ignores_folders():
    assert load_feed_list(FIXTURES / "feed-list.opml") == [
        FeedSource(url="https://harbour.example.org/rss.xml", name="Harbour Gazette"),
        FeedSource(url="https://valley.example.org/atom.xml", name="Valley Observer"),
    ]


def test_opml_is_recognised_by_content_whatever_the_file_suffix(tmp_path):
    path = write(tmp_path, "subscriptions.txt", fixture_bytes("feed-list.opml"))
    assert [source.name for source in load_feed_list(path)] == ["Harbour Gazette", "Valley Observer"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.yaml", "feeds: [unclosed\n  - url: x", "not valid YAML"),
        ("no-feeds-key.yaml", "sources:\n  - url: https://example.org/rss.xml\n", "'feeds'"),
        ("feeds-not-a-list.yaml", "feeds: https://example.org/rss.xml\n", "'feeds'"),
        ("top-level-list.yaml", "- https://example.org/rss.xml\n", "'feeds'"),
        ("empty.yaml", "", "'feeds'"),
        ("item-without-url.yaml", "feeds:\n  - name: Harbour Gazette\n", r"feeds\[0\]"),
        ("url-not-a-string.yaml", "feeds:\n  - url: 42\n", r"feeds\[0\]"),
        ("bad.opml", "<opml><body><outline xmlUrl='https://example.org/rss.xml'></body>", "not valid OPML"),
    ],
)
def test_malformed_feed_list_raises_feed_list_error(tmp_path, name, content, message):
    with pytest.raises(FeedListError, match=message):
        load_feed_list(write(tmp_path, name, content), DEMO_BASE)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/rss.xml",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "feed://example.org/rss.xml",
        "https://",
        "http://[broken/rss.xml",
        "http://ex\uff0fample.org/rss.xml",
    ],
)
def test_feed_list_url_that_is_not_absolute_http_raises_feed_list_error(tmp_path, url):
    path = write(tmp_path, "feeds.yaml", f"feeds:\n  - url: {url!r}\n")
    with pytest.raises(FeedListError, match="http"):
        load_feed_list(path)


def test_opml_outline_with_non_http_url_raises_feed_list_error(tmp_path):
    path = write(
        tmp_path, "list.opml",
        '<opml version="2.0"><body><outline text="x" xmlUrl="file:///etc/passwd"/></body></opml>',
    )
    with pytest.raises(FeedListError):
        load_feed_list(path)


def test_missing_feed_list_file_raises_feed_list_error(tmp_path):
    with pytest.raises(FeedListError, match="cannot read feed list"):
        load_feed_list(tmp_path / "does-not-exist.yaml")


def test_directory_instead_of_feed_list_raises_feed_list_error(tmp_path):
    with pytest.raises(FeedListError):
        load_feed_list(tmp_path)


@settings(max_examples=150, deadline=None)
@given(
    suffix=st.sampled_from([".yaml", ".opml"]),
    content=st.one_of(
        st.binary(max_size=200),
        st.lists(HOSTILE_LINKS, max_size=4).map(
            lambda urls: ("feeds:\n" + "".join(f"  - url: {url!r}\n" for url in urls)).encode("utf-8", "surrogatepass")
        ),
        st.lists(HOSTILE_LINKS, max_size=4).map(
            lambda urls: (
                '<opml version="2.0"><body>' + "".join(f"<outline xmlUrl={quoteattr(u)}/>" for u in urls)
                + "</body></opml>"
            ).encode("utf-8", "surrogatepass")
        ),
    ),
    base_url=st.sampled_from([None, DEMO_BASE]),
)
def test_load_feed_list_on_hostile_content_raises_only_feed_list_error(suffix, content, base_url):
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "list" + suffix, content)
        try:
            sources = load_feed_list(path, base_url)
        except FeedListError:
            return
    for source in sources:
        parts = urlsplit(source.url)
        assert parts.scheme in {"http", "https"}
        assert parts.hostname
    assert len({source.url for source in sources}) == len(sources)


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
