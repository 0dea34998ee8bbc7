"""Regression keeps the classification contract: run_search reports exactly what GridSearchCV(MLPRegressor) reports."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search, sklearn_equivalent, split_folds
from tuning.engine.spec import for_data, parse_spec
from tuning.engine.store import ExperimentStore
from tuning.errors import SpecError
from tuning.figures import fig_error_vs_hidden_size, fig_fit_curve, fig_predicted_vs_actual
from tuning.services.playground import fit_network, train_network

CSV = Path(__file__).resolve().parents[1] / "data" / "csv"

SPECS = {
    "adam_r2": {"dataset": {"name": "sine", "n_samples": 80}, "cv": 3,
                "param_grid": {"hidden_layer_sizes": [[4], [8, 4]], "max_iter": [3, 10, 40],
                               "learning_rate_init": [0.01, 0.1]}},
    "sgd_rmse_tol_stops": {"dataset": {"name": "friedman1", "n_samples": 120}, "cv": 3,
                           "scoring": "neg_root_mean_squared_error",
                           "estimator": {"solver": "sgd", "tol": 1e-2, "n_iter_no_change": 4},
                           "param_grid": {"hidden_layer_sizes": [[6]], "max_iter": [5, 30, 60],
                                          "momentum": [0.0, 0.9]}},
    "early_stopping_mae": {"dataset": "diabetes", "cv": 4, "scoring": "neg_mean_absolute_error",
                           "estimator": {"early_stopping": True, "n_iter_no_change": 3, "random_state": 2},
                           "param_grid": {"solver": ["adam", "sgd"], "max_iter": [4, 15, 50],
                                          "learning_rate_init": [0.05]}},
    "no_target_scaling": {"dataset": {"name": "sine", "n_samples": 60}, "cv": 3, "preprocess": "none",
                          "param_grid": {"hidden_layer_sizes": [[5]], "max_iter": [2, 8]}},
    "list_of_grids_with_lbfgs_and_poisson": {
        "dataset": {"name": "friedman1", "n_samples": 90}, "cv": 3, "scoring": "explained_variance",
        "param_grid": [{"solver": ["lbfgs"], "max_iter": [5, 20], "alpha": [1e-4, 1.0]},
                       {"max_iter": [10, 20], "batch_size": [16, 200], "loss": ["squared_error", "poisson"]}]},
    "csv_mtcars_mpg": {"dataset": {"csv": str(CSV / "mtcars.csv"), "target": "mpg"}, "cv": 3,
                       "param_grid": {"hidden_layer_sizes": [[3], [12]], "max_iter": [5, 50]}},
}


def _gridsearchcv(spec):
    spec = parse_spec(spec)
    data = load_dataset(spec.dataset, task=None if spec.task == "auto" else spec.task)
    estimator, grid = sklearn_equivalent(spec, data)
    spec = for_data(spec, data)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(estimator, grid, cv=spec.cv, scoring=spec.scoring, return_train_score=True)
        return search.fit(data.X, data.y), data


def _unprefixed(params):
    return {k.removeprefix("regressor__").removeprefix("mlp__"): v for k, v in params.items()}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_regression_scores_equal_gridsearchcv_exactly(name):
    reference, data = _gridsearchcv(SPECS[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_search(SPECS[name], n_jobs=1)
    ours, theirs = result.cv_results, reference.cv_results_
    assert result.spec.task == "regression"
    assert [_unprefixed(p) for p in theirs["params"]] == ours["params"]
    split_keys = [f"split{k}_{kind}_score" for k in range(result.n_splits) for kind in ("test", "train")]
    for key in ["mean_test_score", "std_test_score", "mean_train_score", "std_train_score", *split_keys]:
        assert ours[key] == theirs[key].tolist(), key  # bit for bit, NaN where both failed
    assert ours["rank_test_score"] == theirs["rank_test_score"].tolist()
    assert result.best_index == reference.best_index_ and result.best_score == reference.best_score_
    np.testing.assert_array_equal(result.best_estimator.predict(data.X), reference.best_estimator_.predict(data.X))


def test_the_target_is_scaled_inside_the_pipeline_unless_preprocessing_is_off():
    scaled, grid = sklearn_equivalent(SPECS["adam_r2"])
    assert isinstance(scaled, TransformedTargetRegressor) and type(scaled.regressor[-1]) is MLPRegressor
    assert set(grid[0]) == {"regressor__mlp__hidden_layer_sizes", "regressor__mlp__max_iter",
                            "regressor__mlp__learning_rate_init"}
    plain, grid = sklearn_equivalent(SPECS["no_target_scaling"])
    assert type(plain[-1]) is MLPRegressor and set(grid[0]) == {"mlp__hidden_layer_sizes", "mlp__max_iter"}


@pytest.mark.parametrize("name", ["adam_r2", "no_target_scaling"])
def test_shared_training_trains_each_trajectory_once_and_keeps_every_curve(name):
    result = run_search(SPECS[name], n_jobs=1, refit=False)
    assert {f["trainer"] for f in result.fits} == {"scikit-learn"}  # the lean trainer is MLPClassifier's only
    assert result.epochs_trained < result.epochs_gridsearchcv
    for curve in result.curves:
        for fold in curve["folds"]:
            assert len(fold["loss_curve"]) == fold["n_iter"] > 0


def test_regression_folds_are_kfold_as_check_cv_makes_them_for_a_regressor():
    spec = parse_spec(SPECS["adam_r2"])
    data = load_dataset(spec.dataset)
    expected = list(KFold(3).split(data.X))
    for (train, test), (their_train, their_test) in zip(split_folds(spec, data), expected):
        np.testing.assert_array_equal(train, their_train)
        np.testing.assert_array_equal(test, their_test)


def test_a_csv_task_is_chosen_from_the_target_and_can_be_overridden():
    auto = parse_spec(SPECS["csv_mtcars_mpg"])
    assert auto.task == "auto" and auto.scoring is None
    result = run_search({**SPECS["csv_mtcars_mpg"], "param_grid": {"max_iter": [5]}}, n_jobs=1, refit=False)
    assert (result.spec.task, result.spec.scoring) == ("regression", "r2")
    classes = run_search({**SPECS["csv_mtcars_mpg"], "task": "classification", "cv": 2,
                          "dataset": {"csv": str(CSV / "mtcars.csv"), "target": "cyl"},
                          "param_grid": {"max_iter": [5]}}, n_jobs=1, refit=False)
    assert (classes.spec.task, classes.spec.scoring) == ("classification", "accuracy")


@pytest.mark.parametrize(("spec", "message"), [
    ({"dataset": "diabetes", "scoring": "accuracy"}, "'accuracy' scores classes, and this is a regression"),
    ({"dataset": "iris", "task": "regression"}, "iris is a classification dataset, not regression"),
    ({"dataset": "diabetes", "task": "clustering"}, "task: got 'clustering'"),
    ({"dataset": "iris", "estimator": {"loss": "poisson"}}, "loss is an MLPRegressor parameter"),
    ({"dataset": "diabetes", "estimator": {"loss": "hinge"}}, "estimator.loss: got 'hinge'"),
])
def test_a_spec_that_does_not_suit_its_task_is_refused_naming_the_field(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_spec({"param_grid": {"max_iter": [5]}, **spec})


def test_a_regression_spec_keeps_its_task_through_json_and_a_classification_one_reads_as_before():
    regression = parse_spec(SPECS["adam_r2"])
    assert regression.to_dict()["task"] == "regression" and parse_spec(regression.to_dict()) == regression
    assert "task" not in parse_spec({"dataset": "iris", "param_grid": {"max_iter": [5]}}).to_dict()


# --- the drop-in tuning.GridSearchCV with a regressor ----------------------------------------------------------

X_SINE, Y_SINE = load_dataset({"name": "sine", "n_samples": 90}).X, load_dataset({"name": "sine", "n_samples": 90}).y
MLP = MLPRegressor(hidden_layer_sizes=[6], learning_rate_init=0.05, random_state=0)


def _both(estimator, grid, **kwargs):
    from tuning import GridSearchCV as OurGridSearchCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = GridSearchCV(estimator, grid, cv=3, return_train_score=True, **kwargs).fit(X_SINE, Y_SINE)
        ours = OurGridSearchCV(estimator, grid, cv=3, return_train_score=True, **kwargs).fit(X_SINE, Y_SINE)
    return ours, theirs


@pytest.mark.parametrize(("estimator", "prefix"), [
    (MLP, ""),
    (make_pipeline(StandardScaler(), MLP), "mlpregressor__"),
    (TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), MLP), transformer=StandardScaler()),
     "regressor__mlpregressor__"),
], ids=["MLPRegressor", "Pipeline", "TransformedTargetRegressor"])
@pytest.mark.parametrize("scoring", [None, "neg_root_mean_squared_error", ["r2", "neg_mean_absolute_error"]])
def test_the_drop_in_search_takes_a_regressor_and_reports_what_scikit_learn_does(estimator, prefix, scoring):
    grid = {f"{prefix}max_iter": [3, 12, 30], f"{prefix}alpha": [1e-4, 0.1]}
    refit = "r2" if isinstance(scoring, list) else True
    ours, theirs = _both(estimator, grid, scoring=scoring, refit=refit)
    assert ours.epochs_trained_ < ours.epochs_gridsearchcv_  # the engine ran it, sharing the max_iter runs
    for key, expected in theirs.cv_results_.items():
        if "time" not in key and not key.startswith("param"):
            np.testing.assert_array_equal(ours.cv_results_[key], expected, err_msg=key)
    assert ours.best_index_ == theirs.best_index_ and ours.best_score_ == theirs.best_score_
    np.testing.assert_array_equal(ours.predict(X_SINE), theirs.predict(X_SINE))
    assert ours.to_result().dataset["task"] == "regression" and ours.to_result().dataset["classes"] == {}


# --- figures and the playground speak the task's language ----------------------------------------------------


def test_error_vs_hidden_size_reads_rmse_in_the_targets_units_and_r2_as_one_minus():
    rmse = run_search(SPECS["sgd_rmse_tol_stops"], n_jobs=1, refit=False)
    figure = fig_error_vs_hidden_size(rmse)
    assert figure.layout.yaxis.title.text == "RMSE (in the target's units)"
    cv_line = next(t for t in figure.data if t.name and t.name.startswith("CV error"))
    best = max(range(len(rmse.cv_results["params"])), key=lambda i: rmse.cv_results["mean_test_score"][i])
    assert cv_line.y[0] == -rmse.cv_results["mean_test_score"][best]  # the error itself, not 1 − score
    r2 = run_search(SPECS["no_target_scaling"], n_jobs=1, refit=False)
    assert fig_error_vs_hidden_size(r2).layout.yaxis.title.text == "error (1 − R²)"


def test_predicted_versus_actual_plots_every_row_against_the_diagonal():
    data = load_dataset({"name": "friedman1", "n_samples": 100})
    model = fit_network(data, {"hidden_layer_sizes": [8], "max_iter": 50, "random_state": 0})
    figure = fig_predicted_vs_actual(model, data)
    diagonal, rows = figure.data
    assert list(rows.x) == data.y.tolist() and list(rows.y) == model.predict(data.X).tolist()
    assert diagonal.x[0] == diagonal.y[0] and diagonal.x[1] == diagonal.y[1]
    assert "RMSE" in figure.layout.title.text


def test_the_fit_curve_on_one_feature_is_the_models_prediction_over_x():
    data = load_dataset({"name": "sine", "n_samples": 50})
    model = fit_network(data, {"hidden_layer_sizes": [8], "max_iter": 50, "random_state": 0})
    points, curve = fig_fit_curve(model, data, resolution=40).data
    assert list(points.x) == data.X[:, 0].tolist() and list(points.y) == data.y.tolist()
    assert len(curve.x) == 40 and list(curve.y) == model.predict(np.asarray(curve.x).reshape(-1, 1)).tolist()


def test_the_playground_trains_a_regressor_on_an_unstratified_split_and_reports_r2():
    data = load_dataset({"name": "diabetes"})
    params = {"hidden_layer_sizes": [8], "max_iter": 40, "random_state": 0, "learning_rate_init": 0.01}
    epochs = []
    run = train_network(data, params, on_epoch=lambda progress: epochs.append(progress.epoch))
    assert run.task == "regression" and run.trainer == "scikit-learn"
    assert epochs == list(range(1, 41)) and len(run.loss_curve) == 40
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0)
    by_hand = TransformedTargetRegressor(make_pipeline(StandardScaler(), MLPRegressor(**params)),
                                         transformer=StandardScaler())
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        by_hand.fit(X_train, y_train)
    assert run.test_score == by_hand.score(X_test, y_test)


# --- the store, Dask and the CLI carry a regression as they carry a classification ----------------------------


def test_a_regression_is_stored_resumed_from_the_store_and_listed(tmp_path):
    store = ExperimentStore(tmp_path / "experiments.sqlite")
    first = run_search(SPECS["adam_r2"], n_jobs=1, store=store)
    again = run_search(SPECS["adam_r2"], n_jobs=1, store=store)
    assert again.experiment_id == first.experiment_id and again.cv_results == first.cv_results
    assert again.spec.task == "regression" and again.dataset["task"] == "regression"
    (row,) = store.list()
    assert row["best_score"] == first.best_score


def test_a_regression_on_a_local_dask_cluster_equals_the_local_run():
    on_dask = run_search(SPECS["no_target_scaling"], n_jobs=2, scheduler="local", refit=False)
    local = run_search(SPECS["no_target_scaling"], n_jobs=1, refit=False)
    assert on_dask.cv_results["mean_test_score"] == local.cv_results["mean_test_score"]
    assert on_dask.curves == local.curves
    assert all(f["worker"].startswith("tcp://127.0.0.1:") for f in on_dask.fits)


def test_the_cli_runs_a_regression_csv_and_names_its_scorer(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPECS["csv_mtcars_mpg"], "scoring": "neg_mean_absolute_error"}))
    proc = subprocess.run([sys.executable, "-m", "tuning", "run", str(spec), "--out", str(tmp_path / "r.json"),
                           "--no-store", "--quiet"], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("best neg_mean_absolute_error: -")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["spec"]["task"] == "regression"


def test_a_csv_read_as_classes_and_as_numbers_is_never_paired():
    from tuning.services.compare import why_not_paired

    spec = {"dataset": {"csv": str(CSV / "mtcars.csv"), "target": "mpg"}, "cv": 3, "param_grid": {"max_iter": [5]}}
    as_numbers = {**spec, "task": "regression"}
    as_classes = {**spec, "task": "classification", "scoring": "r2"}  # even with the same scorer
    assert why_not_paired(as_numbers, as_classes) == "one is a regression and the other a classification"
