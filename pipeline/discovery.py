"""Feed discovery: the feeds a site offers, from its page's declared links and the usual paths."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from pipeline.config import Settings
from pipeline.feeds import FeedParseError, looks_like_html, parse_feed
from pipeline.fetch import FetchError, FetchResult, Politeness, run_fetch_feeds, run_fetch_pages
from pipeline.links import http_url


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
        url = http_url(href, base_url)
        if url and url not in links:
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
    if http_url(site_url) is None:
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
        if not looks_like_html(page.content, None):
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
        parsed = parse_feed(result.content, result.final_url, result.content_type)
    except FeedParseError:
        return None
    if not parsed.format:  # entries found in a document of no feed format
        return None
    return DiscoveredFeed(url=result.permanent_redirect or url, title=parsed.title, entries=len(parsed.entries))
