"""Searches in background threads, which a UI polls for progress and can stop.

A process-wide :class:`CoreQueue` makes sure concurrent searches never ask for more
workers than the machine has cores: later searches wait, first come first served, and
see their place in the line; a search never runs more workers than the slots it holds.
A search that nobody looks at any more (its viewers left) gives up its place in the
line, or, once running, stops after the unit of work in progress and frees its slots.

Each job has an owner key: only a caller that shows it can stop the job
(:meth:`SearchJob.stop`), while anyone can watch it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuning.engine.results import SearchResult
from tuning.engine.search import Progress, run_search
from tuning.engine.spec import ExperimentSpec
from tuning.errors import StoreError, TuningError

log = logging.getLogger(__name__)


class CoreQueue:
    """First-come-first-served slots for worker processes, ``capacity`` in all."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or os.cpu_count() or 1
        self._in_use = 0
        self._line: list[object] = []
        self._cond = threading.Condition()

    def acquire(self, ticket: object, slots: int, *, give_up: Callable[[], bool] | None = None) -> bool:
        """Wait until ``slots`` are free and ``ticket`` is first in line; False if ``give_up()`` says so first."""
        slots = min(slots, self.capacity)
        with self._cond:
            self._line.append(ticket)
            try:
                while not (self._line[0] is ticket and self._in_use + slots <= self.capacity):
                    if give_up is not None and give_up():
                        return False
                    self._cond.wait(timeout=0.2)
                self._in_use += slots
                return True
            finally:
                self._line.remove(ticket)
                self._cond.notify_all()

    def release(self, slots: int) -> None:
        with self._cond:
            self._in_use -= min(slots, self.capacity)
            self._cond.notify_all()

    def place(self, ticket: object) -> int | None:
        """1 for the next in line, 2 for the one after…; None when not waiting."""
        with self._cond:
            return self._line.index(ticket) + 1 if ticket in self._line else None

    @property
    def in_use(self) -> int:
        with self._cond:
            return self._in_use


@dataclass(frozen=True)
class JobState:
    """A snapshot of a job, safe to read from any thread."""

    status: str  # "queued", "running", "finished", "cancelled" or "failed"
    progress: Progress | None
    result: SearchResult | None
    error: str | None
    place: int | None = None
    abandoned: bool = False  # stopped (or given up) because nobody was watching it


class SearchJob:
    """Run :func:`tuning.engine.search.run_search` in a daemon thread.

    >>> job = SearchJob(spec, n_jobs=2)   # starts at once (or queues for cores)
    >>> job.state().progress              # poll from the UI: polling is watching
    >>> job.stop(job.owner_key)           # keeps every finished fit

    Parameters
    ----------
    spec : ExperimentSpec
    queue : CoreQueue, optional
        Wait here for ``n_jobs`` free cores before starting; the search then runs at most
        as many workers as the slots it holds.
    abandon_after : float or None, default=60
        When nobody has called :meth:`state` or :meth:`wait` for this long, a queued job
        leaves the line and a running one stops after its unit of work in progress
        (keeping every finished fit). None: never.
    **options
        Passed on to :func:`~tuning.engine.search.run_search`.
    """

    def __init__(self, spec: ExperimentSpec, *, queue: CoreQueue | None = None, abandon_after: float | None = 60.0,
                 **options: Any) -> None:
        self.spec = spec
        self.started = time.time()
        self.owner_key = secrets.token_urlsafe(16)
        self._queue = queue
        self._abandon_after = abandon_after
        self._seen = time.monotonic()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._abandoned = False
        self._waiting = queue is not None
        self._progress: Progress | None = None
        self._result: SearchResult | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, kwargs=options, daemon=True, name="tuning-search")
        self._thread.start()
        if abandon_after is not None:
            threading.Thread(target=self._watch, daemon=True, name="tuning-search-watch").start()

    def _on_progress(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _unwatched(self) -> bool:
        return self._abandon_after is not None and time.monotonic() - self._seen > self._abandon_after

    def _watch(self) -> None:
        """Stop the search once nobody has watched it for ``abandon_after`` seconds."""
        while self._thread.is_alive():
            if self._unwatched() and not self._cancel.is_set():
                log.info("stopping a search nobody has watched for %.0f s", self._abandon_after)
                self._abandoned = True
                self._cancel.set()
            self._thread.join(timeout=min(1.0, self._abandon_after / 4))

    def _wait_for_cores(self, slots: int) -> bool:
        def give_up() -> bool:  # stopped, or nobody has looked at the job for a while
            return self._cancel.is_set() or self._unwatched()

        acquired = self._queue.acquire(self, slots, give_up=give_up)
        with self._lock:
            self._waiting = False
        return acquired

    def _run(self, **options: Any) -> None:
        slots = options.get("n_jobs") or self.spec.n_jobs or 1
        slots = (os.cpu_count() or 1) if slots < 0 else slots
        if self._queue is not None:
            slots = min(slots, self._queue.capacity)
            options["n_jobs"] = slots  # never more workers than the slots held
            if not self._wait_for_cores(slots):
                with self._lock:
                    self._abandoned = self._abandoned or not self._cancel.is_set()
                    self._error = "the search was given up before it started: nobody was waiting for it any more"
                return
        try:
            try:
                result = run_search(self.spec, progress=self._on_progress, cancel=self._cancel, **options)
            except StoreError as exc:  # the search matters more than keeping it: run it without history
                if options.get("store") is None:
                    raise
                log.warning("running the search without the experiment store: %s", exc)
                result = run_search(self.spec, progress=self._on_progress, cancel=self._cancel,
                                    **{**options, "store": None})
        except TuningError as exc:
            error, result = str(exc), None
        except Exception:  # the one boundary of this thread: log it, tell the UI in one line
            log.exception("search failed unexpectedly")
            error, result = "the search stopped on an unexpected internal error; the server log has the details", None
        else:
            error = None
        finally:
            if self._queue is not None:
                self._queue.release(slots)
        with self._lock:
            self._result, self._error = result, error

    def may_stop(self, key: str | None) -> bool:
        """Whether ``key`` is this job's owner key."""
        return bool(key) and hmac.compare_digest(key.encode(), self.owner_key.encode())

    def stop(self, key: str | None) -> bool:
        """Stop the job if ``key`` is its owner key (see :meth:`cancel`); False otherwise."""
        if not self.may_stop(key):
            return False
        self.cancel()
        return True

    def cancel(self) -> None:
        """Stop after the units of work in progress (or leave the queue); finished fits are kept."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobState:
        """Wait for the job to end (waiting counts as watching it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread.is_alive():
            self._seen = time.monotonic()
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if left <= 0:
                break
            self._thread.join(left)
        return self.state()

    def state(self) -> JobState:
        """The job's status; calling it also tells the job that someone is still watching it."""
        self._seen = time.monotonic()
        with self._lock:
            if self._error is not None:
                status = "failed"
            elif self._result is not None:
                status = self._result.status
            elif self._waiting:
                status = "queued"
            else:
                status = "running"
            place = self._queue.place(self) if self._queue is not None and status == "queued" else None
            return JobState(status, self._progress, self._result, self._error, place, self._abandoned)
