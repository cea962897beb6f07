"""Which feeds a run reports as failed, recovered or disabled."""

from __future__ import annotations

from pipeline.feed_events import FeedResult, feed_changes


def kinds(changes) -> list[tuple[str, int, int]]:
    return [(change.kind, change.feed_id, change.consecutive_failures) for change in changes]


def test_a_failing_feed_is_failed_every_run_with_its_failures_in_a_row():
    results = [FeedResult(1, "http://a.example/feed", error="HTTP 500", error_kind="http", status=500)]
    assert kinds(feed_changes(results, {})) == [("failed", 1, 1)]
    [change] = feed_changes(results, {1: 2})
    assert (change.kind, change.consecutive_failures, change.error, change.error_kind, change.status) == (
        "failed", 3, "HTTP 500", "http", 500)


def test_a_feed_that_answers_again_recovers_once():
    fetched = [FeedResult(2, "http://b.example/feed", status=200)]
    assert kinds(feed_changes(fetched, {2: 4})) == [("recovered", 2, 0)]
    assert feed_changes(fetched, {2: 0}) == []
    assert feed_changes(fetched, {}) == []


def test_a_gone_feed_is_failed_and_disabled():
    gone = [FeedResult(3, "http://c.example/feed", error="HTTP 410", error_kind="http", status=410, disabled=True)]
    assert kinds(feed_changes(gone, {3: 1})) == [("failed", 3, 2), ("disabled", 3, 2)]


def test_only_feeds_that_changed_are_reported_in_their_order():
    results = [
        FeedResult(1, "u1", status=200),
        FeedResult(2, "u2", error="timeout", error_kind="timeout"),
        FeedResult(3, "u3", status=304),
    ]
    assert kinds(feed_changes(results, {1: 0, 2: 0, 3: 7})) == [("failed", 2, 1), ("recovered", 3, 0)]
