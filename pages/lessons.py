"""Lessons: one-click presets, a few sentences each, and the chart that demonstrates them."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.charts import show_chart
from dashboard.classroom import start_class_button, teacher_session, teacher_view
from dashboard.lessons import lesson_figures, lesson_preparer, lesson_result, preset_label
from dashboard.page import page_setup
from dashboard.projection import LONG_TEXT, LONG_TEXT_KEY, step_through
from tuning.services.lessons import LESSONS, LessonResult


def wait_for(name: str) -> LessonResult | None:
    """Say the preset is being prepared until it is there; None if preparing it failed.

    The script run waits (any click interrupts it: Streamlit stops a script at its next
    element when a rerun is asked for) rather than polling with a fragment that reruns
    the page: on the Playground that made the browser forget controls (Streamlit 1.67).
    """
    notice = st.empty()
    while (result := lesson_result(name)) is None:
        if lesson_preparer().failed:
            notice.error("Preparing the presets failed; the server log has the details. Restart the server to "
                         "try again.", icon=":material/build:")
            return None
        ready = sum(lesson_preparer().result(n) is not None for n in LESSONS)
        notice.info(f"Preparing “{LESSONS[name].title}”: the server computes every preset once, in the "
                    f"background, from the moment it starts ({ready} of {len(LESSONS)} ready). It appears here "
                    "by itself.", icon=":material/hourglass_top:")
        time.sleep(0.5)
    notice.empty()
    return result


@error_boundary
def page() -> None:
    page_setup("lessons")
    presenting = st.session_state.get("present", False)
    class_ = teacher_session()  # a teacher's link: the class's round replaces the lesson's text and charts
    if not presenting and not class_:
        st.title("Lessons")
    names = list(LESSONS)
    st.session_state.setdefault("lesson", st.query_params.get("lesson") if st.query_params.get("lesson") in names
                                else names[0])
    name = st.segmented_control("Preset", names, key="lesson", format_func=lambda n: preset_label(n, presenting),
                                label_visibility="collapsed") or names[0]
    st.query_params["lesson"] = name
    if class_:  # the round runs while its preset is prepared: only the reveal needs it
        teacher_view(class_, name, lesson_result(name))
        return
    result = lesson_result(name) or wait_for(name)
    if result is None:
        return
    if not presenting:
        st.subheader(result.title)
        st.markdown(result.text)
    figures = lesson_figures(name, bool(presenting))
    shown = step_through(len(figures), f"lesson_{name}_step")  # projected: one chart at a time
    for i, fig in enumerate(figures):
        if shown in (None, i):
            show_chart(fig, f"lesson_{name}_{i}", shared=True)
    if presenting:  # a long text (two lessons in one preset) takes the smallest projected size, to fit under the chart
        with st.container(key=LONG_TEXT_KEY if len(result.text) > LONG_TEXT else "lesson_text"):
            st.markdown(result.text)
    if result.claim_holds:
        st.caption(f"Checked on this result: {result.claim}.")
    else:
        st.warning(f"This run does not show what the lesson expects ({result.claim}); read the chart as it is.")
    if not presenting:  # for a student at a keyboard, not for the room; projected, it pushed Class mode off screen
        st.caption(f"Run it yourself: `python -m tuning lesson run {name} --out {name}.json`")
    start_class_button()


page()
