"""The tables.  Their names and columns are the public interface: people's
queries depend on them, so change them only through a migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger, Column, Computed, DateTime, ForeignKey, Index, Integer, LargeBinary, SmallInteger, Text,
    UniqueConstraint, func,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlmodel import Field, SQLModel


def _now_column(**kwargs) -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now(), **kwargs)


class Feed(SQLModel, table=True):
    __tablename__ = "feeds"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str | None = Field(default=None, sa_column=Column(Text))
    title: str | None = Field(default=None, sa_column=Column(Text))
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    last_fetched_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    next_fetch_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    consecutive_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    disabled: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    created_at: datetime | None = Field(default=None, sa_column=_now_column())
    # Feed health: what the last fetch gave, and what went wrong in a word
    # (http, timeout, network, refused, too-large, redirects, parse).
    last_status: int | None = Field(default=None)
    last_error_kind: str | None = Field(default=None, sa_column=Column(Text))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # A feed that parsed with faults ("malformed XML after entry 3").
    last_warning: str | None = Field(default=None, sa_column=Column(Text))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    entries_skipped: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The URL before a permanent redirect, so a feed list that still names it
    # finds this feed instead of adding the old URL again.
    previous_url: str | None = Field(default=None, sa_column=Column(Text, index=True))
    # The run fetching this feed now, until when: overlapping runs and several
    # workers skip a leased feed; a crashed run's lease simply lapses.
    leased_by: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("ingest_runs.id", ondelete="SET NULL"))
    )
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # When a run last claimed this feed: the shards of one ingest run claim
    # each feed once between them (migration 0017).
    claimed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Story(SQLModel, table=True):
    __tablename__ = "stories"
    # `newsflow stories` reads stories in this order and stops after its limit (migration 0009).
    __table_args__ = (
        Index("ix_stories_listing", sql_text("article_count DESC"), sql_text("first_seen_at DESC"), "id"),
        # The latest stories (`newsflow web`, /api/stories) in this order (migration 0012).
        Index("ix_stories_latest", sql_text("first_seen_at DESC"), sql_text("id DESC")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    canonical_article_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("articles.id", ondelete="SET NULL", use_alter=True,
                                   name="stories_canonical_article_id_fkey"),
        ),
    )
    first_seen_at: datetime | None = Field(default=None, sa_column=_now_column())
    article_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Article(SQLModel, table=True):
    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_url", "url"),
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_story_id", "story_id"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_search_vector", "search_vector", postgresql_using="gin"),
        # An article's time, published else fetched: --since, the stats' 24 h (migration 0009).
        Index("ix_articles_time", sql_text("coalesce(published_at, fetched_at)")),
        # A feed's articles newest first: `search --feed` (migration 0009).
        Index("ix_articles_feed_time", "feed_id", sql_text("coalesce(published_at, fetched_at)")),
        # An article's story and times from the index alone: one entity's page (migration 0013).
        Index("ix_articles_story_time", "id", postgresql_include=["story_id", "published_at", "fetched_at"]),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    canonical_url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    url: str = Field(sa_column=Column(Text, nullable=False))
    feed_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("feeds.id", ondelete="SET NULL")),
    )
    title: str | None = Field(default=None, sa_column=Column(Text))
    text: str = Field(sa_column=Column(Text, nullable=False))
    author: str | None = Field(default=None, sa_column=Column(Text))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    language: str | None = Field(default=None, sa_column=Column(Text))
    site_name: str | None = Field(default=None, sa_column=Column(Text))
    dateline: str | None = Field(default=None, sa_column=Column(Text))
    agency: str | None = Field(default=None, sa_column=Column(Text))
    content_hash: str = Field(sa_column=Column(Text, nullable=False))
    story_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("stories.id", ondelete="SET NULL")),
    )
    is_canonical: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    image_url: str | None = Field(default=None, sa_column=Column(Text))
    # Where published_at came from (feed, json-ld, meta, url, htmldate), every
    # candidate as [source, ISO time], and what looked wrong about them.
    date_source: str | None = Field(default=None, sa_column=Column(Text))
    date_candidates: list | None = Field(default=None, sa_column=Column(JSONB))
    date_warning: str | None = Field(default=None, sa_column=Column(Text))
    # How the article joined its story: new (it started it), exact (same
    # normalised text), near (MinHash candidate verified by Jaccard or
    # containment); the article it matched and the score.
    match_kind: str | None = Field(default=None, sa_column=Column(Text))
    matched_article_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    match_score: float | None = Field(default=None)
    # Title (weight A) and text (weight B) for full-text search, in the
    # article's language configuration (newsflow_ts_config, migration 0007).
    search_vector: str | None = Field(
        default=None,
        sa_column=Column(
            TSVECTOR,
            Computed(
                "setweight(to_tsvector(newsflow_ts_config(language), COALESCE(title, ''::text)), 'A'::\"char\") || "
                "setweight(to_tsvector(newsflow_ts_config(language), text), 'B'::\"char\")",
                persisted=True,
            ),
        ),
    )
    # The spaCy pipeline (name-version) whose entities the article has.
    entities_model: str | None = Field(default=None, sa_column=Column(Text))
    # pending, done, truncated, copied, or "no model for <lang>"
    entities_status: str = Field(
        default="pending", sa_column=Column(Text, nullable=False, server_default="pending")
    )
    fetched_at: datetime | None = Field(default=None, sa_column=_now_column())


class RawPage(SQLModel, table=True):
    """The fetched HTML, compressed, so pages can be re-processed without re-fetching."""

    __tablename__ = "raw_pages"

    article_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    )
    final_url: str = Field(sa_column=Column(Text, nullable=False))
    content_type: str | None = Field(default=None, sa_column=Column(Text))
    html_gzip: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fetched_at: datetime | None = Field(default=None, sa_column=_now_column())
    # How the bytes were decoded: the charset the page declared (header or
    # markup), the one used, and the share of U+FFFD replacement characters.
    charset_declared: str | None = Field(default=None, sa_column=Column(Text))
    charset_used: str | None = Field(default=None, sa_column=Column(Text))
    replacement_ratio: float | None = Field(default=None)


class Entity(SQLModel, table=True):
    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("name", "label", name="entities_name_label_key"),
        # An entity named in any case (migration 0009).
        Index("ix_entities_lower_name", sql_text("lower(name)")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(sa_column=Column(Text, nullable=False))


class ArticleEntity(SQLModel, table=True):
    __tablename__ = "article_entities"
    # An entity's articles, with their mention counts, from the index alone:
    # `search --entity`, one entity's page (migrations 0009, 0013).
    __table_args__ = (
        Index("ix_article_entities_entity_article", "entity_id", "article_id", postgresql_include=["mentions"]),
    )

    article_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    )
    entity_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True)
    )
    mentions: int = Field(default=1)
    in_title: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    # Character offset of the first mention in title + text, and a score in
    # [0, 1] of how central the entity is to the article (pipeline.enrich.normalise).
    first_offset: int | None = Field(default=None)
    salience: float | None = Field(default=None)
    # Roles, titles and nationalities the article gives the entity ("defender",
    # "croat"), taken off its mentions' names (migration 0014).
    descriptors: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    # The label the article itself gave the entity, and whether a rule (not
    # only the model) gave it; the row is filed under the entity of the label
    # the entity's articles decide (pipeline.enrich.labels, migration 0015).
    # NULL: the filed entity's label (rows older than the migration).
    own_label: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    label_by_rule: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})


class EntityAlias(SQLModel, table=True):
    """A surface form that resolved to an entity ("Blinken", "U.S.")."""

    __tablename__ = "entity_aliases"
    __table_args__ = (
        Index("ix_entity_aliases_entity_id", "entity_id"),
        Index("ix_entity_aliases_lower_alias", sql_text("lower(alias)")),  # migration 0009
    )

    alias: str = Field(sa_column=Column(Text, primary_key=True))
    entity_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True)
    )


class FetchFailure(SQLModel, table=True):
    """An entry that could not be ingested; the next run tries it again and
    removes the row once it succeeds."""

    __tablename__ = "fetch_failures"

    url: str = Field(sa_column=Column(Text, primary_key=True))
    feed_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("feeds.id", ondelete="CASCADE")),
    )
    stage: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(Text, nullable=False))  # the case within the stage: timeout, http…
    error: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(default=1)
    first_failed_at: datetime | None = Field(default=None, sa_column=_now_column())
    last_failed_at: datetime | None = Field(default=None, sa_column=_now_column())


class ArticleFingerprint(SQLModel, table=True):
    """The MinHash signature and shingle hashes of an article's cleaned text
    (pipeline.neardup), kept to verify near-copy candidates exactly."""

    __tablename__ = "article_fingerprints"

    article_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    )
    version: int = Field(sa_column=Column(SmallInteger, nullable=False))
    minhash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    shingles: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ArticleBand(SQLModel, table=True):
    """One LSH band of an article's MinHash: articles sharing a band hash are
    near-copy candidates.  In the database, so look-ups work across runs,
    processes and machines."""

    __tablename__ = "article_bands"

    hash: int = Field(sa_column=Column(BigInteger, primary_key=True))
    article_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    )
    band: int = Field(sa_column=Column(SmallInteger, nullable=False))


class StoryLock(SQLModel, table=True):
    """A key a writer's story decisions read (pipeline.stories.decision_keys),
    held from before its reads until it commits: a writer storing an article
    with the same URL, text or band key waits for it.  Empty between
    transactions (migration 0016)."""

    __tablename__ = "story_locks"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class SiteBoilerplate(SQLModel, table=True):
    """A line seen on many pages of one site: furniture once its support
    reaches the threshold (see pipeline.clean, SITE_RULES_VERSION)."""

    __tablename__ = "site_boilerplate"

    rules_version: int = Field(sa_column=Column(Integer, primary_key=True))
    host: str = Field(sa_column=Column(Text, primary_key=True))
    line_hash: int = Field(sa_column=Column(BigInteger, primary_key=True))
    text: str = Field(sa_column=Column(Text, nullable=False))
    support: int = Field(default=0)
    # The site's page count (site_pages) before the batch that first held
    # the line: the line's share is support over the pages stored since.
    site_pages_before: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    first_seen_at: datetime | None = Field(default=None, sa_column=_now_column())
    last_seen_at: datetime | None = Field(default=None, sa_column=_now_column())


class SitePages(SQLModel, table=True):
    """How many articles of one site have been counted into site_boilerplate
    (per rules version): the denominator of a line's share of the site's pages."""

    __tablename__ = "site_pages"

    rules_version: int = Field(sa_column=Column(Integer, primary_key=True))
    host: str = Field(sa_column=Column(Text, primary_key=True))
    pages: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class IngestRun(SQLModel, table=True):
    """One run of the ingest flow: when, what it did per stage, what went wrong.
    A run that never finished stays 'running' until a later run finds its
    leases lapsed and marks it 'abandoned'."""

    __tablename__ = "ingest_runs"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    flow_run_id: str | None = Field(default=None, sa_column=Column(Text))
    # A shard's run: the ingest run that started it and adds up its counts.
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("ingest_runs.id", ondelete="SET NULL"), index=True),
    )
    started_at: datetime | None = Field(default=None, sa_column=_now_column(index=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    status: str = Field(sa_column=Column(Text, nullable=False, server_default="running"))
    feeds: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    feeds_failed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    entries_new: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    pages_fetched: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    pages_failed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    articles_new: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    stories_new: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    copies: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    articles_enriched: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    errors: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Seconds per stage, the first errors (url, message), the database error if any.
    details: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))


metadata = SQLModel.metadata
