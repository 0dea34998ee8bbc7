"""Widgets and helpers shared by the pages: the dataset picker, cached loading, the error boundary.

UI code only: everything it computes comes from ``tuning``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from tuning.cluster import cluster_status
from tuning.csv_source import CsvLimits, csv_columns, describe_preprocessing, guess_target, read_csv, save_upload
from tuning.datasets import BUILTIN_DATASETS, Dataset, load_dataset
from tuning.errors import DataError, TuningError
from tuning.figures import apply_theme, fig_dataset_scatter
from tuning.hosting import HostedLimits
from tuning.jobs import CoreQueue, SearchJob
from tuning.share import DATASET_FORM_RANGES, FORM_OPTIONS, decode_spec, encode_spec, spec_to_form
from tuning.spec import ExperimentSpec, parse_spec
from tuning.store import ExperimentStore, default_store_path

log = logging.getLogger("tuning_lab")

LEARNING_RATES = FORM_OPTIONS["rates"]
ALPHAS = FORM_OPTIONS["alphas"]


PROJECTION_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.25rem; line-height: 1.5; }
h1 { font-size: 3rem !important; } h2, h3 { font-size: 2.2rem !important; }
[data-testid="stMetricValue"] { font-size: 3rem; }
[data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 1rem; max-width: 100%; }
</style>
"""


def hosted_limits() -> HostedLimits:
    return HostedLimits.from_env()


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


def show_chart(fig: Any, key: str, *, container: Any = None, shared: bool = False, **options: Any) -> Any:
    """Draw a figure with our theme (projection mode when on), in ``container`` (default: here).

    ``shared`` marks a cached figure that other sessions draw too: it is already styled for
    the mode it was built for and is never modified here.
    """
    if st.session_state.get("present") and not shared:
        apply_theme(fig, projection=True)
    return (container or st).plotly_chart(fig, theme=None, key=key, **options)


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
def _cached_dataset(dataset_json: str) -> Dataset:
    return load_dataset(json.loads(dataset_json))


def cached_dataset(dataset: dict[str, Any]) -> Dataset:
    """Load a dataset (a spec's ``dataset`` field) once per distinct spec, shared by every session."""
    return _cached_dataset(json.dumps(dataset, sort_keys=True))


UPLOAD = "upload"


@st.cache_data(max_entries=8, show_spinner=False)
def cached_csv(raw: bytes, name: str, target: str | None) -> Dataset:
    """Parse an uploaded CSV once per content and target (with the hosted caps when hosted)."""
    return read_csv(raw, name=name, target=target, limits=hosted_limits().csv_limits(CsvLimits.from_env()))


_OPTION_WIDGETS = {"n_samples": "Samples", "noise": "Noise", "centers": "Classes", "random_state": "Data seed"}


def _builtin_options(name: str) -> dict[str, Any]:
    """One slider per option of a generated dataset (state kept per option, shared by datasets)."""
    builtin = BUILTIN_DATASETS[name]
    spec: dict[str, Any] = {"name": name}
    for option, label in _OPTION_WIDGETS.items():
        if option not in builtin.options:
            continue
        low, high, step = DATASET_FORM_RANGES[option]
        key = f"dataset_{option}"
        st.session_state.setdefault(key, builtin.options[option].default)
        if option == "random_state":
            spec[option] = int(st.number_input(label, int(low), int(high), key=key))
        elif isinstance(step, float):
            spec[option] = float(st.slider(label, float(low), float(high), step=float(step), key=key))
        else:
            spec[option] = int(st.slider(label, int(low), int(high), step=int(step), key=key))
    st.caption(builtin.description)
    return spec


def _uploaded_csv() -> tuple[dict[str, Any], Dataset]:
    """The upload widget and target choice; stops the page with one message for a bad file."""
    upload = st.file_uploader("Your CSV file", key="dataset_csv",
                              help="A header row, one row per example, commas, semicolons or tabs.")
    if upload is None:
        st.info("Upload a CSV file, or choose a built-in dataset.")
        st.stop()
    raw = upload.getvalue()
    try:
        columns = csv_columns(raw, name=upload.name)
        target = st.selectbox("Target column", columns, index=columns.index(guess_target(columns)),
                              key="dataset_csv_target", help="The column to predict")
        data = cached_csv(raw, upload.name, target)
    except DataError as exc:
        st.error(str(exc), icon=":material/block:")
        st.stop()
    return {"csv": str(save_upload(raw, upload.name)), "target": target}, data


def choose_dataset() -> tuple[dict[str, Any], Dataset]:
    """Sidebar: pick a built-in (with its options) or upload a CSV; show its summary.

    Returns the spec's ``dataset`` field and the loaded data.
    """
    with st.sidebar:
        st.header("Dataset")
        names = [*BUILTIN_DATASETS, UPLOAD]
        st.session_state.setdefault("dataset_name", "moons")
        name = st.selectbox("Dataset", names, key="dataset_name",
                            format_func=lambda n: "Upload a CSV…" if n == UPLOAD else n.replace("_", " "),
                            help="Bundled with scikit-learn, generated, or your own CSV; nothing is downloaded.")
        if name == UPLOAD:
            spec, data = _uploaded_csv()
        else:
            spec = _builtin_options(name)
            data = cached_dataset(spec)
        _show_summary(data)
    if data.report:
        show_csv_report(data)
    return spec, data


def _show_summary(data: Dataset) -> None:
    """Rows, features and class counts (names as plain text), and the scatter for 2-D data."""
    st.caption(f"{data.n_samples} rows · {data.n_features} features · {len(data.class_names)} classes")
    st.dataframe({"class": data.class_names, "rows": data.class_counts}, hide_index=True, key="dataset_classes",
                 height=min(38 + 35 * len(data.class_names), 250))
    if data.is_plane:
        fig = fig_dataset_scatter(data)
        fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, showlegend=False)
        st.plotly_chart(fig, theme=None, key="dataset_scatter", config={"displayModeBar": False})


def show_csv_report(data: Dataset) -> None:
    """What loading a CSV did and what the pipeline will do; every name shown as plain text."""
    report = data.report or {}
    with st.expander(f"About this file: {data.n_samples} rows, target column {report['target']!r}",
                     expanded=False):
        columns = [{"column": c, "kind": "numeric", "missing": report["missing_values"].get(c, 0)}
                   for c in report["numeric_columns"]]
        columns += [{"column": c, "kind": "categorical", "missing": report["missing_values"].get(c, 0)}
                    for c in report["categorical_columns"]]
        columns += [{"column": c, "kind": f"dropped: {why}", "missing": None}
                    for c, why in report["dropped_columns"].items()]
        st.dataframe(columns, hide_index=True, key="csv_columns")
        notes = [f"Read as {report['encoding']}, {report['delimiter']}-separated."]
        if report["rows_dropped_missing_target"]:
            notes.append(f"{report['rows_dropped_missing_target']} row(s) without a target value are dropped.")
        notes += [f"Pipeline: {step}." for step in describe_preprocessing(data, "standard")]
        st.text("\n".join(notes))


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> ExperimentStore:
    return ExperimentStore(path)


def experiment_store() -> ExperimentStore:
    """The store every session shares (``$TUNING_STORE`` or ``~/.tuning-lab/experiments.sqlite``)."""
    return _store_at(str(default_store_path()))


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


@st.cache_data(ttl=10, show_spinner=False)
def _cluster_status(address: str) -> dict[str, Any]:
    return cluster_status(address)


def compute_choice() -> tuple[str | None, bool]:
    """Sidebar: this machine, or a Dask scheduler (with its workers shown). Returns (address, usable)."""
    with st.sidebar:
        st.header("Compute")
        where = st.radio("Run searches on", ["This machine", "A Dask cluster"], key="compute_where",
                         horizontal=True)
        if where == "This machine":
            return None, True
        st.session_state.setdefault("compute_address", os.environ.get("TUNING_DASK_SCHEDULER", "tcp://127.0.0.1:8786"))
        address = st.text_input("Scheduler address", key="compute_address",
                                help="tcp://HOST:PORT of `dask scheduler`, or 'local' for a cluster on this machine")
        try:
            status = _cluster_status(address.strip())
        except TuningError as exc:
            st.error(str(exc), icon=":material/cloud_off:")
            return address, False
        st.success(f"Connected: {len(status['workers'])} worker(s), {status['threads']} thread(s)",
                   icon=":material/cloud_done:")
        st.dataframe(status["workers"], hide_index=True, key="compute_workers")
        return address.strip(), True


@st.cache_resource(show_spinner=False)
def core_queue() -> CoreQueue:
    """One line for the machine's cores, shared by every session of this server."""
    return CoreQueue()


@st.cache_resource(show_spinner=False)
def _job_registry() -> tuple[threading.Lock, dict[str, SearchJob]]:
    """Searches by spec, shared by every session: one spec is never run twice at once."""
    return threading.Lock(), {}


def start_or_join_search(spec: ExperimentSpec, *, restart: bool = False, scheduler: str | None = None) -> SearchJob:
    """The running (or finished) job for this spec, started if there is none."""
    lock, jobs = _job_registry()
    key = spec.to_json()
    with lock:
        job = jobs.get(key)
        if job is None or (restart and job.state().status in ("cancelled", "failed")):
            job = SearchJob(spec, refit=True, store=experiment_store(), scheduler=scheduler,
                            queue=None if scheduler else core_queue(), max_epochs=hosted_limits().search_epochs())
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


def page_setup(page: str) -> None:
    """What every page does first: run inside the app's navigation, the projection toggle, hosted limits."""
    require_app_navigation()
    projection_mode(page)
    if hosted_limits().enabled:
        st.sidebar.caption(hosted_limits().describe())


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
