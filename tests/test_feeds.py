"""Unit tests for pipeline.feeds: feed documents (RSS, Atom) into entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.feeds import FeedParseError, ParsedFeed, parse_feed
from tests.conftest import FIXTURES, HOSTILE_LINKS, fixture_bytes

HARBOUR_FEED_URL = "https://harbour.example.org/feeds/rss.xml"
VALLEY_FEED_URL = "https://valley.example.org/atom.xml"
RHEIN_FEED_URL = "https://rhein.example.de/feed.xml"


def rss(items: str, channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Test feed</title><link>/</link>{channel_extra}{items}</channel></rss>"
    ).encode("utf-8")


# --------------------------------------------------------------------- RSS 2.0


@pytest.fixture(scope="module")
def harbour() -> ParsedFeed:
    return parse_feed(fixture_bytes("feed-rss2-relative-links.xml"), HARBOUR_FEED_URL)


def test_rss_keeps_only_entries_with_a_usable_link_in_feed_order(harbour):
    assert [entry.title for entry in harbour.entries] == [
        "Ferry timetable changes from Monday",
        "Fish market reopens",
    ]


def test_rss_root_relative_link_is_resolved_against_the_feed_host(harbour):
    # Tracking parameters are the canonicaliser's business, not the parser's.
    assert harbour.entries[0].url == (
        "https://harbour.example.org/news/ferry-timetable.html?utm_source=rss&utm_medium=feed"
    )


def test_rss_document_relative_link_is_resolved_against_the_feed_directory(harbour):
    assert harbour.entries[1].url == "https://harbour.example.org/feeds/fishmarket.html"


def test_rss_item_without_link_or_url_guid_is_skipped(harbour):
    assert "Item without a link is skipped" not in {entry.title for entry in harbour.entries}


def test_rss_duplicate_link_is_kept_once_with_the_first_title(harbour):
    urls = [entry.url for entry in harbour.entries]
    assert len(urls) == len(set(urls))
    assert "Same page twice" not in {entry.title for entry in harbour.entries}


def test_rss_mailto_link_is_skipped(harbour):
    assert all(urlsplit(entry.url).scheme == "https" for entry in harbour.entries)
    assert "Not a web page" not in {entry.title for entry in harbour.entries}


def test_rss_ttl_is_read_as_minutes(harbour):
    assert harbour.ttl_minutes == 60


def test_rss_channel_title_and_item_summary_are_read(harbour):
    assert harbour.title == "Harbour Gazette"
    assert harbour.entries[0].summary == "The harbour ferry runs less often at weekends."
    assert harbour.entries[1].summary is None


def test_rss_pubdate_with_offset_becomes_aware_utc(harbour):
    assert harbour.entries[0].published_at == datetime(2021, 3, 17, 7, 30, tzinfo=UTC)
    assert harbour.entries[1].published_at == datetime(2021, 3, 18, 7, 0, tzinfo=UTC)
    for entry in harbour.entries:
        assert entry.published_at.utcoffset() == timedelta(0)


def test_rss_url_guid_is_used_when_an_item_has_no_link():
    parsed = parse_feed(
        rss("<item><title>Guid only</title><guid>https://harbour.example.org/n/7.html</guid></item>"),
        HARBOUR_FEED_URL,
    )
    assert [entry.url for entry in parsed.entries] == ["https://harbour.example.org/n/7.html"]


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/html"])
def test_rss_without_items_is_an_empty_feed_not_an_error(content_type):
    # A missing or wrong content type is a small fault, whether or not the feed has items.
    parsed = parse_feed(rss(""), HARBOUR_FEED_URL, content_type)
    assert parsed.title == "Test feed"
    assert parsed.entries == []


def test_atom_without_entries_is_an_empty_feed_not_an_error():
    content = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Quiet valley</title></feed>'
    parsed = parse_feed(content, VALLEY_FEED_URL)
    assert parsed.title == "Quiet valley"
    assert parsed.entries == []


BAD_HOST = "http://ex\uff0fample.org/a.html"  # NFKC turns the host's "／" into "/": urlsplit raises


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            f'<rss version="2.0"><channel><title>T</title><item><title>Bad host</title><link>{BAD_HOST}</link>'
            "</item><item><title>Good</title><link>/good.html</link></item></channel></rss>",
            id="rss-link-no-xml-declaration",
        ),
        pytest.param(
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>Bad host</title><id>{BAD_HOST}'
            '</id></entry><entry><title>Good</title><id>urn:x:1</id><link href="/good.html"/></entry></feed>',
            id="atom-url-id",
        ),
    ],
)
def test_entry_with_malformed_host_is_skipped_and_the_rest_kept(content):
    # One bad entry must not sink the feed (the flow only catches FeedParseError).
    parsed = parse_feed(content.encode("utf-8"), HARBOUR_FEED_URL)
    assert [entry.url for entry in parsed.entries] == ["https://harbour.example.org/good.html"]


def test_rss_link_with_http_scheme_but_no_host_is_skipped():
    items = (
        "<item><title>No host</title><link>http:news/7.html</link></item>"
        "<item><title>Good</title><link>/good.html</link></item>"
    )
    parsed = parse_feed(rss(items), HARBOUR_FEED_URL)
    assert [entry.title for entry in parsed.entries] == ["Good"]


def test_rss_item_title_is_stripped_and_empty_title_becomes_none():
    items = (
        "<item><title>  Padded title  </title><link>/a.html</link></item>"
        "<item><title>   </title><link>/b.html</link></item>"
    )
    parsed = parse_feed(rss(items), HARBOUR_FEED_URL)
    assert [entry.title for entry in parsed.entries] == ["Padded title", None]


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        (" 15 ", 15),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("²", None),  # str.isdigit() is true for it, int() is not
        ("9" * 23, None),  # would overflow timedelta(minutes=...) in the caller
    ],
)
def test_rss_ttl_that_is_not_a_plain_number_is_ignored(ttl, expected):
    parsed = parse_feed(rss("<item><link>/a.html</link></item>", f"<ttl>{ttl}</ttl>"), HARBOUR_FEED_URL)
    assert parsed.ttl_minutes == expected


# ------------------------------------------------------------------- Atom 1.0


@pytest.fixture(scope="module")
def valley() -> ParsedFeed:
    return parse_feed(fixture_bytes("feed-atom.xml"), VALLEY_FEED_URL)


def test_atom_alternate_link_is_resolved_and_self_link_ignored(valley):
    assert [entry.url for entry in valley.entries] == [
        "https://valley.example.org/2021/03/dam-inspection.html",
        "https://valley.example.org/2021/03/updated-only.html",
    ]
    assert VALLEY_FEED_URL not in [entry.url for entry in valley.entries]


def test_atom_published_time_wins_over_updated(valley):
    assert valley.entries[0].published_at == datetime(2021, 3, 18, 9, 15, tzinfo=UTC)


def test_atom_updated_time_is_used_when_published_is_missing(valley):
    assert valley.entries[1].published_at == datetime(2021, 3, 17, 16, 45, tzinfo=UTC)


def test_atom_times_are_aware_utc(valley):
    for entry in valley.entries:
        assert entry.published_at.tzinfo is not None
        assert entry.published_at.utcoffset() == timedelta(0)


def test_atom_feed_has_title_and_no_ttl(valley):
    assert valley.title == "Valley Observer"
    assert valley.ttl_minutes is None


def test_the_format_of_the_document_is_named(harbour, valley):
    assert (harbour.format, valley.format) == ("rss20", "atom10")


def test_atom_entry_with_only_a_urn_id_and_no_link_is_skipped():
    content = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>V</title>'
        b"<entry><title>No link</title><id>urn:uuid:valley-9</id></entry>"
        b'<entry><title>Linked</title><id>urn:uuid:valley-10</id><link href="/x.html"/></entry>'
        b"</feed>"
    )
    parsed = parse_feed(content, VALLEY_FEED_URL)
    assert [entry.title for entry in parsed.entries] == ["Linked"]


def test_atom_url_id_is_used_when_an_entry_has_no_link():
    content = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>V</title>'
        b"<entry><title>Id only</title><id>https://valley.example.org/2021/03/id-only.html</id></entry>"
        b"</feed>"
    )
    parsed = parse_feed(content, VALLEY_FEED_URL)
    assert [entry.url for entry in parsed.entries] == ["https://valley.example.org/2021/03/id-only.html"]


# ------------------------------------------------------------------ encodings


def test_iso_8859_1_feed_is_decoded():
    parsed = parse_feed(fixture_bytes("feed-iso-8859-1.xml"), RHEIN_FEED_URL)
    assert parsed.title == "Nachrichten aus Köln"
    assert [entry.title for entry in parsed.entries] == ["Brückensperrung in Düsseldorf verlängert"]
    assert parsed.entries[0].url == "https://rhein.example.de/düsseldorf/bruecke.html"
    assert parsed.entries[0].published_at == datetime(2021, 3, 17, 9, 0, tzinfo=UTC)


def test_iso_8859_1_feed_is_decoded_by_its_xml_declaration_when_content_type_has_no_charset():
    # The XML declaration names the charset; a content type without one must not override it.
    parsed = parse_feed(fixture_bytes("feed-iso-8859-1.xml"), RHEIN_FEED_URL, "application/rss+xml")
    assert "Düsseldorf" in parsed.entries[0].title


# ------------------------------------------------------------------ not a feed


@pytest.mark.parametrize(
    "content_type",
    [None, "text/html; charset=utf-8", "application/rss+xml", "text/xml"],
    ids=["no-content-type", "text-html", "claims-rss", "claims-xml"],
)
def test_html_page_instead_of_feed_raises_with_a_message_naming_html(content_type):
    with pytest.raises(FeedParseError) as caught:
        parse_feed(fixture_bytes("feed-is-an-html-page.html"), HARBOUR_FEED_URL, content_type)
    message = str(caught.value)
    assert message.startswith("not a feed")
    assert "HTML" in message


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n",
        b"garbage, not XML",
        b'{"items": []}',
        b"\x00\xff\xfe\x01",
        b'<?xml version="1.0"?><note><to>desk</to></note>',
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut off',
    ],
    ids=["empty", "whitespace", "text", "json", "binary", "other-xml", "rss-cut-off-before-any-item"],
)
def test_bytes_that_are_no_feed_raise_feed_parse_error(content):
    with pytest.raises(FeedParseError, match="^not a feed"):
        parse_feed(content, HARBOUR_FEED_URL)


def test_char_refs_to_no_character_become_u_fffd_and_the_feed_is_read():
    # U+110000, 99999999, a lone surrogate and a number past int()'s limit on
    # a C int: feedparser's fallback parser raised ValueError/OverflowError.
    parsed = parse_feed(fixture_bytes("feed-title-char-ref-beyond-unicode.xml"), HARBOUR_FEED_URL)
    assert parsed.title == "Harbour Gazette \ufffd News"
    assert [(entry.title, entry.url) for entry in parsed.entries] == [
        ("Ferry pier delayed \ufffd until May", "https://harbour.example.org/news/ferry-pier.html"),
        ("Fish market reopens \ufffd on Saturday", "https://harbour.example.org/news/fish-market.html"),
        ("Council approves \ufffd new quay", "https://harbour.example.org/news/new-quay.html"),
    ]


@pytest.mark.parametrize("reference", ["&#x110000;", "&#99999999;", "&#xD800;", "&#0;", "&#" + "9" * 5000 + ";"])
def test_char_ref_to_no_character_in_a_broken_feed_is_read_too(reference):
    # Broken XML goes to feedparser's fallback parser, where chr() raised.
    content = rss(f"<item><title>A {reference} b</title><link>/a</link></item><item><title>Cut <b>off</title>")
    parsed = parse_feed(content, HARBOUR_FEED_URL)
    assert [entry.title for entry in parsed.entries][0] == "A \ufffd b"


def test_a_feed_is_read_up_to_its_entry_limit_and_titles_up_to_theirs():
    from pipeline.config import Settings

    items = "".join(f"<item><title>Story {n} {'word ' * 300}</title><link>/{n}.html</link></item>" for n in range(600))
    parsed = parse_feed(rss(items), HARBOUR_FEED_URL)
    assert len(parsed.entries) == 500 and parsed.entries[-1].url.endswith("/499.html")
    assert parsed.warning == "read the first 500 of 600 entries"
    assert len(parsed.entries[0].title) <= 1000 and parsed.entries[0].title.endswith(" word")
    few = parse_feed(rss(items), HARBOUR_FEED_URL, settings=Settings(max_entries_per_feed=3, max_title_chars=20))
    assert [entry.title for entry in few.entries] == ["Story 0 word word", "Story 1 word word", "Story 2 word word"]


def test_control_characters_leave_feed_and_entry_titles_single_line():
    parsed = parse_feed(fixture_bytes("feed-titles-with-control-characters.xml"), HARBOUR_FEED_URL)
    assert parsed.title == "Harbour Gazette News"
    assert [entry.title for entry in parsed.entries] == ["Ferry pier delayed until May", "Fish market reopens"]


@pytest.mark.integration
def test_a_feed_body_naming_a_local_file_is_not_read_as_that_file(tmp_path):
    # feedparser.parse opens a bytes or str argument that names an existing path.
    from flows.demo import serve_directory
    from pipeline.config import Settings
    from pipeline.fetch import run_fetch_feeds

    local_feed = (FIXTURES / "feed-atom.xml").resolve()
    assert parse_feed(local_feed.read_bytes(), VALLEY_FEED_URL).entries  # a feed when read as a file
    (tmp_path / "feed-body-is-a-local-path.xml").write_text(str(local_feed))
    with serve_directory(tmp_path) as base_url:
        settings = Settings(allow_private_hosts=base_url.removeprefix("http://"), retries=0)
        [result] = run_fetch_feeds([(base_url + "/feed-body-is-a-local-path.xml", None, None)], settings)
    assert result.content == str(local_feed).encode()
    with pytest.raises(FeedParseError, match="^not a feed"):
        parse_feed(result.content, result.final_url, result.content_type)


_CHAR_REFS = st.one_of(
    st.just(""),
    st.integers(min_value=0, max_value=2**70).map(lambda n: f"&#{n};"),
    st.integers(min_value=0, max_value=2**70).map(lambda n: f"&#x{n:x};"),
)


@st.composite
def feed_like_bytes(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "rss", "atom", "rss-tail"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "rss":
        declaration = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>']))
        return (
            f'{declaration}<rss version="2.0"><channel><title>t</title>'
            f"<ttl>{escape(draw(st.text(max_size=6)))}</ttl><item><title>{escape(draw(st.text(max_size=10)))}"
            f"{draw(_CHAR_REFS)}"
            f"</title><link>{escape(draw(HOSTILE_LINKS))}</link><guid>{escape(draw(HOSTILE_LINKS))}</guid>"
            f"<pubDate>{escape(draw(st.text(max_size=25)))}</pubDate></item></channel></rss>"
        ).encode("utf-8", "surrogatepass")
    if kind == "atom":
        return (
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry>'
            f"<id>{escape(draw(HOSTILE_LINKS))}</id><link href={quoteattr(draw(HOSTILE_LINKS))}/>"
            f"<updated>{escape(draw(st.text(max_size=25)))}</updated></entry></feed>"
        ).encode("utf-8", "surrogatepass")
    return b'<?xml version="1.0"?><rss version="2.0"><channel><item><link>/a</link></item>' + draw(
        st.binary(max_size=100)
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=feed_like_bytes(),
    feed_url=st.sampled_from([HARBOUR_FEED_URL, "http://127.0.0.1:8000/x/rss.xml"]),
    content_type=st.sampled_from([None, "application/rss+xml", "text/html; charset=utf-8"]),
)
def test_parse_feed_on_hostile_bytes_raises_only_feed_parse_error_or_gives_absolute_urls(
    content, feed_url, content_type
):
    try:
        parsed = parse_feed(content, feed_url, content_type)
    except FeedParseError:
        return
    for entry in parsed.entries:
        parts = urlsplit(entry.url)
        assert parts.scheme in {"http", "https"}
        assert parts.hostname
        assert entry.published_at is None or entry.published_at.utcoffset() == timedelta(0)
    assert len({entry.url for entry in parsed.entries}) == len(parsed.entries)
