"""tuning.GridSearchCV against scikit-learn's GridSearchCV, side by side in one run, on the lesson grid.

    python bench/bench_gridsearchcv.py [--repeats 3] [--n-jobs 2]

The same notebook call, ``GridSearchCV(pipeline, param_grid, cv=3, n_jobs=2).fit(X, y)``, with
scikit-learn's class and with ours, timed as a user meets it: the whole ``fit``, refit of the
best estimator included. Runs alternate, so both see the same machine; the loky workers are
warmed up first so neither pays for starting them. Before printing, it checks that the two
searches are equal: every ``cv_results_`` score key by key, the ranks, ``best_params_`` and
the refitted ``best_estimator_``'s predictions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn import model_selection
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.parallel import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tuning

GRID = {"mlpclassifier__hidden_layer_sizes": [(4,), (16,), (64,)],
        "mlpclassifier__learning_rate_init": [1e-3, 3e-3],
        "mlpclassifier__max_iter": [25, 50, 100, 200]}


def timed_fit(search_class: type, X: np.ndarray, y: np.ndarray, n_jobs: int) -> tuple[float, object]:
    search = search_class(make_pipeline(StandardScaler(), MLPClassifier(random_state=0)), GRID, cv=3,
                          n_jobs=n_jobs, return_train_score=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning from the short max_iter values, in both
        search.fit(X, y)
    return time.perf_counter() - started, search


def check_equal(ours: tuning.GridSearchCV, theirs: model_selection.GridSearchCV, X: np.ndarray) -> None:
    for key, expected in theirs.cv_results_.items():
        if key.endswith(("_test_score", "_train_score")):
            np.testing.assert_array_equal(ours.cv_results_[key], expected, err_msg=key)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert ours.best_params_ == theirs.best_params_ and ours.best_score_ == theirs.best_score_
    np.testing.assert_array_equal(ours.best_estimator_.predict(X), theirs.best_estimator_.predict(X))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    Parallel(n_jobs=args.n_jobs)(delayed(abs)(i) for i in range(4))  # warm up the loky workers
    theirs_times, ours_times = [], []
    for _ in range(args.repeats):
        seconds, theirs = timed_fit(model_selection.GridSearchCV, X, y, args.n_jobs)
        theirs_times.append(seconds)
        seconds, ours = timed_fit(tuning.GridSearchCV, X, y, args.n_jobs)
        ours_times.append(seconds)
    check_equal(ours, theirs, X)

    plain, engine = statistics.median(theirs_times), statistics.median(ours_times)
    n_fits = len(theirs.cv_results_["params"]) * theirs.n_splits_
    print(f"grid: digits, hidden {{4,16,64}} x lr {{1e-3,3e-3}} x max_iter {{25,50,100,200}}, cv=3, "
          f"n_jobs={args.n_jobs}, {n_fits} fits + refit, median of {args.repeats}")
    print("equal: every cv_results_ score, rank, best_params_, best_score_, best_estimator_'s predictions")
    print(f"sklearn.model_selection.GridSearchCV  {plain:6.2f} s   ({', '.join(f'{t:.2f}' for t in theirs_times)})")
    print(f"tuning.GridSearchCV                   {engine:6.2f} s   ({', '.join(f'{t:.2f}' for t in ours_times)})")
    print(f"epochs: scikit-learn {ours.epochs_gridsearchcv_:,}, tuning {ours.epochs_trained_:,} "
          f"(ratio {ours.epochs_gridsearchcv_ / ours.epochs_trained_:.2f}x)")
    print(f"wall-time ratio  {plain / engine:.2f}x")


if __name__ == "__main__":
    main()
