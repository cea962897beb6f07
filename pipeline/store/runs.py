"""The rows of ingest runs, and the hold that tells live runs from dead ones.

A run holds a session-level advisory lock from its start to its end, on a
connection of its own.  PostgreSQL drops it the moment that session ends,
however the run ended, so "is this run alive?" is a question the database
answers exactly, with no clock involved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from pipeline.text import storable_text

# The advisory lock a live run holds: (RUN_LOCK_CLASS, run id modulo 2^31),
# the two-int4 form, so that pg_locks shows the run id as objid.
RUN_LOCK_CLASS = 735112


def _run_key(run_id: int) -> int:
    return run_id % 2**31


def run_alive(run_id_sql: str) -> str:
    """SQL: whether the run ``run_id_sql`` still holds its session (any
    backend of this database, granted)."""
    return f"""EXISTS (SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = {RUN_LOCK_CLASS} AND l.objid::bigint = ({run_id_sql}) % 2147483648)"""


def lease_held(feed_alias: str) -> str:
    """SQL: whether the feed ``feed_alias`` is leased to a run that is alive
    and whose lease has not lapsed (the backstop for a live but stuck run)."""
    return (f"({feed_alias}.leased_by IS NOT NULL AND coalesce({feed_alias}.lease_until >= now(), false)"
            f" AND {run_alive(f'{feed_alias}.leased_by')})")


RUN_COUNTS = (
    "feeds", "feeds_failed", "entries_new", "pages_fetched", "pages_failed", "articles_new",
    "stories_new", "copies", "articles_enriched", "errors",
)


def start_run(conn: Connection, flow_run_id: str | None, parent_id: int | None = None) -> int:
    """Record a run as started and hold it (``hold_run``) on ``conn``, which
    the caller keeps open for the whole run.  Runs still 'running' whose
    session is gone died without finishing (killed, machine lost): they are
    marked 'abandoned' on the way.  Both happen in one transaction, so no
    other run ever sees this run's row without its hold.  A shard's run
    names the run that started it, ``parent_id``."""
    conn.execute(text(f"""
        UPDATE ingest_runs r SET status = 'abandoned'
        WHERE r.status = 'running' AND NOT {run_alive("r.id")}
        """))
    run_id = conn.execute(
        text("INSERT INTO ingest_runs (flow_run_id, parent_id) VALUES (:flow_run, :parent) RETURNING id"),
        {"flow_run": flow_run_id, "parent": parent_id},
    ).scalar_one()
    hold_run(conn, run_id)
    return run_id


def hold_run(conn: Connection, run_id: int) -> None:
    """Take the run's session-level advisory lock on ``conn``.  PostgreSQL
    drops it the moment that session ends, however the run ended (kill -9, a
    lost machine, a crash): the run's feeds are free at once, and its row
    reads as abandoned.  Taken again on a new session after a lost
    connection; a no-op on the session that holds it."""
    # Session locks stack: taken again by a session that holds it, it would
    # need as many unlocks.  Only a session without it takes it.
    held = conn.execute(
        text("""
        SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks l
                                 WHERE l.pid = pg_backend_pid() AND l.locktype = 'advisory' AND l.granted
                                   AND l.classid = :cls AND l.objid = :key AND l.objsubid = 2)
                    THEN true ELSE pg_try_advisory_lock(:cls, :key) END
        """),
        {"cls": RUN_LOCK_CLASS, "key": _run_key(run_id)},
    ).scalar_one()
    if not held:  # only this run's own sessions ever take its key
        raise RuntimeError(f"run {run_id} is already held by another session")


def feeds_held_by_others(
    conn: Connection, run_id: int, ids: Sequence[int] | None = None
) -> list[tuple[int, datetime, int]]:
    """(run, started_at, feeds) for each live run that holds feeds this run
    could otherwise have claimed (among ``ids``, or all)."""
    scope = "AND f.id = ANY(:ids)" if ids is not None else ""
    rows = conn.execute(text(f"""
        SELECT r.id, r.started_at, count(*) FROM feeds f JOIN ingest_runs r ON r.id = f.leased_by
        WHERE NOT f.disabled AND f.leased_by <> :run {scope} AND {lease_held("f")}
        GROUP BY r.id, r.started_at ORDER BY r.id
        """), {"run": run_id, **({"ids": list(ids)} if ids is not None else {})})
    return [tuple(row) for row in rows]


def run_started_at(conn: Connection, run_id: int) -> datetime:
    """When the run started, by the database's clock: the moment its shards
    compare claims with (``claimed_at``), on every machine alike."""
    return conn.execute(text("SELECT started_at FROM ingest_runs WHERE id = :run"), {"run": run_id}).scalar_one()


def runs_of_flow_runs(conn: Connection, flow_run_ids: Sequence[str]) -> list[dict]:
    """The last finished row of each of these flow runs (a shard's run
    each; a flow run Prefect retried has a row per attempt): id,
    flow_run_id, status, the counts of ``RUN_COUNTS`` and details.  A flow
    run with no finished row (still running, or never started) is left out."""
    if not flow_run_ids:
        return []
    rows = conn.execute(text(f"""
        SELECT DISTINCT ON (flow_run_id) id, flow_run_id, status, details, {", ".join(RUN_COUNTS)}
        FROM ingest_runs
        WHERE flow_run_id = ANY(:ids) AND status <> 'running' ORDER BY flow_run_id, id DESC
        """), {"ids": list(flow_run_ids)})
    return [dict(row._mapping) for row in rows]


def finish_run(conn: Connection, run_id: int, status: str, counts: dict[str, int], details: dict) -> None:
    conn.execute(
        text(f"""
        UPDATE ingest_runs SET status = :status, finished_at = now(), details = CAST(:details AS jsonb),
               {", ".join(f"{name} = :{name}" for name in RUN_COUNTS)}
        WHERE id = :run
        """),
        {"run": run_id, "status": status, "details": json.dumps(_storable_details(details), default=str),
         **{name: counts.get(name, 0) for name in RUN_COUNTS}},
    )


def _storable_details(details: dict) -> dict:
    """Error messages quote what a feed or a page sent: jsonb refuses NUL."""
    details = dict(details)
    if details.get("errors"):
        details["errors"] = [[storable_text(str(part)) for part in error] for error in details["errors"]]
    for name in ("database_error", "failure"):
        if details.get(name):
            details[name] = storable_text(str(details[name]))
    return details
