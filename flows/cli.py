"""`newsflow ...`: the command line."""

from __future__ import annotations

import os

# Prefect reads these when it is imported: set quiet, offline defaults first,
# without overriding anything the user set.
for _name, _value in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The temporary server logs "Error flushing events ... CancelledError" at exit.
    "PREFECT_LOGGING_SERVER_LEVEL": "CRITICAL",
    "PREFECT_UI_ENABLED": "false",
    # Prefect gives its temporary server 20 s to start; on a busy 2-core
    # machine that was seen to run out, ending the run with a traceback.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}.items():
    os.environ.setdefault(_name, _value)

import atexit  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from flows.terminal import PlainTable, highlighted, markup, plain, printable  # noqa: E402
from pipeline.config import get_settings, reset_settings_cache  # noqa: E402
from pipeline.store.engine import DatabaseUnavailable, describe, get_engine  # noqa: E402

app = typer.Typer(
    help="newsflow: RSS/Atom feeds to clean, deduplicated, entity-tagged articles in PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
feeds_app = typer.Typer(help="The stored feeds: their health, and managing the list.")
app.add_typer(feeds_app, name="feeds")
console = Console()


def _engine():
    """The database, its schema brought up to date (every command reads the
    newest tables; the migrations are idempotent and take milliseconds when
    there is nothing to do)."""
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.store.migrate import current_revision, head_revision, upgrade

    try:
        engine = get_engine(get_settings())
        if current_revision(engine) != head_revision():
            upgrade(engine)
        return engine
    except DatabaseUnavailable as exc:
        console.print(markup("[red]database unavailable:[/red] {}", exc))
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        console.print(markup("[red]database error:[/red] {}", str(exc.orig or exc).splitlines()[0]))
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (every flow also does this at start)."""
    from pipeline.store.migrate import upgrade

    engine = _engine()
    revision = upgrade(engine)
    console.print(markup("schema of {} is at revision [bold]{}[/bold]", describe(engine), revision))


@db_app.command("shell")
def db_shell(
    command: Annotated[str | None, typer.Option("-c", "--command", help="Run this SQL and exit.")] = None,
) -> None:
    """Open psql on the database (the embedded one runs as long as the shell does)."""
    import subprocess

    from pipeline.store.engine import database_url, psql_connection, psql_path

    psql = psql_path()
    if psql is None:
        console.print("[red]psql not found:[/red] install the PostgreSQL client")
        raise typer.Exit(2)
    try:
        connection, environment = psql_connection(database_url(get_settings()))
    except DatabaseUnavailable as exc:
        console.print(markup("[red]database unavailable:[/red] {}", exc))
        raise typer.Exit(2) from None
    arguments = [psql, connection] + (["-c", command] if command else [])
    raise typer.Exit(subprocess.call(arguments, env={**os.environ, **environment}))


@db_app.command("check")
def db_check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be recomputed from the stored rows.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Verify the stored data's invariants (stories, counts, fingerprints, orphans); exit 1 if any is broken."""
    from pipeline.store import check

    engine = _engine()
    repaired: dict[str, int] = {}
    if repair:
        with engine.begin() as conn:
            repaired = check.repair(conn)
    with engine.connect() as conn:
        found = check.run_checks(conn)
    if as_json:
        print(json.dumps({"found": found, "repaired": repaired}, indent=2))
    else:
        table = PlainTable(title="consistency", title_justify="left")
        for column in ("check", "rows", "what it means") + (("repaired",) if repair else ()):
            table.add_column(column)
        for item in check.CHECKS:
            status = plain(found[item.name], "red" if found[item.name] else "green")
            row = [item.name, status, item.description]
            if repair:
                row.append(str(repaired.get(item.name, "-")))
            table.add_row(*row)
        console.print(table)
    if any(found.values()):
        raise typer.Exit(1)


@db_app.command("grant-reader")
def db_grant_reader(
    user: Annotated[str, typer.Argument(help="An existing login role to give read-only access.")],
) -> None:
    """Let a login role read every table and view (through newsflow_reader), and nothing else."""
    from pipeline.store.roles import READER_ROLE, grant_reader, role_exists

    engine = _engine()
    with engine.begin() as conn:
        if not role_exists(conn, READER_ROLE):
            console.print("[red]the role newsflow_reader does not exist:[/red] migrate as a user that may create roles")
            raise typer.Exit(2)
        if not role_exists(conn, user):
            console.print(markup("[red]no role named {}[/red]: CREATE ROLE {} LOGIN PASSWORD '…' first", repr(user), user))
            raise typer.Exit(2)
        grant_reader(conn, user)
    console.print(markup("{} can now read (and only read) the newsflow tables and views", user))


@feeds_app.callback(invoke_without_command=True)
def feeds_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the feeds as JSON.")] = False,
) -> None:
    """Without a subcommand: every stored feed with its health."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.query import feed_health

    with _engine().connect() as conn:
        rows = feed_health(conn)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print("no feeds stored yet: newsflow feeds add URL, or newsflow ingest --feeds FILE")
        return
    table = PlainTable(title=f"{len(rows)} feeds", title_justify="left")
    for column in ("feed", "status", "last success", "failures", "next fetch", "articles", "problem"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if row["disabled"]:
            status = plain("disabled", "red")
        elif row["consecutive_failures"]:
            status = markup("[yellow]failing ({})[/yellow]", row["last_error_kind"])
        elif row["last_status"] is None:
            status = "new"
        else:
            status = plain("ok", "green") + (" (304)" if row["last_status"] == 304 else "")
        problem = row["disabled_reason"] or row["last_error"] or row["last_warning"] or ""
        table.add_row(
            row["name"] or row["url"], status, _when(row["last_success_at"]),
            str(row["consecutive_failures"]), _when(row["next_fetch_at"]), str(row["articles"]), problem,
        )
    console.print(table)


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="The feed's URL (http or https).")],
    name: Annotated[str | None, typer.Option(help="A name to show instead of the feed's title.")] = None,
) -> None:
    """Store one feed; the next `newsflow ingest` fetches it."""
    from pipeline.feeds import FeedSource

    _store_sources([FeedSource(url=url.strip(), name=name)])


@feeds_app.command("import")
def feeds_import(
    path: Annotated[Path, typer.Argument(help="YAML (feeds: [{url, name}]) or OPML.")],
) -> None:
    """Store every feed of a feed list (feeds already stored keep their state)."""
    from pipeline.feeds import FeedListError, load_feed_list

    try:
        sources = load_feed_list(path)
    except FeedListError as exc:
        console.print(plain(exc, "red"))
        raise typer.Exit(2) from None
    _store_sources(sources)


def _store_sources(sources) -> None:
    from urllib.parse import urlsplit

    from pipeline.store import feeds as feed_store
    from pipeline.store.migrate import upgrade

    bad = [source.url for source in sources if urlsplit(source.url).scheme not in {"http", "https"}]
    if bad:
        console.print(markup("[red]not an http(s) URL:[/red] {}", ", ".join(bad)))
        raise typer.Exit(2)
    engine = _engine()
    upgrade(engine)
    with engine.begin() as conn:
        before = feed_store.count_feeds(conn)
        feed_store.upsert_feeds(conn, [(source.url, source.name) for source in sources])
        after = feed_store.count_feeds(conn)
    console.print(f"{after - before} new feed(s), {len(sources) - (after - before)} already stored")


@feeds_app.command("export")
def feeds_export(
    opml: Annotated[bool, typer.Option("--opml", help="OPML instead of YAML.")] = False,
) -> None:
    """Print the stored feeds as a feed list (YAML, or OPML for feed readers)."""
    from pipeline.feeds import FeedSource, export_opml, export_yaml
    from pipeline.query import feed_health

    with _engine().connect() as conn:
        sources = [FeedSource(url=row["url"], name=row["name"]) for row in feed_health(conn)]
    print(export_opml(sources) if opml else export_yaml(sources), end="")


@feeds_app.command("discover")
def feeds_discover(
    site: Annotated[str, typer.Argument(help="A site's address, e.g. https://example.com/")],
) -> None:
    """Find a site's feeds: those its page declares, then the usual paths."""
    from pipeline.feeds import FeedDiscoveryError, discover_feeds

    try:
        found = discover_feeds(site, get_settings())
    except FeedDiscoveryError as exc:
        console.print(plain(exc, "red"))
        raise typer.Exit(1) from None
    if not found:
        console.print(markup("no feeds found on {}", site))
        raise typer.Exit(1)
    table = PlainTable(title=f"feeds of {site}", title_justify="left")
    for column in ("url", "title", "entries"):
        table.add_column(column, overflow="fold")
    for feed in found:
        table.add_row(feed.url, feed.title or "", str(feed.entries))
    console.print(table)
    console.print("add one with: newsflow feeds add URL")


def _parse_age(value: str) -> datetime:
    """An option's age (30m, 24h, 7d, 2w) as the moment that long ago."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value.lower())
    if not match:
        raise typer.BadParameter("use a number and m, h, d or w: 30m, 24h, 7d, 2w")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    try:
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    except (OverflowError, ValueError):  # before the year 1, or a number of thousands of digits
        raise typer.BadParameter(f"{value.strip()} ago is before the calendar starts") from None


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _flow_start_up():
    """Start, side by side, what the ingest flow waits for otherwise one after
    the other: Prefect's temporary server (when no API is configured) and the
    worker processes (imports, NER models), after checking the database.
    Returns the TemporaryApi and the database engine."""
    from flows.serve import TemporaryApi
    from flows.workers import warm_up

    api = TemporaryApi()
    engine = _engine()  # fail early and clearly when there is no database (before the workers start)
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


@app.command()
def ingest(
    feeds: Annotated[Path | None, typer.Option(help="Feed list: YAML (feeds: [{url, name}]) or OPML. Without it, the stored feeds that are due.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Resolve root-relative URLs in the feed list against this.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many new articles this run.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Fetch the feeds even if they are not due.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the ingest flow once: fetch feeds and pages, clean, deduplicate, tag, store."""
    if feeds is not None:
        from pipeline.feeds import FeedListError, load_feed_list

        try:
            load_feed_list(feeds, base_url)
        except FeedListError as exc:
            console.print(markup("[red]{}[/red]", exc))
            raise typer.Exit(2) from None
    started = time.perf_counter()
    api, _ = _flow_start_up()
    from flows.ingest import ingest as ingest_flow

    from flows.serve import ServeError

    with _prefect_api(api):
        try:
            summary = ingest_flow(
                feeds_path=str(feeds) if feeds else None, base_url=base_url, limit=limit, force=force
            )
        except ServeError:
            raise
        except Exception as exc:  # recorded as a failed run by the flow, with its leases handed back
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            print(f"run failed: {printable(message)}; the next run repairs what this one missed", file=sys.stderr)
            raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print_summary(summary, time.perf_counter() - started)
    if summary["database_error"]:
        console.print(markup("[red]{}[/red]: the next run repairs what this one missed", summary["database_error"]))
        raise typer.Exit(1)


@app.command()
def demo(
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder with feeds.yaml (default: seeds/demo).")] = None,
) -> None:
    """Serve the offline demo corpus on 127.0.0.1, ingest it, and show what was stored."""
    from flows.demo import DEMO_CORPUS, DEMO_PORT, serve_directory

    root = corpus or DEMO_CORPUS
    feed_list = root / "feeds.yaml"
    if not feed_list.exists():
        console.print(markup("[red]no demo corpus at[/red] {}", root))
        raise typer.Exit(2)
    started = time.perf_counter()
    api, engine = _flow_start_up()
    console.print(markup("database: {}", describe(engine)))
    with serve_directory(root, DEMO_PORT) as base_url:
        # The demo may fetch from its own server and nothing else private.
        os.environ["NEWSFLOW_ALLOW_PRIVATE_HOSTS"] = base_url.removeprefix("http://")
        reset_settings_cache()
        console.print(markup("serving {} at {}", root, base_url))
        from flows.ingest import ingest as ingest_flow

        with _prefect_api(api):
            # Forced, so that a second demo shows conditional GET at work.
            summary = ingest_flow(feeds_path=str(feed_list), base_url=base_url, force=True)
    print_summary(summary, time.perf_counter() - started)
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
        _print_hits(example, search_articles(conn, example, limit=5))


def print_summary(summary: dict, seconds: float) -> None:
    table = PlainTable(title="ingest summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
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
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if summary["failures_by_kind"]:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(summary["failures_by_kind"].items()))
        console.print(plain(f"failures by kind: {kinds}"), soft_wrap=True)
    if summary["errors"]:
        console.print("[yellow]recorded errors (retried next run):[/yellow]")
        for url, message in summary["errors"]:
            console.print(markup("  {}: {}", url, message), soft_wrap=True)
        if summary["error_count"] > len(summary["errors"]):
            console.print(f"  … and {summary['error_count'] - len(summary['errors'])} more")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words to find; "quoted phrases", or, and -excluded words work.')],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 10,
    since: Annotated[datetime | None, typer.Option(parser=_parse_age, metavar="AGE", help="Only articles published this recently: 24h, 7d.")] = None,
    feed: Annotated[str | None, typer.Option(help="Only articles from this feed (its name or URL).")] = None,
    entity: Annotated[str | None, typer.Option(help="Only articles mentioning this entity (name or alias).")] = None,
    label: Annotated[str | None, typer.Option(help="Only articles with an entity of this label (with --entity: that entity as this label).")] = None,
    all_copies: Annotated[bool, typer.Option("--all-copies", help="Every copy, not one result per story.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Full-text search over titles and texts, best matches first, one per story."""
    from pipeline.query import search_articles

    with _engine().connect() as conn:
        hits = search_articles(
            conn, query, limit=limit, since=since, feed=feed, entity=entity,
            label=label, one_per_story=not all_copies,
        )
    _print_hits(query, hits, as_json=as_json)


def _print_hits(query: str, hits, *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps([{
            "title": hit.title, "url": hit.url, "story_id": hit.story_id, "story_size": hit.story_size,
            "published_at": hit.published_at, "score": round(hit.score, 4), "snippet": hit.snippet,
            "site_name": hit.site_name, "entities": hit.entities,
        } for hit in hits], indent=2, default=str))
        return
    if not hits:
        console.print(markup("no articles match {}", repr(query)))
        return
    table = PlainTable(title=f"{len(hits)} result(s) for {query!r}", title_justify="left", show_lines=True)
    table.add_column("published", no_wrap=True)
    table.add_column("title and snippet", ratio=4)
    table.add_column("site", ratio=1)
    table.add_column("story", justify="right", no_wrap=True)
    table.add_column("entities", ratio=2)
    for hit in hits:
        table.add_row(
            hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "",
            plain(hit.title or hit.url, "bold") + "\n" + highlighted(hit.snippet),
            hit.site_name or "",
            f"#{hit.story_id} ({hit.story_size})",
            ", ".join(hit.entities),
        )
    console.print(table)


@app.command()
def extract(
    paths: Annotated[list[Path], typer.Argument(help="Pages (any name) or folders (walked for .html, .htm, .html.gz).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write one JSON object per page (JSON Lines).")],
    base_url: Annotated[str | None, typer.Option(help="URL the folder stands for; a page's URL is this plus its path.")] = None,
) -> None:
    """Extract and clean local pages without fetching or storing anything."""
    import gzip

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


@app.command("site-rules")
def site_rules(
    host: Annotated[str, typer.Argument(help="The site, e.g. example.com (www. is ignored).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rules as JSON.")] = False,
) -> None:
    """Lines learned as one site's boilerplate, with their support."""
    from pipeline.dedup import site_of
    from pipeline.query import site_rules as load_rules

    settings = get_settings()
    site = site_of(f"http://{host}/") or host
    with _engine().connect() as conn:
        rules = load_rules(conn, site)
    threshold = settings.site_rule_min_pages
    if as_json:
        print(json.dumps([{**rule, "active": rule["support"] >= threshold} for rule in rules], default=str, indent=2))
        return
    if not rules:
        console.print(markup("no lines learned for {} yet", site))
        return
    table = PlainTable(title=f"{site}: lines removed once seen on {threshold}+ pages", title_justify="left")
    for column in ("support", "active", "line", "first seen", "last seen"):
        table.add_column(column)
    for rule in rules:
        table.add_row(
            str(rule["support"]), "yes" if rule["support"] >= threshold else "no", rule["text"],
            f"{rule['first_seen_at']:%Y-%m-%d}", f"{rule['last_seen_at']:%Y-%m-%d}",
        )
    console.print(table)


@app.command()
def stories(
    since: Annotated[datetime | None, typer.Option(parser=_parse_age, metavar="AGE", help="Only stories first seen this recently: 24h, 7d, 2w.")] = None,
    min_outlets: Annotated[int, typer.Option(help="Only stories carried by at least this many outlets.")] = 1,
    limit: Annotated[int, typer.Option(help="At most this many stories.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stories as JSON.")] = False,
) -> None:
    """The largest stories: the same text on several outlets, grouped."""
    from pipeline.query import list_stories

    with _engine().connect() as conn:
        rows = list_stories(conn, since=since, min_outlets=min_outlets, limit=limit)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print("no stories match")
        return
    table = PlainTable(title=f"{len(rows)} stories", title_justify="left")
    for column in ("story", "title", "articles", "outlets", "agencies", "first seen"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            f"#{row['id']}", row["title"] or row["url"], str(row["article_count"]),
            ", ".join(row["outlets"]), ", ".join(row["agencies"]), _when(row["first_seen_at"]),
        )
    console.print(table)
    console.print("members and how each matched: newsflow story ID")


@app.command()
def story(
    story_id: Annotated[int, typer.Argument(help="The story's id (see newsflow stories).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the members as JSON.")] = False,
) -> None:
    """One story's articles and how each joined it (exact text, or near with its score)."""
    from pipeline.query import story_members

    with _engine().connect() as conn:
        members = story_members(conn, story_id)
    if as_json:
        print(json.dumps(members, default=str, indent=2))
        return
    if not members:
        console.print(f"no story #{story_id}")
        raise typer.Exit(1)
    table = PlainTable(title=f"story #{story_id}: {len(members)} articles", title_justify="left")
    for column in ("article", "outlet", "title", "published", "dateline", "joined"):
        table.add_column(column, overflow="fold")
    for member in members:
        kind = member["match_kind"] or "new"
        if member["is_canonical"]:
            joined = "canonical" + ("" if kind == "new" else f" ({kind})")
        elif kind == "near":
            joined = f"near copy of #{member['matched_article_id']} (score {member['match_score']:.2f})"
        elif kind == "exact":
            joined = f"same text as #{member['matched_article_id']}"
        else:
            joined = kind
        dateline = " ".join(part for part in (member["dateline"], f"({member['agency']})" if member["agency"] else None) if part)
        table.add_row(
            f"#{member['id']}", member["site_name"] or "", member["title"] or member["url"],
            _when(member["published_at"]), dateline, joined,
        )
    console.print(table)


@app.command()
def reenrich(
    since: Annotated[datetime | None, typer.Option(parser=_parse_age, metavar="AGE", help="Also recompute articles fetched this recently: 24h, 7d.")] = None,
    model: Annotated[list[str] | None, typer.Option(help="LANG=MODEL: read LANG with this installed spaCy pipeline this run (repeatable); a bare MODEL is for English.")] = None,
) -> None:
    """Recompute entities of stored articles (another model, or --since), without re-fetching."""
    from flows.maintenance import reenrich as reenrich_flow

    models = dict(item.split("=", 1) if "=" in item else ("en", item) for item in model or [])
    _engine()
    summary = reenrich_flow(since=since, models=models or None)
    console.print(markup(
        "{} articles marked, {} enriched ({} entity links) with {} in {:.1f} s", summary["articles_marked"],
        summary["articles_enriched"], summary["entity_links"], summary["model"], summary["seconds"],
    ))


@app.command()
def runs(
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Recent ingest runs (scheduled, triggered by hand or from this CLI) with their counts."""
    from pipeline.query import recent_runs

    with _engine().connect() as conn:
        rows = recent_runs(conn, limit)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = PlainTable(title=f"last {len(rows)} ingest runs", title_justify="left")
    for column in ("run", "started", "took", "status", "feeds", "new entries", "pages", "articles",
                   "stories", "copies", "tagged", "errors"):
        table.add_column(column, justify="right" if column not in ("started", "status") else "left")
    colours = {"completed": "green", "running": "cyan", "failed": "red", "abandoned": "yellow"}
    for row in rows:
        took = f"{row['seconds']:.0f} s" if row["seconds"] is not None else "-"
        status = plain(row["status"], colours.get(row["status"], "white"))
        table.add_row(
            str(row["id"]), _when(row["started_at"]), took, status,
            f"{row['feeds']}" + (f" ({row['feeds_failed']} failed)" if row["feeds_failed"] else ""),
            str(row["entries_new"]),
            f"{row['pages_fetched']}" + (f" ({row['pages_failed']} failed)" if row["pages_failed"] else ""),
            str(row["articles_new"]), str(row["stories_new"]), str(row["copies"]),
            str(row["articles_enriched"]), str(row["errors"]),
        )
    console.print(table)
    for row in rows:
        if row["database_error"]:
            console.print(markup("[red]run {}:[/red] {}", row["id"], row["database_error"]), soft_wrap=True)
        if row["failures_by_kind"]:
            kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(row["failures_by_kind"].items()))
            console.print(plain(f"run {row['id']} failures by kind: {kinds}"), soft_wrap=True)


@app.command()
def entities(
    top: Annotated[int, typer.Option(help="How many entities.")] = 20,
    label: Annotated[str | None, typer.Option(help="Only this label: PERSON, ORG, GPE, …")] = None,
    since: Annotated[datetime | None, typer.Option(parser=_parse_age, metavar="AGE", help="Only articles published this recently: 24h, 7d.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entities as JSON.")] = False,
) -> None:
    """The entities mentioned in the most stories."""
    from pipeline.query import top_entities_by_story

    with _engine().connect() as conn:
        rows = top_entities_by_story(conn, limit=top, label=label, since=since)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = PlainTable(title=f"top {len(rows)} entities", title_justify="left")
    for column in ("entity", "label", "stories", "articles", "mentions"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["label"], str(row["stories"]), str(row["articles"]), str(row["mentions"]))
    console.print(table)


@app.command()
def entity(
    name: Annotated[str, typer.Argument(help="The entity's name or one of its aliases.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """One entity: its aliases, the stories mentioning it, what it co-occurs with."""
    from pipeline.query import entity_report

    with _engine().connect() as conn:
        report = entity_report(conn, name)
    if as_json:
        print(json.dumps(report, default=str, indent=2))
        return
    if not report:
        console.print(markup("no entity named {}", repr(name)))
        raise typer.Exit(1)
    for item in report:
        console.print(markup("[bold]{}[/bold] ({}), also written: {}", item["name"], item["label"],
                             ", ".join(item["aliases"]) or "-"))
        stories_table = PlainTable(title="stories", title_justify="left")
        for column in ("story", "title", "published", "mentions"):
            stories_table.add_column(column, overflow="fold")
        for story_row in item["stories"]:
            stories_table.add_row(f"#{story_row['story_id']}", story_row["title"] or "",
                                  _when(story_row["published_at"]), str(story_row["mentions"]))
        console.print(stories_table)
        console.print(plain("appears with: " + ", ".join(
            f"{other['name']} ({other['label']}, {other['stories']})" for other in item["cooccurring"])))


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object.")] = False,
) -> None:
    """Row counts, articles per day, language and feed, and the busiest stories
    and entities of the last 24 h (of the newest 24 h of data when nothing is that recent)."""
    from pipeline import query

    with _engine().connect() as conn:
        counts = query.table_counts(conn)
        per_day = query.articles_per_day(conn)
        per_language = query.articles_per_language(conn)
        per_feed = query.articles_per_feed(conn)
        window = query.busiest_window(conn, hours=24)
        stories = query.busiest_stories(conn, window, limit=5) if window else []
        entities = (query.top_entities_by_story(conn, limit=10, since=window.start, until=window.end)
                    if window else [])
        failures = query.recent_failures(conn)
    if as_json:
        print(json.dumps({
            "rows": counts,
            "per_day": [{"day": day, "articles": n, "stories": m} for day, n, m in per_day],
            "per_language": [{"language": lang, "articles": n, "with_entities": share}
                             for lang, n, share in per_language],
            "per_feed": [{"feed": name, "articles": n, "failures": f, "last_error": error}
                         for name, n, f, error in per_feed],
            "window": {"start": window.start, "end": window.end, "current": window.current} if window else None,
            "busiest_stories": stories, "busiest_entities": entities,
            "failures": [{"url": url, "stage": stage, "error": error, "attempts": attempts}
                         for url, stage, error, attempts in failures],
        }, default=str, indent=2))
        return
    table = PlainTable(title="rows", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, value in counts.items():
        table.add_row(name, str(value))
    console.print(table)
    days_table = PlainTable(title="per day (published)", title_justify="left")
    for column in ("day", "articles", "stories"):
        days_table.add_column(column, justify="right")
    for day, articles_count, stories_count in per_day:
        days_table.add_row(str(day), str(articles_count), str(stories_count))
    languages_table = PlainTable(title="per language", title_justify="left")
    for column in ("language", "articles", "with entities"):
        languages_table.add_column(column, justify="right")
    for language, articles_count, share in per_language:
        languages_table.add_row(language, str(articles_count), f"{share:.0%}")
    console.print(days_table)
    console.print(languages_table)
    feeds_table = PlainTable(title="feeds", title_justify="left")
    for column in ("feed", "articles", "failures", "last error"):
        feeds_table.add_column(column)
    for name, articles, failures_count, error in per_feed:
        feeds_table.add_row(name, str(articles), str(failures_count), error or "")
    console.print(feeds_table)
    if window is None:
        console.print("busiest stories and entities: no articles yet")
    else:
        span = f"{window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M} UTC"
        if window.current:
            console.print(f"[bold]the last 24 h[/bold] ({span}):")
        else:
            console.print(f"[yellow]nothing published in the last 24 h[/yellow]; the newest 24 h of data"
                          f" ({span}), up to the newest article:")
    stories_table = PlainTable(title="busiest stories (articles in the 24 h)", title_justify="left")
    for column in ("story", "title", "in 24 h", "all", "outlets"):
        stories_table.add_column(column)
    for story_row in stories:
        stories_table.add_row(f"#{story_row['id']}", story_row["title"] or "", str(story_row["window_articles"]),
                              str(story_row["article_count"]), ", ".join(story_row["outlets"]))
    console.print(stories_table)
    entities_table = PlainTable(title="busiest entities (stories in the 24 h)", title_justify="left")
    for column in ("entity", "label", "stories", "articles", "mentions"):
        entities_table.add_column(column)
    for row in entities:
        entities_table.add_row(row["name"], row["label"], str(row["stories"]), str(row["articles"]),
                               str(row["mentions"]))
    console.print(entities_table)
    if failures:
        failures_table = PlainTable(title="entries that failed (retried next run)", title_justify="left")
        for column in ("url", "stage", "error", "attempts"):
            failures_table.add_column(column)
        for url, stage, error, attempts in failures:
            failures_table.add_row(url, stage, error, str(attempts))
        console.print(failures_table)


from flows.serve import serve as serve_command  # noqa: E402

app.command("serve")(serve_command)


def main() -> None:
    """The `newsflow` command.  It ends without the interpreter's teardown:
    after a run, freeing every object one by one (Prefect's, SQLAlchemy's,
    the pages') took 1.5 s for nothing, the operating system frees the
    memory at once.  What a normal exit does first still happens, in its
    order: non-daemon threads are joined (Prefect's log and event workers
    send what they hold), then the atexit handlers run (workers, Prefect's
    temporary server, the embedded PostgreSQL stop), then the streams are
    flushed."""
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    from flows.workers import exit_now  # before the exit steps: no import after them

    threading._shutdown()  # noqa: SLF001 (what the interpreter calls first at exit)
    atexit._run_exitfuncs()  # noqa: SLF001
    exit_now(code or 0)


if __name__ == "__main__":
    main()
