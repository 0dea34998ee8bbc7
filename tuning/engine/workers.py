"""The worker processes a search runs on this machine (joblib's loky processes): started early, stopped at once.

This module imports nothing heavy, so that a command can start the workers before it
imports scikit-learn itself: a worker process needs about as long to import the engine
as this process does, and both can do it at the same time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import weakref
from typing import Any

_started_executors: weakref.WeakSet = weakref.WeakSet()


def _kill_workers() -> None:
    """Kill the workers' processes, whatever they are doing (their results are not wanted any more)."""
    for executor in list(_started_executors):
        executor.shutdown(wait=False, kill_workers=True)


def kill_at_exit(executor: Any) -> None:
    """Have the interpreter kill ``executor``'s workers when it exits, rather than wait for their tasks.

    loky's own exit hook waits for every task in flight. Call this after submitting a task:
    loky registers its hook on the first one, and this one, registered after it, runs
    first, so stopping a server or a command is never held up by a unit.
    """
    if not _started_executors:
        threading._register_atexit(_kill_workers)
    _started_executors.add(executor)


def worker_pool(n_workers: int) -> Any:
    """joblib's own reusable process pool of ``n_workers`` (with its temporary-folder manager).

    The same pool every time for the same size, so that scikit-learn's ``Parallel`` can reuse
    it after a search, and a search finds the workers :func:`start_workers` started.
    """
    from joblib.executor import get_memmapping_executor

    return get_memmapping_executor(n_workers)


def ready() -> bool:
    """A worker's first task: it has imported the engine and can take units."""
    import tuning.engine.search  # noqa: F401  (what every unit needs: scikit-learn and the trainers)

    return True


def start_workers(n_workers: int) -> None:
    """Start ``n_workers`` worker processes now, each importing the engine, and return at once.

    For a command about to run a search: the workers start and import scikit-learn while
    this process imports it too, instead of after it (a second or more each, on the
    search's critical path). Workers the search does not use are killed at exit.
    """
    if n_workers >= 1:
        executor = worker_pool(n_workers)
        for _ in range(n_workers):
            executor.submit(ready)
        kill_at_exit(executor)


def stop_worker_processes() -> None:
    """Kill this process's worker processes now, for a server that is stopping.

    The units of work they were running are lost; every unit that finished was already
    handed back (and kept in the experiment store), so a rerun resumes from there. Without
    this, the interpreter would wait at exit for the workers to finish their units.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=False, kill_workers=True)
    for child in multiprocessing.active_children():  # what is left, without waiting for the executor to do it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child.pid, signal.SIGKILL)
