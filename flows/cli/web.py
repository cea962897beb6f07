"""`newsflow web`: serve the stored news as web pages and a JSON API (flows/web)."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.db import exit_on_database_error, open_database
from flows.cli.output import console
from flows.terminal import markup
from pipeline.config import get_settings


def open_read_database():
    """The engine the web app reads through (pipeline.store.engine.get_read_engine),
    checked: the schema current and the read-only role usable; exit 2 otherwise.
    Without NEWSFLOW_READ_DATABASE_URL the schema is first brought up to date
    as every command does (with DATABASE_URL's role, before serving); a role
    that may only read cannot migrate, so with it an old schema is an error."""
    from pipeline.store.engine import get_read_engine
    from pipeline.store.migrate import current_revision, head_revision

    settings = get_settings()
    if not settings.read_database_url:
        open_database()
    # A role that may only read, missing or not usable, is the likely refusal.
    hint = None if settings.read_database_url else (
        "the web app reads as the role newsflow_reader, which the migrations create where the "
        "migrating role may create roles; otherwise set NEWSFLOW_READ_DATABASE_URL to a "
        "read-only login (newsflow db grant-reader)")
    with exit_on_database_error(hint):
        engine = get_read_engine(settings)
        current = current_revision(engine)
    if current != head_revision():
        console.print("[red]the database schema is not current:[/red] run `newsflow db upgrade` "
                      "with DATABASE_URL first")
        raise typer.Exit(2)
    return engine


def web(
    host: Annotated[str, typer.Option(help="The address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8080,
) -> None:
    """Serve the stored news read-only: pages at /, a JSON API at /api/ (docs at /api/docs)."""
    import uvicorn

    from flows.web.app import create_app

    app = create_app(open_read_database())
    console.print(markup("newsflow web on http://{}:{}/ (API docs: /api/docs); Ctrl-C stops it", host, port))
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
