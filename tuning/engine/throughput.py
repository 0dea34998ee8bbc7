"""How fast this machine trains, measured once and kept in a small JSON file.

The time estimate (:func:`tuning.engine.plan.estimate_search`) prices a unit of work
(one trajectory on one fold) in CPU seconds as

    per_unit + epochs × (per_epoch + batches × weight_matrices × per_batch_layer
                         + rows × weights × per_weight_row)
    + scoring calls × per_score (+ the extra cost of a table's column transformer)

and adds the time to start the worker processes when none are running. The
coefficients come from timing real units of work (:func:`fit_stack`, the lean trainer, on small
synthetic data chosen so that each term dominates one probe), fitted by non-negative
least squares; the start-up is timed by starting real loky workers that import the
engine. Everything is measured in CPU time, so a busy machine does not skew the
figures; the estimate applies the machine's load at the time it is made. About two
seconds in all, then cached per machine.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import socket
import time
from dataclasses import asdict, dataclass, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

MAX_AGE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Throughput:
    """CPU seconds per piece of training work on this machine (one core, one BLAS thread).

    Attributes
    ----------
    per_unit : float
        Fixed cost of a unit of work: building the pipeline and the network, fitting the scaler.
    per_epoch : float
        Fixed cost of an epoch (shuffling, the loss, convergence checks).
    per_batch_layer : float
        Cost of one mini-batch through one weight matrix, forward and backward, beyond arithmetic.
    per_weight_row : float
        Arithmetic: one weight times one training row, forward and backward.
    per_score : float
        One scoring call (predict through the pipeline, then the metric), beyond arithmetic.
    per_table_unit, per_table_score : float
        What a CSV table's column transformer (imputation, one-hot encoding on a DataFrame)
        adds to each unit and to each scoring call.
    worker_start : float
        CPU seconds one worker process needs to start and import the engine.
    per_search : float
        What a search costs besides its units of work: checking and planning, the experiment
        store, assembling the result, the refit's pipeline, keeping the model.
    machine : str
        What the figures were measured on; a cache for another machine is measured again.
    measured : float
        When (seconds since the epoch).
    """

    per_unit: float
    per_epoch: float
    per_batch_layer: float
    per_weight_row: float
    per_score: float
    per_table_unit: float
    per_table_score: float
    worker_start: float
    per_search: float = 0.0
    machine: str = ""
    measured: float = 0.0

    def unit_seconds(self, *, epochs: float, batches: float, layers: int, rows: float, weights: float,
                     scores: int = 0, scored_rows: float = 0.0, table: bool = False) -> float:
        """CPU time of one unit of work: ``epochs`` epochs of ``batches`` mini-batches, then ``scores``
        scoring calls over ``scored_rows`` rows in all."""
        per_epoch = self.per_epoch + batches * layers * self.per_batch_layer + rows * weights * self.per_weight_row
        scoring = scores * self.per_score + scored_rows * weights * self.per_weight_row / 3  # forward pass only
        if table:
            scoring += self.per_table_unit + scores * self.per_table_score
        return self.per_unit + epochs * per_epoch + scoring


def this_machine() -> str:
    """What makes measured speeds comparable: host, cores, processor, Python and scikit-learn."""
    return (f"{socket.gethostname()}|{os.cpu_count()}|{platform.machine()}|{platform.python_version()}"
            f"|sklearn {sklearn.__version__}|lean trainer")


def default_throughput_path() -> Path:
    """``$TUNING_THROUGHPUT``, else ``~/.tuning-lab/throughput.json``."""
    return Path(os.environ.get("TUNING_THROUGHPUT") or Path.home() / ".tuning-lab" / "throughput.json")


# (rows, features, hidden layers, batch size, epochs, checkpoints, a table?): each probe makes one term dominate.
_PROBES = [
    (60, 2, [2], 200, 1, 1, False),          # per unit
    (60, 2, [2], 200, 120, 1, False),        # per epoch
    (480, 2, [2, 2, 2], 4, 3, 1, False),     # per batch and layer
    (1500, 40, [96], 200, 6, 1, False),      # arithmetic
    (60, 2, [2], 200, 8, 8, False),          # scoring calls
    (60, 4, [2], 200, 1, 1, True),           # a table's transformer, per unit
    (60, 4, [2], 200, 8, 8, True),           # a table's transformer, per scoring call
    (480, 8, [16, 16], 32, 10, 2, False),    # a mix, to steady the fit
]
_TABLE_CATEGORIES = 3  # the probe table's text column, one-hot encoded


def _probe_data(rows: int, features: int, table: bool) -> tuple[Any, np.ndarray, Any]:
    from tuning.data.dataset import Dataset
    from tuning.data.pipeline import make_preprocessor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows + rows // 2, features))
    y = (X[:, 0] + rng.normal(scale=0.5, size=len(X)) > 0).astype(np.int64)
    if not table:
        return X, y, make_preprocessor(None, "standard")
    numeric = [f"x{i}" for i in range(features)]
    frame = pd.DataFrame(X, columns=numeric)
    frame.iloc[::7, 0] = np.nan
    frame["kind"] = np.array(["a", "b", "c"])[np.arange(len(frame)) % _TABLE_CATEGORIES]
    data = Dataset("probe", frame, y, [*numeric, "kind"], ["0", "1"], numeric_columns=numeric,
                   categorical_columns=["kind"])
    return frame, y, make_preprocessor(data, "standard")


def _probe_seconds(rows: int, features: int, hidden: list[int], batch: int, epochs: int, checkpoints: int,
                   table: bool) -> float:
    """CPU seconds of one real unit of work (the cheaper of two runs)."""
    from sklearn.metrics import check_scoring
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    from tuning.engine.training import fit_stack

    X, y, preprocessor = _probe_data(rows, features, table)
    train, test = np.arange(rows), np.arange(rows, len(y))
    params = {"hidden_layer_sizes": hidden, "batch_size": batch, "max_iter": epochs, "random_state": 0,
              "tol": 0.0, "n_iter_no_change": 10_000}
    marks = tuple(sorted({max(1, round(epochs * (k + 1) / checkpoints)) for k in range(checkpoints)}))
    best = math.inf
    for _ in range(2):
        started = time.thread_time()
        estimator = make_pipeline(preprocessor, MLPClassifier(**params))
        fit_stack(X, y, train, test, estimators=[estimator], candidates=[tuple(range(len(marks)))],
                  checkpoints=[marks], scorer=check_scoring(estimator, scoring="accuracy"), fold=0)
        best = min(best, time.thread_time() - started)
    return best


def _features(rows: int, features: int, hidden: list[int], batch: int, epochs: int, checkpoints: int,
              table: bool) -> list[float]:
    width = features + (_TABLE_CATEGORIES if table else 0)
    sizes = [width, *hidden, 1]
    weights = sum(a * b + b for a, b in pairwise(sizes))
    batches = math.ceil(rows / min(batch, rows))
    scores = 2 * checkpoints  # test and train score at every checkpoint
    scored_rows = checkpoints * rows * 1.5
    return [1.0, epochs, epochs * batches * (len(sizes) - 1), (epochs * rows + scored_rows / 3) * weights, scores,
            float(table), scores * float(table)]


def _worker_probe(_: int) -> int:
    import tuning.engine.training  # noqa: F401  (what a unit of work imports)

    time.sleep(0.05)  # so that every worker gets a task, as in a search
    return os.getpid()


def measure_worker_start(n_workers: int = 1) -> float:
    """CPU seconds one fresh loky worker needs to start and import the engine (the mean of ``n_workers``)."""
    from joblib.externals.loky import ProcessPoolExecutor

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    executor = ProcessPoolExecutor(max_workers=n_workers)
    try:
        list(executor.map(_worker_probe, range(n_workers)))
    finally:
        executor.shutdown(wait=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n_workers


def measure_search_overhead(unit_price: Any) -> float:
    """CPU seconds of a tiny search (two units, one job, with a store) beyond what its units cost."""
    import tempfile

    from tuning.engine.plan import plan_search
    from tuning.engine.search import run_search
    from tuning.engine.spec import parse_spec
    from tuning.engine.store import ExperimentStore

    spec = parse_spec({"dataset": {"name": "moons", "n_samples": 60}, "cv": 2, "n_jobs": 1,
                       "param_grid": {"hidden_layer_sizes": [[2]], "max_iter": [3]}})
    best = math.inf
    for attempt in range(2):
        with tempfile.TemporaryDirectory() as folder:
            store = ExperimentStore(Path(folder) / f"probe{attempt}.sqlite")
            started = time.thread_time()
            run_search(spec, store=store, refit=True)
            best = min(best, time.thread_time() - started)
    return max(0.0, best - unit_price(plan_search(spec)))


def measure_throughput() -> Throughput:
    """Time the probes and the worker start-up on this machine (about two seconds)."""
    from scipy.optimize import nnls

    _probe_seconds(40, 2, [2], 200, 2, 1, True)  # warm up imports and caches
    A = np.array([_features(*p) for p in _PROBES])
    t = np.array([_probe_seconds(*p) for p in _PROBES])
    coefficients, _ = nnls(A / t[:, None], np.ones_like(t))  # relative errors: each probe weighs the same
    names = ["per_unit", "per_epoch", "per_batch_layer", "per_weight_row", "per_score", "per_table_unit",
             "per_table_score"]
    figures = {n: float(c) for n, c in zip(names, coefficients)}
    per_search = measure_search_overhead(lambda plan: _units_price(plan, Throughput(**figures, worker_start=0.0)))
    return Throughput(**figures, worker_start=measure_worker_start(1), per_search=per_search,
                      machine=this_machine(), measured=time.time())


def _units_price(plan: Any, throughput: Throughput) -> float:
    """CPU seconds of the probe search's units and refit, as the model prices them (no start-up, no load)."""
    from tuning.data.datasets import load_dataset
    from tuning.engine.plan import estimate_search

    data = load_dataset({"name": "moons", "n_samples": 60})
    return estimate_search(plan, data, n_jobs=1, throughput=throughput, workers_ready=True).training


def load_throughput(path: str | Path | None = None) -> Throughput | None:
    """The cached measurement for this machine, or None (missing, unreadable, stale, another machine)."""
    path = Path(path) if path is not None else default_throughput_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if set(data) != {f.name for f in fields(Throughput)}:  # written by another version: measure again
            return None
        measured = Throughput(**data)
    except (OSError, ValueError, TypeError):
        return None
    if measured.machine != this_machine() or time.time() - measured.measured > MAX_AGE_SECONDS:
        return None
    return measured


def machine_throughput(path: str | Path | None = None) -> Throughput:
    """This machine's throughput: from the cache file, else measured now and cached."""
    path = Path(path) if path is not None else default_throughput_path()
    cached = load_throughput(path)
    if cached is not None:
        return cached
    measured = measure_throughput()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(measured), indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: measure again next time
    return measured


def workers_running(n_jobs: int) -> bool:
    """Whether joblib's reusable pool already has ``n_jobs`` live workers (then a search starts at once).

    Reads loky's executor singleton, which joblib reuses between searches in one process.
    """
    if n_jobs <= 1:
        return True  # joblib runs a single job in this process: nothing to start
    try:
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is None or executor._flags.broken or executor._flags.shutdown:
            return False
        alive = [p for p in list(executor._processes.values()) if p.is_alive()]
        return len(alive) >= n_jobs
    except (AttributeError, ImportError):  # another joblib: assume the workers must start
        return False


def machine_load_now(probe_seconds: float = 0.05) -> float:
    """How many other busy processes share the cores, as this process sees them now and over a minute.

    Runs ``probe_seconds`` of CPU work and compares it with the wall time it took: a
    process that gets a fraction ``s`` of a core shares ``cores`` with about
    ``cores / s - 1`` others of its own priority (when it gets a whole core, all but one
    core may still be busy: the load average says how many). Other developers' bursts
    come and go within seconds, so this is averaged with the one-minute load average.
    """
    cores = os.cpu_count() or 1
    started_wall, started_cpu = time.perf_counter(), time.thread_time()
    x = 0
    while time.thread_time() - started_cpu < probe_seconds:
        for i in range(2000):
            x += i * i
    share = (time.thread_time() - started_cpu) / max(time.perf_counter() - started_wall, 1e-9)
    minute = os.getloadavg()[0]
    now = cores / share - 1 if share < 0.9 else min(minute, cores - 1)
    return (now + minute) / 2
