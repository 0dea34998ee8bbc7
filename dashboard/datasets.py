"""The sidebar's dataset picker: built-ins with their options, CSV upload, and cached loading."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.text import plain
from tuning.data.csv_source import CsvLimits, csv_columns, describe_preprocessing, guess_target, read_csv, save_upload
from tuning.data.dataset import Dataset
from tuning.data.datasets import BUILTIN_DATASETS, load_dataset
from tuning.errors import DataError
from tuning.figures import fig_dataset_scatter
from tuning.services.share import DATASET_FORM_RANGES


@st.cache_data(max_entries=32, show_spinner=False)
def _cached_dataset(dataset_json: str) -> Dataset:
    return load_dataset(json.loads(dataset_json))


def cached_dataset(dataset: dict[str, Any]) -> Dataset:
    """Load a dataset (a spec's ``dataset`` field) once per distinct spec, shared by every session."""
    return _cached_dataset(json.dumps(dataset, sort_keys=True))


UPLOAD = "upload"


def session_uploads() -> set[str]:
    """The files this session uploaded: the only CSV files a link may name on a hosted server."""
    return st.session_state.setdefault("csv_uploads", set())


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
        st.error(plain(exc), icon=":material/block:")
        st.stop()
    path = str(save_upload(raw, upload.name))
    session_uploads().add(path)
    return {"csv": path, "target": target}, data


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
    with st.expander(plain(f"About this file: {data.n_samples} rows, target column {report['target']!r}"),
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
