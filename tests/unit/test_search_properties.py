"""Random specs, every score equal to GridSearchCV's: the property behind "exactly GridSearchCV's scores"."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec

VALUES = {  # small values that still reach tol stops, early stopping, clipped batches and scorer failures
    "solver": st.sampled_from(["adam", "sgd", "lbfgs"]),
    "learning_rate": st.sampled_from(["constant", "invscaling", "adaptive"]),
    "learning_rate_init": st.sampled_from([1e-3, 0.01, 0.1, 0.5]),
    "batch_size": st.sampled_from(["auto", 1, 16, 64, 500]),
    "early_stopping": st.booleans(),
    "tol": st.sampled_from([0.0, 1e-4, 0.05]),
    "n_iter_no_change": st.sampled_from([1, 2, 5]),
    "activation": st.sampled_from(["relu", "tanh", "logistic", "identity"]),
    "hidden_layer_sizes": st.sampled_from([[], [3], [8], [4, 3]]),
    "alpha": st.sampled_from([1e-4, 0.1, 3.0]),
    "momentum": st.sampled_from([0.0, 0.9]),
    "validation_fraction": st.sampled_from([0.1, 0.3]),
}
SCORERS = ["accuracy", "balanced_accuracy", "f1_macro", "f1", "neg_log_loss", "roc_auc_ovr", "roc_auc",
           "matthews_corrcoef", "average_precision", "neg_brier_score", "precision_weighted", "jaccard_micro"]
DATASETS = [{"name": "iris"}, {"name": "moons", "n_samples": 60, "noise": 0.3}, {"name": "wine"},
            {"name": "blobs", "n_samples": 60, "centers": 4}]


@st.composite
def grids(draw):
    names = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=2, unique=True))
    grid = {name: draw(st.lists(VALUES[name], min_size=1, max_size=2, unique_by=str)) for name in names}
    grid["max_iter"] = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
    return grid


@st.composite
def specs(draw):
    fixed = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True))
    return {
        "dataset": draw(st.sampled_from(DATASETS)),
        "cv": draw(st.integers(2, 4)),
        "preprocess": draw(st.sampled_from(["standard", "none"])),
        "scoring": draw(st.sampled_from(SCORERS)),
        "estimator": {"random_state": draw(st.integers(0, 3)), **{n: draw(VALUES[n]) for n in fixed}},
        "param_grid": draw(st.lists(grids(), min_size=1, max_size=2)),
    }


def _gridsearchcv(spec):
    spec = parse_spec(spec)
    estimator, grid = sklearn_equivalent(spec)
    data = load_dataset(spec.dataset)
    search = GridSearchCV(estimator, grid, cv=spec.cv, scoring=spec.scoring, return_train_score=True, refit=False)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return search.fit(data.X, data.y), None
        except ValueError as exc:  # "All the N fits failed"
            return None, exc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_random_specs_score_exactly_as_gridsearchcv(spec):
    reference, refused = _gridsearchcv(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = run_search(spec, n_jobs=1, refit=False)
        except Exception as exc:  # the engine may only refuse what GridSearchCV refuses
            assert refused is not None, f"{type(exc).__name__}: {exc}"
            assert "fits failed" in str(exc) and "fits failed" in str(refused)
            return
    assert refused is None, f"GridSearchCV raised {refused!r}, the engine did not"
    theirs = reference.cv_results_
    assert [{k.removeprefix("mlp__"): v for k, v in p.items()} for p in theirs["params"]] == result.cv_results["params"]
    for key in theirs:
        if key.endswith(("_test_score", "_train_score")):
            np.testing.assert_array_equal(np.asarray(result.cv_results[key], dtype=float), theirs[key], err_msg=key)
    np.testing.assert_array_equal(result.cv_results["rank_test_score"], theirs["rank_test_score"])
    assert result.best_index == reference.best_index_
