"""`newsflow db ...`: the database itself (schema, psql, consistency, read access),
and the database every command opens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from flows.cli.output import Column, console, print_json, print_rows
from flows.terminal import markup, plain
from pipeline.config import get_settings
from pipeline.store.engine import DatabaseUnavailable, describe, get_engine


@contextmanager
def exit_on_database_error(hint: str | None = None) -> Iterator[None]:
    """A database that cannot be reached or refuses the command ends it with
    one line and exit status 2 (and ``hint``, if given, on a refusal)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except DatabaseUnavailable as exc:
        console.print(markup("[red]database unavailable:[/red] {}", exc))
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        console.print(markup("[red]database error:[/red] {}", str(exc.orig or exc).splitlines()[0]))
        if hint:
            console.print(hint)
        raise typer.Exit(2) from None


def open_database():
    """The database, its schema brought up to date (every command reads the
    newest tables; the migrations are idempotent and take milliseconds when
    there is nothing to do); exit 2 when it cannot be reached."""
    from pipeline.store.migrate import current_revision, head_revision, upgrade

    with exit_on_database_error():
        engine = get_engine(get_settings())
        if current_revision(engine) != head_revision():
            upgrade(engine)
        return engine


def answer(question, *args, **options):
    """One of pipeline/query.py's questions, asked of the command's database."""
    with open_database().connect() as conn:
        return question(conn, *args, **options)


def db_upgrade() -> None:
    """Apply the schema migrations (every flow also does this at start)."""
    from pipeline.store.migrate import upgrade

    engine = open_database()
    revision = upgrade(engine)
    console.print(markup("schema of {} is at revision [bold]{}[/bold]", describe(engine), revision))


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
    with exit_on_database_error():
        connection, environment = psql_connection(database_url(get_settings()))
    arguments = [psql, connection] + (["-c", command] if command else [])
    raise typer.Exit(subprocess.call(arguments, env={**os.environ, **environment}))


def db_check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be recomputed from the stored rows.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Verify the stored data's invariants (stories, counts, fingerprints, orphans); exit 1 if any is broken."""
    from pipeline.store import check

    engine = open_database()
    repaired: dict[str, int] = {}
    if repair:
        with engine.begin() as conn:
            repaired = check.repair(conn)
    with engine.connect() as conn:
        found = check.run_checks(conn)
    if as_json:
        print_json({"found": found, "repaired": repaired})
    else:
        columns = [
            Column("check", "name"),
            Column("rows", lambda item: plain(found[item.name], "red" if found[item.name] else "green")),
            Column("what it means", "description"),
        ]
        if repair:
            columns.append(Column("repaired", lambda item: repaired.get(item.name, "-")))
        print_rows(check.CHECKS, columns, title="consistency")
    if any(found.values()):
        raise typer.Exit(1)


def db_grant_reader(
    user: Annotated[str, typer.Argument(help="An existing login role to give read-only access.")],
) -> None:
    """Let a login role read every table and view (through newsflow_reader), and nothing else."""
    from pipeline.store.roles import READER_ROLE, grant_reader, role_exists

    with open_database().begin() as conn:
        if not role_exists(conn, READER_ROLE):
            console.print("[red]the role newsflow_reader does not exist:[/red] migrate as a user that may create roles")
            raise typer.Exit(2)
        if not role_exists(conn, user):
            console.print(markup(
                "[red]no role named {}[/red]: CREATE ROLE {} LOGIN PASSWORD '…' first", repr(user), user
            ))
            raise typer.Exit(2)
        grant_reader(conn, user)
    console.print(markup("{} can now read (and only read) the newsflow tables and views", user))
