"""What the server does once: when it starts and when it stops (the lifespan of app.py's ``st.App``)."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from sklearn.exceptions import ConvergenceWarning, FitFailedWarning

from dashboard.lessons import lesson_preparer
from tuning.engine.workers import stop_worker_processes


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start preparing the lesson presets as the server starts; stop everything it started as it stops.

    The presets are computed in a low-priority process of their own, so that a visitor
    arriving a minute later sees every chart at once. Stopping (Ctrl+C, SIGTERM) kills
    that process and the worker processes of any search at once instead of waiting for
    them (the units of work that finished are already committed to the experiment store),
    then ends the process.
    """
    quiet_expected_warnings()
    preparer = lesson_preparer()
    preparer.start()
    try:
        yield
    finally:
        preparer.stop()
        stop_worker_processes()
    _exit_now()


def quiet_expected_warnings() -> None:
    """Keep out of the server's log what scikit-learn warns about while visitors' searches train.

    Networks that do not converge, batches larger than the data, fits that fail and the NaN
    scores they leave are the results of a visitor's search, shown on its page beside the
    results; in the log they were hundreds of lines per class. The filters are the server
    process's; the units it hands its worker processes carry them along.
    """
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FitFailedWarning)
    warnings.filterwarnings("ignore", message="One or more of the (test|train) scores are non-finite")
    warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger than sample size")


def _exit_now() -> None:
    """End the server process now, with status 0, once what it started is stopped.

    A normal interpreter exit waits for what no longer matters: exit handlers (a Dask
    cluster that a search thread was starting waits out its 10 s timeouts), the last
    garbage collections over everything scikit-learn, pandas, Plotly and Streamlit loaded
    (1-2 s on a busy machine), threads still running a search whose workers are gone.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)
