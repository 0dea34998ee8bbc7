"""Shareable links: a spec in a URL, and the Grid Search form's values for a spec.

``decode_spec(encode_spec(spec)) == spec`` exactly; the text is compact and URL-safe.

A link is hostile input: :func:`decode_spec` bounds the link's length, its size after
decompression (it never inflates more than that), the number of values in it before
they are validated, and the CPU time decoding takes; :func:`open_link` then checks the
spec's costs (:func:`tuning.engine.limits.check_search_costs`) before anything runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.model_selection import ParameterGrid

from tuning.data.csv_source import upload_folder
from tuning.data.datasets import BUILTIN_DATASETS
from tuning.engine.limits import CapError, SearchLimits, check_search_costs
from tuning.engine.networks import DEFAULT_INIT, DEFAULT_SCORING, INIT_SCHEMES
from tuning.engine.spec import DEFAULT_RANDOM_STATE, ExperimentSpec, parse_spec
from tuning.errors import SpecError, TuningError
from tuning.services.experiments import searched_parameters

# The Grid Search form's choices; a spec whose values are all among them can be shown in it.
FORM_OPTIONS: dict[str, list[Any]] = {
    "units": [1, 2, 4, 8, 16, 32, 64, 128],
    "depths": [1, 2, 3],
    "rates": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0],
    "iters": [10, 25, 50, 100, 200, 400],
    "batches": ["auto", 16, 32, 64, 128],
    "alphas": [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0],
    "solvers": ["adam", "sgd", "lbfgs"],
    "activations": ["relu", "tanh", "logistic", "identity"],
    "early_stopping": [False, True],
    "inits": list(INIT_SCHEMES),
}
# The form's scorers for a regression (a classification is scored by accuracy).
REGRESSION_FORM_SCORERS = ["r2", "neg_root_mean_squared_error", "neg_mean_absolute_error"]
# What the user sees each form field as, for messages about it.
FORM_LABELS: dict[str, str] = {
    "units": "Hidden units", "depths": "Hidden layers", "rates": "Learning rates", "iters": "max_iter (epochs)",
    "batches": "Batch sizes", "alphas": "alpha (L2)", "solvers": "Solver", "activations": "Activation",
    "early_stopping": "Early stopping", "inits": "Weight init", "cv": "CV folds",
}
# The sidebar's dataset sliders: (low, high, step) of each generated dataset's option.
DATASET_FORM_RANGES: dict[str, tuple[float, float, float]] = {
    "n_samples": (50, 2000, 50), "noise": (0.0, 2.0, 0.05), "centers": (2, 6, 1), "random_state": (0, 10_000, 1),
}
FORM_DEFAULTS: dict[str, Any] = {"units": [2, 8, 32], "depths": [1], "rates": [1e-3, 0.01], "iters": [25, 50, 100],
                                 "batches": ["auto"], "alphas": [1e-4], "solvers": ["adam"], "activations": ["relu"],
                                 "early_stopping": [False], "inits": [DEFAULT_INIT], "cv": 3}
# Form fields that are one MLPClassifier parameter each, in the grid only when they differ from
# MLPClassifier's default (so a grid without them is the same spec, and the same experiment, as before).
_OPTIONAL_GRID = {"solvers": "solver", "activations": "activation", "early_stopping": "early_stopping",
                  "inits": "init"}
_GRID_FIELDS = {"hidden_layer_sizes", "learning_rate_init", "max_iter", "batch_size", "alpha"}


def encode_spec(spec: ExperimentSpec) -> str:
    """The spec as a short URL-safe string."""
    text = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


@dataclass(frozen=True)
class LinkLimits:
    """How much a ``?spec=`` link may ask of the server just to be read.

    A link made by the Grid Search form is a few hundred characters; these caps leave
    room for hand-written specs while keeping decoding well under a second of CPU.
    """

    max_chars: int = 4_000        # the link text
    max_bytes: int = 32_000       # the JSON after decompression
    max_values: int = 1_000       # numbers, strings and lists in the JSON, before validation
    max_depth: int = 8            # nesting of lists and objects
    max_seconds: float = 0.5      # CPU time to decode and validate


def _damaged() -> TuningError:
    return TuningError("this link's spec is damaged or incomplete. Ask for the link again, or build the grid "
                       "with the form")


def _inflate(data: bytes, limit: int) -> bytes:
    """Decompress at most ``limit`` bytes (never more, whatever the ratio); a CapError when there is more."""
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise CapError("link", "decompressed size", None, limit, "bytes of spec",
                       "Use a smaller spec, or run it with `python -m tuning run`")
    if not inflater.eof:
        raise _damaged()
    return raw


def _count_values(data: Any, limits: LinkLimits) -> None:
    """Refuse JSON with too many values or too deep, before any of it is validated."""
    values, depth, level = 0, 0, [(data, 1)]
    while level:
        item, depth = level.pop()
        values += 1
        if depth > limits.max_depth:
            raise CapError("link", "nesting", depth, limits.max_depth, "levels of nesting", "Use a flatter spec")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        level.extend((child, depth + 1) for child in children)
        if values + len(level) > limits.max_values:
            raise CapError("link", "spec values", None, limits.max_values, "values",
                           "Use fewer values per parameter, or run the spec with `python -m tuning run`")


def decode_spec(text: str, limits: LinkLimits | None = None) -> ExperimentSpec:
    """The spec a link carries, read within ``limits`` (:class:`LinkLimits` by default).

    Raises
    ------
    CapError
        When the link is over a :class:`LinkLimits` cap (it names the cap and by how much).
    TuningError
        When the text is not a link this tool made (or was cut short), or its spec is invalid.
    """
    limits = limits or LinkLimits()
    started = time.thread_time()
    if len(text) > limits.max_chars:
        raise CapError("link", "link length", len(text), limits.max_chars, "characters",
                       "Use a smaller spec, or run it with `python -m tuning run`")
    try:
        raw = _inflate(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), limits.max_bytes)
        data = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError, UnicodeDecodeError):
        raise _damaged() from None
    except RecursionError:
        raise CapError("link", "nesting", None, limits.max_depth, "levels of nesting", "Use a flatter spec") from None
    _count_values(data, limits)
    try:
        spec = parse_spec(data)
    except SpecError as exc:
        raise TuningError(f"this link's spec is not valid here: {exc}") from None
    elapsed = time.thread_time() - started
    if elapsed > limits.max_seconds:
        raise CapError("link", "decoding time", elapsed, limits.max_seconds, "s of CPU to decode",
                       "Use a smaller spec, or run it with `python -m tuning run`")
    return spec


def open_link(text: str, limits: SearchLimits, *, link_limits: LinkLimits | None = None) -> ExperimentSpec:
    """A link's spec, refused (CapError) when reading it or running it would cost more than the caps allow."""
    spec = decode_spec(text, link_limits)
    check_search_costs(spec, limits)
    return spec


def form_to_spec(form: dict[str, Any], dataset: dict[str, Any], n_jobs: int,
                 task: str = "classification") -> dict[str, Any]:
    """The spec the Grid Search form describes (form keys as in :data:`FORM_DEFAULTS`) for data of this task.

    A regression's scorer is the form's ``scoring`` (one of :data:`REGRESSION_FORM_SCORERS`),
    written only when it is not the default; a classification is scored by accuracy.

    Raises
    ------
    SpecError
        When a field has nothing chosen; the message names the field as the form labels it.
    """
    for key, label in FORM_LABELS.items():
        if key != "cv" and not form.get(key, FORM_DEFAULTS[key]):
            raise SpecError(label, "nothing is chosen", "Choose at least one value")
    grid = {"hidden_layer_sizes": [[u] * d for d in sorted(form["depths"]) for u in sorted(form["units"])],
            "learning_rate_init": sorted(form["rates"]), "max_iter": sorted(form["iters"]),
            "batch_size": list(form["batches"]), "alpha": sorted(form["alphas"])}
    for key, name in _OPTIONAL_GRID.items():
        chosen = [v for v in FORM_OPTIONS[key] if v in form.get(key, FORM_DEFAULTS[key])]
        if chosen != FORM_DEFAULTS[key]:
            grid[name] = chosen
    spec: dict[str, Any] = {"dataset": dataset, "param_grid": grid, "cv": form["cv"], "n_jobs": n_jobs}
    if task == "regression" or "csv" in dataset:  # a CSV file's task is the one the page read it as
        spec["task"] = task
    scoring = form.get("scoring") or DEFAULT_SCORING[task]
    if task == "regression" and scoring != DEFAULT_SCORING[task]:
        spec["scoring"] = scoring
    return spec


_FIELD_LABELS = {
    "cv": "CV folds", "hidden_layer_sizes": "Hidden units and layers", "learning_rate_init": "Learning rates",
    "max_iter": "max_iter (epochs)", "batch_size": "Batch sizes", "alpha": "alpha (L2)", "solver": "Solver",
    "activation": "Activation", "early_stopping": "Early stopping", "init": "Weight init", "param_grid": "The grid",
}


def field_label(field: str) -> str:
    """What the Grid Search form calls a spec field (``param_grid.max_iter[2]`` -> ``max_iter (epochs)``)."""
    name = field.removeprefix("param_grid.").split("[", 1)[0].split(".", 1)[0]
    return _FIELD_LABELS.get(name, field)


def spec_to_form(spec: ExperimentSpec) -> dict[str, Any] | None:
    """The form's values for a spec, or None when the form (and the sidebar) cannot show it exactly."""
    scorers = REGRESSION_FORM_SCORERS if spec.task == "regression" else [DEFAULT_SCORING["classification"]]
    if (len(spec.param_grid) != 1 or spec.estimator != {"random_state": DEFAULT_RANDOM_STATE}
            or spec.preprocess != "standard" or spec.scoring not in scorers or spec.cv > 10
            or spec.dataset.get("name") not in BUILTIN_DATASETS):
        return None
    grid = spec.param_grid[0]
    if not _GRID_FIELDS <= set(grid) <= _GRID_FIELDS | set(_OPTIONAL_GRID.values()):
        return None
    sizes = grid["hidden_layer_sizes"]
    if not all(isinstance(s, list) and len(set(s)) == 1 for s in sizes):
        return None
    form = {"units": sorted({s[0] for s in sizes}), "depths": sorted({len(s) for s in sizes}),
            "rates": sorted(grid["learning_rate_init"]), "iters": sorted(grid["max_iter"]),
            "batches": list(grid["batch_size"]), "alphas": sorted(grid["alpha"]), "cv": spec.cv,
            **{key: grid.get(name, FORM_DEFAULTS[key]) for key, name in _OPTIONAL_GRID.items()}}
    if spec.task == "regression":
        form["scoring"] = spec.scoring
    for key, options in FORM_OPTIONS.items():
        if any(v not in options for v in form[key]):
            return None
    for option, value in spec.dataset.items():
        if option == "name":
            continue
        low, high, step = DATASET_FORM_RANGES[option]
        if not (low <= value <= high and abs(round((value - low) / step) * step + low - value) < 1e-9):
            return None
    rebuilt = parse_spec(form_to_spec(form, spec.dataset, spec.n_jobs or 1, spec.task))
    return form if rebuilt.param_grid == spec.param_grid else None


def _file_name(path: str) -> str:
    return os.path.basename(path.replace("\\", "/")) or "the CSV file"


def shown_dataset(dataset: Mapping[str, Any]) -> str:
    """The data a spec names, as anyone may read it: ``penguins.csv (uploaded), target "species"``
    (the file's name, never where the server keeps it), or ``moons (n_samples=300, noise=0.2)``."""
    if "csv" in dataset:
        path = str(dataset["csv"])
        folder = os.path.abspath(upload_folder())
        uploaded = " (uploaded)" if os.path.abspath(path).startswith(folder + os.sep) else ""
        target = f', target "{dataset["target"]}"' if dataset.get("target") is not None else ""
        return f"{_file_name(path)}{uploaded}{target}"
    options = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in dataset.items() if k != "name")
    return f"{dataset.get('name')} ({options})" if options else str(dataset.get("name"))


def spec_for_display(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as JSON data with a CSV file's path cut to its name: what a page may show any visitor."""
    shown = spec.to_dict()
    if "csv" in shown["dataset"]:
        shown["dataset"]["csv"] = _file_name(str(shown["dataset"]["csv"]))
    return shown


_MODELS = {"classification": "MLPClassifier", "regression": "MLPRegressor",
           "auto": "MLPClassifier or MLPRegressor (as the target is read)"}


def summarize_spec(spec: ExperimentSpec) -> list[str]:
    """A few lines that say what a spec searches, for a spec the form cannot show: its data, the size
    of the search, the parameters it varies and those it fixes."""
    candidates = len(ParameterGrid(spec.param_grid))
    scoring = f", scored by {spec.scoring}" if spec.scoring else ""
    lines = [f"Data: {shown_dataset(spec.dataset)}",
             f"{_MODELS.get(spec.task, spec.task)}: {candidates} candidate{'s' * (candidates != 1)} × {spec.cv} "
             f"folds = {candidates * spec.cv} fits{scoring}"]
    searched = searched_parameters(spec)
    if searched:
        lines.append("Searched: " + "; ".join(f"{name} {span}" for name, span in searched.items()))
    fixed = {**spec.estimator, **{name: values[0] for grid in spec.param_grid for name, values in grid.items()
                                  if name not in searched and len(values) == 1}}
    if fixed:
        lines.append("Fixed: " + ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(fixed.items())))
    if spec.preprocess != "standard":
        lines.append(f"Preprocessing: {spec.preprocess} (no StandardScaler in front of the network)")
    return lines
