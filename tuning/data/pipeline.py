"""The estimator a spec describes: preprocessing, then the network, as one scikit-learn Pipeline.

Preprocessing sits inside the pipeline so that cross-validation fits it on the
training folds only.
"""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tuning.data.dataset import Dataset


def make_preprocessor(data: Dataset | None, preprocess: str) -> Any | None:
    """Scaling for all-numeric data; imputation, scaling and one-hot encoding for a table.

    Parameters
    ----------
    data : Dataset or None
        Its ``numeric_columns`` / ``categorical_columns`` (set for CSV files) decide
        the column handling; built-in datasets are numeric with no missing values.
    preprocess : {"standard", "none"}
        Whether numeric features are standardised.
    """
    standard = preprocess == "standard"
    if data is None or data.categorical_columns is None:
        return StandardScaler() if standard else None
    transformers = []
    if data.numeric_columns:
        steps = [("impute", SimpleImputer(strategy="median"))] + ([("scale", StandardScaler())] if standard else [])
        transformers.append(("numeric", Pipeline(steps), list(data.numeric_columns)))
    if data.categorical_columns:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), list(data.categorical_columns)))
    return ColumnTransformer(transformers)


def make_pipeline(preprocessor: Any | None, mlp: Any) -> Pipeline:
    """``Pipeline([("prep", preprocessor), ("mlp", mlp)])``, without the first step when None."""
    steps: list[tuple[str, Any]] = [("prep", preprocessor)] if preprocessor is not None else []
    return Pipeline([*steps, ("mlp", mlp)])


def scale_target(regressor: Any) -> TransformedTargetRegressor:
    """``regressor`` trained on the target standardised (fit on the training rows only), its
    predictions scaled back: a network learns far better from numbers of mean 0 and
    standard deviation 1 than from, say, prices in the hundreds of thousands."""
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())
