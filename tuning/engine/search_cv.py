"""``tuning.GridSearchCV``: scikit-learn's ``GridSearchCV``, with Tuning Lab's engine evaluating the candidates.

The class is a subclass: the constructor, validation, ``_run_search`` (which candidates),
``_format_results`` (``cv_results_``), multimetric scoring, best-candidate selection and
refit are scikit-learn's. When the estimator is an ``MLPClassifier`` or ``MLPRegressor``
(or a ``Pipeline`` ending in one, or a ``TransformedTargetRegressor`` around either) only
the evaluation of the candidates differs: the engine's units of work
(:func:`tuning.engine.training.fit_stack`, with the lean trainer where it covers the
settings) train each group of candidates that differ
only in ``max_iter`` once per split, score every checkpoint with the same scorer objects
and ``error_score``, and return ``_fit_and_score``'s dicts. For any other estimator
``fit`` is scikit-learn's own.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections import defaultdict
from inspect import signature
from typing import Any

import numpy as np
import sklearn
from joblib.parallel import get_active_backend
from sklearn.base import _fit_context, clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection import GridSearchCV as _SklearnGridSearchCV
from sklearn.model_selection import check_cv
from sklearn.model_selection._validation import _insert_error_scores, _warn_or_raise_about_fit_failures
from sklearn.utils import indexable
from sklearn.utils.parallel import delayed
from sklearn.utils.validation import _check_method_params, _num_features, check_is_fitted

from tuning.engine.cluster import prepare_workers
from tuning.engine.plan import group_candidates, stacks_of
from tuning.engine.results import SearchResult, _plain, fit_and_score_outputs
from tuning.engine.search import curves_of, evaluate_units, unit_seconds, units_of
from tuning.engine.training import FitRecord, UnitResult, fit_stack, mlp_path, network_of

__all__ = ["GridSearchCV"]


class GridSearchCV(_SklearnGridSearchCV):
    """Exhaustive search over a parameter grid, as ``sklearn.model_selection.GridSearchCV``.

    Same parameters, methods and attributes as scikit-learn's (see its documentation);
    ``isinstance(search, sklearn.model_selection.GridSearchCV)`` holds. When
    ``estimator`` is an ``MLPClassifier`` or ``MLPRegressor``, a ``Pipeline`` whose last step
    is one, or a ``TransformedTargetRegressor`` around either,
    candidates that differ only in the network's ``max_iter`` share one training run per
    split (with a stochastic solver and an integer ``random_state``, the weights after
    epoch k of a longer run are bit-identical to a fit with ``max_iter=k``), the longest
    work starts first, and every score equals scikit-learn's. For any other estimator the
    search is scikit-learn's own.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, \
n_splits_, refit_time_, multimetric_, classes_, n_features_in_, feature_names_in_ :
        scikit-learn's.

    The following are Tuning Lab's own, set when the engine evaluated the candidates:

    loss_curves_ : list of list of list of float
        ``loss_curves_[i][k]``: the training loss after each epoch of candidate ``i`` on
        split ``k`` (empty for ``lbfgs``, which keeps no curve).
    validation_scores_ : list of list of (list of float or None)
        The same for the validation score, where ``early_stopping`` is on (else None).
    n_iters_ : list of list of int
        Epochs each fit ran (its ``n_iter_``).
    fit_log_ : list of dict
        One entry per fit: ``candidate``, ``split``, ``worker`` (a Dask worker's address,
        else ``host:pid``), ``start`` and ``end`` (seconds since the search started).
    epochs_trained_ : int
        Epochs this search trained.
    epochs_gridsearchcv_ : int
        Epochs scikit-learn's ``GridSearchCV`` trains for the same search (the sum of
        every fit's ``n_iter_``).
    """

    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, as ``sklearn.model_selection.GridSearchCV.fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        **params : dict of str -> object
            Parameters passed to the ``fit`` method of the estimator, the scorer and the
            CV splitter (``groups``, ``sample_weight``...).

        Returns
        -------
        self : object
        """
        for name in _OWN_ATTRIBUTES:  # from an earlier fit
            self.__dict__.pop(name, None)
        if not self._uses_engine():
            return super().fit(X, y, **params)
        return self._fit_with_engine(X, y, **params)

    def _uses_engine(self) -> bool:
        """The estimator ends in an ``MLPClassifier`` or ``MLPRegressor``, and no scikit-learn callback watches
        each fit."""
        return mlp_path(self.estimator) is not None and not getattr(self, "_skl_callbacks", None)

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit_with_engine(self, X, y=None, **params):
        # Step by step BaseSearchCV.fit (scikit-learn 1.9): only evaluate_candidates differs.
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)
        metadata = {"sample_weight": params["sample_weight"]} if params.get("sample_weight") is not None else None
        root_ctx = self._init_callback_context(max_subtasks=1 + (self.refit is not False)).call_on_fit_task_begin(
            estimator=self, X=X, y=y, metadata=metadata)
        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._check_input_parameters(X=X, y=y, split_params=routed_params.splitter.split)
        self.n_splits_ = self._checked_cv_orig.get_n_splits(X, y, **routed_params.splitter.split)
        base_estimator = clone(self.estimator)
        _prepare_dask_workers()

        started = time.time()
        all_candidate_params: list[dict[str, Any]] = []
        all_out: list[dict[str, Any]] = []
        all_more_results: dict[str, list[Any]] = defaultdict(list)
        all_units: list[UnitResult] = []
        results: dict[str, Any] = {}

        def evaluate_candidates(candidate_params, cv=None, more_results=None, callback_ctx=None):
            cv = cv or self._checked_cv_orig
            candidate_params = list(candidate_params)
            n_candidates, n_splits = len(candidate_params), self.n_splits_
            cv_splits = list(cv.split(X, y, **routed_params.splitter.split))
            if len(cv_splits) != n_splits:
                raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                                 f"Expected {n_splits} splits, got {len(cv_splits)}")
            if self.verbose > 0:
                print(f"Fitting {n_splits} folds for each of {n_candidates} candidates, totalling "
                      f"{n_candidates * n_splits} fits")
            units = self._evaluate(base_estimator, X, y, candidate_params, cv_splits, scorers, routed_params)
            records = [r for u in units for r in u.records]
            out = fit_and_score_outputs(records, n_candidates, n_splits, return_train_score=self.return_train_score)
            if len(out) < 1:
                raise ValueError("No fits were performed. Was the CV iterator empty? Were there no candidates?")
            _warn_or_raise_about_fit_failures(out, self.error_score)
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)
            for unit in units:  # candidate numbers across every call of evaluate_candidates
                for record in unit.records:
                    record.candidate += len(all_candidate_params)
            all_units.extend(units)
            all_candidate_params.extend(candidate_params)
            all_out.extend(out)
            for key, value in (more_results or {}).items():
                all_more_results[key].extend(value)
            nonlocal results
            results = self._format_results(all_candidate_params, n_splits, all_out, all_more_results)
            return results

        if "callback_ctx" in signature(self._run_search).parameters:
            self._run_search(evaluate_candidates, callback_ctx=root_ctx)
        else:  # a subclass's own search strategy
            self._run_search(evaluate_candidates)

        first_test_score = all_out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base_estimator).set_params(**clone(self.best_params_, safe=False))
            refit_ctx = root_ctx.subcontext(task_name="refit-with-best-params")
            with refit_ctx.propagate_callback_context(self.best_estimator_):
                refit_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
                refit_started = time.time()
                if y is not None:
                    self.best_estimator_.fit(X, y, **routed_params.estimator.fit)
                else:
                    self.best_estimator_.fit(X, **routed_params.estimator.fit)
                self.refit_time_ = time.time() - refit_started
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
            refit_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        self._keep_engine_output(all_units, len(all_candidate_params), started, X, y)
        root_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)
        return self

    def _evaluate(self, base_estimator, X, y, candidates, splits, scorers, routed_params) -> list[UnitResult]:
        """Every (candidate, split) through the engine: shared trajectories, stacked where the lean
        trainer covers them, longest first."""
        path = mlp_path(base_estimator)
        max_iter_key = f"{path}__max_iter" if path else "max_iter"

        def network(candidate: dict[str, Any]) -> dict[str, Any] | None:
            built = clone(base_estimator).set_params(**clone(candidate, safe=False))
            where = mlp_path(built)
            return None if where is None else network_of(built, where).get_params(deep=False)

        trajectories = group_candidates(candidates, max_iter_key=max_iter_key, network=network)
        networks = {id(t): network(t.params) for t in trajectories}

        def task(unit):
            train, test = splits[unit.fold]
            return delayed(fit_stack)(
                X, y, train, test,
                estimators=[clone(base_estimator).set_params(**clone(t.params, safe=False)) for t in unit.trajectories],
                candidates=[t.candidates for t in unit.trajectories],
                checkpoints=[t.checkpoints for t in unit.trajectories], scorer=scorers,
                fit_params=routed_params.estimator.fit, score_params=routed_params.scorer.score,
                error_score=self.error_score, return_train_score=self.return_train_score, fold=unit.fold,
                unit=unit.index, verbose=self.verbose, n_splits=len(splits),
                candidate_params={c: candidates[c] for t in unit.trajectories for c in t.candidates},
            )

        n_outputs = len(np.unique(y)) if y is not None and np.ndim(y) == 1 else 2
        try:
            n_features = _num_features(X)
        except TypeError:
            n_features = 1
        sizes = {"n_train": len(splits[0][0]) if splits else 0, "n_features": n_features,
                 "n_outputs": 1 if n_outputs == 2 else n_outputs}
        units: list[UnitResult] = []
        stacks = stacks_of(trajectories, path=path or "", network=lambda t: networks[id(t)])
        if not evaluate_units(units_of(trajectories, len(splits), stacks), task, n_jobs=self.n_jobs,
                              on_unit=units.append, pre_dispatch=self.pre_dispatch,
                              seconds=lambda u: unit_seconds(u, network=lambda t: networks[id(t)], **sizes)):
            raise KeyboardInterrupt  # evaluate_units stopped the workers; the search stops as scikit-learn's would
        return units

    def _keep_engine_output(self, units: list[UnitResult], n_candidates: int, started: float, X, y) -> None:
        records = sorted((r for u in units for r in u.records), key=lambda r: (r.candidate, r.fold))
        grid: list[list[FitRecord | None]] = [[None] * self.n_splits_ for _ in range(n_candidates)]
        for r in records:
            grid[r.candidate][r.fold] = r
        self.loss_curves_ = [[r.loss_curve if r else [] for r in row] for row in grid]
        self.validation_scores_ = [[r.validation_scores if r else None for r in row] for row in grid]
        self.n_iters_ = [[r.n_iter if r else 0 for r in row] for row in grid]
        self.fit_log_ = [{"candidate": r.candidate, "split": r.fold, "worker": r.worker, "start": r.start - started,
                          "end": r.end - started} for r in records]
        self.epochs_trained_ = sum(u.epochs_run for u in units)
        self.epochs_gridsearchcv_ = sum(r.n_iter for r in records)
        self._engine_records_ = records
        self._engine_units_ = units
        regression = not is_classifier(self.estimator)  # a regressor's numbers are not classes
        classes, counts = np.unique(np.asarray(y), return_counts=True) if y is not None and not regression else ([], [])
        self._engine_data_ = {"n_samples": len(y) if y is not None else 0,
                              "n_features": int(np.shape(X)[1]) if len(np.shape(X)) > 1 else 1,
                              "classes": {str(c): int(n) for c, n in zip(classes, counts)},
                              **({"task": "regression"} if regression else {})}

    def to_result(self, *, dataset: str = "python") -> SearchResult:
        """This fitted search as a :class:`~tuning.SearchResult`: what the figure builders, the
        experiment store and the dashboard take.

        The network's parameters lose their pipeline prefix (``mlp__alpha`` becomes ``alpha``)
        so that the charts find them; values that are not JSON (estimators) become their repr.

        Parameters
        ----------
        dataset : str, default="python"
            The data's name, as the Experiments page lists it.
        """
        check_is_fitted(self, "fit_log_", msg="to_result() needs a search that Tuning Lab's engine fitted "
                                               "(an MLPClassifier or MLPRegressor, or a Pipeline ending in one); "
                                               "call fit first")
        path = mlp_path(self.estimator) or ""
        prefix = f"{path}__" if path else ""

        def rename(name: str) -> str:
            return name.removeprefix(prefix) if prefix and name.startswith(prefix) else name

        def params_of(p: dict[str, Any]) -> dict[str, Any]:
            return {rename(k): _jsonable(v) for k, v in p.items()}

        metric = self.refit if isinstance(self.refit, str) else "score"
        table: dict[str, Any] = {}
        for key, column in self.cv_results_.items():
            if key == "params":
                table[key] = [params_of(p) for p in column]
            elif key.startswith("param_"):
                values = [None if m else _jsonable(v) for v, m in zip(column.data, np.ma.getmaskarray(column))]
                table["param_" + rename(key.removeprefix("param_"))] = values
            else:  # one metric's columns keep scikit-learn's names; with several, the refit metric's also plain ones
                table[key] = _plain(np.asarray(column).tolist())
                if self.multimetric_ and key.endswith(f"_{metric}"):
                    table[key.removesuffix(metric) + "score"] = table[key]
        records = self._engine_records_
        best_index = getattr(self, "best_index_", None)
        best_score = getattr(self, "best_score_", None)
        if best_score is None and best_index is not None:
            best_score = table["mean_test_score"][best_index] if "mean_test_score" in table else None
        t0 = min((r.start for r in records), default=0.0)
        return SearchResult(
            spec=None,
            scoring=metric if self.multimetric_ else _scoring_name(self.scoring),
            n_splits=self.n_splits_,
            cv_results=table,
            best_index=None if best_index is None else int(best_index),
            best_params=None if best_index is None else table["params"][best_index],
            best_score=None if best_score is None else float(best_score),
            curves=curves_of(table["params"], self.n_splits_, records),
            fits=[{"candidate": r.candidate, "fold": r.fold, "unit": r.unit, "worker": r.worker,
                   "start": r.start - t0, "end": r.end - t0, "n_iter": r.n_iter, "fit_error": r.fit_error,
                   "trainer": r.trainer}
                  for r in records],
            epochs_trained=self.epochs_trained_,
            epochs_gridsearchcv=self.epochs_gridsearchcv_,
            fits_done=len(records),
            fits_total=len(table["params"]) * self.n_splits_,
            elapsed=max((f["end"] for f in self.fit_log_), default=0.0) + getattr(self, "refit_time_", 0.0),
            dataset={"name": dataset, "n_classes": len(self._engine_data_["classes"]), **self._engine_data_},
            versions={"scikit-learn": sklearn.__version__},
            best_estimator=getattr(self, "best_estimator_", None),
            source={"estimator": repr(self.estimator), "param_grid": repr(self.param_grid), "cv": repr(self.cv),
                    "scoring": repr(self.scoring), "refit": repr(self.refit)},
        )

    def save_experiment(self, store: Any = None, *, name: str = "", dataset: str = "python") -> str:
        """Keep this fitted search in the experiment store, where the Experiments page opens it.

        Parameters
        ----------
        store : ExperimentStore or path, optional
            The default store (``$TUNING_STORE``, else ``~/.tuning-lab/experiments.sqlite``)
            when omitted.
        name : str, optional
            A name to list it under.
        dataset : str, default="python"
            The data's name.

        Returns
        -------
        str
            The experiment's id (the same for the same search saved twice).
        """
        from tuning.engine.store import ExperimentStore

        if not isinstance(store, ExperimentStore):
            store = ExperimentStore(store)
        result = self.to_result(dataset=dataset)
        scores = {k: v for k, v in result.cv_results.items() if "time" not in k}
        key = json.dumps({"source": result.source, "cv_results": _plain(scores), "data": result.dataset},
                         sort_keys=True, default=str)
        result.experiment_id = "py" + hashlib.sha256(key.encode()).hexdigest()[:10]
        store.save_result(result, self._engine_units_, name=name)
        return result.experiment_id


_OWN_ATTRIBUTES = ("loss_curves_", "validation_scores_", "n_iters_", "fit_log_", "epochs_trained_",
                   "epochs_gridsearchcv_", "_engine_records_", "_engine_units_", "_engine_data_")


def _jsonable(value: Any) -> Any:
    """JSON data as JSON reads it back, numpy scalars as numbers, anything else (an estimator) as its repr."""
    if isinstance(value, np.generic):
        return value.item()
    try:
        return json.loads(json.dumps(value, allow_nan=False))  # tuples become lists, as after saving
    except (TypeError, ValueError):
        return repr(value)


def _scoring_name(scoring: Any) -> str:
    if scoring is None:
        return "score"
    return scoring if isinstance(scoring, str) else getattr(scoring, "__name__", type(scoring).__name__)


def _prepare_dask_workers() -> None:
    """Under ``joblib.parallel_backend("dask")``, make sure the workers can run Tuning Lab's units of work."""
    backend, _ = get_active_backend()
    client = getattr(backend, "client", None)
    if type(backend).__name__ == "DaskDistributedBackend" and client is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # distributed's notes on large uploads
            prepare_workers(client)
