"""Long-lived worker processes for the CPU-bound stages (extraction, NER).

One pool per process, started on first use and kept for every batch after
it: each worker loads the spaCy model once per process, which per-call pools
(nlp.pipe(n_process=…)) pay again for every call.  The pool lives as long as
its process, and no longer: a command's run (`newsflow ingest`) and each
flow run of `newsflow serve` or of a work pool are processes of their own
(Prefect's runner starts every flow run in a new subprocess), so every run
pays the pool's start and the model loads once, about 1.7 s with 2 workers
(`python bench/startup.py --only workers`, docs/benchmarks.md).
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
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Generic, NoReturn, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What every worker imports: trafilatura and lxml, spaCy, datasketch (scipy).
PRELOADED = ("pipeline.process", "pipeline.enrich.models", "pipeline.neardup", "spacy", "datasketch")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_warmed: set[tuple[str, ...]] = set()  # the model sets the current pool's workers have loaded


def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
    _warmed.clear()


def replace_workers(broken: ProcessPoolExecutor | None = None) -> None:
    """Stop every worker at once, busy or not, and start afresh on next use:
    for a worker stuck past its limit in code that no signal reaches, or a
    pool one of whose workers died.  With ``broken``, only if that pool is
    still the current one (several callers may notice one breakage).  Work in
    flight in the other workers ends as BrokenProcessPool for its callers."""
    global _pool
    if _pool is not None and (broken is None or _pool is broken):
        _kill_workers(_pool)
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
        _warmed.clear()


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """ProcessPoolExecutor.kill_workers() from Python 3.14 on; before it the
    pool's processes are reachable only through its private ``_processes``
    (a dict of pid -> Process since Python 3.2), checked here."""
    if hasattr(executor, "kill_workers"):
        executor.kill_workers()
        return
    processes = getattr(executor, "_processes", None)
    if not isinstance(processes, dict):
        raise RuntimeError(f"cannot stop a stuck worker on Python {sys.version.split()[0]}")
    for process in list(processes.values()):
        process.kill()


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
    from pipeline.enrich.models import load_nlp
    from pipeline.extract import load_models
    from pipeline.neardup import fingerprint

    load_models()  # the language model and the date parser: not on the first page's time
    fingerprint("")  # imports datasketch and draws the permutations

    for name in sorted(set(models.values())):
        load_nlp(name)


# Time for a replaced worker to start and load its models, on top of its items' limits.
START_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class TimeLimit(Generic[T, R]):
    """How long one item may take in a worker, and the result that stands in
    for an item that took longer (kind "timeout") or whose worker died or was
    replaced (kind "worker-lost"): ``failed(item, kind, message)``.  The
    function itself is expected to stop an item at ``seconds``
    (pipeline/timelimit.py); past its chunk's whole budget the parent stops
    waiting and replaces the workers.  A chunk whose worker died runs once
    more before its items count as lost."""

    seconds: float
    failed: Callable[[T, str, str], R]
    grace: float = START_GRACE_SECONDS


class Pending(Generic[R]):
    """Results of work handed to the pool, in input order, once asked for;
    the caller goes on with other work meanwhile."""

    def __init__(
        self, futures: list[Future] | None = None, done: list[R] | None = None, *,
        chunks: Sequence[Sequence] = (), function: Callable | None = None, workers: int = 1,
        executor: ProcessPoolExecutor | None = None, limit: TimeLimit | None = None,
    ):
        self._futures = futures or []
        self._done = done
        self._chunks, self._function, self._workers = chunks, function, workers
        self._executor, self._limit = executor, limit

    def ready(self) -> bool:
        return self._done is not None or all(future.done() for future in self._futures)

    def result(self) -> list[R]:
        if self._done is None:
            if self._limit is None:
                self._done = [result for future in self._futures for result in future.result()]
            else:
                self._done = self._results_within(self._limit)
        return self._done

    def _results_within(self, limit: TimeLimit) -> list[R]:
        # Every wait has a limit: each item's own, plus a replaced worker's start.
        _, late = wait(self._futures, timeout=limit.grace + limit.seconds * max(map(len, self._chunks)))
        if late:
            replace_workers(self._executor)
        results: list[R] = []
        for future, chunk in zip(self._futures, self._chunks, strict=True):
            if future in late:
                message = f"a worker took longer than {limit.seconds:g} s an item and was replaced"
                results += [limit.failed(item, "timeout", message) for item in chunk]
                continue
            try:
                results += future.result()
            except BrokenProcessPool:
                results += self._once_more(chunk, limit)
        return results

    def _once_more(self, chunk: Sequence, limit: TimeLimit) -> list[R]:
        """A chunk whose worker died (killed, out of memory, or replaced for
        another's stuck item) runs once more, on fresh workers."""
        replace_workers(self._executor)
        executor = pool(self._workers)
        try:
            return executor.submit(self._function, chunk).result(timeout=limit.grace + limit.seconds * len(chunk))
        except TimeoutError:
            replace_workers(executor)
            kind, message = "timeout", f"a worker took longer than {limit.seconds:g} s an item and was replaced"
        except BrokenProcessPool:
            replace_workers(executor)
            kind, message = "worker-lost", "its worker process ended twice before finishing (killed, out of memory)"
        return [limit.failed(item, kind, message) for item in chunk]


def submit_in_chunks(
    function: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int, limit: TimeLimit | None = None
) -> Pending[R]:
    """``function`` over ``items`` split into one chunk per worker, started
    now; with one worker it runs here, before this returns.  With ``limit``,
    an item that takes too long, or dies with its worker, gets its
    ``limit.failed`` result instead of holding up or failing the rest."""
    executor = pool(workers) if items else None
    if executor is None:
        return Pending(done=function(items) if items else [])
    size = -(-len(items) // workers)
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    try:
        futures = [executor.submit(function, chunk) for chunk in chunks]
    except BrokenProcessPool:  # a worker died since the pool's last use: start afresh
        replace_workers(executor)
        executor = pool(workers)
        futures = [executor.submit(function, chunk) for chunk in chunks]
    return Pending(futures, chunks=chunks, function=function, workers=workers, executor=executor, limit=limit)


def map_in_chunks(
    function: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int, limit: TimeLimit | None = None
) -> list[R]:
    """``function`` over ``items`` in the workers, results in input order."""
    return submit_in_chunks(function, items, workers, limit).result()
