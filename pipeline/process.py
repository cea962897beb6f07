"""One fetched page through extract -> clean -> fingerprint, as plain data."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pipeline.clean import CleanedArticle, LearnedLines, apply_learned_lines, clean_article, site_lines
from pipeline.config import Settings, default_settings
from pipeline.dedup import article_url, content_hash, site_of
from pipeline.encoding import decode_html
from pipeline.extract import ExtractError, extract_articles
from pipeline.fetch import FetchResult
from pipeline.neardup import fingerprint
from pipeline.timelimit import TimeLimitExceeded, time_limit as page_time_limit
from pipeline.records import ArticleRecord, Entry
from pipeline.text import storable_text
from pipeline.vote import DEFAULT_VOTE, VoteConfig

# A page whose cleaned text is shorter than this is a teaser, an index page
# or an error page, not an article.
MIN_ARTICLE_CHARS = 200


class ProcessError(ValueError):
    """The page was fetched but holds no usable article.  ``kind`` names the
    case for summaries: no-article, or timeout for a page that took a worker
    longer than its limit."""

    def __init__(self, message: str, kind: str = "no-article"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # the kind crosses from the worker processes too
        return type(self), (str(self), self.kind)


def extract_page(
    html: str | bytes, url: str, *, feed_title: str | None = None, vote: VoteConfig = DEFAULT_VOTE
) -> CleanedArticle:
    """A page's article: extracted (trafilatura, checked by a vote of other
    extractors) and cleaned (site names, datelines, boilerplate).  Bytes are
    decoded as pipeline.encoding says."""
    return extract_page_votes(html, url, (vote,), feed_title=feed_title)[0]


def extract_page_votes(
    html: str | bytes, url: str, votes: Sequence[VoteConfig], *, feed_title: str | None = None
) -> list[CleanedArticle]:
    """extract_page under each of ``votes``, each extractor run once
    (bench/extraction.py chooses among them)."""
    if isinstance(html, bytes):
        html = decode_html(html).text
    try:
        extracted = extract_articles(html, url, votes)
    except ExtractError as exc:
        raise ProcessError(str(exc)) from exc
    return [clean_article(article, feed_title=feed_title) for article in extracted]


def prepare_article(
    entry: Entry, page: FetchResult, learned: Mapping[str, LearnedLines] | None = None,
    settings: Settings | None = None,
) -> ArticleRecord:
    """``learned`` holds each site's learned furniture lines (pipeline.clean);
    title and text are cut to ``settings``' limits (the defaults when None)."""
    limits = settings or default_settings()
    decoded = decode_html(page.content, page.content_type)
    cleaned = extract_page(decoded.text, page.final_url, feed_title=entry.feed_title)
    canonical_url = article_url(page.final_url, cleaned.canonical_link)
    site = site_of(canonical_url)
    # Stored as it is hashed, fingerprinted and learned from.
    body = storable_text(cleaned.text, multiline=True, limit=limits.max_text_chars) or ""
    lines = site_lines(body)
    # Learned lines never take more than a bounded share of an article: when
    # they would, the text stays whole and the record says which were withheld.
    applied = apply_learned_lines(body, (learned or {}).get(site))
    text = applied.text
    if len(text) < MIN_ARTICLE_CHARS:
        raise ProcessError(f"too little text for an article ({len(text)} characters)")
    return ArticleRecord(
        canonical_url=canonical_url,
        url=entry.url,
        feed_id=entry.feed_id,
        title=storable_text(cleaned.title or entry.title, limit=limits.max_title_chars),
        text=text,
        author=storable_text(cleaned.author),
        **choose_date(entry.published_at, cleaned),
        language=storable_text(cleaned.language),
        site_name=storable_text(cleaned.site_name),
        dateline=storable_text(cleaned.dateline),
        agency=storable_text(cleaned.agency),
        content_hash=content_hash(text),
        html_gzip=gzip.compress(page.content, compresslevel=6),
        final_url=page.final_url,
        content_type=page.content_type,
        charset_declared=decoded.declared,
        charset_used=decoded.used,
        replacement_ratio=decoded.replacement_ratio,
        image_url=cleaned.image_url,
        site=site,
        site_lines=lines,
        site_rules_withheld=applied.withheld,
        fingerprint=fingerprint(text),
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


def prepare_articles(
    jobs: Sequence[tuple[Entry, FetchResult]], learned: Mapping[str, LearnedLines] | None = None,
    settings: Settings | None = None, time_limit: float | None = None,
) -> list[ArticleRecord | ProcessError]:
    """prepare_article over many pages; a page's failure is returned in its
    place, not raised, so one bad page costs only itself: no usable article,
    past ``time_limit`` seconds (in a worker process), or any error of the
    libraries on its bytes."""
    results: list[ArticleRecord | ProcessError] = []
    for entry, page in jobs:
        try:
            with page_time_limit(time_limit):
                results.append(prepare_article(entry, page, learned, settings))
        except ProcessError as exc:
            results.append(exc)
        except TimeLimitExceeded as exc:
            results.append(ProcessError(f"extraction {exc}", kind="timeout"))
        except Exception as exc:  # a parser's bug on hostile bytes is this page's failure
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            results.append(ProcessError(f"extraction failed: {message}", kind="extract-error"))
    return results
