"""The results of a search, as the Grid Search and Experiments pages show them."""

from __future__ import annotations

import io
import json

import joblib
import streamlit as st

from dashboard.charts import show_chart
from dashboard.projection import PROJECTED_CHART_HEIGHT
from dashboard.text import plain
from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult
from tuning.figures import (
    fig_candidate_losses,
    fig_error_vs_hidden_size,
    fig_fit_curve,
    fig_fit_timeline,
    fig_predicted_vs_actual,
    fig_score_heatmap,
)
from tuning.services.codegen import keras_script, sklearn_script, torch_script
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
    c1, c2 = st.columns([1.25, 2])
    c1.metric(f"best_score_ ({result.scoring})", f"{result.best_score:.4f}")
    c2.markdown("**best_params_**")
    if st.session_state.get("present"):  # projected: one line each, so that the charts start on the first screen
        c2.markdown("  \n".join(plain(f"{name} = {json.dumps(value)}") for name, value in result.best_params.items()))
    else:
        c2.dataframe({"parameter": list(result.best_params),
                      "value": [json.dumps(v) for v in result.best_params.values()]},
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
    regression = result.spec is not None and result.spec.task == "regression"
    names = ["Error vs hidden size", "Loss curves", "Heatmap", "Fit timeline", "cv_results_", "Code"]
    tabs = st.tabs([*names[:2], *(["Predicted vs actual"] if regression else []), *names[2:]])
    if regression:
        with tabs[2]:
            _show_predictions(result, data, prefix)
        tabs = [*tabs[:2], *tabs[3:]]
    with tabs[0]:
        others = [p for p in varying if p != "hidden_layer_sizes"]
        presenting = st.session_state.get("present", False)
        # projected, the option sits beside the chart so that the chart fits the first screen
        option, chart = st.columns([1.3, 4]) if presenting else (st.container(), st.container())
        line = option.selectbox("One line per", others or ["(none)"], key=f"{prefix}_line_param",
                                index=others.index("learning_rate_init") if "learning_rate_init" in others else 0)
        show_chart(fig_error_vs_hidden_size(result, line_param=line if others else None), f"{prefix}_error_fig",
                   container=chart, height=PROJECTED_CHART_HEIGHT - 50 if presenting else "content")
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
        projected = st.session_state.get("present", False)
        if projected:  # what a class reads, within the width: rank, test score, the parameters that vary
            table = table.drop(columns=["mean_train_score", "std_train_score", "mean_fit_time"])
        candidates = [int(i) for i in table.index]
        st.dataframe(table, key=f"{prefix}_table", selection_mode="single-row", hide_index=projected,
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


def _show_predictions(result: SearchResult, data: Dataset | None, prefix: str) -> None:
    """The best regressor's predictions against the truth, and its curve for 1-feature data."""
    if result.best_estimator is None or data is None or not data.is_regression:
        st.info("The best model is not at hand here (not refitted, or its data cannot be opened).")
        return
    show_chart(fig_predicted_vs_actual(result.best_estimator, data,
                                       title="Predicted versus actual: the best model, refitted on all the data"),
               f"{prefix}_predicted_fig")
    st.caption("Points on the dashed diagonal are predicted exactly. These rows are the ones the best model was "
               "refitted on, so this is how well it fits them; the CV scores above are for unseen rows.")
    if data.is_line:
        show_chart(fig_fit_curve(result.best_estimator, data), f"{prefix}_fit_curve_fig")


def show_code(result: SearchResult, data: Dataset | None, prefix: str) -> None:
    """The scikit-learn script that reproduces the scores, and the best network in PyTorch and Keras."""
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
        keras_code = keras_script(result, data)
        st.markdown("**The best network in Keras 3**: the same layers, activation, optimiser, learning rate, batch "
                    "size, epochs, L2 penalty, early stopping, preprocessing and hold-out split. Its docstring says "
                    "what cannot be identical across frameworks (initial weights, shuffling).")
        st.code(keras_code, language="python")
        st.download_button("Download best_network_keras.py", keras_code, "best_network_keras.py",
                           key=f"{prefix}_download_keras")
