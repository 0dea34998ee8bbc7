"""Run a search: validate, load data, plan, evaluate units of work in parallel, assemble.

Which candidates (``tuning.engine.plan``) is separate from how one is evaluated
(``tuning.engine.training``) and from how the table is built (``tuning.engine.results``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
from joblib import effective_n_jobs
from joblib.parallel import LokyBackend, get_active_backend
from sklearn import get_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed

from tuning.data.dataset import Dataset
from tuning.data.datasets import load_dataset
from tuning.data.pipeline import make_pipeline, make_preprocessor, scale_target
from tuning.engine import lean
from tuning.engine.cluster import dask_backend
from tuning.engine.limits import SearchLimits, check_search_costs
from tuning.engine.networks import make_network
from tuning.engine.plan import IN_PROCESS_SECONDS, SearchPlan, Trajectory, plan_search, stacks_of, still_to_train
from tuning.engine.results import SearchResult, build_cv_results, fit_and_score_outputs
from tuning.engine.spec import ExperimentSpec, for_data, parse_spec
from tuning.engine.store import ExperimentStore, experiment_id
from tuning.engine.training import NON_FINITE_WEIGHTS, FitRecord, UnitResult, fit_lean, fit_stack
from tuning.engine.workers import kill_at_exit, ready, worker_pool
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
    """The unit of work: trajectories trained together (a stack, see
    :func:`tuning.engine.plan.stacks_of`; often just one) on one fold."""

    index: int
    trajectories: tuple[Trajectory, ...]
    fold: int

    @property
    def max_epochs(self) -> int:
        return sum(t.max_iter for t in self.trajectories)

    def cost(self) -> float:
        return sum(t.cost() for t in self.trajectories)


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


def units_of(trajectories: list[Trajectory], n_splits: int, stacks: list[tuple[int, ...]] | None = None,
             done: Iterable[tuple[int, int]] = ()) -> list[Unit]:
    """Every (stack, fold) with fits still to do, the costliest first, so that the workers finish together.

    ``stacks`` groups trajectories (:func:`tuning.engine.plan.stacks_of`; each alone by
    default); ``done`` lists the (candidate, fold) fits already made, whose trajectories are
    left out. A unit is numbered after its first trajectory (``trajectory * n_splits +
    fold``), so that what a store holds from earlier runs never shares a number with what is left.
    """
    done = set(done)
    units = []
    for stack in stacks if stacks is not None else [(i,) for i in range(len(trajectories))]:
        for fold in range(n_splits):
            todo = still_to_train(stack, trajectories, fold, done)
            if todo:
                units.append(Unit(todo[0] * n_splits + fold, tuple(trajectories[i] for i in todo), fold))
    return sorted(units, key=lambda u: -u.cost())


def unit_seconds(unit: Unit, *, n_train: int, n_features: int, n_outputs: int,
                 network: Callable[[Trajectory], dict[str, Any] | None] | None = None) -> float:
    """A rough estimate of a unit's training time on one core (:func:`tuning.engine.lean.estimate_seconds`).

    ``network(trajectory)`` gives the ``MLPClassifier`` parameters a trajectory resolves to
    (by default its params themselves); a unit that is not a network counts as a second.
    """
    networks = [t.params if network is None else network(t) for t in unit.trajectories]
    if networks[0] is None:
        return 1.0
    params = {**MLPClassifier().get_params(), **networks[0]}
    hidden = params["hidden_layer_sizes"]
    hidden = list(hidden) if isinstance(hidden, (list, tuple)) else [hidden]
    covered = all(p is not None and lean.uncovered_reason(p) is None for p in networks)
    try:
        return lean.estimate_seconds(n_train, [n_features, *hidden, n_outputs],
                                     [t.max_iter for t in unit.trajectories], batch_size=params["batch_size"],
                                     lean=covered)
    except (TypeError, ValueError):  # invalid settings fail fast, in scikit-learn's own checks
        return 0.0


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
    seconds: Callable[[Unit], float] | None = None,
) -> bool:
    """Evaluate every unit in parallel, handing each result to ``on_unit`` as it finishes.

    This is the one evaluation loop: :func:`run_search` and ``tuning.GridSearchCV`` both
    run their units of work through it. ``task(unit)`` makes the ``delayed`` call.

    Without ``scheduler``, on joblib's default backend, this process trains units itself
    while ``n_jobs - 1`` loky worker processes start and take the costliest units (by
    ``seconds(unit)``, a rough estimate of one core's time; see
    :func:`_run_here_and_on_workers`), and a search under :data:`IN_PROCESS_SECONDS` of
    work starts no worker at all. Under a backend the caller chose with
    ``joblib.parallel_backend``, the units run on it. With a Dask scheduler address,
    everything in ``scatter`` goes to the workers once, and the units a dying worker had
    not finished run again (up to 3 times). Returns False when cancelled (finished units
    are kept).
    """
    if scheduler is None:
        backend, _ = get_active_backend()
        if type(backend) is not LokyBackend:  # threading, Dask, ...: the caller's choice
            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1,
                                pre_dispatch=pre_dispatch)
            return _consume(parallel(task(u) for u in units), on_unit, cancel)
        costs = {u.index: (seconds(u) if seconds is not None else u.cost()) for u in units}
        n_workers = effective_n_jobs(n_jobs) - 1  # this process is one of the n_jobs
        small = seconds is not None and sum(costs.values()) < IN_PROCESS_SECONDS
        if n_workers < 1 or len(units) < 2 or small:
            n_workers = 0  # all here, rather than waiting for worker processes to start
        return _run_here_and_on_workers(units, task, lambda u: costs[u.index], n_workers, on_unit, cancel)

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


def _run_here_and_on_workers(units: list[Any], task: Callable[[Any], Any], cost: Callable[[Any], float],
                             n_workers: int, on_unit: Callable[[UnitResult], None],
                             cancel: threading.Event | None) -> bool:
    """Evaluate the units in this process and on ``n_workers`` loky worker processes at once.

    Starting a worker process takes a second or more (several on a busy machine), about as
    long as a small search's whole training. So this process starts on the cheapest units
    at once, while a worker, as soon as it is up and idle (a first no-op task says when),
    gets the costliest unit left, as long as this process has as much to do besides (by
    ``cost``): a worker that started late never holds the search up with a unit this
    process would have finished sooner. A search that fits in this
    process is done before the workers would have helped; a large one loses no time
    waiting for them. A unit whose worker dies is trained here. Results are handed to
    ``on_unit`` in this thread. Returns False when cancelled: the units running here and
    on the workers finish, the rest are left.
    """
    # what sklearn's Parallel hands its tasks: this thread's scikit-learn configuration and warning filters
    config, filters = get_config(), list(getattr(warnings, "_get_filters", lambda: warnings.filters)())
    made = task

    def task(unit: Any) -> Any:
        func, args, kwargs = made(unit)
        if hasattr(func, "with_config_and_warning_filters"):  # made by sklearn.utils.parallel.delayed
            func = func.with_config_and_warning_filters(config, filters)
        return func, args, kwargs

    todo = deque(units)  # costliest first
    here = [0.0]  # the cost of the unit this process is training
    idle = [0]  # workers up and waiting for a unit
    lock = threading.Lock()
    finished: queue.Queue[tuple[Future, Any]] = queue.Queue()
    in_flight: set[Future] = set()
    stopping = threading.Event()
    # joblib's own pool (with its temporary-folder manager), so that scikit-learn's Parallel can reuse it after us
    executor = worker_pool(n_workers) if n_workers else None

    def feed(freed: Future | None = None, ready: bool = False) -> None:
        """Give idle workers the costliest units, while this process has as much to do besides."""
        submitted = []
        with lock:
            if freed is not None:
                in_flight.discard(freed)
            if freed is not None or ready:
                idle[0] += 1
            while idle[0] and todo and not stopping.is_set():
                if 2 * cost(todo[0]) > sum(cost(u) for u in todo) + here[0]:
                    break  # this process would finish it (and everything else) sooner
                unit = todo.popleft()
                func, args, kwargs = task(unit)
                try:
                    future = executor.submit(func, *args, **kwargs)
                except Exception:  # the workers are gone: this process takes the unit
                    todo.appendleft(unit)
                    break
                in_flight.add(future)
                idle[0] -= 1
                submitted.append((future, unit))
        for future, unit in submitted:
            future.add_done_callback(lambda f, unit=unit: (finished.put((f, unit)), feed(f)))

    def run_here(unit: Any) -> UnitResult:
        func, args, kwargs = task(unit)
        return func(*args, **kwargs)

    def collect(future: Future, unit: Any) -> None:
        if isinstance(future.exception(), BrokenExecutor):  # its worker died: no fit is lost, train it here
            on_unit(run_here(unit))
        else:
            on_unit(future.result())

    for _ in range(n_workers):
        executor.submit(ready).add_done_callback(lambda f: feed(ready=True))
        kill_at_exit(executor)
    try:
        while True:
            while not finished.empty():
                collect(*finished.get())
            if cancel is not None and cancel.is_set():
                return False
            with lock:
                unit = todo.pop() if todo else None
                busy = bool(in_flight)
                here[0] = 0.0 if unit is None else cost(unit)
            if unit is not None:  # the cheapest unit left, here
                if idle[0]:
                    feed()  # now that this process is busy, an idle worker may take the costliest
                on_unit(run_here(unit))
            elif busy:
                try:
                    collect(*finished.get(timeout=0.1))
                except queue.Empty:
                    continue
            else:  # every unit done: the last results were queued before their futures left in_flight
                while not finished.empty():
                    collect(*finished.get())
                return True
    except KeyboardInterrupt:
        return False
    finally:
        stopping.set()
        with lock:
            leftover = bool(in_flight) or idle[0] + len(in_flight) < n_workers  # units, or workers still starting
        if executor is not None and leftover:
            executor.shutdown(wait=False, kill_workers=True)  # nothing they do now is wanted


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
    with lean.one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        trained = fit_lean(estimator, data.X, data.y) if isinstance(estimator, Pipeline) else None
        if trained is None:
            return estimator.fit(data.X, data.y)
        if not all(np.isfinite(w).all() for w in [*trained.model.coefs_, *trained.model.intercepts_]):
            raise ValueError(NON_FINITE_WEIGHTS)  # as scikit-learn's fit would
        return estimator


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

    def network_params(t: Trajectory) -> dict[str, Any]:  # with MLPRegressor's loss and init, which lean refuses
        return make_network(spec.task, t.params, init=spec.uses_init).get_params(deep=False)

    network = None if spec.task == "classification" and not spec.uses_init else network_params
    stacks = stacks_of(plan.trajectories, network=network)
    planned_epochs = {u.index: u.max_epochs for u in units_of(plan.trajectories, plan.n_splits, stacks)}
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
        estimators = [build_estimator(spec, data, t.params) for t in u.trajectories]
        train, test = folds[u.fold]
        return delayed(fit_stack)(
            data.X, data.y, train, test, estimators=estimators, candidates=[t.candidates for t in u.trajectories],
            checkpoints=[t.checkpoints for t in u.trajectories], scorer=scorer, error_score=np.nan,
            return_train_score=True, fold=u.fold, unit=u.index,
        )

    sizes = {"n_train": len(data.y) * (spec.cv - 1) // spec.cv, "n_features": data.n_features,
             "n_outputs": data.n_outputs}
    report()
    # what a store holds from an earlier run (perhaps stacked otherwise) is not trained again
    units = units_of(plan.trajectories, plan.n_splits, stacks, done={(r.candidate, r.fold) for r in collected.records})
    with store.holding(exp_id) if store is not None else contextlib.nullcontext():  # heartbeat, then release
        finished = evaluate_units(
            units, task, n_jobs=n_jobs if n_jobs is not None else spec.n_jobs, on_unit=on_unit, cancel=cancel,
            scheduler=scheduler, scatter=[data.X, data.y, *(index for fold in folds for index in fold)],
            seconds=lambda u: unit_seconds(u, network=network, **sizes),
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
             "fit_error": r.fit_error, "trainer": r.trainer}
            for r in sorted(records, key=lambda r: (r.candidate, r.fold))]
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
