"""A running search on the Grid Search page: a progress bar and clock that move from the first
second, and the loss curves of the candidates that have finished so far."""

from __future__ import annotations

import sys
import time

import streamlit as st

from dashboard.charts import show_chart
from dashboard.searches import owner_key, owner_link
from dashboard.store import experiment_store
from tuning.data.dataset import Dataset
from tuning.engine.plan import Estimate, describe_progress, plan_search
from tuning.engine.search import partial_result
from tuning.engine.spec import ExperimentSpec
from tuning.engine.store import experiment_id
from tuning.errors import StoreError
from tuning.figures import fig_candidate_losses
from tuning.services.jobs import JobState, SearchJob


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@st.fragment(run_every=0.5)
def follow_search(job: SearchJob, spec: ExperimentSpec, data: Dataset, estimate: Estimate, link: str) -> None:
    """Poll a queued or running search twice a second (only this part of the page reruns); when it
    ends, rerun the whole page to show the result. Only the search's owner can stop it."""
    state = job.state()
    if state.status not in ("queued", "running"):
        st.rerun()
    c1, c2 = st.columns([1, 5])
    key = owner_key(job)
    if key is None:
        c2.caption("Started by someone else: you can watch it here; only they can stop it.")
    else:
        if c1.button("Stop", key="gs_stop", help="Finished fits are kept"):
            job.stop(key)
        with c2.popover("Owner link", icon=":material/key:", key="gs_owner_link"):
            st.caption("Opens this search with its Stop button, in another tab or on another device:")
            st.code(owner_link(job, link), language=None, wrap_lines=True)
    show_progress(state, spec, data, estimate, job.started)


def show_progress(state: JobState, spec: ExperimentSpec, data: Dataset, estimate: Estimate, started: float) -> None:
    """The bar (queue place, worker start-up, then fits) and the finished candidates' loss curves."""
    if state.status == "queued":
        place = f": {_ordinal(state.place)} in line" if state.place else "…"
        st.progress(0.0, text=f"Waiting for a free core{place}")
        return
    p = state.progress
    # before the first report, the fits as planned (its costs were checked when it started)
    fits_total = p.fits_total if p else plan_search(spec, max_epochs=sys.maxsize).n_fits
    fraction, text = describe_progress(estimate, elapsed=time.time() - started, done=p.fraction if p else 0.0,
                                       fits_done=p.fits_done if p else 0, fits_total=fits_total,
                                       workers=spec.n_jobs or 1)
    st.progress(fraction, text=text)
    if p is None or p.fits_done == 0:
        return
    store = experiment_store()
    if store is None:  # no usable store: the curves come with the result
        return
    try:
        units = store.units(experiment_id(spec, data))
    except StoreError:
        return
    so_far = partial_result(spec, data, units)
    finished = sum(all(f is not None for f in c["folds"]) for c in so_far.curves)
    if finished:
        fig = fig_candidate_losses(so_far)
        fig.update_layout(title=f"Finished so far: {finished} of {len(so_far.curves)} candidates "
                                "(mean over folds; ★ the best yet)")
        show_chart(fig, "gs_live_fig")
