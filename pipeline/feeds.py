"""Feed lists (YAML, OPML) and feed parsing (feedparser) into plain entries."""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXException

import feedparser
import lxml.html
import yaml
from lxml import etree

from pipeline.config import Settings, default_settings
from pipeline.fetch import (
    FetchError, FetchResult, Politeness, parse_http_date, run_fetch_feeds, run_fetch_pages,
)
from pipeline.text import storable_text


class FeedListError(ValueError):
    """The feed list file cannot be read."""


class FeedParseError(ValueError):
    """The bytes fetched for a feed are not a feed."""


@dataclass(frozen=True)
class FeedSource:
    url: str
    name: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    url: str
    title: str | None
    published_at: datetime | None
    summary: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    ttl_minutes: int | None = None
    skipped: int = 0  # entries without a usable link
    warning: str | None = None  # faults of a feed that was still readable


def load_feed_list(path: Path, base_url: str | None = None) -> list[FeedSource]:
    """Read a feed list: YAML ``feeds: [{url:, name:}]`` or OPML.

    Relative URLs are resolved against ``base_url`` (the demo corpus uses
    root-relative URLs because its server's port is only known at run time).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedListError(f"cannot read feed list {path}: {exc.strerror}") from exc
    if path.suffix.lower() in {".opml", ".xml"} or raw.lstrip().startswith(b"<"):
        sources = _parse_opml(raw, path)
    else:
        sources = _parse_yaml(raw, path)
    resolved: list[FeedSource] = []
    seen: set[str] = set()
    for source in sources:
        try:
            url = urljoin(base_url, source.url) if base_url else source.url
            parts = urlsplit(url)
            absolute = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:  # "http://[x", a host that NFKC turns into a separator
            absolute = False
        if not absolute:
            raise FeedListError(f"{path}: feed URL must be absolute http(s): {source.url!r}")
        if url not in seen:
            seen.add(url)
            resolved.append(FeedSource(url=url, name=source.name))
    return resolved


def _parse_yaml(raw: bytes, path: Path) -> list[FeedSource]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise FeedListError(f"{path}: not valid YAML: {exc}") from exc
    items = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise FeedListError(f"{path}: expected a mapping with a 'feeds' list")
    sources = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise FeedListError(f"{path}: feeds[{index}] needs a 'url'")
        sources.append(FeedSource(url=item["url"].strip(), name=item.get("name")))
    return sources


def _parse_opml(raw: bytes, path: Path) -> list[FeedSource]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedListError(f"{path}: not valid OPML: {exc}") from exc
    sources = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            name = outline.get("title") or outline.get("text")
            # OPML requires text=; writers without a name put the URL there.
            if name is not None and name.strip() == url.strip():
                name = None
            sources.append(FeedSource(url=url.strip(), name=name))
    return sources


def parse_feed(
    content: bytes, feed_url: str, content_type: str | None = None, *, settings: Settings | None = None
) -> ParsedFeed:
    """Parse feed bytes into entries with absolute links.

    A document feedparser cannot read as a feed at all raises
    ``FeedParseError``; a feed with small faults (feedparser's "bozo") that
    still yields entries is accepted, as readers of real feeds must.  The
    first ``max_entries_per_feed`` entries are read, titles are cut to
    ``max_title_chars`` (``settings``, the defaults when None).
    """
    limits = settings or default_settings()
    parsed = _feedparser_parse(content, feed_url, content_type)
    # "Small faults" are a content type or charset that do not match the bytes;
    # a document with no RSS/Atom root, or XML that breaks off, is not a feed.
    if not parsed.entries and (
        not parsed.get("version") or isinstance(parsed.get("bozo_exception"), SAXException)
    ):
        if _looks_like_html(content, content_type):
            raise FeedParseError("not a feed: got an HTML page, not RSS or Atom")
        reason = parsed.get("bozo_exception") or "no RSS/Atom feed found"
        raise FeedParseError(f"not a feed: {reason}")
    entries = []
    seen: set[str] = set()
    skipped = 0
    for item in parsed.entries[:limits.max_entries_per_feed]:
        link = _entry_link(item)
        guid = (item.get("id") or "").strip()
        url = None
        if link:
            try:
                url = urljoin(feed_url, link)
                parts = urlsplit(url)
            except ValueError:  # a malformed host: skip the entry, not the feed
                url = None
            else:
                if parts.scheme not in {"http", "https"} or not parts.hostname:
                    url = None
        # Entries without a usable link are counted; a GUID or link seen
        # before in this feed is the same entry again.
        if url is None:
            skipped += 1
            continue
        if url in seen or (guid and guid in seen):
            continue
        seen.update(key for key in (url, guid) if key)
        entries.append(
            FeedEntry(
                url=url,
                title=storable_text(item.get("title"), limit=limits.max_title_chars),
                published_at=_entry_time(item),
                summary=item.get("summary"),
            )
        )
    ttl = parsed.feed.get("ttl")
    ttl_match = _TTL.fullmatch(ttl) if isinstance(ttl, str) else None
    warnings = []
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), SAXException):
        warnings.append(f"malformed feed, read {len(parsed.entries)} entries: {parsed.bozo_exception}")
    if len(parsed.entries) > limits.max_entries_per_feed:
        warnings.append(f"read the first {limits.max_entries_per_feed} of {len(parsed.entries)} entries")
    return ParsedFeed(
        title=storable_text(parsed.feed.get("title"), limit=limits.max_title_chars),
        entries=entries,
        ttl_minutes=int(ttl_match.group(1)) if ttl_match else None,
        skipped=skipped,
        warning=storable_text("; ".join(warnings)),
    )


def _feedparser_parse(content: bytes, url: str, content_type: str | None) -> feedparser.FeedParserDict:
    """feedparser.parse on fetched bytes, which are only ever read as a document.

    feedparser takes a bytes or str argument that names an existing path for
    that path (a body of "/etc/hostname" reads that file, "/dev/zero" reads
    forever) and a str that looks like a URL for a URL to fetch itself: a
    stream is read as it is.  Character references to no character make its
    fallback parser raise (chr() of U+110000): they become U+FFFD first, as
    the HTML standard reads them.  Whatever else it raises is a parse error
    of this feed."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        return feedparser.parse(
            io.BytesIO(_CHAR_REF.sub(_replace_bad_char_ref, content)),
            response_headers=headers, sanitize_html=False,
        )
    except Exception as exc:  # noqa: BLE001 - a hostile feed costs itself, not the run
        raise FeedParseError(f"not a feed: {type(exc).__name__}: {exc}") from exc


# A numeric character reference, in any ASCII-compatible encoding; more digits
# than any code point needs are matched too (int() refuses past 4,300).
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _replace_bad_char_ref(match: re.Match) -> bytes:
    hex_digits, decimal_digits = match.groups()
    digits = (hex_digits or decimal_digits).lstrip(b"0")
    value = int(digits or b"0", 16 if hex_digits else 10) if len(digits) <= 8 else -1
    if 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return match.group(0)
    return b"&#xFFFD;"


def refresh_interval(
    headers: dict[str, str], ttl_minutes: int | None, *, default: timedelta, maximum: timedelta,
    now: datetime | None = None,
) -> timedelta:
    """How long to wait before fetching a feed again: never sooner than the
    feed asks (RSS ttl, Cache-Control max-age, Expires), never later than
    ``maximum``."""
    hints = [default]
    if ttl_minutes:
        hints.append(timedelta(minutes=ttl_minutes))
    lowered = {key.lower(): value for key, value in headers.items()}
    max_age = re.search(r"max-age\s*=\s*(\d{1,9})", lowered.get("cache-control", ""))
    if max_age:
        hints.append(timedelta(seconds=int(max_age.group(1))))
    elif lowered.get("expires"):
        expires = parse_http_date(lowered["expires"])
        if expires is not None:
            hints.append(expires - (now or datetime.now(UTC)))
    return min(max(hints), maximum)


# ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough of
# them that the caller's timedelta(minutes=ttl) cannot overflow.
_TTL = re.compile(r"\s*(\d{1,9})\s*", re.ASCII)
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])",
    re.IGNORECASE | re.DOTALL,
)


def _looks_like_html(content: bytes, content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type in {"text/html", "application/xhtml+xml"} or bool(
        _HTML_START.match(content[:4096])
    )


def _entry_link(item) -> str | None:
    link = item.get("link")
    if link:
        return link.strip()
    for candidate in item.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return candidate["href"].strip()
    guid = item.get("id")
    if guid and guid.startswith(("http://", "https://")):
        return guid.strip()
    return None


def _entry_time(item) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        # dict.get: FeedParserDict.get maps a missing published_parsed to
        # updated_parsed with a DeprecationWarning on every entry.
        value = dict.get(item, key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError):
                continue
    return None


# ------------------------------------------------------- feed list export


def export_opml(feeds: Sequence[FeedSource], title: str = "newsflow feeds") -> str:
    """An OPML 2.0 subscription list: one ``<outline type="rss">`` per feed.

    ``text`` is required by OPML 2.0, so a feed without a name gets its URL
    as ``text`` (and no ``title``): ``load_feed_list`` then reads that URL
    back as the name. Names keep everything XML can carry (quotes, ``&``,
    ``<``, line breaks); characters XML 1.0 cannot carry (most C0 controls,
    U+FFFE/U+FFFF, lone surrogates) are dropped from names and the title. A
    URL with such a character raises ``FeedListError``: it is never altered.

    The string starts with an XML declaration naming UTF-8; write it encoded
    as UTF-8.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _xml_chars(title)
    body = etree.SubElement(root, "body")
    for feed in feeds:
        if _xml_chars(feed.url) != feed.url:
            raise FeedListError(f"feed URL has characters XML cannot carry: {feed.url!r}")
        name = _xml_chars(feed.name) if feed.name is not None else None
        outline = etree.SubElement(body, "outline", type="rss", text=name or feed.url)
        if name:
            outline.set("title", name)
        outline.set("xmlUrl", feed.url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def export_yaml(feeds: Sequence[FeedSource]) -> str:
    """The YAML feed list ``load_feed_list`` reads: ``feeds: [{url:, name:}]``,
    ``name`` left out when it is None."""
    items = []
    for feed in feeds:
        item = {"url": feed.url}
        if feed.name is not None:
            item["name"] = feed.name
        items.append(item)
    return yaml.dump(
        {"feeds": items}, Dumper=_FeedListDumper, allow_unicode=True, sort_keys=False,
        default_flow_style=False, width=2**16,
    )


class _FeedListDumper(yaml.SafeDumper):
    """PyYAML writes NEL and the Unicode line/paragraph separators raw into
    plain and single-quoted scalars, where reading folds them into a space;
    only double quotes escape them."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FeedListDumper.add_representer(str, _represent_str)


# Characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_chars(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)


# ------------------------------------------------------- feed discovery

FEED_LINK_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
COMMON_FEED_PATHS = (
    "/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/posts/default", "/?feed=rss2",
)


class FeedDiscoveryError(Exception):
    """The site page could not be fetched at all (refused address, network
    error, timeout, too many redirects, HTTP 5xx); ``kind`` and ``status`` are
    those of the underlying ``FetchError``."""

    def __init__(self, url: str, message: str, kind: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class DiscoveredFeed:
    url: str
    title: str | None
    entries: int  # entries with a usable link when it was discovered


def feed_links_in_page(html: bytes | str, page_url: str) -> list[str]:
    """Feed URLs a page declares with ``<link rel="alternate" type="…">``.

    Types: RSS, Atom and JSON Feed (``application/feed+json``; plain
    ``application/json`` is left out: WordPress declares its REST API with
    it). ``rel`` is a token list ("alternate home" counts), types are matched
    without case or parameters, hrefs are resolved against ``<base href>``
    and the page URL; only http(s) URLs are kept, in page order, each once.
    """
    root = _parse_html(html)
    if root is None:
        return []
    base_url = page_url
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            try:
                base_url = urljoin(page_url, href)
            except ValueError:
                pass
            break
    links: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media_type = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rels or media_type not in FEED_LINK_TYPES or not href:
            continue
        try:
            url = urljoin(base_url, href)
            parts = urlsplit(url)
            usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            usable = False
        if usable and url not in links:
            links.append(url)
    return links


def _parse_html(html: bytes | str):
    if isinstance(html, bytes):
        # Undeclared UTF-8 is the common case that libxml2 would read as
        # Latin-1; bytes that are not UTF-8 go by their <meta charset>.
        try:
            html = html.decode("utf-8-sig")
        except UnicodeDecodeError:
            return etree.fromstring(html, lxml.html.HTMLParser()) if html.strip() else None
    if not html.strip():
        return None
    return etree.fromstring(html.encode("utf-8"), lxml.html.HTMLParser(encoding="utf-8"))


def discover_feeds(site_url: str, settings: Settings) -> list[DiscoveredFeed]:
    """Feeds of a site: those its page declares, then those found at
    ``COMMON_FEED_PATHS`` on the page's host; each fetched and kept only if
    it parses as an RSS/Atom feed (a document with a feed version; zero
    entries is fine). A URL that answers with a permanent redirect is given
    as its new address; two candidates that end at the same address count once.

    When ``site_url`` is itself a feed, that feed alone is returned.

    The site page is fetched as a page (robots.txt honoured). If robots.txt
    disallows it, or it answers with HTTP 4xx, or it is neither HTML nor a
    feed, only the common paths are tried. ``FeedDiscoveryError`` says the
    site could not be reached, with the fetch error's message (for instance
    "refused: loopback address 127.0.0.1"): raised when the site page fails
    with a refused address, a network error, a timeout, too many redirects or
    HTTP 5xx, and when the page was not read and every candidate failed in
    one of those ways. Otherwise a site without feeds gives an empty list.

    A ``site_url`` that is not an absolute http(s) URL raises
    ``FeedDiscoveryError`` with kind "url", before any request.

    Runs its own event loop: call it from synchronous code only.
    """
    try:
        parts = urlsplit(site_url)
        absolute = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        absolute = False
    if not absolute:
        raise FeedDiscoveryError(site_url, f"not an absolute http(s) URL: {site_url!r}", "url")
    politeness = Politeness()  # the site page and the candidates are one host's
    [page] = run_fetch_pages([site_url], settings, politeness)
    declared: list[str] = []
    base_url = site_url
    if isinstance(page, FetchError):
        if page.kind == "content-type":
            # Not HTML: perhaps the feed itself.
            [result] = run_fetch_feeds([(site_url, None, None)], settings, politeness)
            feed = _as_feed(site_url, result)
            if feed is not None:
                return [feed]
            if not isinstance(result, FetchError):
                base_url = result.final_url
        elif _unreachable(page) or page.kind == "redirects":
            raise _discovery_error(site_url, page)
    else:
        base_url = page.final_url
        if not _looks_like_html(page.content, None):
            feed = _as_feed(site_url, page)  # a feed served as text/html
            if feed is not None:
                return [feed]
        declared = feed_links_in_page(page.content, page.final_url)
    candidates = list(dict.fromkeys(declared + [urljoin(base_url, path) for path in COMMON_FEED_PATHS]))
    results = run_fetch_feeds([(url, None, None) for url in candidates], settings, politeness)
    if isinstance(page, FetchError) and all(
        isinstance(result, FetchError) and _unreachable(result) for result in results
    ):
        # Nothing on the site answered (a robots.txt that cannot be fetched
        # reads as "disallow all", so the page error alone does not say so).
        raise _discovery_error(site_url, results[0])
    found: list[DiscoveredFeed] = []
    seen: set[str] = set()
    for url, result in zip(candidates, results):
        feed = _as_feed(url, result)
        if feed is None or isinstance(result, FetchError):
            continue
        keys = {feed.url, result.final_url}
        if keys & seen:
            continue
        seen.update(keys)
        found.append(feed)
    return found


def _unreachable(error: FetchError) -> bool:
    return error.kind in {"network", "timeout", "refused"} or (error.status or 0) >= 500


def _discovery_error(site_url: str, error: FetchError) -> FeedDiscoveryError:
    return FeedDiscoveryError(site_url, f"cannot discover feeds on {site_url}: {error}", error.kind, error.status)


def _as_feed(url: str, result: FetchResult | FetchError) -> DiscoveredFeed | None:
    """The fetched document as a discovered feed, or None if it is no feed."""
    if isinstance(result, FetchError) or result.status != 200:
        return None
    try:
        if not _feedparser_parse(result.content, result.final_url, result.content_type).get("version"):
            return None
        parsed = parse_feed(result.content, result.final_url, result.content_type)
    except FeedParseError:
        return None
    return DiscoveredFeed(url=result.permanent_redirect or url, title=parsed.title, entries=len(parsed.entries))
