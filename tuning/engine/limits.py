"""What a search may cost, checked on the parsed spec before any network is fitted.

>>> plan = check_search_costs(spec, SearchLimits.from_env())   # raises CapError when over a cap

Every cap counts something that costs time or memory: candidates, distinct ``max_iter``
values (each is a checkpoint kept per fold, and curves grow with their number),
the network's size in weights, folds × rows, worker processes, epochs, and the
training work of the whole search. A refused spec gets one message that names the
cap, the value, the cap's value and by how much it is over.

The CLI, the dashboard and shared links all go through :func:`check_search_costs`
(``run_search`` calls it too); hosted mode uses tighter limits
(:meth:`tuning.services.hosting.HostedLimits.search_limits`).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sklearn.neural_network import MLPClassifier

from tuning.data.dataset import Dataset
from tuning.data.datasets import dataset_shape
from tuning.engine.plan import DEFAULT_MAX_EPOCHS, SearchPlan, plan_search
from tuning.engine.spec import ExperimentSpec
from tuning.errors import SpecError

_MLP_DEFAULTS = MLPClassifier().get_params()
# A mini-batch costs at least as much as this many rows (Python overhead per weight update).
_ROWS_PER_UPDATE = 32


class CapError(SpecError):
    """A spec (or a link) is over one of the caps.

    ``cap`` names it; ``value`` (None when it was not measured past the cap, as for a
    link that would inflate further) and ``limit`` say by how much.
    """

    def __init__(self, field: str, cap: str, value: float | None, limit: float, unit: str, fix: str,
                 what: str = "") -> None:
        self.cap, self.value, self.limit = cap, value, limit
        what = f"{what} " if what else ""
        if value is None:
            problem = f"{what}more than {_number(limit)} {unit}, the {cap} cap (not read any further)"
        else:
            ratio = value / limit if limit else math.inf
            over = f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
            problem = f"{what}{_number(value)} {unit}, above the cap of {_number(limit)} (the {cap} cap; {over} over)"
        super().__init__(field, problem, fix)


def _number(value: float) -> str:
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}" if value < 1e15 else f"{value:.2g}"


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


@dataclass(frozen=True)
class SearchLimits:
    """Caps on one search. ``None`` means no cap.

    Parameters
    ----------
    max_candidates : int
        Candidates, as ``ParameterGrid`` counts them (a value listed twice counts twice).
    max_iter_values : int
        Distinct ``max_iter`` values across the grid.
    max_weights : int
        Weights and biases of the largest network, for the data's input and output width.
    max_layers : int
        Hidden layers of the deepest network.
    max_fold_rows : int
        ``cv`` × rows of the data.
    max_epochs : int
        Epochs trained in all, as :func:`tuning.engine.plan.plan_search` counts them.
    max_work : float or None
        Epochs × training rows × weights summed over the search (a mini-batch counts as
        at least 32 rows), the quantity training time grows with.
    max_n_jobs : int or None
        Worker processes a spec may ask for (-1 counts as every core).
    """

    max_candidates: int | None = 10_000
    max_iter_values: int | None = 100
    max_weights: int | None = 5_000_000
    max_layers: int | None = 100
    max_fold_rows: int | None = 2_000_000
    max_epochs: int | None = DEFAULT_MAX_EPOCHS
    max_work: float | None = None
    max_n_jobs: int | None = None

    @classmethod
    def from_env(cls, max_epochs: int | None = None) -> SearchLimits:
        """The local caps; ``TUNING_MAX_EPOCHS``, ``TUNING_MAX_CANDIDATES``, ``TUNING_MAX_WEIGHTS`` and
        ``TUNING_MAX_FOLD_ROWS`` change them (``max_epochs`` wins over the environment)."""
        return cls(max_candidates=_env_int("TUNING_MAX_CANDIDATES", cls.max_candidates),
                   max_weights=_env_int("TUNING_MAX_WEIGHTS", cls.max_weights),
                   max_fold_rows=_env_int("TUNING_MAX_FOLD_ROWS", cls.max_fold_rows),
                   max_epochs=max_epochs or _env_int("TUNING_MAX_EPOCHS", cls.max_epochs))


def _resolved(params: dict[str, Any], name: str) -> Any:
    return params.get(name, _MLP_DEFAULTS[name])


def _layers(sizes: Any) -> list[int]:
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def n_weights(hidden_layer_sizes: Any, n_features: int, n_classes: int) -> int:
    """Weights and biases of a network with these layers on this data (``n_classes=1``: a regressor's one output)."""
    widths = [n_features, *_layers(hidden_layer_sizes), 1 if n_classes == 2 else n_classes]
    return sum(a * b + b for a, b in pairwise(widths))


def _values(spec: ExperimentSpec, name: str) -> list[Any]:
    """Every value a parameter takes in the search (the grid's, else the estimator's or the default)."""
    values = [v for grid in spec.param_grid for v in grid.get(name, [])]
    if any(name not in grid for grid in spec.param_grid):
        values.append(_resolved(spec.estimator, name))
    return values


def _shape(spec: ExperimentSpec, data: Dataset | None) -> tuple[int, int, int] | None:
    if data is not None:
        return data.n_samples, data.n_features, 1 if data.is_regression else len(data.class_names)
    return dataset_shape(spec.dataset)


def _check(field: str, cap: str, value: float, limit: float | None, unit: str, fix: str, what: str = "") -> None:
    if limit is not None and value > limit:
        raise CapError(field, cap, value, limit, unit, fix, what)


def check_search_costs(spec: ExperimentSpec, limits: SearchLimits, *, data: Dataset | None = None) -> SearchPlan:
    """Refuse a spec that is over a cap, before any network is fitted; return its plan.

    The caps that depend on the data (weights, folds × rows, work) use ``data`` when
    given, else the built-in dataset's known shape; for a CSV file not yet loaded they
    are checked once it is (``run_search`` does both).

    Raises
    ------
    CapError
        Naming the first cap the spec is over, with the value, the cap and the ratio.
    """
    candidates = sum(math.prod(len(values) for values in grid.values()) for grid in spec.param_grid)
    _check("param_grid", "candidates", candidates, limits.max_candidates, "candidates",
           "Use fewer values per parameter")
    iters = len({int(v) for v in _values(spec, "max_iter")})
    _check("param_grid.max_iter", "max_iter values", iters, limits.max_iter_values, "distinct max_iter values",
           "Use a few max_iter checkpoints, e.g. [25, 50, 100, 200]")
    workers = (os.cpu_count() or 1) if (spec.n_jobs or 1) < 0 else (spec.n_jobs or 1)
    _check("n_jobs", "workers", workers, limits.max_n_jobs, "worker processes",
           f"Use n_jobs {limits.max_n_jobs} (or null)")
    sizes = _values(spec, "hidden_layer_sizes")
    _check("param_grid.hidden_layer_sizes", "hidden layers", max(len(_layers(s)) for s in sizes),
           limits.max_layers, "hidden layers", "Use fewer layers")
    shape = _shape(spec, data)
    plan = plan_search(spec, max_epochs=sys.maxsize)
    if shape is not None:
        rows, features, classes = shape
        largest = max(n_weights(s, features, classes) for s in sizes)
        _check("param_grid.hidden_layer_sizes", "network size", largest, limits.max_weights, "weights",
               "Use fewer units per layer")
        _check("cv", "folds × rows", spec.cv * rows, limits.max_fold_rows, "fold rows (cv × rows)",
               "Use fewer folds or fewer rows")
    _check("param_grid", "epochs", plan.max_epochs_to_train, limits.max_epochs, f"epochs ({plan.n_fits:,} fits)",
           "Use fewer values, smaller max_iter or fewer cv folds, or raise the cap (--max-epochs or "
           "TUNING_MAX_EPOCHS)", what="this search would train up to")
    if shape is not None and limits.max_work is not None:
        work = _training_work(plan, *shape)
        _check("param_grid", "training work", work, limits.max_work, "weight-row updates (epochs × rows × weights)",
               "Use smaller networks, fewer epochs, fewer folds or larger batches")
    return plan


def _training_work(plan: SearchPlan, rows: int, features: int, classes: int) -> float:
    n_train = rows * (plan.n_splits - 1) / plan.n_splits
    work = 0.0
    for t in plan.trajectories:
        batch = _resolved(t.params, "batch_size")
        batch = min(200, n_train) if batch == "auto" else min(int(batch), n_train)
        updates = math.ceil(n_train / max(batch, 1))
        effective_rows = max(n_train, updates * _ROWS_PER_UPDATE)
        work += t.max_iter * plan.n_splits * effective_rows * n_weights(
            _resolved(t.params, "hidden_layer_sizes"), features, classes)
    return work
