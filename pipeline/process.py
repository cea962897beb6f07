"""One fetched page through extract -> clean -> fingerprint, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.clean import clean_article
from pipeline.dedup import article_url, content_hash
from pipeline.encoding import decode_html
from pipeline.extract import ExtractError, extract_article
from pipeline.fetch import FetchResult
from pipeline.store.load import ArticleRecord

# A page whose cleaned text is shorter than this is a teaser, an index page
# or an error page, not an article.
MIN_ARTICLE_CHARS = 200


@dataclass(frozen=True)
class Entry:
    """A feed entry selected for fetching."""

    url: str  # canonical form of the feed's link
    link: str  # the link as the feed gave it
    feed_id: int | None
    title: str | None = None
    published_at: datetime | None = None


class ProcessError(ValueError):
    """The page was fetched but holds no usable article."""


def prepare_article(entry: Entry, page: FetchResult) -> ArticleRecord:
    decoded = decode_html(page.content, page.content_type)
    try:
        extracted = extract_article(decoded.text, page.final_url)
    except ExtractError as exc:
        raise ProcessError(str(exc)) from exc
    cleaned = clean_article(extracted)
    if len(cleaned.text) < MIN_ARTICLE_CHARS:
        raise ProcessError(f"too little text for an article ({len(cleaned.text)} characters)")
    return ArticleRecord(
        canonical_url=article_url(page.final_url, cleaned.canonical_link),
        url=entry.url,
        feed_id=entry.feed_id,
        title=cleaned.title or entry.title,
        text=cleaned.text,
        author=cleaned.author,
        # The feed's timestamp has a time of day; the page's often only a date.
        published_at=entry.published_at or cleaned.published_at,
        language=cleaned.language,
        site_name=cleaned.site_name,
        dateline=cleaned.dateline,
        agency=cleaned.agency,
        content_hash=content_hash(cleaned.text),
        html=page.content,
        final_url=page.final_url,
        content_type=page.content_type,
        charset_declared=decoded.declared,
        charset_used=decoded.used,
        replacement_ratio=decoded.replacement_ratio,
    )
