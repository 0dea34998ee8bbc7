"""A search in a background thread, which a UI polls for progress and can stop."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from tuning.errors import TuningError
from tuning.results import SearchResult
from tuning.search import Progress, run_search
from tuning.spec import ExperimentSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobState:
    """A snapshot of a job, safe to read from any thread."""

    status: str  # "running", "finished", "cancelled" or "failed"
    progress: Progress | None
    result: SearchResult | None
    error: str | None


class SearchJob:
    """Run :func:`tuning.search.run_search` in a daemon thread.

    >>> job = SearchJob(spec, n_jobs=2)   # starts at once
    >>> job.state().progress              # poll from the UI
    >>> job.cancel()                      # keeps every finished fit
    """

    def __init__(self, spec: ExperimentSpec, **options: Any) -> None:
        self.spec = spec
        self.started = time.time()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._progress: Progress | None = None
        self._result: SearchResult | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, kwargs=options, daemon=True, name="tuning-search")
        self._thread.start()

    def _on_progress(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _run(self, **options: Any) -> None:
        try:
            result = run_search(self.spec, progress=self._on_progress, cancel=self._cancel, **options)
        except TuningError as exc:
            error = str(exc)
            result = None
        except Exception:  # the one boundary of this thread: log it, tell the UI in one line
            log.exception("search failed unexpectedly")
            error = "the search stopped on an unexpected internal error; the server log has the details"
            result = None
        else:
            error = None
        with self._lock:
            self._result, self._error = result, error

    def cancel(self) -> None:
        """Stop after the units of work in progress; finished fits are kept."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobState:
        self._thread.join(timeout)
        return self.state()

    def state(self) -> JobState:
        with self._lock:
            if self._error is not None:
                status = "failed"
            elif self._result is not None:
                status = self._result.status
            else:
                status = "running"
            return JobState(status, self._progress, self._result, self._error)
