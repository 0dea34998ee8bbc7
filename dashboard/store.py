"""The experiment store every session of this server shares, or none when it cannot be used."""

from __future__ import annotations

import logging

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.text import plain
from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult
from tuning.engine.spec import ExperimentSpec
from tuning.engine.store import ExperimentStore, default_store_path, experiment_id
from tuning.errors import StoreError

log = logging.getLogger("tuning_lab")


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> ExperimentStore:
    return ExperimentStore(path)


def _usable_store() -> tuple[ExperimentStore | None, StoreError | None]:
    try:
        store = _store_at(str(default_store_path()))
        store.check()  # it may have been damaged or made read-only since it was opened
        return store, None
    except StoreError as exc:
        return None, exc


def experiment_store() -> ExperimentStore | None:
    """The store every session shares (``$TUNING_STORE`` or ``~/.tuning-lab/experiments.sqlite``),
    or None when it is damaged, read-only or not a store: the app then works without history."""
    return _usable_store()[0]


def store_problem(exc: StoreError | None = None) -> None:
    """Say once, on this page, that history is off, and why (locally: the file and what to do).

    A visitor of a hosted server is not shown the server's path; its log has the details.
    """
    exc = exc or _usable_store()[1]
    if exc is None:
        return
    log.warning("experiment history is off: %s", exc)
    if hosted_limits().enabled:
        st.warning("Experiment history is off on this server (its experiment store cannot be used). Searches "
                   "still run; they are not kept.", icon=":material/database_off:")
    else:
        st.warning(plain(f"Experiment history is off: {exc}. Searches still run; they are not kept."),
                   icon=":material/database_off:")


def stored_result(spec: ExperimentSpec, data: Dataset) -> SearchResult | None:
    """The finished result of this spec on this data from the store, or None (no store, not run, or unusable)."""
    store = experiment_store()
    if store is None:
        return None
    try:
        return store.load_result(experiment_id(spec, data))
    except StoreError as exc:
        store_problem(exc)
        return None


def fits_done(spec: ExperimentSpec, data: Dataset) -> set[tuple[int, int]]:
    """The (candidate, fold) fits the store already holds for this spec on this data (an interrupted
    run's, which running it again resumes from); empty without a usable store."""
    store = experiment_store()
    if store is None:
        return set()
    try:
        return {(r.candidate, r.fold) for unit in store.units(experiment_id(spec, data)) for r in unit.records}
    except StoreError as exc:
        store_problem(exc)
        return set()
