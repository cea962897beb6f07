"""Feed documents (RSS, Atom) into plain entries, and how long a fetched feed stays fresh."""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax import SAXException

import feedparser

from pipeline.config import Settings, default_settings
from pipeline.fetch import parse_http_date
from pipeline.links import http_url
from pipeline.text import storable_text


class FeedParseError(ValueError):
    """The bytes fetched for a feed are not a feed."""


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
    # feedparser's name of the document's format ("rss20", "atom10"), empty
    # when it recognised none.
    format: str = ""


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
        if looks_like_html(content, content_type):
            raise FeedParseError("not a feed: got an HTML page, not RSS or Atom")
        reason = parsed.get("bozo_exception") or "no RSS/Atom feed found"
        raise FeedParseError(f"not a feed: {reason}")
    entries = []
    seen: set[str] = set()
    skipped = 0
    for item in parsed.entries[:limits.max_entries_per_feed]:
        url = http_url(_entry_link(item), feed_url)
        guid = (item.get("id") or "").strip()
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
        format=parsed.get("version") or "",
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


def looks_like_html(content: bytes, content_type: str | None) -> bool:
    """Whether fetched bytes are an HTML page (by their media type or their
    first tag) rather than a feed."""
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
