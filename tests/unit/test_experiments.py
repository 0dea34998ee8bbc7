"""The experiment list and the cv_results_ table as the pages show them (tuning.services.experiments)."""

import math

import pytest

from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.services.experiments import (
    cv_results_table,
    describe_search,
    filter_experiments,
    searched_parameters,
    unknown_experiment_message,
)


def test_the_list_says_what_was_searched_and_over_which_range():
    spec = parse_spec({"dataset": "iris", "param_grid": {
        "hidden_layer_sizes": [[32], [2], [8, 8]], "learning_rate_init": [0.01, 0.001], "max_iter": [25, 100, 50],
        "solver": ["adam", "sgd"], "alpha": [1e-4]}})
    assert searched_parameters(spec) == {
        "hidden_layer_sizes": "[2] … [32] (3 values)", "learning_rate_init": "0.001, 0.01",
        "max_iter": "25–100 (3 values)", "solver": "adam, sgd"}  # alpha has one value: not searched
    assert describe_search(spec.to_dict()) == describe_search(spec)  # a stored spec reads the same
    listed = parse_spec({"dataset": "iris", "param_grid": [{"max_iter": [5]}, {"max_iter": [10], "alpha": [0.1]}]})
    assert describe_search(listed) == "max_iter 5, 10"
    assert describe_search(parse_spec({"dataset": "iris", "param_grid": {"max_iter": [5]}})) == "one candidate"


ROWS = [{"id": "aaa111", "name": "small nets", "dataset": "iris", "tags": ["baseline"]},
        {"id": "bbb222", "name": "", "dataset": "Pima.tr.csv", "tags": ["baseline", "csv"]},
        {"id": "ccc333", "name": "Deep", "dataset": "iris", "tags": []}]


@pytest.mark.parametrize(("options", "expected"), [
    ({}, ["aaa111", "bbb222", "ccc333"]),
    ({"datasets": ["iris"]}, ["aaa111", "ccc333"]),
    ({"text": "deep"}, ["ccc333"]),
    ({"text": "BBB"}, ["bbb222"]),
    ({"tags": ["baseline"]}, ["aaa111", "bbb222"]),
    ({"tags": ["baseline", "csv"]}, ["bbb222"]),
    ({"datasets": ["iris"], "tags": ["csv"]}, []),
])
def test_experiments_are_filtered_by_dataset_name_and_tag(options, expected):
    assert [r["id"] for r in filter_experiments(ROWS, **options)] == expected


def test_an_unknown_experiment_is_named_only_when_it_looks_like_an_id():
    assert "There is no experiment 0123abcd here" in unknown_experiment_message("0123abcd")
    message = unknown_experiment_message("**x**<script>")
    assert "*" not in message and "<" not in message and message.startswith("There is no experiment here")


def test_the_table_shows_rank_and_scores_first_best_first_and_only_what_varies():
    result = run_search({"dataset": "iris", "cv": 2, "param_grid": {
        "hidden_layer_sizes": [[2], [16]], "max_iter": [5, 30], "alpha": [1e-4]}}, n_jobs=1, refit=False)
    table, same = cv_results_table(result)
    assert list(table.columns) == ["rank_test_score", "mean_test_score", "std_test_score", "mean_train_score",
                                   "std_train_score", "param_hidden_layer_sizes", "param_max_iter", "mean_fit_time"]
    assert same == {"alpha": "0.0001"}
    assert list(table["rank_test_score"]) == sorted(table["rank_test_score"])
    assert table.index[0] == result.best_index  # rows keep their candidate number
    for candidate, row in table.iterrows():
        assert math.isclose(row["mean_test_score"], result.cv_results["mean_test_score"][candidate])


def test_a_search_saved_from_python_is_described_by_its_grid_and_not_paired():
    from tuning.services.compare import why_not_paired

    saved = {"python": {"param_grid": "{'mlpclassifier__max_iter': [10, 20]}", "cv": "3"}}
    assert describe_search(saved) == "{'mlpclassifier__max_iter': [10, 20]}"
    assert "Python" in why_not_paired(saved, saved)
