"""What a real Prefect server reports about newsflow: the deployments'
limits and parameter help, and flow runs that lose their database or their
time ending Failed, with their message."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import CORPUS, ROOT, child_ingest_env, settings_from

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registered(prefect_server):
    """The deployments of `newsflow serve`, registered with the test server and
    read back: {flow name: Deployment as the server has it}."""
    from prefect.client.orchestration import get_client

    from flows.deployments import deployments

    served = deployments()
    for deployment in served:
        deployment.apply()
    with get_client(sync_client=True) as client:
        return {d.flow_name: client.read_deployment_by_name(f"{d.flow_name}/{d.name}") for d in served}


def test_deployments_report_their_limit_and_cancel_new_runs(registered):
    from flows.deployments import DEPLOYMENTS
    from pipeline.config import get_settings

    assert sorted(registered) == ["ingest", "maintenance"]
    for declared in (declared for declared in DEPLOYMENTS if declared.served):
        stored = registered[declared.flow_name]
        assert stored.global_concurrency_limit.limit == declared.limit(get_settings())
        assert stored.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert registered["ingest"].global_concurrency_limit.limit == get_settings().ingest_concurrency >= 2
    assert registered["maintenance"].global_concurrency_limit.limit == 1


def test_every_parameter_of_every_deployment_has_help(registered):
    """The run form of the UI shows each parameter's description, which
    Prefect reads from the flow's Args: docstring."""
    from prefect.utilities.callables import parameter_schema

    from flows.maintenance import reenrich

    for name, deployment in registered.items():
        properties = deployment.parameter_openapi_schema["properties"]
        assert properties, name
        for parameter, schema in properties.items():
            assert len(schema.get("description", "").split()) >= 5, (name, parameter)
    # reenrich is no deployment but has a run form once someone deploys it.
    for parameter, schema in parameter_schema(reenrich.fn).properties.items():
        assert len(schema.get("description", "").split()) >= 5, parameter


def read_flow_run(flow_run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


@contextlib.contextmanager
def scratch_database(database_url: str):
    """A new, empty database on the test server: yields its URL and a function
    that drops it at once, ending its sessions (idempotent)."""
    name = f"newsflow_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    dropped = threading.Event()

    def drop() -> None:
        if not dropped.is_set():
            dropped.set()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False), drop
    finally:
        drop()
        admin.dispose()


def test_a_run_whose_database_is_dropped_mid_run_ends_failed(
    database_url, allow_test_servers, prefect_server, monkeypatch
):
    """The database goes away while the run fetches its first page: the run
    ends Failed in Prefect, with the database's error as its message, and
    the caller gets the summary through the IngestFailed it raises."""
    from prefect.client.schemas.objects import StateType

    from flows.demo import serve_directory
    from flows.ingest import IngestFailed, ingest

    with scratch_database(database_url) as (scratch_url, drop):
        def on_request(request) -> None:
            if request.path.endswith(".html"):
                drop()

        with serve_directory(CORPUS, on_request=on_request) as base_url:
            with settings_from(monkeypatch, DATABASE_URL=scratch_url, NEWSFLOW_WORKERS="1",
                               NEWSFLOW_ALLOW_PRIVATE_HOSTS=base_url.removeprefix("http://")):
                state = ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=base_url, return_state=True)

    assert state.is_failed()
    failed = state.result(raise_on_failure=False)
    assert isinstance(failed, IngestFailed)
    assert failed.summary["database_error"] and failed.summary["feeds"] == 4
    with pytest.raises(IngestFailed):
        state.result()

    flow_run = read_flow_run(state.state_details.flow_run_id)
    assert flow_run.state.type == StateType.FAILED
    assert failed.summary["database_error"] in flow_run.state.message
    assert "does not exist" in flow_run.state.message or "unavailable" in flow_run.state.message


def test_maintenance_without_its_database_ends_failed(prefect_server, monkeypatch):
    """Nothing listens on the database's port: the maintenance run ends
    Failed, naming the database as the reason."""
    from prefect.client.schemas.objects import StateType

    from flows.maintenance import maintenance
    from flows.serve import free_port

    nowhere = f"postgresql://postgres@127.0.0.1:{free_port(None)}/nowhere"
    with settings_from(monkeypatch, DATABASE_URL=nowhere, NEWSFLOW_RETRY_BACKOFF="0"):
        state = maintenance(return_state=True)
    flow_run = read_flow_run(state.state_details.flow_run_id)
    assert flow_run.state.type == StateType.FAILED
    assert "DatabaseUnavailable: database unavailable" in flow_run.state.message


def test_a_run_over_its_time_limit_ends_timed_out(clean_db, corpus_server, prefect_server, tmp_path):
    """NEWSFLOW_INGEST_TIMEOUT_SECONDS reaches the flow: a run given one
    second (the demo corpus takes several) ends TimedOut, a Failed state; the
    command says so on one line and exits 1, and ingest_runs records it failed."""
    from prefect.client.schemas.objects import StateType

    env = child_ingest_env(corpus_server, tmp_path / "data", workers="1", ingest_timeout_seconds="1")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(CORPUS / "feeds.yaml"),
         "--base-url", corpus_server],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("run failed:")]
    assert "Timeout" in line or "time limit" in line, line

    with clean_db.connect() as conn:
        [(status, flow_run_id, failure)] = conn.execute(
            text("SELECT status, flow_run_id, details->>'failure' FROM ingest_runs")
        ).all()
    assert status == "failed" and failure, failure
    flow_run = read_flow_run(flow_run_id)
    assert (flow_run.state.type, flow_run.state.name) == (StateType.FAILED, "TimedOut")
    assert "timeout" in flow_run.state.message and "1" in flow_run.state.message, flow_run.state.message


def read_events(prefix: str, since) -> list[dict]:
    import httpx
    from prefect.settings import PREFECT_API_URL

    with httpx.Client(base_url=PREFECT_API_URL.value(), timeout=10, trust_env=False) as api:
        answer = api.post("/events/filter", json={
            "filter": {"event": {"prefix": [prefix]}, "occurred": {"since": since.isoformat()}},
            "limit": 50,
        })
    answer.raise_for_status()
    return answer.json()["events"]


def test_a_run_with_a_failing_feed_emits_feed_failed_and_its_counts(
    clean_db, fixture_server, allow_test_servers, prefect_server, tmp_path
):
    """Events arrive through the events API a moment after the run (bounded wait)."""
    import time
    from datetime import UTC, datetime, timedelta

    from flows.ingest import ingest

    since = datetime.now(UTC) - timedelta(seconds=5)
    missing = f"{fixture_server}/no-such-feed.xml"
    feed_list = tmp_path / "feeds.yaml"
    feed_list.write_text(f"feeds:\n  - url: {missing}\n  - url: {fixture_server}/feed-atom.xml\n")
    summary = ingest(feeds_path=str(feed_list))
    assert summary["feeds_failed"] == 1

    deadline = time.monotonic() + 30
    while True:
        failed = read_events("newsflow.feed.failed", since)
        completed = [e for e in read_events("newsflow.ingest.completed", since)
                     if e["resource"]["prefect.resource.id"] == f"newsflow.ingest-run.{summary['run_id']}"]
        if (failed and completed) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # The one failure of this feed; the events API has been seen to list an
    # event twice in a loaded session, so copies are allowed, a second failure is not.
    events = [e for e in failed if e["resource"]["prefect.resource.name"] == missing]
    assert events
    for event in events:
        assert event["resource"]["prefect.resource.id"].startswith("newsflow.feed.")
        assert event["payload"]["error"] == "HTTP 404" and event["payload"]["consecutive_failures"] == 1
        # The label the "failed N runs in a row" automation matches on.
        assert event["resource"]["newsflow.feed.consecutive-failures"] == "1"
    run = completed[0]
    assert run["payload"]["status"] == "completed" and run["payload"]["feeds_failed"] == 1
    assert run["payload"]["feeds"] == 2


STEPS = {"fetch-feeds", "fetch-pages", "extract-batch", "store-batch", "tag-entities", "tag-pending-entities",
         "commit-feed-states"}


def read_task_runs(flow_run_id, settled) -> list:
    """The flow run's task runs as the server has them, once ``settled(task
    runs)`` holds: the server records task states from events, a moment
    after the run (bounded wait)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if settled(task_runs) or time.monotonic() > deadline:
                return task_runs
            time.sleep(0.5)


def step_states(task_runs) -> dict[str, set[str]]:
    """{step (the task's name): the state names of its task runs}."""
    steps: dict[str, set[str]] = {}
    for task_run in task_runs:
        step = task_run.name.rsplit("-", 1)[0]  # Prefect names each run <task name>-<3 hex digits>
        steps.setdefault(step, set()).add(task_run.state.name if task_run.state else "none")
    return steps


def test_each_step_of_a_run_is_a_completed_task_at_batch_granularity(
    clean_db, corpus_server, allow_test_servers, prefect_server, monkeypatch
):
    """The demo corpus in batches of 4: the UI shows every step that takes
    time as task runs, all Completed, one per batch rather than per article."""
    from flows.ingest import ingest

    with settings_from(monkeypatch, NEWSFLOW_BATCH_SIZE="4"):
        state = ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server, return_state=True)
    summary = state.result()
    assert summary["entries_new"] == 12 and summary["articles_new"] == 11

    def settled(task_runs):
        steps = step_states(task_runs)
        return STEPS <= set(steps) and all(states == {"Completed"} for states in steps.values())

    task_runs = read_task_runs(state.state_details.flow_run_id, settled)
    steps = step_states(task_runs)
    assert STEPS <= set(steps), steps
    assert all(states == {"Completed"} for states in steps.values()), steps
    per_step = {step: sum(run.name.rsplit("-", 1)[0] == step for run in task_runs) for step in steps}
    assert per_step["fetch-pages"] == per_step["extract-batch"] == per_step["store-batch"] == 3, per_step
    assert 1 <= per_step["tag-entities"] <= 3, per_step
    assert len(task_runs) <= 3 * 4 + 3  # batches, not articles


def test_a_failed_page_batch_shows_as_a_failed_fetch_pages_task(
    clean_db, corpus_server, allow_test_servers, prefect_server, monkeypatch
):
    """The last of three page batches fails as a whole: the run ends Failed
    with that error, and its task runs show where: a Failed fetch-pages
    after Completed ones, and the first batch, stored while the last one's
    pages were fetched, Completed."""
    from prefect.client.schemas.objects import StateType

    import flows.ingest
    from flows.ingest import ingest

    fetched = []
    real_fetch = flows.ingest.run_fetch_pages

    def fetch_pages(links, settings, politeness=None):
        fetched.append(links)
        if len(fetched) == 3:
            raise RuntimeError("the page fetcher broke")
        return real_fetch(links, settings, politeness)

    monkeypatch.setattr(flows.ingest, "run_fetch_pages", fetch_pages)
    with settings_from(monkeypatch, NEWSFLOW_BATCH_SIZE="4"):
        state = ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server, return_state=True)

    assert state.is_failed()
    assert "the page fetcher broke" in state.message
    with clean_db.connect() as conn:
        [(status, failure)] = conn.execute(text("SELECT status, details->>'failure' FROM ingest_runs")).all()
    assert status == "failed" and "the page fetcher broke" in failure
    flow_run = read_flow_run(state.state_details.flow_run_id)
    assert flow_run.state.type == StateType.FAILED

    def settled(task_runs):
        return "Failed" in step_states(task_runs).get("fetch-pages", set())

    steps = step_states(read_task_runs(state.state_details.flow_run_id, settled))
    assert steps["fetch-pages"] == {"Completed", "Failed"}, steps
    assert steps["extract-batch"] == steps["store-batch"] == {"Completed"}, steps
    assert len(fetched) == 3
