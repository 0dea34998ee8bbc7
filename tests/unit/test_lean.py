"""The lean trainer is scikit-learn's MLPClassifier bit for bit: every candidate of a stack, every checkpoint.

Each check fits the same parameters with ``MLPClassifier(**params, max_iter=k).fit`` and
compares every attribute the fit leaves (weights, curves, counters, the optimizer's
state, the random state) byte for byte. The trainer runs against whatever scikit-learn
is installed, verified or not, so an upgrade that changes the MLP fails here.
"""

import hashlib
import inspect
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits, load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network import _base as mlp_base
from sklearn.neural_network import _multilayer_perceptron as mlp_module
from sklearn.neural_network import _stochastic_optimizers as optimizers_module
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.preprocessing import _label as label_module
from sklearn.utils import _indexing
from threadpoolctl import threadpool_limits

from tuning.engine import lean
from tuning.engine.lean import NotCovered, stack_key, train_stack, uncovered_reason

_iris_X, _iris_y = load_iris(return_X_y=True)
_rows = np.random.RandomState(0).permutation(len(_iris_y))[:90]
IRIS = (StandardScaler().fit_transform(_iris_X[_rows]), _iris_y[_rows])  # softmax, 3 classes
_digits_X, _digits_y = load_digits(return_X_y=True)
DIGITS = (StandardScaler().fit_transform(_digits_X[:100]), _digits_y[:100])  # softmax, 10 classes, 64 features
_moons_X, _moons_y = make_moons(70, noise=0.3, random_state=0)
MOONS = (StandardScaler().fit_transform(_moons_X), np.array(["no", "yes"])[_moons_y])  # logistic, string labels
MULTILABEL = (MOONS[0], np.stack([_moons_y, (_moons_X[:, 0] > 0.5).astype(int)], axis=1))  # logistic, 2 labels
DATASETS = {"iris": IRIS, "digits": DIGITS, "moons": MOONS, "multilabel": MULTILABEL}

# The scikit-learn code the trainer reproduces. A new version that changes any of it must
# be verified again (this test file) before it goes into lean.VERIFIED.
_REPRODUCED = (
    mlp_module.BaseMultilayerPerceptron._fit, mlp_module.BaseMultilayerPerceptron._fit_stochastic,
    mlp_module.BaseMultilayerPerceptron._backprop, mlp_module.BaseMultilayerPerceptron._forward_pass,
    mlp_module.BaseMultilayerPerceptron._forward_pass_fast, mlp_module.BaseMultilayerPerceptron._compute_loss_grad,
    mlp_module.BaseMultilayerPerceptron._initialize, mlp_module.BaseMultilayerPerceptron._init_coef,
    mlp_module.BaseMultilayerPerceptron._update_no_improvement_count,
    mlp_module.BaseMultilayerPerceptron._score_with_function, mlp_module.MLPClassifier._validate_input,
    mlp_module.MLPClassifier._predict, mlp_module.MLPClassifier._score, optimizers_module, mlp_base,
    _indexing.resample, _indexing._array_indexing, LabelBinarizer.inverse_transform,
    label_module._inverse_binarize_multiclass, label_module._inverse_binarize_thresholding, accuracy_score,
)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for obj in _REPRODUCED:
        digest.update(inspect.getsource(obj).encode())
    return digest.hexdigest()


INSTALLED = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


@pytest.fixture(autouse=True)
def _trust_installed_versions(monkeypatch):
    """Run the trainer against the installed versions even if unverified: that is what is checked."""
    monkeypatch.setattr(lean, "VERIFIED", {name: (version,) for name, version in INSTALLED.items()})


@pytest.mark.parametrize("library", sorted(INSTALLED))
def test_installed_versions_are_verified_ones(library, monkeypatch):
    monkeypatch.undo()
    assert INSTALLED[library] in lean.VERIFIED[library], (
        f"{library} {INSTALLED[library]} is not in tuning.engine.lean.VERIFIED, so every fit falls back to "
        "scikit-learn's own. If the rest of tests/unit/test_lean.py passes against it, add it there (and, for "
        "scikit-learn, its source fingerprint here).")


def test_reproduced_scikit_learn_source_is_the_verified_one():
    fingerprint = _fingerprint()
    assert fingerprint == VERIFIED_FINGERPRINTS.get(sklearn.__version__), (
        f"the MLPClassifier code the lean trainer reproduces differs from the verified {sklearn.__version__} "
        f"(fingerprint {fingerprint}); re-verify with this file before trusting the trainer")


VERIFIED_FINGERPRINTS = {"1.9.1": "eb7d01bd5f7f83d6d29ef3f507ee45068257cffb44390468d05f82b14d091751"}


# -- comparing two fitted models byte for byte --------------------------------------------


def _bits(value):
    """Everything that defines a value, down to the bytes of its floats."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_bits(v) for v in value])
    if isinstance(value, (float, np.floating)):
        return (type(value).__name__, np.float64(value).tobytes())
    if isinstance(value, np.random.RandomState):
        state = value.get_state()
        return ("RandomState", state[0], state[1].tobytes(), state[2:])
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return (type(value).__name__, {k: _bits(v) for k, v in sorted(vars(value).items())})
    return (type(value).__name__, value)


def assert_same_fit(ours: MLPClassifier, theirs: MLPClassifier) -> None:
    assert type(ours) is MLPClassifier
    assert sorted(vars(ours)) == sorted(vars(theirs))
    different = [name for name in vars(theirs) if _bits(getattr(ours, name)) != _bits(getattr(theirs, name))]
    assert not different, f"differs from scikit-learn's fit in {different}"


def _reference(params, max_iter, X, y):
    """scikit-learn's own fit; a fit that raises on non-finite weights still has its state."""
    model = MLPClassifier(**{**params, "max_iter": max_iter})
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X, y)
        except ValueError as exc:
            assert "non-finite" in str(exc)
    return model, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _lean(members, checkpoints, X, y, **kwargs):
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(train_stack(X, y, members, checkpoints, **kwargs))


def assert_stack_matches_scikit_learn(members, checkpoints, X, y):
    reached = _lean(members, checkpoints, X, y)
    assert sorted((c.member, c.max_iter) for c in reached) == sorted(
        (i, k) for i, ks in enumerate(checkpoints) for k in set(ks))
    for checkpoint in reached:
        reference, converged = _reference(members[checkpoint.member], checkpoint.max_iter, X, y)
        assert_same_fit(checkpoint.model, reference)
        assert checkpoint.converged == converged
    return reached


# -- a grid over what changes the arithmetic ----------------------------------------------

SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd-nesterov": dict(solver="sgd", learning_rate="constant", momentum=0.9, nesterovs_momentum=True),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", momentum=0.5, nesterovs_momentum=False,
                           power_t=0.25),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", momentum=0.0, tol=0.05, n_iter_no_change=1),
}


@pytest.mark.parametrize("data", ["iris", "moons", "multilabel"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("early_stopping", [False, True])
def test_every_candidate_and_checkpoint_is_scikit_learns_fit(data, activation, solver, early_stopping):
    X, y = DATASETS[data]
    shared = dict(hidden_layer_sizes=[5, 3] if activation == "tanh" else [4], activation=activation,
                  batch_size=16, early_stopping=early_stopping, random_state=7, **SOLVERS[solver])
    members = [{**shared, "learning_rate_init": 0.01, "alpha": 1e-4},
               {**shared, "learning_rate_init": 0.05, "alpha": 0.1},
               {**shared, "learning_rate_init": 0.2, "alpha": 0.0}]
    assert len({stack_key(m) for m in members}) == 1
    assert_stack_matches_scikit_learn(members, [[1, 6], [3, 6], [6]], X, y)


def test_ten_classes_and_no_hidden_layer():
    X, y = DIGITS
    members = [dict(hidden_layer_sizes=[], learning_rate_init=lr, random_state=1) for lr in (0.001, 0.01)]
    assert_stack_matches_scikit_learn(members, [[2, 5], [5]], X, y)
    members = [dict(hidden_layer_sizes=[16, 8], learning_rate_init=lr, random_state=1) for lr in (0.001, 0.01)]
    assert_stack_matches_scikit_learn(members, [[4], [2, 4]], X, y)


def test_candidates_that_stop_at_different_epochs_leave_the_stack_alone():
    X, y = IRIS
    members = [dict(hidden_layer_sizes=[6], solver="sgd", learning_rate_init=0.1, tol=tol, n_iter_no_change=2,
                    random_state=3) for tol in (0.5, 0.05, 0.0)]
    reached = assert_stack_matches_scikit_learn(members, [[5, 40]] * 3, X, y)
    stops = {c.member: c.model.n_iter_ for c in reached if c.max_iter == 40}
    assert len(set(stops.values())) == 3, stops  # each left the stack at its own epoch
    assert {c.member: c.converged for c in reached if c.max_iter == 40} == {0: True, 1: True, 2: False}


def test_adaptive_learning_rate_is_divided_and_training_goes_on():
    X, y = MOONS
    members = [dict(solver="sgd", learning_rate="adaptive", learning_rate_init=lr, tol=0.5, n_iter_no_change=1,
                    hidden_layer_sizes=[3], random_state=0, early_stopping=es) for lr in (0.1, 1e-5)
               for es in (False,)]
    reached = assert_stack_matches_scikit_learn(members, [[12], [12]], X, y)
    rates = [c.model._optimizer.learning_rate for c in reached]
    assert rates[0] < 0.1 and reached[0].model.n_iter_ > 2  # divided by 5 at least once, and kept training


def test_early_stopping_keeps_the_best_weights_and_validation_scores():
    X, y = MOONS
    members = [dict(early_stopping=True, validation_fraction=0.3, learning_rate_init=lr, n_iter_no_change=3,
                    hidden_layer_sizes=[8], random_state=5) for lr in (0.3, 0.003)]
    reached = assert_stack_matches_scikit_learn(members, [[3, 30], [30]], X, y)
    model = next(c.model for c in reached if c.member == 0 and c.max_iter == 30)
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.coefs_ is model._best_coefs


@pytest.mark.parametrize("data", ["iris", "digits", "moons"])
def test_diverging_candidates_overflow_exactly_as_scikit_learn_does(data):
    X, y = DATASETS[data]
    members = [dict(solver="sgd", activation="identity", learning_rate_init=lr, momentum=0.99,
                    hidden_layer_sizes=[4, 4], random_state=2, tol=0.0) for lr in (50.0, 0.01)]
    reached = assert_stack_matches_scikit_learn(members, [[3, 10], [10]], X, y)
    diverged = next(c.model for c in reached if c.member == 0 and c.max_iter == 10)
    assert not np.isfinite(diverged.coefs_[0]).all()


def test_batches_of_one_unshuffled_and_larger_than_the_data():
    X, y = IRIS
    base = dict(hidden_layer_sizes=[3], random_state=4, learning_rate_init=0.01)
    assert_stack_matches_scikit_learn([{**base, "batch_size": 1, "shuffle": False}], [[2]], X, y)
    assert_stack_matches_scikit_learn([{**base, "batch_size": 1}], [[2]], X, y)
    with pytest.warns(UserWarning, match="It is going to be clipped"):
        list(train_stack(X, y, [{**base, "batch_size": 500}], [[2]]))
    assert_stack_matches_scikit_learn([{**base, "batch_size": 500}], [[1, 3]], X, y)


def test_a_dataframe_keeps_its_feature_names():
    X, y = IRIS
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    (checkpoint,) = assert_stack_matches_scikit_learn([dict(hidden_layer_sizes=[3], random_state=0)], [[4]], frame, y)
    assert list(checkpoint.model.feature_names_in_) == ["a", "b", "c", "d"]


def test_random_state_none_uses_the_global_generator_like_scikit_learn():
    X, y = IRIS
    params = dict(hidden_layer_sizes=[3], random_state=None)
    np.random.seed(11)
    (ours,) = _lean([params], [[3]], X, y)
    np.random.seed(11)
    reference, _ = _reference(params, 3, X, y)
    assert_same_fit(ours.model, reference)
    with pytest.raises(ValueError, match="random_state=None"):
        list(train_stack(X, y, [params, {**params, "alpha": 0.1}]))


# -- a generated family of stacks ---------------------------------------------------------


@st.composite
def stacks(draw):
    data = draw(st.sampled_from(sorted(DATASETS)))
    solver = draw(st.sampled_from(["sgd", "adam"]))
    shared = dict(
        hidden_layer_sizes=draw(st.lists(st.integers(1, 7), max_size=2)),
        activation=draw(st.sampled_from(["identity", "logistic", "tanh", "relu"])),
        solver=solver,
        batch_size=draw(st.sampled_from(["auto", 1, 7, 32, 64, 200])),
        shuffle=draw(st.booleans()),
        early_stopping=draw(st.booleans()),
        validation_fraction=draw(st.sampled_from([0.1, 0.25, 0.4])),
        nesterovs_momentum=draw(st.booleans()),
        random_state=draw(st.integers(0, 2**31 - 1)),
    )
    members = []
    for _ in range(draw(st.integers(1, 3))):
        member = dict(shared,
                      learning_rate_init=draw(st.sampled_from([1e-4, 1e-3, 0.01, 0.1, 1.0, 3])),
                      alpha=draw(st.sampled_from([0, 0.0, 1e-5, 1e-4, 0.01, 1.0])),
                      tol=draw(st.sampled_from([0.0, 1e-4, 1e-2, 0.3])),
                      n_iter_no_change=draw(st.integers(1, 4)),
                      max_iter=draw(st.integers(1, 10)))
        if solver == "sgd":
            member.update(learning_rate=draw(st.sampled_from(["constant", "invscaling", "adaptive"])),
                          momentum=draw(st.sampled_from([0, 0.5, 0.9, 1.0])),
                          power_t=draw(st.sampled_from([0.5, 0.25, 1])))
        else:
            member.update(beta_1=draw(st.sampled_from([0.9, 0.5, 0])),
                          beta_2=draw(st.sampled_from([0.999, 0.9])),
                          epsilon=draw(st.sampled_from([1e-8, 1e-3])))
        members.append(member)
    checkpoints = [sorted(set(draw(st.lists(st.integers(1, m["max_iter"]), min_size=1, max_size=3))))
                   for m in members]
    return data, members, checkpoints


@settings(max_examples=int(os.environ.get("TUNING_LEAN_EXAMPLES", 60)), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(stacks())
def test_generated_stacks_are_scikit_learns_fits(stack):
    data, members, checkpoints = stack
    X, y = DATASETS[data]
    try:
        assert_stack_matches_scikit_learn(members, checkpoints, X, y)
    except ValueError as exc:  # the same data-dependent error as scikit-learn's fit, or none
        with pytest.raises(ValueError, match=str(exc)):
            MLPClassifier(**members[0]).fit(X, y)


# -- what the trainer leaves to scikit-learn ----------------------------------------------


@pytest.mark.parametrize(("params", "reason"), [
    ({"solver": "lbfgs"}, "not a stochastic solver"),
    ({"verbose": True}, "verbose"),
    ({"random_state": np.random.RandomState(0)}, "neither an int nor None"),
    ({"random_state": True}, "neither an int nor None"),
    ({"learning_rate_init": np.float32(0.01)}, "not a Python number"),
    ({"learning_rate_init": -1.0}, "invalid parameters"),
    ({"hidden_layer_sizes": [4, 0]}, "invalid parameters"),
    ({"n_hidden": 3}, "unknown MLPClassifier parameters"),
    (MLPRegressor().get_params(), "an MLPRegressor: the lean trainer reproduces MLPClassifier's fit only"),
    ({"init": "glorot_uniform"}, "init='glorot_uniform': a weight-initialisation scheme is trained by scikit-learn"),
])
def test_what_is_not_covered_says_why(params, reason):
    assert reason in uncovered_reason(params)
    with pytest.raises(NotCovered, match=reason):
        list(train_stack(*IRIS, [params]))


def test_covered_parameters_have_no_reason():
    assert uncovered_reason({}) is None
    assert uncovered_reason({"solver": "sgd", "learning_rate": "adaptive", "random_state": 3, "alpha": 0}) is None


@pytest.mark.parametrize("library", sorted(INSTALLED))
def test_an_unverified_version_is_not_covered(library, monkeypatch):
    monkeypatch.setitem(lean.VERIFIED, library, ("0.0.1",))
    assert f"{library} {INSTALLED[library]} is not a version" in uncovered_reason({})


def test_float32_and_sparse_input_are_left_to_scikit_learn():
    X, y = IRIS
    with pytest.raises(NotCovered, match="float32"):
        list(train_stack(X.astype(np.float32), y, [{}]))
    from scipy.sparse import csr_matrix
    with pytest.raises(NotCovered, match="sparse"):
        list(train_stack(csr_matrix(X), y, [{}]))


def test_candidates_of_one_stack_may_differ_only_in_numbers():
    assert stack_key({"alpha": 0.1, "max_iter": 5}) == stack_key({"learning_rate_init": 0.3})
    assert stack_key({"hidden_layer_sizes": [3]}) != stack_key({"hidden_layer_sizes": [4]})
    with pytest.raises(ValueError, match="may differ only in"):
        list(train_stack(*IRIS, [{"activation": "relu"}, {"activation": "tanh"}]))


def test_a_too_small_validation_split_fails_as_in_scikit_learn():
    X, y = IRIS
    params = dict(early_stopping=True, validation_fraction=0.01)
    with pytest.raises(ValueError) as ours:
        list(train_stack(X, y, [params]))
    with pytest.raises(ValueError) as theirs:
        MLPClassifier(**params).fit(X, y)
    assert str(ours.value) == str(theirs.value)


def test_every_epoch_of_every_member_is_reported():
    X, y = MOONS
    seen = []
    members = [dict(hidden_layer_sizes=[3], random_state=0, early_stopping=True, learning_rate_init=lr)
               for lr in (0.01, 0.1)]
    reached = _lean(members, [[4], [2]], X, y, on_epoch=lambda *args: seen.append(args))
    assert [(m, n) for m, n, _, _ in seen] == [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (0, 4)]
    final = {c.member: c.model for c in reached}
    assert seen[-1][2] == final[0].loss_curve_ and seen[-1][3] == final[0].validation_scores_


def test_on_weights_sees_each_epochs_weights_and_can_stop_a_member_there():
    X, y = IRIS
    members = [dict(hidden_layer_sizes=[5], random_state=0, learning_rate_init=lr) for lr in (0.01, 0.1)]
    seen = {}

    def on_weights(member, n_iter, coefs, intercepts):
        seen[member, n_iter] = [w.copy() for w in coefs + intercepts]
        return not (member == 0 and n_iter == 3)  # stop the first after 3 epochs

    reached = _lean(members, [[6], [6]], X, y, on_weights=on_weights)
    assert sorted((c.member, c.max_iter) for c in reached) == [(0, 3), (1, 6)]
    assert sorted(seen) == [(0, 1), (0, 2), (0, 3)] + [(1, k) for k in range(1, 7)]
    for checkpoint in reached:  # each as a fit with that many epochs leaves it, and as on_weights saw it last
        reference, _ = _reference(members[checkpoint.member], checkpoint.max_iter, X, y)
        assert_same_fit(checkpoint.model, reference)
        last = seen[checkpoint.member, checkpoint.max_iter]
        assert all(a.tobytes() == b.tobytes() for a, b in zip(last, reference.coefs_ + reference.intercepts_))



def test_the_relu_derivative_writes_scikit_learns_bits_whatever_the_values():
    from sklearn.neural_network._base import inplace_relu_derivative

    from tuning.engine.lean import _ReluDerivative

    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-310, -5e-324, 2.5, -1.0])
    derivative = _ReluDerivative()
    for shape in [(3, 200, 32), (1, 7, 4), (3, 200, 32)]:  # the scratch arrays are reused for a shape seen before
        Z = np.maximum(rng.standard_normal(shape), 0.0)
        Z.flat[rng.integers(0, Z.size, Z.size // 5)] = rng.choice(special, Z.size // 5)
        delta = rng.standard_normal(shape)
        delta.flat[rng.integers(0, delta.size, delta.size // 5)] = rng.choice(special, delta.size // 5)
        expected = delta.copy()
        inplace_relu_derivative(Z, expected)
        derivative(Z, delta)
        assert np.array_equal(delta.view(np.uint64), expected.view(np.uint64))  # NaN payloads and signs of zero too
