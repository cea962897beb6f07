"""The real ingest flow over generated hostile feeds and pages (hypothesis),
served over real HTTP on 127.0.0.1, stored in the real PostgreSQL.

Whatever a publisher sends, the run completes (its ``ingest_runs`` row says
``completed``) and every entry of every feed ends as a stored article or a
recorded failure (a ``fetch_failures`` row, the feed's own error, or the
feed's count of entries without a usable link) — never neither, and nothing
is stored for a feed that it did not serve.

Generated links never name a host that needs DNS: the machine may reach
127.0.0.1 only, so hostile hosts are address literals or malformed.

CI runs a fixed set of examples (``derandomize``, no example database, no
shrinking: a flow run per shrink step would blow the budget).  To hunt for
bugs with fresh examples and shrinking, set NEWSFLOW_FLOW_PROPERTY_HUNT=1.
"""

from __future__ import annotations

import gzip
import itertools
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration

HUNTING = os.environ.get("NEWSFLOW_FLOW_PROPERTY_HUNT") == "1"
FLOW_EXAMPLES = settings(
    max_examples=60 if HUNTING else 20,
    deadline=None,
    derandomize=not HUNTING,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink) if HUNTING else (Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

SENTENCES = [
    "The harbour authority said on Tuesday that the new ferry pier will open in May.",
    "Divers found damage to the old foundations, two months later than planned.",
    "Engineers will reinforce the piles before the steel deck is lifted into place.",
    "Commuters will keep using the temporary landing stage until then.",
    "Café owners on the quay say the delay costs them €500 a week.",
    "Der Hafen bleibt bis Mai geschlossen, sagte die Behörde am Dienstag.",
]


# ---------------------------------------------------------------- the server


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class ExampleServer:
    """Serves ``routes`` (path -> Response) on 127.0.0.1; anything else is 404.
    Header values go out as raw bytes (latin-1 if they fit, else UTF-8), as a
    careless server would send them."""

    def __init__(self) -> None:
        self.routes: dict[str, Response] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002
                pass

            def do_GET(self):  # noqa: N802
                response = routes.get(self.path.split("?")[0], Response(404, (("Content-Type", "text/plain"),), b"nf"))
                try:
                    self.wfile.write(f"HTTP/1.1 {response.status} X\r\n".encode())
                    for name, value in response.headers:
                        try:
                            raw = value.encode("latin-1")
                        except UnicodeEncodeError:
                            raw = value.encode()
                        self.wfile.write(name.encode() + b": " + raw + b"\r\n")
                    self.wfile.write(b"Content-Length: %d\r\n\r\n" % len(response.body))
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ExampleServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------- what an example serves


@dataclass
class PageSpec:
    status: int
    content_type: str | None
    content_encoding: str | None
    body: bytes
    retry_after: str | None = None


@dataclass
class EntrySpec:
    link: str  # as written in the feed; "{base}" and "{page}" are filled in when served
    title: str
    page: PageSpec | None  # None: the link does not lead to our server's page route


@dataclass
class FeedSpec:
    status: int
    content_type: str | None
    content_encoding: str | None
    retry_after: str | None
    title: str
    entries: list[EntrySpec]
    body_kind: str  # "rss", "atom", "random", "local-path"
    freshness: tuple[tuple[str, str], ...] = ()  # Expires / Cache-Control
    random_body: bytes = b""
    encoding: str = "utf-8"
    served_links: list[str] = field(default_factory=list)  # filled in when served


def mostly(usual, unusual):
    """``usual`` three times in four: hostile values often enough to find
    bugs, sane ones often enough that pages get as far as the database."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda sane: usual if sane else unusual)


def control_text(min_size: int = 0, max_size: int = 40):
    """Text with control characters, surrogates excluded (they cannot be encoded)."""
    return st.text(
        st.characters(blacklist_categories=("Cs",), min_codepoint=0, max_codepoint=0x2FFFF),
        min_size=min_size, max_size=max_size,
    )


titles = st.one_of(
    control_text(),
    st.sampled_from(["Harbour [/] news", "[link=https://evil.example]x[/link]", "\x1b[2J cleared", "\x00nul",
                     "A &#x110000; ref", "Tab\tand\r\nbreaks", "‮right-to-left"]),
)
charset_labels = st.sampled_from(
    ["utf-8", "UTF-8", "iso-8859-1", "windows-1252", "utf-16", "punycode", "rot13", "uu_codec",
     "x-no-such-charset", "utf-8\"; q=", "", "idna", "base64", "zlib_codec", "undefined"]
)
content_types = st.one_of(
    st.none(),
    st.builds(lambda kind, label: f"{kind}; charset={label}" if label else kind,
              st.sampled_from(["text/html", "application/rss+xml", "application/atom+xml", "text/xml",
                               "application/xml", "text/plain", "application/pdf", "image/png", "x/y"]),
              charset_labels),
    st.sampled_from(["", ";;;", "text/html; charset", "text/html; charset=\u00b2"]),
)
content_encodings = st.sampled_from(["gzip", "deflate", "br", "identity", "gzip, gzip", "x-gzip", "compress",
                                     "gzip-really"])
retry_afters = st.one_of(
    st.none(),
    st.sampled_from([  # also Expires values"\u00b2", "1", "0", "-1", "99999999999999999999", "1e3", "Wed, 21 Oct 2015 07:28:00 GMT",
                     "Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 99999999999 00:00:00 GMT", "soon", " 1 ",
                     "\u0661"]),
)
# Links that must end as recorded failures (or, without http(s) and a host,
# as skipped entries); none needs DNS.
hostile_links = st.sampled_from([
    "http://999.0.0.1/a", "http://x.example:abc/", "http://127.0.0.1:0/zero", "http://127.0.0.1:99999/big",
    "http://[::1/broken", "http://[fe80::1%25eth0]/scoped", "http://10.0.0.1/private", "http://0.0.0.0/any",
    "http://169.254.169.254/meta", "http://127.0.0.2/other", "javascript:alert(1)", "mailto:x@y.example",
    "ftp://127.0.0.1/file", "file:///etc/passwd", "http:///no-host", "http://" + "a" * 300 + "/long",
    "http://256.256.256.256/", "http://1.2.3.4.5/", "http://@/", "http://user:pass@10.0.0.2/",
    "http://127.0.0.1:\u00b2/", "data:text/html,hi",
])


@st.composite
def pages(draw) -> PageSpec:
    status = draw(mostly(st.just(200), st.sampled_from([404, 410, 500, 503, 429, 301])))
    kind = draw(mostly(st.just("article"), st.sampled_from(["random", "short"])))
    title = draw(titles)
    if kind == "random":
        html = draw(st.binary(max_size=3000))
    else:
        count = 1 if kind == "short" else draw(st.integers(2, 12))
        paragraphs = [" ".join(draw(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4)))
                      for _ in range(count)]
        if draw(st.booleans()):
            paragraphs.insert(draw(st.integers(0, len(paragraphs))), draw(control_text(max_size=200)))
        meta = draw(mostly(st.just("utf-8"), charset_labels))
        document = (
            f"<!DOCTYPE html><html><head><meta charset='{meta}'><title>{escape(title)}</title></head>"
            f"<body><article><h1>{escape(title)}</h1>"
            + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
            + "</article></body></html>"
        )
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16", "cp1252"]))
        html = document.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # now and then a large page
        html += b"<!--" + b"x" * draw(st.integers(100_000, 2_000_000)) + b"-->"
    content_encoding = draw(mostly(st.none(), content_encodings))
    if content_encoding == "gzip" and draw(st.booleans()):
        html = gzip.compress(html)  # sometimes the header tells the truth
    content_type = draw(mostly(st.builds("text/html; charset={}".format, charset_labels), content_types))
    retry_after = draw(retry_afters) if status in (429, 503) else None
    return PageSpec(status, content_type, content_encoding, html, retry_after)


@st.composite
def entries(draw) -> EntrySpec:
    title = draw(titles)
    kind = draw(mostly(st.sampled_from(["relative", "absolute"]),
                       st.sampled_from(["hostile", "unicode-path", "long-query"])))
    if kind == "hostile":
        return EntrySpec(draw(hostile_links), title, None)
    page = draw(pages())
    link = {
        "relative": "{page}",
        "absolute": "{base}{page}",
        "unicode-path": "{base}{page}/ä ö%zz",
        "long-query": "{base}{page}?utm_source=x&q=" + "y" * draw(st.integers(0, 9000)),
    }[kind]
    return EntrySpec(link, title, page)


@st.composite
def feeds(draw) -> FeedSpec:
    status = draw(mostly(st.just(200), st.sampled_from([304, 404, 500, 503, 429])))
    body_kind = draw(mostly(st.sampled_from(["rss", "atom"]), st.sampled_from(["random", "local-path"])))
    return FeedSpec(
        status=status,
        content_type=draw(mostly(st.sampled_from([None, "application/rss+xml", "application/xml"]), content_types)),
        content_encoding=draw(mostly(st.none(), content_encodings)),
        retry_after=draw(retry_afters) if status in (429, 503) else None,
        title=draw(titles),
        entries=draw(st.lists(entries(), min_size=1, max_size=4)),
        body_kind=body_kind,
        freshness=draw(mostly(st.just(()), st.one_of(
            st.tuples(st.tuples(st.just("Expires"), st.one_of(retry_afters.filter(bool), st.just("0")))),
            st.tuples(st.tuples(st.just("Cache-Control"),
                                st.sampled_from(["max-age=999999999", "max-age=-1", "max-age=\u00b2", "no-cache"]))),
        ))),
        random_body=draw(st.binary(max_size=2000)) if body_kind == "random" else b"",
        encoding=draw(st.sampled_from(["utf-8", "utf-8", "iso-8859-1", "utf-16"])),
    )


def _xml_text(value: str, raw: bool) -> str:
    """Escaped text, or with ``raw`` the characters as they are (control
    characters included): hostile feeds are not well-formed."""
    return value.replace("&", "&amp;").replace("<", "&lt;") if raw else escape(value)


def feed_document(feed: FeedSpec, links: list[str], raw_text: bool) -> bytes:
    if feed.body_kind == "random":
        return feed.random_body
    if feed.body_kind == "local-path":
        return str(FIXTURES / "feed-rss2-relative-links.xml").encode()
    title = _xml_text(feed.title, raw_text)
    if feed.body_kind == "rss":
        items = "".join(
            f"<item><title>{_xml_text(entry.title, raw_text)}</title><link>{escape(link)}</link>"
            f"<guid>{escape(link)}</guid></item>"
            for entry, link in zip(feed.entries, links)
        )
        document = (f'<?xml version="1.0" encoding="{feed.encoding}"?><rss version="2.0"><channel>'
                    f"<title>{title}</title><link>/</link><description>d</description>{items}</channel></rss>")
    else:
        items = "".join(
            f"<entry><title>{_xml_text(entry.title, raw_text)}</title><id>{escape(link)}</id>"
            f'<link rel="alternate" href="{escape(link, {chr(34): "&quot;"})}"/></entry>'
            for entry, link in zip(feed.entries, links)
        )
        document = (f'<?xml version="1.0" encoding="{feed.encoding}"?><feed xmlns="http://www.w3.org/2005/Atom">'
                    f"<title>{title}</title><id>urn:x</id>{items}</feed>")
    return document.encode(feed.encoding, errors="replace")


def _headers(content_type, content_encoding, retry_after=None) -> tuple[tuple[str, str], ...]:
    headers = []
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if content_encoding is not None:
        headers.append(("Content-Encoding", content_encoding))
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return tuple(headers)


# ---------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def example_server(prefect_server):
    from pipeline.config import reset_settings_cache

    names = ("NEWSFLOW_ALLOW_PRIVATE_HOSTS", "NEWSFLOW_PER_HOST_DELAY", "NEWSFLOW_RETRIES",
             "NEWSFLOW_RETRY_BACKOFF", "NEWSFLOW_TOTAL_TIMEOUT", "NEWSFLOW_READ_TIMEOUT",
             "NEWSFLOW_MAX_RETRY_WAIT")
    saved = {name: os.environ.get(name) for name in names}
    with ExampleServer() as server:
        os.environ.update({
            "NEWSFLOW_ALLOW_PRIVATE_HOSTS": server.base_url.removeprefix("http://"),
            "NEWSFLOW_PER_HOST_DELAY": "0", "NEWSFLOW_RETRIES": "1", "NEWSFLOW_RETRY_BACKOFF": "0.05",
            "NEWSFLOW_TOTAL_TIMEOUT": "5", "NEWSFLOW_READ_TIMEOUT": "3", "NEWSFLOW_MAX_RETRY_WAIT": "2",
        })
        reset_settings_cache()
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_settings_cache()


_example_numbers = itertools.count(1)


def serve_example(server: ExampleServer, example_feeds: list[FeedSpec], raw_text: bool) -> list[str]:
    """Put the example's feeds and pages on the server under a prefix of its
    own; returns the feed URLs."""
    prefix = f"/example-{next(_example_numbers)}"
    feed_urls = []
    for feed_number, feed in enumerate(example_feeds):
        feed_path = f"{prefix}/feed-{feed_number}.xml"
        links = []
        for entry_number, entry in enumerate(feed.entries):
            page_path = f"{prefix}/page-{feed_number}-{entry_number}.html"
            links.append(entry.link.replace("{base}", server.base_url).replace("{page}", page_path))
            if entry.page is not None:
                page = entry.page
                headers = _headers(page.content_type, page.content_encoding, page.retry_after)
                if page.status == 301:
                    headers += (("Location", page_path + "-moved"),)
                server.routes[page_path] = Response(page.status, headers, page.body)
        feed.served_links = links
        server.routes[feed_path] = Response(
            feed.status, _headers(feed.content_type, feed.content_encoding, feed.retry_after) + feed.freshness,
            feed_document(feed, links, raw_text),
        )
        feed_urls.append(server.base_url + feed_path)
    return feed_urls


def _entry_keys(link: str, feed_url: str) -> set[str]:
    """The URLs an entry may be stored or recorded under: its link resolved
    against the feed, as is and in canonical form."""
    from pipeline.dedup import canonicalize_url

    keys = {link}
    try:
        resolved = urljoin(feed_url, link.strip())
    except ValueError:
        return keys
    keys.add(resolved)
    try:
        keys.add(canonicalize_url(resolved))
    except Exception:  # noqa: BLE001 - a link the product cannot canonicalize is still a key as given
        pass
    return keys


def _usable(link: str, feed_url: str) -> bool:
    """Whether the feed parser should take the entry (an http(s) link with a
    host); the others count as skipped."""
    try:
        parts = urlsplit(urljoin(feed_url, link.strip()))
        return parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        return False


# Prefect's events client keeps a websocket open in a thread of its own, and
# the websockets library draws each keep-alive ping's payload from the global
# `random` module: when a ping falls while Hypothesis draws an example, it
# sees the global state change and blames the strategy.  Nothing here uses
# `random` (the examples come from Hypothesis alone).
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning")
@FLOW_EXAMPLES
@given(example_feeds=st.lists(feeds(), min_size=1, max_size=3), raw_text=st.booleans())
def test_every_entry_ends_stored_or_recorded(engine, example_server, tmp_path_factory, example_feeds, raw_text):
    from flows.ingest import ingest

    feed_urls = serve_example(example_server, example_feeds, raw_text)
    feed_list = tmp_path_factory.mktemp("flow-property") / "feeds.yaml"
    feed_list.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in feed_urls))

    summary = ingest(feeds_path=str(feed_list))

    with engine.connect() as conn:
        run = conn.execute(text("SELECT status, details FROM ingest_runs WHERE id = :id"),
                           {"id": summary["run_id"]}).mappings().one()
        assert run["status"] == "completed", run["details"]
        for feed, url in zip(example_feeds, feed_urls, strict=True):
            row = conn.execute(text("SELECT * FROM feeds WHERE url = :url OR previous_url = :url"),
                               {"url": url}).mappings().one()
            stored = {value for pair in conn.execute(
                text("SELECT url, canonical_url FROM articles WHERE feed_id = :id"), {"id": row["id"]}
            ).all() for value in pair}
            recorded = {failed_url for (failed_url,) in conn.execute(
                text("SELECT url FROM fetch_failures WHERE feed_id = :id"), {"id": row["id"]})}
            served = set().union(set(), *(_entry_keys(link, url) for link in feed.served_links))
            # Nothing the feed did not serve: not a local file's entries, not another feed's.
            assert not (stored | recorded) - served, (url, feed.body_kind, (stored | recorded) - served)
            if row["last_error"] is not None:
                assert not stored, (url, row["last_error"], stored)
                continue
            if feed.body_kind in {"random", "local-path"} or row["last_status"] == 304:
                continue  # no entries of ours in it; a 304 without a validator only a lying server sends
            usable = [link for link in feed.served_links if _usable(link, url)]
            # The first feed to carry a URL records it; an earlier example may have.
            keys_anywhere = _stored_or_recorded(conn, set().union(set(), *(_entry_keys(link, url) for link in usable)))
            unaccounted = [link for link in usable if not _entry_keys(link, url) & keys_anywhere]
            assert not unaccounted, (url, unaccounted, row["last_warning"], stored, recorded)
            if len(usable) < len(feed.served_links):
                assert row["entries_skipped"] >= 1, (url, feed.served_links, dict(row))


def _stored_or_recorded(conn, keys: set[str]) -> set[str]:
    return {url for (url,) in conn.execute(
        text("SELECT url FROM articles WHERE url = ANY(:keys) UNION SELECT canonical_url FROM articles"
             " WHERE canonical_url = ANY(:keys) UNION SELECT url FROM fetch_failures WHERE url = ANY(:keys)"),
        {"keys": list(keys)},
    )}
