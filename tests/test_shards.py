"""How a run splits its due feeds into shards (pipeline/shards.py): pure
functions, no database."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from pipeline.fetch import host_key
from pipeline.shards import HostFeeds, fill_chunk, group_by_host, shard_count

HOSTS = ["http://127.0.0.2:8000", "http://127.0.0.3:8000", "https://a.example", "http://A.example:80",
         "https://b.example:8443"]

# Distinct feed ids, each on one of a few hosts.
FEEDS = st.dictionaries(
    st.integers(min_value=1, max_value=10_000), st.sampled_from(HOSTS), max_size=60,
).map(lambda feeds: [(feed_id, f"{host}/feed/{feed_id}.xml") for feed_id, host in feeds.items()])


def test_feeds_of_one_host_form_one_group_in_the_order_of_their_lowest_id():
    groups = group_by_host([(5, "http://127.0.0.3:8000/a.xml"), (2, "http://127.0.0.2:8000/b.xml"),
                            (3, "http://127.0.0.3:8000/c.xml"), (9, "http://A.example/d.xml"),
                            (1, "http://a.example:80/e.xml")])
    assert groups == [HostFeeds("a.example:80", (1, 9)), HostFeeds("127.0.0.2:8000", (2,)),
                      HostFeeds("127.0.0.3:8000", (3, 5))]


@given(FEEDS)
def test_grouping_keeps_every_feed_once_and_never_splits_a_host(feeds):
    groups = group_by_host(feeds)
    assert sorted(feed_id for group in groups for feed_id in group.feed_ids) == sorted(i for i, _ in feeds)
    assert len({group.host for group in groups}) == len(groups)
    urls = dict(feeds)
    for group in groups:
        assert {host_key(urls[feed_id]) for feed_id in group.feed_ids} == {group.host}


@pytest.mark.parametrize(("sizes", "shard_size", "max_shards", "expected"), [
    ([], 10, 0, 0),  # nothing due: no shard
    ([10] * 6, 10, 0, 6),  # 60 feeds on 6 hosts, 10 a shard
    ([10] * 6, 25, 0, 3),
    ([10] * 6, 10, 4, 4),  # capped by NEWSFLOW_SHARDS
    ([50], 10, 0, 1),  # one host is never split: one shard
    ([1, 1, 1], 100, 0, 1),
])
def test_shard_count(sizes, shard_size, max_shards, expected):
    groups = [HostFeeds(f"h{n}:80", tuple(range(n * 100, n * 100 + size))) for n, size in enumerate(sizes)]
    assert shard_count(groups, shard_size, max_shards) == expected


@given(FEEDS, st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=8))
def test_there_are_enough_shards_and_none_without_a_host(feeds, shard_size, max_shards):
    groups = group_by_host(feeds)
    count = shard_count(groups, shard_size, max_shards)
    assert count <= len(groups)
    assert (count == 0) == (not feeds)
    if max_shards:
        assert count <= max_shards
    else:
        assert count * shard_size >= len(feeds) or count == len(groups)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="shard_size"):
        shard_count([], 0)
    with pytest.raises(ValueError, match="max_shards"):
        shard_count([], 5, -1)
    with pytest.raises(ValueError, match="size"):
        fill_chunk([], 0, lambda group: list(group.feed_ids))


def test_a_chunk_takes_whole_hosts_until_it_holds_its_size():
    groups = [HostFeeds("a:80", (1, 2, 3)), HostFeeds("b:80", (4, 5)), HostFeeds("c:80", (6,))]
    assert fill_chunk(groups, 4, lambda group: list(group.feed_ids)) == [1, 2, 3, 4, 5]
    assert fill_chunk(groups, 3, lambda group: list(group.feed_ids)) == [1, 2, 3]
    # A host bigger than the chunk is taken whole, alone.
    big = HostFeeds("big:80", tuple(range(10)))
    assert fill_chunk([big, *groups], 4, lambda group: list(group.feed_ids)) == list(range(10))


def test_a_host_another_claimant_holds_is_skipped_for_the_next():
    groups = [HostFeeds("a:80", (1, 2)), HostFeeds("b:80", (3, 4)), HostFeeds("c:80", (5,))]
    asked = []

    def claim(group):
        asked.append(group.host)
        return [] if group.host == "a:80" else list(group.feed_ids)

    assert fill_chunk(groups, 2, claim) == [3, 4]
    assert asked == ["a:80", "b:80"]


@given(FEEDS, st.integers(min_value=1, max_value=25), st.integers(min_value=1, max_value=4))
def test_claimants_taking_chunks_in_turn_take_every_feed_once_and_each_host_whole(feeds, size, claimants):
    """Claimants in turn, each a chunk at a time until nothing is left, as
    shards do against the store: every feed goes to exactly one claimant,
    all of a host's feeds to the same one, and no chunk passes its size by
    more than its last host."""
    remaining = group_by_host(feeds)
    owner: dict[int, int] = {}
    turn = 0
    while remaining:
        taken_hosts = []

        def claim(group):
            taken_hosts.append(group)
            return list(group.feed_ids)

        chunk = fill_chunk(remaining, size, claim)
        assert chunk, "a claimant with feeds left found nothing"
        assert len(chunk) - len(taken_hosts[-1].feed_ids) < size
        for feed_id in chunk:
            assert feed_id not in owner
            owner[feed_id] = turn % claimants
        remaining = [group for group in remaining if group not in taken_hosts]
        turn += 1
    assert sorted(owner) == sorted(feed_id for feed_id, _ in feeds)
    for group in group_by_host(feeds):
        assert len({owner[feed_id] for feed_id in group.feed_ids}) == 1


# --- what a run makes of its shards' final states (flows/ingest.py) -----------


def _shard(number: int, state: str, message: str = "") -> dict:
    return {"shard": number, "flow_run": f"run-shard-{number}", "worker": "w", "state": state,
            "message": message, "run": number, "feeds": 10, "articles_new": 3, "chunks": 1}


def test_a_run_fails_for_each_shard_that_did_not_complete_and_says_which():
    from flows.ingest import shard_failures

    assert shard_failures([_shard(1, "COMPLETED"), _shard(2, "COMPLETED")]) is None
    assert shard_failures([]) is None
    assert shard_failures([_shard(1, "COMPLETED"), _shard(2, "FAILED", "database gone"), _shard(3, "CRASHED"),
                           _shard(4, "CANCELLED")]) == (
        "shard 2 (run-shard-2) failed: database gone; shard 3 (run-shard-3) crashed; "
        "shard 4 (run-shard-4) cancelled")


def test_a_shard_record_names_its_worker_and_state_and_has_no_counts_without_a_row():
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import Completed, Crashed

    from flows.ingest import WORKER_LABEL, shard_line, shard_record

    done = FlowRun(flow_id="00000000-0000-0000-0000-000000000001", name="tick-shard-1-of-2",
                   labels={WORKER_LABEL: "worker-a"}, state=Completed())
    row = {"id": 7, "feeds": 10, "articles_new": 12, "details": {"chunks": 2}}
    assert shard_record(1, done, row) == {
        "shard": 1, "flow_run": "tick-shard-1-of-2", "worker": "worker-a", "state": "COMPLETED", "message": "",
        "run": 7, "feeds": 10, "articles_new": 12, "chunks": 2}
    lost = FlowRun(flow_id="00000000-0000-0000-0000-000000000001", name="tick-shard-2-of-2",
                   state=Crashed(message="process killed"))
    record = shard_record(2, lost, None)
    assert (record["worker"], record["state"], record["message"], record["run"], record["feeds"]) == (
        None, "CRASHED", "process killed", None, 0)
    assert shard_line(record) == "tick-shard-2-of-2: crashed on worker ?, run -, 0 feeds in 0 chunks, 0 new articles"
