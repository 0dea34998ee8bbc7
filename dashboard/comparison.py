"""Comparing two experiments on the Experiments page: any two side by side, the paired test
only for experiments on the same data and folds that share candidates."""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from dashboard.charts import show_chart
from tuning.engine.store import ExperimentStore
from tuning.errors import TuningError
from tuning.figures import fig_compare_error_vs_size, fig_compare_loss_curves
from tuning.services.compare import compare_results, fixed_differences, why_not_paired


def _label(row: dict[str, Any]) -> str:
    return f"{row['id']} {row['name']}".strip()


def show_comparison(store: ExperimentStore, row: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Pick another finished experiment; draw both side by side, and the paired test when they allow one."""
    others = [r for r in rows if r["id"] != row["id"] and r["status"] == "finished"]
    if row["status"] != "finished" or not others:
        st.info("Comparing needs this experiment and at least one other to have finished.")
        return
    reasons = {r["id"]: why_not_paired(row["spec"], r["spec"]) for r in others}
    others.sort(key=lambda r: reasons[r["id"]] is not None)  # those that allow a paired test first
    by_id = {r["id"]: r for r in others}
    other_id = st.selectbox(
        "Compare with", list(by_id), key="ex_other",
        format_func=lambda i: f"{_label(by_id[i])} · {by_id[i]['dataset']}"
                              + (" · paired test" if reasons[i] is None else ""))
    a, b = store.load_result(row["id"]), store.load_result(other_id)
    # figure text is drawn by Plotly, which reads a few HTML tags: names go in escaped
    labels = {html.escape(f"A: {_label(row)}"): a, html.escape(f"B: {_label(by_id[other_id])}"): b}
    show_chart(fig_compare_error_vs_size(labels), "ex_compare_error_fig")
    show_chart(fig_compare_loss_curves(labels), "ex_compare_loss_fig")

    st.markdown("**Paired test**")
    paired = [i for i in by_id if reasons[i] is None]
    if reasons[other_id] is not None:
        st.text(f"No paired test with {other_id}: {reasons[other_id]}. "
                + (f"Experiments that allow one with {row['id']}: {', '.join(paired)}." if paired else
                   f"No other experiment shares data, folds and a candidate with {row['id']}."))
        return
    try:
        table = compare_results(a, b)
    except TuningError as exc:  # e.g. a CSV file that changed between the two runs
        st.text(str(exc))
        return
    flagged = int(table["beyond_noise"].sum())
    changed = fixed_differences(a.spec, b.spec)
    st.caption(f"B = {other_id} minus A = {row['id']}, fold by fold on the same splits. {flagged} of {len(table)} "
               "shared candidate(s) differ by more than the fold-to-fold noise (paired t-test, p < 0.05).")
    st.text("What B changes besides the grid: " + ("; ".join(changed) if changed else
            "nothing, so the same candidates score the same (training is seeded)"))
    st.dataframe(table, hide_index=True, key="ex_compare_table",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("score_a", "score_b", "mean_difference", "std_difference", "p_value")})
