"""The Prefect automations newsflow needs on a self-hosted server, and their
idempotent installation (`newsflow automations install`, `newsflow serve`).

Three automations, found again by their names:

* **crash zombie runs**: a flow run whose heartbeats stop without a final
  state is marked Crashed (Prefect's recipe from "Detect zombie flows"; Prefect
  Cloud has it built in, a self-hosted server needs it created).  Flow runs
  send heartbeats only with ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` set:
  `newsflow serve` sets it for its runs, prefect.yaml for the work pool's.
* **ingest run failed**: a notification when an ingest run ends Failed or
  Crashed.
* **feed failing**: a notification when a feed has failed N runs in a row
  (``NEWSFLOW_FEED_ALERT_FAILURES``).  Prefect's triggers match an event's
  resource labels, never its payload, so the count is read from the label
  ``newsflow.feed.consecutive-failures`` on the feed resource of
  ``newsflow.feed.failed``; the trigger matches the value N exactly, so a
  streak alerts once, when it reaches N, not again on every later failure.
  A threshold of N events within a time window would count failures with
  recoveries between them as well, and a backing-off feed's N failures may
  take longer than any fixed window.

Both notifications go to the notification block named by
``NEWSFLOW_NOTIFICATION_BLOCK`` (``<block type slug>/<block name>``, e.g.
``custom-webhook/newsflow-alerts``).  Without it they are skipped, and the
installer says so: a ``SendNotification`` action needs a block to send to.

What to install is ``wanted_automations`` (pure), what to change is
``plan_changes`` (pure); ``install_automations`` reads the server and applies
the plan through Prefect's public client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

#: Every newsflow automation's name starts with this; the installer touches no other.
PREFIX = "newsflow: "
ZOMBIE_RUNS = PREFIX + "crash zombie flow runs"
INGEST_FAILED = PREFIX + "ingest run failed or crashed"
FEED_FAILING = PREFIX + "feed failing"

#: Seconds between a flow run's heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY
#: for the runs of `newsflow serve` and of the work pool; Prefect's minimum).
HEARTBEAT_SECONDS = 30
#: Heartbeats a run may miss before it counts as a zombie.
MISSED_HEARTBEATS = 3

#: The resource label of a ``newsflow.feed.failed`` event that carries the
#: feed's failures in a row (a string, as every label is).
CONSECUTIVE_FAILURES_LABEL = "newsflow.feed.consecutive-failures"
INGEST_FLOW = "ingest"


@dataclass(frozen=True)
class Change:
    """What the installer does with one automation."""

    name: str
    action: Literal["create", "update", "unchanged", "skip"]
    automation: AutomationCore | None = None
    existing_id: UUID | None = None  # its id on the server (once created)
    reason: str = ""


def zombie_runs(heartbeat_seconds: int = HEARTBEAT_SECONDS) -> AutomationCore:
    """A running flow run that has sent no heartbeat and no final state for
    ``MISSED_HEARTBEATS`` heartbeats becomes Crashed."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    final = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}
    return AutomationCore(
        name=ZOMBIE_RUNS,
        description=(
            f"A flow run that sent no heartbeat for {heartbeat_seconds * MISSED_HEARTBEATS} s "
            "(its process or machine died) is marked Crashed. Installed by newsflow."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *final},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=heartbeat_seconds * MISSED_HEARTBEATS),
        ),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED,
            message=f"No heartbeat for {heartbeat_seconds * MISSED_HEARTBEATS} s: the run's process is gone.",
        )],
    )


def ingest_failed(block_id: UUID) -> AutomationCore:
    """A notification through block ``block_id`` when an ingest run ends Failed or Crashed."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=INGEST_FAILED,
        description="Notifies when a run of the ingest flow ends Failed or Crashed. Installed by newsflow.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": INGEST_FLOW},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[SendNotification(
            block_document_id=block_id,
            subject="newsflow: ingest run {{ flow_run.name }} is {{ flow_run.state.name }}",
            body=(
                "Flow run {{ flow_run.name }} of {{ flow.name }} ended {{ flow_run.state.name }}: "
                "{{ flow_run.state.message }}\n{{ flow_run|ui_url }}"
            ),
        )],
    )


def feed_failing(block_id: UUID, failures: int) -> AutomationCore:
    """A notification through block ``block_id`` when a feed's ``failures``-th failure in a row is reported."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=FEED_FAILING,
        description=f"Notifies when a feed has failed {failures} runs in a row. Installed by newsflow.",
        trigger=EventTrigger(
            expect={"newsflow.feed.failed"},
            match={"prefect.resource.id": "newsflow.feed.*", CONSECUTIVE_FAILURES_LABEL: str(failures)},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[SendNotification(
            block_document_id=block_id,
            subject=f"newsflow: a feed failed {failures} runs in a row",
            body=(
                "{{ event.resource.name }} failed " + str(failures) + " runs in a row; the last error: "
                "{{ event.payload.error }}. See `newsflow feeds`."
            ),
        )],
    )


def wanted_automations(
    *, notification_block: str | None, block_id: UUID | None, feed_alert_failures: int,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
) -> list[Change]:
    """The automations to have on the server, as ``create`` changes, and a
    ``skip`` for each that cannot be made (no notification block configured)."""
    wanted = [Change(ZOMBIE_RUNS, "create", zombie_runs(heartbeat_seconds))]
    notifications = (INGEST_FAILED, FEED_FAILING)
    if block_id is None:
        reason = ("no notification block configured (NEWSFLOW_NOTIFICATION_BLOCK)" if not notification_block
                  else f"no notification block {notification_block!r} on the server")
        return wanted + [Change(name, "skip", reason=reason) for name in notifications]
    return wanted + [
        Change(INGEST_FAILED, "create", ingest_failed(block_id)),
        Change(FEED_FAILING, "create", feed_failing(block_id, feed_alert_failures)),
    ]


def definition(automation: AutomationCore) -> dict[str, Any]:
    """What an automation does, comparable between one built here and one
    read back: JSON-like, without the ids the server gives its parts, sets
    (events, labels) as sorted lists."""

    def normal(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: normal(item) for key, item in value.items() if key not in ("id", "owner_resource")}
        if isinstance(value, list | tuple):
            items = [normal(item) for item in value]
            return sorted(items) if all(isinstance(item, str) for item in items) else items
        return value

    return normal(automation.model_dump(mode="json"))


def plan_changes(wanted: Sequence[Change], existing: Sequence[AutomationCore]) -> list[Change]:
    """For each wanted automation: create it when no automation of its name
    exists, update the first of that name when its definition differs,
    leave it otherwise.  Skips stay skips (an existing automation of a
    skipped name is left as it is)."""
    by_name: dict[str, AutomationCore] = {}
    for automation in existing:
        by_name.setdefault(automation.name, automation)
    planned = []
    for change in wanted:
        found = by_name.get(change.name)
        if change.action == "skip" or found is None:
            planned.append(change)
        elif definition(found) == definition(change.automation):
            planned.append(Change(change.name, "unchanged", change.automation, found.id))
        else:
            planned.append(Change(change.name, "update", change.automation, found.id))
    return planned


class AutomationsError(RuntimeError):
    """The automations could not be installed (server unreachable, bad setting)."""


def _block_id(client, notification_block: str | None) -> UUID | None:
    """The id of the block ``<type slug>/<name>``, None when unset or absent."""
    from prefect.exceptions import ObjectNotFound

    if not notification_block:
        return None
    slug, separator, name = notification_block.partition("/")
    if not separator or not slug or not name:
        raise AutomationsError(
            f"NEWSFLOW_NOTIFICATION_BLOCK={notification_block!r}: expected <block type slug>/<block name>, "
            "e.g. custom-webhook/newsflow-alerts"
        )
    try:
        return client.read_block_document_by_name(name=name, block_type_slug=slug).id
    except ObjectNotFound:
        return None


def install_automations(
    *, notification_block: str | None, feed_alert_failures: int, heartbeat_seconds: int = HEARTBEAT_SECONDS,
) -> list[Change]:
    """Create or update newsflow's automations on the Prefect server of the
    current settings (PREFECT_API_URL); returns what was done to each."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            wanted = wanted_automations(
                notification_block=notification_block, block_id=_block_id(client, notification_block),
                feed_alert_failures=feed_alert_failures, heartbeat_seconds=heartbeat_seconds,
            )
            changes = plan_changes(wanted, client.read_automations())
            for number, change in enumerate(changes):
                if change.action == "create":
                    changes[number] = replace(change, existing_id=client.create_automation(change.automation))
                elif change.action == "update":
                    client.update_automation(change.existing_id, change.automation)
    except AutomationsError:
        raise
    except Exception as exc:  # the server's refusal or absence, said in one line
        raise AutomationsError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    return changes


def describe(change: Change) -> str:
    """One line for the user about one automation."""
    if change.action == "skip":
        return f"skipped   {change.name}: {change.reason}"
    done = {"create": "created", "update": "updated", "unchanged": "unchanged"}[change.action]
    return f"{done:<9} {change.name}"
