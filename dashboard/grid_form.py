"""The Grid Search form and its cost panel.

Every form widget keeps its value for the whole session (see :func:`dashboard.page.keep_widget_values`):
the form is not drawn while the sidebar waits for a CSV file or refuses one, or while
another page is open, and Streamlit drops the state of a widget that is not drawn.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.store import fits_done
from dashboard.text import plain
from dashboard.throughput import machine_load, machine_throughput
from tuning.data.dataset import Dataset
from tuning.engine.limits import check_search_costs
from tuning.engine.plan import Estimate, SearchPlan, estimate_search
from tuning.engine.search import check_data_fits_spec
from tuning.engine.spec import ExperimentSpec
from tuning.errors import SpecError
from tuning.figures import error_of
from tuning.services.share import FORM_DEFAULTS, FORM_LABELS, FORM_OPTIONS, REGRESSION_FORM_SCORERS, field_label

_FORMATS = {"rates": lambda v: f"{v:g}", "alphas": lambda v: f"{v:g}",
            "early_stopping": lambda v: "on (hold out 10%)" if v else "off", "inits": lambda v: v.replace("_", "-")}
_LAYOUT = [["units", "depths", "solvers"], ["rates", "iters", "activations"],
           ["batches", "alphas", "early_stopping", "inits"]]
_HELP = {"solvers": "lbfgs ignores learning rate and batch size, and its max_iter candidates cannot share a run",
         "early_stopping": "Stop when the score on a held-out 10% of the training folds stops improving",
         "inits": "How the initial weights are drawn; glorot-uniform is scikit-learn's own"}


def grid_form(task: str = "classification") -> dict[str, Any]:
    """Widgets for the ``param_grid``, ``cv``, ``n_jobs`` (and a regression's scorer); values as
    ``form_to_spec`` takes them."""
    form: dict[str, Any] = {}
    for column, names in zip(st.columns(3), _LAYOUT):
        for name in names:
            st.session_state.setdefault(f"gs_{name}", FORM_DEFAULTS[name])
            form[name] = column.multiselect(FORM_LABELS[name], FORM_OPTIONS[name], key=f"gs_{name}",
                                            format_func=_FORMATS.get(name, str), help=_HELP.get(name))
    c4, c5 = st.columns(2)
    st.session_state.setdefault("gs_cv", FORM_DEFAULTS["cv"])
    form["cv"] = c4.slider(FORM_LABELS["cv"], 2, 10, key="gs_cv")
    hosted = hosted_limits()
    cores = hosted.n_jobs if hosted.enabled else os.cpu_count() or 1
    st.session_state["gs_n_jobs"] = min(st.session_state.get("gs_n_jobs", cores), cores)
    form["n_jobs"] = c5.slider("Parallel workers (n_jobs)", 1, max(cores, 2), key="gs_n_jobs", disabled=cores == 1,
                               help="Hosted: one worker per search" if hosted.enabled else None)
    if task == "regression":
        if st.session_state.get("gs_scoring") not in REGRESSION_FORM_SCORERS:
            st.session_state["gs_scoring"] = REGRESSION_FORM_SCORERS[0]
        form["scoring"] = st.selectbox(
            "Scoring (regression)", REGRESSION_FORM_SCORERS, key="gs_scoring",
            format_func=lambda s: f"{s} ({error_of(s)[2].removeprefix('error (1 − ').rstrip(')')})",
            help="R² (1 is perfect, 0 is no better than the mean), or an error in the target's units "
                 "(scikit-learn negates errors so that higher is better)")
    return form


def show_cost(spec: ExperimentSpec, data: Dataset, *, estimate_here: bool) -> tuple[bool, Estimate | None]:
    """Candidates, fits, epochs and time for exactly this form.

    Returns whether it can run (if not, the reason is shown instead of the panel) and,
    when it runs on this machine (``estimate_here``), its time estimate.
    """
    try:
        check_data_fits_spec(spec, data)
        plan = check_search_costs(spec, hosted_limits().search_limits(), data=data)  # a CapError names the cap
    except SpecError as exc:
        st.error(plain(f"{field_label(exc.field)}: {str(exc).split(': ', 1)[-1]}"), icon=":material/warning:")
        return False, None
    stored = fits_done(spec, data) if estimate_here else set()  # an interrupted run's: running it again resumes
    estimate = estimate_plan(plan, spec, data, done=stored) if estimate_here else None
    saved = 1 - plan.max_epochs_to_train / plan.max_epochs_gridsearchcv
    c = st.columns(4)
    c[0].metric("Candidates", len(plan.candidates))
    c[1].metric("Fits", plan.n_fits, help="candidates × folds, as GridSearchCV counts them")
    c[2].metric("Epochs to train", f"{plan.max_epochs_to_train:,}",
                help="Candidates differing only in max_iter share one training run, scored at each checkpoint")
    c[2].caption(f"GridSearchCV would train {plan.max_epochs_gridsearchcv:,} ({saved:.0%} saved)")
    if estimate is None:
        c[3].metric("Estimated time", "–", help="Estimates are for this machine, not for a Dask cluster")
    else:
        central, spread = estimate.parts()  # apart: together, at the metric's size, the value was cut off
        c[3].metric("Estimated time", central, help=estimate.explain())
        if spread:
            c[3].caption(f"likely {spread}")
        if 0 < len(stored) < plan.n_fits:
            c[3].caption(f"{len(stored)} of {plan.n_fits} fits are kept from an earlier run: the estimate is for "
                         f"the {plan.n_fits - len(stored)} left")
    return True, estimate


def estimate_plan(plan: SearchPlan, spec: ExperimentSpec, data: Dataset, *,
                  done: Iterable[tuple[int, int]] = ()) -> Estimate:
    """The time this search should take here, from this machine's measured throughput and its load now,
    for the fits not in ``done`` (those an interrupted run kept: see :func:`dashboard.store.fits_done`)."""
    return estimate_search(plan, data, n_jobs=spec.n_jobs or 1, throughput=machine_throughput(),
                           machine_load=machine_load(), done=done)
