"""Train once, score many: a checkpoint of a long run is exactly a shorter fit."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, get_scorer
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tuning.engine.training import Checkpoint, TrainedRun, _checkpointing_class, _model_at, fit_stack, fit_trajectory

X_WINE, Y_WINE = load_wine(return_X_y=True)
ACCURACY = get_scorer("accuracy")
X_SCALED = StandardScaler().fit_transform(X_WINE)
TRAIN, TEST = next(StratifiedKFold(n_splits=3).split(X_WINE, Y_WINE))
CHECKPOINTS = (1, 5, 12, 20, 40, 80)

# (solver, early_stopping, tol): the tol=1e-2 runs stop on n_iter_no_change between
# checkpoints, and early stopping restores the best-so-far weights.
SETTINGS = [(s, es, tol) for s in ("adam", "sgd") for es in (False, True) for tol in (1e-4, 1e-2)]


def _params(solver, early_stopping, tol, **extra):
    return dict(hidden_layer_sizes=[8], solver=solver, early_stopping=early_stopping, tol=tol,
                n_iter_no_change=5, learning_rate_init=0.01, random_state=0, **extra)


def _plain_fit(params, max_iter, X=X_SCALED, y=Y_WINE, network=MLPClassifier):
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = network(**{**params, "max_iter": max_iter}).fit(X, y)
    return model, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


# The regressor predicts the wines' alcohol from the other measurements.
TASKS = {MLPClassifier: (X_SCALED, Y_WINE, "predict_proba"), MLPRegressor: (X_SCALED[:, 1:], X_WINE[:, 0], "predict")}


@pytest.mark.parametrize("network", [MLPClassifier, MLPRegressor], ids=lambda c: c.__name__)
@pytest.mark.parametrize(("solver", "early_stopping", "tol"), SETTINGS)
def test_checkpoint_weights_are_bit_identical_to_a_shorter_fit(solver, early_stopping, tol, network):
    params = _params(solver, early_stopping, tol)
    X, y, predict = TASKS[network]
    runner = _checkpointing_class(network, CHECKPOINTS, 0.0)
    long_run = runner(**{**params, "max_iter": max(CHECKPOINTS)})
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        long_run.fit(X, y)
    for k in CHECKPOINTS:
        checkpoint = _model_at(long_run, long_run._snapshots.get(k), k)
        reference, _ = _plain_fit(params, k, X, y, network)
        assert type(checkpoint) is network and checkpoint.max_iter == k
        assert checkpoint.n_iter_ == reference.n_iter_
        assert checkpoint.loss_curve_ == reference.loss_curve_
        assert getattr(checkpoint, "validation_scores_", None) == getattr(reference, "validation_scores_", None)
        for ours, theirs in zip(checkpoint.coefs_ + checkpoint.intercepts_, reference.coefs_ + reference.intercepts_):
            np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(getattr(checkpoint, predict)(X), getattr(reference, predict)(X))


def test_settings_cover_runs_that_stop_before_the_last_checkpoint():
    stops = [_plain_fit(_params(*s), max(CHECKPOINTS))[0].n_iter_ for s in SETTINGS]
    assert any(n < max(CHECKPOINTS) for n in stops)
    assert any(n == max(CHECKPOINTS) for n in stops)


@pytest.mark.parametrize(("solver", "early_stopping", "tol"), SETTINGS)
def test_fit_trajectory_records_match_independent_fits(solver, early_stopping, tol):
    params = _params(solver, early_stopping, tol)
    checkpoints = (5, 12, 40)
    unit = fit_trajectory(X_WINE, Y_WINE, TRAIN, TEST, estimator=MLPClassifier(**{**params, "max_iter": 40}),
                          candidates=(7, 8, 9), checkpoints=checkpoints, scorer=ACCURACY, fold=2, unit=4)
    assert [r.candidate for r in unit.records] == [7, 8, 9]
    for record, k in zip(unit.records, checkpoints):
        reference, converged = _plain_fit(params, k, X_WINE[TRAIN], Y_WINE[TRAIN])
        assert record.fold == 2 and record.unit == 4 and record.fit_error is None
        assert record.test_score == accuracy_score(Y_WINE[TEST], reference.predict(X_WINE[TEST]))
        assert record.train_score == accuracy_score(Y_WINE[TRAIN], reference.predict(X_WINE[TRAIN]))
        assert record.n_iter == reference.n_iter_ == len(record.loss_curve)
        assert record.loss_curve == reference.loss_curve_
        assert record.converged == converged
        if early_stopping:
            assert record.validation_scores == reference.validation_scores_
        else:
            assert record.validation_scores is None
    assert unit.epochs_run == max(r.n_iter for r in unit.records)


@pytest.mark.parametrize("max_iter", [3, 200])
def test_lbfgs_reports_iterations_and_convergence_like_a_plain_fit(max_iter):
    params = dict(hidden_layer_sizes=[8], solver="lbfgs", random_state=0, max_iter=max_iter)
    unit = fit_trajectory(X_SCALED, Y_WINE, TRAIN, TEST, estimator=MLPClassifier(**params), candidates=(0,),
                          checkpoints=(max_iter,), scorer=ACCURACY)
    (record,) = unit.records
    reference, converged = _plain_fit(params, max_iter, X_SCALED[TRAIN], Y_WINE[TRAIN])
    assert record.test_score == accuracy_score(Y_WINE[TEST], reference.predict(X_SCALED[TEST]))
    assert record.n_iter == reference.n_iter_ and record.converged == converged
    assert record.loss_curve == []


def test_a_failing_fit_is_recorded_with_nan_scores_not_raised():
    params = dict(hidden_layer_sizes=[4], early_stopping=True, validation_fraction=0.01, random_state=0, max_iter=5)
    with pytest.raises(ValueError) as plain_failure:
        MLPClassifier(**params).fit(X_WINE[TRAIN[:30]], Y_WINE[TRAIN[:30]])
    estimator = Pipeline([("prep", StandardScaler()), ("mlp", MLPClassifier(**params))])
    unit = fit_trajectory(X_WINE, Y_WINE, TRAIN[:30], TEST, estimator=estimator, candidates=(0,), checkpoints=(5,),
                          scorer=ACCURACY)
    (record,) = unit.records
    assert np.isnan(record.test_score) and np.isnan(record.train_score)
    assert str(plain_failure.value) in record.fit_error


def test_diverging_weights_fail_the_checkpoints_that_diverged_only():
    # A huge learning rate on large unscaled values overflows to non-finite weights.
    X_big = X_WINE * 100
    params = dict(hidden_layer_sizes=[8], solver="sgd", learning_rate_init=10.0,
                  random_state=0, max_iter=30, activation="identity", tol=0.0, n_iter_no_change=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unit = fit_trajectory(X_big, Y_WINE, TRAIN, TEST, estimator=MLPClassifier(**params), candidates=(0, 1),
                              checkpoints=(1, 30), scorer=ACCURACY)
    first, last = unit.records
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite"):
            MLPClassifier(**params).fit(X_big[TRAIN], Y_WINE[TRAIN])
        MLPClassifier(**{**params, "max_iter": 1}).fit(X_big[TRAIN], Y_WINE[TRAIN])  # one epoch is still finite
    assert "non-finite" in last.fit_error and np.isnan(last.test_score)
    assert first.fit_error is None and not np.isnan(first.test_score)


def _fails_on_training_rows(estimator, X, y):
    if len(y) > len(TEST):
        raise ValueError("no score for the training rows")
    return accuracy_score(y, estimator.predict(X))


def test_a_failed_train_score_keeps_the_test_score():
    params = dict(hidden_layer_sizes=[8], random_state=0, max_iter=5)
    with pytest.warns(UserWarning, match="Scoring failed"):
        (record,) = fit_trajectory(X_SCALED, Y_WINE, TRAIN, TEST, estimator=MLPClassifier(**params), candidates=(0,),
                                   checkpoints=(5,), scorer=_fails_on_training_rows).records
    reference, _ = _plain_fit(params, 5, X_SCALED[TRAIN], Y_WINE[TRAIN])
    assert record.test_score == accuracy_score(Y_WINE[TEST], reference.predict(X_SCALED[TEST]))
    assert np.isnan(record.train_score) and record.fit_error is None
    assert record.score_error == "ValueError: no score for the training rows"


def test_error_score_raise_raises_the_fits_own_exception():
    params = dict(hidden_layer_sizes=[4], early_stopping=True, validation_fraction=0.01, random_state=0, max_iter=5)
    with pytest.raises(ValueError) as plain_failure:
        MLPClassifier(**params).fit(X_WINE[TRAIN[:30]], Y_WINE[TRAIN[:30]])
    with pytest.raises(ValueError) as ours:
        fit_trajectory(X_WINE, Y_WINE, TRAIN[:30], TEST, estimator=MLPClassifier(**params), candidates=(0,),
                       checkpoints=(5,), scorer=ACCURACY, error_score="raise")
    assert str(ours.value) == str(plain_failure.value)


def test_without_train_scores_only_the_test_rows_are_scored():
    seen = []

    def counting(estimator, X, y):
        seen.append(len(y))
        return 0.5

    (record,) = fit_trajectory(X_SCALED, Y_WINE, TRAIN, TEST, estimator=MLPClassifier(max_iter=2, random_state=0),
                               candidates=(0,), checkpoints=(2,), scorer=counting, return_train_score=False).records
    assert seen == [len(TEST)] and record.train_score is None
    assert "train_scores" not in record.fit_and_score_output()


def test_another_trainer_can_produce_the_checkpoints():
    """The seam a different trainer plugs into: it returns the model at each checkpoint."""

    def plain_fits(estimator, X_train, y_train, checkpoints, fit_params):
        states = {k: Checkpoint(max_iter=k, model=_plain_fit(estimator.get_params(), k, X_train, y_train)[0],
                                error=None, fit_time=0.0) for k in checkpoints}
        return TrainedRun(states, max(checkpoints))

    params = _params("sgd", False, 1e-4)
    kwargs = dict(estimator=MLPClassifier(**{**params, "max_iter": 12}), candidates=(0, 1), checkpoints=(5, 12),
                  scorer=ACCURACY)
    ours = fit_trajectory(X_SCALED, Y_WINE, TRAIN, TEST, **kwargs)
    theirs = fit_trajectory(X_SCALED, Y_WINE, TRAIN, TEST, trainer=plain_fits, **kwargs)
    assert [r.test_score for r in ours.records] == [r.test_score for r in theirs.records]
    assert [r.train_score for r in ours.records] == [r.train_score for r in theirs.records]


def _estimator(params, preprocessor):
    return MLPClassifier(**params) if preprocessor is None else Pipeline([("prep", preprocessor),
                                                                          ("mlp", MLPClassifier(**params))])


def _stack(X, trajectories, preprocessor, *, train=TRAIN, fold=0, unit=0):
    return fit_stack(X, Y_WINE, train, TEST, estimators=[_estimator(p, preprocessor) for p, _, _ in trajectories],
                     candidates=[c for _, c, _ in trajectories], checkpoints=[k for _, _, k in trajectories],
                     scorer=ACCURACY, fold=fold, unit=unit)


def _without_timing(record):
    return {k: v for k, v in vars(record).items() if k not in ("fit_time", "score_time", "start", "end", "trainer")}


@pytest.mark.parametrize(("solver", "early_stopping", "tol"), SETTINGS)
def test_a_stack_gives_the_records_each_trajectory_gives_alone(solver, early_stopping, tol):
    rates = (0.003, 0.01, 0.1)
    trajectories = [({**_params(solver, early_stopping, tol), "learning_rate_init": rate, "max_iter": 40},
                     (3 * i, 3 * i + 1, 3 * i + 2), (5, 12, 40)) for i, rate in enumerate(rates)]
    stacked = _stack(X_WINE, trajectories, StandardScaler(), fold=1, unit=7)
    alone = [fit_trajectory(X_WINE, Y_WINE, TRAIN, TEST, estimator=_estimator(params, StandardScaler()),
                            candidates=candidates, checkpoints=checkpoints, scorer=ACCURACY, fold=1, unit=7)
             for params, candidates, checkpoints in trajectories]
    assert {r.trainer for r in stacked.records} == {"lean"}
    assert {r.trainer for a in alone for r in a.records} == {"scikit-learn"}
    assert [_without_timing(r) for r in stacked.records] == [_without_timing(r) for a in alone for r in a.records]
    assert stacked.epochs_run == sum(a.epochs_run for a in alone)


def test_a_stack_the_lean_trainer_does_not_cover_is_fitted_by_scikit_learn():
    trajectories = [(dict(hidden_layer_sizes=[4], solver="lbfgs", random_state=0, max_iter=20, alpha=alpha), (i,),
                     (20,)) for i, alpha in enumerate((1e-4, 1.0))]
    unit = _stack(X_SCALED, trajectories, None)
    assert [r.trainer for r in unit.records] == ["scikit-learn"] * 2
    assert all(r.fit_error is None and not np.isnan(r.test_score) for r in unit.records)


def test_a_failing_stack_fails_every_candidate_as_its_own_fit_would():
    trajectories = [(dict(hidden_layer_sizes=[4], early_stopping=True, validation_fraction=0.01, random_state=0,
                          max_iter=5, alpha=alpha), (i,), (5,)) for i, alpha in enumerate((1e-4, 1.0))]
    with pytest.raises(ValueError) as plain_failure:
        MLPClassifier(**trajectories[0][0]).fit(X_WINE[TRAIN[:30]], Y_WINE[TRAIN[:30]])
    unit = _stack(X_WINE, trajectories, StandardScaler(), train=TRAIN[:30])
    for record in unit.records:
        assert np.isnan(record.test_score) and np.isnan(record.train_score)
        assert record.fit_error.strip().splitlines()[-1] == f"ValueError: {plain_failure.value}"
