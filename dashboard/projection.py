"""Projection mode: large text and thick lines for the back of a classroom (``?present=1``)."""

from __future__ import annotations

import streamlit as st

PROJECTION_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.25rem; line-height: 1.5; }
h1 { font-size: 3rem !important; } h2, h3 { font-size: 2.2rem !important; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3rem !important; line-height: 1.15; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem !important; }
[data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 0.75rem 2rem 2rem; max-width: 100%; }
[data-testid="stButtonGroup"] button { padding: 0.2rem 0.8rem; min-height: 2.4rem; }
[data-testid="stButtonGroup"] button p { font-size: 20px; }
</style>
"""


def projection_mode(page: str) -> bool:
    """The projection toggle (also ``?present=1``): large text and thick lines for a classroom.

    Each page has its own toggle widget; the mode itself is kept for the session, so it
    survives page switches (which drop the query string).
    """
    key = f"present_{page}"
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get("present") == "1" or st.session_state.get("present", False)
    on = st.sidebar.toggle("Projection mode", key=key, help="Large text and charts for the back of a room")
    st.session_state["present"] = on
    if on:
        st.query_params["present"] = "1"
        st.markdown(PROJECTION_CSS, unsafe_allow_html=True)  # our own stylesheet, no user content
    else:
        st.query_params.pop("present", None)
    return on
