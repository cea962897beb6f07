"""`newsflow search`, `stories`, `entities`, `runs`, `stats` and the like:
reading the stored data (the questions are pipeline/query.py's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from flows.cli.db import answer, open_database
from flows.cli.options import parse_age
from flows.cli.output import Column, console, print_json, print_rows, when
from flows.terminal import highlighted, markup, plain
from pipeline.config import get_settings


def search(
    query: Annotated[str, typer.Argument(help='Words to find; "quoted phrases", or, and -excluded words work.')],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 10,
    since: Annotated[datetime | None, typer.Option(parser=parse_age, metavar="AGE", help="Only articles published this recently: 24h, 7d.")] = None,
    feed: Annotated[str | None, typer.Option(help="Only articles from this feed (its name or URL).")] = None,
    entity: Annotated[str | None, typer.Option(help="Only articles mentioning this entity (name or alias).")] = None,
    label: Annotated[str | None, typer.Option(help="Only articles with an entity of this label (with --entity: that entity as this label).")] = None,
    all_copies: Annotated[bool, typer.Option("--all-copies", help="Every copy, not one result per story.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Full-text search over titles and texts, best matches first, one per story."""
    from pipeline.query import search_articles

    hits = answer(
        search_articles, query, limit=limit, since=since, feed=feed, entity=entity,
        label=label, one_per_story=not all_copies,
    )
    print_hits(query, hits, as_json=as_json)


def print_hits(query: str, hits, *, as_json: bool = False) -> None:
    print_rows(
        hits,
        [
            Column("published", lambda hit: hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "",
                   no_wrap=True),
            Column("title and snippet", _title_and_snippet, ratio=4),
            Column("site", "site_name", ratio=1),
            Column("story", lambda hit: f"#{hit.story_id} ({hit.story_size})", justify="right", no_wrap=True),
            Column("entities", lambda hit: ", ".join(hit.entities), ratio=2),
        ],
        title=f"{len(hits)} result(s) for {query!r}", show_lines=True,
        as_json=as_json, record=_hit_record, empty=markup("no articles match {}", repr(query)),
    )


def _title_and_snippet(hit):
    return plain(hit.title or hit.url, "bold") + "\n" + highlighted(hit.snippet)


def _hit_record(hit) -> dict:
    return {
        "title": hit.title, "url": hit.url, "story_id": hit.story_id, "story_size": hit.story_size,
        "published_at": hit.published_at, "score": round(hit.score, 4), "snippet": hit.snippet,
        "site_name": hit.site_name, "entities": hit.entities,
    }


def site_rules(
    host: Annotated[str, typer.Argument(help="The site, e.g. example.com (www. is ignored).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rules as JSON.")] = False,
) -> None:
    """Lines learned as one site's boilerplate, with their support."""
    from pipeline.dedup import site_of
    from pipeline.query import site_rules as load_rules

    site = site_of(f"http://{host}/") or host
    rules = answer(load_rules, site)
    threshold = get_settings().site_rule_min_pages
    print_rows(
        rules,
        [
            Column("support"),
            Column("active", lambda rule: "yes" if rule["support"] >= threshold else "no"),
            Column("line", "text"),
            Column("first seen", lambda rule: f"{rule['first_seen_at']:%Y-%m-%d}"),
            Column("last seen", lambda rule: f"{rule['last_seen_at']:%Y-%m-%d}"),
        ],
        title=f"{site}: lines removed once seen on {threshold}+ pages", as_json=as_json,
        record=lambda rule: {**rule, "active": rule["support"] >= threshold},
        empty=markup("no lines learned for {} yet", site),
    )


def stories(
    since: Annotated[datetime | None, typer.Option(parser=parse_age, metavar="AGE", help="Only stories first seen this recently: 24h, 7d, 2w.")] = None,
    min_outlets: Annotated[int, typer.Option(help="Only stories carried by at least this many outlets.")] = 1,
    limit: Annotated[int, typer.Option(help="At most this many stories.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stories as JSON.")] = False,
) -> None:
    """The largest stories: the same text on several outlets, grouped."""
    from pipeline.query import list_stories

    rows = answer(list_stories, since=since, min_outlets=min_outlets, limit=limit)
    print_rows(
        rows,
        [
            Column("story", lambda row: f"#{row['id']}", overflow="fold"),
            Column("title", lambda row: row["title"] or row["url"], overflow="fold"),
            Column("articles", "article_count", overflow="fold"),
            Column("outlets", lambda row: ", ".join(row["outlets"]), overflow="fold"),
            Column("agencies", lambda row: ", ".join(row["agencies"]), overflow="fold"),
            Column("first seen", lambda row: when(row["first_seen_at"]), overflow="fold"),
        ],
        title=f"{len(rows)} stories", as_json=as_json, empty="no stories match",
        footer=["members and how each matched: newsflow story ID"],
    )


def story(
    story_id: Annotated[int, typer.Argument(help="The story's id (see newsflow stories).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the members as JSON.")] = False,
) -> None:
    """One story's articles and how each joined it (exact text, or near with its score)."""
    from pipeline.query import story_members

    members = answer(story_members, story_id)
    if not members and not as_json:
        console.print(f"no story #{story_id}")
        raise typer.Exit(1)
    print_rows(
        members,
        [
            Column("article", lambda member: f"#{member['id']}", overflow="fold"),
            Column("outlet", "site_name", overflow="fold"),
            Column("title", lambda member: member["title"] or member["url"], overflow="fold"),
            Column("published", lambda member: when(member["published_at"]), overflow="fold"),
            Column("dateline", _dateline, overflow="fold"),
            Column("joined", _joined, overflow="fold"),
        ],
        title=f"story #{story_id}: {len(members)} articles", as_json=as_json,
    )


def _dateline(member: dict) -> str:
    agency = f"({member['agency']})" if member["agency"] else None
    return " ".join(part for part in (member["dateline"], agency) if part)


def _joined(member: dict) -> str:
    """How an article joined its story, in words."""
    kind = member["match_kind"] or "new"
    if member["is_canonical"]:
        return "canonical" + ("" if kind == "new" else f" ({kind})")
    if kind == "near":
        return f"near copy of #{member['matched_article_id']} (score {member['match_score']:.2f})"
    if kind == "exact":
        return f"same text as #{member['matched_article_id']}"
    return kind


def withheld_line(pages: int) -> str:
    from pipeline.clean import LEARNED_MAX_SHARE  # here: extraction's imports are slow to load for every command

    return (f"{pages} page{'s' if pages != 1 else ''} kept their site's learned furniture lines: together they"
            f" would have taken more than {LEARNED_MAX_SHARE:.0%} of the article")


def runs(
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Recent ingest runs (scheduled, triggered by hand or from this CLI) with their counts."""
    from pipeline.query import recent_runs

    rows = answer(recent_runs, limit)
    colours = {"completed": "green", "running": "cyan", "failed": "red", "abandoned": "yellow"}
    footer = []
    for row in rows:
        if row["database_error"]:
            footer.append(markup("[red]run {}:[/red] {}", row["id"], row["database_error"]))
        if row["failures_by_kind"]:
            kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(row["failures_by_kind"].items()))
            footer.append(plain(f"run {row['id']} failures by kind: {kinds}"))
        if row["site_rules_withheld"]:
            footer.append(plain(f"run {row['id']}: {withheld_line(row['site_rules_withheld'])}"))
    print_rows(
        rows,
        [
            Column("run", "id", justify="right"),
            # A shard's row (work pools): its coordinator's run, whose counts include the shard's.
            Column("shard of", lambda row: row["parent_id"] or "", justify="right"),
            Column("started", lambda row: when(row["started_at"])),
            Column("took", lambda row: f"{row['seconds']:.0f} s" if row["seconds"] is not None else "-",
                   justify="right"),
            Column("status", lambda row: plain(row["status"], colours.get(row["status"], "white"))),
            Column("feeds", lambda row: _with_failed(row["feeds"], row["feeds_failed"]), justify="right"),
            Column("new entries", "entries_new", justify="right"),
            Column("pages", lambda row: _with_failed(row["pages_fetched"], row["pages_failed"]), justify="right"),
            Column("articles", "articles_new", justify="right"),
            Column("stories", "stories_new", justify="right"),
            Column("copies", justify="right"),
            Column("tagged", "articles_enriched", justify="right"),
            Column("errors", justify="right"),
        ],
        title=f"last {len(rows)} ingest runs", as_json=as_json, footer=footer,
    )


def _with_failed(count: int, failed: int) -> str:
    return f"{count}" + (f" ({failed} failed)" if failed else "")


_ENTITY_COLUMNS = [Column("entity", "name"), Column("label"), Column("stories"), Column("articles"), Column("mentions")]


def entities(
    top: Annotated[int, typer.Option(help="How many entities.")] = 20,
    label: Annotated[str | None, typer.Option(help="Only this label: PERSON, ORG, GPE, …")] = None,
    since: Annotated[datetime | None, typer.Option(parser=parse_age, metavar="AGE", help="Only articles published this recently: 24h, 7d.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entities as JSON.")] = False,
) -> None:
    """The entities mentioned in the most stories."""
    from pipeline.query import top_entities_by_story

    rows = answer(top_entities_by_story, limit=top, label=label, since=since)
    print_rows(rows, _ENTITY_COLUMNS, title=f"top {len(rows)} entities", as_json=as_json)


def entity(
    name: Annotated[str, typer.Argument(help="The entity's name or one of its aliases.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One entity: its aliases, the stories mentioning it, what it co-occurs with."""
    from pipeline.query import entity_report

    report = answer(entity_report, name)
    if as_json:
        print_json(report)
        return
    if not report:
        console.print(markup("no entity named {}", repr(name)))
        raise typer.Exit(1)
    for item in report:
        console.print(markup("[bold]{}[/bold] ({}), also written: {}", item["name"], item["label"],
                             ", ".join(item["aliases"]) or "-"))
        print_rows(
            item["stories"],
            [
                Column("story", lambda row: f"#{row['story_id']}", overflow="fold"),
                Column("title", overflow="fold"),
                Column("published", lambda row: when(row["published_at"]), overflow="fold"),
                Column("mentions", overflow="fold"),
            ],
            title="stories",
        )
        console.print(plain("appears with: " + ", ".join(
            f"{other['name']} ({other['label']}, {other['stories']})" for other in item["cooccurring"])))


def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object.")] = False,
) -> None:
    """Row counts, articles per day, language and feed, and the busiest stories
    and entities of the last 24 h (of the newest 24 h of data when nothing is that recent)."""
    from pipeline import query

    with open_database().connect() as conn:
        counts = query.table_counts(conn)
        per_day = query.articles_per_day(conn)
        per_language = query.articles_per_language(conn)
        per_feed = query.articles_per_feed(conn)
        window = query.busiest_window(conn, hours=24)
        busiest = query.busiest_stories(conn, window, limit=5) if window else []
        busiest_entities = (query.top_entities_by_story(conn, limit=10, since=window.start, until=window.end)
                            if window else [])
        failures = query.recent_failures(conn)
    if as_json:
        print_json({
            "rows": counts,
            "per_day": [{"day": day, "articles": n, "stories": m} for day, n, m in per_day],
            "per_language": [{"language": lang, "articles": n, "with_entities": share}
                             for lang, n, share in per_language],
            "per_feed": [{"feed": name, "articles": n, "failures": f, "last_error": error}
                         for name, n, f, error in per_feed],
            "window": {"start": window.start, "end": window.end, "current": window.current} if window else None,
            "busiest_stories": busiest, "busiest_entities": busiest_entities,
            "failures": [{"url": url, "stage": stage, "error": error, "attempts": attempts}
                         for url, stage, error, attempts in failures],
        })
        return
    print_rows(list(counts.items()), [Column("table", 0), Column("rows", 1, justify="right")], title="rows")
    print_rows(per_day, _tuple_columns("day", "articles", "stories", justify="right"), title="per day (published)")
    print_rows(
        per_language,
        [Column("language", 0, justify="right"), Column("articles", 1, justify="right"),
         Column("with entities", lambda row: f"{row[2]:.0%}", justify="right")],
        title="per language",
    )
    print_rows(per_feed, _tuple_columns("feed", "articles", "failures", "last error"), title="feeds")
    if window is None:
        console.print("busiest stories and entities: no articles yet")
    else:
        span = f"{window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M} UTC"
        if window.current:
            console.print(f"[bold]the last 24 h[/bold] ({span}):")
        else:
            console.print(f"[yellow]nothing published in the last 24 h[/yellow]; the newest 24 h of data"
                          f" ({span}), up to the newest article:")
    print_rows(
        busiest,
        [
            Column("story", lambda row: f"#{row['id']}"),
            Column("title"),
            Column("in 24 h", "window_articles"),
            Column("all", "article_count"),
            Column("outlets", lambda row: ", ".join(row["outlets"])),
        ],
        title="busiest stories (articles in the 24 h)",
    )
    print_rows(busiest_entities, _ENTITY_COLUMNS, title="busiest entities (stories in the 24 h)")
    if failures:
        print_rows(failures, _tuple_columns("url", "stage", "error", "attempts"),
                   title="entries that failed (retried next run)")


def _tuple_columns(*headers: str, **options) -> list[Column]:
    """Columns over tuples: the first header for the first item, and so on."""
    return [Column(header, index, **options) for index, header in enumerate(headers)]
