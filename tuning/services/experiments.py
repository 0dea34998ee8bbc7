"""The experiment list and one experiment's table, as the Experiments and Grid Search pages show them.

Pure functions on the store's rows and on results: what each experiment searched,
filtering the list, and the ``cv_results_`` table with what matters first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from tuning.engine.results import SearchResult
from tuning.engine.spec import ExperimentSpec

_ID = re.compile(r"^[0-9a-f]{1,64}$")


def _grids(spec: ExperimentSpec | Mapping[str, Any]) -> list[Mapping[str, list[Any]]]:
    """The spec's grids: a stored (already checked) spec is read as it is, without validating it again."""
    grid = spec.param_grid if isinstance(spec, ExperimentSpec) else spec["param_grid"]
    return [grid] if isinstance(grid, Mapping) else list(grid)


def _values(grids: list[Mapping[str, list[Any]]], name: str) -> list[Any]:
    """Every value a parameter takes across the grids, in first-seen order (JSON-equal values once)."""
    seen: dict[str, Any] = {}
    for grid in grids:
        for value in grid.get(name, []):
            seen.setdefault(json.dumps(value), value)
    return list(seen.values())


def _span(values: list[Any]) -> str:
    """``25–100 (3 values)`` for numbers, ``[2] … [32] (3 values)`` for sizes, else the values themselves."""
    if len(values) == 1:
        return json.dumps(values[0])
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if numbers and len(values) > 2:
        return f"{min(values):g}–{max(values):g} ({len(values)} values)"
    if all(isinstance(v, list) for v in values) and len(values) > 2:
        ordered = sorted(values, key=lambda v: (sum(v), len(v)))
        return f"{json.dumps(ordered[0])} … {json.dumps(ordered[-1])} ({len(values)} values)"
    if numbers:
        values = sorted(values)
    return ", ".join(f"{v:g}" if isinstance(v, float) else v if isinstance(v, str) else json.dumps(v)
                     for v in values)


def searched_parameters(spec: ExperimentSpec | Mapping[str, Any]) -> dict[str, str]:
    """The parameters an experiment searched (more than one value) and their ranges, by name."""
    grids = _grids(spec)
    names = sorted({name for grid in grids for name in grid})
    return {name: _span(values) for name in names if len(values := _values(grids, name)) > 1}


def describe_search(spec: ExperimentSpec | Mapping[str, Any]) -> str:
    """One line for the list: ``hidden_layer_sizes [2] … [32] (3 values) · max_iter 25–100 (3 values)``."""
    if isinstance(spec, Mapping) and "python" in spec:  # saved from tuning.GridSearchCV: its grid as written
        return str(spec["python"].get("param_grid", "fitted in Python"))[:200]
    searched = searched_parameters(spec)
    return " · ".join(f"{name} {span}" for name, span in searched.items()) or "one candidate"


def filter_experiments(rows: Sequence[Mapping[str, Any]], *, datasets: Iterable[str] = (), text: str = "",
                       tags: Iterable[str] = ()) -> list[Mapping[str, Any]]:
    """The rows on one of ``datasets`` (any when empty), whose id or name contains ``text``
    (any case), and that carry every one of ``tags``."""
    datasets, tags, text = set(datasets), set(tags), text.strip().lower()
    return [r for r in rows
            if (not datasets or r["dataset"] in datasets)
            and (not text or text in r["id"].lower() or text in r["name"].lower())
            and tags <= set(r.get("tags") or [])]


def unknown_experiment_message(value: str) -> str:
    """What to say about an ``?exp=`` that names no experiment: the id only if it looks like one."""
    shown = f" {value}" if _ID.match(value) else ""
    return (f"There is no experiment{shown} here: it may have been deleted, or the link comes from another "
            "Tuning Lab.")


def cv_results_table(result: SearchResult) -> tuple[pd.DataFrame, dict[str, str]]:
    """``cv_results_`` for reading: rank and scores first, best first, only the parameters that vary.

    Returns the table (indexed by candidate) and the parameters left out because every
    candidate has the same value, with that value.
    """
    frame = result.to_frame()
    params = [c for c in frame if c.startswith("param_")]
    text = frame[params].map(json.dumps)
    varying = [c for c in params if text[c].nunique() > 1]
    constant = {c.removeprefix("param_"): text[c].iloc[0] for c in params if c not in varying}
    scores = ["rank_test_score", "mean_test_score", "std_test_score", "mean_train_score", "std_train_score"]
    table = pd.concat([frame[scores], text[varying], frame[["mean_fit_time"]]], axis=1)
    table.index.name = "candidate"
    return table.sort_values(["rank_test_score"], kind="stable"), constant
