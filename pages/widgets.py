"""Widgets and helpers shared by the pages: the dataset picker, cached loading, the error boundary.

UI code only: everything it computes comes from ``tuning``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from tuning.datasets import BUILTIN_DATASETS, Dataset, load_dataset
from tuning.errors import TuningError
from tuning.figures import fig_dataset_scatter
from tuning.jobs import SearchJob
from tuning.spec import ExperimentSpec

log = logging.getLogger("tuning_lab")

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
ALPHAS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0]


def error_boundary(page: Callable[[], None]) -> Callable[[], None]:
    """Show a :class:`TuningError` as one message; log anything else and apologise briefly."""

    @functools.wraps(page)
    def guarded() -> None:
        try:
            page()
        except TuningError as exc:
            st.error(str(exc), icon=":material/warning:")
        except Exception:
            log.exception("unexpected error on a page")
            st.error("Something went wrong on our side: the details are in the server log. "
                     "Your settings are kept; try again or change them.", icon=":material/build:")

    return guarded


@st.cache_data(max_entries=32, show_spinner=False)
def cached_dataset(dataset_json: str) -> Dataset:
    """Load a dataset once per distinct spec (shared by every session)."""
    return load_dataset(json.loads(dataset_json))


def dataset_picker() -> dict[str, Any]:
    """Sidebar widgets for the dataset and its options; returns the dataset spec."""
    with st.sidebar:
        st.header("Dataset")
        names = list(BUILTIN_DATASETS)
        name = st.selectbox("Dataset", names, index=names.index("moons"), key="dataset_name",
                            format_func=lambda n: n.replace("_", " "),
                            help="Bundled with scikit-learn or generated; nothing is downloaded.")
        builtin = BUILTIN_DATASETS[name]
        spec: dict[str, Any] = {"name": name}
        options = builtin.options
        if "n_samples" in options:
            spec["n_samples"] = st.slider("Samples", 50, 2000, options["n_samples"].default, step=50,
                                          key="dataset_n_samples")
        if "noise" in options:
            spec["noise"] = st.slider("Noise", 0.0, float(min(options["noise"].high, 2.0)),
                                      float(options["noise"].default), step=0.05, key="dataset_noise")
        if "centers" in options:
            spec["centers"] = st.slider("Classes", 2, 6, options["centers"].default, key="dataset_centers")
        if "random_state" in options:
            spec["random_state"] = int(st.number_input("Data seed", 0, 10_000, 0, key="dataset_seed"))
        st.caption(builtin.description)
    return spec


def show_dataset_summary(data: Dataset) -> None:
    """Rows, features and classes, and the scatter for 2-D data."""
    with st.sidebar:
        counts = ", ".join(f"{name}: {n}" for name, n in zip(data.class_names, data.class_counts))
        st.caption(f"**{data.n_samples}** rows · **{data.n_features}** features · "
                   f"**{len(data.class_names)}** classes ({counts})")
        if data.n_features == 2:
            fig = fig_dataset_scatter(data)
            fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, showlegend=False)
            st.plotly_chart(fig, theme=None, key="dataset_scatter", config={"displayModeBar": False})


@st.cache_resource(show_spinner=False)
def _job_registry() -> tuple[threading.Lock, dict[str, SearchJob]]:
    """Searches by spec, shared by every session: one spec is never run twice at once."""
    return threading.Lock(), {}


def start_or_join_search(spec: ExperimentSpec, *, restart: bool = False) -> SearchJob:
    """The running (or finished) job for this spec, started if there is none."""
    lock, jobs = _job_registry()
    key = spec.to_json()
    with lock:
        job = jobs.get(key)
        if job is None or (restart and job.state().status in ("cancelled", "failed")):
            job = SearchJob(spec, refit=True)
            jobs[key] = job
            while len(jobs) > 16:  # bounded: forget the oldest finished searches
                oldest = next((k for k, j in jobs.items() if j.state().status != "running"), None)
                if oldest is None:
                    break
                jobs.pop(oldest)
        return job


def find_search(spec: ExperimentSpec) -> SearchJob | None:
    lock, jobs = _job_registry()
    with lock:
        return jobs.get(spec.to_json())


def require_app_navigation() -> None:
    """Make a page opened by its own URL on a fresh server run inside ``app.py``'s navigation.

    Streamlit starts in its legacy mode when a ``pages/`` folder sits beside the main
    script, and stays there until ``st.navigation`` runs; a first visitor arriving at
    ``/grid_search`` would get the page without the app around it. Leaving that mode and
    rerunning serves the same URL through ``app.py``. (AppTest resets that mode before
    every run and drives the pages itself, so it is left alone there.)
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()
