"""Which feeds changed state in a run: failed, recovered or disabled (the events a run emits)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

FeedChangeKind = Literal["failed", "recovered", "disabled"]


@dataclass(frozen=True)
class FeedResult:
    """A feed's fetch in this run, as its state is written."""

    feed_id: int
    url: str
    error: str | None = None  # None: fetched (or 304 Not Modified)
    error_kind: str | None = None
    status: int | None = None
    disabled: bool = False  # the failure disables the feed (410 Gone)


@dataclass(frozen=True)
class FeedChange:
    kind: FeedChangeKind
    feed_id: int
    url: str
    error: str | None
    error_kind: str | None
    status: int | None
    consecutive_failures: int  # after this run: 0 for a recovered feed


def feed_changes(results: Iterable[FeedResult], failures_before: Mapping[int, int]) -> list[FeedChange]:
    """Every failing feed is ``failed`` (each run, with its failures in a row,
    so that an alert can count them), and also ``disabled`` when the failure
    disables it; a feed that was failing and now answers is ``recovered``.
    A feed that keeps working changes nothing."""
    changes = []
    for result in results:
        before = failures_before.get(result.feed_id, 0)
        if result.error is not None:
            kinds: tuple[FeedChangeKind, ...] = ("failed", "disabled") if result.disabled else ("failed",)
            changes.extend(
                FeedChange(kind, result.feed_id, result.url, result.error, result.error_kind, result.status,
                           before + 1)
                for kind in kinds
            )
        elif before > 0:
            changes.append(FeedChange("recovered", result.feed_id, result.url, None, None, result.status, 0))
    return changes
