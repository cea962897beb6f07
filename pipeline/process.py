"""One fetched page through extract -> clean -> fingerprint, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipeline.clean import CleanedArticle, clean_article
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
    feed_title: str | None = None


class ProcessError(ValueError):
    """The page was fetched but holds no usable article."""


def prepare_article(entry: Entry, page: FetchResult) -> ArticleRecord:
    decoded = decode_html(page.content, page.content_type)
    try:
        extracted = extract_article(decoded.text, page.final_url)
    except ExtractError as exc:
        raise ProcessError(str(exc)) from exc
    cleaned = clean_article(extracted, feed_title=entry.feed_title)
    if len(cleaned.text) < MIN_ARTICLE_CHARS:
        raise ProcessError(f"too little text for an article ({len(cleaned.text)} characters)")
    return ArticleRecord(
        canonical_url=article_url(page.final_url, cleaned.canonical_link),
        url=entry.url,
        feed_id=entry.feed_id,
        title=cleaned.title or entry.title,
        text=cleaned.text,
        author=cleaned.author,
        **choose_date(entry.published_at, cleaned),
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
        image_url=cleaned.image_url,
    )


# A feed and a page that disagree by more than this about when an article
# was published are worth a look (a re-dated old story, a wrong time zone).
DATE_DISAGREEMENT = timedelta(days=2)


def choose_date(feed_date: datetime | None, cleaned: CleanedArticle) -> dict:
    """published_at, its source, every candidate and a warning, if any.

    The feed's timestamp comes first: the publisher states it for this very
    entry, with a time of day.  The page's best candidate stands in without it.
    """
    candidates = [("feed", feed_date.isoformat())] if feed_date else []
    candidates += [list(candidate) for candidate in cleaned.date_candidates]
    chosen, source = (feed_date, "feed") if feed_date else (cleaned.published_at, cleaned.date_source)
    warnings = []
    if chosen is not None and chosen > datetime.now(UTC) + timedelta(minutes=5):
        warnings.append("date in the future")
    elif cleaned.future_date and source != "feed":
        warnings.append("date in the future")
    if feed_date and cleaned.published_at:
        gap = abs(feed_date - cleaned.published_at)
        if gap > DATE_DISAGREEMENT:
            warnings.append(f"feed and page dates differ by {gap.days} days")
    return {
        "published_at": chosen,
        "date_source": source if chosen else None,
        "date_candidates": [list(candidate) for candidate in candidates],
        "date_warning": "; ".join(warnings) or None,
    }
