"""Background searches shared by every session: the core queue, the job registry, and who may stop a search.

Any session opening a spec sees its search and can watch it; only the session that
started it, or whoever opens its owner link (``?owner=KEY``), can stop it. A search that
nobody watches stops after ``$TUNING_ABANDON_SECONDS`` (60 s by default) and frees its
place in the queue.
"""

from __future__ import annotations

import os
import threading

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.store import experiment_store
from tuning.engine.cluster import LOCAL
from tuning.engine.spec import ExperimentSpec
from tuning.services.jobs import CoreQueue, SearchJob

DEFAULT_ABANDON_SECONDS = 60.0


@st.cache_resource(show_spinner=False)
def core_queue() -> CoreQueue:
    """One line for the machine's cores, shared by every session of this server."""
    return CoreQueue()


@st.cache_resource(show_spinner=False)
def _job_registry() -> tuple[threading.Lock, dict[str, SearchJob]]:
    """Searches by spec, shared by every session: one spec is never run twice at once."""
    return threading.Lock(), {}


def abandon_after() -> float:
    """Seconds a search may go unwatched before it stops: ``$TUNING_ABANDON_SECONDS``, else 60."""
    try:
        return max(1.0, float(os.environ.get("TUNING_ABANDON_SECONDS", DEFAULT_ABANDON_SECONDS)))
    except ValueError:
        return DEFAULT_ABANDON_SECONDS


def _owner_keys() -> dict[str, str]:
    return st.session_state.setdefault("search_owner_keys", {})


def start_or_join_search(spec: ExperimentSpec, *, restart: bool = False, scheduler: str | None = None) -> SearchJob:
    """The running (or finished) job for this spec, started (and owned by this session) if there is none."""
    lock, jobs = _job_registry()
    key = spec.to_json()
    with lock:
        job = jobs.get(key)
        if job is None or (restart and job.state().status in ("cancelled", "failed")):
            job = SearchJob(spec, refit=True, store=experiment_store(), scheduler=scheduler,
                            queue=core_queue() if scheduler in (None, LOCAL) else None,
                            abandon_after=abandon_after(), limits=hosted_limits().search_limits())
            jobs[key] = job
            _owner_keys()[key] = job.owner_key
            while len(jobs) > 16:  # bounded: forget the oldest finished searches
                oldest = next((k for k, j in jobs.items() if j.state().status not in ("queued", "running")), None)
                if oldest is None:
                    break
                jobs.pop(oldest)
        return job


def find_search(spec: ExperimentSpec) -> SearchJob | None:
    lock, jobs = _job_registry()
    with lock:
        return jobs.get(spec.to_json())


def owner_key(job: SearchJob) -> str | None:
    """This session's key to ``job``: it started the job, or opened the job's owner link."""
    mine = _owner_keys().get(job.spec.to_json())
    linked = st.query_params.get("owner")
    return next((k for k in (mine, linked) if job.may_stop(k)), None)


def owner_link(job: SearchJob, link: str) -> str:
    """The address that lets another tab or device stop ``job`` (it carries the owner key)."""
    return f"{st.context.url or ''}?spec={link}&owner={job.owner_key}"
