"""The experiment spec: one JSON object shared by the dashboard, the URL, the CLI and the store.

>>> spec = parse_spec({"dataset": {"name": "iris"},
...                    "param_grid": {"hidden_layer_sizes": [[4], [16]]}, "cv": 3})
>>> spec.cv, spec.estimator["random_state"]
(3, 0)

Every check here runs before any data is loaded or any network is fitted. Each error
names the field, shows the bad value and its type, and says the fix.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import InvalidParameterError

from tuning.data.dataset import Dataset
from tuning.data.datasets import dataset_task, normalize_dataset_spec
from tuning.engine.networks import DEFAULT_SCORING, REGRESSION_SCORERS, TASKS, make_network, network_params
from tuning.errors import SpecError, TuningError, describe_value

PREPROCESS_CHOICES = ("standard", "none")
SPEC_FIELDS = ("dataset", "task", "preprocess", "estimator", "param_grid", "cv", "scoring", "n_jobs")
AUTO = "auto"  # a CSV file's task, until its target is read
MLP_PARAMS = network_params("classification")
_PARAMS = {"classification": MLP_PARAMS, "regression": network_params("regression"),
           AUTO: tuple(sorted({*MLP_PARAMS, *network_params("regression")}))}
DEFAULT_RANDOM_STATE = 0

Grid = dict[str, list[Any]]


@dataclass(frozen=True)
class ExperimentSpec:
    """A validated, normalised experiment.

    Parameters
    ----------
    dataset : dict
        ``{"name": NAME, **options}`` with every option's default filled in.
    param_grid : list of dict
        One or more grids of the network's parameter names to lists of values,
        exactly as ``GridSearchCV`` accepts them (a single grid is a list of one).
    estimator : dict
        Fixed parameters of the network. ``random_state`` defaults to 0 so that
        runs are reproducible; set it to ``null`` explicitly for a random start.
    task : {"classification", "regression", "auto"}, default: the data's
        ``MLPClassifier`` or ``MLPRegressor``. A built-in dataset has its own task; a
        CSV file's is ``"auto"`` (chosen from its target when it is read, see
        :func:`for_data`) unless the spec says.
    preprocess : {"standard", "none"}, default="standard"
        ``"standard"`` puts a ``StandardScaler`` in front of the network, inside the
        cross-validated pipeline.
    cv : int, default=5
        Number of folds, split as ``GridSearchCV`` splits the estimator: stratified for a
        classifier, ``KFold`` for a regressor.
    scoring : str, default="accuracy" for classification, "r2" for regression
        A scikit-learn scorer name; None only while the task is "auto".
    n_jobs : int or None, default=None
        Parallel workers as in joblib (None means 1, -1 means all cores).
    """

    dataset: dict[str, Any]
    param_grid: list[Grid]
    estimator: dict[str, Any] = field(default_factory=lambda: {"random_state": DEFAULT_RANDOM_STATE})
    preprocess: str = "standard"
    cv: int = 5
    scoring: str | None = "accuracy"
    n_jobs: int | None = None
    task: str = "classification"

    @property
    def uses_init(self) -> bool:
        """Whether the spec sets ``init`` anywhere: its networks are then the ``init`` subclasses
        (:class:`~tuning.engine.networks.InitMLPClassifier`), bit-identical to scikit-learn's at
        ``"glorot_uniform"``."""
        return "init" in self.estimator or any("init" in grid for grid in self.param_grid)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON data; ``parse_spec(spec.to_dict()) == spec``.

        ``task`` is left out for classification, so that a spec (and its experiment id)
        reads as it did before regression existed.
        """
        grid: Grid | list[Grid] = self.param_grid[0] if len(self.param_grid) == 1 else self.param_grid
        return {
            **({"task": self.task} if self.task != "classification" else {}),
            "dataset": dict(self.dataset),
            "preprocess": self.preprocess,
            "estimator": dict(self.estimator),
            "param_grid": json.loads(json.dumps(grid)),
            "cv": self.cv,
            "scoring": self.scoring,
            "n_jobs": self.n_jobs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"Did you mean {close[0]!r}?" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_json_value(value: Any) -> Any:
    """Tuples become lists so that a spec is the same after a JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v) for v in value]
    return value


def check_mlp_value(where: str, name: str, value: Any, task: str = "classification") -> Any:
    """Validate one value of one parameter of the task's network with scikit-learn's own rules."""
    value = _to_json_value(value)
    if name == "hidden_layer_sizes":
        sizes = value if isinstance(value, list) else [value]
        if not all(_is_int(s) and s > 0 for s in sizes):  # [] is fine: no hidden layer, as scikit-learn allows
            raise SpecError(where, f"hidden_layer_sizes needs positive whole numbers, "
                            f"got {describe_value(value)}",
                            "Write one list of units per network, e.g. [16] or [32, 16]")
        return value
    if task == AUTO:
        task = "regression" if name not in MLP_PARAMS else "classification"
    try:
        make_network(task, {name: value})._validate_params()
    except InvalidParameterError as exc:
        detail = str(exc).split(" must be ", 1)[-1]
        detail = re.sub(r"\.?\s*Got .* instead\.?$", "", detail)
        raise SpecError(where, f"got {describe_value(value)}", f"It must be {detail}") from None
    return value


_NETWORK_NAMES = {"classification": "MLPClassifier", "regression": "MLPRegressor", AUTO: "MLPClassifier/MLPRegressor"}


def _check_param_name(where: str, name: Any, task: str = "classification") -> str:
    names = _PARAMS[task]
    if not isinstance(name, str) or name not in names:
        hint = _suggest(str(name), names) if isinstance(name, str) else ""
        if isinstance(name, str) and name in _PARAMS[AUTO]:
            hint = f"{name} is an {_NETWORK_NAMES['regression' if name not in MLP_PARAMS else 'classification']} " \
                   f"parameter: use it with that task"
        raise SpecError(where, f"{name!r} is not an {_NETWORK_NAMES[task]} parameter",
                        hint or f"The parameters are: {', '.join(names)}")
    return name


def _normalize_grid(where: str, raw: Any, task: str) -> Grid:
    if not isinstance(raw, Mapping):
        raise SpecError(where, f"needs an object of parameter lists, got {describe_value(raw)}",
                        'Write e.g. {"hidden_layer_sizes": [[4], [16]], "max_iter": [50, 100]}')
    grid: Grid = {}
    for name, values in raw.items():
        key = f"{where}.{name}"
        _check_param_name(key, name, task)
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise SpecError(key, f"needs a list of values, got {describe_value(values)}",
                            f"Single values need to be wrapped in a list: [{json.dumps(values)}]")
        if len(values) == 0:
            raise SpecError(key, "is an empty list", "Give at least one value, or remove the parameter")
        # a value listed twice is two candidates, as in GridSearchCV (the caps count every value)
        grid[name] = [check_mlp_value(f"{key}[{i}]", name, v, task) for i, v in enumerate(values)]
    return grid


def _normalize_param_grid(raw: Any, task: str) -> list[Grid]:
    if isinstance(raw, Mapping):
        return [_normalize_grid("param_grid", raw, task)]
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) > 0:
        return [_normalize_grid(f"param_grid[{i}]", g, task) for i, g in enumerate(raw)]
    raise SpecError("param_grid", f"needs an object or a non-empty list of objects, got {describe_value(raw)}",
                    'Write e.g. {"hidden_layer_sizes": [[4], [16]], "max_iter": [50, 100]}')


def _normalize_estimator(raw: Any, task: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError("estimator", f"needs an object of {_NETWORK_NAMES[task]} parameters, got "
                        f"{describe_value(raw)}", 'Write e.g. {"random_state": 0, "solver": "adam"}')
    estimator = {"random_state": DEFAULT_RANDOM_STATE}
    for name, value in raw.items():
        key = f"estimator.{name}"
        _check_param_name(key, name, task)
        estimator[name] = check_mlp_value(key, name, value, task)
    return estimator


def _normalize_task(raw: Any, dataset: dict[str, Any]) -> str:
    """The spec's task: as written, else the built-in dataset's, else "auto" for a CSV file."""
    builtin = dataset_task(dataset)
    if raw is None or raw == AUTO:
        return builtin or AUTO
    if raw not in TASKS:
        raise SpecError("task", f"got {describe_value(raw)}", f"Use one of: {', '.join(TASKS)} (or leave it out)")
    if builtin is not None and raw != builtin:
        raise SpecError("task", f"{dataset['name']} is a {builtin} dataset, not {raw}",
                        f'Use "task": "{builtin}", or a {raw} dataset')
    return raw


def _check_scoring(scoring: Any, task: str) -> str | None:
    if scoring is None:
        return DEFAULT_SCORING.get(task)
    scorer_names = get_scorer_names()
    if not isinstance(scoring, str) or scoring not in scorer_names:
        hint = _suggest(str(scoring), scorer_names) if isinstance(scoring, str) else ""
        raise SpecError("scoring", f"unknown scorer {describe_value(scoring)}",
                        hint or "Use a scikit-learn scorer name such as 'accuracy' or 'f1_macro'")
    if task == "regression" and scoring not in REGRESSION_SCORERS:
        raise SpecError("scoring", f"{scoring!r} scores classes, and this is a regression",
                        "Use a regression scorer such as 'r2', 'neg_root_mean_squared_error' or "
                        "'neg_mean_absolute_error'")
    return scoring


def parse_spec(raw: Any) -> ExperimentSpec:
    """Validate a spec (parsed JSON) and return it normalised, with defaults filled in.

    Raises
    ------
    SpecError
        On the first problem found; the message names the field and the fix.
    """
    if isinstance(raw, ExperimentSpec):
        return raw
    if not isinstance(raw, Mapping):
        raise SpecError("spec", f"needs a JSON object, got {describe_value(raw)}",
                        'Start from e.g. {"dataset": {"name": "iris"}, "param_grid": {"max_iter": [50, 100]}}')
    for name in raw:
        if name not in SPEC_FIELDS:
            hint = _suggest(str(name), SPEC_FIELDS)
            raise SpecError(str(name), "is not a spec field",
                            hint or f"The fields are: {', '.join(SPEC_FIELDS)}")
    if "dataset" not in raw:
        raise SpecError("dataset", "is missing", 'Add e.g. "dataset": {"name": "iris"}')
    if "param_grid" not in raw:
        raise SpecError("param_grid", "is missing", 'Add e.g. "param_grid": {"max_iter": [50, 100]}')

    preprocess = raw.get("preprocess", "standard")
    if preprocess not in PREPROCESS_CHOICES:
        raise SpecError("preprocess", f"got {describe_value(preprocess)}",
                        f"Use one of: {', '.join(PREPROCESS_CHOICES)}")
    cv = raw.get("cv", 5)
    if not _is_int(cv) or cv < 2:
        raise SpecError("cv", f"needs a whole number of folds of at least 2, got {describe_value(cv)}",
                        "Use e.g. 3 or 5")
    n_jobs = raw.get("n_jobs")
    if n_jobs is not None and (not _is_int(n_jobs) or n_jobs == 0):
        raise SpecError("n_jobs", f"got {describe_value(n_jobs)}",
                        "Use a whole number of workers (1, 2, ...), -1 for all cores, or null")

    dataset = normalize_dataset_spec(raw["dataset"])
    task = _normalize_task(raw.get("task"), dataset)
    return ExperimentSpec(
        dataset=dataset,
        param_grid=_normalize_param_grid(raw["param_grid"], task),
        estimator=_normalize_estimator(raw.get("estimator"), task),
        preprocess=preprocess,
        cv=cv,
        scoring=_check_scoring(raw.get("scoring"), task),
        n_jobs=n_jobs,
        task=task,
    )


def for_data(spec: ExperimentSpec, data: Dataset) -> ExperimentSpec:
    """The spec with an "auto" task made the data's (and the scorer its default), checked again.

    Raises
    ------
    SpecError
        When the data's task does not suit the spec (a classifier scorer, or a parameter
        of the other network).
    """
    if spec.task != AUTO:
        if spec.task != data.task:
            raise SpecError("task", f"the spec is a {spec.task}, but {data.name} was read as a {data.task}",
                            f'Load the data with task="{spec.task}"')
        return spec
    raw = {**spec.to_dict(), "task": data.task}
    return parse_spec(raw)


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec file.

    Raises
    ------
    TuningError
        When the file cannot be read, is not JSON, or the spec is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TuningError(f"spec file {str(path)!r} does not exist. Check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TuningError(f"cannot read spec file {str(path)!r}: {exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TuningError(f"spec file {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}. Fix the JSON syntax there") from None
    return parse_spec(raw)
