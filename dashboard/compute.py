"""Where searches run: this machine, or a Dask scheduler with its workers shown."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from tuning.engine.cluster import cluster_status
from tuning.errors import TuningError


@st.cache_data(ttl=10, show_spinner=False)
def _cluster_status(address: str) -> dict[str, Any]:
    return cluster_status(address)


def compute_choice() -> tuple[str | None, bool]:
    """Sidebar: this machine, or a Dask scheduler (with its workers shown). Returns (address, usable)."""
    with st.sidebar:
        st.header("Compute")
        where = st.radio("Run searches on", ["This machine", "A Dask cluster"], key="compute_where",
                         horizontal=True)
        if where == "This machine":
            return None, True
        st.session_state.setdefault("compute_address", os.environ.get("TUNING_DASK_SCHEDULER", "tcp://127.0.0.1:8786"))
        address = st.text_input("Scheduler address", key="compute_address",
                                help="tcp://HOST:PORT of `dask scheduler`, or 'local' for a cluster on this machine")
        try:
            status = _cluster_status(address.strip())
        except TuningError as exc:
            st.error(str(exc), icon=":material/cloud_off:")
            return address, False
        st.success(f"Connected: {len(status['workers'])} worker(s), {status['threads']} thread(s)",
                   icon=":material/cloud_done:")
        st.dataframe(status["workers"], hide_index=True, key="compute_workers")
        return address.strip(), True
