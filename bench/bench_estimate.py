"""How good is the Grid Search time estimate? Estimate against actual wall time for several grids.

    python bench/bench_estimate.py [--repeats 1] [--recalibrate]

Each grid runs twice: first with no worker processes running (as a server's first
search, so worker start-up is part of the time), then again at once (workers already
running, as the searches after it). The estimate is what the Grid Search page shows
before *Run search*: this machine's cached throughput (measured first when missing),
the worker pool's state, the refit and the machine's load at that moment. Prints one
row per run and how many fall within ±50%; then, for the model alone, the CPU
time of real units of work against the model's price for them (one thread, so other
work on the machine does not count).

A search runs as the page runs it: with the refit, writing every unit to an experiment
store (a new file each time, so nothing is served from an earlier run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from joblib.externals.loky import get_reusable_executor
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from tuning.data.datasets import load_dataset
from tuning.data.pipeline import make_preprocessor
from tuning.engine.plan import Estimate, SearchPlan, estimate_search, plan_search, stacks_of
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.engine.throughput import default_throughput_path, machine_load_now, machine_throughput
from tuning.engine.training import fit_stack
from tuning.services.share import FORM_DEFAULTS, form_to_spec

CSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "csv"
GRIDS = {
    "moons, the form's default grid (54 fits)": parse_spec(form_to_spec(dict(FORM_DEFAULTS), {"name": "moons"}, 2)),
    "digits, 16/64 units x 2 rates x max_iter 50/100": parse_spec({
        "dataset": "digits", "cv": 3, "n_jobs": 2,
        "param_grid": {"hidden_layer_sizes": [[16], [64]], "learning_rate_init": [1e-3, 1e-2],
                       "max_iter": [50, 100]}}),
    "breast_cancer, batch 16/64 x 8/32 units x 2 depths": parse_spec({
        "dataset": "breast_cancer", "cv": 4, "n_jobs": 2,
        "param_grid": {"hidden_layer_sizes": [[8], [32], [8, 8], [32, 32]], "batch_size": [16, 64],
                       "max_iter": [20, 40]}}),
    "wine, lbfgs and adam, 4/16/64 units": parse_spec({
        "dataset": "wine", "cv": 5, "n_jobs": 2,
        "param_grid": {"hidden_layer_sizes": [[4], [16], [64]], "solver": ["lbfgs", "adam"],
                       "max_iter": [50, 200]}}),
    "spirals 1000 rows, tanh/relu x early stopping, one worker": parse_spec({
        "dataset": {"name": "spirals", "n_samples": 1000}, "cv": 3, "n_jobs": 1,
        "param_grid": {"hidden_layer_sizes": [[32, 32]], "activation": ["relu", "tanh"],
                       "early_stopping": [False, True], "max_iter": [100, 200]}}),
    "penguins CSV (text columns, one-hot), 3 rates x 4/32 units": parse_spec({
        "dataset": {"csv": str(CSV / "penguins.csv"), "target": "species"}, "cv": 5, "n_jobs": 2,
        "param_grid": {"hidden_layer_sizes": [[4], [32]], "learning_rate_init": [1e-3, 1e-2, 0.1],
                       "max_iter": [50, 100, 200]}}),
}


def stop_workers() -> None:
    """End joblib's worker processes, so that the next search starts its own."""
    get_reusable_executor().shutdown(wait=True, kill_workers=True)


def run_once(spec, store: ExperimentStore) -> tuple[Estimate, float, float]:
    """The estimate, the load it was made for, and the actual wall time of the search."""
    data = load_dataset(spec.dataset)
    load = machine_load_now()
    estimate = estimate_search(plan_search(spec), data, n_jobs=spec.n_jobs or 1, throughput=machine_throughput(),
                               machine_load=load)
    started = time.perf_counter()
    run_search(spec, data=data, refit=True, store=store)
    return estimate, load, time.perf_counter() - started


def unit_cpu(spec) -> tuple[float, float]:
    """CPU seconds of the grid's first four trajectories on fold 0 (stacked as the search stacks them), measured
    and as the model prices them."""
    data = load_dataset(spec.dataset)
    plan = plan_search(spec)
    folds = list(StratifiedKFold(spec.cv).split(data.X, data.y))
    preprocessor = make_preprocessor(data, spec.preprocess)
    estimate = estimate_search(SearchPlan(plan.candidates, plan.trajectories[:4], spec.cv), data, n_jobs=1,
                               throughput=machine_throughput(), refit=False, workers_ready=True)
    started = time.thread_time()
    first = plan.trajectories[:4]
    for stack in stacks_of(first):  # as the search trains them: a stack at a time, on the lean trainer
        members = [first[i] for i in stack]
        estimators = [make_pipeline(None if preprocessor is None else clone(preprocessor), MLPClassifier(**t.params))
                      for t in members]
        fit_stack(data.X, data.y, folds[0][0], folds[0][1], estimators=estimators,
                  candidates=[t.candidates for t in members], checkpoints=[t.checkpoints for t in members],
                  scorer=check_scoring(estimators[0], scoring=spec.scoring), fold=0)
    return time.thread_time() - started, estimate.training / spec.cv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of the whole list")
    parser.add_argument("--recalibrate", action="store_true", help="measure this machine's throughput again")
    args = parser.parse_args()
    if args.recalibrate:
        default_throughput_path().unlink(missing_ok=True)
    stop_workers()
    started = time.perf_counter()
    throughput = machine_throughput()
    print(f"throughput ({default_throughput_path()}; {time.perf_counter() - started:.1f} s): "
          f"unit {throughput.per_unit * 1e3:.1f} ms, epoch {throughput.per_epoch * 1e6:.0f} us, "
          f"batch x layer {throughput.per_batch_layer * 1e6:.0f} us, "
          f"weight x row {throughput.per_weight_row * 1e12:.0f} ps, scoring call {throughput.per_score * 1e3:.1f} ms "
          f"(+{throughput.per_table_score * 1e3:.1f} ms for a table), worker start {throughput.worker_start:.1f} s "
          "(CPU seconds)")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start\n")
    print("| grid | workers | estimate (range) | actual | actual / estimate | other load |")
    print("|---|---|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for n, (name, spec) in enumerate(GRIDS.items()):
                stop_workers()
                for state in ("cold", "warm"):
                    if state == "warm" and (spec.n_jobs or 1) == 1:
                        continue
                    store = ExperimentStore(Path(folder) / f"{repeat}-{n}-{state}.sqlite")
                    estimate, load, actual = run_once(spec, store)
                    ratios.append(actual / estimate.seconds)
                    print(f"| {name} | {state} (start-up {estimate.startup:.1f} s) | {estimate.seconds:.1f} s "
                          f"({estimate.low:.1f}–{estimate.high:.1f}) | {actual:.1f} s | "
                          f"{actual / estimate.seconds:.2f} | {load:.1f} |", flush=True)
    within = sum(0.5 <= r <= 1.5 for r in ratios)
    print(f"\n{within} of {len(ratios)} runs within ±50% of the estimate; actual / estimate: median "
          f"{statistics.median(ratios):.2f}, range {min(ratios):.2f}–{max(ratios):.2f}; "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| grid | CPU of 4 trajectories (fold 0), measured | as the model prices them | measured / model |")
    print("|---|---|---|---|")
    for name, spec in GRIDS.items():
        measured, model = unit_cpu(spec)
        print(f"| {name} | {measured:.3f} s | {model:.3f} s | {measured / model:.2f} |", flush=True)


if __name__ == "__main__":
    main()
