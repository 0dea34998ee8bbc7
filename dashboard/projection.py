"""Projection mode: large text and thick lines for the back of a classroom (``?present=1``)."""

from __future__ import annotations

import streamlit as st

PROJECTION_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.1rem; line-height: 1.45; }
.st-key-lesson_text_long p { font-size: 20px !important; line-height: 1.35 !important; }
h1 { font-size: 2.6rem !important; padding-top: 0 !important; padding-bottom: 0.25rem !important; }
h2, h3 { font-size: 2rem !important; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 3rem !important; line-height: 1.15; }
[data-testid="stMetricLabel"] p { font-size: 1.1rem !important; }
[data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 0.75rem 2rem 2rem; max-width: 100%; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }
[data-testid="stButtonGroup"] button { padding: 0.2rem 0.8rem; min-height: 2.4rem; }
[data-testid="stButtonGroup"] button p { font-size: 20px; }
.stButton button p, .stDownloadButton button p, [data-testid="stPopover"] button p {
  white-space: normal; overflow: visible; text-overflow: clip; }
[data-testid="stWidgetLabel"] p { font-size: 1rem !important; }
code { font-size: max(20px, 0.9em) !important; }
[data-testid="stSlider"] [role="group"] { margin-top: 0.8rem; }
[data-testid="stSliderThumbValue"] p, [data-testid="stSliderTickBar"] p { font-size: 20px !important; }
[data-testid="stSelectbox"] input, [data-testid="stMultiSelect"] input, [data-testid="stMultiSelect"] span,
[data-testid="stNumberInput"] input, [data-testid="stTextInput"] input { font-size: 22px !important; }
[data-baseweb="tab"] p { font-size: 1rem; }
[data-testid="stExpander"] summary p { font-size: 1.1rem; }
</style>
"""
PROJECTED_CHART_HEIGHT = 360  # px: a chart, its text and the page's buttons on one 1280x720 screen
LONG_TEXT = 600  # characters: a lesson text longer than this is set at 20 px (LONG_TEXT_KEY) to fit under its chart
LONG_TEXT_KEY = "lesson_text_long"


def projection_mode(page: str) -> bool:
    """The projection toggle (also ``?present=1``): large text and thick lines for a classroom.

    Each page has its own toggle widget; the mode itself is kept for the session, so it
    survives page switches (which drop the query string).
    """
    key = f"present_{page}"
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get("present") == "1" or st.session_state.get("present", False)
    on = st.sidebar.toggle("Projection mode", key=key, help="Large text and charts for the back of a room",
                           on_change=_remember_mode, args=(key,))
    st.session_state["present"] = on
    if on:
        st.query_params["present"] = "1"
        st.markdown(PROJECTION_CSS, unsafe_allow_html=True)  # our own stylesheet, no user content
    else:
        st.query_params.pop("present", None)
    return on


def projection_requested() -> bool:
    """Whether this run projects, known before the page draws its toggle (``app.py`` collapses
    the sidebar with it): the session's mode once it has one, else the address's ``?present=1``."""
    if "present" in st.session_state:
        return bool(st.session_state["present"])
    return st.query_params.get("present") == "1"


def _remember_mode(key: str) -> None:
    """The toggle changed: the run it starts projects (or not) from its first line, as ``?present=1`` does."""
    st.session_state["present"] = st.session_state[key]


def step_through(count: int, key: str) -> int | None:
    """In projection mode, which one of ``count`` charts to show, with Previous and Next buttons
    (one chart and its text fit a 1280x720 screen; two do not). None: show them all."""
    if not st.session_state.get("present") or count < 2:
        return None
    step = min(max(st.session_state.get(key, 0), 0), count - 1)
    back, forward, where = st.columns([1, 1, 3], vertical_alignment="center")
    back.button("Previous", key=f"{key}_previous", icon=":material/arrow_back:", disabled=step == 0,
                on_click=_step, args=(key, step - 1), width="stretch")
    forward.button("Next", key=f"{key}_next", icon=":material/arrow_forward:", disabled=step == count - 1,
                   on_click=_step, args=(key, step + 1), width="stretch")
    where.caption(f"Chart {step + 1} of {count}")
    return step


def _step(key: str, step: int) -> None:
    st.session_state[key] = step
