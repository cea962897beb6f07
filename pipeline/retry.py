"""Trying an operation again after a transient failure: one back-off policy for
the database and for HTTP, with a runner for synchronous and one for
asynchronous code (the two loops differ only in how they sleep)."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# A generator of its own: jitter drawn in a background thread does not
# consume (or depend on) the process-wide one that other code seeds.
_JITTER = random.Random()


class GaveUp(Exception):
    """No further attempt: ``error`` is the last failure, after ``attempts``
    attempts. ``wait`` is the wait that was refused as longer than the
    policy's ``max_wait``, or None when the attempts ran out."""

    def __init__(self, error: Exception, attempts: int, wait: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts
        self.wait = wait


@dataclass(frozen=True)
class Backoff:
    """How often to try and how long to wait in between: ``first_wait``
    seconds before the second attempt, doubled before each one after it."""

    attempts: int  # in all, the first one included
    first_wait: float
    # Each wait drawn from 0.5 to 1.5 times itself, so that clients that
    # failed together do not all come back at the same moment.
    jitter: bool = False
    # A longer wait, e.g. one a server asks for, gives up instead of waiting.
    max_wait: float = math.inf

    def wait_after(self, attempt: int, error: Exception, requested: float | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` (0 is the first)
        failed with ``error``; ``requested``, a wait the other side asked for,
        takes the place of the back-off. Raises GaveUp when no attempt is
        left or the wait would be longer than ``max_wait``."""
        made = attempt + 1
        if made >= self.attempts:
            raise GaveUp(error, made)
        if requested is not None:
            wait = requested
        else:
            wait = self.first_wait * 2 ** attempt
            if self.jitter:
                wait *= _JITTER.uniform(0.5, 1.5)
        if wait > self.max_wait:
            raise GaveUp(error, made, wait)
        return wait


def retry(
    operation: Callable[[], T], backoff: Backoff, *, transient: Callable[[Exception], bool],
    requested_wait: Callable[[Exception], float | None] = lambda error: None,
) -> T:
    """``operation()``, run again after each failure ``transient`` accepts,
    as ``backoff`` says; any other error is raised as it is, and GaveUp when
    ``backoff`` says to stop."""
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as error:
            if not transient(error):
                raise
            wait = backoff.wait_after(attempt, error, requested_wait(error))
        time.sleep(wait)
        attempt += 1


async def retry_async(
    operation: Callable[[], Awaitable[T]], backoff: Backoff, *, transient: Callable[[Exception], bool],
    requested_wait: Callable[[Exception], float | None] = lambda error: None,
) -> T:
    """``retry`` for a coroutine function: the waits sleep without blocking the event loop."""
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as error:
            if not transient(error):
                raise
            wait = backoff.wait_after(attempt, error, requested_wait(error))
        await asyncio.sleep(wait)
        attempt += 1
