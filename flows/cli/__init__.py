"""`newsflow ...`: the command line, built here from its command groups
(automations, db, feeds, read, run, web: one module each) and run by ``main``."""

from __future__ import annotations

import os

# First: the handler that ends a command without the interpreter's teardown
# must be registered before any library's atexit handler (they run newest first).
from flows.cli.fast_exit import exit_without_teardown

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

import sys  # noqa: E402

import typer  # noqa: E402

from flows.cli import automations, db, feeds, read, run, web  # noqa: E402
from flows.serve import serve  # noqa: E402

app = typer.Typer(
    help="newsflow: RSS/Atom feeds to clean, deduplicated, entity-tagged articles in PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
for name, command in {"upgrade": db.db_upgrade, "shell": db.db_shell, "check": db.db_check,
                      "grant-reader": db.db_grant_reader}.items():
    db_app.command(name)(command)
app.add_typer(db_app, name="db")

feeds_app = typer.Typer(help="The stored feeds: their health, and managing the list.")
feeds_app.callback(invoke_without_command=True)(feeds.feeds_list)
for name, command in {"add": feeds.feeds_add, "import": feeds.feeds_import, "export": feeds.feeds_export,
                      "discover": feeds.feeds_discover}.items():
    feeds_app.command(name)(command)
app.add_typer(feeds_app, name="feeds")

automations_app = typer.Typer(help="The Prefect automations newsflow needs on a self-hosted server.",
                              no_args_is_help=True)
automations_app.command("install")(automations.automations_install)
app.add_typer(automations_app, name="automations")

# In this order in `newsflow --help`, each named after its function (site_rules: site-rules).
for command in (run.ingest, run.demo, read.search, run.extract, read.site_rules, read.stories, read.story,
                run.reenrich, read.runs, read.entities, read.entity, read.stats, serve, web.web):
    app.command()(command)


def main() -> None:
    """The `newsflow` command.  It ends without the interpreter's teardown
    (see flows/cli/fast_exit.py), with the command's exit code."""
    from pipeline.config import SecretUnavailable

    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except SecretUnavailable as exc:  # any command's first get_settings(), said in one line
        print(f"newsflow: {exc}", file=sys.stderr)
        code = 2
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    exit_without_teardown(code or 0)
