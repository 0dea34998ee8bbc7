"""This machine's measured training speed and how busy it is now, for the Grid Search time estimate."""

from __future__ import annotations

import streamlit as st

from tuning.engine import throughput
from tuning.engine.throughput import Throughput


@st.cache_resource(show_spinner=False)
def _measured(path: str) -> Throughput:
    cached = throughput.load_throughput(path)
    if cached is not None:
        return cached
    with st.spinner("Measuring this machine's training speed once, for the time estimates (a few seconds)…"):
        return throughput.machine_throughput(path)


def machine_throughput() -> Throughput:
    """The throughput file's figures (``$TUNING_THROUGHPUT`` or ``~/.tuning-lab/throughput.json``)."""
    return _measured(str(throughput.default_throughput_path()))


@st.cache_data(ttl=10, show_spinner=False)
def machine_load() -> float:
    """Other work sharing the cores now (a 50 ms probe), measured at most every 10 seconds per server."""
    return throughput.machine_load_now()
