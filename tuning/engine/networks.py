"""The networks a spec can tune: scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

A spec's ``task`` picks the class: ``"classification"`` (log-loss, class labels) or
``"regression"`` (squared error, numbers). Both train the same way, so everything the
engine does for one (shared training across ``max_iter``, loss curves, parity with
``GridSearchCV``) it does for the other.

>>> network_class("regression").__name__
'MLPRegressor'
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import StrOptions

TASKS = ("classification", "regression")
_PLAIN = {"classification": MLPClassifier, "regression": MLPRegressor}

# Weight-initialisation schemes: ``init`` beside scikit-learn's parameters.
INIT_SCHEMES = {
    "glorot_uniform": "scikit-learn's own: uniform in ±√(6 / (fan_in + fan_out)) (±√(2 / …) for logistic)",
    "he_normal": "normal with standard deviation √(2 / fan_in), biases 0: made for ReLU",
    "lecun_normal": "normal with standard deviation √(1 / fan_in), biases 0: made for tanh",
    "small_constant": "normal with standard deviation 0.01 whatever the layer's width, biases 0: badly scaled",
    "zeros": "every weight and bias 0: every hidden unit starts, and stays, identical",
}
DEFAULT_INIT = "glorot_uniform"


class InitScheme:
    """Mixed into ``MLPClassifier``/``MLPRegressor``: ``init`` chooses how the initial weights are drawn.

    ``"glorot_uniform"`` is scikit-learn's own ``_init_coef``, so a fit is bit-identical
    to the plain class's. The others draw from the same random generator, one layer at a
    time, and start the biases at 0.
    """

    def _init_coef(self, fan_in, fan_out, dtype):
        if self.init == "glorot_uniform":
            return super()._init_coef(fan_in, fan_out, dtype)
        if self.init == "zeros":
            coef = np.zeros((fan_in, fan_out))
        else:
            std = {"he_normal": math.sqrt(2.0 / fan_in), "lecun_normal": math.sqrt(1.0 / fan_in),
                   "small_constant": 0.01}[self.init]
            coef = self._random_state.normal(0.0, std, (fan_in, fan_out))
        return coef.astype(dtype, copy=False), np.zeros(fan_out, dtype=dtype)


class InitMLPClassifier(InitScheme, MLPClassifier):
    """``MLPClassifier`` with an ``init`` parameter (see :data:`INIT_SCHEMES`)."""

    _parameter_constraints: ClassVar[dict] = {**MLPClassifier._parameter_constraints,
                                              "init": [StrOptions({"glorot_uniform", "he_normal",
                                                                   "lecun_normal", "small_constant", "zeros"})]}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, init="glorot_uniform"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)
        self.init = init


class InitMLPRegressor(InitScheme, MLPRegressor):
    """``MLPRegressor`` with an ``init`` parameter (see :data:`INIT_SCHEMES`)."""

    _parameter_constraints: ClassVar[dict] = {**MLPRegressor._parameter_constraints,
                                              "init": [StrOptions({"glorot_uniform", "he_normal",
                                                                   "lecun_normal", "small_constant", "zeros"})]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, init="glorot_uniform"):
        super().__init__(
            loss=loss, hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)
        self.init = init


_WITH_INIT = {"classification": InitMLPClassifier, "regression": InitMLPRegressor}

# The scorers that make sense for a regressor (scikit-learn's names); a classifier takes any scorer.
REGRESSION_SCORERS = (
    "r2", "neg_root_mean_squared_error", "neg_mean_absolute_error", "neg_mean_squared_error",
    "neg_median_absolute_error", "explained_variance", "max_error", "neg_mean_absolute_percentage_error",
    "neg_root_mean_squared_log_error", "neg_mean_squared_log_error", "neg_mean_poisson_deviance",
    "neg_mean_gamma_deviance", "d2_absolute_error_score",
)
DEFAULT_SCORING = {"classification": "accuracy", "regression": "r2"}
# How each regression scorer reads as an error in the target's units (figures, lessons).
SCORER_LABELS = {
    "accuracy": "accuracy", "r2": "R²", "neg_root_mean_squared_error": "RMSE",
    "neg_mean_absolute_error": "MAE", "neg_mean_squared_error": "MSE", "neg_median_absolute_error": "median AE",
}


def network_class(task: str, *, init: bool = False) -> type:
    """``MLPClassifier`` or ``MLPRegressor``; with ``init``, the subclass that takes the ``init`` parameter."""
    return (_WITH_INIT if init else _PLAIN)[task]


def network_params(task: str) -> tuple[str, ...]:
    """The parameter names a network of this task takes (``init`` included), sorted."""
    return tuple(sorted(network_class(task, init=True)().get_params()))


def make_network(task: str, params: dict[str, Any], *, init: bool | None = None) -> Any:
    """An unfitted network of the task's class with these parameters: the ``init`` subclass when
    ``init`` is True (by default, when ``params`` sets it), else scikit-learn's own class."""
    return network_class(task, init="init" in params if init is None else init)(**params)


def task_of(estimator: Any) -> str:
    """``"regression"`` for an ``MLPRegressor`` (or a subclass), else ``"classification"``."""
    return "regression" if isinstance(estimator, MLPRegressor) else "classification"


def is_network(estimator: Any) -> bool:
    """Whether the engine knows exactly what a fit of ``estimator`` does (no unknown subclass)."""
    return type(estimator) in NETWORK_CLASSES


NETWORK_CLASSES: tuple[type, ...] = (MLPClassifier, MLPRegressor, InitMLPClassifier, InitMLPRegressor)
