"""One unit of work: train one trajectory on one fold, then score it at every checkpoint.

This is where "train once, score many" happens, in two steps with a seam between them:

- :func:`train_checkpoints` trains the estimator once, to the largest ``max_iter`` it is
  asked for, and returns the model at every checkpoint exactly as a fit with that
  ``max_iter`` leaves it (or the error such a fit raises). Another trainer can take its
  place: anything that returns a :class:`TrainedRun` for the same arguments works.
- :func:`fit_trajectory` scores each checkpoint the way scikit-learn's ``_fit_and_score``
  does, with its own ``_score`` helper: the test score, then (when asked) the train score,
  each on its own, with ``error_score`` for failures. It returns plain records, one per
  (candidate, fold), that turn into ``_fit_and_score``'s dicts, plus the curves
  ``GridSearchCV`` throws away.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import os
import socket
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._validation import _score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_samples
from threadpoolctl import threadpool_limits

from tuning.engine import lean
from tuning.engine.cluster import running_on_dask_worker
from tuning.engine.lean import LEAN, SCIKIT_LEARN
from tuning.engine.networks import is_network

# The state an MLPClassifier has after a fit, besides its weights, that depends on
# how many epochs ran; copied at each checkpoint.
_EPOCH_STATE = ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_", "_no_improvement_count")
# What MLPClassifier raises at the end of a fit whose weights overflowed (scikit-learn's words).
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large values "
                      "and need to be preprocessed.")
_MAX_ITER_WARNING = "Stochastic Optimizer: Maximum iterations ({}) reached and the optimization hasn't converged yet."

Scores = float | dict[str, float]


@dataclass
class FitRecord:
    """The outcome of one (candidate, fold) fit, as ``GridSearchCV`` would have it, plus curves.

    ``test_score`` and ``train_score`` are numbers, or dicts of them for several scorers;
    ``train_score`` is None when train scores were not asked for. ``fit_error`` is the
    traceback of a failed fit (its scores are then ``error_score``); ``score_error`` the
    last line of a scorer's failure on a fit that worked.
    """

    candidate: int
    fold: int
    test_score: Scores
    train_score: Scores | None
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
    n_test_samples: int = 0
    score_error: str | None = None
    trainer: str = SCIKIT_LEARN

    def fit_and_score_output(self) -> dict[str, Any]:
        """The dict scikit-learn's ``_fit_and_score`` returns for this fit (with times and test size)."""
        out = {"fit_error": self.fit_error, "test_scores": _copy_scores(self.test_score),
               "n_test_samples": self.n_test_samples, "fit_time": self.fit_time, "score_time": self.score_time}
        if self.train_score is not None:
            out["train_scores"] = _copy_scores(self.train_score)
        return out


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
class Checkpoint:
    """The estimator as a fit with ``max_iter`` epochs leaves it, or the error that fit raises."""

    max_iter: Any
    model: Any | None
    error: BaseException | None
    fit_time: float
    n_iter: int = 0
    converged: bool = False
    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] | None = None


@dataclass
class TrainedRun:
    """What a trainer returns: one :class:`Checkpoint` per requested ``max_iter``, and the epochs it ran."""

    checkpoints: dict[Any, Checkpoint]
    epochs_run: int
    trainer: str = SCIKIT_LEARN


@dataclass
class _Snapshot:
    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]
    state: dict[str, Any]
    elapsed: float


class EpochHook:
    """Mixed into a network class: calls :meth:`_end_of_epoch` at the end of every epoch.

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


class EpochHookMLP(EpochHook, MLPClassifier):
    """An ``MLPClassifier`` that calls :meth:`_end_of_epoch` at the end of every epoch."""


class _Checkpointing(EpochHook):
    """Copies the model state at chosen epochs into ``_snapshots``.

    :func:`_checkpointing_class` makes one subclass per fit, holding the epochs, the
    snapshots and the network's plain class as class attributes: they survive ``clone``,
    which a ``TransformedTargetRegressor`` applies to its regressor before fitting it.
    """

    _checkpoint_epochs: frozenset[int] = frozenset()
    _snapshots: dict[int, _Snapshot]
    _started: float = 0.0
    _plain: type = MLPClassifier

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


def _checkpointing_class(plain: type, checkpoints: Sequence[Any], started: float) -> type:
    """A subclass of the network's class that keeps its state at ``checkpoints`` (for one fit)."""
    epochs = frozenset(c for c in checkpoints if isinstance(c, numbers.Integral))
    return type(f"Checkpointing{plain.__name__}", (_Checkpointing, plain),
                {"_checkpoint_epochs": epochs, "_snapshots": {}, "_started": started, "_plain": plain})


def _model_at(fitted: Any, snapshot: _Snapshot | None, max_iter: int) -> Any:
    """A plain network (``MLPClassifier``, ``MLPRegressor``) as a fit with ``max_iter`` would have left it."""
    params = fitted.get_params()
    model = fitted._plain(**{**params, "max_iter": max_iter})
    model.__dict__.update({k: v for k, v in vars(fitted).items() if k not in params and k != "_optimizer"})
    if snapshot is not None:
        model.coefs_, model.intercepts_ = snapshot.coefs, snapshot.intercepts
        model.__dict__.update(snapshot.state)
    n_iter = model.n_iter_
    if hasattr(fitted, "loss_curve_"):  # stochastic solvers only
        model.loss_curve_ = fitted.loss_curve_[:n_iter]
    if getattr(fitted, "validation_scores_", None) is not None:
        model.validation_scores_ = fitted.validation_scores_[:n_iter]
    return model


def mlp_path(estimator: Any) -> str | None:
    """Where the network sits: ``""`` for an ``MLPClassifier`` or ``MLPRegressor``, ``"mlp"`` (or
    ``"a__mlp"``) for the last step of a (nested) ``Pipeline``, ``"regressor__mlp"`` inside a
    ``TransformedTargetRegressor``; None when the final estimator is anything else.

    Only the exact classes qualify: a subclass may change what a fit does.
    """
    if is_network(estimator):
        return ""
    inner, name = None, ""
    if type(estimator) is Pipeline and estimator.steps:
        name, last = estimator.steps[-1]
        inner = mlp_path(last)
    elif type(estimator) is TransformedTargetRegressor and estimator.regressor is not None:
        name, inner = "regressor", mlp_path(estimator.regressor)
    if inner is None:
        return None
    return f"{name}__{inner}" if inner else name


def network_of(estimator: Any, path: str, *, fitted: bool = False) -> Any:
    """The estimator at ``path`` (see :func:`mlp_path`); with ``fitted``, the one a fit trained
    (a ``TransformedTargetRegressor`` fits a clone of its regressor, ``regressor_``)."""
    for name in filter(None, path.split("__")):
        if isinstance(estimator, TransformedTargetRegressor):
            estimator = estimator.regressor_ if fitted else estimator.regressor
        else:
            estimator = estimator.named_steps[name]
    return estimator


def _with_network(estimator: Any, path: str, network: Any, *, fitted: bool = False) -> Any:
    """A shallow copy of ``estimator`` whose network at ``path`` is ``network``."""
    if not path:
        return network
    name, _, rest = path.partition("__")
    copied = copy.copy(estimator)
    if isinstance(estimator, TransformedTargetRegressor):
        attribute = "regressor_" if fitted else "regressor"
        setattr(copied, attribute, _with_network(getattr(estimator, attribute), rest, network, fitted=fitted))
    else:
        copied.steps = [(n, _with_network(step, rest, network, fitted=fitted) if n == name else step)
                        for n, step in estimator.steps]
    return copied


def worker_name() -> str:
    """Where this code runs: a Dask worker's address, else ``host:pid``."""
    return running_on_dask_worker() or f"{socket.gethostname()}:{os.getpid()}"


def _failure(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


_REPLAYED: dict[Any, Any] = {}  # the "already shown" registry of replayed warnings


def _replay(caught: list[warnings.WarningMessage], keep: Callable[[warnings.WarningMessage], bool]) -> None:
    """Warn again, from where each was first raised and under the caller's filters, what a block recorded."""
    for w in caught:
        if keep(w):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry=_REPLAYED)


def train_checkpoints(
    estimator: Any, X_train: Any, y_train: Any, checkpoints: Sequence[Any], fit_params: dict[str, Any] | None = None,
) -> TrainedRun:
    """Fit ``estimator`` once and return it as it is after each of ``checkpoints`` epochs.

    Parameters
    ----------
    estimator : MLPClassifier or Pipeline ending in one
        Unfitted, with ``max_iter`` already the largest checkpoint; it is cloned, not changed.
        Any other estimator is simply fitted, and its one checkpoint is the fitted estimator.
    X_train, y_train : array-like
    checkpoints : sequence
        The ``max_iter`` values to keep the state at.
    fit_params : dict, optional
        Passed to ``fit``, already indexed to the training rows.

    Returns
    -------
    TrainedRun
        Each checkpoint's model is bit-identical to a fit with that ``max_iter`` (with a
        stochastic solver and an integer ``random_state``); a checkpoint the fit did not
        reach before failing carries the exception instead. Warnings other than
        ``ConvergenceWarning`` are warned again; a ``ConvergenceWarning`` is warned once per
        checkpoint that did not converge, as separate fits would.
    """
    started = time.perf_counter()
    estimator = clone(estimator)
    fit_params = fit_params or {}
    path = mlp_path(estimator)
    runner = None
    if path is not None:
        network = network_of(estimator, path)
        runner = _checkpointing_class(type(network), checkpoints, started)(**network.get_params(deep=False))
        estimator = _with_network(estimator, path, runner)
    error: BaseException | None = None
    # One BLAS thread: a fit's floating-point sums must not depend on where it runs.
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(X_train, y_train, **fit_params)
        except Exception as exc:  # a failed fit is a result, as in GridSearchCV
            error = exc
    fit_done = time.perf_counter() - started
    _replay(caught, lambda w: not issubclass(w.category, ConvergenceWarning) or runner is None)

    if runner is None:  # not our network: one plain fit
        final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
        n_iter = getattr(final, "n_iter_", 0)
        checkpoint = Checkpoint(max_iter=checkpoints[0], model=None if error else estimator, error=error,
                                fit_time=fit_done, n_iter=n_iter if isinstance(n_iter, numbers.Integral) else 0)
        return TrainedRun({c: checkpoint for c in checkpoints}, checkpoint.n_iter)

    # the network the fit trained (a clone of the runner inside a TransformedTargetRegressor), unless the
    # fit failed before it reached the network
    with contextlib.suppress(AttributeError):
        runner = network_of(estimator, path, fitted=True)
    hit_max_iter = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    epochs_run = int(getattr(runner, "n_iter_", 0) or 0)
    stochastic = runner.solver != "lbfgs"
    # lbfgs reports itself; a stochastic run broke out of its epoch loop before max_iter, or exactly at it
    stopped_on_tol = not hit_max_iter or (stochastic and epochs_run < runner.max_iter)
    result: dict[Any, Checkpoint] = {}
    for max_iter in checkpoints:
        snapshot = runner._snapshots.get(max_iter)
        if snapshot is None and error is not None:  # the fit failed before reaching this checkpoint
            result[max_iter] = Checkpoint(max_iter=max_iter, model=None, error=error, fit_time=fit_done)
            continue
        network = _model_at(runner, snapshot, max_iter)
        weights = [*network.coefs_, *network.intercepts_]
        converged = bool(stopped_on_tol and epochs_run <= max_iter)
        result[max_iter] = Checkpoint(
            max_iter=max_iter,
            model=_with_network(estimator, path, network, fitted=True),
            error=None if all(np.isfinite(w).all() for w in weights) else ValueError(NON_FINITE_WEIGHTS),
            fit_time=snapshot.elapsed if snapshot else fit_done,
            n_iter=int(network.n_iter_),
            converged=converged,
            loss_curve=[float(v) for v in getattr(network, "loss_curve_", [])],
            validation_scores=(None if getattr(network, "validation_scores_", None) is None
                               else [float(v) for v in network.validation_scores_]),
        )
        if stochastic and not converged and result[max_iter].error is None:
            warnings.warn(_MAX_ITER_WARNING.format(max_iter), ConvergenceWarning, stacklevel=2)
    if not stochastic:
        _replay(caught, lambda w: issubclass(w.category, ConvergenceWarning))
    return TrainedRun(result, epochs_run)


def _copy_scores(scores: Scores) -> Scores:
    return dict(scores) if isinstance(scores, dict) else scores


def _error_scores(scorer: Any, error_score: float) -> Scores:
    """What ``_fit_and_score`` records for a failed fit: ``error_score`` for every scorer."""
    if isinstance(scorer, _MultimetricScorer):
        return {name: error_score for name in scorer._scorers}
    return error_score


def _scored(model: Any, X: Any, y: Any, scorer: Any, score_params: dict[str, Any],
            error_score: Any) -> tuple[Scores, str | None]:
    """scikit-learn's ``_score``, and the last line of what went wrong when a scorer failed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = _score(model, X, y, scorer, score_params, error_score)
    _replay(caught, lambda w: True)
    failed = [str(w.message) for w in caught if str(w.message).startswith("Scoring failed.")]
    return scores, (failed[0].strip().splitlines()[-1] if failed else None)


def _progress_line(params: dict[str, Any] | None, fold: int, n_splits: int, record: FitRecord, verbose: int) -> str:
    """The line ``_fit_and_score`` prints at the end of a fit when ``verbose > 1``."""
    shown = ", ".join(f"{k}={params[k]}" for k in sorted(params or {}))
    head = f"[CV {fold + 1}/{n_splits}] END " if verbose > 2 else "[CV] END "
    tail = shown + (";" if shown else "")
    if verbose > 2:
        test, train = record.test_score, record.train_score
        if isinstance(test, dict):
            for name in sorted(test):
                tail += f" {name}: (" + (f"train={train[name]:.3f}, " if train is not None else "")
                tail += f"test={test[name]:.3f})"
        else:
            tail += ", score=" + (f"(train={train:.3f}, test={test:.3f})" if train is not None else f"{test:.3f}")
    tail += f" total time={record.fit_time + record.score_time:.1f}s"
    return head + "." * max(0, 80 - len(head) - len(tail)) + tail


def fit_trajectory(
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    *,
    estimator: Any,
    candidates: tuple[int, ...],
    checkpoints: tuple[Any, ...],
    scorer: Any,
    fit_params: dict[str, Any] | None = None,
    score_params: dict[str, Any] | None = None,
    error_score: Any = np.nan,
    return_train_score: bool = True,
    fold: int = 0,
    unit: int = 0,
    verbose: int = 0,
    n_splits: int = 0,
    candidate_params: Sequence[dict[str, Any]] | None = None,
    trainer: Callable[..., TrainedRun] = train_checkpoints,
) -> UnitResult:
    """Train ``estimator`` on one fold up to ``max(checkpoints)`` epochs, score every checkpoint.

    Parameters
    ----------
    X, y : array-like
        The whole dataset; ``train`` and ``test`` index into it.
    estimator : estimator
        Unfitted, with its network's ``max_iter`` the largest checkpoint.
    candidates, checkpoints : tuple
        Candidate indices and, aligned, the ``max_iter`` each candidate asks for.
    scorer : callable or _MultimetricScorer
        As ``BaseSearchCV._get_scorers`` makes it.
    fit_params, score_params : dict, optional
        For the whole dataset; indexed here as ``_fit_and_score`` indexes them.
    error_score : 'raise' or float
        As in ``GridSearchCV``: 'raise' raises the fit's (or scorer's) exception.
    return_train_score : bool
        Score the training rows too.
    fold, unit : int
        Where this work belongs, copied into the records.
    verbose, n_splits, candidate_params :
        With ``verbose > 1``, print a line per fit as ``_fit_and_score`` does.
    trainer : callable
        :func:`train_checkpoints`, or another function with its signature.

    Returns
    -------
    UnitResult
        One :class:`FitRecord` per candidate.
    """
    start_wall = time.time()
    worker = worker_name()
    X_train, y_train = _safe_split(estimator, X, y, train)
    X_test, y_test = _safe_split(estimator, X, y, test, train)
    fit_params = _check_method_params(X, params=fit_params or {}, indices=train)
    score_params = score_params or {}
    score_params_train = _check_method_params(X, params=score_params, indices=train)
    score_params_test = _check_method_params(X, params=score_params, indices=test)

    run = trainer(estimator, X_train, y_train, checkpoints, fit_params)
    records = []
    for candidate, max_iter in zip(candidates, checkpoints):
        point = run.checkpoints[max_iter]
        record = FitRecord(
            candidate=candidate, fold=fold, test_score=np.nan, train_score=None, fit_time=point.fit_time,
            score_time=0.0, n_iter=point.n_iter, converged=point.converged, loss_curve=point.loss_curve,
            validation_scores=point.validation_scores, fit_error=None, unit=unit, worker=worker,
            start=start_wall, end=start_wall, n_test_samples=_num_samples(X_test), trainer=run.trainer,
        )
        if point.error is not None:
            if error_score == "raise":
                raise point.error
            record.fit_error = _failure(point.error)
            record.test_score = _error_scores(scorer, error_score)
            record.train_score = _error_scores(scorer, error_score) if return_train_score else None
        else:
            score_started = time.perf_counter()
            record.test_score, test_error = _scored(point.model, X_test, y_test, scorer, score_params_test,
                                                    error_score)
            record.score_time = time.perf_counter() - score_started
            train_error = None
            if return_train_score:  # apart, as in _fit_and_score: its failure never touches the test score
                record.train_score, train_error = _scored(point.model, X_train, y_train, scorer,
                                                          score_params_train, error_score)
            record.score_error = test_error or train_error
        record.end = start_wall + record.fit_time + record.score_time
        if verbose > 1:
            params = candidate_params[candidate] if candidate_params is not None else None
            print(_progress_line(params, fold, n_splits, record, verbose))
        records.append(record)
    return UnitResult(unit=unit, records=records, epochs_run=run.epochs_run, worker=worker,
                      start=start_wall, end=time.time())


def _fit_prefix(pipeline: Pipeline, X_train: Any, y_train: Any) -> tuple[list[tuple[str, Any]], Any]:
    """What ``Pipeline.fit`` does before fitting its last step: the fitted steps, and what they give."""
    steps = clone(pipeline).steps[:-1]
    if not steps:
        return [], X_train
    prefix = Pipeline(steps)
    return prefix.steps, prefix.fit_transform(X_train, y_train)


def train_stack_checkpoints(estimators: Sequence[Any], X_train: Any, y_train: Any,
                            checkpoints: Sequence[Sequence[Any]]) -> list[TrainedRun] | None:
    """Train estimators that differ only in numbers at once with the lean trainer.

    ``estimators[i]`` is asked for its model at each of ``checkpoints[i]``, as
    :func:`train_checkpoints` would return it (bit for bit scikit-learn's fit, see
    :mod:`tuning.engine.lean`). Returns None, having trained nothing, when the lean trainer
    does not cover them (another network class, a nested pipeline, a solver, setting,
    version or input it has not been verified on): train them with :func:`train_checkpoints`.
    """
    paths = {mlp_path(e) for e in estimators}
    if len(paths) != 1 or None in paths:
        return None
    path = paths.pop()
    if "__" in path or (path and (estimators[0].memory is not None
                                  or getattr(estimators[0], "transform_input", None) is not None)):
        return None
    if any(type(network_of(e, path)) is not MLPClassifier for e in estimators):  # MLPRegressor, init schemes
        return None
    networks = [network_of(e, path).get_params(deep=False) for e in estimators]
    marks = [list(c) for c in checkpoints]
    if any(lean.uncovered_reason(p) for p in networks) or not all(isinstance(k, int) for c in marks for k in c):
        return None
    started = time.perf_counter()
    error: BaseException | None = None
    reached: dict[tuple[int, int], lean.Checkpoint] = {}
    with lean.one_blas_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            steps, X_fit = _fit_prefix(estimators[0], X_train, y_train) if path else ([], X_train)
            reached = {(p.member, p.max_iter): p for p in lean.train_stack(X_fit, y_train, networks, marks)}
        except lean.NotCovered:
            return None
        except Exception as exc:  # every member's own fit fails the same way, before its first epoch
            error = exc
    fit_done = time.perf_counter() - started
    _replay(caught, lambda w: not issubclass(w.category, ConvergenceWarning))
    runs = []
    for member, (estimator, wanted) in enumerate(zip(estimators, marks)):
        points: dict[Any, Checkpoint] = {}
        for max_iter in wanted:
            point = reached.get((member, max_iter))
            if point is None:
                points[max_iter] = Checkpoint(max_iter=max_iter, model=None, error=error, fit_time=fit_done)
                continue
            network = point.model
            weights = [*network.coefs_, *network.intercepts_]
            model = network
            if path:
                model = copy.copy(estimator)
                model.steps = [*steps, (path, network)]
            points[max_iter] = Checkpoint(
                max_iter=max_iter, model=model,
                error=None if all(np.isfinite(w).all() for w in weights) else ValueError(NON_FINITE_WEIGHTS),
                fit_time=point.elapsed, n_iter=int(network.n_iter_), converged=point.converged,
                loss_curve=[float(v) for v in network.loss_curve_],
                validation_scores=(None if getattr(network, "validation_scores_", None) is None
                                   else [float(v) for v in network.validation_scores_]),
            )
            if not point.converged and points[max_iter].error is None:
                warnings.warn(_MAX_ITER_WARNING.format(max_iter), ConvergenceWarning, stacklevel=2)
        epochs_run = max((p.n_iter for p in points.values()), default=0)
        runs.append(TrainedRun(points, epochs_run, trainer=LEAN))
    return runs


def fit_stack(
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    *,
    estimators: Sequence[Any],
    candidates: Sequence[tuple[int, ...]],
    checkpoints: Sequence[tuple[Any, ...]],
    fit_params: dict[str, Any] | None = None,
    **scoring: Any,
) -> UnitResult:
    """:func:`fit_trajectory` for several trajectories that differ only in numbers, trained at once.

    ``estimators[i]``, ``candidates[i]`` and ``checkpoints[i]`` are one trajectory's (see
    :func:`tuning.engine.plan.stacks_of`); the other arguments are :func:`fit_trajectory`'s.
    The lean trainer trains the stack in one loop when it covers it; otherwise each
    trajectory is trained by scikit-learn's fit. The records are the same either way, and
    each says which trainer fitted it.
    """
    runs = None
    if not fit_params:  # fit parameters (sample weights...) are scikit-learn's business
        X_train, y_train = _safe_split(estimators[0], X, y, train)
        runs = train_stack_checkpoints(estimators, X_train, y_train, checkpoints)
    results = [
        fit_trajectory(X, y, train, test, estimator=estimator, candidates=tuple(members), checkpoints=tuple(marks),
                       fit_params=fit_params, trainer=train_checkpoints if runs is None else _trained(runs[i]),
                       **scoring)
        for i, (estimator, members, marks) in enumerate(zip(estimators, candidates, checkpoints))
    ]
    return UnitResult(unit=results[0].unit, records=[r for result in results for r in result.records],
                      epochs_run=sum(result.epochs_run for result in results), worker=results[0].worker,
                      start=min(result.start for result in results), end=max(result.end for result in results))


def _trained(run: TrainedRun) -> Callable[..., TrainedRun]:
    """A trainer that hands back a run already trained."""
    return lambda *args, **kwargs: run


def fit_lean(model: Pipeline, X: Any, y: Any, on_epoch: lean.EpochCallback | None = None, *,
             on_weights: lean.WeightsCallback | None = None) -> lean.Checkpoint | None:
    """Fit a pipeline ending in an ``MLPClassifier`` in place with the lean trainer, as ``model.fit(X, y)`` would.

    Returns the network's :class:`~tuning.engine.lean.Checkpoint` (its ``model`` is now the
    pipeline's last step), or None, leaving the network unfitted, when the lean trainer
    does not cover it: then fit it with scikit-learn. Unlike ``fit``, weights that
    overflowed are returned, not raised about. ``on_epoch`` and ``on_weights`` are
    :func:`~tuning.engine.lean.train_stack`'s (``on_weights`` returning False stops the fit
    after that epoch).
    """
    name, network = model.steps[-1]
    params = network.get_params()
    if type(network) is not MLPClassifier or lean.uncovered_reason(params) is not None:
        return None
    steps, Xt = _fit_prefix(model, X, y)
    model.steps = [*steps, (name, network)]  # fitted before training: the callbacks may transform with them
    try:
        (trained,) = lean.train_stack(Xt, y, [params], on_epoch=on_epoch, on_weights=on_weights)
    except lean.NotCovered:
        return None
    model.steps[-1] = (name, trained.model)
    return trained
