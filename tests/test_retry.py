"""Unit tests for pipeline.retry: how many attempts, how long between them, and when to give up."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.retry import Backoff, GaveUp, retry, retry_async


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None):
        super().__init__("flaky")
        self.retry_after = retry_after


class Broken(Exception):
    pass


def failing(times: int, error: Exception = Flaky(), result="done"):
    """An operation that raises ``error`` on its first ``times`` calls; ``calls`` counts them all."""

    def operation():
        operation.calls += 1
        if operation.calls <= times:
            raise error
        return result

    operation.calls = 0
    return operation


def is_flaky(error: Exception) -> bool:
    return isinstance(error, Flaky)


def test_waits_double_from_the_first_one():
    backoff = Backoff(attempts=4, first_wait=0.5)
    assert [backoff.wait_after(attempt, Flaky()) for attempt in range(3)] == [0.5, 1.0, 2.0]


def test_jitter_keeps_each_wait_within_half_and_one_and_a_half_times_itself():
    backoff = Backoff(attempts=10, first_wait=1.0, jitter=True)
    waits = [backoff.wait_after(3, Flaky()) for _ in range(200)]
    assert all(4.0 <= wait <= 12.0 for wait in waits)
    assert len(set(waits)) > 1


def test_a_requested_wait_takes_the_place_of_the_back_off():
    assert Backoff(attempts=3, first_wait=0.5).wait_after(0, Flaky(), requested=7.0) == 7.0
    assert Backoff(attempts=3, first_wait=0.5).wait_after(0, Flaky(), requested=0.0) == 0.0


def test_no_attempt_left_gives_up_with_the_last_error_and_the_count():
    error = Flaky()
    with pytest.raises(GaveUp) as caught:
        Backoff(attempts=3, first_wait=0.5).wait_after(2, error)
    assert (caught.value.error, caught.value.attempts, caught.value.wait) == (error, 3, None)


@pytest.mark.parametrize("requested", [None, 31.0])
def test_a_wait_past_the_longest_allowed_gives_up_at_once(requested):
    backoff = Backoff(attempts=5, first_wait=40.0 if requested is None else 0.5, max_wait=30.0)
    with pytest.raises(GaveUp) as caught:
        backoff.wait_after(0, Flaky(), requested=requested)
    assert caught.value.attempts == 1
    assert caught.value.wait == (requested or 40.0)


def test_retry_runs_until_the_operation_succeeds():
    operation = failing(2)
    assert retry(operation, Backoff(attempts=3, first_wait=0), transient=is_flaky) == "done"
    assert operation.calls == 3


def test_retry_gives_up_after_its_attempts():
    operation = failing(5)
    with pytest.raises(GaveUp) as caught:
        retry(operation, Backoff(attempts=3, first_wait=0), transient=is_flaky)
    assert operation.calls == 3 and caught.value.attempts == 3


def test_an_error_that_is_not_transient_is_raised_as_it_is_at_once():
    operation = failing(1, Broken("no"))
    with pytest.raises(Broken):
        retry(operation, Backoff(attempts=3, first_wait=0), transient=is_flaky)
    assert operation.calls == 1


def test_retry_async_honours_the_requested_wait_and_its_limit():
    async def run(times: int, retry_after: float):
        operation = failing(times, Flaky(retry_after))

        async def call():
            return operation()

        backoff = Backoff(attempts=3, first_wait=5.0, max_wait=1.0)
        result = await retry_async(call, backoff, transient=is_flaky, requested_wait=lambda e: e.retry_after)
        return result, operation.calls

    # The server's short wait replaces a back-off that would be too long.
    assert asyncio.run(run(2, 0.0)) == ("done", 3)
    with pytest.raises(GaveUp) as caught:
        asyncio.run(run(2, 120.0))
    assert (caught.value.attempts, caught.value.wait) == (1, 120.0)
