"""Shared links: a ``?spec=`` or ``?exp=`` address fills the Grid Search form.

A link is hostile input. Before its grid reaches the form it is decoded within the link
caps, its data is checked (a CSV file only if this session uploaded it, or, on a local
install, a file in the upload folder), and its costs are checked against this server's
caps. A refused link is one plain-text message that names neither the server's paths
nor other experiments.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

import streamlit as st

from dashboard.datasets import cached_dataset, session_uploads
from dashboard.hosting import hosted_limits
from dashboard.store import experiment_store
from dashboard.text import plain
from tuning.data.csv_source import check_linked_csv, upload_folder
from tuning.data.dataset import Dataset
from tuning.engine.limits import check_search_costs
from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.errors import StoreError, TuningError
from tuning.services.share import (
    decode_spec,
    encode_spec,
    shown_dataset,
    spec_for_display,
    spec_to_form,
    summarize_spec,
)

_EXPERIMENT_ID = re.compile(r"[0-9a-f]{12}")


def allowed_csv(dataset: dict[str, Any], *, from_store: bool) -> None:
    """Refuse (DataError) a CSV dataset this session may not open.

    Hosted, only this session's own uploads. Locally, a link (``from_store=False``) may
    name this session's uploads or files in the upload folder, while a spec from this
    user's own experiment store may name any regular file.
    """
    if "csv" not in dataset:
        return
    if hosted_limits().enabled or not from_store:
        folders = () if hosted_limits().enabled else (upload_folder(),)
        check_linked_csv(dataset["csv"], uploads=session_uploads(), folders=folders)


def linked_dataset(dataset: dict[str, Any], *, from_store: bool = True, task: str | None = None) -> Dataset | None:
    """The data of a stored or linked spec (read as ``task``) when this session may open it and it loads; else None."""
    try:
        allowed_csv(dataset, from_store=from_store)
        return cached_dataset(dataset, task)
    except TuningError:
        return None


def _experiment_spec(exp: str) -> ExperimentSpec:
    """The spec of the experiment a ``?exp=`` link names (its exact id; no prefixes, no other ids shown)."""
    store = experiment_store()
    if store is None:
        raise TuningError("this link's experiment cannot be opened: experiment history is off on this server")
    try:
        row = store.get(exp) if _EXPERIMENT_ID.fullmatch(exp) else None
        if row is None:
            raise TuningError("this link's experiment is not in this server's experiment store (it may have been "
                              "deleted). Build the grid with the form, or open the Experiments page")
        return parse_spec(row["spec"])
    except StoreError:
        raise TuningError("this link's experiment cannot be opened: the experiment store cannot be read") from None


def _checked(spec: ExperimentSpec, *, from_store: bool, form_shows_it: bool) -> None:
    """Refuse a linked spec whose data this session may not open or whose costs are over this server's caps."""
    allowed_csv(spec.dataset, from_store=from_store)
    data = cached_dataset(spec.dataset, spec.task) if "csv" in spec.dataset else None
    if form_shows_it:  # the form decides the workers (one, hosted)
        spec = dataclasses.replace(spec, n_jobs=None)
    check_search_costs(spec, hosted_limits().search_limits(), data=data)


def follow_link() -> None:
    """Show a shared link's grid (``?spec=…`` or ``?exp=ID``) in the form, or, after a page
    switch, the grid this session last had. Runs before the widgets are created."""
    exp = st.query_params.get("exp")
    link = st.query_params.get("spec") or st.session_state.get("gs_last_link")
    try:
        if exp:
            spec = _experiment_spec(exp)
            link = encode_spec(spec)
        if not link or (link == st.session_state.get("gs_last_link") and "gs_units" in st.session_state):
            return
        if not exp:
            spec = decode_spec(link)
        form = spec_to_form(spec)
        _checked(spec, from_store=bool(exp), form_shows_it=form is not None)
    except TuningError as exc:  # a bad link: say so, and carry on with the form as it was
        st.error(plain(exc), icon=":material/link_off:")
        st.query_params.pop("exp", None)
        st.query_params.pop("spec", None)
        return
    st.session_state.pop("gs_linked_spec", None)
    if form is None:
        st.session_state["gs_linked_spec"] = spec
        return
    for key, value in form.items():
        st.session_state[f"gs_{key}"] = value
    st.session_state["gs_n_jobs"] = min(spec.n_jobs or 1, os.cpu_count() or 1)
    for option, value in spec.dataset.items():
        st.session_state["dataset_name" if option == "name" else f"dataset_{option}"] = value
    st.session_state["gs_last_link"] = link


def show_linked_spec(spec: ExperimentSpec, sidebar_dataset: dict[str, Any]) -> None:
    """What a linked spec the form cannot show searches, in a few lines, and the spec itself, with a
    CSV file named by its file name: a visitor never sees where the server keeps files."""
    own_data = "" if spec.dataset == sidebar_dataset else f", on its own data ({shown_dataset(spec.dataset)})"
    st.info(plain(f"This link's experiment uses settings the form cannot show; it runs exactly as linked{own_data}."))
    st.markdown("\n".join(f"- {plain(line)}" for line in summarize_spec(spec)))
    with st.expander("The experiment's spec (JSON)", icon=":material/data_object:"):
        st.code(json.dumps(spec_for_display(spec), indent=2), language="json")
