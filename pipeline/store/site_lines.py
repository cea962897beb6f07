"""Lines seen on pages of one site (site_boilerplate), counted per page, with
the site's page count (site_pages), and the ones seen on enough pages, and on
a large enough share of them, to be learned as that site's furniture."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.dialects.postgresql import insert

from pipeline.clean import SITE_RULE_MIN_SHARE, SITE_RULE_SHARE_MIN_PAGES, SITE_RULES_VERSION, LearnedLines
from pipeline.records import ArticleRecord
from pipeline.store.models import SiteBoilerplate, SitePages


site_boilerplate = SiteBoilerplate.__table__
site_pages = SitePages.__table__


def count_site_lines(conn: Connection, records: Sequence[ArticleRecord]) -> None:
    """Each newly stored article adds one to its site's page count and to the
    support of each of its lines on its site.  Called only for articles just inserted, so a rerun does not
    count a page twice; rows are written in key order so that concurrent runs
    cannot deadlock."""
    support: dict[tuple[str, int], list] = {}
    pages: dict[str, int] = {}
    for record in records:
        if not record.site:
            continue
        pages[record.site] = pages.get(record.site, 0) + 1
        for key, line in record.site_lines:
            entry = support.setdefault((record.site, key), [line, 0])
            entry[1] += 1
    if not pages:
        return
    # The sites' page counts first (hosts in order, as the lines below), with
    # each site's count before this batch for the lines it sees first.
    statement = insert(site_pages)
    counted = conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_pages.c.rules_version, site_pages.c.host],
            set_={"pages": site_pages.c.pages + statement.excluded.pages},
        ).returning(site_pages.c.host, site_pages.c.pages),
        [{"rules_version": SITE_RULES_VERSION, "host": host, "pages": count} for host, count in sorted(pages.items())],
    )
    before = {host: total - pages[host] for host, total in counted}
    if not support:
        return
    rows = [
        {"rules_version": SITE_RULES_VERSION, "host": host, "line_hash": key, "text": line, "support": count,
         "site_pages_before": before[host]}
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


def learned_site_lines(conn: Connection, hosts: Iterable[str], min_support: int) -> dict[str, LearnedLines]:
    """The furniture lines of these sites: support at or above the threshold;
    common, those also on SITE_RULE_MIN_SHARE of the site's pages since the
    line was first seen (counted over at least SITE_RULE_SHARE_MIN_PAGES)."""
    hosts = sorted({host for host in hosts if host})
    if not hosts:
        return {}
    pages_since = func.greatest(
        func.coalesce(site_pages.c.pages, 0) - site_boilerplate.c.site_pages_before, SITE_RULE_SHARE_MIN_PAGES
    )
    rows = conn.execute(
        select(site_boilerplate.c.host, site_boilerplate.c.line_hash,
               (site_boilerplate.c.support >= SITE_RULE_MIN_SHARE * pages_since).label("common"))
        .select_from(site_boilerplate.outerjoin(site_pages, and_(
            site_pages.c.rules_version == site_boilerplate.c.rules_version,
            site_pages.c.host == site_boilerplate.c.host)))
        .where(
            site_boilerplate.c.rules_version == SITE_RULES_VERSION,
            site_boilerplate.c.host.in_(hosts),
            site_boilerplate.c.support >= min_support,
        )
    )
    lines: dict[str, set[int]] = {}
    common: dict[str, set[int]] = {}
    for host, key, is_common in rows:
        lines.setdefault(host, set()).add(key)
        if is_common:
            common.setdefault(host, set()).add(key)
    return {host: LearnedLines(frozenset(keys), frozenset(common.get(host, ()))) for host, keys in lines.items()}
