"""Experiments: every search kept in the store; find, open, rename, tag, annotate, compare, delete."""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.comparison import show_comparison
from dashboard.hosting import hosted_limits
from dashboard.links import linked_dataset
from dashboard.page import page_setup
from dashboard.results import show_results
from dashboard.store import experiment_store, store_problem
from dashboard.text import plain
from tuning.engine.store import ExperimentStore
from tuning.services.experiments import describe_search, filter_experiments, unknown_experiment_message

COLUMNS = ["id", "name", "dataset", "searched", "cv", "tags", "status", "fits", "best_score", "created"]


def find_rows(rows: list[dict]) -> list[dict]:
    """Filters by dataset, name (or id) and tag."""
    c1, c2, c3 = st.columns([2, 2, 2])
    datasets = c1.multiselect("Dataset", sorted({r["dataset"] for r in rows}), key="ex_filter_dataset")
    text = c2.text_input("Name or id contains", key="ex_filter_text", max_chars=120)
    tags = c3.multiselect("Tags", sorted({t for r in rows for t in r["tags"]}), key="ex_filter_tags")
    return filter_experiments(rows, datasets=datasets, text=text, tags=tags)


def choose_experiment(rows: list[dict]) -> str | None:
    """The table of experiments, with what each searched; a row click (or ``?exp=ID``) opens one."""
    table = pd.DataFrame([{**r, "searched": describe_search(r["spec"]), "cv": r["spec"].get("cv"),
                           "tags": ", ".join(r["tags"]), "fits": f"{r['fits_done']} / {r['fits_total']}"}
                          for r in rows], columns=COLUMNS)
    shown = zlib.crc32("|".join(table["id"]).encode())  # another list is another table: no selection carried over
    # scores to 4 decimals and "–" for none yet (an interrupted run), while the column still sorts as numbers
    cells = table.style.format({"best_score": "{:.4f}"}, na_rep="–")
    event = st.dataframe(cells, key=f"ex_table_{shown}", on_select="rerun", selection_mode="single-row",
                         hide_index=True, column_config={"searched": st.column_config.TextColumn(width="large"),
                                                         "status": st.column_config.TextColumn(width=110)})
    if event.selection.rows:
        chosen = table["id"].iloc[event.selection.rows[0]]
        st.query_params["exp"] = chosen
        return chosen
    return st.query_params.get("exp")


def manage(store: ExperimentStore, row: dict) -> None:
    with st.form("ex_annotate"):
        name = st.text_input("Name", row["name"], max_chars=120, key="ex_name")
        tags = st.text_input("Tags (comma-separated)", ", ".join(row["tags"]), max_chars=400, key="ex_tags")
        note = st.text_area("Note", row["note"], max_chars=2000, key="ex_note")
        if st.form_submit_button("Save"):
            store.annotate(row["id"], name=name, note=note, tags=tags.split(","))
            st.rerun()
    sure = st.checkbox(f"Yes, delete experiment {row['id']} and all its fits", key="ex_sure")
    if st.button("Delete", key="ex_delete", disabled=not sure, type="primary"):
        store.delete(row["id"])
        st.query_params.pop("exp", None)
        st.rerun()


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
    linked = st.query_params.get("exp")
    if linked and linked not in {r["id"] for r in rows}:
        st.error(unknown_experiment_message(linked), icon=":material/link_off:")
        st.query_params.pop("exp", None)
    if not rows:
        st.info("No experiments yet: run one on the **Grid Search** page or with `python -m tuning run`.")
        return
    chosen = choose_experiment(find_rows(rows))
    if chosen is None or chosen not in {r["id"] for r in rows}:
        st.caption("Select a row to open an experiment.")
        return
    row = next(r for r in rows if r["id"] == chosen)
    st.subheader(plain(f"Experiment {row['id']}"))
    described = [row["name"], "Tags: " + ", ".join(row["tags"]) if row["tags"] else ""]
    if any(described):
        st.text("\n".join(x for x in described if x))
    if "python" not in row["spec"]:  # a search fitted in Python has no spec to fill the form with
        st.page_link("pages/grid_search.py", label="Open in Grid Search", icon=":material/grid_on:",
                     query_params={"exp": row["id"]})
    hosted = hosted_limits().enabled  # a shared server: visitors read experiments, they do not edit them
    results, manage_tab, compare_tab = st.tabs(["Results", "About" if hosted else "Rename, tag, note, delete",
                                                "Compare"])
    with results:
        result = store.load_result(row["id"])
        if result is None:
            st.info(f"{row['fits_done']} of {row['fits_total']} fits are kept; run the same grid again to finish it.")
        else:
            # None: a CSV that is gone, not this session's, or a search fitted in Python (no spec)
            data = linked_dataset(result.spec.dataset, task=result.spec.task) if result.spec is not None else None
            show_results(result, prefix="exr", data=data)
    with manage_tab:
        if hosted:
            if row["note"]:
                st.text(row["note"])
            st.caption("On this hosted server experiments are read-only: names, tags, notes and deleting are "
                       "for whoever runs Tuning Lab on their own machine.")
        else:
            manage(store, row)
    with compare_tab:
        show_comparison(store, row, rows)


page()
