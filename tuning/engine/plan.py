"""Which candidates a search evaluates, and which of them can share one training run.

Candidates come in ``ParameterGrid`` order, exactly as ``GridSearchCV`` lists them.
Candidates that differ only in ``max_iter`` form one :class:`Trajectory`: it is trained
once to the largest ``max_iter`` and the model state is scored at every smaller
checkpoint. With a stochastic solver and an integer ``random_state`` the weights after
epoch k of the long run are bit-identical to a fit with ``max_iter=k``, so the scores
equal ``GridSearchCV``'s.
"""

from __future__ import annotations

import math
import numbers
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier

from tuning.data.dataset import Dataset
from tuning.engine import lean
from tuning.engine.spec import ExperimentSpec
from tuning.engine.throughput import Throughput, workers_running
from tuning.errors import SpecError

STOCHASTIC_SOLVERS = ("adam", "sgd")
DEFAULT_MAX_EPOCHS = 200_000
_MLP_DEFAULTS = MLPClassifier().get_params()


@dataclass(frozen=True)
class Trajectory:
    """One training run per fold, scored at one checkpoint per candidate.

    Parameters
    ----------
    params : dict
        The run's parameters (a candidate's, with ``max_iter`` the largest of its
        candidates), in the same form as the candidates they were planned from.
    candidates : tuple of int
        Indices into the plan's candidate list.
    checkpoints : tuple of int
        ``checkpoints[i]`` is the ``max_iter`` of ``candidates[i]``.
    hidden_layer_sizes : tuple of int
        The network's layers, for the cost.
    """

    params: dict[str, Any]
    candidates: tuple[int, ...]
    checkpoints: tuple[Any, ...]
    hidden_layer_sizes: tuple[int, ...] = tuple(_MLP_DEFAULTS["hidden_layer_sizes"])

    @property
    def max_iter(self) -> int:
        """Epochs the run trains at most (0 when it is not a network with a valid ``max_iter``)."""
        return max((c for c in self.checkpoints if _is_int(c)), default=0)

    def cost(self) -> float:
        """Relative training cost: epochs times the weights updated per sample."""
        # a typical input and output width: only the ranking of trajectories matters
        return self.max_iter * (self.n_weights(16, 4) + 200)

    def n_weights(self, n_features: int, n_outputs: int) -> int:
        """Weights of the network for this input and output width."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        sizes = [s for s in sizes if _is_int(s)]
        return sum(a * b for a, b in pairwise([n_features, *sizes, n_outputs]))


@dataclass(frozen=True)
class SearchPlan:
    """Candidates in ``ParameterGrid`` order and the trajectories that train them."""

    candidates: list[dict[str, Any]]
    trajectories: list[Trajectory]
    n_splits: int

    @property
    def n_fits(self) -> int:
        """Fits in ``GridSearchCV``'s sense: one per candidate and fold."""
        return len(self.candidates) * self.n_splits

    @property
    def max_epochs_to_train(self) -> int:
        """Epochs this engine trains at most (fewer when runs stop on ``tol``)."""
        return sum(t.max_iter for t in self.trajectories) * self.n_splits

    @property
    def max_epochs_gridsearchcv(self) -> int:
        """Epochs a plain ``GridSearchCV`` trains at most for the same grid."""
        return sum(sum(c for c in t.checkpoints if _is_int(c)) for t in self.trajectories) * self.n_splits

    def summary(self) -> dict[str, int]:
        return {
            "candidates": len(self.candidates),
            "fits": self.n_fits,
            "trajectories": len(self.trajectories) * self.n_splits,
            "max_epochs_to_train": self.max_epochs_to_train,
            "max_epochs_gridsearchcv": self.max_epochs_gridsearchcv,
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _resolved(params: dict[str, Any], name: str) -> Any:
    return params.get(name, _MLP_DEFAULTS[name])


def can_share_training(params: dict[str, Any]) -> bool:
    """Whether runs with these ``MLPClassifier`` parameters can be checkpointed at smaller ``max_iter``.

    It needs a stochastic solver (``lbfgs`` hands ``max_iter`` to SciPy), an integer
    ``random_state`` (otherwise two fits never start from the same weights) and an
    integer ``max_iter``.
    """
    return (_resolved(params, "solver") in STOCHASTIC_SOLVERS and _is_int(_resolved(params, "random_state"))
            and _is_int(_resolved(params, "max_iter")))


def still_to_train(stack: tuple[int, ...], trajectories: list[Trajectory], fold: int,
                   done: set[tuple[int, int]]) -> list[int]:
    """The trajectories of ``stack`` that still have a (candidate, ``fold``) fit not in ``done``: what a
    resumed search trains of that stack on that fold (the search's units, and the estimate of them)."""
    return [i for i in stack if any((c, fold) not in done for c in trajectories[i].candidates)]


def stacks_of(trajectories: list[Trajectory], *, path: str = "",
              network: Callable[[Trajectory], dict[str, Any] | None] | None = None) -> list[tuple[int, ...]]:
    """Which trajectories train together, as indices into ``trajectories``, in plan order.

    Trajectories that differ only in numbers (``learning_rate_init``, ``alpha``, ...; see
    :data:`tuning.engine.lean.STACKABLE`) see the same mini-batches from the same initial
    weights, so the lean trainer trains them in one loop. Anything it does not cover
    (``lbfgs``, a ``random_state`` that is not an int, ...) stands alone.

    Parameters
    ----------
    path : str
        Where the network's parameters sit in the trajectories' params: ``""`` when they
        are ``MLPClassifier`` parameters, ``"mlp"`` for ``mlp__alpha``.
    network : callable, optional
        The ``MLPClassifier`` parameters a trajectory resolves to (None: not a network);
        by default its params themselves.
    """
    prefix = f"{path}__" if path else ""
    stacks: dict[Any, list[int]] = {}
    for index, trajectory in enumerate(trajectories):
        mlp = trajectory.params if network is None else network(trajectory)
        key: Any = ("alone", index)
        if mlp is not None and can_share_training(mlp) and lean.uncovered_reason(mlp) is None:
            rest = tuple((k, _frozen(v)) for k, v in sorted(trajectory.params.items())
                         if not (k.startswith(prefix) and k[len(prefix):] in lean.STACKABLE))
            if all(f is not None for _, f in rest):
                key = ("stack", lean.stack_key(mlp), rest)
        stacks.setdefault(key, []).append(index)
    # at most MAX_STACK per stack: a unit of work stays short enough to stop after, and to share out
    return [tuple(indices[i:i + MAX_STACK]) for indices in stacks.values() for i in range(0, len(indices), MAX_STACK)]


# Trajectories trained in one loop at most. What stacking saves per member levels off by 16
# (digits, one fold, 30 epochs: 1.90x at 16 members and 1.93x at 32 for 8 hidden units, 1.43x
# and 1.52x for 32); larger stacks make units of work that are slow to stop after and hard to
# share out between workers.
MAX_STACK = 16


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a parameter value that tells apart what a fit tells apart, else None."""
    if value is None or isinstance(value, (str, bool, numbers.Number)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        items = tuple(_frozen(v) for v in value)
        return None if None in items else (type(value).__name__, items)
    return None  # estimators, arrays, callables...: never shared


def group_candidates(
    candidates: list[dict[str, Any]], *, max_iter_key: str, network: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> list[Trajectory]:
    """Group candidates that differ only in ``max_iter_key`` into shared trajectories.

    Parameters
    ----------
    candidates : list of dict
        In ``ParameterGrid`` order, in whatever form the estimator takes them (``alpha``
        or ``mlp__alpha``).
    max_iter_key : str
        The key that sets the network's ``max_iter`` in that form.
    network : callable
        The ``MLPClassifier`` parameters a candidate resolves to, or None when its final
        estimator is not an ``MLPClassifier`` (it is then fitted alone).
    """
    groups: dict[Any, list[tuple[int, Any, dict[str, Any], dict[str, Any] | None]]] = {}
    for index, candidate in enumerate(candidates):
        mlp = network(candidate)
        key: Any = ("alone", index)
        if mlp is not None and can_share_training(mlp):
            frozen = [(k, _frozen(v)) for k, v in sorted(candidate.items()) if k != max_iter_key]
            if all(f is not None for _, f in frozen):
                key = ("shared", tuple(frozen))
        max_iter = _resolved(mlp, "max_iter") if mlp is not None else 0
        groups.setdefault(key, []).append((index, max_iter, candidate, mlp))
    trajectories = []
    for key, members in groups.items():
        checkpoints = tuple(m[1] for m in members)
        params = dict(members[0][2])
        if key[0] == "shared":
            params[max_iter_key] = max(checkpoints)
        mlp = members[0][3] or {}
        sizes = _resolved(mlp, "hidden_layer_sizes") if mlp else ()
        trajectories.append(Trajectory(
            params=params, candidates=tuple(m[0] for m in members), checkpoints=checkpoints,
            hidden_layer_sizes=tuple(sizes) if isinstance(sizes, (list, tuple)) else (sizes,),
        ))
    return trajectories


def check_epoch_cap(plan: SearchPlan, max_epochs: int | None = None) -> None:
    """Refuse a plan that would train more epochs than the cap, before any fitting.

    The cap is ``max_epochs``, else the environment variable ``TUNING_MAX_EPOCHS``, else 200,000.
    """
    cap = max_epochs if max_epochs is not None else int(os.environ.get("TUNING_MAX_EPOCHS", DEFAULT_MAX_EPOCHS))
    if plan.max_epochs_to_train > cap:
        raise SpecError(
            "param_grid",
            f"this search would train up to {plan.max_epochs_to_train:,} epochs "
            f"({plan.n_fits:,} fits), above the cap of {cap:,}",
            "Use fewer values, smaller max_iter or fewer cv folds, "
            "or raise the cap (--max-epochs or TUNING_MAX_EPOCHS)",
        )


def plan_search(spec: ExperimentSpec, *, max_epochs: int | None = None) -> SearchPlan:
    """List the candidates and group them into shared trajectories.

    Trajectory parameters are ``MLPClassifier`` parameters: the spec's fixed ones merged
    with the candidate's.

    Parameters
    ----------
    spec : ExperimentSpec
    max_epochs : int, optional
        Refuse plans that would train more epochs than this (see :func:`check_epoch_cap`).

    Raises
    ------
    SpecError
        When the plan is larger than the cap.
    """
    candidates = [dict(c) for c in ParameterGrid(spec.param_grid)]
    merged = [{**spec.estimator, **c} for c in candidates]
    trajectories = group_candidates(merged, max_iter_key="max_iter", network=lambda params: params)
    plan = SearchPlan(candidates, trajectories, spec.cv)
    check_epoch_cap(plan, max_epochs)
    return plan


@dataclass(frozen=True)
class Estimate:
    """How long a search should take on this machine, in seconds, with a range.

    ``startup`` is the part spent starting worker processes (0 when they already run),
    ``training`` the rest (the units of work spread over the workers, then the refit).
    """

    startup: float
    training: float
    low: float
    high: float

    @property
    def seconds(self) -> float:
        return self.startup + self.training

    def describe(self) -> str:
        """``~1.2 s (0.8–1.8 s)``, ``~8 s (6–12 s)``, ``~3 min (2–5 min)``, or ``under 1 s``."""
        central, spread = self.parts()
        return f"{central} ({spread})" if spread else central

    def parts(self) -> tuple[str, str]:
        """:meth:`describe` in two: the central figure (``~1.2 s``) and the range (``0.8–1.8 s``; empty
        for ``under 1 s``), for a page that shows them apart."""
        if self.high < 1:
            return "under 1 s", ""
        if self.high < 10:
            return f"~{self.seconds:.1f} s", f"{self.low:.1f}–{self.high:.1f} s"
        if self.seconds < 90:
            return f"~{self.seconds:.0f} s", f"{self.low:.0f}–{self.high:.0f} s"
        return f"~{self.seconds / 60:.0f} min", f"{self.low / 60:.0f}–{self.high / 60:.0f} min"

    def explain(self) -> str:
        start = (f"{self.startup:.0f} s to start the worker processes, then " if self.startup >= 0.5
                 else "workers already running, ")
        return (f"From this machine's measured training speed: {start}{self.training:.0f} s of training. "
                "Runs that stop early (tol, early stopping) take less; other work on the machine, more.")


RANGE = (0.7, 1.5)  # what the bench measured actual times to fall within, relative to the estimate


def _input_width(data: Dataset) -> int:
    """Columns the network sees: one-hot encoding widens each categorical column to its categories."""
    if not data.categorical_columns:
        return data.n_features
    return len(data.numeric_columns or []) + sum(int(data.X[c].nunique()) for c in data.categorical_columns)


def _unit_seconds(t: Trajectory, throughput: Throughput, *, rows: float, scored_rows: float, width: int,
                  outputs: int, epochs: float, table: bool, scores: int, regression: bool = False) -> float:
    params = {**_MLP_DEFAULTS, **t.params}
    if params["early_stopping"] and params["solver"] in STOCHASTIC_SOLVERS:
        rows *= 1 - params["validation_fraction"]
    if params["solver"] == "lbfgs":
        batches = 1.0  # one full-batch step per iteration
    else:
        batch = min(200, rows) if params["batch_size"] == "auto" else min(int(params["batch_size"]), rows)
        batches = math.ceil(rows / max(batch, 1))
    sizes = params["hidden_layer_sizes"]
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
    weights = t.n_weights(width, outputs) + sum(sizes) + outputs
    seconds = throughput.unit_seconds(epochs=epochs, batches=batches, layers=len(sizes) + 1, rows=rows,
                                      weights=weights, scores=scores, scored_rows=scored_rows, table=table)
    # the throughput is measured on the lean trainer (where this machine's versions allow it)
    if lean.uncovered_reason({}) is None and (regression or lean.uncovered_reason(t.params) is not None):
        seconds *= SCIKIT_LEARN_EPOCH_COST
    return seconds


# What an epoch costs in scikit-learn's own fit (lbfgs, settings the lean trainer does not
# cover) against the lean trainer: digits (1,198 rows), one thread, 1.2x (128 units, batches
# of 200) to 3.0x (8 units, batches of 32). And what a stack's members after the first cost,
# sharing its per-batch work: 0.53 (8 units) to 0.70 (32 units) of training alone, 16 members.
SCIKIT_LEARN_EPOCH_COST = 2.5
STACKED_MEMBER_SHARE = 0.6
# Below this much training (seconds of one core), starting worker processes costs more than
# they save: a search runs in this process (``bench/bench_engine.py --crossover`` on 2 cores).
IN_PROCESS_SECONDS = 2.0


def _makespan(costs: list[float], workers: int) -> float:
    """Finishing time of ``costs`` handed out longest first to the least-loaded of ``workers``."""
    loads = [0.0] * max(1, workers)
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


def estimate_search(
    plan: SearchPlan,
    data: Dataset,
    *,
    n_jobs: int,
    throughput: Throughput,
    workers_ready: bool | None = None,
    refit: bool = True,
    machine_load: float = 0.0,
    done: Iterable[tuple[int, int]] = (),
) -> Estimate:
    """Wall time of a search from this machine's measured throughput.

    Parameters
    ----------
    plan : SearchPlan
    data : Dataset
        Its rows, input width (after one-hot encoding) and classes size each network.
    n_jobs : int
        Workers, as the search will use them (-1: every core).
    throughput : Throughput
        This machine's measured speed (:func:`tuning.engine.throughput.machine_throughput`).
    workers_ready : bool, optional
        Whether worker processes already run; checked on joblib's pool when omitted.
    refit : bool, default=True
        Whether the best candidate is refitted on all the data afterwards.
    machine_load : float, default=0
        Other processes busy on the machine (see :func:`tuning.engine.throughput.machine_load_now`):
        they share the cores with the workers.
    done : iterable of (candidate, fold), default=()
        Fits an earlier run of this search already made (the experiment store keeps them): a
        resumed search trains only the units of work with fits still to do, and so does this.
    """
    cores = os.cpu_count() or 1
    n_jobs = cores if n_jobs < 0 else max(1, n_jobs)
    n = data.n_samples
    rows = n * (plan.n_splits - 1) / plan.n_splits
    outputs = data.n_outputs
    shape = {"width": _input_width(data), "outputs": outputs, "table": bool(data.categorical_columns)}
    priced = [_unit_seconds(t, throughput, rows=rows, scored_rows=len(t.checkpoints) * n, epochs=t.max_iter,
                            scores=2 * len(t.checkpoints), regression=data.is_regression, **shape)
              for t in plan.trajectories]
    costs = []  # a unit of work is a stack on a fold: its members share the per-batch work
    # the lean trainer stacks MLPClassifier only: a regression's trajectories train one by one
    stacks = [(i,) for i in range(len(plan.trajectories))] if data.is_regression else stacks_of(plan.trajectories)
    done = set(done)
    for stack in stacks:
        for fold in range(plan.n_splits):
            todo = still_to_train(stack, plan.trajectories, fold, done)
            if todo:
                members = sorted((priced[i] for i in todo), reverse=True)
                costs.append(members[0] + STACKED_MEMBER_SHARE * sum(members[1:]))
    workers = min(n_jobs, cores, len(costs))
    if sum(costs) < IN_PROCESS_SECONDS:
        workers = 1  # a small search starts no worker (tuning.engine.search.evaluate_units)
    if workers > 1 and not (workers_running(n_jobs) if workers_ready is None else workers_ready):
        # this process trains while the others start, and they join when they are up
        costs += [throughput.worker_start] * (workers - 1)  # CPU seconds, shared with the load below
    # CPU seconds become wall seconds: the workers share the cores with whatever else runs
    training = _makespan(costs, workers) * max(1.0, (workers + machine_load) / cores)
    training += throughput.per_search * max(1.0, (1 + machine_load) / cores)
    if refit and plan.trajectories:
        refits = sorted(_unit_seconds(t, throughput, rows=n, scored_rows=0, epochs=statistics.median(t.checkpoints),
                                      scores=0, regression=data.is_regression, **shape) for t in plan.trajectories)
        training += statistics.median(refits) * max(1.0, (1 + machine_load) / cores)
    # no time is spent only waiting for workers: the search trains in this process from the start
    return Estimate(startup=0.0, training=training, low=RANGE[0] * training, high=RANGE[1] * training)


def describe_seconds(seconds: float) -> str:
    """``0.4 s`` and ``9.9 s`` (a decimal under ten seconds), ``12 s``, ``2 min 5 s`` from 90 s on."""
    if seconds < 9.95:
        return f"{max(seconds, 0.0):.1f} s"
    if seconds < 89.5:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def describe_progress(estimate: Estimate, *, elapsed: float, done: float, fits_done: int, fits_total: int,
                      workers: int) -> tuple[float, str]:
    """The progress bar's fraction and text for a running search, from its first second.

    While no unit of work has finished and the workers are still expected to be starting,
    the bar moves with the clock through the start-up's share of the estimate. Then it
    shows the epochs done, or the time spent against the estimate when that is further
    along (units finish in steps), but never full before the search is. It says the search
    takes longer than estimated only once ``elapsed`` is past the estimate's upper bound.
    """
    total = max(estimate.seconds, 1e-6)
    by_time = min(elapsed / total, 0.95)
    startup_share = estimate.startup / total
    clock = describe_seconds(elapsed)
    if fits_done == 0 and elapsed < estimate.startup:
        fraction = min(by_time, startup_share)
        return fraction, f"Starting {workers} worker processes… {clock} (about {estimate.startup:.0f} s here)"
    fraction = max(startup_share + done * (1 - startup_share), min(by_time, 0.95))
    left = estimate.seconds - elapsed
    if elapsed > estimate.high:  # only past the range's end: within it, the estimate still holds
        when = "taking longer than estimated"
    elif left >= 1:
        when = f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left"
    else:
        when = "almost done"
    return min(fraction, 1.0), f"{fits_done} / {fits_total} fits · {clock} · {when}"
