"""Grid Search: build the lesson's param_grid, see its cost, run it, read the best model from the charts."""

from __future__ import annotations

import io
import json
import os
import time

import joblib
import streamlit as st

from pages.widgets import (
    ALPHAS,
    LEARNING_RATES,
    choose_dataset,
    error_boundary,
    find_search,
    require_app_navigation,
    start_or_join_search,
)
from tuning.figures import fig_candidate_losses, fig_error_vs_hidden_size, fig_fit_timeline, fig_score_heatmap
from tuning.plan import estimate_seconds, plan_search
from tuning.results import SearchResult
from tuning.spec import ExperimentSpec, parse_spec


def grid_controls(dataset_spec: dict) -> dict:
    """Widgets that build the spec's ``param_grid``, ``cv`` and ``n_jobs``."""
    c1, c2, c3 = st.columns(3)
    units = c1.multiselect("Hidden units", [1, 2, 4, 8, 16, 32, 64, 128], default=[2, 8, 32], key="gs_units")
    depths = c1.multiselect("Hidden layers", [1, 2, 3], default=[1], key="gs_depths")
    rates = c2.multiselect("Learning rates", LEARNING_RATES, default=[1e-3, 0.01], key="gs_rates",
                           format_func=lambda v: f"{v:g}")
    iters = c2.multiselect("max_iter (epochs)", [10, 25, 50, 100, 200, 400], default=[25, 50, 100], key="gs_iters")
    batches = c3.multiselect("Batch sizes", ["auto", 16, 32, 64, 128], default=["auto"], key="gs_batches")
    alphas = c3.multiselect("alpha (L2)", ALPHAS, default=[1e-4], key="gs_alphas", format_func=lambda v: f"{v:g}")
    c4, c5 = st.columns(2)
    cv = c4.slider("CV folds", 2, 10, 3, key="gs_cv")
    n_jobs = c5.slider("Parallel workers (n_jobs)", 1, os.cpu_count() or 1, os.cpu_count() or 1, key="gs_n_jobs")
    grid = {"hidden_layer_sizes": [[u] * d for d in sorted(depths) for u in sorted(units)],
            "learning_rate_init": sorted(rates), "max_iter": sorted(iters), "batch_size": batches,
            "alpha": sorted(alphas)}
    return {"dataset": dataset_spec, "param_grid": grid, "cv": cv, "n_jobs": n_jobs}


def show_cost(spec: ExperimentSpec, data) -> None:
    plan = plan_search(spec)
    seconds = estimate_seconds(plan, n_samples=data.n_samples, n_features=data.n_features,
                               n_classes=len(data.class_names), n_jobs=spec.n_jobs or 1)
    saved = 1 - plan.max_epochs_to_train / plan.max_epochs_gridsearchcv
    c = st.columns(4)
    c[0].metric("Candidates", plan.summary()["candidates"])
    c[1].metric("Fits", plan.n_fits, help="candidates × folds, as GridSearchCV counts them")
    c[2].metric("Epochs to train", f"{plan.max_epochs_to_train:,}",
                help="Candidates differing only in max_iter share one training run, scored at each checkpoint")
    c[3].metric("Estimated time", f"~{seconds:.0f} s", help="A rough estimate from the network sizes and rows")
    c[2].caption(f"GridSearchCV would train {plan.max_epochs_gridsearchcv:,} ({saved:.0%} saved)")


def _select_from_chart() -> None:
    points = st.session_state["gs_loss_fig"].selection.points
    if points and points[0].get("customdata") is not None:
        st.session_state["gs_selected"] = int(points[0]["customdata"])


def _select_from_table() -> None:
    rows = st.session_state["gs_table"].selection.rows
    st.session_state["gs_selected"] = int(rows[0]) if rows else None


def show_results(result: SearchResult, spec: ExperimentSpec) -> None:
    if result.status == "cancelled":
        st.warning(f"Stopped: {result.fits_done} of {result.fits_total} fits finished and are shown.")
    if result.best_index is None:
        st.info("No candidate finished all its folds yet.")
        return
    c1, c2 = st.columns([1, 2])
    c1.metric(f"best_score_ ({spec.scoring})", f"{result.best_score:.4f}")
    c2.markdown("**best_params_**")
    c2.dataframe({"parameter": list(result.best_params), "value": [json.dumps(v) for v in result.best_params.values()]},
                 hide_index=True, key="gs_best_params")
    if result.best_estimator is not None:
        buffer = io.BytesIO()
        joblib.dump(result.best_estimator, buffer)
        c1.download_button("Download best_estimator_ (joblib)", buffer.getvalue(), "best_estimator.joblib",
                           key="gs_download_model")
    frame = result.to_frame()
    varying = [c.removeprefix("param_") for c in frame if c.startswith("param_") and frame[c].astype(str).nunique() > 1]
    selected = st.session_state.get("gs_selected")
    tabs = st.tabs(["Error vs hidden size", "Loss curves", "Heatmap", "Fit timeline", "cv_results_"])
    with tabs[0]:
        others = [p for p in varying if p != "hidden_layer_sizes"]
        line = st.selectbox("One line per", others or ["(none)"], key="gs_line_param",
                            index=others.index("learning_rate_init") if "learning_rate_init" in others else 0)
        st.plotly_chart(fig_error_vs_hidden_size(result, line_param=line if others else None), theme=None,
                        key="gs_error_fig")
    with tabs[1]:
        c1, c2 = st.columns(2)
        rows = c1.selectbox("Panel rows", ["(none)", *varying], key="gs_rows")
        cols = c2.selectbox("Panel columns", ["(none)", *varying], key="gs_cols")
        st.plotly_chart(
            fig_candidate_losses(result, rows=None if rows == "(none)" else rows,
                                 cols=None if cols == "(none)" else cols, highlight=selected),
            theme=None, key="gs_loss_fig", on_select=_select_from_chart, selection_mode="points")
        st.caption("Click a curve (or a table row) to highlight a candidate; the best is starred.")
    with tabs[2]:
        if len(varying) >= 2:
            c1, c2 = st.columns(2)
            x = c1.selectbox("x", varying, key="gs_heat_x")
            y = c2.selectbox("y", [v for v in varying if v != x], key="gs_heat_y")
            st.plotly_chart(fig_score_heatmap(result, x=x, y=y), theme=None, key="gs_heatmap_fig")
        else:
            st.info("A heatmap needs two parameters with several values each.")
    with tabs[3]:
        st.plotly_chart(fig_fit_timeline(result), theme=None, key="gs_timeline_fig")
    with tabs[4]:
        shown = frame[[c for c in frame if c.startswith("param_")] +
                      ["mean_test_score", "std_test_score", "rank_test_score", "mean_train_score", "mean_fit_time"]]
        st.dataframe(shown.astype({c: str for c in shown if c.startswith("param_")}), key="gs_table",
                     on_select=_select_from_table, selection_mode="single-row")
        st.download_button("Download cv_results_ (CSV)", frame.to_csv(index=False), "cv_results.csv",
                           key="gs_download_csv")


@error_boundary
def page() -> None:
    require_app_navigation()
    st.title("Grid Search")
    st.caption("GridSearchCV over MLPClassifier: the same scores, with every candidate's loss curve kept.")
    dataset_spec, data = choose_dataset()
    spec = parse_spec(grid_controls(dataset_spec))
    show_cost(spec, data)

    c1, c2 = st.columns([1, 5])
    run = c1.button("Run search", type="primary", key="gs_run")
    job = start_or_join_search(spec, restart=True) if run else find_search(spec)
    if job is None:
        st.info("Choose the grid, then press **Run search**.")
        return
    state = job.state()
    if state.status == "running":
        if c2.button("Stop", key="gs_stop"):
            job.cancel()
        p = state.progress
        fraction = p.fraction if p else 0.0
        text = f"{p.fits_done} / {p.fits_total} fits · {p.elapsed:.1f} s" if p else "starting workers…"
        st.progress(fraction, text=text)
        time.sleep(0.4)
        st.rerun()
    elif state.status == "failed":
        st.error(state.error, icon=":material/warning:")
    else:
        show_results(state.result, spec)


page()
