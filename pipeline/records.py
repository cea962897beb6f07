"""Plain records that travel between the stages and the store: a worker
builds them without loading the store's libraries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pipeline.neardup import Fingerprint


@dataclass(frozen=True)
class EntryFailure:
    """An entry that did not become an article this run, and why.

    ``stage`` is where it failed (fetch, extract, store); ``kind`` names the
    case within the stage, a fixed word that summaries count by (timeout,
    http, too-large, refused, robots, invalid-url, no-article, rejected…);
    ``message`` is the one-line error."""

    url: str
    feed_id: int | None
    stage: str
    kind: str
    message: str


@dataclass(frozen=True)
class Entry:
    """A feed entry selected for fetching."""

    url: str  # canonical form of the feed's link
    link: str  # the link as the feed gave it
    feed_id: int | None
    title: str | None = None
    published_at: datetime | None = None
    feed_title: str | None = None


@dataclass(frozen=True)
class ArticleRecord:
    """One cleaned article ready to store."""

    canonical_url: str
    url: str
    feed_id: int | None
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    language: str | None
    site_name: str | None
    dateline: str | None
    agency: str | None
    content_hash: str
    html_gzip: bytes = b""
    final_url: str = ""
    content_type: str | None = None
    charset_declared: str | None = None
    charset_used: str | None = None
    replacement_ratio: float | None = None
    image_url: str | None = None
    date_source: str | None = None
    date_candidates: list = field(default_factory=list)
    date_warning: str | None = None
    site: str | None = None
    # (key, line) of the article's lines, counted towards its site's furniture.
    site_lines: list[tuple[int, str]] = field(default_factory=list)
    # Learned furniture lines kept in the text because together they would
    # have taken too much of it (pipeline.clean.apply_learned_lines).
    site_rules_withheld: tuple[str, ...] = ()
    fingerprint: Fingerprint | None = None
