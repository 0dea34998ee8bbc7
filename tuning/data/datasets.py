"""Built-in datasets: scikit-learn's bundled files and small generated problems.

Nothing here downloads anything: ``iris``, ``wine``, ``breast_cancer``, ``digits`` and
``diabetes`` ship inside scikit-learn; ``moons``, ``circles``, ``xor``, ``spirals``,
``blobs``, ``friedman1`` and ``sine`` are generated from a seed. ``diabetes``,
``friedman1`` and ``sine`` have numeric targets (regression).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn import datasets as skdatasets

from tuning.data.csv_source import load_csv
from tuning.data.dataset import Dataset
from tuning.errors import SpecError, describe_value


@dataclass(frozen=True)
class Option:
    """One option of a generated dataset: its type, default and allowed range."""

    kind: type
    default: Any
    low: float
    high: float
    help: str

    def check(self, dataset: str, name: str, value: Any) -> Any:
        where = f"dataset.{name}"
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind is int and not (is_number and float(value).is_integer()):
            raise SpecError(where, f"needs a whole number, got {describe_value(value)}",
                            f"Use an integer from {self.low:g} to {self.high:g}")
        if self.kind is float and not is_number:
            raise SpecError(where, f"needs a number, got {describe_value(value)}",
                            f"Use a number from {self.low:g} to {self.high:g}")
        if not self.low <= value <= self.high:
            raise SpecError(where, f"{value!r} is out of range for {dataset}",
                            f"Use a value from {self.low:g} to {self.high:g}")
        return self.kind(value)


@dataclass(frozen=True)
class BuiltinDataset:
    """A named dataset: how to make it and which options it takes."""

    name: str
    description: str
    make: Callable[..., Dataset]
    options: Mapping[str, Option] = field(default_factory=dict)
    task: str = "classification"
    n_features: int = 2


def _bundled(name: str, loader: Callable[..., Any], description: str) -> BuiltinDataset:
    def make() -> Dataset:  # scikit-learn reads these from its own package files
        bunch = loader()
        return Dataset(
            name=name,
            X=np.asarray(bunch.data, dtype=np.float64),
            y=np.asarray(bunch.target, dtype=np.int64),
            feature_names=[str(f) for f in bunch.feature_names],
            class_names=[str(c) for c in bunch.target_names],
        )

    return BuiltinDataset(name, description, make)


def _two_d(name: str, X: np.ndarray, y: np.ndarray) -> Dataset:
    n_classes = int(y.max()) + 1
    return Dataset(
        name=name,
        X=np.asarray(X, dtype=np.float64),
        y=np.asarray(y, dtype=np.int64),
        feature_names=["x1", "x2"],
        class_names=[f"class {k}" for k in range(n_classes)],
    )


def _make_moons(n_samples: int, noise: float, random_state: int) -> Dataset:
    X, y = skdatasets.make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    return _two_d("moons", X, y)


def _make_circles(n_samples: int, noise: float, random_state: int) -> Dataset:
    X, y = skdatasets.make_circles(
        n_samples=n_samples, noise=noise, factor=0.5, random_state=random_state
    )
    return _two_d("circles", X, y)


def make_xor(n_samples: int, noise: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]², class = sign of x1·x2, with Gaussian noise added after labelling."""
    rng = np.random.default_rng(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def make_spirals(n_samples: int, noise: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms, one per class, with Gaussian noise."""
    rng = np.random.default_rng(random_state)
    per_class = [n_samples // 2 + n_samples % 2, n_samples // 2]
    parts, labels = [], []
    for label, n in enumerate(per_class):
        t = np.sqrt(rng.uniform(0.0, 1.0, n)) * 3.0 * np.pi
        angle = t + label * np.pi
        points = np.column_stack([t * np.cos(angle), t * np.sin(angle)]) / (3.0 * np.pi)
        parts.append(points + rng.normal(scale=noise, size=points.shape))
        labels.append(np.full(n, label))
    return np.vstack(parts), np.concatenate(labels)


def _make_xor(n_samples: int, noise: float, random_state: int) -> Dataset:
    return _two_d("xor", *make_xor(n_samples, noise, random_state))


def _make_spirals(n_samples: int, noise: float, random_state: int) -> Dataset:
    return _two_d("spirals", *make_spirals(n_samples, noise, random_state))


def _make_blobs(n_samples: int, noise: float, random_state: int, centers: int) -> Dataset:
    X, y = skdatasets.make_blobs(
        n_samples=n_samples, centers=centers, cluster_std=noise, random_state=random_state
    )
    return _two_d("blobs", X, y)


def _load_diabetes() -> Dataset:
    bunch = skdatasets.load_diabetes()  # bundled with scikit-learn; its features come centred and scaled
    return Dataset(name="diabetes", X=np.asarray(bunch.data, dtype=np.float64),
                   y=np.asarray(bunch.target, dtype=np.float64), feature_names=[str(f) for f in bunch.feature_names],
                   class_names=[], task="regression")


def _make_friedman1(n_samples: int, noise: float, random_state: int) -> Dataset:
    X, y = skdatasets.make_friedman1(n_samples=n_samples, n_features=10, noise=noise, random_state=random_state)
    return Dataset(name="friedman1", X=X, y=y, feature_names=[f"x{k}" for k in range(1, 11)], class_names=[],
                   task="regression")


def make_sine(n_samples: int, noise: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [-3, 3], y = sin(2x) plus Gaussian noise: a curve with two bends each way."""
    rng = np.random.default_rng(random_state)
    x = rng.uniform(-3.0, 3.0, size=n_samples)
    y = np.sin(2.0 * x) + rng.normal(scale=noise, size=n_samples)
    return x.reshape(-1, 1), y


def _make_sine(n_samples: int, noise: float, random_state: int) -> Dataset:
    X, y = make_sine(n_samples, noise, random_state)
    return Dataset(name="sine", X=X, y=y, feature_names=["x"], class_names=[], task="regression")


def _generated_options(noise: float, noise_high: float = 1.0, n_samples: int = 300) -> dict[str, Option]:
    return {
        "n_samples": Option(int, n_samples, 20, 100_000, "number of points"),
        "noise": Option(float, noise, 0.0, noise_high, "standard deviation of added noise"),
        "random_state": Option(int, 0, 0, 2**32 - 1, "seed of the generator"),
    }


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in [
        _bundled("iris", skdatasets.load_iris, "Fisher's iris flowers: 150 rows, 4 features, 3 species."),
        _bundled("wine", skdatasets.load_wine, "Wine cultivars: 178 rows, 13 chemical features, 3 classes."),
        _bundled("breast_cancer", skdatasets.load_breast_cancer,
                 "Breast tumour biopsies: 569 rows, 30 features, malignant or benign."),
        _bundled("digits", skdatasets.load_digits,
                 "8x8 images of handwritten digits: 1797 rows, 64 pixels, 10 classes."),
        BuiltinDataset("moons", "Two interleaving half circles (2-D).", _make_moons,
                       _generated_options(0.2)),
        BuiltinDataset("circles", "A small circle inside a large one (2-D).", _make_circles,
                       _generated_options(0.1)),
        BuiltinDataset("xor", "Four quadrants, class = sign of x1*x2 (2-D).", _make_xor,
                       _generated_options(0.1)),
        BuiltinDataset("spirals", "Two interleaved spirals (2-D).", _make_spirals,
                       _generated_options(0.05)),
        BuiltinDataset("blobs", "Gaussian clusters, one per class (2-D).", _make_blobs,
                       {**_generated_options(1.0, noise_high=10.0),
                        "centers": Option(int, 3, 2, 10, "number of classes")}),
        BuiltinDataset("diabetes", "Diabetes progression after a year: 442 patients, 10 measurements "
                       "(regression, bundled with scikit-learn).", lambda: _load_diabetes(), task="regression",
                       n_features=10),
        BuiltinDataset("friedman1", "Friedman #1: y = 10 sin(π x1 x2) + 20 (x3 − 0.5)² + 10 x4 + 5 x5 + noise; "
                       "x6–x10 are noise (regression).", _make_friedman1,
                       _generated_options(1.0, noise_high=10.0), task="regression", n_features=10),
        BuiltinDataset("sine", "A noisy sine, y = sin(2x) + noise, on one feature (regression, 1-D).", _make_sine,
                       _generated_options(0.3, noise_high=2.0, n_samples=100), task="regression", n_features=1),
    ]
}


def normalize_dataset_spec(raw: Any) -> dict[str, Any]:
    """Check a spec's ``dataset`` field and fill in every option's default.

    Raises
    ------
    SpecError
        When the name is unknown, an option is unknown or a value is out of range.
    """
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise SpecError("dataset", f"needs an object, got {describe_value(raw)}",
                        'Write e.g. {"name": "digits"}')
    if "csv" in raw:
        return _normalize_csv_spec(raw)
    name = raw.get("name")
    if name not in BUILTIN_DATASETS:
        raise SpecError("dataset.name", f"unknown dataset {describe_value(name)}",
                        f"Choose one of: {', '.join(BUILTIN_DATASETS)}")
    builtin = BUILTIN_DATASETS[name]
    unknown = sorted(set(raw) - {"name"} - set(builtin.options))
    if unknown:
        allowed = ", ".join(builtin.options) or "none"
        raise SpecError(f"dataset.{unknown[0]}", f"{name} has no option {unknown[0]!r}",
                        f"Its options are: {allowed}")
    normalized: dict[str, Any] = {"name": name}
    for option_name, option in builtin.options.items():
        value = raw.get(option_name, option.default)
        normalized[option_name] = option.check(name, option_name, value)
    return normalized


def _normalize_csv_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - {"csv", "target"})
    if unknown:
        raise SpecError(f"dataset.{unknown[0]}", "is not an option of a CSV dataset",
                        'Its options are "csv" and "target"')
    path, target = raw["csv"], raw.get("target")
    if not isinstance(path, str) or not path.strip():
        raise SpecError("dataset.csv", f"needs the path of a CSV file, got {describe_value(path)}",
                        'Write e.g. {"csv": "data/my_table.csv", "target": "label"}')
    if target is not None and not isinstance(target, str):
        raise SpecError("dataset.target", f"needs a column name, got {describe_value(target)}",
                        "Write the name of the column to predict, or leave it out to guess it")
    return {"csv": path, "target": target}


def dataset_task(dataset_spec: Mapping[str, Any]) -> str | None:
    """A built-in dataset's task ("classification" or "regression"); None for a CSV file (its target decides)."""
    normalized = normalize_dataset_spec(dataset_spec)
    return None if "csv" in normalized else BUILTIN_DATASETS[normalized["name"]].task


def load_dataset(dataset_spec: Mapping[str, Any], *, task: str | None = None) -> Dataset:
    """Load (or generate) the dataset a spec names.

    Parameters
    ----------
    dataset_spec : mapping
        ``{"name": NAME, **options}`` as in an experiment spec (defaults are filled
        in), or ``{"csv": PATH, "target": COLUMN}`` for a CSV file.
    task : {"classification", "regression"}, optional
        For a CSV file, how to read its target; chosen from the target when omitted
        (see :func:`tuning.data.csv_source.read_csv`). A built-in has its own task.

    Returns
    -------
    Dataset
    """
    normalized = normalize_dataset_spec(dataset_spec)
    if "csv" in normalized:
        return load_csv(normalized["csv"], target=normalized["target"], task=task)
    builtin = BUILTIN_DATASETS[normalized["name"]]
    options = {k: v for k, v in normalized.items() if k != "name"}
    return replace(builtin.make(**options), description=builtin.description)


# Rows, features and classes of the bundled datasets (a unit test checks them against the files).
_BUNDLED_SHAPES = {"iris": (150, 4, 3), "wine": (178, 13, 3), "breast_cancer": (569, 30, 2), "digits": (1797, 64, 10),
                   "diabetes": (442, 10, 1)}


def dataset_shape(dataset_spec: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """Rows, features and classes (1 for regression) of a built-in dataset, without loading it; None for a CSV file."""
    normalized = normalize_dataset_spec(dataset_spec)
    if "csv" in normalized:
        return None
    if normalized["name"] in _BUNDLED_SHAPES:
        return _BUNDLED_SHAPES[normalized["name"]]
    builtin = BUILTIN_DATASETS[normalized["name"]]
    classes = 1 if builtin.task == "regression" else normalized.get("centers", 2)
    return normalized["n_samples"], builtin.n_features, classes


def list_datasets() -> list[dict[str, Any]]:
    """Every built-in dataset with its options and defaults, JSON-ready."""
    return [
        {
            "name": d.name,
            "description": d.description,
            "task": d.task,
            "options": {
                name: {"type": opt.kind.__name__, "default": opt.default,
                       "min": opt.low, "max": opt.high, "help": opt.help}
                for name, opt in d.options.items()
            },
        }
        for d in BUILTIN_DATASETS.values()
    ]
