"""Fail like GridSearchCV, never like a bug: the specs that once broke, each against scikit-learn."""

import json
import math
import re
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.errors import SearchFailed

ROOT = Path(__file__).resolve().parents[2]
# breast_cancer unscaled, sgd with a large step: 2 of 3 folds (and the refit) overflow to non-finite weights,
# so every candidate's mean is NaN.
DIVERGING = {"dataset": "breast_cancer", "cv": 3, "preprocess": "none",
             "estimator": {"solver": "sgd", "activation": "identity", "learning_rate_init": 0.4, "momentum": 0.9,
                           "tol": 0.0, "n_iter_no_change": 1000},
             "param_grid": {"max_iter": [30], "alpha": [1e-4, 1e-3, 1e-2]}}
SPECS = {
    # the train score fails on fold 2 of candidate 1 (a prediction of 0 has no Poisson deviance); its test score stands
    "train_score_fails_alone": {"dataset": {"name": "blobs", "n_samples": 60, "centers": 3}, "cv": 3,
                                "scoring": "neg_mean_poisson_deviance", "estimator": {"random_state": 1},
                                "param_grid": {"max_iter": [1, 3], "hidden_layer_sizes": [[2], [8]]}},
    "every_mean_nan": DIVERGING,
    **{f"multiclass_{scoring}": {"dataset": "iris", "cv": 3, "scoring": scoring,
                                 "param_grid": {"max_iter": [3, 8], "alpha": [1e-4, 1.0]}}
       for scoring in ("matthews_corrcoef", "average_precision", "neg_brier_score", "f1", "roc_auc")},
    "no_hidden_layer": {"dataset": "wine", "cv": 3, "param_grid": {"hidden_layer_sizes": [[], [4]], "max_iter": [5]}},
    # 49 folds on wine: its smallest class has 48 rows, which scikit-learn only warns about
    "cv_above_smallest_class": {"dataset": "wine", "cv": 49, "param_grid": {"max_iter": [2]}},
}


def _gridsearchcv(spec):
    spec = parse_spec(spec)
    estimator, grid = sklearn_equivalent(spec)
    data = load_dataset(spec.dataset)
    search = GridSearchCV(estimator, grid, cv=spec.cv, scoring=spec.scoring, return_train_score=True, refit=False)
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(data.X, data.y)
    return search, caught


def _ours(spec, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_search(spec, n_jobs=1, refit=False, **kwargs)
    return result, caught


def _kinds(caught):
    """What was warned, by category and first line (tracebacks in the details differ by frames)."""
    return {(w.category.__name__, str(w.message).splitlines()[0]) for w in caught
            if w.category.__name__ != "ConvergenceWarning" and not _NUMPY_FLOATING.match(str(w.message))}


# numpy's floating-point warnings from inside a diverging fit ("overflow encountered in dot"):
# the lean trainer computes under np.errstate(all="ignore") (same numbers, no warning per
# operation); what such a fit leads to (non-finite weights, NaN scores, FitFailedWarning) is compared.
_NUMPY_FLOATING = re.compile(r"(overflow|invalid value|divide by zero|underflow) encountered in ")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_same_numbers_nans_best_candidate_and_warnings_as_gridsearchcv(name):
    reference, their_warnings = _gridsearchcv(SPECS[name])
    result, our_warnings = _ours(SPECS[name])
    theirs = reference.cv_results_
    ours = result.cv_results
    score_keys = [k for k in theirs if k.endswith(("_test_score", "_train_score")) and not k.startswith("rank")]
    for key in score_keys:
        np.testing.assert_array_equal(np.asarray(ours[key], dtype=float), theirs[key], err_msg=key)
    np.testing.assert_array_equal(ours["rank_test_score"], theirs["rank_test_score"])
    assert result.best_index == reference.best_index_
    assert result.best_score == reference.best_score_ or (math.isnan(result.best_score)
                                                          and math.isnan(reference.best_score_))
    assert _kinds(our_warnings) == _kinds(their_warnings)


def test_specs_reach_the_edges_they_are_named_for():
    failed_train, _ = _ours(SPECS["train_score_fails_alone"])
    tests, trains = (np.array(failed_train.cv_results[f"split2_{kind}_score"]) for kind in ("test", "train"))
    assert np.isnan(trains).any() and not np.isnan(tests[np.isnan(trains)]).any()
    diverged, _ = _ours(DIVERGING)
    assert np.isnan(diverged.cv_results["mean_test_score"]).all() and diverged.best_index == 0
    f1, _ = _ours(SPECS["multiclass_f1"])
    assert np.isnan(f1.cv_results["mean_test_score"]).all()  # scorer failures, not fit failures: no SearchFailed
    assert any(w.startswith("scoring failed on 12 of 12 fits") for w in f1.warnings)
    small_class, _ = _ours(SPECS["cv_above_smallest_class"])
    assert "The least populated class in y has only 48 members, which is less than n_splits=49." in small_class.warnings


def test_a_refit_that_diverges_keeps_the_cross_validation_results(tmp_path):
    data = load_dataset(parse_spec(DIVERGING).dataset)
    estimator, grid = sklearn_equivalent(DIVERGING)
    with pytest.raises(ValueError, match="non-finite parameter weights"), threadpool_limits(limits=1):
        GridSearchCV(estimator, grid, cv=3).fit(data.X, data.y)  # scikit-learn gives up here
    store = ExperimentStore(tmp_path / "store.sqlite")
    result = run_search(DIVERGING, n_jobs=1, store=store)
    assert result.best_estimator is None and "non-finite parameter weights" in result.refit_error
    assert ".." not in result.refit_error
    assert len(result.cv_results["mean_test_score"]) == 3 and result.fits_done == result.fits_total
    row = store.get(result.experiment_id)
    assert row["status"] == "finished" and row["fits_done"] == 9
    again = run_search(DIVERGING, n_jobs=1, store=store)  # the next run is served, not crashed
    assert again.refit_error == result.refit_error and again.best_estimator is None
    assert again.best_index == 0 and math.isnan(again.best_score)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tuning", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_cli_reports_a_nan_best_score_and_a_failed_refit_in_one_message(tmp_path):
    spec, out, model = tmp_path / "spec.json", tmp_path / "result.json", tmp_path / "best.joblib"
    spec.write_text(json.dumps(DIVERGING))
    proc = _cli("run", spec, "--out", out, "--model", model, "--quiet", "--no-store")
    assert proc.returncode == 2, proc.stderr
    assert "best accuracy: nan with {\"alpha\": 0.0001, \"max_iter\": 30}" in proc.stdout
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"no model was written to {model}" in errors[0] and ".." not in errors[0]
    assert json.loads(out.read_text())["best_index"] == 0 and not model.exists()
    store = tmp_path / "store.sqlite"
    for _ in range(2):  # with the store, and once more from it
        proc = _cli("run", spec, "--out", out, "--quiet", "--store", store)
        assert proc.returncode == 0, proc.stderr
        assert "the stored experiment has no model" in proc.stderr
    listed = _cli("list", "--store", store)
    assert listed.returncode == 0 and "finished" in listed.stdout


def test_a_networks_verbose_output_never_reaches_the_clis_standard_output(tmp_path):
    spec, out = tmp_path / "spec.json", tmp_path / "result.json"
    for n_jobs in (1, 2):
        spec.write_text(json.dumps({"dataset": "iris", "cv": 3, "n_jobs": n_jobs, "estimator": {"verbose": True},
                                    "param_grid": {"max_iter": [2, 4]}}))
        proc = _cli("run", spec, "--out", out, "--quiet", "--no-store")
        assert proc.returncode == 0, proc.stderr
        assert "Iteration 1, loss" in proc.stderr
        assert [line.split()[0] for line in proc.stdout.splitlines()] == ["best", "6", "wrote"]


def test_all_fits_failing_is_one_sentence_with_single_full_stops():
    spec = {"dataset": "iris", "cv": 3, "estimator": {"early_stopping": True, "validation_fraction": 0.01},
            "param_grid": {"max_iter": [3]}}
    with pytest.raises(SearchFailed) as info:
        run_search(spec, n_jobs=1)
    assert str(info.value).startswith("all 3 fits failed") and ".." not in str(info.value)


def test_a_store_with_nan_written_by_an_older_version_still_lists(tmp_path):
    store = ExperimentStore(tmp_path / "store.sqlite")
    result = run_search({"dataset": "iris", "cv": 3, "param_grid": {"max_iter": [2]}}, n_jobs=1, store=store,
                        refit=False)
    with sqlite3.connect(store.path) as db:  # what a diverged loss curve used to leave in the records
        db.execute("UPDATE units SET records = replace(records, '\"loss_curve\": [', '\"loss_curve\": [NaN, ')")
    assert store.get(result.experiment_id)["fits_done"] == 3
    listed = _cli("list", "--store", store.path)
    assert listed.returncode == 0 and result.experiment_id in listed.stdout
