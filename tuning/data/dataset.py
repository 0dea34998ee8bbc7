"""The data every search trains on: features and integer class labels, with their names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Features and integer class labels ready for a classifier.

    Parameters
    ----------
    name : str
        The dataset's name, as in the spec.
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int
        Class indices ``0 .. n_classes - 1``.
    feature_names : list of str
    class_names : list of str
        ``class_names[k]`` is the original name of class ``k``.
    description : str
        One sentence about where the data comes from.
    numeric_columns, categorical_columns : list of str or None
        Set for tables read from CSV (``X`` is then a DataFrame that may hold missing
        values and text); None for the built-ins, whose ``X`` is all numbers.
    report : dict or None
        What loading did: the target used, columns dropped and why, missing values.
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

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_plane(self) -> bool:
        """Two numeric features and no missing values: drawable as points on a plane."""
        return self.n_features == 2 and self.categorical_columns is None

    @property
    def class_counts(self) -> list[int]:
        return np.bincount(self.y, minlength=len(self.class_names)).tolist()

    def summary(self) -> dict[str, Any]:
        """Rows, features and class counts, JSON-ready."""
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_classes": len(self.class_names),
            "classes": dict(zip(self.class_names, self.class_counts)),
            "description": self.description,
            **(self.report or {}),
        }
