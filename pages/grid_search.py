"""Grid Search: build the lesson's param_grid, see its cost, run it, read the best model from the charts."""

from __future__ import annotations

import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.compute import compute_choice
from dashboard.datasets import cached_dataset, choose_dataset
from dashboard.grid_form import estimate_plan, grid_form, show_cost
from dashboard.links import follow_link, show_linked_spec
from dashboard.page import page_setup
from dashboard.progress import follow_search
from dashboard.results import show_results
from dashboard.searches import find_search, start_or_join_search
from dashboard.store import store_problem, stored_result
from dashboard.text import plain
from tuning.data.dataset import Dataset
from tuning.engine.plan import describe_seconds, plan_search
from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.errors import SpecError
from tuning.services.share import encode_spec, form_to_spec


def the_spec(dataset_spec: dict, task: str) -> ExperimentSpec | None:
    """The form's spec (None, with the field's name, when a field is empty), or the spec a link carried."""
    linked = st.session_state.get("gs_linked_spec")
    if linked is not None:
        show_linked_spec(linked, dataset_spec)
        if st.button("Use the form instead", key="gs_unlink"):
            del st.session_state["gs_linked_spec"]
            st.rerun()
        return linked
    form = grid_form(task)
    try:
        return parse_spec(form_to_spec(form, dataset_spec, form.pop("n_jobs"), task))
    except SpecError as exc:
        st.error(plain(exc), icon=":material/warning:")
        return None


def _grid_and_run(dataset_spec: dict, data: Dataset, scheduler: str | None,
                  compute_ok: bool) -> tuple[ExperimentSpec | None, bool, bool]:
    """The form (or a linked spec), its cost and the Run button: the spec (None while a field is empty),
    whether it can run here, and whether Run was pressed."""
    spec = the_spec(dataset_spec, data.task)
    if spec is None:
        return None, False, False
    if spec.dataset != dataset_spec or spec.task not in ("auto", data.task):  # a linked spec brings its own data
        data = cached_dataset(spec.dataset, spec.task)
    st.session_state["gs_last_link"] = st.query_params["spec"] = encode_spec(spec)
    st.query_params.pop("exp", None)
    runnable, estimate = show_cost(spec, data, estimate_here=not scheduler)
    store_problem()
    run = st.button("Run search", type="primary", key="gs_run", disabled=not (compute_ok and runnable))
    if run:
        st.session_state["gs_estimate"] = (spec.to_json(), estimate)  # as it was before starting
    return spec, runnable, run


@error_boundary
def page() -> None:
    page_setup("grid_search")
    # Projected, a result link opens on the result: the form (and the title) fold away.
    folded = st.session_state.get("present") and st.session_state.setdefault(
        "gs_opened_with_link", bool(st.query_params.get("spec") or st.query_params.get("exp")))
    if not folded:
        st.title("Grid Search")
        st.caption("GridSearchCV over MLPClassifier (or MLPRegressor, for a numeric target): the same scores, "
                   "with every candidate's loss curve kept.")
    follow_link()
    dataset_spec, data = choose_dataset()
    scheduler, compute_ok = compute_choice()
    form_area = st.expander("The grid, its cost and Run search", icon=":material/tune:") if folded else st.container()
    with form_area:
        spec, runnable, run = _grid_and_run(dataset_spec, data, scheduler, compute_ok)
    if spec is None:
        return
    if spec.dataset != dataset_spec or spec.task not in ("auto", data.task):  # a linked spec brings its own data
        data = cached_dataset(spec.dataset, spec.task)
    link = encode_spec(spec)
    job = start_or_join_search(spec, restart=True, scheduler=scheduler) if run else find_search(spec)
    if job is None:
        stored = stored_result(spec, data) if runnable else None
        if stored is not None:
            if not folded:
                st.caption(plain(f"From the experiment store (experiment {stored.experiment_id}): nothing was "
                                 "retrained."))
            show_results(stored, data=data)
        elif runnable:
            st.info("Choose the grid, then press **Run search**. The page's address is a link to this grid.")
        return
    state = job.state()
    kept_for, kept = st.session_state.get("gs_estimate", (None, None))
    if state.status in ("queued", "running"):
        if kept_for != spec.to_json() or kept is None:  # joined from another session, or run on Dask
            kept = estimate_plan(plan_search(spec), spec, data)  # the whole search: its own fits are stored too
        follow_search(job, spec, data, kept, link)
    elif state.status == "failed":
        st.error(plain(state.error), icon=":material/warning:")
    else:
        if state.abandoned:
            st.info("This search stopped because nobody was watching it; what finished is kept. Press **Run "
                    "search** to carry on from there.")
        elif state.result.status == "finished" and kept_for == spec.to_json() and kept:
            st.caption(f"Took {describe_seconds(state.result.elapsed)}; the estimate was {kept.describe()}.")
        show_results(state.result, data=data)


page()
