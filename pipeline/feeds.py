"""Feed lists (YAML, OPML) and feed parsing (feedparser) into plain entries."""

from __future__ import annotations

import calendar
import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXException

import feedparser
import yaml
from lxml import etree


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
            sources.append(FeedSource(url=url.strip(), name=name))
    return sources


def parse_feed(content: bytes, feed_url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes into entries with absolute links.

    A document feedparser cannot read as a feed at all raises
    ``FeedParseError``; a feed with small faults (feedparser's "bozo") that
    still yields entries is accepted, as readers of real feeds must.
    """
    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
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
    for item in parsed.entries:
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
                title=(item.get("title") or "").strip() or None,
                published_at=_entry_time(item),
                summary=item.get("summary"),
            )
        )
    ttl = parsed.feed.get("ttl")
    ttl_match = _TTL.fullmatch(ttl) if isinstance(ttl, str) else None
    warning = None
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), SAXException):
        warning = f"malformed feed, read {len(parsed.entries)} entries: {parsed.bozo_exception}"
    return ParsedFeed(
        title=parsed.feed.get("title"),
        entries=entries,
        ttl_minutes=int(ttl_match.group(1)) if ttl_match else None,
        skipped=skipped,
        warning=warning,
    )


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
        try:
            expires = email.utils.parsedate_to_datetime(lowered["expires"])
        except (TypeError, ValueError):
            expires = None
        if expires is not None and expires.tzinfo is not None:
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
