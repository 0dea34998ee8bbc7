"""One network at a time: train on a hold-out split and report every epoch as it happens."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from tuning.data.dataset import Dataset
from tuning.data.pipeline import make_pipeline, make_preprocessor, scale_target
from tuning.engine.networks import network_class
from tuning.engine.spec import check_mlp_value
from tuning.engine.training import EpochHook
from tuning.errors import DataError, SpecError

EpochCallback = Callable[[int, list[float]], None]


@dataclass
class NetworkRun:
    """One trained network: its loss curve and how well it does on seen and unseen data."""

    params: dict[str, Any]
    loss_curve: list[float]
    train_score: float
    test_score: float
    n_iter: int
    converged: bool
    seconds: float
    model: Any | None
    diverged: bool = False
    task: str = "classification"


class _EpochReporting(EpochHook):
    """Calls ``_on_epoch(epoch, loss_curve)`` after every epoch; :func:`make_model` sets it on a
    subclass made for one model, where it survives the clone a ``TransformedTargetRegressor`` makes."""

    _on_epoch: Callable[[int, list[float]], None] | None = None

    def _end_of_epoch(self, early_stopping: bool) -> None:
        if self._on_epoch is not None:
            self._on_epoch(self.n_iter_, list(self.loss_curve_))


def check_network_params(params: dict[str, Any], task: str = "classification") -> dict[str, Any]:
    """Validate the network's parameters with the spec's messages (field ``network.NAME``)."""
    return {name: check_mlp_value(f"network.{name}", name, value, task) for name, value in params.items()}


def make_model(data: Dataset, params: dict[str, Any], *, preprocess: str = "standard",
               on_epoch: EpochCallback | None = None) -> Any:
    """The model a search would build for these parameters: preprocessing, then ``MLPClassifier`` or
    ``MLPRegressor`` (the data's task), inside a ``TransformedTargetRegressor`` for a regression with
    ``preprocess="standard"``; ``on_epoch`` is called after every epoch of its fit."""
    plain = network_class(data.task, init="init" in params)
    reporting = type(f"EpochReporting{plain.__name__}", (_EpochReporting, plain),
                     {"_on_epoch": staticmethod(on_epoch) if on_epoch is not None else None})
    model = make_pipeline(make_preprocessor(data, preprocess), reporting(**params))
    return scale_target(model) if data.is_regression and preprocess == "standard" else model


def network_in(model: Any) -> Any:
    """The network of a :func:`make_model` model (the one its fit trained, once fitted)."""
    for name in ("regressor_", "regressor"):  # a TransformedTargetRegressor fits a clone of its regressor
        if getattr(model, name, None) is not None:
            return model.__dict__[name][-1]
    return model[-1]


def fit_network(data: Dataset, params: dict[str, Any], *, preprocess: str = "standard") -> Any:
    """:func:`make_model` fitted on all of ``data`` (one BLAS thread, convergence warnings silenced)."""
    model = make_model(data, check_network_params(params, data.task), preprocess=preprocess)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(data.X, data.y)


def train_network(
    data: Dataset,
    params: dict[str, Any],
    *,
    preprocess: str = "standard",
    test_size: float = 0.25,
    split_seed: int = 0,
    on_epoch: EpochCallback | None = None,
) -> NetworkRun:
    """Train one network (``MLPClassifier``, or ``MLPRegressor`` on regression data) on a hold-out split,
    stratified for classes. Its scores are the model's ``score``: accuracy, or R² for regression.

    Parameters
    ----------
    data : Dataset
    params : dict
        The network's parameters (``max_iter`` is the number of epochs).
    on_epoch : callable, optional
        Called after every epoch with the epoch number and the loss curve so far
        (stochastic solvers only), so that a chart can follow the training.

    Raises
    ------
    SpecError
        A parameter value is invalid.
    DataError
        The data is too small for a hold-out split.

    A run whose weights overflow (a learning rate far too high) is returned with
    ``diverged=True``, its loss curve so far, NaN scores and no model.
    """
    params = check_network_params(params, data.task)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=test_size, random_state=split_seed,
            stratify=None if data.is_regression else data.y)
    except ValueError as exc:
        raise DataError(f"{data.name} is too small to hold out {test_size:.0%} for testing ({exc})") from None
    model = make_model(data, params, preprocess=preprocess, on_epoch=on_epoch)
    started = time.perf_counter()
    diverged = False
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to diverging
        try:
            model.fit(X_train, y_train)
        except ValueError as exc:
            if "non-finite" not in str(exc):
                raise SpecError("network", str(exc), "Change the settings") from None
            diverged = True
    mlp = network_in(model)
    type(mlp)._on_epoch = None  # the model outlives the page that followed its training
    return NetworkRun(
        params=params,
        loss_curve=[float(v) for v in getattr(mlp, "loss_curve_", [])],
        train_score=float("nan") if diverged else float(model.score(X_train, y_train)),
        test_score=float("nan") if diverged else float(model.score(X_test, y_test)),
        n_iter=int(getattr(mlp, "n_iter_", 0)),
        converged=not diverged and not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        seconds=time.perf_counter() - started,
        model=None if diverged else model,
        diverged=diverged,
        task=data.task,
    )


def compare_learning_rates(
    data: Dataset,
    params: dict[str, Any],
    rates: Sequence[float],
    *,
    preprocess: str = "standard",
    on_run: Callable[[float, NetworkRun], None] | None = None,
) -> dict[float, NetworkRun]:
    """The same network and seed trained once per learning rate, in the order given."""
    runs: dict[float, NetworkRun] = {}
    for rate in rates:
        run = train_network(data, {**params, "learning_rate_init": float(rate)}, preprocess=preprocess)
        runs[float(rate)] = run
        if on_run is not None:
            on_run(float(rate), run)
    return runs


def describe_comparison(runs: dict[float, NetworkRun]) -> str:
    """Say in plain words what a learning-rate comparison shows, from its curves."""
    finished = {rate: run for rate, run in runs.items() if run.loss_curve and not run.diverged}
    sentences = []
    diverged = [rate for rate, run in runs.items() if run.diverged]
    if diverged:
        sentences.append(f"lr={', '.join(f'{r:g}' for r in diverged)} diverged: the weights overflowed.")
    if finished:
        best = min(finished, key=lambda r: finished[r].loss_curve[-1])
        sentences.append(f"lr={best:g} ends with the lowest training loss ({finished[best].loss_curve[-1]:.3f}).")
        lowest = finished[best].loss_curve[-1]
        for rate, run in finished.items():
            curve = run.loss_curve
            still_falling = curve[-1] < curve[-max(2, len(curve) // 10)]
            jumps = any(b > 1.1 * a for a, b in pairwise(curve))
            if rate < best and still_falling and curve[-1] > 2 * lowest:
                sentences.append(f"lr={rate:g} is too low: after {len(curve)} epochs it is still creeping down.")
            elif rate > best and jumps:
                sentences.append(f"lr={rate:g} is too high: it overshoots, its loss jumping back up, "
                                 f"and ends at {curve[-1]:.3f}.")
            elif rate > best and curve[-1] > 2 * lowest:
                sentences.append(f"lr={rate:g} is too high: it stalls at {curve[-1]:.3f}.")
    return " ".join(sentences)
