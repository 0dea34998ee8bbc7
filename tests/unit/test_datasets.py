import socket

import numpy as np
import pytest

from tuning.data.datasets import BUILTIN_DATASETS, list_datasets, load_dataset, normalize_dataset_spec
from tuning.errors import SpecError

EXPECTED_SHAPES = {"iris": (150, 4, 3), "wine": (178, 13, 3), "breast_cancer": (569, 30, 2), "digits": (1797, 64, 10),
                   "diabetes": (442, 10, 0), "friedman1": (300, 10, 0), "sine": (100, 1, 0)}
REGRESSION = ["diabetes", "friedman1", "sine"]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS))
def test_every_builtin_loads_without_the_network(name, no_network):
    data = load_dataset({"name": name})
    assert data.X.dtype == np.float64 and data.X.ndim == 2
    assert data.y.shape == (data.n_samples,)
    assert data.task == BUILTIN_DATASETS[name].task == ("regression" if name in REGRESSION else "classification")
    if data.is_regression:  # numbers to predict, not classes
        assert data.y.dtype == np.float64 and np.unique(data.y).size > 50
    else:
        assert set(np.unique(data.y)) == set(range(len(data.class_names)))
    assert len(data.feature_names) == data.n_features
    assert data.description
    if name in EXPECTED_SHAPES:
        assert (data.n_samples, data.n_features, len(data.class_names)) == EXPECTED_SHAPES[name]
    else:
        assert data.n_features == 2 and data.n_samples == 300


@pytest.mark.parametrize("name", ["moons", "circles", "xor", "spirals", "blobs", "friedman1", "sine"])
def test_generated_data_follows_its_options(name):
    a = load_dataset({"name": name, "n_samples": 101, "noise": 0.05, "random_state": 3})
    b = load_dataset({"name": name, "n_samples": 101, "noise": 0.05, "random_state": 3})
    c = load_dataset({"name": name, "n_samples": 101, "noise": 0.05, "random_state": 4})
    assert a.n_samples == 101
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_the_sine_without_noise_is_the_curve_and_its_summary_gives_the_target_range():
    data = load_dataset({"name": "sine", "noise": 0.0})
    np.testing.assert_allclose(data.y, np.sin(2 * data.X[:, 0]))
    assert data.is_line and not data.is_plane and data.n_outputs == 1
    summary = data.summary()
    low, high = summary["target_range"]["min"], summary["target_range"]["max"]
    assert summary["task"] == "regression" and -1 <= low < high <= 1


def test_blobs_centers_sets_the_number_of_classes():
    assert len(load_dataset({"name": "blobs", "centers": 5}).class_names) == 5


def test_xor_labels_are_the_sign_of_the_product_without_noise():
    data = load_dataset({"name": "xor", "noise": 0.0})
    np.testing.assert_array_equal(data.y, (data.X[:, 0] * data.X[:, 1] > 0).astype(int))


def test_summary_counts_every_class():
    summary = load_dataset({"name": "iris"}).summary()
    assert summary["classes"] == {"setosa": 50, "versicolor": 50, "virginica": 50}


def test_name_alone_is_accepted_and_defaults_filled():
    assert normalize_dataset_spec("xor") == {"name": "xor", "n_samples": 300, "noise": 0.1, "random_state": 0}


def test_csv_source_is_checked_before_reading():
    assert normalize_dataset_spec({"csv": "data.csv"}) == {"csv": "data.csv", "target": None}
    with pytest.raises(SpecError, match=r"dataset.csv: needs the path of a CSV file, got 3 \(int\)"):
        normalize_dataset_spec({"csv": 3})
    with pytest.raises(SpecError, match=r"dataset.sep: is not an option of a CSV dataset"):
        normalize_dataset_spec({"csv": "a.csv", "sep": ";"})


def test_list_datasets_describes_every_option():
    listed = {d["name"]: d for d in list_datasets()}
    assert set(listed) == set(BUILTIN_DATASETS)
    assert listed["moons"]["options"]["noise"]["default"] == 0.2
    assert listed["iris"]["options"] == {}
