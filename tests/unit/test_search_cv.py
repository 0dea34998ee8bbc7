"""tuning.GridSearchCV against sklearn.model_selection.GridSearchCV: the same search, key by key."""

import hashlib
import inspect
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import model_selection
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, get_scorer, make_scorer
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.model_selection._search import BaseSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tuning
from tuning import GridSearchCV

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
GROUPS = np.arange(len(Y_IRIS)) % 5
OURS_ONLY = {"loss_curves_", "validation_scores_", "n_iters_", "fit_log_", "epochs_trained_", "epochs_gridsearchcv_"}


def _fit_both(estimator, param_grid, X=X_IRIS, y=Y_IRIS, fit_params=None, **kwargs):
    fit_params = fit_params or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = model_selection.GridSearchCV(estimator, param_grid, **kwargs).fit(X, y, **fit_params)
        ours = GridSearchCV(estimator, param_grid, **kwargs).fit(X, y, **fit_params)
    return ours, theirs


def _outcome(method, *args):
    """What a call returns, or the type of what it raises."""
    try:
        return method(*args)
    except Exception as exc:
        return type(exc)


def assert_same_search(ours, theirs, X=X_IRIS):
    """Every cv_results_ key but the times equal (== on scores, NaN matching NaN), and the same best."""
    assert isinstance(ours, model_selection.GridSearchCV)
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    for key, expected in theirs.cv_results_.items():
        got = ours.cv_results_[key]
        if "time" in key:
            assert np.shape(got) == np.shape(expected), key
        elif key == "params":
            assert got == expected
        elif key.startswith("param_"):
            assert (np.ma.getmaskarray(got) == np.ma.getmaskarray(expected)).all(), key
            assert [repr(v) for v in got.data[~got.mask]] == [repr(v) for v in expected.data[~expected.mask]], key
        else:
            np.testing.assert_array_equal(got, expected, err_msg=key)
    for name in ("best_index_", "best_params_", "n_splits_", "multimetric_"):
        assert getattr(ours, name, None) == getattr(theirs, name, None), name
    if hasattr(theirs, "best_score_"):
        np.testing.assert_array_equal(ours.best_score_, theirs.best_score_)
    assert type(ours.scorer_) is type(theirs.scorer_)
    if hasattr(theirs, "best_estimator_"):
        np.testing.assert_array_equal(ours.best_estimator_.predict(X), theirs.best_estimator_.predict(X))
        np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))
        assert _outcome(ours.score, X, Y_IRIS) == _outcome(theirs.score, X, Y_IRIS)
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    else:
        assert not hasattr(ours, "best_estimator_")


VALUES = {
    "solver": ["adam", "sgd", "lbfgs"],
    "learning_rate": ["constant", "invscaling", "adaptive"],
    "learning_rate_init": [1e-3, 0.05, 0.5],
    "batch_size": ["auto", 8, 64],
    "early_stopping": [False, True],
    "tol": [0.0, 1e-4, 0.05],
    "n_iter_no_change": [1, 3],
    "activation": ["relu", "tanh", "logistic", "identity"],
    "hidden_layer_sizes": [(3,), (6, 4), ()],
    "alpha": [1e-4, 1.0],
    "momentum": [0.0, 0.9],
}
SCORINGS = [None, "accuracy", "f1_macro", "neg_log_loss", ["accuracy", "balanced_accuracy"],
            {"acc": "accuracy", "f1": "f1_weighted", "ll": make_scorer(accuracy_score)},
            get_scorer("balanced_accuracy"), "roc_auc", "f1"]


def _lowest_std_best(cv_results):
    """A refit callable: the candidate with the smallest std of the first test metric."""
    key = next(k for k in cv_results if k.startswith("std_test_"))
    return int(np.nanargmin(np.nan_to_num(cv_results[key], nan=np.inf)))


@st.composite
def searches(draw):
    pipeline = draw(st.booleans())
    prefix = "mlp__" if pipeline else ""
    fixed = {n: draw(st.sampled_from(VALUES[n])) for n in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=2))}
    network = MLPClassifier(random_state=draw(st.integers(0, 2)), **fixed)
    estimator = Pipeline([("scale", StandardScaler()), ("mlp", network)]) if pipeline else network

    def grid():
        names = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=2, unique=True))
        g = {prefix + n: draw(st.lists(st.sampled_from(VALUES[n]), min_size=1, max_size=2, unique_by=repr))
             for n in names}
        g[prefix + "max_iter"] = draw(st.lists(st.integers(1, 10), min_size=1, max_size=3, unique=True))
        return g

    param_grid = [grid() for _ in range(draw(st.integers(1, 2)))]
    scoring = draw(st.sampled_from(SCORINGS))
    multi = isinstance(scoring, (list, dict))
    names = list(scoring) if multi else []
    refit = draw(st.sampled_from([False, _lowest_std_best, *names] if multi else [True, False, _lowest_std_best]))
    cv_kind = draw(st.sampled_from(["int", "groups", "kfold", "iterable"]))
    cv = {"int": 3, "groups": GroupKFold(n_splits=3), "kfold": KFold(3, shuffle=True, random_state=1),
          "iterable": list(StratifiedKFold(2).split(X_IRIS, Y_IRIS))}[cv_kind]
    fit_params = {"groups": GROUPS} if cv_kind == "groups" else {}
    X = pd.DataFrame(X_IRIS, columns=["sl", "sw", "pl", "pw"]) if draw(st.booleans()) else X_IRIS
    return estimator, param_grid, X, fit_params, {
        "scoring": scoring, "refit": refit, "cv": cv, "return_train_score": draw(st.booleans()),
        "error_score": draw(st.sampled_from([np.nan, -1.0])), "n_jobs": draw(st.sampled_from([None, 1, 2])),
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches())
def test_generated_mlp_searches_equal_scikit_learns_key_by_key(search):
    estimator, param_grid, X, fit_params, kwargs = search
    ours, theirs = _fit_both(estimator, param_grid, X=X, fit_params=fit_params, **kwargs)
    assert_same_search(ours, theirs, X=X)
    assert set(vars(ours)) >= OURS_ONLY


def test_sharing_trains_fewer_epochs_and_keeps_every_curve():
    grid = {"max_iter": [5, 10, 20], "hidden_layer_sizes": [(4,), (8,)]}
    ours, theirs = _fit_both(MLPClassifier(random_state=0, solver="sgd", learning_rate_init=0.1), grid, cv=3)
    assert_same_search(ours, theirs)
    assert ours.epochs_trained_ == 2 * 3 * 20 < ours.epochs_gridsearchcv_ == 3 * (5 + 10 + 20) * 2
    assert len(ours.fit_log_) == 18 and {e["split"] for e in ours.fit_log_} == {0, 1, 2}
    train, _ = next(StratifiedKFold(3).split(X_IRIS, Y_IRIS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = MLPClassifier(random_state=0, solver="sgd", learning_rate_init=0.1, max_iter=10,
                              hidden_layer_sizes=(8,)).fit(X_IRIS[train], Y_IRIS[train])
    index = ours.cv_results_["params"].index({"hidden_layer_sizes": (8,), "max_iter": 10})
    assert ours.loss_curves_[index][0] == plain.loss_curve_ and ours.n_iters_[index][0] == plain.n_iter_
    assert ours.validation_scores_[index][0] is None


def test_validation_scores_are_kept_with_early_stopping():
    ours, _ = _fit_both(MLPClassifier(random_state=0, early_stopping=True), {"max_iter": [4, 8]}, cv=2)
    assert [len(v) for v in ours.validation_scores_[1]] == ours.n_iters_[1]


def test_error_score_raise_raises_what_scikit_learn_raises():
    bad = MLPClassifier(early_stopping=True, validation_fraction=0.01, random_state=0)
    for search in (model_selection.GridSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="The validation set is too small"):
            search(bad, {"max_iter": [2, 3]}, cv=3, error_score="raise").fit(X_IRIS[:40], Y_IRIS[:40])
    for search in (model_selection.GridSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="All the 6 fits failed"):
            search(bad, {"max_iter": [2, 3]}, cv=3).fit(X_IRIS[:40], Y_IRIS[:40])


def test_some_fits_failing_warn_and_score_error_score_as_scikit_learn():
    grid = {"validation_fraction": [0.01, 0.2], "max_iter": [2]}
    estimator = MLPClassifier(early_stopping=True, random_state=0)
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 6"):
        GridSearchCV(estimator, grid, cv=3, error_score=-1).fit(X_IRIS[:60], Y_IRIS[:60])
    ours, theirs = _fit_both(estimator, grid, X=X_IRIS[:60], y=Y_IRIS[:60], cv=3, error_score=-1)
    assert_same_search(ours, theirs, X=X_IRIS[:60])


def test_candidates_that_are_not_networks_are_still_evaluated():
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", MLPClassifier(random_state=0))])
    grid = [{"clf__max_iter": [3, 6]}, {"clf": [LogisticRegression(max_iter=50)]}]
    ours, theirs = _fit_both(pipeline, grid, cv=3)
    assert_same_search(ours, theirs)
    assert ours.n_iters_[1] == [6, 6, 6] or ours.n_iters_[1][0] <= 6


def test_other_estimators_are_scikit_learns_search_untouched():
    ours, theirs = _fit_both(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3)
    assert_same_search(ours, theirs)
    assert not OURS_ONLY & set(vars(ours))
    with pytest.raises(Exception, match="to_result"):
        ours.to_result()


def test_verbose_prints_what_scikit_learn_prints(capsys):
    GridSearchCV(MLPClassifier(random_state=0), {"max_iter": [2, 4]}, cv=2, verbose=1).fit(X_IRIS, Y_IRIS)
    assert "Fitting 2 folds for each of 2 candidates, totalling 4 fits" in capsys.readouterr().out


def test_joblibs_dask_backend_gives_the_same_search():
    distributed = pytest.importorskip("distributed")
    grid = {"max_iter": [3, 9], "hidden_layer_sizes": [(4,), (8,)]}
    local = GridSearchCV(MLPClassifier(random_state=0), grid, cv=3).fit(X_IRIS, Y_IRIS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c), joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(MLPClassifier(random_state=0), grid, cv=3).fit(X_IRIS, Y_IRIS)
    assert_same_search(on_dask, local)
    assert all(e["worker"].startswith("inproc://") for e in on_dask.fit_log_)


def test_the_figures_and_the_store_take_a_fitted_search(tmp_path):
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(random_state=0))])
    search = GridSearchCV(pipeline, {"mlp__max_iter": [3, 8], "mlp__hidden_layer_sizes": [(4,), (16,)]}, cv=3,
                          return_train_score=True).fit(X_IRIS, Y_IRIS)
    result = search.to_result()
    assert result.cv_results["params"][0] == {"hidden_layer_sizes": [4], "max_iter": 3}
    for figure in (tuning.fig_candidate_losses(search), tuning.fig_error_vs_hidden_size(search),
                   tuning.fig_score_heatmap(search, x="max_iter", y="hidden_layer_sizes"),
                   tuning.fig_fit_timeline(search)):
        assert figure.data
    store = tuning.ExperimentStore(tmp_path / "store.sqlite")
    exp_id = search.save_experiment(store, name="from a notebook", dataset="iris")
    assert search.save_experiment(store, dataset="iris") == exp_id  # the same search is one experiment
    row = store.get(exp_id)
    assert row["status"] == "finished" and row["fits_done"] == row["fits_total"] == 12 and row["dataset"] == "iris"
    loaded = store.load_result(exp_id)
    assert loaded.spec is None and loaded.cv_results["mean_test_score"] == result.cv_results["mean_test_score"]
    np.testing.assert_array_equal(loaded.best_estimator.predict(X_IRIS), search.predict(X_IRIS))


def test_the_engine_path_mirrors_the_installed_scikit_learn_fit():
    """_fit_with_engine follows BaseSearchCV.fit of scikit-learn 1.9.1 step by step, replacing only the
    evaluation of candidates. When scikit-learn's fit changes, read it again and update the mirror."""
    source = inspect.getsource(BaseSearchCV.fit)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == "de2f1b34668144fb"
