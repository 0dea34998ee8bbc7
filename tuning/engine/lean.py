"""A lean trainer for ``MLPClassifier``'s stochastic solvers that trains a stack of candidates at once.

For the small networks Tuning Lab is about, most of an epoch of scikit-learn's
``_fit_stochastic`` is per-call work (array-namespace dispatch, ``_safe_indexing``,
``safe_sparse_dot``, validation), not arithmetic. This trainer does the same numpy
operations, in the same order, on arrays of the same layout, without that work:

- the same random numbers: the initial weights come from scikit-learn's own
  ``_init_coef``, the early-stopping split from ``train_test_split`` and every epoch's
  shuffle from ``random_state.shuffle`` on the same ``RandomState``, as ``sklearn.utils.shuffle`` does;
- the same arithmetic: forward pass, loss, back-propagation and the SGD/Adam updates
  are written out as ``_backprop``, ``_compute_loss_grad`` and the optimizers' ``_get_updates``
  write them;
- the same bookkeeping: ``loss_curve_``, ``validation_scores_``, ``best_loss_``,
  ``_no_improvement_count``, the learning-rate schedules and when a run stops.

**Stacks.** Candidates that share everything that decides the mini-batches and the
initial weights (fold, architecture, activation, seed, batch size, shuffling, the
early-stopping split, solver) see the same batches in the same order and differ only
in numbers (:data:`STACKABLE`: learning rate, ``alpha``, momentum, Adam's betas, ``tol``,
``max_iter``, ...). One loop trains them together: weights are 3-D arrays, one slice per
candidate, and a candidate leaves the stack when it stops. numpy computes a stacked
matrix product slice by slice with the same BLAS call as the 2-D product, and the
element-wise operations and reductions used here give each slice what they give the
2-D array, so every candidate's arithmetic is exactly the one of its own ``fit``
(``tests/unit/test_lean.py`` compares with ``==``).

Anything not verified — scikit-learn or numpy versions other than :data:`VERIFIED`,
``lbfgs``, ``verbose``, sparse or float32 input — is left to scikit-learn's own fit:
:func:`uncovered_reason` says why before training, and :func:`train_stack` raises
:class:`NotCovered` when it only learns it from the data.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import sklearn
from scipy.sparse import issparse
from scipy.special import expit, xlogy
from sklearn import config_context
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._base import ACTIVATIONS, DERIVATIVES
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils import check_random_state, gen_batches
from threadpoolctl import ThreadpoolController

# The versions this trainer reproduces scikit-learn's MLPClassifier with, bit for bit: its
# code, and numpy's reductions and kernels that both rely on. Add a version only after
# tests/unit/test_lean.py passes against it.
VERIFIED = {"scikit-learn": ("1.9.1",), "numpy": ("2.4.6",)}

LEAN = "lean"
SCIKIT_LEARN = "scikit-learn"

# Parameters that may differ between the candidates of one stack: they change numbers
# in the updates or when a candidate stops, never the batches or the initial weights.
STACKABLE = frozenset({
    "learning_rate_init", "alpha", "momentum", "beta_1", "beta_2", "epsilon", "power_t",
    "tol", "n_iter_no_change", "max_iter", "learning_rate",
})
_NUMBERS = STACKABLE - {"learning_rate"}
_DEFAULTS = MLPClassifier().get_params()


@functools.cache
def _thread_pools() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """``threadpool_limits(limits=1)`` as a context manager, without scanning the loaded libraries each time.

    Floating-point sums must not depend on how many threads a product uses; scanning
    the libraries costs milliseconds, as much as training a small network.
    """
    return _thread_pools().limit(limits=1)


class NotCovered(Exception):
    """The lean trainer does not reproduce this fit; use scikit-learn's own."""


@dataclass
class Checkpoint:
    """A candidate's model as ``MLPClassifier(**params, max_iter=max_iter).fit(X, y)`` leaves it.

    Parameters
    ----------
    member : int
        Index of the candidate in the stack passed to :func:`train_stack`.
    max_iter : int
        The checkpoint asked for.
    model : MLPClassifier
        Fitted, with every attribute a plain fit sets (weights, curves, optimizer,
        random state).
    converged : bool
        The run stopped on ``tol``/``n_iter_no_change`` by this epoch (a plain fit would
        not have warned that it reached ``max_iter``).
    elapsed : float
        Seconds from the start of training until this checkpoint was reached.
    """

    member: int
    max_iter: int
    model: MLPClassifier
    converged: bool
    elapsed: float


EpochCallback = Callable[[int, int, list[float], "list[float] | None"], None]
WeightsCallback = Callable[[int, int, list[np.ndarray], list[np.ndarray]], "bool | None"]


def _resolved(params: Mapping[str, Any], name: str) -> Any:
    return params.get(name, _DEFAULTS[name])


def uncovered_reason(params: Mapping[str, Any]) -> str | None:
    """Why the lean trainer would not reproduce ``MLPClassifier(**params).fit``, or None if it does."""
    for library, version in (("scikit-learn", sklearn.__version__), ("numpy", np.__version__)):
        if version not in VERIFIED[library]:
            return f"{library} {version} is not a version the lean trainer was verified against"
    if "loss" in params:  # an MLPRegressor's parameters
        return "an MLPRegressor: the lean trainer reproduces MLPClassifier's fit only"
    if "init" in params:  # tuning.engine.networks' InitMLPClassifier
        return (f"init={params['init']!r}: a weight-initialisation scheme is trained by scikit-learn's fit (the "
                "lean trainer reproduces MLPClassifier's own initialisation only)")
    unknown = set(params) - set(_DEFAULTS)
    if unknown:
        return f"unknown MLPClassifier parameters {sorted(unknown)}"
    if _resolved(params, "solver") not in ("sgd", "adam"):
        return f"solver={_resolved(params, 'solver')!r} is not a stochastic solver"
    if _resolved(params, "verbose"):
        return "verbose output"
    random_state = _resolved(params, "random_state")
    if random_state is not None and (not isinstance(random_state, int) or isinstance(random_state, bool)):
        return f"random_state={random_state!r} is neither an int nor None"
    for name in _NUMBERS:
        value = _resolved(params, name)
        if type(value) not in (int, float):  # numpy scalars promote differently
            return f"{name}={value!r} is not a Python number"
    try:  # an invalid candidate fails alone, in scikit-learn's own fit
        MLPClassifier(**params)._validate_params()
        hidden = _resolved(params, "hidden_layer_sizes")
        if np.any(np.array(list(hidden) if hasattr(hidden, "__iter__") else [hidden]) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0")
    except (ValueError, TypeError) as exc:
        return f"invalid parameters ({exc})"
    return None


def estimate_seconds(n_samples: int, layer_units: Sequence[int], epochs: Sequence[int], *, batch_size: Any = "auto",
                     lean: bool = True) -> float:
    """Rough seconds of one core to train a stack whose members run ``epochs``, on ``n_samples`` rows.

    Per epoch: a fixed cost per batch (numpy calls), plus a cost per row and member that
    grows with the network's weights; scikit-learn's own fit (``lean=False``) pays about
    three times the per-batch cost. Calibrated on 2 cores with ``bench/bench_engine.py``;
    only meant to tell a second of work from a minute.
    """
    batch = min(200, n_samples) if batch_size == "auto" else max(1, min(int(batch_size), n_samples))
    weights = sum(a * b for a, b in pairwise(layer_units))
    per_batch = 6e-5 if lean else 1.8e-4
    return (max(epochs, default=0) * -(-n_samples // batch) * per_batch
            + sum(epochs) * n_samples * (1.1e-7 + 1.6e-10 * weights))


def stack_key(params: Mapping[str, Any]) -> str:
    """What candidates of one stack share: every parameter but the :data:`STACKABLE` ones."""
    shared = {k: v for k, v in {**_DEFAULTS, **params}.items() if k not in STACKABLE}
    return json.dumps(shared, sort_keys=True, default=repr)


@dataclass
class _Member:
    """One candidate's parameters and its own state, as its MLPClassifier would hold it."""

    params: dict[str, Any]
    checkpoints: list[int]
    limit: int
    lr: float  # the optimizer's current learning rate (SGD schedules change it)
    n_iter: int = 0
    t: int = 0
    loss: Any = None
    loss_curve: list[Any] = field(default_factory=list)
    validation_scores: list[float] | None = None
    best_loss: Any = None
    best_validation_score: Any = None
    no_improvement_count: int = 0
    best_coefs: list[np.ndarray] = field(default_factory=list)
    best_intercepts: list[np.ndarray] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        self.p = {**_DEFAULTS, **self.params}  # every parameter, as the estimator has it


def _row_max(Z: np.ndarray) -> np.ndarray:
    """``Z.max(axis=-1, keepdims=True)``, reduced over a transposed copy: faster for a few columns.

    Maxima are exact whatever the order; only which NaN a row with several NaNs returns
    could differ, so such stacks are reduced row by row as scikit-learn does.
    """
    result = np.maximum.reduce(Z.transpose(0, 2, 1).copy(), 1)[..., np.newaxis]
    return Z.max(-1, None, True) if np.isnan(result).any() else result


class _ReluDerivative:
    """``inplace_relu_derivative`` (``delta[Z == 0] = 0``) without a branch per element.

    Masked assignment (and ``np.putmask``) branches on every element, and on fresh
    activations half those branches are mispredicted: for a stack's (C, 200, 32) layer
    that is about 240 µs a batch. Here the zeros are written with bits instead: ``delta``'s
    bits AND all-ones where ``Z != 0`` and AND zero where ``Z == 0``, which leaves every
    kept value (NaN, inf and -0.0 included) as it was and writes +0.0 where scikit-learn
    writes 0 — the same array, bit for bit, in about a sixth of the time.
    """

    def __init__(self) -> None:
        self.scratch: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, Z: np.ndarray, delta: np.ndarray) -> None:
        scratch = self.scratch.get(Z.shape)
        if scratch is None:
            scratch = self.scratch[Z.shape] = (np.empty(Z.shape, dtype=bool), np.empty(Z.shape, dtype=np.uint64))
        nonzero, keep = scratch
        np.not_equal(Z, 0, out=nonzero)
        np.subtract(0, nonzero, out=keep, dtype=np.uint64)  # 0 - 1 wraps to all ones
        bits = delta.view(np.uint64)
        np.bitwise_and(bits, keep, out=bits)


_DERIVATIVES = {"relu": _ReluDerivative}  # made once per training run (it keeps its scratch arrays)


def _per_member(values: list[Any], shape: tuple[int, ...] = (-1, 1, 1)) -> Any:
    """A number for every member: the number itself when they all agree (cheaper), else an array."""
    first = values[0]
    if all(v == first and type(v) is type(first) for v in values):
        return first
    return np.array(values, dtype=np.float64).reshape(shape)


def _check_stack(members: Sequence[Mapping[str, Any]]) -> None:
    reasons = {uncovered_reason(p) for p in members} - {None}
    if reasons:
        raise NotCovered("; ".join(sorted(reasons)))
    keys = {stack_key(p) for p in members}
    if len(keys) > 1:
        raise ValueError("a stack's candidates may differ only in " + ", ".join(sorted(STACKABLE)))
    if len(members) > 1 and _resolved(members[0], "random_state") is None:
        raise ValueError("candidates with random_state=None cannot share a stack: each draws its own weights")


def train_stack(
    X: Any,
    y: Any,
    members: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Sequence[int]] | None = None,
    *,
    on_epoch: EpochCallback | None = None,
    on_weights: WeightsCallback | None = None,
) -> Iterator[Checkpoint]:
    """Train a stack of candidates on ``X, y``, yielding each candidate's model at each checkpoint.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
    members : sequence of dict
        ``MLPClassifier`` parameters of every candidate; they may differ only in
        :data:`STACKABLE` parameters (see :func:`stack_key`).
    checkpoints : sequence of sequence of int, optional
        ``checkpoints[i]`` lists the ``max_iter`` values to report for ``members[i]``;
        defaults to each member's own ``max_iter``. A member trains to its largest.
    on_epoch : callable, optional
        ``on_epoch(member, n_iter, loss_curve, validation_scores)`` after every epoch of
        every member still training (the lists are copies).
    on_weights : callable, optional
        ``on_weights(member, n_iter, coefs, intercepts)`` next, with the member's weights as
        they are at the end of that epoch (views into the stack: read them during the call).
        When it returns False the member stops there: its checkpoint is then the model as a
        fit with ``max_iter`` equal to that epoch leaves it (not one of its checkpoints).

    Yields
    ------
    Checkpoint
        In the order they are reached. The model equals what
        ``MLPClassifier(**members[i], max_iter=k).fit(X, y)`` would give.

    Raises
    ------
    NotCovered
        Before any training, when the parameters or the data are outside what the lean
        trainer reproduces: fall back to scikit-learn's own fit.
    Exception
        Whatever scikit-learn's ``fit`` would raise for the same parameters and data
        (invalid parameters, a too small validation split, ...).
    """
    members = [dict(p) for p in members]
    if not members:
        return
    if checkpoints is None:
        checkpoints = [[_resolved(p, "max_iter")] for p in members]
    checkpoints = [sorted(set(c)) for c in checkpoints]
    if len(checkpoints) != len(members) or not all(checkpoints):
        raise ValueError("every member needs at least one checkpoint")
    if not all(type(k) is int and k >= 1 for c in checkpoints for k in c):
        raise NotCovered("checkpoints must be positive ints")
    _check_stack(members)
    yield from _LeanStack(X, y, members, checkpoints, on_epoch, on_weights).train()


class _LeanStack:
    """One stack: the shared data and batches, the members' weights side by side, their bookkeeping.

    Every member's parameters live in one row of ``theta`` (C, P): its coefficients, then
    its intercepts, each block C-ordered exactly like scikit-learn's arrays, so that the
    stacked views ``W[l]`` (C, fan_in, fan_out) and ``B[l]`` (C, 1, fan_out) hand BLAS
    the same matrices, and the optimizers update every parameter with one array
    operation per step instead of one per layer.
    """

    def __init__(self, X: Any, y: Any, members: list[dict[str, Any]], checkpoints: list[list[int]],
                 on_epoch: EpochCallback | None, on_weights: WeightsCallback | None = None) -> None:
        self.started = time.perf_counter()
        self.on_epoch = on_epoch
        self.on_weights = on_weights
        estimators = [MLPClassifier(**{**p, "max_iter": max(c)}) for p, c in zip(members, checkpoints)]
        for estimator in estimators:  # what fit's _fit_context does first
            estimator._validate_params()
        template = self.template = estimators[0]
        # _fit, in its order
        hidden = template.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        with config_context(skip_parameter_validation=True):
            X, Y = template._validate_input(X, y, incremental=False, reset=True)
        if issparse(X) or X.dtype != np.float64:
            raise NotCovered(f"{'sparse' if issparse(X) else X.dtype} input")
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        self.n_outputs = Y.shape[1]
        self.layer_units = [X.shape[1], *hidden, self.n_outputs]
        self.n_layers = len(self.layer_units)
        self.members = [_Member(params=p, checkpoints=c, limit=max(c), lr=float(_resolved(p, "learning_rate_init")))
                        for p, c in zip(members, checkpoints)]
        self.solver = template.solver
        self.early_stopping = template.early_stopping
        self.binarizer = template._label_binarizer
        self.out_activation = "softmax" if self.binarizer.y_type_ == "multiclass" else "logistic"

        # _initialize: the weights from scikit-learn's own _init_coef, on the shared random state
        random_state = self.random_state = check_random_state(template.random_state)
        template._random_state = random_state
        coefs, intercepts = [], []
        for fan_in, fan_out in pairwise(self.layer_units):
            coef, intercept = template._init_coef(fan_in, fan_out, X.dtype)
            coefs.append(coef)
            intercepts.append(intercept)
        self.blocks = [c.shape for c in coefs] + [(1, i.shape[0]) for i in intercepts]
        self.offsets = np.cumsum([0] + [a * b for a, b in self.blocks]).tolist()
        for m in self.members:
            if self.early_stopping:
                m.validation_scores, m.best_validation_score, m.best_loss = [], -np.inf, None
            else:
                m.best_loss = np.inf
            m.best_coefs, m.best_intercepts = [c.copy() for c in coefs], [i.copy() for i in intercepts]

        # _fit_stochastic, up to the epoch loop
        if self.early_stopping:
            stratify = Y if self.n_outputs == 1 else None
            with config_context(skip_parameter_validation=True):
                X_train, X_val, Y_train, Y_val = train_test_split(
                    X, Y, random_state=random_state, test_size=template.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
            self.X_val, self.y_val = X_val, self.binarizer.inverse_transform(Y_val)
        else:
            X_train, Y_train = X, Y
        self.X_train = X_train
        # y as float: the arithmetic casts the booleans to exactly these values
        self.Y_train = Y_train.astype(np.float64)
        self.n_samples = X_train.shape[0]
        if template.batch_size == "auto":
            batch_size = min(200, self.n_samples)
        else:
            if template.batch_size > self.n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch_size = np.clip(template.batch_size, 1, self.n_samples)
        self.batches = list(gen_batches(self.n_samples, batch_size))
        self.batch_sizes = np.array([b.stop - b.start for b in self.batches])
        self.active = list(range(len(self.members)))  # members still in the stack, in stack order
        row = np.concatenate([p.ravel() for p in coefs + intercepts])
        self._set_theta(np.repeat(row[np.newaxis], len(self.members), axis=0))
        if self.solver == "sgd":
            self.velocities = np.zeros_like(self.theta)
        else:  # the first and second moments side by side: one operation updates both
            self.adam_t = 0
            self.moments = np.zeros((2, *self.theta.shape))

    def _set_theta(self, theta: np.ndarray) -> None:
        """Stacked parameters (C, P), their per-layer views, and the arrays and numbers that go with them."""
        self.theta = theta
        C = len(theta)
        # the gradient and its square side by side, for Adam's moments
        self.grad_and_square, self.scratch2 = np.empty((2, *theta.shape)), np.empty((2, *theta.shape))
        self.grad, self.scratch, self.step = self.grad_and_square[0], self.scratch2[0], np.empty_like(theta)
        self.W, self.B = self._views(theta)
        self.grad_W, self.grad_B = self._views(self.grad)
        self.W_T = [w.swapaxes(-1, -2) for w in self.W]
        self.W_flat = [w.reshape(C, -1) for w in self.W]
        self.buffers: dict[int, list[np.ndarray]] = {}
        # each batch's loss terms, summed over its rows, and each layer's squared weights: the losses
        # are added up at the end of the epoch (_epoch_losses)
        self.loss_sums = np.empty((len(self.batches), C, self.n_outputs))
        self.squares = np.empty((len(self.batches), self.n_layers - 1, C))
        members = [self.members[i] for i in self.active]
        self.alpha = _per_member([m.p["alpha"] for m in members], (-1, 1))
        self.half_alpha = _per_member([0.5 * m.p["alpha"] for m in members], (-1,))
        if self.solver == "adam":
            betas = [[m.p["beta_1"] for m in members], [m.p["beta_2"] for m in members]]
            same = all(len(set(b)) == 1 for b in betas)
            self.betas = np.array([b[:1] if same else b for b in betas], dtype=np.float64).reshape(2, -1, 1)
            self.one_minus_betas = 1 - self.betas  # as 1 - beta in Python: one correctly rounded subtraction
            self.epsilon = _per_member([m.p["epsilon"] for m in members], (-1, 1))
            self.rates_init = [m.p["learning_rate_init"] for m in members]
            self.same_betas = (betas[0][0], betas[1][0]) if same else None  # as given (an int stays an int)
        else:
            self.momentum = _per_member([m.p["momentum"] for m in members], (-1, 1))

    def _views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        n_layers = self.n_layers - 1
        views = [flat[:, a:b].reshape(len(flat), *shape)
                 for a, b, shape in zip(self.offsets, self.offsets[1:], self.blocks)]
        return views[:n_layers], views[n_layers:]

    def _layer_buffers(self, n_batch: int) -> list[np.ndarray]:
        """Per-layer (C, n_batch, fan_out) arrays for activations and deltas, reused across batches."""
        buffers = self.buffers.get(n_batch)
        if buffers is None:
            C = len(self.theta)
            buffers = self.buffers[n_batch] = [np.empty((C, n_batch, units)) for units in self.layer_units[1:] * 2]
        return buffers

    def _adam_rates(self, t: int) -> float | np.ndarray:
        """Adam's step size at time step ``t``, negated, per member (computed as AdamOptimizer does)."""
        if self.same_betas:
            beta_1, beta_2 = self.same_betas
            root, denominator = math.sqrt(1 - beta_2**t), 1 - beta_1**t
            self.rates = [rate * root / denominator for rate in self.rates_init]
            if len(self.rates) == 1:
                return -self.rates[0]
        else:
            members = [self.members[i] for i in self.active]
            self.rates = [m.p["learning_rate_init"] * math.sqrt(1 - m.p["beta_2"] ** t) / (1 - m.p["beta_1"] ** t)
                          for m in members]
        return _per_member([-rate for rate in self.rates], (-1, 1))

    # -- the epoch loop ------------------------------------------------------------------

    def train(self) -> Iterator[Checkpoint]:
        """Epochs until every member has left the stack, yielding checkpoints as they are reached."""
        template = self.template
        shuffle = template.shuffle
        sample_idx = np.arange(self.n_samples, dtype=int)
        hidden_activation = ACTIVATIONS[template.activation]
        derivative = _DERIVATIVES[template.activation]() if template.activation in _DERIVATIVES else \
            DERIVATIVES[template.activation]
        binary = self.out_activation == "logistic"
        X_train, Y_train = self.X_train, self.Y_train
        not_Y_train = 1.0 - Y_train if binary else None
        # one-hot rows (softmax with a few classes or more): the loss needs only each row's own class
        one_hot = not binary and self.n_outputs >= 4
        labels = Y_train.argmax(axis=1) if one_hot else None
        n_layers, last = self.n_layers - 1, self.n_layers - 2
        eps = np.finfo(X_train.dtype).eps
        one_minus_eps = 1 - eps
        adam = self.solver == "adam"
        nesterov = template.nesterovs_momentum
        multiply, matmul, reduce, subtract = np.multiply, np.matmul, np.add.reduce, np.subtract
        minimum, maximum, exp, sqrt, vecdot = np.minimum, np.maximum, np.exp, np.sqrt, np.vecdot

        with np.errstate(all="ignore"):  # a diverging run overflows, as in scikit-learn; only the warnings go
            while self.active:
                theta, grad, step, scratch = self.theta, self.grad, self.step, self.scratch
                W, W_T, W_flat, B, grad_W, grad_B = self.W, self.W_T, self.W_flat, self.B, self.grad_W, self.grad_B
                n_coefs = self.offsets[n_layers]
                grad_coefs, theta_coefs, scratch_coefs = grad[:, :n_coefs], theta[:, :n_coefs], scratch[:, :n_coefs]
                alpha = self.alpha
                loss_sums, squares = self.loss_sums, self.squares
                if adam:
                    betas, one_minus_betas, epsilon = self.betas, self.one_minus_betas, self.epsilon
                    moments, grad_and_square, scratch2 = self.moments, self.grad_and_square, self.scratch2
                else:
                    momentum, velocities = self.momentum, self.velocities
                    lr = _per_member([self.members[i].lr for i in self.active], (-1, 1))

                if shuffle:  # sklearn.utils.shuffle(sample_idx, random_state=...)
                    indices = np.arange(self.n_samples)
                    self.random_state.shuffle(indices)
                    sample_idx = sample_idx[indices[: self.n_samples], ...]
                for batch, batch_slice in enumerate(self.batches):
                    if shuffle:
                        batch_idx = sample_idx[batch_slice]
                        X_batch = X_train.take(batch_idx, 0)
                        Y_batch = Y_train.take(batch_idx, 0)
                    else:
                        batch_idx = batch_slice
                        X_batch = X_train[batch_idx]
                        Y_batch = Y_train[batch_idx]
                    n_batch = X_batch.shape[0]
                    buffers = self.buffers.get(n_batch) or self._layer_buffers(n_batch)

                    # forward pass (_forward_pass)
                    activations = [X_batch]
                    for i in range(n_layers):
                        Z = matmul(activations[i], W[i], buffers[i])
                        Z += B[i]
                        if i != last:
                            hidden_activation(Z)
                        activations.append(Z)
                    if binary:
                        expit(Z, Z)
                    else:  # inplace_softmax, row by row
                        Z -= _row_max(Z)
                        exp(Z, Z)
                        Z /= reduce(Z, -1, None, None, True)

                    # loss (log_loss / binary_log_loss, then the L2 term), summed over the batch's rows
                    y_prob = minimum(maximum(Z, eps), one_minus_eps)  # np.clip
                    if binary:
                        terms = xlogy(Y_batch, y_prob)
                        subtract(1, y_prob, y_prob)
                        terms += xlogy(not_Y_train.take(batch_idx, 0) if shuffle else not_Y_train[batch_idx], y_prob)
                        reduce(terms, 1, None, loss_sums[batch])
                    elif not one_hot or not self._one_hot_loss(y_prob, labels.take(batch_idx, 0) if shuffle
                                                               else labels[batch_idx], loss_sums[batch]):
                        reduce(xlogy(Y_batch, y_prob), 1, None, loss_sums[batch])
                    for layer, flat in enumerate(W_flat):
                        vecdot(flat, flat, out=squares[batch, layer])

                    # backward pass (_backprop, _compute_loss_grad): every layer's (A.T @ delta + alpha * W) / n
                    # and sum(delta) / n, the first terms layer by layer, the rest for all layers at once
                    delta = subtract(Z, Y_batch, buffers[n_layers + last])
                    for i in range(last, -1, -1):
                        if i != last:
                            delta = matmul(delta, W_T[i + 1], buffers[n_layers + i])
                            derivative(activations[i + 1], delta)
                        matmul(activations[i].swapaxes(-1, -2), delta, grad_W[i])
                        reduce(delta, -2, None, grad_B[i], True)
                    grad_coefs += multiply(alpha, theta_coefs, scratch_coefs)
                    grad /= n_batch

                    # update (the optimizers' _get_updates, then params += updates)
                    if adam:
                        self.adam_t += 1
                        multiply(grad, grad, grad_and_square[1])  # grad ** 2
                        multiply(betas, moments, moments)
                        moments += multiply(one_minus_betas, grad_and_square, scratch2)
                        multiply(self._adam_rates(self.adam_t), moments[0], step)
                        sqrt(moments[1], scratch)
                        scratch += epsilon
                        step /= scratch
                        theta += step
                    else:
                        multiply(momentum, velocities, velocities)
                        velocities -= multiply(lr, grad, scratch)
                        if nesterov:
                            multiply(momentum, velocities, step)
                            step -= scratch
                            theta += step
                        else:
                            theta += velocities

                yield from self._end_epoch(self._epoch_losses() / self.n_samples)

    def _one_hot_loss(self, y_prob: np.ndarray, labels: np.ndarray, out: np.ndarray) -> bool:
        """``np.add.reduce(xlogy(Y, y_prob), axis=1)`` for one-hot ``Y``, from each row's own class only.

        Every other term is ``xlogy(0, p) = 0.0``, and adding 0.0 changes no sum of these
        (negative) logarithms, so adding the row's own terms one by one in row order
        (``np.add.at``) gives the row-by-row reduction's every bit. Returns False, having
        done nothing, when a probability is NaN (its zero term would be NaN).
        """
        C, n_batch, n_classes = y_prob.shape
        own = xlogy(1.0, y_prob.reshape(C, -1).take(np.arange(0, n_batch * n_classes, n_classes) + labels, 1))
        if np.isnan(own).any():
            return False
        out.fill(0.0)
        np.add.at(out.reshape(-1), np.arange(0, C * n_classes, n_classes)[:, np.newaxis] + labels, own)
        return True

    def _epoch_losses(self) -> np.ndarray:
        """Each member's ``accumulated_loss``: the batch losses of ``_backprop``, weighted by batch size, added up.

        Every batch's loss is ``-sum(np.average(terms, axis=0)) + (0.5 * alpha) * values / n`` with
        ``values`` the sum of the layers' squared weights; here they are computed for all
        batches at once, element by element the same, and added in batch order.
        """
        sizes = self.batch_sizes[:, np.newaxis]
        per_output = self.loss_sums / sizes[..., np.newaxis]  # np.average(..., axis=0)
        losses = -np.add.reduce(per_output, 2)
        values = self.squares[:, 0]
        for layer in range(1, self.n_layers - 1):
            values = values + self.squares[:, layer]
        losses += self.half_alpha * values / sizes
        accumulated = np.add.accumulate(losses * sizes, 0)[-1]
        if np.isnan(accumulated).any():
            for position in np.flatnonzero(np.isnan(accumulated)):
                accumulated[position] = self._diverged_loss(position, per_output)
        return accumulated

    def _diverged_loss(self, position: int, per_output: np.ndarray) -> Any:
        """A NaN ``accumulated_loss`` again, in numpy's scalar arithmetic as ``_fit_stochastic`` adds it up.

        The values are the array computation's, but when both operands of an addition are
        NaN, which NaN's sign survives depends on the operand order of the compiled loop;
        scalar arithmetic keeps scikit-learn's.
        """
        alpha = self.members[self.active[position]].p["alpha"]
        accumulated = 0.0
        for batch, size in enumerate(self.batch_sizes.tolist()):
            batch_loss = -per_output[batch, position].sum()
            values = 0
            for layer in range(self.n_layers - 1):
                values += self.squares[batch, layer, position]
            batch_loss += (0.5 * alpha) * values / size
            accumulated += batch_loss * size
        return accumulated

    def _validation_scores(self) -> list[float]:
        """Each member's accuracy on the validation split, as ``MLPClassifier._score`` computes it."""
        Z = self.X_val
        for i in range(self.n_layers - 1):
            Z = Z @ self.W[i]
            Z += self.B[i]
            if i != self.n_layers - 2:
                ACTIVATIONS[self.template.activation](Z)
        binarizer = self.binarizer
        y_val = self.y_val
        n_val = y_val.shape[0]
        if self.out_activation == "softmax":
            Z -= Z.max(axis=-1)[..., np.newaxis]
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=-1)[..., np.newaxis]
            predicted = binarizer.classes_.take(Z.argmax(axis=-1), mode="clip")
            correct = (predicted == y_val).sum(axis=-1)
        else:
            expit(Z, out=Z)
            above = (binarizer.pos_label + binarizer.neg_label) / 2.0 < Z
            if binarizer.y_type_ == "multilabel-indicator":
                correct = (above.astype(int) == y_val).all(axis=-1).sum(axis=-1)
            else:
                classes = np.asarray(binarizer.classes_)
                if len(classes) == 1:
                    correct = np.full(len(Z), np.count_nonzero(y_val == classes[0]))
                else:
                    correct = (classes[above[..., 0].astype(int)] == y_val).sum(axis=-1)
        return [int(c) / n_val for c in correct]

    def _end_epoch(self, losses: np.ndarray) -> Iterator[Checkpoint]:
        """Each member's end-of-epoch bookkeeping, its checkpoints, and who leaves the stack."""
        members = [self.members[i] for i in self.active]
        scores = self._validation_scores() if self.early_stopping else None
        sgd = self.solver == "sgd"
        leaving = []
        for position, m in enumerate(members):
            m.n_iter += 1
            m.loss = losses[position]
            m.t += self.n_samples
            m.loss_curve.append(m.loss)
            # _update_no_improvement_count
            if self.early_stopping:
                score = scores[position]
                m.validation_scores.append(score)
                if score < m.best_validation_score + m.p["tol"]:
                    m.no_improvement_count += 1
                else:
                    m.no_improvement_count = 0
                if score > m.best_validation_score:
                    m.best_validation_score = score
                    m.best_coefs = [w[position].copy() for w in self.W]
                    m.best_intercepts = [b[position, 0].copy() for b in self.B]
            else:
                if m.loss_curve[-1] > m.best_loss - m.p["tol"]:
                    m.no_improvement_count += 1
                else:
                    m.no_improvement_count = 0
                if m.loss_curve[-1] < m.best_loss:
                    m.best_loss = m.loss_curve[-1]
            # the optimizer's iteration_ends and trigger_stopping
            if sgd and m.p["learning_rate"] == "invscaling":
                m.lr = float(m.p["learning_rate_init"]) / (m.t + 1) ** m.p["power_t"]
            if m.no_improvement_count > m.p["n_iter_no_change"]:
                if sgd and m.p["learning_rate"] == "adaptive" and m.lr > 1e-6:
                    m.lr /= 5.0
                    m.no_improvement_count = 0
                else:
                    m.stopped = True
            if self.on_epoch is not None:
                self.on_epoch(self.active[position], m.n_iter, list(m.loss_curve),
                              None if m.validation_scores is None else list(m.validation_scores))
            halted = self.on_weights is not None and self._asked_to_stop(position, m)
            reached = [k for k in m.checkpoints if k == m.n_iter or (m.stopped and k > m.n_iter)]
            for k in reached or ([m.n_iter] if halted else []):
                yield Checkpoint(member=self.active[position], max_iter=k, model=self._model(m, position, k),
                                 converged=m.stopped, elapsed=time.perf_counter() - self.started)
            if m.stopped or halted or m.n_iter == m.limit:
                leaving.append(position)
        if leaving:
            self._leave(leaving)

    def _asked_to_stop(self, position: int, m: _Member) -> bool:
        """Show ``on_weights`` the member's weights now; True when it returns False."""
        coefs, intercepts = [w[position] for w in self.W], [b[position, 0] for b in self.B]
        return self.on_weights(self.active[position], m.n_iter, coefs, intercepts) is False

    def _leave(self, positions: list[int]) -> None:
        """Take members out of the stack (their rows of every stacked array)."""
        keep = [p for p in range(len(self.active)) if p not in positions]
        self.active = [self.active[p] for p in keep]
        if not keep:
            return
        self._set_theta(self.theta[keep])
        if self.solver == "sgd":
            self.velocities = self.velocities[keep]
        else:
            self.moments = self.moments[:, keep]

    def _unflatten(self, flat: np.ndarray) -> list[np.ndarray]:
        """One member's row of a stacked array as scikit-learn's list: coefficients, then intercepts."""
        n_layers = self.n_layers - 1
        parts = [flat[a:b].reshape(shape).copy() for a, b, shape in zip(self.offsets, self.offsets[1:], self.blocks)]
        return parts[:n_layers] + [p[0] for p in parts[n_layers:]]

    def _model(self, m: _Member, position: int, max_iter: int) -> MLPClassifier:
        """A fitted ``MLPClassifier`` holding member ``m``'s state now, as a fit with ``max_iter`` ends."""
        params = self._unflatten(self.theta[position])
        n_layers = self.n_layers - 1
        coefs, intercepts = params[:n_layers], params[n_layers:]
        if self.solver == "sgd":
            optimizer = SGDOptimizer(params, m.p["learning_rate_init"], m.p["learning_rate"], m.p["momentum"],
                                     m.p["nesterovs_momentum"], m.p["power_t"])
            optimizer.learning_rate = m.lr
            optimizer.velocities = self._unflatten(self.velocities[position])
        else:
            optimizer = AdamOptimizer(params, m.p["learning_rate_init"], m.p["beta_1"], m.p["beta_2"],
                                      m.p["epsilon"])
            optimizer.t = self.adam_t
            optimizer.learning_rate = np.float64(self.rates[position])
            optimizer.ms = self._unflatten(self.moments[0, position])
            optimizer.vs = self._unflatten(self.moments[1, position])
        best_coefs = [c.copy() for c in m.best_coefs]
        best_intercepts = [i.copy() for i in m.best_intercepts]
        if self.early_stopping:  # scikit-learn restores the best weights: the very same lists
            coefs, intercepts = best_coefs, best_intercepts
        random_state = np.random.RandomState(0)
        random_state.set_state(self.random_state.get_state())
        binarizer = copy.copy(self.binarizer)  # its own, as every fit has (classes_ is its one array)
        binarizer.classes_ = binarizer.classes_.copy()
        model = MLPClassifier(**{**m.params, "max_iter": max_iter})
        fitted = {
            "n_features_in_": self.template.n_features_in_,
            "_label_binarizer": binarizer,
            "classes_": binarizer.classes_,
            "n_outputs_": self.n_outputs,
            "_random_state": random_state,
            "n_iter_": m.n_iter,
            "t_": m.t,
            "n_layers_": self.n_layers,
            "out_activation_": self.out_activation,
            "coefs_": coefs,
            "intercepts_": intercepts,
            "_best_coefs": best_coefs,
            "_best_intercepts": best_intercepts,
            "loss_curve_": list(m.loss_curve),
            "_no_improvement_count": m.no_improvement_count,
            "best_loss_": m.best_loss,
            "validation_scores_": None if m.validation_scores is None else list(m.validation_scores),
            "best_validation_score_": m.best_validation_score,
            "_optimizer": optimizer,
            "loss_": m.loss,
        }
        if hasattr(self.template, "feature_names_in_"):
            fitted["feature_names_in_"] = self.template.feature_names_in_
        model.__dict__.update(fitted)
        return model

