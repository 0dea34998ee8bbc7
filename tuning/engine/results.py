"""Search results: one column table in ``cv_results_``'s shape, plus curves and the fit log.

The table is built once from the unit records by scikit-learn's own
``BaseSearchCV._format_results``, so that ``mean_test_score``, ``std_test_score``,
``rank_test_score`` and ``split{k}_test_score`` are bit-for-bit what ``GridSearchCV``
reports, NaN scores (ranked last) included. It loads straight into ``pandas.DataFrame``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV

from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.engine.training import FitRecord


def fit_and_score_outputs(
    records: list[FitRecord], n_candidates: int, n_splits: int, *, return_train_score: bool = True
) -> list[dict[str, Any]]:
    """One ``_fit_and_score`` dict per (candidate, split), in ``GridSearchCV``'s order.

    A fit with no record (a cancelled search) counts as NaN scores and times, so that
    unfinished candidates rank last, like failed ones.
    """
    by_key = {(r.candidate, r.fold): r for r in records}
    missing = {"fit_error": None, "test_scores": np.nan, "n_test_samples": 0, "fit_time": np.nan,
               "score_time": np.nan, **({"train_scores": np.nan} if return_train_score else {})}
    return [by_key[c, s].fit_and_score_output() if (c, s) in by_key else dict(missing)
            for c in range(n_candidates) for s in range(n_splits)]


def format_cv_results(
    candidates: list[dict[str, Any]], n_splits: int, out: list[dict[str, Any]], *, return_train_score: bool = True
) -> dict[str, Any]:
    """``cv_results_`` exactly as scikit-learn's ``BaseSearchCV._format_results`` builds it."""
    formatter = GridSearchCV(estimator=None, param_grid={}, return_train_score=return_train_score)
    return formatter._format_results(candidates, n_splits, out)


def build_cv_results(
    candidates: list[dict[str, Any]], n_splits: int, records: list[FitRecord], *, return_train_score: bool = True
) -> dict[str, Any]:
    """Assemble ``cv_results_`` from one record per (candidate, fold), with scikit-learn's own code.

    Missing records (a cancelled search) count as NaN scores. The ``param_*`` columns are
    plain lists, with None where a candidate does not set the parameter.
    """
    out = fit_and_score_outputs(records, len(candidates), n_splits, return_train_score=return_train_score)
    with warnings.catch_warnings():
        if len(records) < len(out):  # unfinished candidates are NaN on purpose
            warnings.filterwarnings("ignore", message="One or more of the .* scores are non-finite")
        results = format_cv_results(candidates, n_splits, out, return_train_score=return_train_score)
    for key, column in results.items():
        if key.startswith("param_"):
            results[key] = [None if masked else value.item() if isinstance(value, np.generic) else value
                            for value, masked in zip(column.data, np.ma.getmaskarray(column))]
    return results


def _plain(value: Any) -> Any:
    """JSON-ready: arrays become lists, NaN and infinities become null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


@dataclass
class SearchResult:
    """Everything a search produced.

    Attributes
    ----------
    spec : ExperimentSpec or None
        The experiment; None for a search fitted in Python (``tuning.GridSearchCV``), which
        ``source`` then describes (estimator, param_grid, cv, scoring as their repr).
    cv_results : dict of str to list
        ``GridSearchCV.cv_results_``'s keys (``params``, ``param_*``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, the same for train
        scores, ``mean_fit_time``…); ``pd.DataFrame(result.cv_results)`` just works.
    best_index, best_params, best_score :
        As ``GridSearchCV``'s ``best_index_``, ``best_params_`` and ``best_score_``, by its
        rules: when every mean score is NaN, index 0 with a NaN score. None only when a
        cancelled search has no candidate with every fold finished.
    curves : list of dict
        One entry per candidate, in the same order: ``params`` and ``folds``, a list of
        ``{"loss_curve", "validation_scores", "n_iter", "converged"}``.
    fits : list of dict
        One entry per finished fit: ``candidate``, ``fold``, ``unit``, ``worker``,
        ``start`` and ``end`` (seconds since the search started), ``n_iter``, ``trainer``
        (``"lean"`` or ``"scikit-learn"``: which trainer fitted it, see
        :mod:`tuning.engine.lean`), ``fit_error``.
    epochs_trained, epochs_gridsearchcv : int
        Epochs this search trained, and epochs a plain ``GridSearchCV`` trains for the
        same grid (the sum of every fit's ``n_iter_``).
    status : {"finished", "cancelled"}
    best_estimator : Pipeline or None
        The best candidate refitted on all the data (not serialised).
    refit_error : str or None
        Why refitting the best candidate failed (then there is no ``best_estimator``;
        the cross-validation results are complete all the same).
    warnings : list of str
        What scikit-learn warned about while splitting and scoring (a class smaller than
        ``cv``, scorers that failed, NaN means), one line each.
    scoring : str
        The name of the score ``best_score`` is: the spec's scorer, or for a search fitted
        in Python its refit metric (``"score"`` when the estimator's own ``score`` was used).
    source : dict or None
        For a search fitted in Python: its estimator, ``param_grid``, ``cv`` and ``scoring``
        as their repr.
    """

    spec: ExperimentSpec | None
    n_splits: int
    cv_results: dict[str, list[Any]]
    best_index: int | None
    best_params: dict[str, Any] | None
    best_score: float | None
    curves: list[dict[str, Any]]
    fits: list[dict[str, Any]]
    epochs_trained: int
    epochs_gridsearchcv: int
    status: str = "finished"
    fits_done: int = 0
    fits_total: int = 0
    elapsed: float = 0.0
    dataset: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    experiment_id: str | None = None
    best_estimator: Any = None
    model_note: str | None = None  # why a stored model was not loaded (see ExperimentStore.load_result)
    refit_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    scoring: str = ""
    source: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.scoring and self.spec is not None:
            self.scoring = self.spec.scoring

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON data (NaN written as null)."""
        return _plain({
            "spec": None if self.spec is None else self.spec.to_dict(),
            "scoring": self.scoring,
            "source": self.source,
            "status": self.status,
            "n_splits": self.n_splits,
            "fits_done": self.fits_done,
            "fits_total": self.fits_total,
            "elapsed": self.elapsed,
            "best_index": self.best_index,
            "best_params": self.best_params,
            "best_score": self.best_score,
            "epochs_trained": self.epochs_trained,
            "epochs_gridsearchcv": self.epochs_gridsearchcv,
            "dataset": self.dataset,
            "versions": self.versions,
            "experiment_id": self.experiment_id,
            "refit_error": self.refit_error,
            "warnings": self.warnings,
            "cv_results": self.cv_results,
            "curves": self.curves,
            "fits": self.fits,
        })

    def save(self, path: str | Path) -> None:
        """Write the result as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), allow_nan=False) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResult:
        """Read back what :meth:`to_dict` wrote; null scores become NaN again."""
        cv_results = {
            key: ([np.nan if v is None else v for v in values]
                  if key.startswith(("mean_", "std_", "split")) else values)
            for key, values in data["cv_results"].items()
        }
        return cls(
            spec=None if data.get("spec") is None else parse_spec(data["spec"]),
            scoring=data.get("scoring", ""),
            source=data.get("source"),
            n_splits=data["n_splits"],
            cv_results=cv_results,
            best_index=data["best_index"],
            best_params=data["best_params"],
            best_score=(np.nan if data["best_score"] is None and data["best_index"] is not None
                        else data["best_score"]),
            curves=data["curves"],
            fits=data["fits"],
            epochs_trained=data["epochs_trained"],
            epochs_gridsearchcv=data["epochs_gridsearchcv"],
            status=data.get("status", "finished"),
            fits_done=data.get("fits_done", 0),
            fits_total=data.get("fits_total", 0),
            elapsed=data.get("elapsed", 0.0),
            dataset=data.get("dataset", {}),
            versions=data.get("versions", {}),
            experiment_id=data.get("experiment_id"),
            refit_error=data.get("refit_error"),
            warnings=list(data.get("warnings", [])),
        )

    @classmethod
    def load(cls, path: str | Path) -> SearchResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_frame(self) -> Any:
        """``cv_results`` as a pandas DataFrame, one row per candidate."""
        import pandas as pd

        return pd.DataFrame(self.cv_results)


def as_search_result(result: Any) -> SearchResult:
    """A :class:`SearchResult` as it is, or a fitted ``tuning.GridSearchCV`` made into one (``to_result()``)."""
    if isinstance(result, SearchResult):
        return result
    to_result = getattr(result, "to_result", None)
    if callable(to_result):
        return to_result()
    raise TypeError(f"needs a SearchResult or a fitted tuning.GridSearchCV, got {type(result).__name__}")
