"""The results of a search, as the Grid Search and Experiments pages show them."""

from __future__ import annotations

import io
import json

import joblib
import streamlit as st

from dashboard.charts import show_chart
from dashboard.text import plain
from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult
from tuning.figures import fig_candidate_losses, fig_error_vs_hidden_size, fig_fit_timeline, fig_score_heatmap
from tuning.services.codegen import sklearn_script, torch_script
from tuning.services.experiments import cv_results_table


def _select_from_chart(prefix: str) -> None:
    points = st.session_state[f"{prefix}_loss_fig"].selection.points
    if points and points[0].get("customdata") is not None:
        st.session_state[f"{prefix}_selected"] = int(points[0]["customdata"])


def _select_from_table(prefix: str, candidates: list[int]) -> None:
    rows = st.session_state[f"{prefix}_table"].selection.rows
    st.session_state[f"{prefix}_selected"] = candidates[rows[0]] if rows else None


def _best(result: SearchResult, prefix: str) -> None:
    if result.model_note:  # a model from someone else's store is never loaded
        st.info(plain(result.model_note), icon=":material/shield:")
    c1, c2 = st.columns([1, 2])
    c1.metric(f"best_score_ ({result.scoring})", f"{result.best_score:.4f}")
    c2.markdown("**best_params_**")
    c2.dataframe({"parameter": list(result.best_params), "value": [json.dumps(v) for v in result.best_params.values()]},
                 hide_index=True, key=f"{prefix}_best_params")
    if result.best_estimator is not None:
        buffer = io.BytesIO()
        joblib.dump(result.best_estimator, buffer)
        c1.download_button("Download best_estimator_ (joblib)", buffer.getvalue(), "best_estimator.joblib",
                           key=f"{prefix}_download_model")
    elif result.refit_error:
        c1.warning(f"No best_estimator_: {result.refit_error}. The scores below are complete.")


def show_results(result: SearchResult, *, prefix: str = "gs", data: Dataset | None = None) -> None:
    """``best_score_``, ``best_params_``, downloads, every chart, the table and the code."""
    if result.status == "cancelled":
        st.warning(f"Stopped: {result.fits_done} of {result.fits_total} fits finished and are shown.")
    if result.best_index is None:
        st.info("No candidate finished all its folds yet.")
        return
    for note in result.warnings:
        st.caption(f"scikit-learn warned: {note}")
    _best(result, prefix)
    frame = result.to_frame()
    varying = [c.removeprefix("param_") for c in frame if c.startswith("param_") and frame[c].astype(str).nunique() > 1]
    selected = st.session_state.get(f"{prefix}_selected")
    tabs = st.tabs(["Error vs hidden size", "Loss curves", "Heatmap", "Fit timeline", "cv_results_", "Code"])
    with tabs[0]:
        others = [p for p in varying if p != "hidden_layer_sizes"]
        line = st.selectbox("One line per", others or ["(none)"], key=f"{prefix}_line_param",
                            index=others.index("learning_rate_init") if "learning_rate_init" in others else 0)
        show_chart(fig_error_vs_hidden_size(result, line_param=line if others else None), f"{prefix}_error_fig")
    with tabs[1]:
        c1, c2 = st.columns(2)
        rows = c1.selectbox("Panel rows", ["(none)", *varying], key=f"{prefix}_rows")
        cols = c2.selectbox("Panel columns", ["(none)", *varying], key=f"{prefix}_cols")
        show_chart(
            fig_candidate_losses(result, rows=None if rows == "(none)" else rows,
                                 cols=None if cols == "(none)" else cols, highlight=selected),
            f"{prefix}_loss_fig", on_select=lambda: _select_from_chart(prefix), selection_mode="points")
        st.caption("★ marks the best candidate (bold black). Click a curve, or a row of the cv_results_ table, to "
                   "select another: it is drawn dashed and thick.")
    with tabs[2]:
        if len(varying) >= 2:
            c1, c2 = st.columns(2)
            x = c1.selectbox("x", varying, key=f"{prefix}_heat_x")
            y = c2.selectbox("y", [v for v in varying if v != x], key=f"{prefix}_heat_y")
            show_chart(fig_score_heatmap(result, x=x, y=y), f"{prefix}_heatmap_fig")
        else:
            st.info("A heatmap needs two parameters with several values each.")
    with tabs[3]:
        show_chart(fig_fit_timeline(result), f"{prefix}_timeline_fig")
    with tabs[4]:
        table, same = cv_results_table(result)
        candidates = [int(i) for i in table.index]
        st.dataframe(table, key=f"{prefix}_table", selection_mode="single-row",
                     on_select=lambda: _select_from_table(prefix, candidates),
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table
                                    if c.startswith(("mean_", "std_"))})
        if same:
            st.text("The same for every candidate (not shown): "
                    + ", ".join(f"{name}={value}" for name, value in same.items()))
        c1, c2 = st.columns(2)
        c1.download_button("Download cv_results_ (CSV)", frame.to_csv(index=False), "cv_results.csv",
                           key=f"{prefix}_download_csv")
        c2.download_button("Download the full result (JSON)", json.dumps(result.to_dict(), indent=1),
                           "result.json", key=f"{prefix}_download_json")
    with tabs[5]:
        show_code(result, data, prefix)


def show_code(result: SearchResult, data: Dataset | None, prefix: str) -> None:
    """The scikit-learn script that reproduces the scores, and the best network in PyTorch."""
    if result.spec is None:
        st.info("This search was fitted in Python (tuning.GridSearchCV): its code is the notebook's.")
        return
    script = sklearn_script(result.spec, data)
    st.markdown("**Plain scikit-learn**: run it and `best_score_` is the same as above.")
    st.code(script, language="python")
    st.download_button("Download reproduce.py", script, "reproduce.py", key=f"{prefix}_download_script")
    if data is not None:
        torch_code = torch_script(result, data)
        st.markdown("**The best network in PyTorch**, for the step to a deep-learning framework:")
        st.code(torch_code, language="python")
        st.download_button("Download best_network_torch.py", torch_code, "best_network_torch.py",
                           key=f"{prefix}_download_torch")
