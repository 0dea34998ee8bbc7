"""Compare two experiments on the same data: matched candidates, paired per-fold differences."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from tuning.engine.results import SearchResult
from tuning.errors import TuningError


def compare_results(a: SearchResult, b: SearchResult) -> pd.DataFrame:
    """One row per candidate the two experiments share (same parameters), B minus A.

    Folds are paired (the same split of the same data), so the per-fold differences
    are tested with a paired t-test; ``beyond_noise`` is True when the mean difference
    is larger than the fold-to-fold noise explains (p < 0.05).

    Raises
    ------
    TuningError
        When the experiments are on different data or folds, or share no candidate.
    """
    same_data = {k: a.dataset.get(k) for k in ("name", "n_samples", "classes")} == \
                {k: b.dataset.get(k) for k in ("name", "n_samples", "classes")}
    if not same_data or a.spec.dataset != b.spec.dataset:
        raise TuningError("these experiments use different data; compare two experiments on the same dataset")
    if a.n_splits != b.n_splits:
        raise TuningError(f"these experiments use {a.n_splits} and {b.n_splits} folds; paired differences "
                          "need the same folds")
    shared = {json.dumps(p, sort_keys=True): i for i, p in enumerate(b.cv_results["params"])}
    rows = []
    for i, params in enumerate(a.cv_results["params"]):
        j = shared.get(json.dumps(params, sort_keys=True))
        if j is None:
            continue
        fold_a = np.array([a.cv_results[f"split{k}_test_score"][i] for k in range(a.n_splits)], dtype=float)
        fold_b = np.array([b.cv_results[f"split{k}_test_score"][j] for k in range(b.n_splits)], dtype=float)
        diff = fold_b - fold_a
        mean = float(np.mean(diff))
        if np.isnan(diff).any():
            p_value = math.nan
        elif np.all(diff == diff[0]):
            p_value = 1.0 if diff[0] == 0 else 0.0
        else:
            p_value = float(stats.ttest_rel(fold_b, fold_a).pvalue)
        rows.append({"params": json.dumps(params), "score_a": float(np.mean(fold_a)), "score_b": float(np.mean(fold_b)),
                     "mean_difference": mean, "fold_differences": [round(float(d), 6) for d in diff],
                     "std_difference": float(np.std(diff, ddof=1)) if len(diff) > 1 else math.nan,
                     "p_value": p_value, "beyond_noise": bool(p_value < 0.05)})
    if not rows:
        raise TuningError("these experiments share no candidate (no identical parameter set) to compare")
    return pd.DataFrame(rows)
