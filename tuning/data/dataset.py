"""The data every search trains on: features and a target (class labels or numbers), with their names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Features and a target: integer class labels for a classifier, numbers for a regressor.

    Parameters
    ----------
    name : str
        The dataset's name, as in the spec.
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int or float64
        Class indices ``0 .. n_classes - 1``, or the numbers to predict (regression).
    feature_names : list of str
    class_names : list of str
        ``class_names[k]`` is the original name of class ``k``; empty for regression.
    description : str
        One sentence about where the data comes from.
    numeric_columns, categorical_columns : list of str or None
        Set for tables read from CSV (``X`` is then a DataFrame that may hold missing
        values and text); None for the built-ins, whose ``X`` is all numbers.
    report : dict or None
        What loading did: the target used, columns dropped and why, missing values.
    task : {"classification", "regression"}
        What the target is: classes, or numbers.
    """

    name: str
    X: Any
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    description: str = ""
    numeric_columns: list[str] | None = None
    categorical_columns: list[str] | None = None
    report: dict[str, Any] | None = None
    task: str = "classification"

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"

    @property
    def is_plane(self) -> bool:
        """Two numeric features, no missing values and classes: drawable as coloured points on a plane."""
        return self.n_features == 2 and self.categorical_columns is None and not self.is_regression

    @property
    def is_line(self) -> bool:
        """One numeric feature and a numeric target: drawable as a curve y(x)."""
        return self.n_features == 1 and self.is_regression and self.categorical_columns is None

    @property
    def n_outputs(self) -> int:
        """Units of the network's output layer: 1 for regression and two classes, else one per class."""
        return 1 if self.is_regression or len(self.class_names) <= 2 else len(self.class_names)

    @property
    def class_counts(self) -> list[int]:
        if self.is_regression:
            return []
        return np.bincount(self.y, minlength=len(self.class_names)).tolist()

    def target_summary(self) -> dict[str, float]:
        """Mean, standard deviation, smallest and largest target value (regression)."""
        y = np.asarray(self.y, dtype=float)
        return {"mean": float(y.mean()), "std": float(y.std()), "min": float(y.min()), "max": float(y.max())}

    def summary(self) -> dict[str, Any]:
        """Rows, features and class counts (or the target's range, for regression), JSON-ready."""
        task = {"task": "regression", "target_range": self.target_summary()} if self.is_regression else {}
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_classes": len(self.class_names),
            "classes": dict(zip(self.class_names, self.class_counts)),
            "description": self.description,
            **task,
            **(self.report or {}),
        }
