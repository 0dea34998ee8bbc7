"""One network at a time: train on a hold-out split and report every epoch as it happens."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from tuning.data.dataset import Dataset
from tuning.data.pipeline import make_pipeline, make_preprocessor, scale_target
from tuning.engine import lean
from tuning.engine.networks import network_class
from tuning.engine.spec import check_mlp_value
from tuning.engine.training import EpochHook, fit_lean
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
    trainer: str = lean.SCIKIT_LEARN


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
    ``preprocess="standard"``; with ``on_epoch``, its network calls it after every epoch of its fit."""
    network = network_class(data.task, init="init" in params)
    if on_epoch is not None:
        network = type(f"EpochReporting{network.__name__}", (_EpochReporting, network),
                       {"_on_epoch": staticmethod(on_epoch)})
    model = make_pipeline(make_preprocessor(data, preprocess), network(**params))
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
    with lean.one_blas_thread(), warnings.catch_warnings():
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
    started = time.perf_counter()
    with lean.one_blas_thread(), warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to diverging
        try:
            model, mlp, converged, diverged, trainer = _fit(data, params, preprocess, X_train, y_train, on_epoch)
        except ValueError as exc:
            raise SpecError("network", str(exc), "Change the settings") from None
    return NetworkRun(
        params=params,
        loss_curve=[float(v) for v in getattr(mlp, "loss_curve_", [])],
        train_score=float("nan") if diverged else float(model.score(X_train, y_train)),
        test_score=float("nan") if diverged else float(model.score(X_test, y_test)),
        n_iter=int(getattr(mlp, "n_iter_", 0)),
        converged=converged,
        seconds=time.perf_counter() - started,
        model=None if diverged else model,
        diverged=diverged,
        task=data.task,
        trainer=trainer,
    )


def _fit(data: Dataset, params: dict[str, Any], preprocess: str, X: Any, y: Any,
         on_epoch: EpochCallback | None) -> tuple[Any, Any, bool, bool, str]:
    """Fit :func:`make_model`'s model; return it, its network, whether it converged, whether it diverged,
    and the trainer.

    The lean trainer (the same fit, faster) when it covers the settings (an ``MLPClassifier``
    with scikit-learn's own initialisation), else scikit-learn's own. Diverged means the
    weights overflowed (scikit-learn's fit raises then).
    """
    model = make_model(data, params, preprocess=preprocess)
    report = None if on_epoch is None else (lambda _, epoch, losses, __: on_epoch(epoch, losses))
    trained = fit_lean(model, X, y, on_epoch=report) if isinstance(model, Pipeline) else None
    if trained is not None:
        finite = all(np.isfinite(w).all() for w in [*trained.model.coefs_, *trained.model.intercepts_])
        return model, trained.model, trained.converged and finite, not finite, lean.LEAN
    model = make_model(data, params, preprocess=preprocess, on_epoch=on_epoch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(X, y)
        except ValueError as exc:
            if "non-finite" not in str(exc):
                raise
            return model, network_in(model), False, True, lean.SCIKIT_LEARN
        finally:
            if on_epoch is not None:  # the model outlives the page that followed its training
                type(network_in(model))._on_epoch = None
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, network_in(model), converged, False, lean.SCIKIT_LEARN


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
