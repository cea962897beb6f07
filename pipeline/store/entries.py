"""Feed entries between runs: which URLs are stored already, and the
entries that failed (fetch_failures), retried by later runs until they succeed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from pipeline.records import EntryFailure
from pipeline.store.models import Article, Feed, FetchFailure
from pipeline.text import storable_text


articles = Article.__table__
feeds = Feed.__table__
fetch_failures = FetchFailure.__table__


def stored_urls(conn: Connection, urls: Sequence[str]) -> set[str]:
    """Which of these canonical URLs are stored already, as canonical or as fetched URL."""
    if not urls:
        return set()
    found = conn.execute(
        select(articles.c.canonical_url).where(articles.c.canonical_url.in_(urls))
        .union(select(articles.c.url).where(articles.c.url.in_(urls)))
    )
    return {row[0] for row in found}


def record_failures(conn: Connection, failures: Sequence[EntryFailure]) -> None:
    """Entries that did not make it this run (the last word on a URL wins)."""
    if not failures:
        return
    rows = [
        {"url": failure.url, "feed_id": failure.feed_id, "stage": failure.stage, "kind": failure.kind,
         "error": (storable_text(failure.message) or failure.stage)[:2000]}
        for failure in {failure.url: failure for failure in failures}.values()
    ]
    statement = insert(fetch_failures).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[fetch_failures.c.url],
            set_={
                "stage": statement.excluded.stage,
                "kind": statement.excluded.kind,
                "error": statement.excluded.error,
                "attempts": fetch_failures.c.attempts + 1,
                "last_failed_at": func.now(),
            },
        )
    )


def retryable_failures(
    conn: Connection, feed_ids: Sequence[int] | None, max_attempts: int
) -> list[tuple[str, int | None]]:
    """(url, feed_id) of entries that failed before and may be tried again,
    for these feeds (None: every enabled feed).

    They are retried whether or not their feed is fetched this run: with
    conditional GET an unchanged feed lists nothing, and its missed entries
    would otherwise never come back."""
    condition = (fetch_failures.c.attempts < max_attempts) & feeds.c.disabled.is_(False)
    if feed_ids is not None:
        condition &= fetch_failures.c.feed_id.in_(feed_ids)
    rows = conn.execute(
        select(fetch_failures.c.url, fetch_failures.c.feed_id)
        .join(feeds, feeds.c.id == fetch_failures.c.feed_id)
        .where(condition)
        .order_by(fetch_failures.c.url)
    )
    return [tuple(row) for row in rows]


def clear_failures(conn: Connection, urls: Sequence[str]) -> None:
    if urls:
        conn.execute(fetch_failures.delete().where(fetch_failures.c.url.in_(urls)))
