"""Compare two experiments: which pairs allow a paired test, and the paired per-fold differences.

A paired test needs the same data split into the same folds, scored the same way, and
at least one grid point (candidate) in both experiments. What else differs between the
two (fixed estimator parameters, preprocessing) is what the test measures.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import ParameterGrid

from tuning.engine.results import SearchResult
from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.errors import TuningError

_DEFAULT = object()


def _key(candidate: dict[str, Any]) -> str:
    return json.dumps(candidate, sort_keys=True)


def shared_candidates(a: ExperimentSpec | dict[str, Any], b: ExperimentSpec | dict[str, Any]) -> int:
    """How many candidates (grid points) of ``a`` are also candidates of ``b``."""
    a, b = parse_spec(a), parse_spec(b)
    keys = {_key(c) for c in ParameterGrid(b.param_grid)}
    return sum(_key(c) in keys for c in ParameterGrid(a.param_grid))


def fixed_differences(a: ExperimentSpec | dict[str, Any], b: ExperimentSpec | dict[str, Any]) -> list[str]:
    """The fixed settings in which B differs from A (``solver: adam -> sgd``): what a paired test measures."""
    a, b = parse_spec(a), parse_spec(b)

    def shown(estimator: dict[str, Any], name: str) -> str:
        value = estimator.get(name, _DEFAULT)
        return "default" if value is _DEFAULT else value if isinstance(value, str) else json.dumps(value)

    names = sorted(set(a.estimator) | set(b.estimator))
    changes = [f"{n}: {shown(a.estimator, n)} -> {shown(b.estimator, n)}" for n in names
               if a.estimator.get(n, _DEFAULT) != b.estimator.get(n, _DEFAULT)]
    if a.preprocess != b.preprocess:
        changes.append(f"preprocess: {a.preprocess} -> {b.preprocess}")
    return changes


def why_not_paired(a: ExperimentSpec | dict[str, Any], b: ExperimentSpec | dict[str, Any]) -> str | None:
    """Why two experiments allow no paired test (different data, folds, scoring or candidates), or None."""
    if any(isinstance(s, dict) and "python" in s for s in (a, b)):
        return "a search fitted in Python keeps no spec to pair folds with"
    a, b = parse_spec(a), parse_spec(b)
    if a.dataset != b.dataset:
        return "they use different data"
    if a.task != b.task:
        return f"one is a {a.task} and the other a {b.task}"
    if a.cv != b.cv:
        return f"they use {a.cv} and {b.cv} folds; paired differences need the same folds"
    if a.scoring != b.scoring:
        return f"they are scored differently ({a.scoring} and {b.scoring})"
    if not shared_candidates(a, b):
        return "they share no candidate (no grid point in both)"
    return None


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
    if not same_data:
        reason = "they use different data"
    elif a.spec is None or b.spec is None:
        reason = "a search fitted in Python (tuning.GridSearchCV) has no spec that says its folds"
    else:
        reason = why_not_paired(a.spec, b.spec)
    if reason is not None:
        raise TuningError(f"no paired comparison: {reason}. Compare them side by side instead")
    shared = {_key(p): i for i, p in enumerate(b.cv_results["params"])}
    rows = []
    for i, params in enumerate(a.cv_results["params"]):
        j = shared.get(_key(params))
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
        raise TuningError("no paired comparison: they share no candidate (no grid point in both). "
                          "Compare them side by side instead")
    return pd.DataFrame(rows)
