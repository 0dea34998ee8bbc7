"""The networks a spec can tune: scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

A spec's ``task`` picks the class: ``"classification"`` (log-loss, class labels) or
``"regression"`` (squared error, numbers). Both train the same way, so everything the
engine does for one (shared training across ``max_iter``, loss curves, parity with
``GridSearchCV``) it does for the other.

>>> network_class("regression").__name__
'MLPRegressor'
"""

from __future__ import annotations

from typing import Any

from sklearn.neural_network import MLPClassifier, MLPRegressor

TASKS = ("classification", "regression")
_PLAIN = {"classification": MLPClassifier, "regression": MLPRegressor}

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


def network_class(task: str) -> type:
    """``MLPClassifier`` or ``MLPRegressor``."""
    return _PLAIN[task]


def network_params(task: str) -> tuple[str, ...]:
    """The parameter names a network of this task takes, sorted."""
    return tuple(sorted(network_class(task)().get_params()))


def make_network(task: str, params: dict[str, Any]) -> Any:
    """An unfitted network of the task's class with these parameters."""
    return network_class(task)(**params)


def task_of(estimator: Any) -> str:
    """``"regression"`` for an ``MLPRegressor`` (or a subclass), else ``"classification"``."""
    return "regression" if isinstance(estimator, MLPRegressor) else "classification"


def is_network(estimator: Any) -> bool:
    """Whether the engine knows exactly what a fit of ``estimator`` does (no unknown subclass)."""
    return type(estimator) in NETWORK_CLASSES


NETWORK_CLASSES: tuple[type, ...] = (MLPClassifier, MLPRegressor)
