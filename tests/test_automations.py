"""newsflow's Prefect automations (flows/automations.py): which ones and
their triggers (offline), and `newsflow automations install` against a real
Prefect server, twice."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from flows.automations import (
    CONSECUTIVE_FAILURES_LABEL,
    FEED_FAILING,
    INGEST_FAILED,
    PREFIX,
    ZOMBIE_RUNS,
    Change,
    definition,
    plan_changes,
    wanted_automations,
)

ROOT = Path(__file__).resolve().parents[1]


def _wanted(block_id=None, failures=3, block="custom-webhook/alerts"):
    return wanted_automations(notification_block=block if block_id else None, block_id=block_id,
                              feed_alert_failures=failures)


def _by_name(changes):
    return {change.name: change for change in changes}


# --- which automations, offline -----------------------------------------------


def test_without_a_notification_block_only_the_zombie_automation_is_wanted_and_the_rest_say_why():
    changes = _by_name(_wanted())
    assert changes[ZOMBIE_RUNS].action == "create"
    for name in (INGEST_FAILED, FEED_FAILING):
        assert changes[name].action == "skip" and changes[name].automation is None
        assert "NEWSFLOW_NOTIFICATION_BLOCK" in changes[name].reason
    missing = wanted_automations(notification_block="custom-webhook/gone", block_id=None, feed_alert_failures=3)
    assert "'custom-webhook/gone'" in _by_name(missing)[INGEST_FAILED].reason


def test_every_automation_is_named_with_the_newsflow_prefix():
    assert all(change.name.startswith(PREFIX) for change in _wanted(uuid4()))


def test_zombie_runs_are_crashed_after_three_missed_heartbeats():
    from prefect.client.schemas.objects import StateType

    zombie = _by_name(_wanted())[ZOMBIE_RUNS].automation
    trigger = zombie.trigger
    assert trigger.posture == "Proactive"
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    assert {"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
            "prefect.flow-run.Crashed", "prefect.flow-run.Cancelled"} == trigger.expect
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.within == timedelta(seconds=90)
    [action] = zombie.actions
    assert action.type == "change-flow-run-state" and action.state == StateType.CRASHED


def test_failed_or_crashed_ingest_runs_notify_the_configured_block():
    block_id = uuid4()
    automation = _by_name(_wanted(block_id))[INGEST_FAILED].automation
    assert automation.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert automation.trigger.match_related.root == {"prefect.resource.role": "flow",
                                                     "prefect.resource.name": "ingest"}
    [action] = automation.actions
    assert action.type == "send-notification" and action.block_document_id == block_id


@pytest.mark.parametrize("failures", [1, 3, 7])
def test_a_feed_alerts_once_when_its_failures_in_a_row_reach_n(failures):
    automation = _by_name(_wanted(uuid4(), failures=failures))[FEED_FAILING].automation
    trigger = automation.trigger
    assert trigger.expect == {"newsflow.feed.failed"}
    assert trigger.match.root == {"prefect.resource.id": "newsflow.feed.*", CONSECUTIVE_FAILURES_LABEL: str(failures)}
    assert trigger.for_each == {"prefect.resource.id"}
    assert (trigger.posture, trigger.threshold) == ("Reactive", 1)
    assert str(failures) in automation.description


# --- what to change, offline ----------------------------------------------------


def _stored(change: Change, **overrides):
    """``change``'s automation as the server returns it: an id, ids on its parts."""
    from prefect.events.schemas.automations import Automation

    data = change.automation.model_dump(mode="json")
    data["id"] = str(uuid4())
    data["trigger"]["id"] = str(uuid4())
    data.update(overrides)
    return Automation.model_validate(data)


def test_nothing_on_the_server_means_every_wanted_automation_is_created():
    plan = plan_changes(_wanted(uuid4()), [])
    assert [change.action for change in plan] == ["create", "create", "create"]


def test_the_same_definitions_on_the_server_are_left_alone():
    wanted = _wanted(uuid4())
    stored = [_stored(change) for change in wanted]
    plan = plan_changes(wanted, stored)
    assert [change.action for change in plan] == ["unchanged"] * 3
    assert [change.existing_id for change in plan] == [automation.id for automation in stored]


def test_a_changed_definition_is_updated_in_place():
    block_id = uuid4()
    stored = [_stored(change) for change in _wanted(block_id, failures=3)]
    plan = _by_name(plan_changes(_wanted(block_id, failures=5), stored))
    assert plan[FEED_FAILING].action == "update"
    assert plan[FEED_FAILING].existing_id == stored[2].id
    assert plan[ZOMBIE_RUNS].action == plan[INGEST_FAILED].action == "unchanged"
    # A disabled automation is enabled again: "enabled" is part of the definition.
    disabled = [_stored(change, enabled=False) if change.name == ZOMBIE_RUNS else _stored(change)
                for change in _wanted(block_id)]
    assert _by_name(plan_changes(_wanted(block_id), disabled))[ZOMBIE_RUNS].action == "update"


def test_skipped_automations_leave_what_the_server_has_and_others_are_ignored():
    block_id = uuid4()
    stored = [_stored(change) for change in _wanted(block_id)]
    from prefect.events.schemas.automations import Automation

    someone_elses = Automation.model_validate({**stored[0].model_dump(mode="json"), "name": "mine", "id": str(uuid4())})
    plan = plan_changes(_wanted(None), [*stored, someone_elses])
    assert [change.action for change in plan] == ["unchanged", "skip", "skip"]
    assert "mine" not in {change.name for change in plan}


def test_definitions_compare_sets_in_any_order():
    [change, *_] = _wanted()
    reordered = change.automation.model_copy(deep=True)
    reordered.trigger.expect = set(sorted(reordered.trigger.expect, reverse=True))
    assert definition(reordered) == definition(change.automation)


# --- against a real Prefect server ------------------------------------------------


def _install(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", "automations", "install"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _read_back() -> dict[str, dict]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {a.name: {"id": a.id, "definition": definition(a)} for a in client.read_automations()
                if a.name.startswith(PREFIX)}


@pytest.mark.integration
def test_install_creates_the_automations_and_a_second_install_changes_nothing(prefect_server, tmp_path):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_URL

    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSFLOW_")}
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), NEWSFLOW_DATA_DIR=str(tmp_path))

    # No block configured: the zombie automation alone, and the others named as skipped.
    first = _install(env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "NEWSFLOW_NOTIFICATION_BLOCK" in first.stdout
    assert set(_read_back()) == {ZOMBIE_RUNS}

    CustomWebhookNotificationBlock(name="newsflow", url="http://127.0.0.1:9/alert").save(
        "newsflow-alerts", overwrite=True)
    env.update(NEWSFLOW_NOTIFICATION_BLOCK="custom-webhook/newsflow-alerts", NEWSFLOW_FEED_ALERT_FAILURES="4")
    second = _install(env)
    assert second.returncode == 0, second.stdout + second.stderr
    installed = _read_back()
    assert set(installed) == {ZOMBIE_RUNS, INGEST_FAILED, FEED_FAILING}
    trigger = installed[FEED_FAILING]["definition"]["trigger"]
    assert trigger["match"][CONSECUTIVE_FAILURES_LABEL] == "4"

    third = _install(env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert third.stdout.count("unchanged") == 3, third.stdout
    assert _read_back() == installed  # the same ids, the same count, the same definitions

    # A block name that is not on the server is a skip, said plainly; nothing is removed.
    env.update(NEWSFLOW_NOTIFICATION_BLOCK="custom-webhook/no-such-block")
    fourth = _install(env)
    assert fourth.returncode == 0 and "no-such-block" in fourth.stdout
    assert _read_back() == installed


@pytest.mark.integration
def test_a_feeds_nth_failure_in_a_row_reaches_the_webhook_once(prefect_server, tmp_path):
    """The feed alert end to end on a real server: ``newsflow.feed.failed``
    events carrying the failures-in-a-row label, and a webhook block pointing
    at a server on 127.0.0.1 that records what it is sent."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.events import emit_event

    from flows.automations import install_automations

    received: list[dict] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        CustomWebhookNotificationBlock(
            name="newsflow", url=f"http://127.0.0.1:{server.server_port}/alert",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        ).save("newsflow-e2e-alerts", overwrite=True)
        install_automations(notification_block="custom-webhook/newsflow-e2e-alerts", feed_alert_failures=2)
        time.sleep(5)  # the triggers service loads new automations periodically

        feed = f"newsflow.feed.{uuid4().int % 10**6}"
        for failures in (1, 2, 3):
            emit_event(event="newsflow.feed.failed",
                       resource={"prefect.resource.id": feed, "prefect.resource.name": "http://feed.example/rss",
                                 CONSECUTIVE_FAILURES_LABEL: str(failures)},
                       payload={"error": "HTTP 503", "consecutive_failures": failures})
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(5)  # room for a wrong second notification to arrive
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1, received
    assert "failed 2 runs in a row" in received[0]["subject"]
    assert "http://feed.example/rss" in received[0]["body"] and "HTTP 503" in received[0]["body"]
