"""Lessons: one-click presets, a few sentences each, and the chart that demonstrates them."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import plotly.graph_objects as go
import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.charts import show_chart
from dashboard.page import page_setup
from tuning.figures import fig_lesson
from tuning.services.lessons import LESSONS, LessonResult, run_lesson


@st.cache_resource(show_spinner=False)
def lesson_results() -> dict[str, Future[LessonResult]]:
    """Every preset computed once per server, in the background, and shared by every session."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lessons")
    return {name: pool.submit(run_lesson, name) for name in LESSONS}


@st.cache_resource(show_spinner=False, max_entries=2 * len(LESSONS))
def lesson_figures(name: str, presenting: bool) -> tuple[go.Figure, ...]:
    """A preset's charts, built once per server and mode and then only read by every session.

    Building Plotly figures is most of what a warm lesson page costs the server; a class
    opening the same preset at once shares these objects instead.
    """
    figures = fig_lesson(lesson_results()[name].result(), projection=presenting)
    if presenting:  # the chart fills a 1280x720 screen; the text follows it
        for fig in figures:
            fig.update_layout(height=520)
    return tuple(figures)


@error_boundary
def page() -> None:
    page_setup("lessons")
    results = lesson_results()
    presenting = st.session_state.get("present", False)
    if not presenting:
        st.title("Lessons")
    names = list(LESSONS)
    st.session_state.setdefault("lesson", st.query_params.get("lesson") if st.query_params.get("lesson") in names
                                else names[0])
    name = st.segmented_control("Preset", names, key="lesson", format_func=lambda n: LESSONS[n].title,
                                label_visibility="collapsed") or names[0]
    st.query_params["lesson"] = name
    future = results[name]
    if not future.done():
        with st.spinner(f"Preparing “{LESSONS[name].title}” (once per server; then it is instant)…"):
            future.result()
    result = future.result()
    if not presenting:
        st.subheader(result.title)
        st.markdown(result.text)
    for i, fig in enumerate(lesson_figures(name, bool(presenting))):
        show_chart(fig, f"lesson_{name}_{i}", shared=True)
    if presenting:
        st.markdown(result.text)
    if result.claim_holds:
        st.caption(f"Checked on this result: {result.claim}.")
    else:
        st.warning(f"This run does not show what the lesson expects ({result.claim}); read the chart as it is.")
    st.caption(f"Run it yourself: `python -m tuning lesson run {name} --out {name}.json`")


page()
