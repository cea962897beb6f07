"""Page -> article fields, with trafilatura (text, metadata) and htmldate (dates).

trafilatura runs in the configuration that measured best on the extraction
benchmark (``bench/extraction.py``): ``favor_precision=True`` without comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement

TRAFILATURA_OPTIONS = dict(
    favor_precision=True,
    include_comments=False,
    include_tables=True,
    with_metadata=True,
    deduplicate=False,
)


class ExtractError(ValueError):
    """The page has no article text that could be extracted."""


@dataclass(frozen=True)
class ExtractedArticle:
    url: str
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    site_name: str | None
    language: str | None
    canonical_link: str | None


def extract_article(html: bytes | str, url: str) -> ExtractedArticle:
    """Extract the main text and metadata of one article page."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ExtractError("not parseable as HTML")
    # Read what trafilatura's cleaning would remove before handing it the tree.
    language = _page_language(tree)
    canonical = _canonical_link(tree, url)
    document = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    if document is None or not (document.text or "").strip():
        raise ExtractError("no article text found")
    return ExtractedArticle(
        url=url,
        title=_tidy(document.title),
        text=document.text.strip(),
        author=_tidy(document.author),
        published_at=_parse_date(document.date),
        site_name=_tidy(document.sitename),
        language=language or _tidy(document.language),
        canonical_link=canonical,
    )


def _page_language(tree: HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath("//meta[@property='og:locale']/@content")
    candidates += tree.xpath("//meta[@http-equiv='content-language']/@content")
    for value in candidates:
        if value and value.strip():
            code = value.strip().replace("_", "-").split("-")[0].lower()
            if code.isalpha() and 2 <= len(code) <= 3:
                return code
    return None


def _canonical_link(tree: HtmlElement, url: str) -> str | None:
    for href in tree.xpath("//link[@rel='canonical']/@href"):
        if href and href.strip():
            try:
                link = urljoin(url, href.strip())
                urlsplit(link)
            except ValueError:  # "https://[host/...": the page's claim is unusable
                continue
            return link
    return None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _tidy(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
