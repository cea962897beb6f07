"""One ingest run shared by a work pool of three workers (issue 21): a real
Prefect server (the session's), a process work pool, prefect.yaml's
deployments (`prefect deploy --all`), three `prefect worker` processes and
one manual run of `ingest/scheduled`.  Its shards are child flow runs the
workers pick up; between them they fetch every feed and page once, and store
exactly what one process stores from the same corpus."""

from __future__ import annotations

import json
import os
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from bench.scale import (
    build_sharded_corpus, deploy_pool, loopback_hosts, pool_environment, run_in_pool, serve_on_hosts,
    workers_running,
)
from tests.conftest import settings_from, truncate_all

pytestmark = pytest.mark.integration

# 127.0.0.0/8 is loopback on Linux: each address is a host of its own to
# the fetcher (politeness, robots.txt) and to the shards (whole hosts).
HOSTS = loopback_hosts(6)
FEEDS_PER_HOST = 10
WORKERS = 3


def stored_rows(engine) -> dict:
    """What a run stored, free of ids and times: articles, stories as sets
    of their members, entity links."""
    with engine.connect() as conn:
        articles = {tuple(row) for row in conn.execute(text(
            "SELECT canonical_url, title, md5(text), is_canonical, content_hash FROM articles"))}
        stories = {frozenset(row[0]) for row in conn.execute(text(
            "SELECT array_agg(canonical_url) FROM articles GROUP BY story_id"))}
        links = {tuple(row) for row in conn.execute(text(
            "SELECT a.canonical_url, e.name, e.label, ae.mentions, ae.in_title FROM article_entities ae"
            " JOIN articles a ON a.id = ae.article_id JOIN entities e ON e.id = ae.entity_id"))}
    return {"articles": articles, "stories": stories, "entity links": links}


def test_three_workers_share_one_run_and_store_what_one_process_stores(
    engine, prefect_server, tmp_path, monkeypatch
):
    from prefect.settings import PREFECT_API_URL

    from flows.ingest import ingest
    from pipeline.store.runs import RUN_COUNTS

    root = tmp_path / "site"
    root.mkdir()
    with serve_on_hosts(root, HOSTS) as (bases, served):
        feed_urls, page_urls = build_sharded_corpus(root, bases, feeds_per_host=FEEDS_PER_HOST, stories=16, seed=21)
        assert len(feed_urls) == len(HOSTS) * FEEDS_PER_HOST == 60
        expected = Counter((urlsplit(url).hostname, urlsplit(url).path) for url in feed_urls + page_urls)

        # The reference: one process, no pool (the shards run in it).
        truncate_all(engine)
        with settings_from(monkeypatch, NEWSFLOW_ALLOW_PRIVATE_HOSTS=",".join(HOSTS), NEWSFLOW_PER_HOST_DELAY="0",
                           NEWSFLOW_SHARD_SIZE="10"):
            ingest(feeds_path=str(root / "feeds.yaml"))
        reference = stored_rows(engine)
        assert {key: count for key, count in served.counts.items() if key[1] != "/robots.txt"} == expected
        assert len(reference["articles"]) == len(page_urls)
        assert 1 < len(reference["stories"]) < len(page_urls) and reference["entity links"]

        truncate_all(engine)
        served.counts.clear()
        served.agents.clear()
        env = pool_environment(
            PREFECT_API_URL.value(), os.environ["DATABASE_URL"], tmp_path, HOSTS,
            per_host_delay="0",
            shard_size="10",  # 6 hosts of 10 feeds: 6 shards
            workers="1",  # each flow run extracts in its own process: 3 workers on 2 cores
        )
        deploy_pool(env)
        names = [f"pool-worker-{number}" for number in range(1, WORKERS + 1)]
        # Two runs at once a worker: one of them may be the coordinator.
        with workers_running(env, names, tmp_path, limit=2) as logs:
            triggered = run_in_pool(env, root / "feeds.yaml", timeout=400)
            assert "Completed" in triggered.stdout, (
                triggered.stdout + triggered.stderr + "".join(log.read_text()[-3000:] for log in logs))

    # Every feed and every page fetched once, by one of the pool's shards.
    assert {key: count for key, count in served.counts.items() if key[1] != "/robots.txt"} == expected
    # A host's feeds and pages all went to one claimant: one worker asked for them.
    for host in HOSTS:
        agents = {agent.split(" ")[0] for agent in served.agents[host]}
        assert len(agents) == 1 and agents <= {f"newsflow-{name}" for name in names}, (host, agents)

    with engine.connect() as conn:
        [parent] = conn.execute(text("SELECT * FROM ingest_runs WHERE parent_id IS NULL")).mappings().all()
        shards = conn.execute(text("SELECT * FROM ingest_runs WHERE parent_id = :id ORDER BY id"),
                              {"id": parent["id"]}).mappings().all()
    assert parent["status"] == "completed" and {shard["status"] for shard in shards} == {"completed"}
    # The coordinator's counts are its shards' sum.
    assert len(shards) == len(HOSTS)
    for name in RUN_COUNTS:
        assert parent[name] == sum(shard[name] for shard in shards), name
    assert parent["feeds"] == 60 and parent["articles_new"] == len(page_urls)
    # Each worker ran at least one shard, and the run says which ran which.
    recorded = parent["details"]["shards"]
    assert sorted(shard["run"] for shard in recorded) == [shard["id"] for shard in shards]
    assert {shard["worker"] for shard in recorded} == set(names)
    assert sum(shard["feeds"] for shard in recorded) == 60

    with httpx.Client(base_url=PREFECT_API_URL.value(), timeout=10, trust_env=False) as api:
        artifact = api.get("/artifacts/ingest-summary/latest").json()
        children = api.post("/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {
            "operator": "and_", "any_": [parent["flow_run_id"]]}}}).json()
    assert artifact["flow_run_id"] == parent["flow_run_id"]
    rows = {row["measure"]: row["value"] for row in json.loads(artifact["data"])}
    assert rows["feeds"] == 60 and rows["articles new"] == len(page_urls)
    assert sorted(measure for measure in rows if measure.startswith("shard ")) == [
        f"shard {number}" for number in range(1, len(HOSTS) + 1)]
    # The shards are subflows of the run (cancelling it cancels them).
    assert sorted(str(child["id"]) for child in children) == sorted(
        str(shard["flow_run_id"]) for shard in shards)

    assert stored_rows(engine) == reference
    print(f"\nshards: {[(shard['worker'], shard['feeds'], shard['chunks']) for shard in recorded]}")


def test_a_run_waits_for_its_shards_within_its_time_and_notices_each_that_failed(prefect_server):
    """What the coordinator does with the flow runs ``run_deployment`` hands
    back, against the real server: it waits until all are final, reads each
    one's state (a failed or crashed shard fails the run, since
    run_deployment does not raise), and gives up on a shard still running
    when the run's time is up."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Crashed, Failed, Running

    from flows.ingest import Deadline, ShardsFailed, shard_failures, shard_record, wait_for_flow_runs

    @flow(name="shard-stand-in")
    def stand_in() -> None:
        pass

    with get_client(sync_client=True) as client:
        done = client.create_flow_run(stand_in, name="tick-shard-1-of-3", state=Completed())
        failed = client.create_flow_run(stand_in, name="tick-shard-2-of-3", state=Failed(message="database gone"))
        crashed = client.create_flow_run(stand_in, name="tick-shard-3-of-3", state=Crashed(message="killed"))
        running = client.create_flow_run(stand_in, name="tick-shard-4-of-4", state=Running())

    final = wait_for_flow_runs([done.id, failed.id, crashed.id], Deadline(30))
    records = [shard_record(number, final[flow_run.id], None)
               for number, flow_run in enumerate((done, failed, crashed), start=1)]
    assert [record["state"] for record in records] == ["COMPLETED", "FAILED", "CRASHED"]
    assert shard_failures(records) == (
        "shard 2 (tick-shard-2-of-3) failed: database gone; shard 3 (tick-shard-3-of-3) crashed: killed")

    gave_up = r"still running when the run's time was up \(they go on\): tick-shard-4-of-4$"
    with pytest.raises(ShardsFailed, match=gave_up):
        wait_for_flow_runs([done.id, running.id], Deadline(1))
