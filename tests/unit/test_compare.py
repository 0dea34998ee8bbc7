import pytest
from scipy import stats

from tuning.engine.search import run_search
from tuning.errors import TuningError
from tuning.services.compare import compare_results, fixed_differences, shared_candidates, why_not_paired

BASE = {"dataset": "wine", "cv": 4, "param_grid": {"hidden_layer_sizes": [[2], [16]], "max_iter": [3, 60]}}


@pytest.fixture(scope="module")
def pair():
    a = run_search(BASE, n_jobs=1, refit=False)
    b = run_search({**BASE, "param_grid": {"hidden_layer_sizes": [[16], [32]], "max_iter": [3, 60]}},
                   n_jobs=1, refit=False)
    return a, b


def test_only_shared_candidates_are_compared_fold_by_fold(pair):
    a, b = pair
    table = compare_results(a, b)
    assert list(table["params"]) == ['{"hidden_layer_sizes": [16], "max_iter": 3}',
                                     '{"hidden_layer_sizes": [16], "max_iter": 60}']
    # identical candidates on identical folds: no difference at all
    assert (table["mean_difference"] == 0).all() and not table["beyond_noise"].any()


def test_differences_beyond_fold_noise_are_flagged(pair):
    a, _ = pair
    other = run_search({**BASE, "estimator": {"random_state": 0}, "param_grid": {"hidden_layer_sizes": [[2], [16]],
                                                                                 "max_iter": [3, 60]}},
                       n_jobs=1, refit=False)
    # Same params, but compare the tiny network (A) against a bigger one (B) by renaming B's params.
    for p in other.cv_results["params"]:
        p["hidden_layer_sizes"] = [2] if p["hidden_layer_sizes"] == [16] else [99]
    table = compare_results(a, other).set_index("params")
    row = table.loc['{"hidden_layer_sizes": [2], "max_iter": 60}']
    fold_a = [a.cv_results[f"split{k}_test_score"][1] for k in range(4)]
    fold_b = [other.cv_results[f"split{k}_test_score"][3] for k in range(4)]
    assert row["p_value"] == pytest.approx(stats.ttest_rel(fold_b, fold_a).pvalue)
    assert row["beyond_noise"] == (row["p_value"] < 0.05)
    assert row["mean_difference"] > 0


def test_different_data_or_folds_are_refused(pair):
    a, _ = pair
    iris = run_search({**BASE, "dataset": "iris"}, n_jobs=1, refit=False)
    with pytest.raises(TuningError, match="different data"):
        compare_results(a, iris)
    three = run_search({**BASE, "cv": 3}, n_jobs=1, refit=False)
    with pytest.raises(TuningError, match="4 and 3 folds"):
        compare_results(a, three)


@pytest.mark.parametrize(("other", "reason"), [
    ({"dataset": "iris"}, "different data"),
    ({"cv": 3}, "4 and 3 folds"),
    ({"scoring": "f1_macro"}, "scored differently"),
    ({"param_grid": {"hidden_layer_sizes": [[3]], "max_iter": [3, 60]}}, "share no candidate"),
])
def test_only_experiments_on_the_same_data_folds_and_candidates_allow_a_paired_test(other, reason):
    assert why_not_paired(BASE, BASE) is None
    assert reason in why_not_paired(BASE, {**BASE, **other})


def test_a_paired_test_measures_what_else_differs():
    sgd = {**BASE, "estimator": {"random_state": 0, "solver": "sgd"}, "preprocess": "none"}
    assert why_not_paired(BASE, sgd) is None and shared_candidates(BASE, sgd) == 4
    assert fixed_differences(BASE, sgd) == ["solver: default -> sgd", "preprocess: standard -> none"]
    assert fixed_differences(BASE, BASE) == []
