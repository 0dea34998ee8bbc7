"""One network at a time: train on a hold-out split and report every epoch as it happens.

:func:`train_network` trains one network and measures its validation loss on the
held-out split after every epoch; :class:`LiveTraining` runs it in a background thread
that a page polls and can stop. The Playground's settings travel in a page address
(:func:`read_settings`, :func:`settings_query`).
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network._base import ACTIVATIONS
from sklearn.pipeline import Pipeline

from tuning.data.dataset import Dataset
from tuning.data.datasets import BUILTIN_DATASETS
from tuning.data.pipeline import make_pipeline, make_preprocessor, scale_target
from tuning.engine import lean
from tuning.engine.networks import DEFAULT_INIT, INIT_SCHEMES, network_class
from tuning.engine.spec import check_mlp_value
from tuning.engine.training import EpochHook, fit_lean
from tuning.errors import DataError, SpecError, TuningError
from tuning.services.share import DATASET_FORM_RANGES, FORM_OPTIONS


@dataclass(frozen=True)
class EpochProgress:
    """A network after one more epoch: both loss curves so far and the training time so far."""

    epoch: int
    loss_curve: list[float]
    validation_loss: list[float]
    seconds: float


EpochCallback = Callable[[EpochProgress], None]
# after an epoch: its number, the loss curve so far and the weights now; False stops the training there
EpochWeights = Callable[[int, list[float], list[np.ndarray], list[np.ndarray]], bool]


@dataclass
class NetworkRun:
    """One trained network: its loss curves and how well it does on seen and unseen data.

    ``loss_curve`` is scikit-learn's ``loss_curve_`` (the mean loss over an epoch's
    mini-batches, plus the L2 penalty: log-loss for classes, half the squared error for
    numbers, on the standardised target when it is scaled); ``validation_loss`` is the same
    loss, without the penalty, on the held-out split after each epoch. ``seconds`` is the
    training time alone.
    """

    params: dict[str, Any]
    loss_curve: list[float]
    train_score: float
    test_score: float
    n_iter: int
    converged: bool
    seconds: float
    model: Any | None
    diverged: bool = False
    validation_loss: list[float] = field(default_factory=list)
    stopped: bool = False
    task: str = "classification"
    trainer: str = lean.SCIKIT_LEARN


class _Stopped(Exception):
    """Raised at the end of an epoch to stop a training run that was asked to stop."""


class _EpochReporting(EpochHook):
    """Calls ``_on_epoch(network)`` after every epoch and stops the fit when it returns False;
    :func:`make_model` sets it on a subclass made for one model, where it survives the clone a
    ``TransformedTargetRegressor`` makes."""

    _on_epoch: Callable[[Any], bool] | None = None

    def _end_of_epoch(self, early_stopping: bool) -> None:
        if self._on_epoch is not None and self._on_epoch(self) is False:
            raise _Stopped


def check_network_params(params: dict[str, Any], task: str = "classification") -> dict[str, Any]:
    """Validate the network's parameters with the spec's messages (field ``network.NAME``)."""
    return {name: check_mlp_value(f"network.{name}", name, value, task) for name, value in params.items()}


def make_model(data: Dataset, params: dict[str, Any], *, preprocess: str = "standard",
               on_epoch: Callable[[Any], bool] | None = None) -> Any:
    """The model a search would build for these parameters: preprocessing, then ``MLPClassifier`` or
    ``MLPRegressor`` (the data's task), inside a ``TransformedTargetRegressor`` for a regression with
    ``preprocess="standard"``; with ``on_epoch``, its network calls it with itself after every epoch of
    its fit, and stops when it returns False."""
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


def _mean_log_loss(proba: np.ndarray, rows: np.ndarray) -> float:
    """The mean log-loss of the probabilities given to the true classes (``rows``), clipped as scikit-learn
    clips them; NaN when the weights have overflowed."""
    if not np.all(np.isfinite(proba)):
        return float("nan")
    return _mean_true_log_loss(proba[np.arange(len(rows)), rows])


def _mean_true_log_loss(true: np.ndarray) -> float:
    """The mean of ``-log(p)`` over the probabilities given to the true classes, clipped as scikit-learn
    clips them (``np.mean``'s sum and division, without its Python wrapper: this runs every epoch)."""
    eps = _EPS
    return float(-(np.add.reduce(np.log(np.minimum(np.maximum(true, eps), 1 - eps))) / len(true)))


_EPS = np.finfo(np.float64).eps


def log_loss_of(mlp: Any, X: Any, y: np.ndarray) -> float:
    """The mean log-loss of a fitted classifier on ``X``, clipped as scikit-learn clips it.

    NaN when the weights have overflowed.
    """
    with np.errstate(all="ignore"):
        proba = mlp.predict_proba(X)
    return _mean_log_loss(proba, np.searchsorted(mlp.classes_, y))


class _HeldOut:
    """The held-out rows as the network sees them, and its loss on them under its weights now.

    The forward pass is the network's own prediction, operation for operation, done on the
    weights themselves so that a training run can be measured after every epoch without
    building a model each time. The loss is the one the network trains on, without the L2
    penalty: log-loss for classes (``rows`` index the true class of each row), half the mean
    squared error for numbers (``target``, standardised as the network learns it).
    """

    def __init__(self, X: Any, activation: str, *, rows: np.ndarray | None = None,
                 target: np.ndarray | None = None) -> None:
        self.X = np.asarray(X, dtype=np.float64)
        self.hidden = ACTIVATIONS[activation]
        self.rows, self.target = rows, target
        self.positive = None if rows is None else rows == 1  # one output: the rows whose class is the second
        self.layers: list[np.ndarray] = []  # each layer's output, reused epoch after epoch

    def _forward(self, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> np.ndarray:
        if [a.shape[1] for a in self.layers] != [w.shape[1] for w in coefs]:
            self.layers = [np.empty((len(self.X), w.shape[1])) for w in coefs]
        out = self.X
        for i, (weights, bias, layer) in enumerate(zip(coefs, intercepts, self.layers, strict=True)):
            out = np.matmul(out, weights, out=layer)
            out += bias
            if i < len(coefs) - 1:
                self.hidden(out)
        return out

    def loss(self, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            out = self._forward(coefs, intercepts)
            if self.target is not None:  # a regressor's output is the prediction itself
                predicted = out.ravel() if self.target.ndim == 1 else out
                error = float(((self.target - predicted) ** 2).mean() / 2)
                return error if math.isfinite(error) else float("nan")
            if out.shape[1] == 1:  # one output: two classes, as predict_proba gives them (p and 1 - p)
                ACTIVATIONS["logistic"](out)
                p = out.ravel()
                # p is in [0, 1] or NaN (overflowed weights): clipped, only a NaN makes the mean NaN
                value = _mean_true_log_loss(np.where(self.positive, p, 1 - p))
                return value if math.isfinite(value) else float("nan")
            ACTIVATIONS["softmax"](out)
        return _mean_log_loss(out, self.rows)


def _held_out(model: Any, network: Any, X: Any, y: Any, classes: np.ndarray | None) -> _HeldOut:
    """The held-out rows as ``network``, training inside ``model``, sees them."""
    pipeline = model.__dict__.get("regressor_", model)  # a TransformedTargetRegressor trains a clone
    X = pipeline[:-1].transform(X) if len(pipeline) > 1 else X
    if classes is not None:
        return _HeldOut(X, network.activation, rows=np.searchsorted(classes, y))
    target = np.asarray(y, dtype=np.float64)
    scaler = model.__dict__.get("transformer_")
    if scaler is not None:  # the target as the network learns it
        target = scaler.transform(target.reshape(len(target), -1)).reshape(target.shape)
    return _HeldOut(X, network.activation, target=target)


def train_network(
    data: Dataset,
    params: dict[str, Any],
    *,
    preprocess: str = "standard",
    test_size: float = 0.25,
    split_seed: int = 0,
    on_epoch: EpochCallback | None = None,
    stop: threading.Event | None = None,
) -> NetworkRun:
    """Train one network (``MLPClassifier``, or ``MLPRegressor`` on regression data) on a hold-out split,
    stratified for classes. Its scores are the model's ``score``: accuracy, or R² for regression.

    Parameters
    ----------
    data : Dataset
    params : dict
        The network's parameters (``max_iter`` is the number of epochs).
    on_epoch : callable, optional
        Called after every epoch with an :class:`EpochProgress` (stochastic solvers
        only), so that a chart can follow the training.
    stop : threading.Event, optional
        Set it (from any thread) to stop at the end of the epoch in progress; the run is
        returned with ``stopped=True``, scored as the network stood then.

    Raises
    ------
    SpecError
        A parameter value is invalid.
    DataError
        The data is too small for a hold-out split.

    After every epoch the network's loss on the held-out split is measured (it does not
    change the training: the same weights and loss curve as without it). ``seconds`` is
    the CPU time of the training alone (BLAS runs on one thread): neither that
    measurement nor ``on_epoch`` counts, nor time spent waiting for a busy CPU or for
    Python's lock while other threads (a web server's) run.

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
    classes = None if data.is_regression else np.unique(y_train)
    validation_loss: list[float] = []
    held_out: list[_HeldOut] = []  # made once the network's preprocessing is fitted
    not_training = [0.0]  # seconds spent measuring and reporting, not training
    stopped = [False]

    def end_of_epoch(model: Any, network: Any, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> bool:
        """Measure and report the network after an epoch; False when it should stop here."""
        started = time.thread_time()
        if not held_out:
            held_out.append(_held_out(model, network, X_test, y_test, classes))
        validation_loss.append(held_out[0].loss(coefs, intercepts))
        if on_epoch is not None:
            on_epoch(EpochProgress(len(validation_loss), [float(v) for v in network.loss_curve_],
                                   list(validation_loss), time.thread_time() - fit_started - not_training[0]))
        not_training[0] += time.thread_time() - started
        stopped[0] = stop is not None and stop.is_set()
        return not stopped[0]

    fit_started = time.thread_time()
    with lean.one_blas_thread(), warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to diverging
        try:
            model, mlp, converged, diverged, trainer = _fit(data, params, preprocess, X_train, y_train, end_of_epoch)
        except ValueError as exc:
            raise SpecError("network", str(exc), "Change the settings") from None
    seconds = time.thread_time() - fit_started - not_training[0]
    n_iter = int(getattr(mlp, "n_iter_", 0))
    return NetworkRun(
        params=params,
        loss_curve=[float(v) for v in getattr(mlp, "loss_curve_", [])],
        train_score=float("nan") if diverged else float(model.score(X_train, y_train)),
        test_score=float("nan") if diverged else float(model.score(X_test, y_test)),
        n_iter=n_iter,
        converged=converged and not stopped[0],
        seconds=seconds,
        model=None if diverged else model,
        diverged=diverged,
        validation_loss=validation_loss[:n_iter],
        stopped=stopped[0],
        task=data.task,
        trainer=trainer,
    )


EpochMeasure = Callable[[Any, Any, list[np.ndarray], list[np.ndarray]], bool]


def _fit(data: Dataset, params: dict[str, Any], preprocess: str, X: Any, y: Any,
         end_of_epoch: EpochMeasure) -> tuple[Any, Any, bool, bool, str]:
    """Fit :func:`make_model`'s model, calling ``end_of_epoch(model, network, coefs, intercepts)`` after
    every epoch (stochastic solvers) until it returns False; return the model, its network, whether it
    converged, whether it diverged, and the trainer.

    The lean trainer (the same fit, faster) when it covers the settings (an ``MLPClassifier``
    with scikit-learn's own initialisation), else scikit-learn's own. Diverged means the
    weights overflowed (scikit-learn's fit raises then). A network stopped after an epoch
    is the one a fit with that many epochs returns.
    """
    model = make_model(data, params, preprocess=preprocess)
    if isinstance(model, Pipeline):
        template = model[-1]

        def measure(member: int, n_iter: int, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> bool:
            return end_of_epoch(model, network, coefs, intercepts)

        network = _CurveSoFar(template)
        trained = fit_lean(model, X, y, on_epoch=network.follow, on_weights=measure)
        if trained is not None:
            finite = all(np.isfinite(w).all() for w in [*trained.model.coefs_, *trained.model.intercepts_])
            return model, trained.model, trained.converged and finite, not finite, lean.LEAN
    model = make_model(data, params, preprocess=preprocess,
                       on_epoch=lambda net: end_of_epoch(model, net, net.coefs_, net.intercepts_))
    network = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(X, y)
        except _Stopped:  # as a fit with that many epochs leaves it (with early stopping: its best weights)
            network = network_in(model)
            if network.early_stopping:
                network.coefs_, network.intercepts_ = network._best_coefs, network._best_intercepts
            return model, network, False, False, lean.SCIKIT_LEARN
        except ValueError as exc:
            if "non-finite" not in str(exc):
                raise
            return model, network_in(model), False, True, lean.SCIKIT_LEARN
        finally:
            type(network_in(model))._on_epoch = None  # the model outlives the page that followed its training
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, network_in(model), converged, False, lean.SCIKIT_LEARN


class _CurveSoFar:
    """What the lean trainer says of its network after each epoch, read like a network's attributes."""

    def __init__(self, template: Any) -> None:
        self.activation = template.activation
        self.loss_curve_: list[float] = []

    def follow(self, member: int, n_iter: int, loss_curve: list[float], validation_scores: Any) -> None:
        self.loss_curve_ = loss_curve


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


# --- A run in the background, which a page polls and can stop ----------------------------

@dataclass(frozen=True)
class LiveState:
    """What a :class:`LiveTraining` has done so far, safe to read from any thread."""

    status: str  # "training", "finished", "stopped" or "failed"
    epoch: int
    epochs: int
    loss_curve: list[float]
    validation_loss: list[float]
    seconds: float
    run: NetworkRun | None
    error: str | None


class LiveTraining:
    """:func:`train_network` in a daemon thread: its curves as they grow, and a Stop.

    >>> live = LiveTraining(data, params, key="...")  # starts at once
    >>> live.state().loss_curve                        # poll from the UI
    >>> live.stop()                                    # ends after the epoch in progress

    ``key`` names the settings it trains, so that a page can tell when its result no
    longer matches the controls.
    """

    def __init__(self, data: Dataset, params: dict[str, Any], *, key: str = "", preprocess: str = "standard") -> None:
        self.key = key
        self.params = params
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress = EpochProgress(0, [], [], 0.0)
        self._run: NetworkRun | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._train, args=(data, preprocess), daemon=True,
                                        name="tuning-playground")
        self._thread.start()

    def _on_epoch(self, progress: EpochProgress) -> None:
        with self._lock:
            self._progress = progress

    def _train(self, data: Dataset, preprocess: str) -> None:
        try:
            run = train_network(data, self.params, preprocess=preprocess, on_epoch=self._on_epoch, stop=self._stop)
        except TuningError as exc:
            error, run = str(exc), None
        except Exception as exc:  # the one boundary of this thread: tell the UI in one line
            error, run = f"training stopped on an unexpected error ({type(exc).__name__}: {exc})", None
        else:
            error = None
        with self._lock:
            self._run, self._error = run, error

    def stop(self) -> None:
        """Stop at the end of the epoch in progress; the run is kept, scored as it stood."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> LiveState:
        self._thread.join(timeout)
        return self.state()

    def state(self) -> LiveState:
        with self._lock:
            run, error, progress = self._run, self._error, self._progress
        if error is not None:
            status = "failed"
        elif run is None:
            status = "training"
        else:
            status = "stopped" if run.stopped else "finished"
        if run is not None:
            return LiveState(status, run.n_iter, int(self.params["max_iter"]), run.loss_curve, run.validation_loss,
                             run.seconds, run, None)
        return LiveState(status, progress.epoch, int(self.params["max_iter"]), progress.loss_curve,
                         progress.validation_loss, progress.seconds, None, error)


def estimate_training_seconds(data: Dataset, params: Mapping[str, Any], *, test_size: float = 0.25) -> float:
    """A rough training time for one network, from epochs, mini-batches and weights.

    Calibrated on a 2-core machine (both terms within about 2x for the built-in
    datasets): each epoch costs a fixed 2 ms, 0.25 ms per mini-batch, and time in
    proportion to rows × weights.
    """
    rows = math.ceil(data.n_samples * (1 - test_size))
    batch = params.get("batch_size", "auto")
    batch = min(200, rows) if batch == "auto" else min(int(batch), rows)
    layers = [data.n_features, *params["hidden_layer_sizes"], data.n_outputs]
    weights = sum(a * b for a, b in pairwise(layers))
    per_epoch = 0.002 + 0.00025 * math.ceil(rows / batch) + 2.5e-9 * rows * weights
    return int(params["max_iter"]) * per_epoch


# --- The Playground's settings, and their page address ------------------------------------

PLAYGROUND_CHOICES: dict[str, list[Any]] = {
    "lr": FORM_OPTIONS["rates"],
    "layers": [1, 2, 3],
    "units": [1, 2, 4, 8, 16, 32, 64, 128],
    "solver": ["adam", "sgd"],
    "activation": ["relu", "tanh", "logistic", "identity"],
    "batch": ["auto", 8, 16, 32, 64, 128, 256],
    "alpha": FORM_OPTIONS["alphas"],
    "init": list(INIT_SCHEMES),
}
PLAYGROUND_DEFAULTS: dict[str, Any] = {"lr": 0.01, "epochs": 100, "layers": 1, "units": 16, "solver": "adam",
                                       "activation": "relu", "batch": "auto", "alpha": 1e-4, "seed": 0,
                                       "init": DEFAULT_INIT}
EPOCH_STEP = 5
MAX_SEED = 10_000
PLAYGROUND_DATASET = "moons"  # the dataset a Playground link without one shows
_DATASET_QUERY = {"n_samples": "n_samples", "noise": "noise", "centers": "centers", "random_state": "data_seed"}


def network_params(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The network's parameters for the Playground's settings (every epoch runs: no early stop; ``init``
    only when it is not scikit-learn's own, so that the default is the plain class)."""
    init = settings.get("init", DEFAULT_INIT)
    return {**({"init": init} if init != DEFAULT_INIT else {}),
            "hidden_layer_sizes": [settings["units"]] * settings["layers"], "learning_rate_init": settings["lr"],
            "max_iter": settings["epochs"], "solver": settings["solver"], "activation": settings["activation"],
            "batch_size": settings["batch"], "alpha": settings["alpha"], "random_state": settings["seed"],
            "tol": 1e-6, "n_iter_no_change": 10_000}


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_query(settings: Mapping[str, Any], dataset: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The page-address parameters for these settings (and a built-in dataset with its options)."""
    query = {name: _format(settings[name]) for name in PLAYGROUND_DEFAULTS}
    if dataset is not None and dataset.get("name") in BUILTIN_DATASETS:
        query["data"] = dataset["name"]
        query |= {_DATASET_QUERY[k]: _format(v) for k, v in dataset.items() if k in _DATASET_QUERY}
    return query


def _expected(name: str, max_epochs: int) -> str:
    if name == "epochs":
        return f"a multiple of {EPOCH_STEP} from {EPOCH_STEP} to {max_epochs}"
    if name == "seed":
        return f"a whole number from 0 to {MAX_SEED:,}"
    return "one of " + ", ".join(_format(c) for c in PLAYGROUND_CHOICES[name])


def _parse_setting(name: str, text: str, max_epochs: int) -> Any:
    """One setting from its text in an address, or None if it is not a value the controls offer."""
    if name in ("epochs", "seed"):
        if not text.isdigit():
            return None
        value = int(text)
        ok = (EPOCH_STEP <= value <= max_epochs and value % EPOCH_STEP == 0) if name == "epochs" else value <= MAX_SEED
        return value if ok else None
    number = float(text) if _is_number(text) else None
    for choice in PLAYGROUND_CHOICES[name]:
        if text == _format(choice) or (number is not None and not isinstance(choice, str) and number == choice):
            return choice
    return None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _parse_dataset(query: Mapping[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    name = query.get("data")
    if name is None:
        return None, []
    if name not in BUILTIN_DATASETS:
        return None, [f"data={name[:40]!r} should be one of {', '.join(BUILTIN_DATASETS)}"]
    builtin = BUILTIN_DATASETS[name]
    dataset: dict[str, Any] = {"name": name}
    problems = []
    for option, key in _DATASET_QUERY.items():
        if option not in builtin.options or key not in query:
            continue
        low, high, step = DATASET_FORM_RANGES[option]
        text = str(query[key])
        value = float(text) if _is_number(text) else math.nan
        try:
            if not (low <= value <= high and abs((value - low) / step - round((value - low) / step)) < 1e-9):
                raise ValueError
            dataset[option] = builtin.options[option].check(name, option, value)
        except (ValueError, SpecError):
            problems.append(f"{key}={text[:40]!r} should be a number from {low:g} to {high:g} in steps of {step:g}")
    return dataset, problems


def read_settings(query: Mapping[str, str], *, max_epochs: int = 500) -> tuple[dict[str, Any], dict[str, Any] | None,
                                                                              list[str]]:
    """The settings and built-in dataset a page address carries, each bad or missing value at its default.

    Returns ``(settings, dataset, problems)``: ``dataset`` is None when the address names
    none, and ``problems`` says, for each value left out, what it should have been.
    """
    settings = dict(PLAYGROUND_DEFAULTS)
    settings["epochs"] = min(settings["epochs"], max_epochs)
    problems = []
    for name in PLAYGROUND_DEFAULTS:
        if name not in query:
            continue
        value = _parse_setting(name, str(query[name]), max_epochs)
        if value is None:
            problems.append(f"{name}={str(query[name])[:40]!r} should be {_expected(name, max_epochs)}")
        else:
            settings[name] = value
    dataset, dataset_problems = _parse_dataset(query)
    return settings, dataset, problems + dataset_problems
