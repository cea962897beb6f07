"""Long-lived worker processes for the CPU-bound stages (extraction, NER).

One pool per process, started on first use and kept for every batch and
run after it (`newsflow serve` runs many): each worker loads the spaCy model
once, which per-call pools (nlp.pipe(n_process=…)) pay again every time.
Workers are not forked from the caller, so they inherit none of Prefect's
threads and event loops: they fork from multiprocessing's fork server, a
fresh process that imports the extractor and NER libraries once for all
of them (spawned workers each imported them again: about 1 s of CPU a
worker, at the start of every command, when the machine is busiest).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Generic, NoReturn, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What every worker imports: trafilatura and lxml, spaCy, datasketch (scipy).
PRELOADED = ("pipeline.process", "pipeline.enrich", "pipeline.neardup", "spacy", "datasketch")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_warmed: set[tuple[str, ...]] = set()  # the model sets the current pool's workers have loaded


def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
    _warmed.clear()


def pool(workers: int) -> ProcessPoolExecutor | None:
    """The process pool, or None when one worker (the caller itself) is asked for."""
    global _pool, _pool_size
    if workers <= 1:
        return None
    if _pool is None or _pool_size != workers:
        _shutdown()
        _pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=_start_method(), initializer=_exit_without_teardown,
        )
        _pool_size = workers
        atexit.register(_shutdown)
    return _pool


def _start_method():
    """The fork server with the workers' libraries preloaded; spawn where
    there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOADED))
    return context


def _exit_without_teardown() -> None:
    """In a worker: end without the interpreter's teardown.  Freeing a loaded
    spaCy model object by object takes over a second per worker at the end of
    every command; the operating system frees the memory at once.  Results
    are all sent by then (the pool sends each before taking the next call)."""
    atexit.register(exit_now, 0)


def exit_now(code: int) -> NoReturn:
    """Flush the standard streams and end the process with ``code``, skipping
    the interpreter's teardown; the caller has run what must run first."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)


def warm_up(models: dict[str, str], workers: int) -> None:
    """Start the worker processes now and have each load the NER models,
    while the caller goes on; returns at once.  The workers are started from
    a thread: each start waits until the fork server has imported the
    libraries (about a second), which the caller has better things to do
    than wait for."""
    executor = pool(workers)  # no process starts before the first call
    names = tuple(sorted(set(models.values())))
    if executor is not None and names not in _warmed:
        _warmed.add(names)
        threading.Thread(
            target=_start_workers, args=(executor, models, workers), name="newsflow-warm-up", daemon=True
        ).start()


def _start_workers(executor: ProcessPoolExecutor, models: dict[str, str], workers: int) -> None:
    try:
        for _ in range(workers):
            executor.submit(_prepare_worker, models)
    except RuntimeError:  # the command ended first and shut the pool down
        pass


def _prepare_worker(models: dict[str, str]) -> None:
    import pipeline.process  # noqa: F401  (trafilatura and lxml, imported once)
    from pipeline.enrich import load_nlp
    from pipeline.neardup import fingerprint

    fingerprint("")  # imports datasketch and draws the permutations

    for name in sorted(set(models.values())):
        load_nlp(name)


class Pending(Generic[R]):
    """Results of work handed to the pool, in input order, once asked for;
    the caller goes on with other work meanwhile."""

    def __init__(self, futures: list[Future] | None = None, done: list[R] | None = None):
        self._futures = futures or []
        self._done = done

    def ready(self) -> bool:
        return self._done is not None or all(future.done() for future in self._futures)

    def result(self) -> list[R]:
        if self._done is None:
            self._done = [result for future in self._futures for result in future.result()]
        return self._done


def submit_in_chunks(function: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int) -> Pending[R]:
    """``function`` over ``items`` split into one chunk per worker, started
    now; with one worker it runs here, before this returns."""
    executor = pool(workers) if items else None
    if executor is None:
        return Pending(done=function(items) if items else [])
    size = -(-len(items) // workers)
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    return Pending(futures=[executor.submit(function, chunk) for chunk in chunks])


def map_in_chunks(function: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int) -> list[R]:
    """``function`` over ``items`` in the workers, results in input order."""
    return submit_in_chunks(function, items, workers).result()
