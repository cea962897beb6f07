"""`newsflow feeds ...`: the stored feeds, their health, and managing the list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.db import answer, open_database
from flows.cli.output import Column, console, print_rows, when
from flows.terminal import markup, plain
from pipeline.config import get_settings


def feeds_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the feeds as JSON.")] = False,
) -> None:
    """Without a subcommand: every stored feed with its health."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.query import feed_health

    rows = answer(feed_health)
    print_rows(
        rows,
        [
            Column("feed", lambda row: row["name"] or row["url"], overflow="fold"),
            Column("status", _status, overflow="fold"),
            Column("last success", lambda row: when(row["last_success_at"]), overflow="fold"),
            Column("failures", "consecutive_failures", overflow="fold"),
            Column("next fetch", lambda row: when(row["next_fetch_at"]), overflow="fold"),
            Column("articles", overflow="fold"),
            Column("problem", lambda row: row["disabled_reason"] or row["last_error"] or row["last_warning"] or "",
                   overflow="fold"),
        ],
        title=f"{len(rows)} feeds", as_json=as_json,
        empty="no feeds stored yet: newsflow feeds add URL, or newsflow ingest --feeds FILE",
    )


def _status(row: dict):
    if row["disabled"]:
        return plain("disabled", "red")
    if row["consecutive_failures"]:
        return markup("[yellow]failing ({})[/yellow]", row["last_error_kind"])
    if row["last_status"] is None:
        return "new"
    return plain("ok", "green") + (" (304)" if row["last_status"] == 304 else "")


def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed's URL (http or https).")],
    name: Annotated[str | None, typer.Option(help="A name to show instead of the feed's title.")] = None,
) -> None:
    """Store one feed; the next `newsflow ingest` fetches it."""
    from pipeline.feedlist import FeedSource

    _store_sources([FeedSource(url=url.strip(), name=name)])


def feeds_import(
    path: Annotated[Path, typer.Argument(help="YAML (feeds: [{url, name}]) or OPML.")],
) -> None:
    """Store every feed of a feed list (feeds already stored keep their state)."""
    from pipeline.feedlist import FeedListError, load_feed_list

    try:
        sources = load_feed_list(path)
    except FeedListError as exc:
        console.print(plain(exc, "red"))
        raise typer.Exit(2) from None
    _store_sources(sources)


def _store_sources(sources) -> None:
    from urllib.parse import urlsplit

    from pipeline.store import feeds as feed_store

    bad = [source.url for source in sources if urlsplit(source.url).scheme not in {"http", "https"}]
    if bad:
        console.print(markup("[red]not an http(s) URL:[/red] {}", ", ".join(bad)))
        raise typer.Exit(2)
    with open_database().begin() as conn:
        before = feed_store.count_feeds(conn)
        feed_store.upsert_feeds(conn, [(source.url, source.name) for source in sources])
        added = feed_store.count_feeds(conn) - before
    console.print(f"{added} new feed(s), {len(sources) - added} already stored")


def feeds_export(
    opml: Annotated[bool, typer.Option("--opml", help="OPML instead of YAML.")] = False,
) -> None:
    """Print the stored feeds as a feed list (YAML, or OPML for feed readers)."""
    from pipeline.feedlist import FeedSource, export_opml, export_yaml
    from pipeline.query import feed_health

    sources = [FeedSource(url=row["url"], name=row["name"]) for row in answer(feed_health)]
    print(export_opml(sources) if opml else export_yaml(sources), end="")


def feeds_discover(
    site: Annotated[str, typer.Argument(help="A site's address, e.g. https://example.com/")],
) -> None:
    """Find a site's feeds: those its page declares, then the usual paths."""
    from pipeline.discovery import FeedDiscoveryError, discover_feeds

    try:
        found = discover_feeds(site, get_settings())
    except FeedDiscoveryError as exc:
        console.print(plain(exc, "red"))
        raise typer.Exit(1) from None
    if not found:
        console.print(markup("no feeds found on {}", site))
        raise typer.Exit(1)
    print_rows(
        found,
        [
            Column("url", overflow="fold"),
            Column("title", overflow="fold"),
            Column("entries", overflow="fold"),
        ],
        title=f"feeds of {site}", footer=["add one with: newsflow feeds add URL"],
    )
