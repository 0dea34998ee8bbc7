"""The sidebar's dataset picker: built-ins with their options, CSV upload, and cached loading.

The picker is shared by the pages: its widgets keep their values for the whole session
(:func:`dashboard.page.keep_widget_values`), and an uploaded file is kept for the session
too, so the dataset chosen on one page is the one the next page shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.text import plain
from tuning.data.csv_source import (
    CsvLimits,
    column_label,
    csv_columns,
    describe_preprocessing,
    guess_target,
    read_csv,
    save_upload,
)
from tuning.data.dataset import Dataset
from tuning.data.datasets import BUILTIN_DATASETS, load_dataset
from tuning.errors import DataError
from tuning.figures import fig_dataset_scatter
from tuning.services.share import DATASET_FORM_RANGES


@st.cache_data(max_entries=32, show_spinner=False)
def _cached_dataset(dataset_json: str, task: str | None) -> Dataset:
    return load_dataset(json.loads(dataset_json), task=task)


def cached_dataset(dataset: dict[str, Any], task: str | None = None) -> Dataset:
    """Load a dataset (a spec's ``dataset`` field, and for a CSV file its task: None or "auto" to choose it
    from the target) once per distinct spec, shared by every session."""
    return _cached_dataset(json.dumps(dataset, sort_keys=True), None if task == "auto" else task)


UPLOAD = "upload"


def session_uploads() -> set[str]:
    """The files this session uploaded: the only CSV files a link may name on a hosted server."""
    return st.session_state.setdefault("csv_uploads", set())


@st.cache_data(max_entries=8, show_spinner=False)
def cached_csv(raw: bytes, name: str, target: str | None, task: str | None = None) -> Dataset:
    """Parse an uploaded CSV once per content, target and task (with the hosted caps when hosted)."""
    return read_csv(raw, name=name, target=target, task=task,
                    limits=hosted_limits().csv_limits(CsvLimits.from_env()))


_TASK_LABELS = {"classification": "Classification (MLPClassifier)", "regression": "Regression (MLPRegressor)"}


def _choose_task(raw: bytes, name: str, target: str, notice: Any) -> Dataset:
    """The file read with the task chosen from its target, and, in the main area, the choice to read it
    the other way (kept per file and target)."""
    detected = cached_csv(raw, name, target)
    key = "dataset_csv_task"
    if st.session_state.get(f"{key}_for") != (name, target):  # a new file or target: its own guess again
        st.session_state[f"{key}_for"] = (name, target)
        st.session_state[key] = detected.task
    task = notice.radio("Task", list(_TASK_LABELS), key=key, horizontal=True, format_func=_TASK_LABELS.get,
                        help="What to predict: a class, or a number")
    notice.caption(plain(f"Chosen from the target column {target!r}: {detected.report['task_reason']}."
                         + ("" if task == detected.task else " You chose otherwise.")))
    return detected if task == detected.task else cached_csv(raw, name, target, task)


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


def _forget_removed_upload() -> None:
    """The user removed the file (or chose another): forget the one kept for the session."""
    st.session_state.pop("dataset_upload", None)
    st.session_state.pop("dataset_csv_target", None)


def _uploaded_csv(notice: Any) -> tuple[dict[str, Any], Dataset]:
    """The upload widget and target choice; stops the page with one message (here and in ``notice``)
    for a missing or bad file. The file is kept under the user's own name for the session."""
    upload = st.file_uploader("Your CSV file", key="dataset_csv", on_change=_forget_removed_upload,
                              help="A header row, one row per example, commas, semicolons or tabs.")
    if upload is not None:
        raw = upload.getvalue()
        path = save_upload(raw, upload.name)
        session_uploads().add(str(path))
        st.session_state["dataset_upload"] = {"path": str(path), "target": None}
    kept = st.session_state.get("dataset_upload")
    if kept is None or not Path(kept["path"]).is_file():
        st.info("Upload a CSV file, or choose a built-in dataset.")
        notice.info("Upload a CSV file in the sidebar (or choose a built-in dataset) to build a grid on it.",
                    icon=":material/upload_file:")
        st.stop()
    path = Path(kept["path"])
    if upload is None:
        st.text(f"Using {path.name}, uploaded earlier.\nUpload another file to replace it.")
        raw = path.read_bytes()
    try:
        columns = csv_columns(raw, name=path.name)
        wanted = kept["target"] if kept["target"] in columns else guess_target(columns)
        target = st.selectbox("Target column", columns, index=columns.index(wanted), key="dataset_csv_target",
                              help="The column to predict")
        kept["target"] = target
        data = _choose_task(raw, path.name, target, notice)
    except DataError as exc:
        st.error(plain(exc), icon=":material/block:")
        notice.error(plain(exc), icon=":material/block:")
        st.stop()
    return {"csv": str(path), "target": target}, data


def choose_dataset() -> tuple[dict[str, Any], Dataset]:
    """Sidebar: pick a built-in (with its options) or upload a CSV; show its summary.

    Returns the spec's ``dataset`` field and the loaded data.
    """
    notice = st.container()  # the main area: a refusal shows here too, not only in the narrow sidebar
    with st.sidebar:
        st.header("Dataset")
        names = [*BUILTIN_DATASETS, UPLOAD]
        st.session_state.setdefault("dataset_name", "moons")
        name = st.selectbox("Dataset", names, key="dataset_name",
                            format_func=lambda n: "Upload a CSV…" if n == UPLOAD else n.replace("_", " "),
                            help="Bundled with scikit-learn, generated, or your own CSV; nothing is downloaded.")
        if name == UPLOAD:
            spec, data = _uploaded_csv(notice)
        else:
            spec = _builtin_options(name)
            data = cached_dataset(spec)
        _show_summary(data)
    if data.report:
        show_csv_report(data, notice)
    return spec, data


def _show_summary(data: Dataset) -> None:
    """Rows, features and class counts (names as plain text), or the target's range for regression,
    and the scatter for 2-D (or 1-D regression) data."""
    if data.is_regression:
        t = data.target_summary()
        st.caption(f"{data.n_samples} rows · {data.n_features} features · regression (MLPRegressor)")
        st.caption(f"target: mean {t['mean']:.4g}, std {t['std']:.4g}, from {t['min']:.4g} to {t['max']:.4g}")
    else:
        st.caption(f"{data.n_samples} rows · {data.n_features} features · {len(data.class_names)} classes")
        st.dataframe({"class": data.class_names, "rows": data.class_counts}, hide_index=True, key="dataset_classes",
                     height=min(38 + 35 * len(data.class_names), 250))
    if data.is_plane or data.is_line:
        fig = fig_dataset_scatter(data)
        fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, showlegend=False)
        st.plotly_chart(fig, theme=None, key="dataset_scatter", config={"displayModeBar": False})


def show_csv_report(data: Dataset, notice: Any = None) -> None:
    """What loading a CSV did and what the pipeline will do; every name shown as plain text."""
    report = data.report or {}
    dropped = report["dropped_columns"]
    if dropped and notice is not None:
        reasons = "; ".join(f"{column_label(c)}, {why}" for c, why in dropped.items())
        notice.text(f"{data.name}: not used as features: {reasons}.")
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
        if data.is_regression:
            notes.append(f"Target: numbers, {report['target']!r} as it is (regression).")
        notes += [f"Pipeline: {step}." for step in describe_preprocessing(data, "standard")]
        st.text("\n".join(notes))
