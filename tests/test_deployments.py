"""Deployments: the schedules (offline), prefect.yaml and docker-compose.yml,
and `newsflow serve` against a real Prefect server with a manual run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import text

from tests.conftest import processes_with_env
from tests.processes import process_group

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "seeds" / "demo"
COMPOSE = ROOT / "docker-compose.yml"


# --- the deployments, offline --------------------------------------------------


@pytest.fixture(scope="module")
def declared():
    from flows.deployments import deployments

    return {d.flow_name: d for d in deployments()}


def test_served_deployments_are_named_apart_from_the_work_pools(declared):
    from flows.deployments import DEPLOYMENTS

    assert sorted(declared) == ["ingest", "maintenance"]
    assert {d.name for d in declared.values()} == {"served"}
    assert {d.name for d in DEPLOYMENTS} == {"scheduled"}
    # The shards' deployment is the work pool's only: under serve a run works through its shards itself.
    assert sorted(d.flow_name for d in DEPLOYMENTS if not d.served) == ["ingest-shard"]


def test_each_deployment_names_its_flow_as_the_flow_declares_it():
    import importlib

    from flows.deployments import DEPLOYMENTS

    for deployment in DEPLOYMENTS:
        module, _, function = deployment.flow.partition(":")
        assert getattr(importlib.import_module(module), function).name == deployment.flow_name


def test_a_shard_deployment_has_no_schedule_and_its_runs_wait_beyond_their_limit():
    from flows.deployments import DEPLOYMENTS
    from pipeline.config import Settings

    [shard] = [d for d in DEPLOYMENTS if d.flow_name == "ingest-shard"]
    assert shard.schedules() == [] and shard.schedule_entries() == []
    assert shard.limit(Settings()) is None  # no limit unless the user sets one
    assert shard.concurrency_entry(Settings(shard_concurrency=3)) == {"limit": 3, "collision_strategy": "ENQUEUE"}


def test_ingest_runs_every_30_minutes_over_the_due_feeds(declared):
    from prefect.client.schemas.schedules import IntervalSchedule

    ingest = declared["ingest"]
    [schedule] = ingest.schedules
    assert isinstance(schedule.schedule, IntervalSchedule)
    assert schedule.schedule.interval == timedelta(minutes=30)
    assert schedule.active
    # No feed list: every stored feed that is due; no cap on entries.
    assert ingest.parameters == {"feeds_path": None, "limit": None}
    # Overlapping ingest runs split the work; past the limit, a new run is cancelled, not queued.
    assert ingest.concurrency_limit == 2
    assert ingest.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert ingest.entrypoint == "flows.ingest.ingest"
    assert set(ingest._parameter_openapi_schema.properties) == {"feeds_path", "base_url", "limit", "force"}
    assert "newsflow" in ingest.tags


def test_maintenance_runs_nightly_one_at_a_time(declared):
    from datetime import timezone

    from prefect.client.schemas.schedules import CronSchedule

    maintenance = declared["maintenance"]
    [schedule] = maintenance.schedules
    assert isinstance(schedule.schedule, CronSchedule)
    assert schedule.schedule.cron == "30 3 * * *"
    assert schedule.schedule.timezone == "UTC"
    assert maintenance.concurrency_limit == 1
    assert maintenance.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert maintenance.entrypoint == "flows.maintenance.maintenance"

    # The next two runs, as the server computes them: 03:30 UTC on consecutive days.
    from prefect.server.schemas.schedules import CronSchedule as ServerCronSchedule

    server_schedule = ServerCronSchedule(cron=schedule.schedule.cron, timezone=schedule.schedule.timezone)
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    first, second = asyncio.run(server_schedule.get_dates(n=2, start=start))
    assert first == datetime(2024, 5, 2, 3, 30, tzinfo=timezone.utc)
    assert second - first == timedelta(days=1)


# --- prefect.yaml is generated from the same table ---------------------------


def test_prefect_yaml_is_what_flows_deployments_generates():
    from flows.deployments import prefect_yaml

    assert (ROOT / "prefect.yaml").read_text() == prefect_yaml(), (
        "prefect.yaml is out of date: python -m flows.deployments > prefect.yaml"
    )


def test_prefect_yaml_entrypoints_load_the_flows_that_are_served(declared):
    from prefect.flows import load_flow_from_entrypoint

    from flows.deployments import DEPLOYMENTS
    from pipeline.config import default_settings

    pool_names = {d.flow_name: d.name for d in DEPLOYMENTS}
    entries = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    by_flow = {}
    for entry in entries:
        path, _, function = entry["entrypoint"].partition(":")
        flow = load_flow_from_entrypoint(str(ROOT / path) + ":" + function)
        by_flow[flow.name] = entry
    # The pool's only deployment (the shards, which their ingest run starts) aside.
    assert by_flow.pop("ingest-shard")["schedules"] == []
    assert sorted(by_flow) == sorted(declared)
    for flow_name, entry in by_flow.items():
        deployment = declared[flow_name]
        limit = entry["concurrency_limit"]
        assert (entry["name"], entry["parameters"], limit["limit"], entry["tags"]) == (
            pool_names[flow_name], deployment.parameters, deployment.concurrency_limit, deployment.tags
        )
        assert entry["name"] != deployment.name  # the pool's, not `newsflow serve`'s
        assert limit["collision_strategy"] == deployment.concurrency_options.collision_strategy.value
    assert by_flow["ingest"]["concurrency_limit"]["limit"] == default_settings().ingest_concurrency


# --- docker-compose.yml -------------------------------------------------------


def _check_compose(path: Path) -> subprocess.CompletedProcess:
    """Validate against the Compose specification's JSON schema, as vendored
    by check-jsonschema (a dev dependency): no Docker engine needed."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_compose_file_follows_the_compose_specification(tmp_path):
    result = _check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr

    # The check is not vacuous: a misspelt key fails it.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restrat: unless-stopped", 1))
    result = _check_compose(broken)
    assert result.returncode != 0
    assert "restrat" in result.stdout + result.stderr


def test_compose_services_are_wired_together():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"db", "prefect-server", "app"} <= set(services)
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
        assert "image" in service or "build" in service, name

    assert re.fullmatch(r"postgres:16@sha256:[0-9a-f]{64}", services["db"]["image"])
    assert "newsflow-db" in compose["volumes"]
    # The Prefect server is the newsflow image's Prefect, on its own database.
    assert services["prefect-server"]["image"] == services["app"]["image"] == "newsflow:latest"
    prefect_db = services["prefect-server"]["environment"]
    assert (prefect_db["PREFECT_SERVER_DATABASE_HOST"], prefect_db["PREFECT_SERVER_DATABASE_NAME"]) == ("db", "prefect")
    assert services["prefect-server"]["depends_on"] == {"db": {"condition": "service_healthy"}}

    app = services["app"]
    assert app["build"] == "."
    assert app["command"] == ["newsflow", "serve"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "prefect-server": {"condition": "service_healthy"},
    }
    env = app["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://newsflow:${APP_DB_PASSWORD:?")
    assert env["DATABASE_URL"].endswith("@db:5432/newsflow")
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"

    # `newsflow web` reads newsflow's database, reachable from this host only.
    web = services["web"]
    assert web["image"] == "newsflow:latest"
    assert web["command"][:2] == ["newsflow", "web"]
    assert web["environment"]["DATABASE_URL"] == env["DATABASE_URL"]
    assert web["ports"] == ["127.0.0.1:8080:8080"]
    assert web["depends_on"] == {"db": {"condition": "service_healthy"}}

    # The roles and databases are created on the first start of db
    # (tests/test_containers.py runs the script).
    init = next(v for v in services["db"]["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert (ROOT / init.split(":")[0]).is_file()


def test_dockerfile_installs_the_locked_dependencies_before_the_code():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert re.fullmatch(r"FROM python:3\.11-slim@sha256:[0-9a-f]{64}", lines[0]), lines[0]
    assert 'CMD ["newsflow", "serve"]' in dockerfile

    def first(text: str) -> int:
        return next(number for number, line in enumerate(lines) if text in line)

    # The dependency layer sees the lock and nothing of the code: a code
    # change reuses it.
    install_locked = first("pip install --require-hashes --no-deps -r requirements.lock")
    assert first("COPY requirements-pip.lock requirements.lock") < install_locked
    assert install_locked < first("COPY pyproject.toml") < first("pip install --no-deps --no-build-isolation .")
    assert install_locked < first("COPY pipeline") and install_locked < first("COPY flows")
    for path in ("requirements.lock", "pyproject.toml", "pipeline", "flows", "prefect.yaml"):
        assert path in dockerfile and (ROOT / path).exists(), path


# --- newsflow serve against a real Prefect server ------------------------------


def _serve_command() -> list[str]:
    """`newsflow serve` once flows/cli registers it; the function itself
    until then."""
    from flows.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else None) for c in app.registered_commands}
    if "serve" in names:
        return [sys.executable, "-m", "flows.cli", "serve"]
    return [sys.executable, "-c", "from flows.serve import serve_deployments; serve_deployments()"]


def _wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PREFECT_API_URL", "PREFECT_UI_URL"):
        env.pop(name, None)
    env.update(
        PREFECT_HOME=str(tmp_path / "client-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        NEWSFLOW_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def prefect_api(tmp_path):
    """A real `prefect server start` on 127.0.0.1 with a temporary
    PREFECT_HOME (SQLite), stopped after the test."""
    from flows.serve import free_port, start_local_server

    server = start_local_server(tmp_path / "server-home", port=free_port(None), timeout=90)
    try:
        yield server.api_url
    finally:
        server.stop()
        assert server.process.poll() is not None


@pytest.mark.integration
def test_serve_runs_a_manually_triggered_ingest(
    clean_db, corpus_server, allow_test_servers, prefect_api, tmp_path
):
    from flows.serve import prefect_executable

    env = _child_env(
        tmp_path,
        PREFECT_API_URL=prefect_api,
        DATABASE_URL=os.environ["DATABASE_URL"],
        NEWSFLOW_ALLOW_PRIVATE_HOSTS=allow_test_servers,
    )
    with process_group(_serve_command(), env=env, log_dir=tmp_path, name="serve") as serve:
        _wait_for(
            lambda: serve.poll() is not None or "being served" in serve.out.read_text(),
            60, "newsflow serve to register its deployments",
        )
        assert serve.poll() is None, serve.out.read_text() + serve.err.read_text()

        # The served deployments carry their schedules on the server.
        with httpx.Client(base_url=prefect_api, timeout=10, trust_env=False) as api:
            ingest = api.get("/deployments/name/ingest/served").json()
            nightly = api.get("/deployments/name/maintenance/served").json()
        assert [s["schedule"]["interval"] for s in ingest["schedules"]] == [1800.0]
        assert [s["schedule"]["cron"] for s in nightly["schedules"]] == ["30 3 * * *"]
        assert nightly["global_concurrency_limit"]["limit"] == 1
        assert ingest["global_concurrency_limit"]["limit"] == 2
        assert ingest["concurrency_options"] == nightly["concurrency_options"] == {
            "collision_strategy": "CANCEL_NEW", "grace_period_seconds": None}
        assert not ingest["paused"]

        started = time.monotonic()
        run = subprocess.run(
            [
                prefect_executable(), "deployment", "run", "ingest/served",
                "--param", f"feeds_path={CORPUS / 'feeds.yaml'}",
                "--param", f"base_url={corpus_server}",
                "--watch", "--watch-timeout", "120",
            ],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
        )
        trigger_to_completed = time.monotonic() - started
        print(f"\ntrigger to completed run (prefect deployment run --watch): {trigger_to_completed:.1f} s")
        assert run.returncode == 0, (
            run.stdout + run.stderr + "\n--- serve:\n" + serve.out.read_text() + serve.err.read_text()
        )
        assert "Completed" in run.stdout

        with httpx.Client(base_url=prefect_api, timeout=10, trust_env=False) as api:
            runs = api.post(
                "/flow_runs/filter", json={"deployments": {"id": {"any_": [ingest["id"]]}}}
            ).json()
        [flow_run] = [r for r in runs if r["state_type"] != "SCHEDULED"]
        assert flow_run["state_type"] == "COMPLETED"
        assert flow_run["parameters"]["base_url"] == corpus_server
        moments = {k: datetime.fromisoformat(flow_run[k]) for k in ("created", "start_time", "end_time")}
        print(
            f"flow run {flow_run['name']}: created -> running "
            f"{(moments['start_time'] - moments['created']).total_seconds():.1f} s "
            "(runner poll, default every 10 s, and the child process starting), running "
            f"{(moments['end_time'] - moments['start_time']).total_seconds():.1f} s"
        )

        with clean_db.connect() as conn:
            articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
            feeds = conn.execute(text("SELECT count(*) FROM feeds")).scalar_one()
        assert (articles, feeds) == (11, 4)
        # The served run sent heartbeats: the zombie-run automation can see it die.
        _wait_for(lambda: _heartbeats(prefect_api, flow_run["id"]), 30, "the served run's heartbeat event")

        # SIGTERM ends serving cleanly.
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0
        assert "Traceback" not in serve.err.read_text(), serve.err.read_text()


@pytest.mark.integration
def test_serve_starts_and_stops_its_own_prefect_server(tmp_path):
    """Without PREFECT_API_URL: a local server under the data directory,
    healthy before serving, gone after Ctrl-C."""
    from flows.serve import free_port, server_healthy

    port = free_port(None)
    command = [sys.executable, "-c", f"from flows.serve import serve_deployments; serve_deployments(port={port})"]
    env = _child_env(tmp_path)
    with process_group(command, env=env, log_dir=tmp_path, name="serve") as serve:
        _wait_for(
            lambda: serve.poll() is not None or "being served" in serve.out.read_text(),
            90, "newsflow serve to start its server",
        )
        output = serve.out.read_text()
        assert serve.poll() is None, output + serve.err.read_text()
        api_url = f"http://127.0.0.1:{port}/api"
        assert f"UI:  http://127.0.0.1:{port}" in output and api_url in output
        assert (tmp_path / "data" / "prefect" / "server.log").exists()
        assert server_healthy(api_url)
        # The UI's pages call this server's API, not port 4200's.
        ui_settings = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10, trust_env=False).json()
        assert ui_settings["api_url"] == api_url

        serve.send_signal(signal.SIGINT)  # Ctrl-C
        assert serve.wait(40) == 0
        assert "Prefect server stopped." in serve.out.read_text()
        assert "Traceback" not in serve.err.read_text(), serve.err.read_text()
        assert not server_healthy(api_url, timeout=1)


@pytest.mark.integration
def test_a_prefect_profile_with_an_api_leaves_no_temporary_server(tmp_path):
    """The temporary server is launched before Prefect's settings are read;
    an API found in the active profile then stops it, unused."""
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "remote"\n\n[profiles.remote]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    env = _child_env(tmp_path, PREFECT_PROFILES_PATH=str(profiles), TEMPORARY_API_TEST=str(tmp_path))
    command = [sys.executable, "-c",
               "from flows.serve import TemporaryApi; api = TemporaryApi(); print('server:', api.server)"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "server: None" in done.stdout
    assert processes_with_env("TEMPORARY_API_TEST", str(tmp_path)) == []


@pytest.mark.integration
def test_a_process_worker_runs_the_deployments_of_prefect_yaml(
    clean_db, corpus_server, allow_test_servers, prefect_api, tmp_path
):
    """prefect.yaml as a team uses it: a work pool, `prefect deploy --all`,
    a worker, and a manual run of the ingest deployment that the worker picks up."""
    from flows.serve import prefect_executable

    env = _child_env(
        tmp_path,
        PREFECT_API_URL=prefect_api,
        DATABASE_URL=os.environ["DATABASE_URL"],
        NEWSFLOW_ALLOW_PRIVATE_HOSTS=allow_test_servers,
        NEWSFLOW_PROJECT_DIR=str(ROOT),
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    prefect = prefect_executable()

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([prefect, "--no-prompt", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run("work-pool", "create", "newsflow", "--type", "process")
    deployed = run("deploy", "--all")
    assert "ingest/scheduled" in deployed.stdout and "maintenance/scheduled" in deployed.stdout
    _assert_registered_as_declared(prefect_api)

    with process_group([prefect, "worker", "start", "--pool", "newsflow"], env=env, log_dir=tmp_path,
                  name="worker") as worker:
        triggered = run(
            "deployment", "run", "ingest/scheduled",
            "--param", f"feeds_path={CORPUS / 'feeds.yaml'}", "--param", f"base_url={corpus_server}",
            "--watch", "--watch-timeout", "150", timeout=180,
        )
        assert "Completed" in triggered.stdout, triggered.stdout + worker.out.read_text()[-3000:]
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)

    with clean_db.connect() as conn:
        articles = conn.execute(text("SELECT count(*) FROM articles")).scalar_one()
        [(status, flow_run_id, parent)] = conn.execute(
            text("SELECT status, flow_run_id, id FROM ingest_runs WHERE parent_id IS NULL")).all()
        # One host: one shard, a child flow run in the pool, its row under the run's.
        [shard_status] = conn.execute(
            text("SELECT status FROM ingest_runs WHERE parent_id = :parent"), {"parent": parent}).scalars().all()
    assert articles == 11
    assert status == shard_status == "completed"
    # prefect.yaml's job variables have the pool's runs send heartbeats.
    _wait_for(lambda: _heartbeats(prefect_api, flow_run_id), 30, "the pool run's heartbeat event")
    with httpx.Client(base_url=prefect_api, timeout=10, trust_env=False) as api:
        artifact = api.get("/artifacts/ingest-summary/latest").json()
    assert artifact["flow_run_id"] == flow_run_id
    rows = {row["measure"]: row["value"] for row in json.loads(artifact["data"])}
    assert rows["articles new"] == 11 and rows["feeds"] == 4
    assert rows["failed: fetch: http"] == 1  # the corpus's one missing page


@pytest.mark.integration
def test_stopping_serve_leaves_the_work_pools_schedules_active(prefect_api, tmp_path):
    """`newsflow serve` pauses what it served when it stops; the work pool's
    deployments (prefect.yaml), registered on the same server, stay scheduled."""
    from flows.serve import prefect_executable

    env = _child_env(tmp_path, PREFECT_API_URL=prefect_api, NEWSFLOW_PROJECT_DIR=str(ROOT))
    for args in (["work-pool", "create", "newsflow", "--type", "process"], ["deploy", "--all"]):
        done = subprocess.run([prefect_executable(), "--no-prompt", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def paused() -> dict[str, bool]:
        with httpx.Client(base_url=prefect_api, timeout=10, trust_env=False) as api:
            found = api.post("/deployments/filter", json={}).json()
        return {f"{d['entrypoint'].rsplit(':', 1)[-1].rsplit('.', 1)[-1]}/{d['name']}": d["paused"] for d in found}

    with process_group(_serve_command(), env=env, log_dir=tmp_path, name="serve") as serve:
        _wait_for(
            lambda: serve.poll() is not None or "being served" in serve.out.read_text(),
            60, "newsflow serve to register its deployments",
        )
        assert serve.poll() is None, serve.out.read_text() + serve.err.read_text()
        assert paused() == {"ingest/scheduled": False, "maintenance/scheduled": False,
                            "ingest_shard/scheduled": False, "ingest/served": False, "maintenance/served": False}

        # Serving has begun once the runner polls for the deployment's runs
        # (its status turns READY); a SIGTERM before that ends it unpaused.
        def polled() -> bool:
            with httpx.Client(base_url=prefect_api, timeout=10, trust_env=False) as api:
                return api.get("/deployments/name/ingest/served").json()["status"] == "READY"

        _wait_for(polled, 60, "the runner's first poll")
        # On start, serve installed the automations its heartbeats are for.
        assert "Automation created   newsflow: crash zombie flow runs" in serve.out.read_text()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, serve.err.read_text()

    # What serve served is paused; the pool's schedules are still active.
    assert paused() == {"ingest/scheduled": False, "maintenance/scheduled": False,
                        "ingest_shard/scheduled": False, "ingest/served": True, "maintenance/served": True}


def _heartbeats(api_url: str, flow_run_id: str) -> list[dict]:
    """The ``prefect.flow-run.heartbeat`` events of one flow run, from the events API."""
    with httpx.Client(base_url=api_url, timeout=10, trust_env=False) as api:
        found = api.post("/events/filter", json={"filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
        }, "limit": 10})
    found.raise_for_status()
    return found.json()["events"]


def _assert_registered_as_declared(api_url: str) -> None:
    """The deployments on the server, as ``prefect deploy`` read them from
    prefect.yaml, against DEPLOYMENTS: schedules, parameters, limits, tags, pool."""
    from flows.deployments import DEPLOYMENTS, WORK_POOL
    from pipeline.config import default_settings

    with httpx.Client(base_url=api_url, timeout=10, trust_env=False) as api:
        for declared in DEPLOYMENTS:
            stored = api.get(f"/deployments/name/{declared.flow_name}/{declared.name}").json()
            schedules = [entry["schedule"] for entry in stored["schedules"]]
            if declared.interval is not None:
                assert [schedule["interval"] for schedule in schedules] == [declared.interval.total_seconds()]
            elif declared.cron is not None:
                assert [(schedule["cron"], schedule["timezone"]) for schedule in schedules] == [
                    (declared.cron, declared.timezone)]
            else:
                assert schedules == []
            limit = stored["global_concurrency_limit"]
            if declared.limit(default_settings()) is None:
                assert limit is None
            else:
                assert limit["limit"] == declared.limit(default_settings())
                assert stored["concurrency_options"]["collision_strategy"] == declared.collision_strategy
            assert stored["parameters"] == declared.parameters
            assert stored["tags"] == list(declared.tags)
            assert stored["description"] == declared.description
            assert stored["work_pool_name"] == WORK_POOL
