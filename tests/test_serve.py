"""The temporary Prefect server of a one-off command (flows/serve.py,
TemporaryApi) as a command's process sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import processes_with_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]

# A command's use of the server: its flow runs would run inside in_use().
COMMAND = """
import json
import httpx
from flows.serve import TemporaryApi

api = TemporaryApi()
with api.in_use():
    settings = httpx.get(api.server.api_url + "/admin/settings", trust_env=False, timeout=10).json()
services = settings["server"]["services"]
print(json.dumps({
    "ui": settings["server"]["ui"]["enabled"],
    "analytics": settings["server"]["analytics_enabled"],
    "enabled": sorted(name for name, service in services.items() if service.get("enabled") is True),
    "disabled": sorted(name for name, service in services.items() if service.get("enabled") is False),
}))
"""


def test_the_temporary_server_records_runs_and_leaves_out_schedules_ui_and_its_banner(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), TEMPORARY_SERVER_TEST=str(tmp_path),
               # A new home migrates its database first: slow on a busy machine.
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
    done = subprocess.run([sys.executable, "-c", COMMAND], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    # The command's stdout is its own (it may be JSON): nothing of the server's.
    [line] = done.stdout.splitlines()
    server = json.loads(line)
    assert done.stderr == ""
    assert server["ui"] is False and server["analytics"] is False
    # What records a run's task runs and events runs; what works on
    # schedules, late runs, workers and leases does not.
    assert {"task_run_recorder", "event_persister", "triggers"} <= set(server["enabled"])
    assert {"scheduler", "late_runs", "foreman", "repossessor", "cancellation_cleanup",
            "pause_expirations", "cleanup_reconciler"} <= set(server["disabled"])
    # Its state is under Prefect's home, and it is gone with the command.
    assert (tmp_path / "prefect" / "prefect.db").exists()
    assert processes_with_env("TEMPORARY_SERVER_TEST", str(tmp_path)) == []
