import json
import math

import numpy as np
import pandas as pd
import pytest

from tuning.engine.results import SearchResult, build_cv_results
from tuning.engine.search import run_search
from tuning.engine.training import FitRecord


def _record(candidate, fold, score):
    return FitRecord(candidate=candidate, fold=fold, test_score=score, train_score=score, fit_time=0.1,
                     score_time=0.01, n_iter=1, converged=True, loss_curve=[1.0], validation_scores=None,
                     fit_error=None if not math.isnan(score) else "boom", unit=0, worker="w", start=0, end=1)


def test_failed_candidates_rank_last_and_tie():
    candidates = [{"alpha": a} for a in (1, 2, 3, 4)]
    scores = {0: [0.5, 0.7], 1: [np.nan, 0.9], 2: [0.9, 0.9], 3: [np.nan, np.nan]}
    records = [_record(c, f, s) for c, ss in scores.items() for f, s in enumerate(ss)]
    table = build_cv_results(candidates, 2, records)
    assert table["rank_test_score"].tolist() == [2, 3, 1, 3]
    assert table["mean_test_score"][0] == pytest.approx(0.6)
    assert table["std_test_score"][0] == pytest.approx(0.1)
    assert table["param_alpha"] == [1, 2, 3, 4]


def test_all_failed_ranks_everyone_first():
    table = build_cv_results([{}, {}], 1, [_record(0, 0, np.nan), _record(1, 0, np.nan)])
    assert table["rank_test_score"].tolist() == [1, 1]


def test_params_missing_from_a_grid_are_none():
    table = build_cv_results([{"alpha": 1}, {"max_iter": 5}], 1, [_record(0, 0, 1.0), _record(1, 0, 1.0)])
    assert table["param_alpha"] == [1, None] and table["param_max_iter"] == [None, 5]


@pytest.fixture(scope="module")
def small_result():
    return run_search({"dataset": "iris", "cv": 3, "param_grid": {"max_iter": [2, 5], "alpha": [1e-4, 10.0]}},
                      n_jobs=1)


def test_json_round_trip_keeps_everything_but_the_model(small_result, tmp_path):
    path = tmp_path / "result.json"
    small_result.save(path)
    data = json.loads(path.read_text())
    assert {"cv_results", "best_index", "best_params", "best_score", "curves", "fits",
            "epochs_trained", "epochs_gridsearchcv"} <= set(data)
    again = SearchResult.load(path)
    assert again.to_dict() == small_result.to_dict()
    pd.testing.assert_frame_equal(again.to_frame(), small_result.to_frame())


def test_nan_scores_are_written_as_null_and_read_back_as_nan(small_result, tmp_path):
    small_result.cv_results["mean_test_score"][0] = float("nan")
    path = tmp_path / "result.json"
    small_result.save(path)
    assert json.loads(path.read_text())["cv_results"]["mean_test_score"][0] is None
    assert math.isnan(SearchResult.load(path).cv_results["mean_test_score"][0])
