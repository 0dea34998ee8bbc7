"""Run a search: validate, load data, plan, evaluate units of work in parallel, assemble.

Which candidates (``tuning.engine.plan``) is separate from how one is evaluated
(``tuning.engine.training``) and from how the table is built (``tuning.engine.results``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from tuning.data.dataset import Dataset
from tuning.data.datasets import load_dataset
from tuning.data.pipeline import make_pipeline, make_preprocessor, scale_target
from tuning.engine.cluster import dask_backend
from tuning.engine.limits import SearchLimits, check_search_costs
from tuning.engine.networks import make_network
from tuning.engine.plan import SearchPlan, Trajectory, plan_search
from tuning.engine.results import SearchResult, build_cv_results, fit_and_score_outputs
from tuning.engine.spec import ExperimentSpec, for_data, parse_spec
from tuning.engine.store import ExperimentStore, experiment_id
from tuning.engine.training import FitRecord, UnitResult, fit_trajectory
from tuning.errors import DataError, SearchFailed, SpecError, TuningError, sentence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """How far a search has come; passed to the progress callback after every unit of work."""

    fits_done: int
    fits_total: int
    epochs_done: int
    epochs_total: int
    elapsed: float
    last_params: dict[str, Any] | None = None

    @property
    def fraction(self) -> float:
        return self.epochs_done / self.epochs_total if self.epochs_total else 1.0


@dataclass(frozen=True)
class Unit:
    """One trajectory on one fold: the unit of work."""

    index: int
    trajectory: Trajectory
    fold: int


@dataclass
class _Collected:
    units: list[UnitResult] = field(default_factory=list)

    @property
    def records(self) -> list[FitRecord]:
        return [r for u in self.units for r in u.records]


def target_scaled(spec: ExperimentSpec) -> bool:
    """Whether the spec's pipeline standardises the target: a regression with ``preprocess="standard"``."""
    return spec.task == "regression" and spec.preprocess == "standard"


def network_prefix(spec: ExperimentSpec) -> str:
    """How the spec's pipeline names the network's parameters: ``mlp__`` (``regressor__mlp__`` when the
    target is scaled, inside a ``TransformedTargetRegressor``)."""
    return "regressor__mlp__" if target_scaled(spec) else "mlp__"


def build_estimator(spec: ExperimentSpec, data: Dataset | None, params: dict[str, Any] | None = None) -> Any:
    """The spec's unfitted estimator: preprocessing and the network (with ``params`` over the spec's
    fixed ones) in a ``Pipeline``, inside a ``TransformedTargetRegressor`` when the target is scaled."""
    pipeline = make_pipeline(make_preprocessor(data, spec.preprocess),
                             make_network(spec.task, {**spec.estimator, **(params or {})}, init=spec.uses_init))
    return scale_target(pipeline) if target_scaled(spec) else pipeline


def sklearn_equivalent(
    spec: ExperimentSpec | dict[str, Any], data: Dataset | None = None
) -> tuple[Any, list[dict[str, list[Any]]]]:
    """The estimator and ``param_grid`` a plain ``GridSearchCV`` needs for this spec.

    ``GridSearchCV(estimator, param_grid, cv=spec.cv, scoring=spec.scoring)`` reports
    the same scores as :func:`run_search`; grid keys carry the pipeline prefix ``mlp__``
    (``regressor__mlp__`` for a regression whose target is scaled, see :func:`network_prefix`).
    ``data`` (loaded from the spec when omitted) decides the column handling of a CSV table.
    """
    spec = parse_spec(spec)
    if data is None and "csv" in spec.dataset:
        data = load_dataset(spec.dataset, task=_task_to_load(spec))
    if data is not None:
        spec = for_data(spec, data)
    prefix = network_prefix(spec)
    grid = [{f"{prefix}{k}": v for k, v in g.items()} for g in spec.param_grid]
    return build_estimator(spec, data), grid


def _task_to_load(spec: ExperimentSpec) -> str | None:
    return None if spec.task == "auto" else spec.task


def check_data_fits_spec(spec: ExperimentSpec, data: Dataset) -> None:
    """Refuse, before any fitting, data the spec's network cannot be cross-validated on."""
    if spec.task not in ("auto", data.task):
        raise SpecError("task", f"the spec is a {spec.task}, but {data.name} has a {data.task} target",
                        f"Choose {data.task}, or another dataset")
    if data.is_regression:
        if np.ptp(np.asarray(data.y, dtype=float)) == 0:
            raise DataError(f"{data.name} has the same target value on every row; there is nothing to predict")
    elif len(data.class_names) < 2:
        raise DataError(f"{data.name} has a single class; a classifier needs at least two")


def split_folds(spec: ExperimentSpec, data: Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds ``GridSearchCV(cv=spec.cv)`` splits the data into: stratified for a classifier,
    ``KFold`` for a regressor, as scikit-learn's ``check_cv`` chooses.

    scikit-learn's warnings (a class with fewer rows than folds) are warnings here too;
    what it refuses (more folds than rows of every class) is a :class:`SpecError`.
    """
    classifier = not data.is_regression
    try:
        return list(check_cv(spec.cv, data.y, classifier=classifier).split(data.X, data.y))
    except ValueError as exc:  # StratifiedKFold refuses only when every class is smaller than cv
        if not classifier:
            raise SpecError("cv", f"{spec.cv} folds need at least {spec.cv} rows, but {data.name} has "
                            f"{data.n_samples} (scikit-learn: {sentence(exc)})", "Use fewer folds") from None
        largest = max(data.class_counts)
        raise SpecError("cv", f"{spec.cv} folds need at least {spec.cv} rows of one class, but no class of "
                        f"{data.name} has more than {largest} (scikit-learn: {sentence(exc)})",
                        f"Use cv={largest} or fewer" if largest >= 2 else "Add rows") from None


def units_of(trajectories: list[Trajectory], n_splits: int) -> list[Unit]:
    """Every (trajectory, fold), the costliest first, so that the workers finish together."""
    units = [Unit(i * n_splits + fold, t, fold) for i, t in enumerate(trajectories) for fold in range(n_splits)]
    return sorted(units, key=lambda u: -u.trajectory.cost())


def evaluate_units(
    units: list[Unit],
    task: Callable[[Unit], Any],
    *,
    n_jobs: int | None,
    on_unit: Callable[[UnitResult], None],
    cancel: threading.Event | None = None,
    pre_dispatch: int | str = "2*n_jobs",
    scheduler: str | None = None,
    scatter: Iterable[Any] = (),
) -> bool:
    """Evaluate every unit in parallel, handing each result to ``on_unit`` as it finishes.

    This is the one evaluation loop: :func:`run_search` and ``tuning.GridSearchCV`` both
    run their units of work through it. ``task(unit)`` makes the ``delayed`` call.

    Without ``scheduler`` the units run on joblib's active backend (loky processes, or a
    backend the caller chose with ``joblib.parallel_backend``). With a Dask scheduler
    address, everything in ``scatter`` goes to the workers once, and the units a dying
    worker had not finished run again (up to 3 times). Returns False when cancelled
    (finished units are kept).
    """
    if scheduler is None:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1, pre_dispatch=pre_dispatch)
        return _consume(parallel(task(u) for u in units), on_unit, cancel)

    done: set[int] = set()

    def on_cluster_unit(unit: UnitResult) -> None:
        done.add(unit.unit)
        on_unit(unit)

    local_workers = n_jobs if n_jobs and n_jobs > 0 else None  # for scheduler="local"
    for attempt in range(1, 4):
        todo = [u for u in units if u.index not in done]
        try:
            with dask_backend(scheduler, scatter=list(scatter), n_workers=local_workers):
                parallel = Parallel(n_jobs=-1, return_as="generator_unordered", batch_size=1)
                return _consume(parallel(task(u) for u in todo), on_cluster_unit, cancel)
        except TuningError:
            raise
        except Exception as exc:
            if attempt == 3:
                raise TuningError(f"the Dask cluster at {scheduler} kept failing ({type(exc).__name__}: "
                                  f"{sentence(exc)}); {len(done)} of {len(units)} units finished and are kept. Run "
                                  "again to resume, with the experiment store") from None
            log.warning("Dask failure (%s: %s); running the %d unfinished units again",
                        type(exc).__name__, exc, len(units) - len(done))
    return True


def _consume(outputs: Any, on_unit: Callable[[UnitResult], None], cancel: threading.Event | None) -> bool:
    """Hand each finished unit to ``on_unit``; stop (and abort the rest) when cancelled."""
    try:
        for unit_result in outputs:
            on_unit(unit_result)
            if cancel is not None and cancel.is_set():
                return False
    except KeyboardInterrupt:
        return False
    finally:
        with warnings.catch_warnings():  # joblib warns that it cancelled the rest: that is the point
            warnings.simplefilter("ignore", UserWarning)
            outputs.close()  # aborts what is still queued or running
    return True


def curves_of(candidates: list[dict[str, Any]], n_splits: int, records: list[FitRecord]) -> list[dict[str, Any]]:
    """Per candidate, per fold: the loss curve, validation scores, epochs run and convergence."""
    by_key = {(r.candidate, r.fold): r for r in records}
    curves = []
    for index, params in enumerate(candidates):
        folds = []
        for fold in range(n_splits):
            r = by_key.get((index, fold))
            folds.append(None if r is None else {
                "loss_curve": r.loss_curve, "validation_scores": r.validation_scores,
                "n_iter": r.n_iter, "converged": r.converged,
            })
        curves.append({"params": params, "folds": folds})
    return curves


def _refit(spec: ExperimentSpec, data: Dataset, params: dict[str, Any]) -> Any:
    estimator = build_estimator(spec, data, params)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(data.X, data.y)


def run_search(
    spec: ExperimentSpec | dict[str, Any],
    *,
    n_jobs: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    refit: bool = True,
    max_epochs: int | None = None,
    data: Dataset | None = None,
    store: ExperimentStore | None = None,
    follow_interval: float = 0.5,
    scheduler: str | None = None,
    limits: SearchLimits | None = None,
) -> SearchResult:
    """Run a cross-validated grid search over ``MLPClassifier`` or ``MLPRegressor`` as the spec describes.

    Parameters
    ----------
    spec : ExperimentSpec or dict
        The experiment; a dict is validated first.
    n_jobs : int, optional
        Overrides ``spec.n_jobs``: joblib workers (loky processes), -1 for all cores.
    progress : callable, optional
        Called in this thread after every unit of work with a :class:`Progress`.
    cancel : threading.Event, optional
        Set it (from any thread) to stop after the unit of work in progress; the
        result then has ``status="cancelled"`` and keeps every finished fit.
    refit : bool, default=True
        Refit the best candidate on all the data into ``result.best_estimator``. When that
        fit fails, ``result.refit_error`` says why and the rest of the result stands.
    max_epochs : int, optional
        Refuse searches that would train more epochs (see :func:`tuning.engine.plan.plan_search`).
    limits : SearchLimits, optional
        Every cost cap, checked before anything is fitted (see
        :func:`tuning.engine.limits.check_search_costs`); ``SearchLimits.from_env(max_epochs)``
        when omitted.
    data : Dataset, optional
        Data already loaded for ``spec.dataset``; loaded from the spec when omitted.
    store : ExperimentStore, optional
        Persist every finished unit of work as it completes and resume from what is
        there; a finished experiment is returned from the store without training. If
        another live process is training the same experiment, follow its progress
        (every ``follow_interval`` seconds) instead of training it twice.
    scheduler : str, optional
        Run the units of work on a Dask cluster: ``tcp://HOST:PORT``, or ``"local"``
        for a ``LocalCluster`` with ``n_jobs`` workers (at most one per core). Results
        equal a local run's. The address is trusted code (see :mod:`tuning.engine.cluster`).

    Returns
    -------
    SearchResult
        Scores, NaNs and the best candidate exactly as ``GridSearchCV(error_score=np.nan,
        return_train_score=True)`` reports them; ``warnings`` lists what it warned about.

    Raises
    ------
    TuningError
        A bad spec, a spec over a cap (:class:`~tuning.engine.limits.CapError`), data that
        does not suit it, or every fit failing.
    """
    spec = parse_spec(spec)
    limits = limits or SearchLimits.from_env(max_epochs)
    plan = check_search_costs(spec, limits, data=data)  # before loading: a built-in's shape is known
    if data is None:
        data = load_dataset(spec.dataset, task=_task_to_load(spec))
        if "csv" in spec.dataset:  # now the table's size (and its target's task) is known too
            plan = check_search_costs(spec, limits, data=data)
    check_data_fits_spec(spec, data)
    spec = for_data(spec, data)
    with warnings.catch_warnings(record=True) as split_warnings:
        warnings.simplefilter("always")
        folds = split_folds(spec, data)
    for w in split_warnings:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    started = time.perf_counter()
    units = units_of(plan.trajectories, plan.n_splits)
    planned_epochs = {u.index: u.trajectory.max_iter for u in units}
    collected = _Collected()
    notes = [str(w.message) for w in split_warnings]

    def report(last_params: dict[str, Any] | None = None) -> None:
        if progress is not None:
            progress(Progress(
                fits_done=len(collected.records), fits_total=plan.n_fits,
                epochs_done=sum(planned_epochs[u.unit] for u in collected.units),
                epochs_total=plan.max_epochs_to_train,
                elapsed=time.perf_counter() - started, last_params=last_params,
            ))

    def assemble(finished: bool) -> SearchResult:
        return _assemble(spec, plan, data, collected, finished=finished, exp_id=exp_id, started=started, notes=notes)

    exp_id = None
    if store is not None:
        exp_id = experiment_id(spec, data)
        store.create(exp_id, spec, data.summary(), plan.n_fits)
        while not store.acquire(exp_id):  # finished, or another live process is training it
            stored = store.load_result(exp_id)
            if stored is not None:
                return stored
            collected = _Collected(store.units(exp_id))
            report()
            if cancel is not None and cancel.is_set():
                return assemble(finished=False)
            time.sleep(follow_interval)
        collected = _Collected(store.units(exp_id))

    def on_unit(unit: UnitResult) -> None:
        if store is not None:
            store.save_unit(exp_id, unit)
        collected.units.append(unit)
        report(plan.candidates[unit.records[-1].candidate] if unit.records else None)

    scorer = check_scoring(build_estimator(spec, data), scoring=spec.scoring)

    def task(u: Unit) -> Any:
        estimator = build_estimator(spec, data, u.trajectory.params)
        train, test = folds[u.fold]
        return delayed(fit_trajectory)(
            data.X, data.y, train, test, estimator=estimator, candidates=u.trajectory.candidates,
            checkpoints=u.trajectory.checkpoints, scorer=scorer, error_score=np.nan, return_train_score=True,
            fold=u.fold, unit=u.index,
        )

    report()
    done = {u.unit for u in collected.units}
    with store.holding(exp_id) if store is not None else contextlib.nullcontext():  # heartbeat, then release
        finished = evaluate_units(
            [u for u in units if u.index not in done], task, n_jobs=n_jobs if n_jobs is not None else spec.n_jobs,
            on_unit=on_unit, cancel=cancel, scheduler=scheduler,
            scatter=[data.X, data.y, *(index for fold in folds for index in fold)],
        )
        result = assemble(finished)
        if refit and finished:
            try:
                result.best_estimator = _refit(spec, data, result.best_params)
            except Exception as exc:  # the cross-validation results stand without a model
                result.refit_error = (f"refitting the best candidate on all the data failed "
                                      f"({type(exc).__name__}: {sentence(exc)})")
        result.elapsed = time.perf_counter() - started
        if store is not None and finished:
            store.finish(exp_id, result)
    return result


def partial_result(spec: ExperimentSpec | dict[str, Any], data: Dataset, units: list[UnitResult]) -> SearchResult:
    """What the finished ``units`` of a search add up to so far (read from the store while it runs).

    Candidates whose folds have not all finished score NaN and rank last; the status is "cancelled".
    """
    spec = parse_spec(spec)
    plan = plan_search(spec, max_epochs=sys.maxsize)  # the search checked its cap before it started
    return _assemble(spec, plan, data, _Collected(list(units)), finished=False, exp_id=None,
                     started=time.perf_counter())


def _summaries(records: list[FitRecord], table: dict[str, Any]) -> list[str]:
    """One line for each kind of trouble scikit-learn warns about, counted over the fits."""
    lines = []
    failed = [r for r in records if r.fit_error]
    if failed:
        first = failed[0].fit_error.strip().splitlines()[-1]
        lines.append(f"{len(failed)} of {len(records)} fits failed and score NaN, as GridSearchCV's "
                     f"error_score=nan has it; the first error: {sentence(first)}")
    unscored = [r for r in records if r.score_error]
    if unscored:
        lines.append(f"scoring failed on {len(unscored)} of {len(records)} fits, which score NaN, as in "
                     f"GridSearchCV; the first error: {sentence(unscored[0].score_error)}")
    means = np.asarray(table["mean_test_score"], dtype=float)
    if np.isnan(means).all():
        lines.append("every candidate's mean test score is NaN, so the best is candidate 0, as GridSearchCV "
                     "reports it")
    elif np.isnan(means).any():
        lines.append(f"{int(np.isnan(means).sum())} of {len(means)} candidates have a NaN mean test score "
                     "and rank last")
    return lines


def _assemble(spec: ExperimentSpec, plan: SearchPlan, data: Dataset, collected: _Collected, *,
              finished: bool, exp_id: str | None, started: float, notes: Sequence[str] = ()) -> SearchResult:
    """The result of every finished unit: the ``cv_results`` table, curves and the fit log."""
    records = collected.records
    if finished and records:
        out = fit_and_score_outputs(records, len(plan.candidates), plan.n_splits)
        try:  # warns when some fits failed, as GridSearchCV does
            _warn_or_raise_about_fit_failures(out, np.nan)
        except ValueError:
            first = records[0].fit_error.strip().splitlines()[-1]
            raise SearchFailed(f"all {len(records)} fits failed; the first error was: {sentence(first)}. "
                               "Check the estimator settings against the data") from None
    table = build_cv_results(plan.candidates, plan.n_splits, records)
    means = table["mean_test_score"]
    folds_done = Counter(r.candidate for r in records)
    best_index: int | None = None
    if finished:
        best_index = int(GridSearchCV._select_best_index(True, "score", table))
    elif any(n == plan.n_splits for n in folds_done.values()) and not np.isnan(means).all():
        best_index = int(table["rank_test_score"].argmin())
    t0 = min((u.start for u in collected.units), default=0.0)
    fits = [{"candidate": r.candidate, "fold": r.fold, "unit": r.unit, "worker": r.worker,
             "start": r.start - t0, "end": r.end - t0, "n_iter": r.n_iter,
             "fit_error": r.fit_error} for r in sorted(records, key=lambda r: (r.candidate, r.fold))]
    return SearchResult(
        spec=spec,
        n_splits=plan.n_splits,
        cv_results={k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in table.items()},
        best_index=best_index,
        best_params=plan.candidates[best_index] if best_index is not None else None,
        best_score=float(means[best_index]) if best_index is not None else None,
        curves=curves_of(plan.candidates, plan.n_splits, records),
        fits=fits,
        epochs_trained=sum(u.epochs_run for u in collected.units),
        epochs_gridsearchcv=sum(r.n_iter for r in records),
        status="finished" if finished else "cancelled",
        fits_done=len(records),
        fits_total=plan.n_fits,
        elapsed=time.perf_counter() - started,
        dataset=data.summary(),
        versions={"scikit-learn": sklearn.__version__},
        experiment_id=exp_id,
        warnings=[*notes, *(_summaries(records, table) if finished else [])],
    )
