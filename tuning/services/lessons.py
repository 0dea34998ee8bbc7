"""Lesson presets: one click each, a few sentences, and a chart that demonstrates them.

Every preset checks its own claim on its result (``claim_holds``), so a lesson never
says something its chart does not show, and sums its result up in one line
(``headline``) that the README quotes.

Presets are computed once and kept on disk (:class:`LessonCache`); a server computes the
missing ones when it starts, in a separate low-priority process (:class:`LessonPreparer`)
that stopping the server ends at once.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning

import tuning
from tuning.data.datasets import load_dataset
from tuning.engine.networks import INIT_SCHEMES
from tuning.engine.search import run_search
from tuning.engine.store import default_store_path
from tuning.errors import TuningError
from tuning.services.playground import compare_learning_rates, fit_network, network_in, train_network


@dataclass
class LessonResult:
    """What a preset showed: its text (adapted to the outcome), its claim and the chart data."""

    name: str
    title: str
    text: str
    claim: str
    claim_holds: bool
    headline: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LessonResult:
        return cls(**raw)


class Outcome(NamedTuple):
    """What running a preset found; :func:`run_lesson` adds the preset's name and title."""

    text: str
    claim: str
    claim_holds: bool
    headline: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    summary: str
    run: Callable[[int | None], Outcome]


def _curve(losses: list[float]) -> list[float]:
    return [float(v) if math.isfinite(v) else None for v in losses]


def _learning_rate(n_jobs: int | None) -> Outcome:
    data = load_dataset({"name": "digits"})
    params = {"hidden_layer_sizes": [32], "max_iter": 60, "random_state": 0, "tol": 1e-6, "n_iter_no_change": 10_000}
    rates = {"too low": 1e-4, "good": 1e-2, "too high": 1.0}
    runs = compare_learning_rates(data, params, list(rates.values()))
    low, good, high = (runs[rates[k]].loss_curve for k in ("too low", "good", "too high"))
    still_falling = low[-1] < low[-6]
    jumps_back_up = any(b > a for a, b in pairwise(high))
    holds = good[-1] < high[-1] and good[-1] < low[-1] and still_falling and jumps_back_up
    text = ("The same network and seed on the digits, trained three times. With a good learning rate (0.01) "
            "the loss drops fast and settles. Too high (1.0) overshoots: the loss jumps around and ends higher. "
            "Too low (0.0001) is still creeping down after 60 epochs.")
    headline = ("final loss after 60 epochs: " +
                ", ".join(f"lr={rate:g} → {runs[rate].loss_curve[-1]:.3g}" for rate in (1e-2, 1.0, 1e-4)))
    return Outcome(text,
                   "final loss: good < too high and good < too low; too high's loss jumps back up at least "
                   "once; too low is still decreasing at the end", holds, headline,
                   {"curves": {f"{label} (lr={rate:g})": _curve(runs[rate].loss_curve)
                               for label, rate in rates.items()},
                    "test_scores": {label: runs[rate].test_score for label, rate in rates.items()}})


HIDDEN_SIZES = [1, 2, 4, 8, 32, 128]
HIDDEN_SEEDS = [0, 1, 2, 3]


def _error_by_size(cv: dict[str, Any], sizes: list[int], error: Callable[[float], float]) -> list[dict[str, Any]]:
    """Per hidden size: the mean and spread, over the other parameters (seeds), of each candidate's
    train and test error, ``error(score)``."""
    table = []
    for size in sizes:
        rows = [i for i, p in enumerate(cv["params"]) if p["hidden_layer_sizes"] == [size]]
        test = np.array([error(cv["mean_test_score"][i]) for i in rows])
        train = np.array([error(cv["mean_train_score"][i]) for i in rows])
        table.append({"size": size, "test_error": float(test.mean()), "test_std": float(test.std()),
                      "train_error": float(train.mean()), "train_std": float(train.std())})
    return table


def _hidden_size(n_jobs: int | None) -> Outcome:
    # Sizes 1 to 128 units, 4 seeds and scikit-learn's default max_iter=200 show underfitting,
    # the best size and overfitting as clearly as sizes up to 512 units, 5 seeds and 3000
    # iterations did, for well under half the CPU time (bench/bench_lessons.py): the 512-unit
    # networks cost the most, and the largest ones still improving after 200 iterations only
    # overfit a little less (2.6% training error instead of 1.5%).
    sizes = HIDDEN_SIZES
    spec = {"dataset": {"name": "xor", "n_samples": 100, "noise": 0.3}, "cv": 5,
            "estimator": {"solver": "lbfgs", "alpha": 0.0, "max_iter": 200, "tol": 1e-6},
            "param_grid": {"hidden_layer_sizes": [[s] for s in sizes], "random_state": HIDDEN_SEEDS}}
    result = run_search(spec, n_jobs=n_jobs, refit=False, max_epochs=10**7)
    table = _error_by_size(result.cv_results, sizes, lambda score: 1 - score)
    best = min(table, key=lambda r: r["test_error"])
    tiny, largest = table[0], table[-1]
    underfits = tiny["train_error"] > 2 * best["train_error"] and tiny["test_error"] > best["test_error"] + 0.05
    overfits = largest["test_error"] > best["test_error"] + 0.03 and largest["train_error"] < best["train_error"]
    ending = (f"Past {best['size']} units the networks overfit: their training error falls to "
              f"{largest['train_error']:.1%} while their test error rises to {largest['test_error']:.1%}."
              if overfits else
              f"Past {best['size']} units the test error flattens: bigger networks neither help nor hurt here.")
    text = (f"Error against hidden units on 100 noisy XOR points (5-fold CV, averaged over {len(HIDDEN_SEEDS)} "
            f"seeds, no regularisation). Tiny networks underfit: 1 unit leaves {tiny['train_error']:.0%} training "
            f"error. The best size is {best['size']} units ({best['test_error']:.1%} test error). {ending}")
    headline = (f"{best['size']} units is best ({best['test_error']:.1%} CV error); 1 unit underfits "
                f"({tiny['train_error']:.1%} training error); {largest['size']} units overfit "
                f"({largest['train_error']:.1%} training error, {largest['test_error']:.1%} CV error)")
    return Outcome(text, "tiny networks underfit, and large ones overfit (test error above the best by 3 points)",
                   underfits and overfits, headline, {"table": table, "best_size": best["size"]})


def _hidden_size_regression(n_jobs: int | None) -> Outcome:
    sizes = HIDDEN_SIZES
    dataset = {"name": "sine", "n_samples": 60, "noise": 0.3}
    spec = {"dataset": dataset, "cv": 5, "scoring": "neg_root_mean_squared_error",
            "estimator": {"solver": "lbfgs", "alpha": 0.0, "max_iter": 2000, "tol": 1e-6, "activation": "tanh"},
            "param_grid": {"hidden_layer_sizes": [[s] for s in sizes], "random_state": [0, 1, 2]}}
    result = run_search(spec, n_jobs=n_jobs, refit=False, max_epochs=10**7)
    table = _error_by_size(result.cv_results, sizes, lambda score: -score)  # RMSE, in the target's units
    best = min(table, key=lambda r: r["test_error"])
    tiny, largest = table[0], table[-1]
    too_straight = tiny["train_error"] > 2 * best["train_error"] and tiny["test_error"] > best["test_error"] + 0.1
    chases_noise = largest["test_error"] > best["test_error"] + 0.1 and largest["train_error"] < best["train_error"]
    middle = tiny["size"] < best["size"] < largest["size"]
    data = load_dataset(dataset)
    grid = np.linspace(-3, 3, 200)
    fits = {}
    for label, size in ((f"{tiny['size']} unit", tiny["size"]), (f"{best['size']} units (best)", best["size"]),
                        (f"{largest['size']} units", largest["size"])):
        run = fit_network(data, {**spec["estimator"], "hidden_layer_sizes": [size], "random_state": 0})
        fits[label] = {"x": grid.tolist(), "y": run.predict(grid.reshape(-1, 1)).tolist()}
    text = (f"RMSE against hidden units on 60 points of a noisy sine, y = sin(2x) + noise of standard deviation 0.3 "
            f"(5-fold CV, averaged over 3 seeds, no regularisation). {tiny['size']} unit is too straight to follow "
            f"the curve: {tiny['train_error']:.2f} RMSE even on the training folds. {best['size']} units follow it "
            f"({best['test_error']:.2f} on unseen points, close to the noise's 0.3). {largest['size']} units chase "
            f"the noise: training RMSE {largest['train_error']:.2f}, below the noise itself, while unseen points get "
            f"{largest['test_error']:.2f}.")
    headline = (f"{best['size']} units is best ({best['test_error']:.2f} CV RMSE); 1 unit underfits "
                f"({tiny['train_error']:.2f} training RMSE); {largest['size']} units overfit "
                f"({largest['train_error']:.2f} training RMSE, {largest['test_error']:.2f} CV RMSE)")
    return Outcome(text, "1 unit underfits (training RMSE over twice the best's), a middle size is best, and the "
                   "largest network overfits (test RMSE 0.1 above the best, training RMSE below it)",
                   too_straight and chases_noise and middle, headline,
                   {"table": table, "best_size": best["size"], "fits": fits,
                    "points": {"x": data.X[:, 0].tolist(), "y": data.y.tolist()}})


def _grid_search(n_jobs: int | None) -> Outcome:
    spec = {"dataset": {"name": "digits"}, "cv": 3, "n_jobs": n_jobs or 2,
            "param_grid": {"max_iter": [5, 20, 80], "hidden_layer_sizes": [[4], [16], [64]]}}
    result = run_search(spec, n_jobs=n_jobs)
    cv = result.cv_results
    best = result.best_params
    holds = (result.best_score == max(s for s in cv["mean_test_score"] if s == s)
             and best["max_iter"] > 5 and best["hidden_layer_sizes"] != [4] and result.best_estimator is not None)
    workers = spec["n_jobs"]
    text = (f"GridSearchCV over max_iter × hidden_layer_sizes on the digits, {result.fits_total} fits on "
            f"{workers} worker{'s' if workers != 1 else ''} (n_jobs={workers}). best_score_ = "
            f"{result.best_score:.3f} with {best}; best_estimator_ is that network refitted on all the data. "
            "Too few epochs or too few units both cost accuracy.")
    headline = (f"best_score_ {result.best_score:.3f} with max_iter={best['max_iter']}, "
                f"hidden_layer_sizes={best['hidden_layer_sizes']}")
    return Outcome(text, "the best candidate trains more than 5 epochs with more than 4 units, and is refitted",
                   holds, headline, {"result": result.to_dict()})


def _minibatch(n_jobs: int | None) -> Outcome:
    data = load_dataset({"name": "digits"})
    n_train = math.ceil(data.n_samples * 0.75)
    batches = {"16": 16, "128": 128, f"full ({n_train})": n_train}
    curves, per_update, seconds = {}, {}, {}
    for label, batch in batches.items():
        run = train_network(data, {"hidden_layer_sizes": [32], "max_iter": 30, "batch_size": batch,
                                   "learning_rate_init": 1e-3, "random_state": 0, "tol": 1e-6,
                                   "n_iter_no_change": 10_000})
        curves[label] = _curve(run.loss_curve)
        per_update[label] = math.ceil(n_train / batch)
        seconds[label] = run.seconds / max(run.n_iter, 1)
    target = 0.5
    reach = {label: next((i + 1 for i, v in enumerate(c) if v is not None and v <= target), None)
             for label, c in curves.items()}
    time_to = {label: (reach[label] * seconds[label] if reach[label] else None) for label in curves}
    small, full = curves["16"], curves[f"full ({n_train})"]
    holds = small[-1] < full[-1] and per_update["16"] > per_update[f"full ({n_train})"]
    after = ", ".join(f"batch {k}: loss {c[-1]:.3f} after {30 * per_update[k]:,} updates"
                      for k, c in curves.items())
    reached = ", ".join(f"batch {k}: {f'{v:.2f} s' if v else 'not within 30 epochs'}" for k, v in time_to.items())
    text = ("One epoch is one pass over the data, and each mini-batch is one weight update: a batch of 16 makes "
            f"{per_update['16']} updates per epoch, the full batch one. After 30 epochs, {after}. "
            f"Smaller batches learn more per epoch because they update more often. Time to reach a loss of "
            f"{target}: {reached}.")
    headline = "loss after 30 epochs: " + ", ".join(f"batch {k} → {c[-1]:.3g}" for k, c in curves.items())
    return Outcome(text, "after 30 epochs, batch 16 has a lower loss than the full batch", holds, headline,
                   {"curves": curves, "updates_per_epoch": per_update, "seconds_per_epoch": seconds,
                    "time_to_target": time_to, "target": target})


def _init_seeds(n_jobs: int | None) -> Outcome:
    data = load_dataset({"name": "moons", "n_samples": 200, "noise": 0.25})
    runs = {seed: train_network(data, {"hidden_layer_sizes": [4], "max_iter": 150, "learning_rate_init": 0.01,
                                       "random_state": seed, "tol": 1e-6, "n_iter_no_change": 10_000})
            for seed in range(10)}
    finals = [r.loss_curve[-1] for r in runs.values()]
    scores = [r.test_score for r in runs.values()]
    seeds_differ = max(finals) - min(finals) > 0.02 and len(set(scores)) > 1
    schemes = _init_schemes()
    text = ("The same 4-unit network trained from 10 random initialisations (seeds 0–9), nothing else changed. "
            f"Final losses range from {min(finals):.3f} to {max(finals):.3f} and test accuracy from "
            f"{min(scores):.2f} to {max(scores):.2f}: where training starts decides where it ends, which is why "
            f"a fair comparison fixes the seed or averages over several. {schemes.text}")
    headline = (f"final losses {min(finals):.3f} to {max(finals):.3f}, test accuracy {min(scores):.2f} to "
                f"{max(scores):.2f}; {schemes.headline}")
    return Outcome(text, f"final losses differ by more than 0.02 across seeds; {schemes.claim}",
                   seeds_differ and schemes.claim_holds, headline,
                   {"curves": {f"seed {s}": _curve(r.loss_curve) for s, r in runs.items()}, "test_scores": scores,
                    **schemes.data})


def _init_schemes() -> Outcome:
    """The weight-initialisation schemes side by side: one ReLU network on the digits, one scheme each."""
    data = load_dataset({"name": "digits"})
    params = {"hidden_layer_sizes": [64, 64, 64], "max_iter": 30, "learning_rate_init": 0.001, "random_state": 0,
              "tol": 1e-6, "n_iter_no_change": 10_000}
    runs = {init: train_network(data, {**params, "init": init}) for init in INIT_SCHEMES}
    curves = {init: run.loss_curve for init, run in runs.items()}
    zeros = network_in(runs["zeros"].model).coefs_
    identical = all(np.all(layer == layer[:, :1]) for layer in zeros[:-1])  # every hidden unit the same
    stalls = curves["zeros"][-1] >= 0.99 * curves["zeros"][0]
    slow_start = curves["small_constant"][9] > 2 * curves["glorot_uniform"][9]
    he_fastest = min(curves, key=lambda init: curves[init][2]) == "he_normal"
    text = (f"Five initialisation schemes, one 3-layer ReLU network on the digits: all zeros leaves every hidden "
            f"unit identical, so the loss stays at {curves['zeros'][-1]:.2f} and test accuracy at "
            f"{runs['zeros'].test_score:.2f}; a small constant scale (weights of standard deviation 0.01) starts "
            f"slowly, at {curves['small_constant'][9]:.2f} after 10 epochs where Glorot-uniform is at "
            f"{curves['glorot_uniform'][9]:.2f}; He-normal, made for ReLU, has the lowest loss after 3 epochs "
            f"({curves['he_normal'][2]:.2f}).")
    headline = (f"all-zeros init stays at loss {curves['zeros'][-1]:.2f}, He-normal lowest after 3 epochs "
                f"({curves['he_normal'][2]:.2f})")
    return Outcome(text, "all zeros keeps every hidden unit identical and its loss does not fall; the small constant "
                   "scale's loss after 10 epochs is over twice Glorot-uniform's; He-normal's is the lowest after 3",
                   identical and stalls and slow_start and he_fastest, headline,
                   {"scheme_curves": {init: _curve(c) for init, c in curves.items()},
                    "scheme_test_scores": {init: run.test_score for init, run in runs.items()}})


LESSONS: dict[str, Lesson] = {lesson.name: lesson for lesson in [
    Lesson("learning_rate", "Learning rate", "Too low, good and too high, loss over iterations.", _learning_rate),
    Lesson("hidden_size", "Hidden-layer size", "Error against hidden units: underfitting and overfitting.",
           _hidden_size),
    Lesson("hidden_size_regression", "Hidden-layer size (regression)",
           "A noisy sine: too few units draw it too straight, too many chase the noise.", _hidden_size_regression),
    Lesson("grid_search", "Grid search", "max_iter × hidden_layer_sizes with n_jobs: best_score_, best_estimator_.",
           _grid_search),
    Lesson("minibatch", "Mini-batches and epochs", "Batch sizes by loss per epoch, per update, and time.",
           _minibatch),
    Lesson("init_seeds", "Initialisation and seeds",
           "One network, ten starts; then five weight-initialisation schemes side by side.", _init_seeds),
]}


def list_lessons() -> list[dict[str, str]]:
    return [{"name": lesson.name, "title": lesson.title, "summary": lesson.summary} for lesson in LESSONS.values()]


def run_lesson(name: str, *, n_jobs: int | None = None) -> LessonResult:
    """Run one preset and check its claim."""
    if name not in LESSONS:
        raise TuningError(f"there is no lesson {name!r}. The lessons are: {', '.join(LESSONS)}")
    lesson = LESSONS[name]
    started = time.perf_counter()
    # Presets stop their networks short on purpose (that is what some of them show): the
    # ConvergenceWarnings the engine passes on, as GridSearchCV does, would only fill the
    # server's log with a few hundred lines every time it prepares the presets.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        outcome = lesson.run(n_jobs)
    return LessonResult(lesson.name, lesson.title, *outcome, seconds=time.perf_counter() - started)


# --- Presets kept on disk, and computed in the background ---------------------------------

LESSON_CACHE_ENV = "TUNING_LESSON_CACHE"


def default_lesson_cache() -> Path:
    """``$TUNING_LESSON_CACHE``, else a ``lessons`` folder beside the experiment store."""
    return Path(os.environ.get(LESSON_CACHE_ENV) or default_store_path().parent / "lessons")


def code_fingerprint() -> str:
    """A hash of the ``tuning`` package's source and the versions it computes with.

    Presets computed by other code (an edited preset, another scikit-learn) are never
    shown: each fingerprint has its own folder.
    """
    digest = hashlib.sha256()
    package = Path(tuning.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    versions = (sys.version_info[:2], np.__version__, scipy.__version__, sklearn.__version__)
    digest.update(repr(versions).encode())
    return digest.hexdigest()[:16]


class LessonCache:
    """Finished presets on disk, one JSON file each, in a folder per :func:`code_fingerprint`.

    Writes are atomic (a file is complete or absent), so any number of servers and
    preparing processes can share one folder.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_lesson_cache()
        self.folder = self.root / code_fingerprint()

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def load(self, name: str) -> LessonResult | None:
        """The stored result of a preset, or None if it is not computed (or unreadable)."""
        try:
            return LessonResult.from_dict(json.loads(self.path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, result: LessonResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{result.name}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(result.to_dict()), encoding="utf-8")
        os.replace(partial, self.path(result.name))

    def missing(self) -> list[str]:
        """The presets not on disk yet (or unreadable there), in the order the Lessons page lists them."""
        return [name for name in LESSONS if self.load(name) is None]

    @contextlib.contextmanager
    def computing(self) -> Iterator[None]:
        """Hold the folder's lock while computing, so that two processes never compute the same presets."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            try:
                import fcntl
            except ImportError:  # Windows: no lock; at worst a preset is computed twice
                yield
                return
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def lower_priority() -> None:
    """Make this process (and the worker processes it starts) run only on otherwise idle CPU.

    Linux's ``SCHED_IDLE`` class yields to every normal process: a user's search or
    Playground run is not slowed down. Elsewhere the lowest nice value does nearly as much.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        with contextlib.suppress(AttributeError, OSError):
            os.nice(19)


def prepare_lessons(cache: LessonCache, *, n_jobs: int | None = None) -> list[str]:
    """Compute and store every preset the cache does not have yet; returns the names computed.

    Each preset is stored as soon as it is finished, so that it can be shown at once.
    """
    computed = []
    with cache.computing():
        for name in cache.missing():  # another process may have stored some while we waited for the lock
            cache.save(run_lesson(name, n_jobs=n_jobs))
            computed.append(name)
    return computed


class LessonPreparer:
    """The presets a cache lacks, computed by ``python -m tuning lesson prepare`` in its own process.

    The process runs at the lowest priority (:func:`lower_priority`), in a process group
    of its own with its worker processes, so that :meth:`stop` ends all of them at once.
    A server starts one when it starts; pages read finished presets with :meth:`result`.
    """

    def __init__(self, cache: LessonCache | None = None) -> None:
        self.cache = cache or LessonCache()
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._results: dict[str, LessonResult] = {}

    def start(self) -> None:
        """Start computing the missing presets, unless they are all stored or already being computed."""
        with self._lock:
            if self._process is not None or not self.cache.missing():
                return
            package_parent = str(Path(tuning.__file__).resolve().parents[1])
            path = os.environ.get("PYTHONPATH")
            env = {**os.environ, "PYTHONPATH": package_parent + (os.pathsep + path if path else "")}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tuning", "lesson", "prepare", "--cache", str(self.cache.root),
                 "--low-priority"],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
            atexit.register(self.stop)  # never outlive the process that started it

    def result(self, name: str) -> LessonResult | None:
        """A finished preset, or None while it is still being computed."""
        if self._process is not None:
            self._process.poll()  # once it has ended, reap it (no <defunct> process beside the server)
        if name not in self._results:
            result = self.cache.load(name)
            if result is None:
                return None
            self._results[name] = result
        return self._results[name]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def failed(self) -> bool:
        """The process ended without storing every preset (its error is in the server's log)."""
        return self._process is not None and self._process.poll() not in (None, 0) and bool(self.cache.missing())

    def stop(self) -> None:
        """End the process and its workers now (presets it finished are kept on disk)."""
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if hasattr(os, "killpg"):  # the process and its workers: it leads its own group
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            process.wait()
