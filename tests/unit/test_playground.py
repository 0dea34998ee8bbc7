import math

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from tuning.data.dataset import Dataset
from tuning.data.datasets import load_dataset
from tuning.errors import DataError, SpecError
from tuning.services.playground import NetworkRun, compare_learning_rates, describe_comparison, train_network

MOONS = load_dataset({"name": "moons"})
PARAMS = {"hidden_layer_sizes": [8], "max_iter": 20, "learning_rate_init": 0.01, "random_state": 0}


def test_every_epoch_is_reported_as_it_trains():
    seen = []
    run = train_network(MOONS, PARAMS, on_epoch=lambda epoch, losses: seen.append((epoch, len(losses))))
    assert seen == [(k, k) for k in range(1, 21)]
    assert run.n_iter == 20 and len(run.loss_curve) == 20 and not run.converged


def test_scores_are_those_of_the_same_network_trained_by_hand():
    run = train_network(MOONS, PARAMS)
    X_train, X_test, y_train, y_test = train_test_split(MOONS.X, MOONS.y, test_size=0.25, random_state=0,
                                                        stratify=MOONS.y)
    scaler = StandardScaler().fit(X_train)
    model = MLPClassifier(**PARAMS).fit(scaler.transform(X_train), y_train)
    assert run.test_score == model.score(scaler.transform(X_test), y_test)
    assert run.loss_curve == model.loss_curve_


def test_a_diverging_run_is_reported_not_raised():
    wine = load_dataset({"name": "wine"})
    big = Dataset("big", wine.X * 100, wine.y, wine.feature_names, wine.class_names)
    run = train_network(big, {"solver": "sgd", "learning_rate_init": 10.0, "activation": "identity",
                              "hidden_layer_sizes": [8], "max_iter": 30, "random_state": 0, "n_iter_no_change": 1000},
                        preprocess="none")
    assert run.diverged and run.model is None and math.isnan(run.test_score)
    assert len(run.loss_curve) > 0


def test_bad_settings_name_the_field():
    with pytest.raises(SpecError, match=r"network.learning_rate_init: got -1.0"):
        train_network(MOONS, {**PARAMS, "learning_rate_init": -1.0})


def test_too_little_data_for_a_hold_out_is_a_clear_error():
    tiny = Dataset("tiny", np.zeros((4, 2)), np.array([0, 1, 0, 1]), ["a", "b"], ["0", "1"])
    with pytest.raises(DataError, match="too small to hold out"):
        train_network(tiny, PARAMS)


def test_learning_rate_lesson_too_low_creeps_too_high_stays_high():
    digits = load_dataset({"name": "digits"})
    params = {"hidden_layer_sizes": [16], "max_iter": 60, "random_state": 0, "tol": 1e-6, "n_iter_no_change": 10_000}
    runs = compare_learning_rates(digits, params, [1e-4, 0.01, 1.0])
    low, good, high = (runs[r].loss_curve for r in (1e-4, 0.01, 1.0))
    assert list(runs) == [1e-4, 0.01, 1.0]
    assert good[-1] < low[-1] and good[-1] < high[-1]
    assert low[0] - low[-1] < good[0] - good[-1]  # too low is still creeping down


def _run(curve, diverged=False):
    return NetworkRun(params={}, loss_curve=curve, train_score=1.0, test_score=1.0, n_iter=len(curve),
                      converged=False, seconds=0.0, model=None, diverged=diverged)


def test_comparison_is_described_from_the_curves():
    text = describe_comparison({
        1e-4: _run([2.0, 1.9, 1.8, 1.7]),           # still falling, far above the best
        1e-2: _run([2.0, 0.5, 0.2, 0.1]),           # the best
        1.0: _run([2.0, 3.0, 0.9, 1.2]),            # jumps back up
        10.0: _run([2.0, 1e30], diverged=True),
    })
    assert "lr=10 diverged" in text
    assert "lr=0.01 ends with the lowest training loss (0.100)" in text
    assert "lr=0.0001 is too low" in text
    assert "lr=1 is too high: it overshoots" in text


def test_a_flat_comparison_claims_nothing_it_does_not_show():
    text = describe_comparison({0.01: _run([1.0, 0.5, 0.4]), 0.1: _run([1.0, 0.45, 0.41])})
    assert "too low" not in text and "too high" not in text


@pytest.mark.parametrize("params", [
    PARAMS,
    {**PARAMS, "solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2, "max_iter": 60},
    {**PARAMS, "early_stopping": True, "max_iter": 40},
])
def test_the_lean_trainer_gives_the_run_scikit_learns_fit_gives(params, monkeypatch):
    seen = {"lean": [], "scikit-learn": []}
    lean_run = train_network(MOONS, params, on_epoch=lambda *a: seen["lean"].append(a))
    monkeypatch.setattr("tuning.engine.lean.uncovered_reason", lambda params: "forced")
    plain_run = train_network(MOONS, params, on_epoch=lambda *a: seen["scikit-learn"].append(a))
    assert (lean_run.trainer, plain_run.trainer) == ("lean", "scikit-learn")
    assert seen["lean"] == seen["scikit-learn"]
    for field in ("loss_curve", "train_score", "test_score", "n_iter", "converged", "diverged"):
        assert getattr(lean_run, field) == getattr(plain_run, field), field
    ours, theirs = lean_run.model[-1], plain_run.model[-1]
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(lean_run.model.predict_proba(MOONS.X), plain_run.model.predict_proba(MOONS.X))


def test_settings_the_lean_trainer_does_not_cover_train_with_scikit_learn():
    run = train_network(MOONS, {**PARAMS, "solver": "lbfgs"})
    assert run.trainer == "scikit-learn" and run.n_iter > 0
