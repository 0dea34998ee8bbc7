"""Where searches run: this machine, or a Dask scheduler with its workers shown.

A scheduler address is trusted code (Dask exchanges pickles: whoever runs the scheduler
can run code in this server). So on a hosted server only the server's own configuration
names it (``TUNING_DASK_SCHEDULER``, an environment variable or a root-level secret) and
visitors see no address box; a local install keeps the choice, with a warning.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.text import plain
from tuning.engine.cluster import LOCAL, TRUST_WARNING, check_address, cluster_status
from tuning.errors import TuningError

log = logging.getLogger("tuning_lab")


@st.cache_data(ttl=10, show_spinner=False)
def _cluster_status(address: str) -> dict[str, Any]:
    return cluster_status(address)


def server_scheduler() -> str | None:
    """The Dask scheduler this server's configuration names, if any (never ``local`` when hosted:
    a local cluster would start worker processes outside the core queue)."""
    address = os.environ.get("TUNING_DASK_SCHEDULER", "").strip() or None
    if address == LOCAL and hosted_limits().enabled:
        log.warning("TUNING_DASK_SCHEDULER=local is ignored in hosted mode: searches run in the core queue")
        return None
    return address


def _server_compute() -> tuple[str | None, bool]:
    """Hosted: the server's own choice, shown without its address."""
    address = server_scheduler()
    if address is None:
        st.caption(f"Searches run on this server, {hosted_limits().n_jobs} worker each, in a shared queue.")
        return None, True
    try:
        status = _cluster_status(check_address(address))
    except TuningError as exc:
        log.warning("the configured Dask scheduler cannot be used: %s", exc)
        st.error("This server's Dask cluster cannot be reached, so searches cannot run right now. Try again "
                 "later.", icon=":material/cloud_off:")
        return address, False
    st.caption(f"Searches run on this server's Dask cluster: {len(status['workers'])} worker(s), "
               f"{status['threads']} thread(s).")
    return address, True


def compute_choice() -> tuple[str | None, bool]:
    """Sidebar: where searches run. Returns (scheduler address or None, usable).

    Hosted, the server decides; locally, this machine or a Dask scheduler address.
    """
    with st.sidebar:
        st.header("Compute")
        if hosted_limits().enabled:
            return _server_compute()
        where = st.radio("Run searches on", ["This machine", "A Dask cluster"], key="compute_where",
                         horizontal=True)
        if where == "This machine":
            return None, True
        st.warning(TRUST_WARNING[0].upper() + TRUST_WARNING[1:], icon=":material/gpp_maybe:")
        st.session_state.setdefault("compute_address", server_scheduler() or "tcp://127.0.0.1:8786")
        address = st.text_input("Scheduler address", key="compute_address",
                                help="tcp://HOST:PORT of `dask scheduler`, or 'local' for a cluster on this machine")
        try:
            status = _cluster_status(address.strip())
        except TuningError as exc:
            st.error(plain(exc), icon=":material/cloud_off:")
            return address, False
        st.success(f"Connected: {len(status['workers'])} worker(s), {status['threads']} thread(s)",
                   icon=":material/cloud_done:")
        st.dataframe(status["workers"], hide_index=True, key="compute_workers")
        return address.strip(), True
