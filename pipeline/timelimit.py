"""A time limit on one item's work in a worker process.

One hostile page (a pattern that backtracks, a parser that loops) must cost
that page, not the run: the worker interrupts it after its limit and goes on
with the next item.  The limit is a SIGALRM, which Python code and the
regular-expression engine both notice; code that ignores signals is stopped
by the parent instead (flows/workers.py replaces the worker)."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(Exception):
    """The work in a ``time_limit`` block ran past its limit."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded in this block after ``seconds``.

    Only in the main thread of a worker process, which runs nothing but its
    items: anywhere else (the flow's own process, where Prefect may use the
    alarm for its timeouts) the block runs without a limit."""
    if not seconds or not _in_worker_main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_worker_main_thread() -> bool:
    return (
        hasattr(signal, "setitimer")
        and multiprocessing.parent_process() is not None
        and threading.current_thread() is threading.main_thread()
    )
