"""The experiment store every session of this server shares."""

from __future__ import annotations

import streamlit as st

from tuning.engine.store import ExperimentStore, default_store_path


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> ExperimentStore:
    return ExperimentStore(path)


def experiment_store() -> ExperimentStore:
    """The store every session shares (``$TUNING_STORE`` or ``~/.tuning-lab/experiments.sqlite``)."""
    return _store_at(str(default_store_path()))
