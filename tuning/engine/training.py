"""One unit of work: train one trajectory on one fold, score it at every checkpoint.

This is where "train once, score many" happens. A unit returns plain records, one per
(candidate, fold), shaped like what scikit-learn's ``_fit_and_score`` returns, plus the
curves ``GridSearchCV`` throws away.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from tuning.data.pipeline import make_pipeline
from tuning.engine import lean
from tuning.engine.cluster import running_on_dask_worker
from tuning.engine.lean import LEAN, SCIKIT_LEARN

# What MLPClassifier raises at the end of a fit whose weights overflowed (scikit-learn's words).
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large values "
                      "and need to be preprocessed.")
# The state an MLPClassifier has after a fit, besides its weights, that depends on
# how many epochs ran; copied at each checkpoint.
_EPOCH_STATE = ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_", "_no_improvement_count")


@dataclass
class FitRecord:
    """The outcome of one (candidate, fold) fit, as ``GridSearchCV`` would have it, plus curves."""

    candidate: int
    fold: int
    test_score: float
    train_score: float
    fit_time: float
    score_time: float
    n_iter: int
    converged: bool
    loss_curve: list[float]
    validation_scores: list[float] | None
    fit_error: str | None
    unit: int
    worker: str
    start: float
    end: float
    trainer: str = SCIKIT_LEARN


@dataclass
class UnitResult:
    """Everything one unit of work sends back."""

    unit: int
    records: list[FitRecord]
    epochs_run: int
    worker: str
    start: float
    end: float


@dataclass
class _Snapshot:
    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]
    state: dict[str, Any]
    elapsed: float


class EpochHookMLP(MLPClassifier):
    """An ``MLPClassifier`` that calls :meth:`_end_of_epoch` at the end of every epoch.

    This is the one place that relies on scikit-learn's private
    ``_update_no_improvement_count``: the stochastic solvers call it once at the end of
    every epoch, after the weights and (with early stopping) the best-so-far weights are
    updated, so the state at that moment is exactly what a fit with ``max_iter`` equal to
    that epoch keeps.
    """

    def _update_no_improvement_count(self, early_stopping, X, y, sample_weight):
        super()._update_no_improvement_count(early_stopping, X, y, sample_weight)
        self._end_of_epoch(early_stopping)

    def _end_of_epoch(self, early_stopping: bool) -> None:
        """Override to act on the model as it is after epoch ``self.n_iter_``."""


class _CheckpointingMLP(EpochHookMLP):
    """An ``MLPClassifier`` that copies its model state at chosen epochs."""

    def _end_of_epoch(self, early_stopping: bool) -> None:
        if self.n_iter_ in self._checkpoint_epochs:
            coefs, intercepts = ((self._best_coefs, self._best_intercepts) if early_stopping
                                 else (self.coefs_, self.intercepts_))
            self._snapshots[self.n_iter_] = _Snapshot(
                coefs=[c.copy() for c in coefs],
                intercepts=[i.copy() for i in intercepts],
                state={k: getattr(self, k) for k in _EPOCH_STATE if hasattr(self, k)},
                elapsed=time.perf_counter() - self._started,
            )


def _model_at(fitted: _CheckpointingMLP, snapshot: _Snapshot | None, max_iter: int) -> MLPClassifier:
    """A plain ``MLPClassifier`` as a fit with ``max_iter`` would have left it."""
    params = fitted.get_params()
    model = MLPClassifier(**{**params, "max_iter": max_iter})
    hidden = {"_checkpoint_epochs", "_snapshots", "_started", "_optimizer"}
    model.__dict__.update({k: v for k, v in vars(fitted).items() if k not in params and k not in hidden})
    if snapshot is not None:
        model.coefs_, model.intercepts_ = snapshot.coefs, snapshot.intercepts
        model.__dict__.update(snapshot.state)
    n_iter = model.n_iter_
    if hasattr(fitted, "loss_curve_"):  # stochastic solvers only
        model.loss_curve_ = fitted.loss_curve_[:n_iter]
    if getattr(fitted, "validation_scores_", None) is not None:
        model.validation_scores_ = fitted.validation_scores_[:n_iter]
    return model


def worker_name() -> str:
    """Where this code runs: a Dask worker's address, else ``host:pid``."""
    return running_on_dask_worker() or f"{socket.gethostname()}:{os.getpid()}"


def _failure(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _rows(X: Any, index: np.ndarray) -> Any:
    """Rows of an array or a DataFrame, as scikit-learn's own indexing takes them."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _record(candidate: int, model: MLPClassifier | None, converged: bool, error: str | None, prep: Any | None,
            scorer: Any, data: tuple[Any, Any, Any, Any], *, n_iter: int, fit_time: float, fold: int, unit: int,
            worker: str, start: float, trainer: str) -> FitRecord:
    """The record of one checkpoint: its model scored on the test and training rows, or the error of its fit."""
    X_train, y_train, X_test, y_test = data
    record = FitRecord(
        candidate=candidate, fold=fold, test_score=np.nan, train_score=np.nan, fit_time=fit_time, score_time=0.0,
        n_iter=n_iter, converged=False, loss_curve=[], validation_scores=None, fit_error=None, unit=unit,
        worker=worker, start=start, end=start, trainer=trainer,
    )
    if model is None:
        record.fit_error = error
    else:
        record.n_iter = int(model.n_iter_)
        record.loss_curve = [float(v) for v in getattr(model, "loss_curve_", [])]
        val = getattr(model, "validation_scores_", None)
        record.validation_scores = None if val is None else [float(v) for v in val]
        record.converged = converged
        weights = [*model.coefs_, *model.intercepts_]
        if not all(np.isfinite(w).all() for w in weights):
            record.fit_error = f"ValueError: {NON_FINITE_WEIGHTS}"
        else:
            scored = make_pipeline(prep, model)
            score_started = time.perf_counter()
            try:
                record.test_score = float(scorer(scored, X_test, y_test))
                record.train_score = float(scorer(scored, X_train, y_train))
            except Exception as exc:
                record.fit_error = _failure(exc)
                record.test_score = record.train_score = np.nan
            record.score_time = time.perf_counter() - score_started
    record.end = start + record.fit_time + record.score_time
    return record


def fit_trajectory(
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    *,
    params: dict[str, Any],
    candidates: tuple[int, ...],
    checkpoints: tuple[int, ...],
    preprocessor: Any | None,
    scoring: str,
    fold: int,
    unit: int = 0,
) -> UnitResult:
    """Train ``params`` on one fold up to ``max(checkpoints)`` epochs, score every checkpoint.

    Parameters
    ----------
    X : ndarray or DataFrame
    y : ndarray
        The whole dataset; ``train`` and ``test`` index into it.
    params : dict
        ``MLPClassifier`` parameters of the long run.
    candidates, checkpoints : tuple of int
        Candidate indices and, aligned, the ``max_iter`` each candidate asks for.
    preprocessor : transformer or None
        Unfitted preprocessing (see :func:`tuning.data.pipeline.make_preprocessor`).
    scoring : str
        A scikit-learn scorer name.
    fold, unit : int
        Where this work belongs, copied into the records.

    Returns
    -------
    UnitResult
        One :class:`FitRecord` per candidate. A failed fit is recorded with NaN
        scores and its traceback in ``fit_error``, as ``GridSearchCV(error_score=nan)`` does.
    """
    start_wall = time.time()
    started = time.perf_counter()
    worker = worker_name()
    X_train, y_train, X_test, y_test = _rows(X, train), y[train], _rows(X, test), y[test]
    mlp = _CheckpointingMLP(**params)
    mlp._checkpoint_epochs = set(checkpoints)
    mlp._snapshots = {}
    mlp._started = started
    pipeline = make_pipeline(None if preprocessor is None else clone(preprocessor), mlp)
    error: str | None = None
    # One BLAS thread: a fit's floating-point sums must not depend on where it runs.
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            pipeline.fit(X_train, y_train)
        except Exception as exc:  # a failed fit is a result, as in GridSearchCV
            error = _failure(exc)
        fit_done = time.perf_counter() - started
        hit_max_iter = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        epochs_run = int(getattr(mlp, "n_iter_", 0) or 0)
        if params.get("solver", "adam") == "lbfgs":
            stopped_on_tol = not hit_max_iter
        else:  # the long run broke out of its epoch loop before max_iter, or exactly at it
            stopped_on_tol = epochs_run < params["max_iter"] or not hit_max_iter

        scorer = check_scoring(pipeline, scoring=scoring)
        records = []
        for candidate, max_iter in zip(candidates, checkpoints):
            snapshot = mlp._snapshots.get(max_iter)
            fit_time = snapshot.elapsed if snapshot else fit_done
            if snapshot is None and error is not None:
                model, converged = None, False
            else:
                model = _model_at(mlp, snapshot, max_iter)
                converged = bool(stopped_on_tol and epochs_run <= max_iter)
            records.append(_record(
                candidate, model, converged, error, pipeline.named_steps.get("prep"), scorer,
                (X_train, y_train, X_test, y_test), n_iter=min(max_iter, epochs_run), fit_time=fit_time, fold=fold,
                unit=unit, worker=worker, start=start_wall, trainer=SCIKIT_LEARN))
    return UnitResult(unit=unit, records=records, epochs_run=epochs_run, worker=worker,
                      start=start_wall, end=time.time())


def fit_lean(model: Pipeline, X: Any, y: Any, on_epoch: lean.EpochCallback | None = None) -> lean.Checkpoint | None:
    """Fit a pipeline ending in an ``MLPClassifier`` in place with the lean trainer, as ``model.fit(X, y)`` would.

    Returns the network's :class:`~tuning.engine.lean.Checkpoint` (its ``model`` is now the
    pipeline's last step), or None, leaving the network unfitted, when the lean trainer
    does not cover it: then fit it with scikit-learn. Unlike ``fit``, weights that
    overflowed are returned, not raised about.
    """
    *steps, (name, network) = model.steps
    params = network.get_params()
    if type(network) is not MLPClassifier or lean.uncovered_reason(params) is not None:
        return None
    Xt = X
    for _, step in steps:  # what Pipeline.fit does before fitting its last step
        Xt = step.fit_transform(Xt, y)
    try:
        (trained,) = lean.train_stack(Xt, y, [params], on_epoch=on_epoch)
    except lean.NotCovered:
        return None
    model.steps[-1] = (name, trained.model)
    return trained


Trajectories = Sequence[tuple[dict[str, Any], tuple[int, ...], tuple[int, ...]]]


def fit_stack(
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    *,
    trajectories: Trajectories,
    preprocessor: Any | None,
    scoring: str,
    fold: int,
    unit: int = 0,
) -> UnitResult:
    """Train trajectories that differ only in numbers at once with the lean trainer, score every checkpoint.

    Parameters
    ----------
    trajectories : sequence of (params, candidates, checkpoints)
        As :func:`fit_trajectory` takes them, one per trajectory of the stack (see
        :func:`tuning.engine.plan.stacks_of`).

    Other parameters and the result are :func:`fit_trajectory`'s: the records are
    exactly the ones it returns for each trajectory, and say ``trainer="lean"``. What
    the lean trainer does not cover (:func:`tuning.engine.lean.uncovered_reason`, or
    data it only learns about when it sees them) is fitted by :func:`fit_trajectory`,
    one trajectory at a time.
    """
    if any(lean.uncovered_reason(params) for params, _, _ in trajectories):
        return _fit_each(X, y, train, test, trajectories, preprocessor, scoring, fold, unit)
    start_wall = time.time()
    started = time.perf_counter()
    worker = worker_name()
    X_train, y_train, X_test, y_test = _rows(X, train), y[train], _rows(X, test), y[test]
    prep = None if preprocessor is None else clone(preprocessor)
    error: str | None = None
    reached: dict[tuple[int, int], lean.Checkpoint] = {}
    with lean.one_blas_thread(), warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:  # what Pipeline.fit does: the preprocessing, then the network on what it gives
            X_fit = X_train if prep is None else prep.fit_transform(X_train, y_train)
            stack = lean.train_stack(X_fit, y_train, [params for params, _, _ in trajectories],
                                     [checkpoints for _, _, checkpoints in trajectories])
            reached = {(point.member, point.max_iter): point for point in stack}
        except lean.NotCovered:
            return _fit_each(X, y, train, test, trajectories, preprocessor, scoring, fold, unit)
        except Exception as exc:  # every candidate's own fit fails the same way
            error = _failure(exc)
        scorer = check_scoring(make_pipeline(prep, MLPClassifier()), scoring=scoring)
        records, epochs_run = [], 0
        for member, (_, candidates, checkpoints) in enumerate(trajectories):
            for candidate, max_iter in zip(candidates, checkpoints):
                point = reached.get((member, max_iter))
                records.append(_record(
                    candidate, point and point.model, bool(point and point.converged), error, prep, scorer,
                    (X_train, y_train, X_test, y_test), n_iter=0,
                    fit_time=point.elapsed if point else time.perf_counter() - started, fold=fold, unit=unit,
                    worker=worker, start=start_wall, trainer=LEAN))
            epochs_run += max((reached[member, k].model.n_iter_ for k in checkpoints if (member, k) in reached),
                              default=0)
    return UnitResult(unit=unit, records=records, epochs_run=epochs_run, worker=worker, start=start_wall,
                      end=time.time())


def _fit_each(X: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray, trajectories: Trajectories,
              preprocessor: Any | None, scoring: str, fold: int, unit: int) -> UnitResult:
    """A stack's trajectories fitted one by one by scikit-learn (:func:`fit_trajectory`), as one unit."""
    results = [fit_trajectory(X, y, train, test, params=params, candidates=candidates, checkpoints=checkpoints,
                              preprocessor=preprocessor, scoring=scoring, fold=fold, unit=unit)
               for params, candidates, checkpoints in trajectories]
    return UnitResult(unit=unit, records=[r for result in results for r in result.records],
                      epochs_run=sum(result.epochs_run for result in results), worker=results[0].worker,
                      start=min(result.start for result in results), end=max(result.end for result in results))

