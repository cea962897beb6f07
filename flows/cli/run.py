"""`newsflow ingest`, `demo`, `reenrich` and `extract`: commands that run the
pipeline's stages (the flows, or extraction alone on local pages)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.db import open_database
from flows.cli.options import parse_age
from flows.cli.output import Column, console, print_json, print_rows
from flows.cli.read import print_hits, withheld_line
from flows.terminal import markup, plain, printable
from pipeline.config import get_settings, reset_settings_cache
from pipeline.store.engine import describe


def _flow_start_up():
    """Start, side by side, what the ingest flow waits for otherwise one after
    the other: Prefect's temporary server (when no API is configured) and the
    worker processes (imports, NER models), after checking the database.
    Returns the TemporaryApi and the database engine."""
    from flows.serve import TemporaryApi
    from flows.workers import warm_up

    api = TemporaryApi()
    engine = open_database()  # fail early and clearly when there is no database (before the workers start)
    settings = get_settings()
    warm_up(settings.ner_models, settings.workers)
    return api, engine


@contextlib.contextmanager
def _prefect_api(api) -> Iterator[None]:
    """``api.in_use()``, with a server that would not start as a clear error."""
    from flows.serve import ServeError

    try:
        with api.in_use():
            yield
    except ServeError as exc:
        console.print(markup("[red]Prefect's temporary server did not start:[/red] {}", exc))
        raise typer.Exit(2) from None


def ingest(
    feeds: Annotated[Path | None, typer.Option(help="Feed list: YAML (feeds: [{url, name}]) or OPML. Without it, the stored feeds that are due.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Resolve root-relative URLs in the feed list against this.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many new articles this run.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch the feeds even if they are not due.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the ingest flow once: fetch feeds and pages, clean, deduplicate, tag, store."""
    if feeds is not None:
        from pipeline.feedlist import FeedListError, load_feed_list

        try:
            load_feed_list(feeds, base_url)
        except FeedListError as exc:
            console.print(markup("[red]{}[/red]", exc))
            raise typer.Exit(2) from None
    started = time.perf_counter()
    api, _ = _flow_start_up()
    from flows.ingest import IngestFailed, ingest as ingest_flow
    from flows.serve import ServeError

    with _prefect_api(api):
        try:
            summary = ingest_flow(
                feeds_path=str(feeds) if feeds else None, base_url=base_url, limit=limit, force=force
            )
        except IngestFailed as failed:  # the database's trouble: the summary says what was done
            summary = failed.summary
        except ServeError:
            raise
        except Exception as exc:  # recorded as a failed run by the flow, with its leases handed back
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"run failed: {printable(message)}; the next run repairs what this one missed", file=sys.stderr)
            raise typer.Exit(1) from None
    if as_json:
        print_json(summary)
    else:
        print_summary(summary, time.perf_counter() - started)
    if summary["database_error"]:
        console.print(markup("[red]{}[/red]: the next run repairs what this one missed", summary["database_error"]))
        raise typer.Exit(1)


def demo(
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder with feeds.yaml (default: seeds/demo).")] = None,
) -> None:
    """Serve the offline demo corpus on 127.0.0.1, ingest it, and show what was stored."""
    from flows.demo import DEMO_CORPUS, serve_directory

    root = corpus or DEMO_CORPUS
    feed_list = root / "feeds.yaml"
    if not feed_list.exists():
        console.print(markup("[red]no demo corpus at[/red] {}", root))
        raise typer.Exit(2)
    started = time.perf_counter()
    port = get_settings().demo_port
    with contextlib.ExitStack() as serving:
        # The port first: a demo that cannot have it starts nothing else.
        try:
            base_url = serving.enter_context(serve_directory(root, port, port_required=True))
        except OSError as exc:
            # Its URLs include the port: on another one, every article would be stored again.
            console.print(markup(
                "[red]the demo's port {} on 127.0.0.1 is taken[/red] ({}): is another demo still running? "
                "The demo's URLs include the port, so it does not move to another; free the port, or set "
                "NEWSFLOW_DEMO_PORT (on a new port the demo stores its articles again, under new URLs)",
                port, exc.strerror or exc))
            raise typer.Exit(2) from None
        api, engine = _flow_start_up()
        console.print(markup("database: {}", describe(engine)))
        # The demo may fetch from its own server and nothing else private.
        os.environ["NEWSFLOW_ALLOW_PRIVATE_HOSTS"] = base_url.removeprefix("http://")
        reset_settings_cache()
        console.print(markup("serving {} at {}", root, base_url))
        from flows.ingest import IngestFailed, ingest as ingest_flow

        with _prefect_api(api):
            try:
                # Forced, so that a second demo shows conditional GET at work.
                summary = ingest_flow(feeds_path=str(feed_list), base_url=base_url, force=True)
            except IngestFailed as failed:
                summary = failed.summary
    print_summary(summary, time.perf_counter() - started)
    if summary["database_error"]:
        console.print(markup("[red]{}[/red]", summary["database_error"]))
        raise typer.Exit(1)
    from pipeline.query import table_counts

    with engine.connect() as conn:
        counts = table_counts(conn)
    console.print(
        f"The database now holds {counts['articles']} articles in {counts['stories']} stories "
        f"from {counts['feeds']} feeds, with {counts['entities']} distinct entities."
    )
    from pipeline.query import search_articles

    example = "North Korea"
    console.print(f"\nExample query: [bold]newsflow search \"{example}\"[/bold]")
    with engine.connect() as conn:
        print_hits(example, search_articles(conn, example, limit=5))


def print_summary(summary: dict, seconds: float) -> None:
    """An ingest run's summary as a table, then its failures by kind and its recorded errors."""
    rows = [
        ("feeds", f"{summary['feeds']} ({summary['feeds_failed']} failed, {summary['feeds_unchanged']} unchanged)"),
        ("entries in feeds", summary["entries"]),
        ("new entries", summary["entries_new"]),
        ("pages fetched", f"{summary['pages_fetched']} ({summary['pages_failed']} failed)"),
        ("new articles", summary["articles_new"]),
        ("duplicates", f"{summary['copies']} copies joined a story, {summary['already_stored']} URLs already stored"),
        ("new stories", summary["stories_new"]),
        ("articles tagged", f"{summary['articles_enriched']} ({summary['entity_links']} entity links)"),
        ("time", f"{seconds:.1f} s"),
        ("run", f"{summary['run_id']} (newsflow runs)" if summary["run_id"] else "not recorded"),
    ]
    if summary["feeds_held"]:
        from flows.ingest import held_feeds_line

        rows.append(("left to other runs", "; ".join(held_feeds_line(*held) for held in summary["feeds_held"])))
    print_rows(rows, [Column("", 0, style="bold"), Column("", 1, justify="right")],
               title="ingest summary", show_header=False)
    if summary["failures_by_kind"]:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(summary["failures_by_kind"].items()))
        console.print(plain(f"failures by kind: {kinds}"), soft_wrap=True)
    if summary["site_rules_withheld"]:
        console.print(plain(withheld_line(summary["site_rules_withheld"])), soft_wrap=True)
        for url, site, lines in summary["site_rules_withheld_pages"]:
            console.print(plain(f"  {url} ({site}): {lines} lines kept"), soft_wrap=True)
    if summary["errors"]:
        console.print("[yellow]recorded errors (retried next run):[/yellow]")
        for url, message in summary["errors"]:
            console.print(markup("  {}: {}", url, message), soft_wrap=True)
        if summary["error_count"] > len(summary["errors"]):
            console.print(f"  … and {summary['error_count'] - len(summary['errors'])} more")


def reenrich(
    since: Annotated[datetime | None, typer.Option(parser=parse_age, metavar="AGE", help="Also recompute articles fetched this recently: 24h, 7d.")] = None,
    model: Annotated[list[str] | None, typer.Option(help="LANG=MODEL: read LANG with this installed spaCy pipeline this run (repeatable); a bare MODEL is for English.")] = None,
) -> None:
    """Recompute entities of stored articles (another model, or --since), without re-fetching."""
    from flows.maintenance import reenrich as reenrich_flow

    models = dict(item.split("=", 1) if "=" in item else ("en", item) for item in model or [])
    open_database()
    summary = reenrich_flow(since=since, models=models or None)
    console.print(markup(
        "{} articles marked, {} enriched ({} entity links) with {} in {:.1f} s", summary["articles_marked"],
        summary["articles_enriched"], summary["entity_links"], summary["model"], summary["seconds"],
    ))


def extract(
    paths: Annotated[list[Path], typer.Argument(help="Pages (any name) or folders (walked for .html, .htm, .html.gz).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write one JSON object per page (JSON Lines).")],
    base_url: Annotated[str | None, typer.Option(help="URL the folder stands for; a page's URL is this plus its path.")] = None,
) -> None:
    """Extract and clean local pages without fetching or storing anything."""
    import gzip
    import json

    from rich.progress import Progress

    from pipeline.process import ProcessError, extract_page

    pages: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            pages += sorted(
                (page, path) for page in path.rglob("*")
                if page.is_file() and page.name.lower().endswith((".html", ".htm", ".html.gz"))
            )
        elif path.is_file():
            pages.append((path, path.parent))
        else:
            console.print(markup("[red]no such file or folder:[/red] {}", path))
            raise typer.Exit(2)
    failed = 0
    with out.open("w", encoding="utf-8") as sink, Progress(console=console, transient=True) as progress:
        task = progress.add_task("extracting", total=len(pages))
        for page, root in pages:
            relative = page.relative_to(root).as_posix().removesuffix(".gz")
            url = f"{base_url.rstrip('/')}/{relative}" if base_url else page.resolve().as_uri()
            record: dict = {"path": str(page), "url": url}
            try:
                raw = page.read_bytes()
                if page.name.lower().endswith(".gz"):
                    raw = gzip.decompress(raw)
                article = extract_page(raw, url)
            except (ProcessError, OSError, EOFError) as exc:
                failed += 1
                record["error"] = str(exc) or type(exc).__name__
            else:
                record.update(
                    title=article.title, text=article.text, author=article.author,
                    published_at=article.published_at.isoformat() if article.published_at else None,
                    language=article.language, dateline=article.dateline, agency=article.agency,
                    site_name=article.site_name, image_url=article.image_url,
                    date_source=article.date_source,
                )
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress.advance(task)
    console.print(markup("{} pages, {} extracted, {} failed -> {}", len(pages), len(pages) - failed, failed, out))
