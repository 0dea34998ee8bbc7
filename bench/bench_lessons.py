"""CPU time of each lesson preset, and of the hidden-layer preset before and after it was made cheaper.

    python bench/bench_lessons.py [--repeat 3]

Every preset runs in this process with one worker (n_jobs=1, as a server's preparing
process runs the ones that take it), so CPU time is this process's own. The hidden-layer
preset is also run as it was before (sizes 1 to 512 units, 5 seeds) in the same run, so
the ratio compares like with like on a machine whose load changes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuning.engine.search import run_search
from tuning.services.lessons import HIDDEN_SEEDS, HIDDEN_SIZES, LESSONS, run_lesson

BEFORE = {"dataset": {"name": "xor", "n_samples": 100, "noise": 0.3}, "cv": 5,
          "estimator": {"solver": "lbfgs", "alpha": 0.0, "max_iter": 3000, "tol": 1e-6},
          "param_grid": {"hidden_layer_sizes": [[s] for s in [1, 2, 4, 8, 32, 128, 512]],
                         "random_state": [0, 1, 2, 3, 4]}}


def cpu_seconds(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        rows.setdefault("hidden_size before (1-512 units, 5 seeds, max_iter 3000)", []).append(
            cpu_seconds(lambda: run_search(BEFORE, n_jobs=1, refit=False, max_epochs=10**7)))
        for name in LESSONS:
            label = (f"hidden_size now (1-{HIDDEN_SIZES[-1]} units, {len(HIDDEN_SEEDS)} seeds, max_iter 200)"
                     if name == "hidden_size" else name)
            rows.setdefault(label, []).append(cpu_seconds(lambda name=name: run_lesson(name, n_jobs=1)))
    print(f"CPU seconds per preset, median of {args.repeat} (range):")
    for label, values in rows.items():
        print(f"  {label:<55} {statistics.median(values):6.2f}  ({min(values):.2f}–{max(values):.2f})")
    before, now = (statistics.median(v) for k, v in rows.items() if k.startswith("hidden_size"))
    print(f"hidden_size now / before: {now / before:.2f}")


if __name__ == "__main__":
    main()
