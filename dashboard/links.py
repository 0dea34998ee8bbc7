"""Shared links: a ``?spec=`` or ``?exp=`` address fills the Grid Search form."""

from __future__ import annotations

import os

import streamlit as st

from dashboard.store import experiment_store
from tuning.engine.spec import parse_spec
from tuning.errors import TuningError
from tuning.services.share import decode_spec, encode_spec, spec_to_form


def follow_link() -> None:
    """Show a shared link's grid (``?spec=…`` or ``?exp=ID``) in the form, or, after a page
    switch, the grid this session last had. Runs before the widgets are created."""
    exp = st.query_params.get("exp")
    link = st.query_params.get("spec") or st.session_state.get("gs_last_link")
    try:
        if exp:
            row = experiment_store().get(experiment_store().find(exp))
            link = encode_spec(parse_spec(row["spec"]))
        if not link or (link == st.session_state.get("gs_last_link") and "gs_units" in st.session_state):
            return
        spec = decode_spec(link)
    except TuningError as exc:  # a bad link: say so, and carry on with the form as it was
        st.error(str(exc), icon=":material/link_off:")
        st.query_params.pop("exp", None)
        st.query_params.pop("spec", None)
        return
    form = spec_to_form(spec)
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
