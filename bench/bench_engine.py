"""Tuning Lab against plain scikit-learn, side by side, as users meet them: equal scores, and how much faster.

    python bench/bench_engine.py [--repeats 3] [--only lesson,fresh,tiny,playground] [--crossover] [--stacking]

Grids: each side is a fresh Python process, timed from start to exit, so imports and
worker start-up count: ``python -m tuning run SPEC --out RESULT`` against a script that
fits ``GridSearchCV`` (a ``StandardScaler`` and ``MLPClassifier`` pipeline, the same grid,
folds and ``n_jobs``) and writes its ``cv_results_``. The two alternate, so that both see
the same machine, and the median is reported. Every split score, mean, rank and the best
parameters are checked equal before a figure is printed. Then the same calls in this
process (``GridSearchCV.fit`` against ``run_search``): with fresh worker processes, and
again at once with the workers already up, as a notebook's next fit or a server's next
search meets them.

Playground: ``train_network`` as the page calls it (split, scaling, training, both scores)
against ``MLPClassifier.fit`` alone on the same scaled rows, in one process, median of 15.

``--crossover`` times ``run_search`` in-process against two fresh worker processes for
searches of growing size (the size below which a search runs in-process).
``--stacking`` times the trainer on the grids' stacks: all candidates in one stack against
one candidate at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuning.engine.spec import parse_spec  # noqa: E402

GRIDS = {
    "lesson": {
        "title": "digits, hidden {4,16,64} x lr {1e-3,3e-3} x max_iter {25,50,100,200}, cv 3, n_jobs 2",
        "target": 4.0,
        "spec": {"dataset": {"name": "digits"}, "cv": 3, "n_jobs": 2,
                 "param_grid": {"hidden_layer_sizes": [[4], [16], [64]], "learning_rate_init": [1e-3, 3e-3],
                                "max_iter": [25, 50, 100, 200]}},
    },
    "fresh": {
        "title": "digits, hidden {8,32} x lr {1e-3,3e-3,1e-2,3e-2} x alpha {1e-4,1e-2}, max_iter 100, cv 3, n_jobs 2",
        "target": 2.5,
        "spec": {"dataset": {"name": "digits"}, "cv": 3, "n_jobs": 2, "estimator": {"random_state": 0, "max_iter": 100},
                 "param_grid": {"hidden_layer_sizes": [[8], [32]], "learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2],
                                "alpha": [1e-4, 1e-2]}},
    },
    "tiny": {
        "title": "iris, alpha {1e-4,1e-2} (2 candidates), cv 3, n_jobs 2",
        "target": 1.0,
        "spec": {"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 2, "param_grid": {"alpha": [1e-4, 1e-2]}},
    },
}

# What a scikit-learn user writes for the same search (the dataset loaders are scikit-learn's).
GRIDSEARCHCV_SCRIPT = """
import json, sys
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

spec = json.loads(sys.argv[1])
X, y = {"digits": load_digits, "iris": load_iris}[spec["dataset"]["name"]](return_X_y=True)
estimator = Pipeline([("prep", StandardScaler()), ("mlp", MLPClassifier(**spec.get("estimator", {"random_state": 0})))])
grid = {"mlp__" + k: [tuple(v) if isinstance(v, list) else v for v in vs] for k, vs in spec["param_grid"].items()}
search = GridSearchCV(estimator, grid, cv=spec["cv"], n_jobs=spec["n_jobs"]).fit(X, y)
keys = [k for k in search.cv_results_ if k.startswith(("split", "mean_test", "rank_test"))]
json.dump({"cv_results": {k: search.cv_results_[k].tolist() for k in keys},
           "best_params": {k[len("mlp__"):]: v for k, v in search.best_params_.items()}}, open(sys.argv[2], "w"))
"""


def _run(command: list[str]) -> float:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def _check_equal(ours: dict[str, Any], theirs: dict[str, Any], n_splits: int) -> None:
    keys = [f"split{i}_test_score" for i in range(n_splits)] + ["mean_test_score", "rank_test_score"]
    for key in keys:
        assert ours["cv_results"][key] == theirs["cv_results"][key], f"{key} differs"
    best = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in theirs["best_params"].items()}
    assert ours["best_params"] == best, (ours["best_params"], best)


def _calls(spec: dict[str, Any], repeats: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """The whole call in this process: GridSearchCV.fit and run_search, each with fresh worker processes,
    then each again at once with its workers already up (a notebook's next fit, a server's next search)."""
    from joblib.externals.loky import get_reusable_executor
    from sklearn.model_selection import GridSearchCV

    from tuning.data.datasets import load_dataset
    from tuning.engine.search import run_search, sklearn_equivalent

    parsed = parse_spec(spec)
    data = load_dataset(parsed.dataset)
    plain, engine, plain_warm, engine_warm = [], [], [], []

    def plain_fit() -> Any:
        estimator, grid = sklearn_equivalent(parsed, data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GridSearchCV(estimator, grid, cv=parsed.cv, n_jobs=parsed.n_jobs).fit(data.X, data.y)

    def engine_fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_search(parsed, data=data)

    def timed(fit: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        result = fit()
        return time.perf_counter() - started, result

    for _ in range(repeats):
        for fit, cold, warm in ((plain_fit, plain, plain_warm), (engine_fit, engine, engine_warm)):
            get_reusable_executor().shutdown(wait=True)
            seconds, result = timed(fit)
            cold.append(seconds)
            seconds, again = timed(fit)
            warm.append(seconds)
            if fit is plain_fit:
                search = result
            else:
                for done in (result, again):
                    assert done.cv_results["mean_test_score"] == search.cv_results_["mean_test_score"].tolist()
                    assert done.cv_results["rank_test_score"] == search.cv_results_["rank_test_score"].tolist()
    return plain, engine, plain_warm, engine_warm


def bench_grid(name: str, repeats: int) -> float:
    grid = GRIDS[name]
    spec = grid["spec"]
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, ours_path, theirs_path = Path(tmp, "spec.json"), Path(tmp, "ours.json"), Path(tmp, "theirs.json")
        spec_path.write_text(json.dumps(spec))
        plain, engine = [], []
        for _ in range(repeats):  # alternate, so that both see the same machine
            plain.append(_run([sys.executable, "-c", GRIDSEARCHCV_SCRIPT, json.dumps(spec), str(theirs_path)]))
            engine.append(_run([sys.executable, "-m", "tuning", "run", str(spec_path), "--out", str(ours_path),
                                "--no-store", "--model", str(Path(tmp, "best.joblib"))]))  # refits, as GridSearchCV
        ours, theirs = json.loads(ours_path.read_text()), json.loads(theirs_path.read_text())
        _check_equal(ours, theirs, spec["cv"])
    plain_calls, engine_calls, plain_warm, engine_warm = _calls(spec, repeats)
    trainers: dict[str, int] = {}
    for fit in ours["fits"]:
        trainers[fit["trainer"]] = trainers.get(fit["trainer"], 0) + 1
    ratio = statistics.median(plain) / statistics.median(engine)
    call_ratio = statistics.median(plain_calls) / statistics.median(engine_calls)
    print(f"\n{name}: {grid['title']}")
    print(f"  scores equal to GridSearchCV (every split, mean, rank, best_params); fits by trainer: {trainers}")
    print(f"  epochs: GridSearchCV {ours['epochs_gridsearchcv']:,}, Tuning Lab {ours['epochs_trained']:,}")
    print("  the command, a fresh process (imports, workers' start-up, refit):")
    print(f"    GridSearchCV script  {statistics.median(plain):6.2f} s  ({', '.join(f'{t:.2f}' for t in plain)})")
    print(f"    tuning run           {statistics.median(engine):6.2f} s  ({', '.join(f'{t:.2f}' for t in engine)})")
    print(f"    ratio {ratio:.2f}x  (target >= {grid['target']:.1f}x)")
    print("  the call, in a process that has imported everything (fresh workers each time, refit):")
    print(f"    GridSearchCV.fit     {statistics.median(plain_calls):6.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in plain_calls)})")
    print(f"    run_search           {statistics.median(engine_calls):6.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in engine_calls)})")
    print(f"    ratio {call_ratio:.2f}x")
    print("  the call again at once, its workers already up (a notebook's next fit, a server's next search):")
    print(f"    GridSearchCV.fit     {statistics.median(plain_warm):6.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in plain_warm)})")
    print(f"    run_search           {statistics.median(engine_warm):6.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in engine_warm)})")
    print(f"    ratio {statistics.median(plain_warm) / statistics.median(engine_warm):.2f}x")
    return ratio


def bench_playground(repeats: int = 15) -> float:
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from tuning.data.datasets import load_dataset
    from tuning.services.playground import train_network

    data = load_dataset({"name": "moons", "n_samples": 300})
    params = {"hidden_layer_sizes": [16], "max_iter": 100, "random_state": 0}
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.25, random_state=0,
                                                        stratify=data.y)
    scaler = StandardScaler().fit(X_train)
    X_scaled = scaler.transform(X_train)

    def plain_fit() -> MLPClassifier:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MLPClassifier(**params).fit(X_scaled, y_train)

    plain, ours = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        reference = plain_fit()
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        run = train_network(data, params)
        ours.append(time.perf_counter() - started)
    assert run.trainer == "lean"
    assert run.loss_curve == reference.loss_curve_
    assert run.test_score == reference.score(scaler.transform(X_test), y_test)
    ratio = statistics.median(plain) / statistics.median(ours)
    print("\nplayground: moons, 300 rows, 16 units, 100 epochs")
    print("  loss curve and test score equal to MLPClassifier.fit's")
    print(f"  MLPClassifier.fit alone       {statistics.median(plain) * 1e3:6.1f} ms")
    print(f"  train_network (whole call)    {statistics.median(ours) * 1e3:6.1f} ms")
    print(f"  ratio {ratio:.2f}x  (target >= 2.0x)")
    return ratio


def bench_stacking(repeats: int = 3) -> None:
    """The trainer on each grid's stacks: all candidates at once against one at a time, same fold."""
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from tuning.data.datasets import load_dataset
    from tuning.engine.lean import train_stack

    data = load_dataset({"name": "digits"})
    X = StandardScaler().fit_transform(data.X[:1198])
    y = data.y[:1198]
    print("\nstacking: one fold of digits (1,198 rows), seconds for the whole stack, best of", repeats)
    groups = {
        "lesson, hidden 64, lr x2, 200 epochs": [dict(hidden_layer_sizes=[64], learning_rate_init=lr, max_iter=200,
                                                      random_state=0) for lr in (1e-3, 3e-3)],
        "lesson, hidden 4, lr x2, 200 epochs": [dict(hidden_layer_sizes=[4], learning_rate_init=lr, max_iter=200,
                                                     random_state=0) for lr in (1e-3, 3e-3)],
        "fresh, hidden 8, lr x4 x alpha x2": [dict(hidden_layer_sizes=[8], learning_rate_init=lr, alpha=a, max_iter=100,
                                                   random_state=0) for lr in (1e-3, 3e-3, 1e-2, 3e-2)
                                              for a in (1e-4, 1e-2)],
        "fresh, hidden 32, lr x4 x alpha x2": [dict(hidden_layer_sizes=[32], learning_rate_init=lr, alpha=a,
                                                    max_iter=100, random_state=0)
                                               for lr in (1e-3, 3e-3, 1e-2, 3e-2) for a in (1e-4, 1e-2)],
    }
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for title, members in groups.items():
            stacked, alone = [], []
            for _ in range(repeats):
                started = time.process_time()
                together = [c.model.coefs_ for c in train_stack(X, y, members)]
                stacked.append(time.process_time() - started)
                started = time.process_time()
                apart = [c.model.coefs_ for m in members for c in train_stack(X, y, [m])]
                alone.append(time.process_time() - started)
            assert sorted(str(c) for c in together) == sorted(str(c) for c in apart)
            print(f"  {title:40s} stacked {min(stacked):5.2f} s, one at a time {min(alone):5.2f} s "
                  f"({min(alone) / min(stacked):.2f}x)")


def bench_crossover(repeats: int = 3) -> None:
    """In-process against two fresh worker processes, for searches of growing size."""
    from joblib.externals.loky import get_reusable_executor

    from tuning.data.datasets import load_dataset
    from tuning.engine import search
    from tuning.engine.plan import plan_search, stacks_of
    from tuning.engine.spec import parse_spec

    print(f"\ncrossover: run_search in this process vs 2 fresh worker processes, seconds (best of {repeats})")
    print(f"  {'search':46s} {'estimate':>8s} {'here':>6s} {'workers':>7s}")
    threshold = search.IN_PROCESS_SECONDS
    for dataset, hidden, max_iter in (("iris", [[4], [16]], 50), ("iris", [[4], [16]], 200),
                                      ("digits", [[8], [32]], 15), ("digits", [[8], [32]], 40),
                                      ("digits", [[8], [32]], 100), ("digits", [[8], [32]], 250)):
        spec = parse_spec({"dataset": {"name": dataset}, "cv": 3,
                           "estimator": {"random_state": 0, "max_iter": max_iter},
                           "param_grid": {"hidden_layer_sizes": hidden, "alpha": [1e-4, 1e-2],
                                          "learning_rate_init": [1e-3, 1e-2]}})
        data, plan = load_dataset(spec.dataset), plan_search(spec)
        n_outputs = 1 if len(data.class_names) == 2 else len(data.class_names)
        estimate = sum(search.unit_seconds(u, n_train=len(data.y) * 2 // 3, n_features=data.n_features,
                                           n_outputs=n_outputs)
                       for u in search.units_of(plan.trajectories, plan.n_splits, stacks_of(plan.trajectories)))
        times = {}
        try:
            search.IN_PROCESS_SECONDS = 0.0  # measure both ways, whatever the rule would choose
            for n_jobs in (1, 2):
                best = float("inf")
                for _ in range(repeats):
                    get_reusable_executor().shutdown(wait=True)
                    started = time.perf_counter()
                    search.run_search(spec, n_jobs=n_jobs, refit=False)
                    best = min(best, time.perf_counter() - started)
                times[n_jobs] = best
        finally:
            search.IN_PROCESS_SECONDS = threshold
        label = f"{dataset}, hidden {hidden} x alpha x2 x lr x2, {max_iter} ep"
        print(f"  {label:46s} {estimate:8.2f} {times[1]:6.2f} {times[2]:7.2f}")
    print(f"  (searches estimated below {threshold:g} s run in this process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="lesson,fresh,tiny,playground")
    parser.add_argument("--crossover", action="store_true")
    parser.add_argument("--stacking", action="store_true")
    args = parser.parse_args()

    import sklearn
    warnings.filterwarnings("ignore", message="Trying to resize an executor")  # fresh workers for every run
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; median of {args.repeats} alternating runs per grid")
    ratios = {}
    for name in filter(None, args.only.split(",")):
        ratios[name] = bench_playground() if name == "playground" else bench_grid(name, args.repeats)
    if args.stacking:
        bench_stacking()
    if args.crossover:
        bench_crossover()
    print("\nsummary: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
          + f" (load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
