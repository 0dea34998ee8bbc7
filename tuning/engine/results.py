"""Search results: one column table in ``cv_results_``'s shape, plus curves and the fit log.

The table is built once from the unit records, the way scikit-learn's
``BaseSearchCV._format_results`` builds it, so that ``mean_test_score``,
``std_test_score``, ``rank_test_score`` and ``split{k}_test_score`` are bit-for-bit
what ``GridSearchCV`` reports. It loads straight into ``pandas.DataFrame``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from tuning.engine.spec import ExperimentSpec, parse_spec
from tuning.engine.training import FitRecord


def _store(results: dict[str, Any], key: str, array: np.ndarray, *, splits: bool = False, rank: bool = False) -> None:
    """Add ``split{k}_``, ``mean_``, ``std_`` and ``rank_`` columns, as scikit-learn does."""
    if splits:
        for split in range(array.shape[1]):
            results[f"split{split}_{key}"] = array[:, split]
    means = np.average(array, axis=1)
    results[f"mean_{key}"] = means
    results[f"std_{key}"] = np.sqrt(np.average((array - means[:, np.newaxis]) ** 2, axis=1))
    if rank:
        if np.isnan(means).all():
            ranks = np.ones_like(means, dtype=np.int32)
        else:  # failed candidates tie with each other below the worst real score
            filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
            ranks = rankdata(-filled, method="min").astype(np.int32, copy=False)
        results[f"rank_{key}"] = ranks


def build_cv_results(
    candidates: list[dict[str, Any]], n_splits: int, records: list[FitRecord]
) -> dict[str, Any]:
    """Assemble ``cv_results_`` from one record per (candidate, fold).

    Missing records (a cancelled search) count as NaN scores, so unfinished candidates
    rank last, like failed ones.
    """
    shape = (len(candidates), n_splits)
    table = {name: np.full(shape, np.nan) for name in ("fit_time", "score_time", "test_score", "train_score")}
    for r in records:
        for name in table:
            table[name][r.candidate, r.fold] = getattr(r, name)
    results: dict[str, Any] = {}
    _store(results, "fit_time", table["fit_time"])
    _store(results, "score_time", table["score_time"])
    names = sorted({name for c in candidates for name in c})
    for name in names:
        results[f"param_{name}"] = [c.get(name) for c in candidates]
    results["params"] = candidates
    _store(results, "test_score", table["test_score"], splits=True, rank=True)
    _store(results, "train_score", table["train_score"], splits=True)
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
    spec : ExperimentSpec
    cv_results : dict of str to list
        ``GridSearchCV.cv_results_``'s keys (``params``, ``param_*``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, the same for train
        scores, ``mean_fit_time``…); ``pd.DataFrame(result.cv_results)`` just works.
    best_index, best_params, best_score :
        As ``GridSearchCV``'s ``best_index_``, ``best_params_`` and ``best_score_``;
        None when no candidate finished.
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
    """

    spec: ExperimentSpec
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

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON data (NaN written as null)."""
        return _plain({
            "spec": self.spec.to_dict(),
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
            spec=parse_spec(data["spec"]),
            n_splits=data["n_splits"],
            cv_results=cv_results,
            best_index=data["best_index"],
            best_params=data["best_params"],
            best_score=data["best_score"],
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
        )

    @classmethod
    def load(cls, path: str | Path) -> SearchResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_frame(self) -> Any:
        """``cv_results`` as a pandas DataFrame, one row per candidate."""
        import pandas as pd

        return pd.DataFrame(self.cv_results)
