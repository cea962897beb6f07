"""Long-lived worker processes for the CPU-bound stages (extraction, NER).

One pool per process, started on first use and kept for every batch and
run after it (`newsflow serve` runs many): each worker imports trafilatura
and loads the spaCy model once, which per-call pools (nlp.pipe(n_process=…))
pay again every time.  Workers are spawned, not forked, so they inherit
none of Prefect's threads and event loops.
"""

from __future__ import annotations

import atexit
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def pool(workers: int) -> ProcessPoolExecutor | None:
    """The process pool, or None when one worker (the caller itself) is asked for."""
    global _pool, _pool_size
    if workers <= 1:
        return None
    if _pool is None or _pool_size != workers:
        _shutdown()
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        _pool_size = workers
        atexit.register(_shutdown)
    return _pool


def map_in_chunks(function: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int) -> list[R]:
    """``function`` over ``items`` split into one chunk per worker, results in
    input order; in this process when there is one worker or one item."""
    executor = pool(workers) if len(items) > 1 else None
    if executor is None:
        return function(items)
    size = -(-len(items) // workers)
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    results: list[R] = []
    for part in executor.map(function, chunks):
        results.extend(part)
    return results
