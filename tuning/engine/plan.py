"""Which candidates a search evaluates, and which of them can share one training run.

Candidates come in ``ParameterGrid`` order, exactly as ``GridSearchCV`` lists them.
Candidates that differ only in ``max_iter`` form one :class:`Trajectory`: it is trained
once to the largest ``max_iter`` and the model state is scored at every smaller
checkpoint. With a stochastic solver and an integer ``random_state`` the weights after
epoch k of the long run are bit-identical to a fit with ``max_iter=k``, so the scores
equal ``GridSearchCV``'s.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier

from tuning.engine import lean
from tuning.engine.spec import ExperimentSpec
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
        ``MLPClassifier`` parameters of the run (fixed ones merged with the grid's),
        with ``max_iter`` the largest of its candidates.
    candidates : tuple of int
        Indices into the plan's candidate list.
    checkpoints : tuple of int
        ``checkpoints[i]`` is the ``max_iter`` of ``candidates[i]``.
    """

    params: dict[str, Any]
    candidates: tuple[int, ...]
    checkpoints: tuple[int, ...]

    @property
    def max_iter(self) -> int:
        return max(self.checkpoints)

    def cost(self) -> float:
        """Relative training cost: epochs times the weights updated per sample."""
        # a typical input and output width: only the ranking of trajectories matters
        return self.max_iter * (self.n_weights(16, 4) + 200)

    def n_weights(self, n_features: int, n_outputs: int) -> int:
        """Weights of the network for this input and output width."""
        sizes = self.params.get("hidden_layer_sizes", _MLP_DEFAULTS["hidden_layer_sizes"])
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
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
        return sum(sum(t.checkpoints) for t in self.trajectories) * self.n_splits

    def summary(self) -> dict[str, int]:
        return {
            "candidates": len(self.candidates),
            "fits": self.n_fits,
            "trajectories": len(self.trajectories) * self.n_splits,
            "max_epochs_to_train": self.max_epochs_to_train,
            "max_epochs_gridsearchcv": self.max_epochs_gridsearchcv,
        }


def _resolved(params: dict[str, Any], name: str) -> Any:
    return params.get(name, _MLP_DEFAULTS[name])


def can_share_training(params: dict[str, Any]) -> bool:
    """Whether runs with these parameters can be checkpointed at smaller ``max_iter``.

    It needs a stochastic solver (``lbfgs`` hands ``max_iter`` to SciPy) and an
    integer ``random_state`` (otherwise two fits never start from the same weights).
    """
    random_state = _resolved(params, "random_state")
    return (_resolved(params, "solver") in STOCHASTIC_SOLVERS
            and isinstance(random_state, int) and not isinstance(random_state, bool))


def stacks_of(trajectories: list[Trajectory]) -> list[tuple[int, ...]]:
    """Which trajectories train together, as indices into ``trajectories``, in plan order.

    Trajectories that differ only in numbers (``learning_rate_init``, ``alpha``, ...; see
    :data:`tuning.engine.lean.STACKABLE`) see the same mini-batches from the same initial
    weights, so the lean trainer trains them in one loop. Anything it does not cover
    (``lbfgs``, a ``random_state`` that is not an int, ...) stands alone.
    """
    stacks: dict[str, list[int]] = {}
    for index, trajectory in enumerate(trajectories):
        params = trajectory.params
        shared = can_share_training(params) and lean.uncovered_reason(params) is None
        stacks.setdefault(lean.stack_key(params) if shared else f"alone:{index}", []).append(index)
    return [tuple(indices) for indices in stacks.values()]


def plan_search(spec: ExperimentSpec, *, max_epochs: int | None = None) -> SearchPlan:
    """List the candidates and group them into shared trajectories.

    Parameters
    ----------
    spec : ExperimentSpec
    max_epochs : int, optional
        Refuse plans that would train more epochs than this. Defaults to the
        environment variable ``TUNING_MAX_EPOCHS`` or 200,000.

    Raises
    ------
    SpecError
        When the plan is larger than the cap.
    """
    candidates = [dict(c) for c in ParameterGrid(spec.param_grid)]
    groups: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for index, candidate in enumerate(candidates):
        params = {**spec.estimator, **candidate}
        max_iter = int(_resolved(params, "max_iter"))
        shared = {k: v for k, v in params.items() if k != "max_iter"}
        key = json.dumps(shared, sort_keys=True) if can_share_training(params) else f"alone:{index}"
        groups.setdefault(key, []).append((index, max_iter, shared))
    trajectories = []
    for members in groups.values():
        checkpoints = tuple(m[1] for m in members)
        trajectories.append(Trajectory(
            params={**members[0][2], "max_iter": max(checkpoints)},
            candidates=tuple(m[0] for m in members),
            checkpoints=checkpoints,
        ))
    plan = SearchPlan(candidates, trajectories, spec.cv)

    cap = max_epochs if max_epochs is not None else int(os.environ.get("TUNING_MAX_EPOCHS", DEFAULT_MAX_EPOCHS))
    if plan.max_epochs_to_train > cap:
        raise SpecError(
            "param_grid",
            f"this search would train up to {plan.max_epochs_to_train:,} epochs "
            f"({plan.n_fits:,} fits), above the cap of {cap:,}",
            "Use fewer values, smaller max_iter or fewer cv folds, "
            "or raise the cap (--max-epochs or TUNING_MAX_EPOCHS)",
        )
    return plan


def estimate_seconds(plan: SearchPlan, *, n_samples: int, n_features: int, n_classes: int, n_jobs: int) -> float:
    """A rough wall-time estimate (calibrated on 2 cores with ``bench/bench_engine.py``).

    Cost per epoch ≈ training rows × weights × 7e-10 s, plus 0.3 ms of per-epoch
    overhead; spread over the workers, plus a second to start them.
    """
    n_train = n_samples * (plan.n_splits - 1) / plan.n_splits
    outputs = 1 if n_classes == 2 else n_classes
    total = 0.0
    for t in plan.trajectories:
        total += t.max_iter * plan.n_splits * (n_train * t.n_weights(n_features, outputs) * 7e-10 + 3e-4)
    workers = max(1, min(n_jobs, len(plan.trajectories) * plan.n_splits))
    return 1.0 + total / workers
