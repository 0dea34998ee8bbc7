import math
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tuning.data.dataset import Dataset
from tuning.data.datasets import load_dataset
from tuning.errors import DataError, SpecError
from tuning.services.playground import (
    PLAYGROUND_CHOICES,
    PLAYGROUND_DEFAULTS,
    LiveTraining,
    NetworkRun,
    compare_learning_rates,
    describe_comparison,
    estimate_training_seconds,
    log_loss_of,
    network_params,
    read_settings,
    settings_query,
    train_network,
)

MOONS = load_dataset({"name": "moons"})
PARAMS = {"hidden_layer_sizes": [8], "max_iter": 20, "learning_rate_init": 0.01, "random_state": 0}


def _by_hand(data: Dataset, params: dict) -> tuple[MLPClassifier, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same network trained with plain scikit-learn on the same split: model, X_train, X_test, y_train, y_test."""
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0,
                                                        stratify=data.y)
    scaler = StandardScaler().fit(X_train)
    model = MLPClassifier(**params).fit(scaler.transform(X_train), y_train)
    return model, scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_every_epoch_is_reported_as_it_trains():
    seen = []
    run = train_network(MOONS, PARAMS, on_epoch=lambda p: seen.append((p.epoch, len(p.loss_curve),
                                                                        len(p.validation_loss))))
    assert seen == [(k, k, k) for k in range(1, 21)]
    assert run.n_iter == 20 and len(run.loss_curve) == 20 and not run.converged


@pytest.mark.parametrize("epochs", [1, 7, 20])
def test_the_validation_loss_after_each_epoch_is_that_of_the_network_trained_for_that_many_epochs(epochs):
    run = train_network(MOONS, PARAMS)
    model, _, X_test, _, y_test = _by_hand(MOONS, {**PARAMS, "max_iter": epochs})
    assert run.validation_loss[epochs - 1] == pytest.approx(log_loss(y_test, model.predict_proba(X_test)), rel=1e-12)
    assert run.loss_curve[:epochs] == model.loss_curve_  # measuring it changes nothing in the training


def test_the_log_loss_is_scikit_learns_and_nan_once_the_weights_overflow():
    model, _, X_test, _, y_test = _by_hand(MOONS, PARAMS)
    assert log_loss_of(model, X_test, y_test) == pytest.approx(log_loss(y_test, model.predict_proba(X_test)))
    model.coefs_[0][:] = np.inf
    assert math.isnan(log_loss_of(model, X_test, y_test))


def test_a_stopped_run_keeps_its_epochs_and_is_scored_as_it_stood():
    stop = threading.Event()
    run = train_network(MOONS, PARAMS, stop=stop, on_epoch=lambda p: p.epoch == 7 and stop.set())
    assert run.stopped and not run.converged and run.n_iter == 7
    assert len(run.loss_curve) == len(run.validation_loss) == 7
    model, _, X_test, _, y_test = _by_hand(MOONS, {**PARAMS, "max_iter": 7})
    assert run.test_score == model.score(X_test, y_test)


def test_the_training_time_leaves_out_what_the_epoch_hook_does():
    quiet = train_network(MOONS, {**PARAMS, "max_iter": 50})

    def busy(progress) -> None:  # 20 ms of CPU per epoch, a whole second in all
        until = time.thread_time() + 0.02
        while time.thread_time() < until:
            pass

    started = time.thread_time()
    noisy = train_network(MOONS, {**PARAMS, "max_iter": 50}, on_epoch=busy)
    assert time.thread_time() - started > 1.0
    assert noisy.seconds < quiet.seconds + 0.5


def test_scores_are_those_of_the_same_network_trained_by_hand():
    run = train_network(MOONS, PARAMS)
    X_train, X_test, y_train, y_test = train_test_split(MOONS.X, MOONS.y, test_size=0.25, random_state=0,
                                                        stratify=MOONS.y)
    scaler = StandardScaler().fit(X_train)
    model = MLPClassifier(**PARAMS).fit(scaler.transform(X_train), y_train)
    assert run.test_score == model.score(scaler.transform(X_test), y_test)
    assert run.loss_curve == model.loss_curve_


@pytest.mark.parametrize("name", ["wine", "moons"])  # softmax, and one logistic output
def test_a_diverging_run_is_reported_not_raised(name):
    data = load_dataset({"name": name})
    big = Dataset("big", data.X * 100, data.y, data.feature_names, data.class_names)
    run = train_network(big, {"solver": "sgd", "learning_rate_init": 10.0, "activation": "identity",
                              "hidden_layer_sizes": [8], "max_iter": 30, "random_state": 0, "n_iter_no_change": 1000},
                        preprocess="none")
    assert run.diverged and run.model is None and math.isnan(run.test_score)
    assert len(run.loss_curve) > 0
    assert math.isnan(run.validation_loss[-1])  # the held-out loss of overflowed weights, not a number


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


def _wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_live_run_grows_as_it_trains_and_stops_when_asked():
    digits = load_dataset({"name": "digits"})
    live = LiveTraining(digits, {"hidden_layer_sizes": [64], "max_iter": 500, "batch_size": 16,
                                 "random_state": 0}, key="k")
    _wait_until(lambda: live.state().epoch >= 2)
    early = live.state()
    assert early.status == "training" and early.run is None and early.epochs == 500
    assert len(early.loss_curve) == len(early.validation_loss) == early.epoch
    live.stop()
    final = live.wait(30)
    assert final.status == "stopped" and early.epoch <= final.epoch < 500
    assert final.run.n_iter == final.epoch and final.loss_curve[:early.epoch] == early.loss_curve
    assert live.key == "k"


def test_a_live_run_with_bad_settings_fails_with_the_message():
    live = LiveTraining(MOONS, {**PARAMS, "learning_rate_init": -1.0})
    state = live.wait(30)
    assert state.status == "failed" and state.error.startswith("network.learning_rate_init: got -1.0")


def test_quick_runs_are_told_from_long_ones():
    defaults = network_params(PLAYGROUND_DEFAULTS)
    assert estimate_training_seconds(MOONS, defaults) < 1
    assert estimate_training_seconds(load_dataset({"name": "digits"}), defaults) < 3
    big = network_params({**PLAYGROUND_DEFAULTS, "layers": 3, "units": 128, "batch": 8, "epochs": 300})
    assert estimate_training_seconds(load_dataset({"name": "digits"}), big) > 30
    assert estimate_training_seconds(MOONS, {**defaults, "max_iter": 200}) == pytest.approx(
        2 * estimate_training_seconds(MOONS, defaults))


@pytest.mark.parametrize("name", sorted(PLAYGROUND_CHOICES))
def test_every_choice_survives_the_address(name):
    for choice in PLAYGROUND_CHOICES[name]:
        settings = {**PLAYGROUND_DEFAULTS, name: choice}
        assert read_settings(settings_query(settings)) == (settings, None, [])


def test_an_address_carries_a_built_in_dataset_and_its_options():
    settings = {**PLAYGROUND_DEFAULTS, "epochs": 35, "seed": 9}
    dataset = {"name": "blobs", "n_samples": 250, "noise": 1.5, "centers": 4, "random_state": 2}
    query = settings_query(settings, dataset)
    assert query["data"] == "blobs" and query["data_seed"] == "2" and "random_state" not in query
    assert read_settings(query) == (settings, dataset, [])
    assert "data" not in settings_query(settings, {"csv": "/tmp/x.csv", "target": "y"})  # an upload stays private


@pytest.mark.parametrize(("query", "problem"), [
    ({"lr": "0.02"}, "lr='0.02' should be one of 1e-05, 3e-05"),
    ({"epochs": "41"}, "epochs='41' should be a multiple of 5 from 5 to 500"),
    ({"epochs": "-5"}, "epochs='-5' should be a multiple of 5"),
    ({"seed": "10001"}, "seed='10001' should be a whole number from 0 to 10,000"),
    ({"batch": "auto "}, "batch='auto ' should be one of auto, 8"),
    ({"solver": "lbfgs"}, "solver='lbfgs' should be one of adam, sgd"),
    ({"data": "moons", "noise": "0.33"}, "noise='0.33' should be a number from 0 to 2 in steps of 0.05"),
    ({"data": "moons", "n_samples": "inf"}, "n_samples='inf' should be a number from 50 to 2000"),
    ({"data": "../etc/passwd"}, "data='../etc/passwd' should be one of iris"),
])
def test_a_bad_value_is_named_with_what_it_should_be_and_left_at_its_default(query, problem):
    settings, _, problems = read_settings({**query, "units": "8"})
    assert problems == [problem] or problems[0].startswith(problem)
    assert settings == {**PLAYGROUND_DEFAULTS, "units": 8}


def test_a_lower_epoch_cap_applies_to_defaults_and_links():
    settings, _, problems = read_settings({"epochs": "300"}, max_epochs=50)
    assert settings["epochs"] == 50 and problems == ["epochs='300' should be a multiple of 5 from 5 to 50"]


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


@pytest.mark.parametrize(("params", "stop_at"), [
    (PARAMS, None),
    ({**PARAMS, "solver": "sgd", "learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 2, "max_iter": 60},
     None),
    ({**PARAMS, "early_stopping": True, "max_iter": 40}, None),
    (PARAMS, 7),  # Stop pressed during epoch 7
    ({**PARAMS, "early_stopping": True, "max_iter": 40}, 12),
])
def test_the_lean_trainer_gives_the_run_scikit_learns_fit_gives(params, stop_at, monkeypatch):
    def train() -> tuple[NetworkRun, list]:
        seen, stop = [], threading.Event()

        def report(progress) -> None:
            seen.append((progress.epoch, progress.loss_curve, progress.validation_loss))  # all but the time
            if progress.epoch == stop_at:
                stop.set()

        return train_network(MOONS, params, on_epoch=report, stop=stop), seen

    lean_run, lean_seen = train()
    monkeypatch.setattr("tuning.engine.lean.uncovered_reason", lambda params: "forced")
    plain_run, plain_seen = train()
    assert (lean_run.trainer, plain_run.trainer) == ("lean", "scikit-learn")
    assert lean_seen == plain_seen and len(lean_seen) == lean_run.n_iter
    for field in ("loss_curve", "validation_loss", "train_score", "test_score", "n_iter", "converged", "diverged",
                  "stopped"):
        assert getattr(lean_run, field) == getattr(plain_run, field), field
    assert lean_run.stopped == (stop_at is not None)
    ours, theirs = lean_run.model[-1], plain_run.model[-1]
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(lean_run.model.predict_proba(MOONS.X), plain_run.model.predict_proba(MOONS.X))


def test_settings_the_lean_trainer_does_not_cover_train_with_scikit_learn():
    run = train_network(MOONS, {**PARAMS, "solver": "lbfgs"})
    assert run.trainer == "scikit-learn" and run.n_iter > 0


def test_a_regressions_validation_loss_is_half_the_squared_error_on_the_target_as_it_learns_it():
    data = load_dataset({"name": "diabetes"})
    params = {"hidden_layer_sizes": [8], "max_iter": 12, "random_state": 0, "learning_rate_init": 0.01}
    stop = threading.Event()
    run = train_network(data, params, stop=stop, on_epoch=lambda p: p.epoch == 7 and stop.set())
    assert run.task == "regression" and run.stopped and run.n_iter == 7 and len(run.validation_loss) == 7
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0)
    for epochs in (1, 7):
        by_hand = TransformedTargetRegressor(make_pipeline(StandardScaler(), MLPRegressor(**{**params,
                                                                                              "max_iter": epochs})),
                                             transformer=StandardScaler())
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            by_hand.fit(X_train, y_train)
        standardised = by_hand.transformer_.transform(y_test.reshape(-1, 1)).ravel()
        expected = ((standardised - by_hand.regressor_.predict(X_test)) ** 2).mean() / 2
        assert run.validation_loss[epochs - 1] == pytest.approx(expected, rel=1e-12)
    assert run.test_score == by_hand.score(X_test, y_test)  # the stopped network, scored as it stood after 7
