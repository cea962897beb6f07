"""The feeds table: registering feeds, the leases runs take on them, and
each fetch's outcome (health, validators, back-off, moves)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from pipeline.store.models import Feed
from pipeline.store.runs import lease_held
from pipeline.text import storable_text


feeds = Feed.__table__


def upsert_feeds(conn: Connection, sources: Iterable[tuple[str, str | None]]) -> dict[str, int]:
    """Register feeds by URL (keeping their state); returns url -> id.  A URL
    that a feed was permanently redirected away from maps to that feed."""
    sources = list(sources)
    if not sources:
        return {}
    urls = [url for url, _ in sources]
    moved = dict(conn.execute(
        select(feeds.c.previous_url, feeds.c.id).where(feeds.c.previous_url.in_(urls))
    ).all())
    rows = [{"url": url, "name": name} for url, name in sources if url not in moved]
    if rows:
        statement = insert(feeds).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[feeds.c.url],
            set_={"name": func.coalesce(statement.excluded.name, feeds.c.name)},
        )
        conn.execute(statement)
    result = conn.execute(select(feeds.c.url, feeds.c.id).where(feeds.c.url.in_(urls)))
    return {**dict(result.all()), **moved}


def count_feeds(conn: Connection) -> int:
    """How many feeds are stored, disabled ones included."""
    return conn.execute(select(func.count()).select_from(feeds)).scalar_one()


# The transaction-level advisory lock a claimant takes on a host while it
# claims the host's feeds: (HOST_LOCK_CLASS, hashtext(host key)).
HOST_LOCK_CLASS = 735113


def _claimable(scope: str, since: bool) -> str:
    """SQL over feeds ``f``: enabled, in scope, not leased by a live run, not
    claimed since ``:since`` (when given), and due (or ``:force``) or with
    entries that wait to be retried."""
    return f"""NOT f.disabled {scope}
              AND NOT {lease_held("f")}
              {"AND (f.claimed_at IS NULL OR f.claimed_at < :since)" if since else ""}
              AND (:force OR f.next_fetch_at IS NULL OR f.next_fetch_at <= now()
                   OR EXISTS (SELECT 1 FROM fetch_failures ff
                              WHERE ff.feed_id = f.id AND ff.attempts < :max_attempts))"""


def _claim_parameters(ids, force, max_attempts, since) -> tuple[str, dict]:
    scope = "AND f.id = ANY(:ids)" if ids is not None else ""
    parameters = {"force": force, "max_attempts": max_attempts,
                  **({"ids": list(ids)} if ids is not None else {}),
                  **({"since": since} if since is not None else {})}
    return scope, parameters


def claimable_feeds(
    conn: Connection, *, ids: Sequence[int] | None = None, force: bool = False, max_attempts: int = 1,
    since: datetime | None = None,
) -> list[tuple[int, str]]:
    """(id, url) of the feeds ``claim_feeds`` would claim now with the same
    arguments, in id order; reads only (a claimant chooses its hosts from
    this, then claims them)."""
    scope, parameters = _claim_parameters(ids, force, max_attempts, since)
    rows = conn.execute(
        text(f"SELECT f.id, f.url FROM feeds f WHERE {_claimable(scope, since is not None)} ORDER BY f.id"),
        parameters,
    )
    return [tuple(row) for row in rows]


def try_lock_host(conn: Connection, host: str) -> bool:
    """Take the host's claim lock for this transaction, or say that another
    claimant holds it right now: two shards never split one host's feeds."""
    return conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:cls, hashtext(:host))"), {"cls": HOST_LOCK_CLASS, "host": host}
    ).scalar_one()


def claim_feeds(
    conn: Connection, run_id: int, *, lease: timedelta, ids: Sequence[int] | None = None,
    force: bool = False, max_attempts: int = 1, since: datetime | None = None,
) -> list[tuple[int, str, str | None, str | None, bool]]:
    """Lease the enabled feeds this run will work on and return
    (id, url, etag, last_modified, due) for each.

    A feed is claimed when it is due (or with ``force``) or when entries of
    it wait to be retried; ``due`` says whether to fetch it.  A feed leased
    by another run is skipped, and rows another transaction is claiming right
    now are skipped rather than waited for (SKIP LOCKED): overlapping runs and
    several workers split the feeds between them and never fetch one twice.
    With ``since``, a feed claimed at or after that moment is skipped too:
    the shards of one run claim each feed once between them.
    The lease ends when the run releases it, or the moment the run's
    session ends (see ``hold_run``); ``lease_until`` is only a backstop for a
    run that is alive but stuck."""
    scope, parameters = _claim_parameters(ids, force, max_attempts, since)
    rows = conn.execute(
        text(f"""
        WITH candidates AS (
            SELECT f.id,
                   (:force OR f.next_fetch_at IS NULL OR f.next_fetch_at <= now()) AS due
            FROM feeds f
            WHERE {_claimable(scope, since is not None)}
            ORDER BY f.id
            FOR UPDATE OF f SKIP LOCKED
        )
        UPDATE feeds f SET leased_by = :run, lease_until = now() + :lease, claimed_at = now()
        FROM candidates c WHERE f.id = c.id
        RETURNING f.id, f.url, f.etag, f.last_modified, c.due
        """),
        {"run": run_id, "lease": lease, **parameters},
    )
    return sorted(tuple(row) for row in rows)


def renew_leases(conn: Connection, run_id: int, lease: timedelta) -> int:
    """Extend the leases a run still holds, for runs longer than one lease."""
    return conn.execute(
        update(feeds).where(feeds.c.leased_by == run_id)
        .values(lease_until=func.now() + lease)
    ).rowcount


def release_leases(conn: Connection, run_id: int, feed_ids: Sequence[int] | None = None) -> None:
    """Hand back the run's feeds (these ones, or all it holds)."""
    condition = feeds.c.leased_by == run_id
    if feed_ids is not None:
        condition &= feeds.c.id.in_(feed_ids)
    conn.execute(update(feeds).where(condition).values(leased_by=None, lease_until=None))


def consecutive_failures(conn: Connection, ids: list[int]) -> dict[int, int]:
    """Each feed's failures in a row so far, before this run writes its state."""
    if not ids:
        return {}
    rows = conn.execute(select(feeds.c.id, feeds.c.consecutive_failures).where(feeds.c.id.in_(ids)))
    return {feed_id: failures for feed_id, failures in rows}


def record_feed_success(
    conn: Connection, feed_id: int, *, status: int, title: str | None, etag: str | None,
    last_modified: str | None, next_fetch_at: datetime, warning: str | None = None,
    entries_skipped: int = 0,
) -> None:
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(
            title=func.coalesce(title, feeds.c.title),
            etag=etag,
            last_modified=last_modified,
            last_status=status,
            last_fetched_at=func.now(),
            last_success_at=func.now(),
            next_fetch_at=next_fetch_at,
            consecutive_failures=0,
            last_error=None,
            last_error_kind=None,
            last_warning=storable_text(warning),
            entries_skipped=entries_skipped,
        )
    )


def record_feed_unchanged(conn: Connection, feed_id: int, next_fetch_at: datetime) -> None:
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(
            last_status=304, last_fetched_at=func.now(), last_success_at=func.now(),
            next_fetch_at=next_fetch_at, consecutive_failures=0, last_error=None,
            last_error_kind=None,
        )
    )


def record_feed_failure(
    conn: Connection, feed_id: int, *, error: str, kind: str, status: int | None,
    interval: timedelta, max_interval: timedelta, disable: bool = False,
) -> None:
    """Count the failure and back off: interval x 2^failures, capped, so a
    broken feed is asked less often but never given up on (unless 410 Gone)."""
    failures = feeds.c.consecutive_failures + 1
    error = storable_text(error) or kind
    backoff = func.least(
        func.make_interval(0, 0, 0, 0, 0, 0, interval.total_seconds() * func.power(2, failures - 1)),
        func.make_interval(0, 0, 0, 0, 0, 0, max_interval.total_seconds()),
    )
    values = dict(
        last_status=status,
        last_fetched_at=func.now(),
        consecutive_failures=failures,
        last_error=error,
        last_error_kind=kind,
        next_fetch_at=func.now() + backoff,
    )
    if disable:
        values.update(disabled=True, disabled_reason=error)
    conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


def move_feed(conn: Connection, feed_id: int, new_url: str) -> bool:
    """Follow a permanent redirect: the feed takes its new URL, unless another
    stored feed has it already (then both stay as they are)."""
    taken = conn.execute(select(feeds.c.id).where(feeds.c.url == new_url)).scalar()
    if taken is not None:
        return False
    conn.execute(
        update(feeds).where(feeds.c.id == feed_id).values(url=new_url, previous_url=feeds.c.url)
    )
    return True
