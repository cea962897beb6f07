"""`newsflow automations ...`: the Prefect automations newsflow needs on a
self-hosted Prefect server (flows/automations.py says which and why)."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.output import Column, console, print_rows
from flows.terminal import markup
from pipeline.config import get_settings


def automations_install(
    notification_block: Annotated[str | None, typer.Option(help="Notification block for the alerts, <block type slug>/<block name> (default: NEWSFLOW_NOTIFICATION_BLOCK).")] = None,
    feed_alert_failures: Annotated[int | None, typer.Option(min=1, help="Alert when a feed has failed this many runs in a row (default: NEWSFLOW_FEED_ALERT_FAILURES).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Create or update newsflow's automations on the Prefect server at
    PREFECT_API_URL: crash zombie runs, notify on failed ingest runs and on
    feeds failing runs in a row.  Running it again changes nothing."""
    from prefect.settings import get_current_settings

    from flows.automations import AutomationsError, describe, install_automations

    if not get_current_settings().api.url:
        # Prefect would otherwise start a temporary server of its own, and the
        # automations would go with it.
        console.print(markup(
            "[red]no Prefect server configured:[/red] set PREFECT_API_URL "
            "(`newsflow serve` installs them on the server it starts)"
        ))
        raise typer.Exit(2)
    settings = get_settings()
    try:
        changes = install_automations(
            notification_block=notification_block or settings.notification_block,
            feed_alert_failures=feed_alert_failures or settings.feed_alert_failures,
        )
    except AutomationsError as exc:
        console.print(markup("[red]automations not installed:[/red] {}", exc))
        raise typer.Exit(2) from None
    print_rows(
        changes,
        [Column("automation", "name"), Column("done", lambda change: describe(change).split()[0]),
         Column("why", "reason")],
        title="Prefect automations", as_json=as_json,
        record=lambda change: {"name": change.name, "done": describe(change).split()[0],
                               "id": str(change.existing_id) if change.existing_id else None,
                               "reason": change.reason or None},
    )
