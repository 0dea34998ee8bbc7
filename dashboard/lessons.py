"""The lesson presets as every session of this server sees them: prepared from server start, shared read-only."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.projection import PROJECTED_CHART_HEIGHT
from tuning.figures import fig_lesson
from tuning.services.lessons import LESSONS, LessonPreparer, LessonResult

# Projected, the preset buttons share one row of a 1280 px screen at 20 px text: the longer titles shorten.
PROJECTED_LABELS = {"hidden_size": "Hidden size", "hidden_size_regression": "Hidden size (sine)",
                    "minibatch": "Mini-batches", "init_seeds": "Init and seeds"}


def preset_label(name: str, presenting: bool) -> str:
    """A preset's button label: its title, or a shorter one when projected."""
    return PROJECTED_LABELS.get(name, LESSONS[name].title) if presenting else LESSONS[name].title


@st.cache_resource(show_spinner=False)
def lesson_preparer() -> LessonPreparer:
    """The one process per server that computes the presets not on disk yet (see dashboard/server.py)."""
    return LessonPreparer()


def lesson_result(name: str) -> LessonResult | None:
    """A finished preset, or None while it is being prepared (started here if the server did not)."""
    preparer = lesson_preparer()
    result = preparer.result(name)
    if result is None:
        preparer.start()  # no-op when it runs or ran already; AppTest has no server start to do it
    return result


@st.cache_resource(show_spinner=False, max_entries=2 * len(LESSONS))
def lesson_figures(name: str, presenting: bool) -> tuple[go.Figure, ...]:
    """A preset's charts, built once per server and mode and then only read by every session.

    Building Plotly figures is most of what a warm lesson page costs the server; a class
    opening the same preset at once shares these objects instead.
    """
    figures = fig_lesson(lesson_preparer().result(name), projection=presenting)
    if presenting:  # the chart fills a 1280x720 screen; the text follows it
        for fig in figures:
            fig.update_layout(height=PROJECTED_CHART_HEIGHT)
    return tuple(figures)
