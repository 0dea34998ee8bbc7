"""The contract users trust: run_search reports exactly what GridSearchCV reports."""

import os
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed
from joblib.executor import get_memmapping_executor
from joblib.externals.loky import reusable_executor as loky_pools
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

import tuning.engine.search
import tuning.engine.workers
from tuning.data.datasets import load_dataset
from tuning.engine.search import partial_result, run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.engine.training import worker_name
from tuning.errors import SearchFailed, SpecError

SPECS = {
    "adam": {"dataset": "iris", "cv": 3,
             "param_grid": {"hidden_layer_sizes": [[4], [8, 4]], "max_iter": [3, 10, 40],
                            "learning_rate_init": [0.01, 0.1]}},
    "sgd_tol_stops": {"dataset": "wine", "cv": 3, "estimator": {"solver": "sgd", "tol": 1e-2, "n_iter_no_change": 4},
                      "param_grid": {"hidden_layer_sizes": [[6]], "max_iter": [5, 30, 60], "momentum": [0.0, 0.9]}},
    "early_stopping": {"dataset": {"name": "moons", "n_samples": 200}, "cv": 4,
                       "estimator": {"early_stopping": True, "n_iter_no_change": 3, "random_state": 2},
                       "param_grid": {"solver": ["adam", "sgd"], "max_iter": [4, 15, 50],
                                      "learning_rate_init": [0.05]}},
    "no_preprocess_and_f1_macro": {"dataset": "wine", "cv": 3, "preprocess": "none", "scoring": "f1_macro",
                                   "param_grid": {"hidden_layer_sizes": [[5]], "max_iter": [2, 8]}},
    "list_of_grids_with_lbfgs": {"dataset": {"name": "xor", "n_samples": 120}, "cv": 3, "scoring": "balanced_accuracy",
                                 "param_grid": [{"solver": ["lbfgs"], "max_iter": [5, 20], "alpha": [1e-4, 1.0]},
                                                {"max_iter": [10, 20], "batch_size": [16, 200]}]},
}


def _gridsearchcv(spec):
    spec = parse_spec(spec)
    estimator, grid = sklearn_equivalent(spec)
    data = load_dataset(spec.dataset)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(estimator, grid, cv=spec.cv, scoring=spec.scoring, return_train_score=True)
        return search.fit(data.X, data.y), data


def _unprefixed(params):
    return {k.removeprefix("mlp__"): v for k, v in params.items()}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_scores_equal_gridsearchcv(name):
    reference, data = _gridsearchcv(SPECS[name])
    result = run_search(SPECS[name], n_jobs=1)
    ours = result.cv_results
    theirs = reference.cv_results_
    assert [_unprefixed(p) for p in theirs["params"]] == ours["params"]
    split_keys = [f"split{k}_{kind}_score" for k in range(result.n_splits) for kind in ("test", "train")]
    for key in ["mean_test_score", "std_test_score", "mean_train_score", "std_train_score", *split_keys]:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-9, err_msg=key)
    np.testing.assert_array_equal(ours["rank_test_score"], theirs["rank_test_score"])
    assert result.best_index == reference.best_index_
    assert result.best_params == _unprefixed(reference.best_params_)
    assert result.best_score == pytest.approx(reference.best_score_, abs=1e-9)
    np.testing.assert_array_equal(result.best_estimator.predict(data.X), reference.best_estimator_.predict(data.X))
    ours_mlp, theirs_mlp = result.best_estimator[-1], reference.best_estimator_[-1]
    assert [w.tobytes() for w in ours_mlp.coefs_ + ours_mlp.intercepts_] == [
        w.tobytes() for w in theirs_mlp.coefs_ + theirs_mlp.intercepts_]  # the refit is bit for bit scikit-learn's


def test_this_process_and_a_worker_share_the_units_and_give_the_same_result(monkeypatch):
    monkeypatch.setattr(tuning.engine.search, "IN_PROCESS_SECONDS", 0.0)  # this small search would run here alone
    get_memmapping_executor(1).submit(tuning.engine.workers.ready).result()  # a worker already up ...
    spec = {"dataset": "digits", "cv": 2, "param_grid": {"hidden_layer_sizes": [[16], [64]], "max_iter": [10, 40]}}
    # ... takes the costliest unit at once
    alone = run_search(spec, n_jobs=1, refit=False)
    shared = run_search(spec, n_jobs=2, refit=False)
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score"):
        assert alone.cv_results[key] == shared.cv_results[key]
    assert alone.curves == shared.curves
    here = worker_name()
    assert {f["worker"] for f in alone.fits} == {here}
    assert len({f["worker"] for f in shared.fits} - {here}) == 1  # the worker trained some, ...
    costliest = [f["worker"] for f in shared.fits if shared.cv_results["params"][f["candidate"]]["hidden_layer_sizes"]
                 == [64]]
    assert set(costliest) - {here}  # ... the costliest first
    assert all(0 <= f["start"] <= f["end"] for f in shared.fits)


def test_curves_keep_every_fold_with_lengths_equal_to_n_iter():
    result = run_search(SPECS["early_stopping"], n_jobs=1, refit=False)
    assert len(result.curves) == len(result.cv_results["params"])
    for curve, params in zip(result.curves, result.cv_results["params"]):
        assert curve["params"] == params
        assert len(curve["folds"]) == 4
        for fold in curve["folds"]:
            assert len(fold["loss_curve"]) == fold["n_iter"] == len(fold["validation_scores"])
            assert fold["n_iter"] <= params["max_iter"]


def test_epochs_trained_count_the_sharing():
    result = run_search(SPECS["adam"], n_jobs=1, refit=False)
    per_fit = sum(f["n_iter"] for f in result.fits)
    assert result.epochs_gridsearchcv == per_fit
    # 4 trajectories x 3 folds, each trained once to at most 40 epochs
    assert result.epochs_trained <= 4 * 3 * 40 < result.epochs_gridsearchcv


def test_result_loads_into_a_dataframe():
    result = run_search(SPECS["no_preprocess_and_f1_macro"], n_jobs=1, refit=False)
    frame = pd.DataFrame(result.cv_results)
    assert len(frame) == 2
    assert {"params", "param_max_iter", "mean_test_score", "rank_test_score", "split2_train_score"} <= set(frame)


def test_progress_reports_every_unit_and_ends_complete():
    seen = []
    result = run_search(SPECS["adam"], n_jobs=1, refit=False, progress=seen.append)
    assert seen[0].fits_done == 0
    assert [p.fits_done for p in seen] == sorted(p.fits_done for p in seen)
    assert seen[-1].fits_done == seen[-1].fits_total == result.fits_total == 36
    assert seen[-1].fraction == 1.0
    assert seen[-1].last_params in result.cv_results["params"]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cancelling_keeps_every_finished_fit(n_jobs):
    cancel = threading.Event()

    def stop_after_two_units(p):
        if p.fits_done >= 4:
            cancel.set()

    full = run_search(SPECS["adam"], n_jobs=1, refit=False)
    result = run_search(SPECS["adam"], n_jobs=n_jobs, progress=stop_after_two_units, cancel=cancel)
    assert result.status == "cancelled"
    assert 4 <= result.fits_done < result.fits_total
    assert len(result.fits) == result.fits_done
    assert result.best_estimator is None
    for fit in result.fits:  # every kept fit has the score an uninterrupted run gives it
        key = f"split{fit['fold']}_test_score"
        assert result.cv_results[key][fit["candidate"]] == full.cv_results[key][fit["candidate"]]
    unfinished = [i for i, c in enumerate(result.curves) if None in c["folds"]]
    assert all(np.isnan(result.cv_results["mean_test_score"][i]) for i in unfinished)


@pytest.mark.parametrize(
    ("spec", "field", "match"),
    [
        ({"dataset": "iris", "cv": 60, "param_grid": {}}, "cv",
         r"60 folds need at least 60 rows of one class, but no class of iris has more than 50 .*Use cv=50"),
        ({"dataset": "iris", "param_grid": {"max_iter": [100_000]}}, "param_grid", r"above the cap of 200,000"),
    ],
)
def test_data_dependent_errors_come_before_any_fit(spec, field, match):
    with pytest.raises(SpecError, match=match) as info:
        run_search(spec, n_jobs=1)
    assert info.value.field == field


def test_max_epochs_cap_is_configurable(monkeypatch):
    spec = {"dataset": "iris", "cv": 3, "param_grid": {"max_iter": [10, 20]}}
    with pytest.raises(SpecError, match=r"up to 60 epochs .* above the cap of 50"):
        run_search(spec, max_epochs=50)
    monkeypatch.setenv("TUNING_MAX_EPOCHS", "59")
    with pytest.raises(SpecError, match="cap of 59"):
        run_search(spec)


def test_all_fits_failing_is_one_clear_error():
    spec = {"dataset": "iris", "cv": 3, "estimator": {"early_stopping": True, "validation_fraction": 0.01},
            "param_grid": {"max_iter": [3]}}
    with pytest.raises(SearchFailed, match=r"all 3 fits failed; the first error was: ValueError: "):
        run_search(spec, n_jobs=1)


def test_each_fit_says_which_trainer_ran_it():
    result = run_search(SPECS["list_of_grids_with_lbfgs"], n_jobs=1, refit=False)
    trainers = {(result.cv_results["params"][f["candidate"]].get("solver"), f["trainer"]) for f in result.fits}
    assert trainers == {("lbfgs", "scikit-learn"), (None, "lean")}


def test_a_small_search_runs_here_rather_than_starting_workers():
    result = run_search(SPECS["adam"], n_jobs=2, refit=False)
    assert {f["worker"] for f in result.fits} == {worker_name()}


def _dies_on_a_worker(unit, parent):
    """A unit of work that kills the worker process it runs on, and takes a moment here."""
    if os.getpid() != parent:
        os._exit(1)
    time.sleep(0.2)
    return unit


def test_a_unit_whose_worker_dies_is_trained_here():
    get_memmapping_executor(1).submit(tuning.engine.workers.ready).result()  # up, and takes a unit at once
    parent, made, done = os.getpid(), [], []

    def task(unit):
        made.append(unit)
        return delayed(_dies_on_a_worker)(unit, parent)

    assert tuning.engine.search._run_here_and_on_workers([0, 1, 2, 3], task, lambda u: 1.0, 1, done.append, None)
    assert sorted(done) == [0, 1, 2, 3]
    assert made.count(0) == 2  # sent to the worker, which died, then trained here


def test_the_result_so_far_of_a_running_search_has_what_its_finished_units_found(tmp_path):
    spec = parse_spec({"dataset": "iris", "cv": 3, "param_grid": {"hidden_layer_sizes": [[2], [8]],
                                                                   "max_iter": [5, 20]}})
    store = ExperimentStore(tmp_path / "runs.sqlite")
    data = load_dataset(spec.dataset)
    finished = run_search(spec, n_jobs=1, store=store, data=data, refit=False)
    units = store.units(finished.experiment_id)
    so_far = partial_result(spec, data, [u for u in units if u.unit != units[-1].unit])  # one unit still to come
    done = {r.candidate for u in units[:-1] for r in u.records}
    waiting = {r.candidate for r in units[-1].records}
    for c in range(len(so_far.curves)):
        complete = all(f is not None for f in so_far.curves[c]["folds"])
        assert complete == (c not in waiting)
        if complete:
            assert so_far.cv_results["mean_test_score"][c] == finished.cv_results["mean_test_score"][c]
        else:
            assert np.isnan(so_far.cv_results["mean_test_score"][c]) and c in done | waiting
    assert so_far.status == "cancelled" and so_far.fits_done == finished.fits_done - len(units[-1].records)


def test_scikit_learns_parallel_runs_after_our_workers_in_the_same_process():
    """A notebook runs tuning.GridSearchCV, then scikit-learn's: joblib must be able to reuse our pool."""
    get_memmapping_executor(1).shutdown(wait=True, kill_workers=True)  # the runner starts its own worker
    done, parent = [], os.getpid()
    assert tuning.engine.search._run_here_and_on_workers(
        list(range(12)), lambda u: delayed(_slow_pid)(u), lambda u: 1.0, 1, done.append, None)
    assert sorted(u for u, _ in done) == list(range(12))
    assert {pid for _, pid in done} - {parent}, "a worker process took units"
    pool = loky_pools._executor  # what joblib's next Parallel reuses, unless it was shut down
    assert pool is None or pool._flags.shutdown or hasattr(pool, "_temp_folder_manager")
    assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]


def _slow_pid(unit):
    time.sleep(0.4)
    return unit, os.getpid()
