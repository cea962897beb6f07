"""Ending the `newsflow` process without the interpreter's teardown, by documented means.

After a command, freeing every object one by one (Prefect's, SQLAlchemy's,
spaCy's, the pages') took up to 1.5 s for nothing: the operating system frees
a process's memory at once.  What a normal exit does before that teardown
still happens, in its order: the non-daemon threads are joined (Prefect's log
and event workers send what they hold), then the atexit handlers run, newest
first (the worker pool, Prefect's temporary server and the embedded
PostgreSQL stop).  The handler registered here, when this module is imported
(before the libraries register theirs), runs last of them: it flushes the
standard streams and leaves with ``os._exit``.

The order relied on is documented: atexit runs handlers "in the reverse order
in which they were registered" (library reference, ``atexit``), and the
interpreter waits for non-daemon threads, then runs the atexit functions,
then finalizes (C API reference, "Cautions regarding runtime finalization").
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from functools import partial
from typing import NoReturn

# Set by exit_without_teardown: importing this module changes nothing until a command ends through it.
_leave: Callable[[], object] | None = None


def _leave_before_teardown() -> None:
    if _leave is not None:
        _leave()


atexit.register(_leave_before_teardown)


def exit_without_teardown(code: int) -> NoReturn:
    """``sys.exit(code)``: threads joined and atexit handlers run as usual,
    then the process ends with ``code`` instead of tearing the interpreter down."""
    global _leave
    from flows.workers import exit_now  # now: nothing should be imported once the exit has begun

    _leave = partial(exit_now, code)
    sys.exit(code)
