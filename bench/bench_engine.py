"""Engine vs plain GridSearchCV, side by side in one run: equal scores, and how much faster.

    python bench/bench_engine.py [--repeats 3] [--n-jobs 2]

Prints the wall-time ratio (GridSearchCV / engine), the epoch ratio
(epochs_gridsearchcv / epochs_trained: the most that sharing can save) and the
efficiency (wall-time ratio / epoch ratio). Both runs use loky workers with one BLAS
thread each; the executor is warmed up first so neither pays for starting it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec

SPEC = parse_spec({
    "dataset": {"name": "digits"},
    "param_grid": {"hidden_layer_sizes": [[4], [16], [64]], "learning_rate_init": [1e-3, 3e-3],
                   "max_iter": [25, 50, 100, 200]},
    "cv": 3,
})


def time_gridsearchcv(n_jobs: int) -> tuple[float, GridSearchCV]:
    estimator, grid = sklearn_equivalent(SPEC)
    data = load_dataset(SPEC.dataset)
    search = GridSearchCV(estimator, grid, cv=SPEC.cv, scoring=SPEC.scoring, n_jobs=n_jobs, return_train_score=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(data.X, data.y)
    return time.perf_counter() - started, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    Parallel(n_jobs=args.n_jobs)(delayed(abs)(i) for i in range(4))  # warm up the loky workers
    plain_times, engine_times = [], []
    for _ in range(args.repeats):  # alternate, so that both see the same machine
        seconds, reference = time_gridsearchcv(args.n_jobs)
        plain_times.append(seconds)
        started = time.perf_counter()
        result = run_search(SPEC, n_jobs=args.n_jobs)
        engine_times.append(time.perf_counter() - started)

    for key in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_allclose(result.cv_results[key], reference.cv_results_[key], rtol=0, atol=1e-9)
    assert list(result.cv_results["rank_test_score"]) == list(reference.cv_results_["rank_test_score"])
    assert result.best_score == reference.best_score_

    plain, engine = statistics.median(plain_times), statistics.median(engine_times)
    wall_ratio = plain / engine
    epoch_ratio = result.epochs_gridsearchcv / result.epochs_trained
    print(f"grid: digits, hidden {{4,16,64}} x lr {{1e-3,3e-3}} x max_iter {{25,50,100,200}}, cv=3, "
          f"n_jobs={args.n_jobs}, {result.fits_total} fits, median of {args.repeats}")
    print("scores: equal to GridSearchCV (every split, mean, std, rank, best_score_)")
    print(f"GridSearchCV  {plain:6.2f} s   ({', '.join(f'{t:.2f}' for t in plain_times)})")
    print(f"engine        {engine:6.2f} s   ({', '.join(f'{t:.2f}' for t in engine_times)})")
    print(f"epochs: GridSearchCV {result.epochs_gridsearchcv:,}, engine {result.epochs_trained:,}")
    print(f"wall-time ratio  {wall_ratio:.2f}x")
    print(f"epoch ratio      {epoch_ratio:.2f}x")
    print(f"efficiency       {wall_ratio / epoch_ratio:.2f}  (target >= 0.90)")


if __name__ == "__main__":
    main()
