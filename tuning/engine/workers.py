"""The worker processes a search runs on this machine (joblib's loky processes), stopped at once."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal


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
