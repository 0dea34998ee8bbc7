"""Grid Search: build the lesson's param_grid, see its cost, run it, read the best model from the charts."""

from __future__ import annotations

import os
import time

import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.compute import compute_choice
from dashboard.datasets import cached_dataset, choose_dataset
from dashboard.hosting import hosted_limits
from dashboard.links import follow_link
from dashboard.page import page_setup
from dashboard.results import show_results
from dashboard.searches import find_search, owner_key, owner_link, start_or_join_search
from dashboard.store import store_problem, stored_result
from dashboard.text import plain
from tuning.data.dataset import Dataset
from tuning.engine.limits import check_search_costs
from tuning.engine.plan import estimate_seconds
from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.services.share import FORM_DEFAULTS, FORM_OPTIONS, encode_spec, form_to_spec


def grid_form() -> dict:
    """Widgets for the ``param_grid`` and ``cv``; values as :func:`tuning.services.share.form_to_spec` takes them."""
    c1, c2, c3 = st.columns(3)

    def pick(column, label: str, name: str, fmt=str) -> list:
        st.session_state.setdefault(f"gs_{name}", FORM_DEFAULTS[name])
        return column.multiselect(label, FORM_OPTIONS[name], key=f"gs_{name}", format_func=fmt)

    form = {"units": pick(c1, "Hidden units", "units"), "depths": pick(c1, "Hidden layers", "depths"),
            "rates": pick(c2, "Learning rates", "rates", lambda v: f"{v:g}"),
            "iters": pick(c2, "max_iter (epochs)", "iters"), "batches": pick(c3, "Batch sizes", "batches"),
            "alphas": pick(c3, "alpha (L2)", "alphas", lambda v: f"{v:g}")}
    c4, c5 = st.columns(2)
    st.session_state.setdefault("gs_cv", FORM_DEFAULTS["cv"])
    form["cv"] = c4.slider("CV folds", 2, 10, key="gs_cv")
    hosted = hosted_limits()
    cores = hosted.n_jobs if hosted.enabled else os.cpu_count() or 1
    st.session_state["gs_n_jobs"] = min(st.session_state.get("gs_n_jobs", cores), cores)
    form["n_jobs"] = c5.slider("Parallel workers (n_jobs)", 1, max(cores, 2), key="gs_n_jobs", disabled=cores == 1,
                               help="Hosted: one worker per search" if hosted.enabled else None)
    return form


def show_cost(spec: ExperimentSpec, data: Dataset) -> None:
    plan = check_search_costs(spec, hosted_limits().search_limits(), data=data)  # a CapError says which cap
    seconds = estimate_seconds(plan, n_samples=data.n_samples, n_features=data.n_features,
                               n_classes=len(data.class_names), n_jobs=spec.n_jobs or 1)
    saved = 1 - plan.max_epochs_to_train / plan.max_epochs_gridsearchcv
    c = st.columns(4)
    c[0].metric("Candidates", len(plan.candidates))
    c[1].metric("Fits", plan.n_fits, help="candidates × folds, as GridSearchCV counts them")
    c[2].metric("Epochs to train", f"{plan.max_epochs_to_train:,}",
                help="Candidates differing only in max_iter share one training run, scored at each checkpoint")
    c[3].metric("Estimated time", f"~{seconds:.0f} s", help="A rough estimate from the network sizes and rows")
    c[2].caption(f"GridSearchCV would train {plan.max_epochs_gridsearchcv:,} ({saved:.0%} saved)")


def the_spec(dataset_spec: dict) -> ExperimentSpec:
    """The form's spec, or the spec a link carried when the form cannot show it."""
    linked = st.session_state.get("gs_linked_spec")
    if linked is not None:
        st.info("This link's experiment uses settings the form cannot show; it runs exactly as linked.")
        st.code(linked.to_json(), language="json")
        if st.button("Use the form instead", key="gs_unlink"):
            del st.session_state["gs_linked_spec"]
            st.rerun()
        return linked
    form = grid_form()
    return parse_spec(form_to_spec(form, dataset_spec, form.pop("n_jobs")))


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@error_boundary
def page() -> None:
    page_setup("grid_search")
    st.title("Grid Search")
    st.caption("GridSearchCV over MLPClassifier: the same scores, with every candidate's loss curve kept.")
    follow_link()
    dataset_spec, data = choose_dataset()
    scheduler, compute_ok = compute_choice()
    spec = the_spec(dataset_spec)
    if spec.dataset != dataset_spec:  # a linked spec brings its own data
        data = cached_dataset(spec.dataset)
    link = encode_spec(spec)
    st.session_state["gs_last_link"] = st.query_params["spec"] = link
    st.query_params.pop("exp", None)
    show_cost(spec, data)
    store_problem()

    c1, c2 = st.columns([1, 5])
    run = c1.button("Run search", type="primary", key="gs_run", disabled=not compute_ok)
    job = start_or_join_search(spec, restart=True, scheduler=scheduler) if run else find_search(spec)
    if job is None:
        stored = stored_result(spec, data)
        if stored is not None:
            st.caption(plain(f"From the experiment store (experiment {stored.experiment_id}): nothing was retrained."))
            show_results(stored, data=data)
        else:
            st.info("Choose the grid, then press **Run search**. The page's address is a link to this grid.")
        return
    state = job.state()
    if state.status in ("queued", "running"):
        key = owner_key(job)
        if key is None:
            c2.caption("Started by someone else: you can watch it here; only they can stop it.")
        else:
            if c2.button("Stop", key="gs_stop"):
                job.stop(key)
            with c2.popover("Owner link", icon=":material/key:", key="gs_owner_link"):
                st.caption("Opens this search with its Stop button, in another tab or on another device:")
                st.code(owner_link(job, link), language=None, wrap_lines=True)
        p = state.progress
        if state.status == "queued":
            text = (f"Waiting for a free core: {_ordinal(state.place)} in line" if state.place
                    else "Waiting for a free core…")
        else:
            text = f"{p.fits_done} / {p.fits_total} fits · {p.elapsed:.1f} s" if p else "starting workers…"
        st.progress(p.fraction if p else 0.0, text=text)
        time.sleep(0.4)
        st.rerun()
    elif state.status == "failed":
        st.error(plain(state.error), icon=":material/warning:")
    else:
        if state.abandoned:
            st.info("This search stopped because nobody was watching it; what finished is kept. Press **Run "
                    "search** to carry on from there.")
        show_results(state.result, data=data)


page()
