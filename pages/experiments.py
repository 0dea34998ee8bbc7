"""Experiments: every search kept in the store; open, rename, annotate, compare, delete."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.links import linked_dataset
from dashboard.page import page_setup
from dashboard.results import show_results
from dashboard.store import experiment_store, store_problem
from dashboard.text import plain
from tuning.engine.store import ExperimentStore
from tuning.services.compare import compare_results

COLUMNS = ["id", "name", "dataset", "status", "fits_done", "fits_total", "best_score", "created"]


def choose_experiment(rows: list[dict]) -> str | None:
    """The table of experiments; a row click (or ``?exp=ID``) opens one."""
    table = pd.DataFrame(rows)[COLUMNS]
    linked = st.query_params.get("exp")
    event = st.dataframe(table, key="ex_table", on_select="rerun", selection_mode="single-row", hide_index=True,
                         column_config={"best_score": st.column_config.NumberColumn(format="%.4f")})
    if event.selection.rows:
        chosen = table["id"].iloc[event.selection.rows[0]]
        st.query_params["exp"] = chosen
        return chosen
    return linked if linked in set(table["id"]) else None


def manage(store: ExperimentStore, row: dict) -> None:
    with st.form("ex_annotate"):
        name = st.text_input("Name", row["name"], max_chars=120, key="ex_name")
        note = st.text_area("Note", row["note"], max_chars=2000, key="ex_note")
        if st.form_submit_button("Save"):
            store.annotate(row["id"], name=name, note=note)
            st.rerun()
    sure = st.checkbox(f"Yes, delete experiment {row['id']} and all its fits", key="ex_sure")
    if st.button("Delete", key="ex_delete", disabled=not sure, type="primary"):
        store.delete(row["id"])
        st.query_params.pop("exp", None)
        st.session_state.pop("ex_table", None)
        st.rerun()


def compare(store: ExperimentStore, row: dict, rows: list[dict]) -> None:
    others = [r["id"] for r in rows if r["id"] != row["id"] and r["dataset"] == row["dataset"]
              and r["status"] == "finished"]
    if not others:
        st.info("No other finished experiment on this dataset to compare with.")
        return
    other = st.selectbox("Compare with", others, key="ex_other",
                         format_func=lambda i: next(f"{i} {r['name']}".strip() for r in rows if r["id"] == i))
    table = compare_results(store.load_result(row["id"]), store.load_result(other))
    flagged = int(table["beyond_noise"].sum())
    st.caption(plain(f"B = {other} minus A = {row['id']}, fold by fold on the same splits. {flagged} of "
                     f"{len(table)} shared candidate(s) differ by more than the fold-to-fold noise (paired t-test, "
                     "p < 0.05)."))
    st.dataframe(table, hide_index=True, key="ex_compare_table",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ("score_a", "score_b", "mean_difference", "std_difference", "p_value")})


@error_boundary
def page() -> None:
    page_setup("experiments")
    st.title("Experiments")
    st.caption("Every search is kept as it runs. Open one to see its charts; its address is a shareable link.")
    store = experiment_store()
    if store is None:
        store_problem()
        return
    rows = store.list()
    if not rows:
        st.info("No experiments yet: run one on the **Grid Search** page or with `python -m tuning run`.")
        return
    chosen = choose_experiment(rows)
    if chosen is None:
        st.caption("Select a row to open an experiment.")
        return
    row = next(r for r in rows if r["id"] == chosen)
    st.subheader(plain(f"Experiment {row['id']}"))
    if row["name"]:
        st.text(row["name"])
    st.page_link("pages/grid_search.py", label="Open in Grid Search", icon=":material/grid_on:",
                 query_params={"exp": row["id"]})
    results, manage_tab, compare_tab = st.tabs(["Results", "Rename, note, delete", "Compare"])
    with results:
        result = store.load_result(row["id"])
        if result is None:
            st.info(f"{row['fits_done']} of {row['fits_total']} fits are kept; run the same grid again to finish it.")
        else:
            data = linked_dataset(result.spec.dataset)  # None: a CSV that is gone, or not this session's
            show_results(result, prefix="exr", data=data)
    with manage_tab:
        manage(store, row)
    with compare_tab:
        compare(store, row, rows)


page()
