"""Background searches shared by every session: the core queue and the job registry."""

from __future__ import annotations

import threading

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.store import experiment_store
from tuning.engine.spec import ExperimentSpec
from tuning.services.jobs import CoreQueue, SearchJob


@st.cache_resource(show_spinner=False)
def core_queue() -> CoreQueue:
    """One line for the machine's cores, shared by every session of this server."""
    return CoreQueue()


@st.cache_resource(show_spinner=False)
def _job_registry() -> tuple[threading.Lock, dict[str, SearchJob]]:
    """Searches by spec, shared by every session: one spec is never run twice at once."""
    return threading.Lock(), {}


def start_or_join_search(spec: ExperimentSpec, *, restart: bool = False, scheduler: str | None = None) -> SearchJob:
    """The running (or finished) job for this spec, started if there is none."""
    lock, jobs = _job_registry()
    key = spec.to_json()
    with lock:
        job = jobs.get(key)
        if job is None or (restart and job.state().status in ("cancelled", "failed")):
            job = SearchJob(spec, refit=True, store=experiment_store(), scheduler=scheduler,
                            queue=None if scheduler else core_queue(), max_epochs=hosted_limits().search_epochs())
            jobs[key] = job
            while len(jobs) > 16:  # bounded: forget the oldest finished searches
                oldest = next((k for k, j in jobs.items() if j.state().status != "running"), None)
                if oldest is None:
                    break
                jobs.pop(oldest)
        return job


def find_search(spec: ExperimentSpec) -> SearchJob | None:
    lock, jobs = _job_registry()
    with lock:
        return jobs.get(spec.to_json())
