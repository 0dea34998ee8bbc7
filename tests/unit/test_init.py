"""Weight initialisation as a hyperparameter: `init` beside scikit-learn's parameters."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from tuning.data.datasets import load_dataset
from tuning.engine.networks import INIT_SCHEMES, InitMLPClassifier, InitMLPRegressor
from tuning.engine.search import run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec
from tuning.errors import SpecError
from tuning.services.codegen import sklearn_script

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_REG, Y_REG = X_IRIS[:, 1:], X_IRIS[:, 0]


def _fit(network, **params):
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        return network(random_state=0, max_iter=15, **params).fit(*((X_REG, Y_REG) if network in (
            MLPRegressor, InitMLPRegressor) else (X_IRIS, Y_IRIS)))


@pytest.mark.parametrize(("plain", "ours"), [(MLPClassifier, InitMLPClassifier), (MLPRegressor, InitMLPRegressor)])
@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_glorot_uniform_is_bit_identical_to_plain_scikit_learn(plain, ours, activation):
    theirs, mine = _fit(plain, activation=activation), _fit(ours, activation=activation, init="glorot_uniform")
    assert mine.loss_curve_ == theirs.loss_curve_
    for a, b in zip(mine.coefs_ + mine.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("init", "std"), [("he_normal", np.sqrt(2 / 400)), ("lecun_normal", np.sqrt(1 / 400)),
                                           ("small_constant", 0.01), ("zeros", 0.0)])
def test_each_scheme_draws_weights_at_its_scale_and_zero_biases(init, std):
    network = InitMLPClassifier(init=init)
    network._random_state = np.random.RandomState(0)
    coef, intercept = network._init_coef(400, 300, np.float64)
    assert coef.shape == (400, 300) and abs(coef.std() - std) <= 0.02 * std + 1e-12
    assert not intercept.any()


def test_all_zeros_keeps_every_hidden_unit_identical_and_the_loss_stalls():
    zeros = _fit(InitMLPClassifier, init="zeros", hidden_layer_sizes=[8], learning_rate_init=0.01)
    first = zeros.coefs_[0]
    assert np.all(first == first[:, :1])  # every hidden unit's incoming weights are the same column
    assert zeros.loss_curve_[-1] > 0.95 * zeros.loss_curve_[0]
    he = _fit(InitMLPClassifier, init="he_normal", hidden_layer_sizes=[8], learning_rate_init=0.01)
    assert he.loss_curve_[-1] < 0.8 * he.loss_curve_[0]


SPEC = {"dataset": {"name": "moons", "n_samples": 150}, "cv": 3,
        "param_grid": {"init": list(INIT_SCHEMES), "max_iter": [5, 20], "hidden_layer_sizes": [[8]]}}


def test_a_grid_over_init_equals_gridsearchcv_with_the_subclass_and_shares_training():
    spec = parse_spec(SPEC)
    estimator, grid = sklearn_equivalent(spec)
    assert type(estimator[-1]) is InitMLPClassifier
    data = load_dataset(spec.dataset)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(estimator, grid, cv=3, return_train_score=True).fit(data.X, data.y)
        result = run_search(SPEC, n_jobs=1)
    for key in ("mean_test_score", "split0_test_score", "mean_train_score", "rank_test_score"):
        assert result.cv_results[key] == reference.cv_results_[key].tolist(), key
    assert [p["init"] for p in result.cv_results["params"]][::2] == list(INIT_SCHEMES)  # results record it
    assert result.epochs_trained < result.epochs_gridsearchcv
    assert {f["trainer"] for f in result.fits} == {"scikit-learn"}  # init schemes are not the lean trainer's
    plain = run_search({**SPEC, "param_grid": {"max_iter": [5, 20], "hidden_layer_sizes": [[8]]}}, n_jobs=1)
    assert {f["trainer"] for f in plain.fits} == {"lean"}  # without init, MLPClassifier as before


def test_a_spec_without_init_builds_scikit_learns_own_class():
    estimator, _ = sklearn_equivalent({"dataset": "iris", "param_grid": {"max_iter": [5]}})
    assert type(estimator[-1]) is MLPClassifier


@pytest.mark.parametrize(("spec", "message"), [
    ({"param_grid": {"init": ["uniform"]}}, r"param_grid.init\[0\]: got 'uniform' \(str\).*It must be a str among"),
    ({"param_grid": {"init": "zeros"}}, r"needs a list of values"),
    ({"estimator": {"init": 3}}, r"estimator.init: got 3 \(int\)"),
])
def test_a_bad_init_is_refused_naming_the_field(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_spec({"dataset": "iris", "param_grid": {"max_iter": [5]}, **spec})


@pytest.mark.parametrize("dataset", ["iris", {"name": "sine", "n_samples": 60}])
def test_the_generated_script_carries_the_subclass_and_reproduces_the_score(dataset, tmp_path):
    spec = parse_spec({"dataset": dataset, "cv": 3, "estimator": {"init": "he_normal"},
                       "param_grid": {"max_iter": [5, 20], "init": ["lecun_normal", "he_normal"]}})
    result = run_search(spec, n_jobs=1, refit=False)
    script = tmp_path / "reproduce.py"
    script.write_text(sklearn_script(spec, load_dataset(spec.dataset)))
    assert "class InitScheme" in script.read_text() and "tuning" not in script.read_text().replace("Tuning Lab", "")
    proc = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert float(printed["best_score_"]) == result.best_score
