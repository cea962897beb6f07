"""How an ingest run splits the due feeds between its shards.

A shard is a child run (flows/ingest.py): it claims a chunk of feeds, works
on it, and claims again until nothing is left, so that identical shards
balance themselves whichever worker is fast.  A chunk is made of whole
hosts: every due feed of a host goes to one claimant, so the gap owed to a
host between request starts (pipeline/fetch.py, ``Politeness``) holds
across the whole fleet, not only within one process.

Pure functions over plain data: the store claims (pipeline/store/feeds.py),
these decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pipeline.fetch import host_key

__all__ = ["HostFeeds", "fill_chunk", "group_by_host", "shard_count"]

T = TypeVar("T")


@dataclass(frozen=True)
class HostFeeds:
    """The feeds of one host (``host_key``: name and port), in id order."""

    host: str
    feed_ids: tuple[int, ...]


def group_by_host(feeds: Iterable[tuple[int, str]]) -> list[HostFeeds]:
    """(id, url) pairs grouped by host, hosts in the order of their lowest
    feed id: every claimant walks the hosts in one order."""
    groups: dict[str, list[int]] = {}
    for feed_id, url in sorted(feeds):
        groups.setdefault(host_key(url), []).append(feed_id)
    return [HostFeeds(host, tuple(ids)) for host, ids in groups.items()]


def shard_count(groups: Sequence[HostFeeds], shard_size: int, max_shards: int = 0) -> int:
    """How many shards to start for these hosts' feeds: one per
    ``shard_size`` feeds, never more than there are hosts (a host is never
    split, so a further shard would find nothing), and at most
    ``max_shards`` when that is not 0.  0 when there is nothing to do."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, not {shard_size}")
    if max_shards < 0:
        raise ValueError(f"max_shards must be 0 (no cap) or more, not {max_shards}")
    feeds = sum(len(group.feed_ids) for group in groups)
    count = min(-(-feeds // shard_size), len(groups))
    return min(count, max_shards) if max_shards else count


def fill_chunk(
    groups: Sequence[HostFeeds], size: int, claim: Callable[[HostFeeds], list[T]]
) -> list[T]:
    """One claimant's next chunk: whole hosts, in order, until it holds
    ``size`` feeds or more.  ``claim(group)`` takes one host's feeds and
    returns what it got: nothing when another claimant holds that host right
    now (it is skipped), or fewer feeds than the group when some stopped
    being claimable meanwhile.  A host is taken whole or not at all, so a
    chunk holds at most ``size`` - 1 feeds plus its last host's; a host with
    more than ``size`` feeds is a chunk of its own."""
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    taken: list[T] = []
    for group in groups:
        if len(taken) >= size:
            break
        taken += claim(group)
    return taken
