"""Lines seen on pages of one site (site_boilerplate), counted per page, and
the ones seen on enough pages to be learned as that site's furniture."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from pipeline.clean import SITE_RULES_VERSION
from pipeline.records import ArticleRecord
from pipeline.store.models import SiteBoilerplate


site_boilerplate = SiteBoilerplate.__table__


def count_site_lines(conn: Connection, records: Sequence[ArticleRecord]) -> None:
    """Each newly stored article adds one to the support of each of its lines
    on its site.  Called only for articles just inserted, so a rerun does not
    count a page twice; rows are written in key order so that concurrent runs
    cannot deadlock."""
    support: dict[tuple[str, int], list] = {}
    for record in records:
        if not record.site:
            continue
        for key, line in record.site_lines:
            entry = support.setdefault((record.site, key), [line, 0])
            entry[1] += 1
    if not support:
        return
    rows = [
        {"rules_version": SITE_RULES_VERSION, "host": host, "line_hash": key, "text": line, "support": count}
        for (host, key), (line, count) in sorted(support.items())
    ]
    statement = insert(site_boilerplate)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_boilerplate.c.rules_version, site_boilerplate.c.host, site_boilerplate.c.line_hash],
            set_={"support": site_boilerplate.c.support + statement.excluded.support, "last_seen_at": func.now()},
        ),
        rows,
    )


def learned_site_lines(conn: Connection, hosts: Iterable[str], min_support: int) -> dict[str, frozenset[int]]:
    """The furniture lines of these sites: support at or above the threshold."""
    hosts = sorted({host for host in hosts if host})
    if not hosts:
        return {}
    rows = conn.execute(
        select(site_boilerplate.c.host, site_boilerplate.c.line_hash).where(
            site_boilerplate.c.rules_version == SITE_RULES_VERSION,
            site_boilerplate.c.host.in_(hosts),
            site_boilerplate.c.support >= min_support,
        )
    )
    learned: dict[str, set[int]] = {}
    for host, key in rows:
        learned.setdefault(host, set()).add(key)
    return {host: frozenset(keys) for host, keys in learned.items()}
