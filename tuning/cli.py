"""The command line: ``python -m tuning run SPEC.json --out RESULT.json``.

One error boundary: a :class:`~tuning.errors.TuningError` becomes one line
``error: ...`` on stderr and exit status 2; anything unexpected is written with its
traceback to a log file and reported in one line with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import re
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tuning.engine.workers import start_workers
from tuning.errors import TuningError

if TYPE_CHECKING:
    from tuning.engine.results import SearchResult
    from tuning.engine.search import Progress

# Each command imports what it uses when it runs: `run` starts its worker processes first, so
# that they import scikit-learn while this process does (see tuning.engine.workers).

# Terminal escape sequences (CSI, OSC, and two-character ESC sequences), then any other control
# character, including the Unicode marks that reorder what a terminal shows.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
                              r"|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` for one line of a terminal: escape sequences removed, other control characters as spaces.

    Names, notes, ids and CSV headers come from users (or from a store file someone
    else wrote); printed raw, an escape sequence could clear the screen, fake output or
    retitle the terminal.
    """
    return _CONTROL.sub(" ", _ESCAPE_SEQUENCE.sub("", str(text)))


class ProgressBar:
    """A one-line progress bar on a terminal; one line per 10% elsewhere (logs, CI)."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.is_tty = stream.isatty()
        self._last_tenth = -1

    def __call__(self, p: Progress) -> None:
        fraction = p.fraction
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        eta = p.elapsed / fraction * (1 - fraction) if fraction > 0 else 0.0
        line = f"[{bar}] {p.fits_done}/{p.fits_total} fits  {fraction:4.0%}  {p.elapsed:5.1f}s  eta {eta:4.0f}s"
        if self.is_tty:
            self.stream.write("\r" + line)
            if p.fits_done >= p.fits_total:
                self.stream.write("\n")
        elif int(fraction * 10) > self._last_tenth:
            self._last_tenth = int(fraction * 10)
            self.stream.write(line + "\n")
        self.stream.flush()


def _positive_or_all(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"needs a whole number, got {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"needs 1, 2, ... workers or -1 for all cores, got {value}")
    return value


def _check_writable(path: Path, flag: str) -> None:
    if path.is_dir():
        raise TuningError(f"{flag} {str(path)!r} is a directory. Give a file name, e.g. {path / 'result.json'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise TuningError(f"{flag} {str(path)!r}: the folder {str(parent)!r} does not exist. Create it first")
    if not os.access(parent, os.W_OK):
        raise TuningError(f"{flag} {str(path)!r}: the folder {str(parent)!r} is not writable. Choose another path")


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _score_text(score: float | None) -> str:
    """A score for people: 4 decimals, or ``nan`` (GridSearchCV's score when every fit of a candidate failed)."""
    return "nan" if score is None or math.isnan(score) else f"{score:.4f}"


@contextlib.contextmanager
def _training_output_to_stderr() -> Iterator[None]:
    """While training, what fits print (``verbose=True``, in this process or in workers it starts)
    goes to standard error, so that standard output holds only the CLI's own lines."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no file descriptor 1: only Python-level output to redirect
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


# Below this many fits a search is small enough to train in this process (it starts no worker,
# see tuning.engine.plan.IN_PROCESS_SECONDS), and a worker started early only slows this
# process's own imports (by 0.2-0.4 s, measured: both processes fault in the same libraries).
EARLY_WORKERS_MIN_FITS = 12


def _raw_fits(raw: dict) -> int:
    """How many fits a spec's JSON asks for (candidates × folds), read without validating it; 0 if unclear."""
    grids = raw.get("param_grid")
    grids = [grids] if isinstance(grids, dict) else grids
    cv = raw.get("cv", 5)
    if not isinstance(grids, list) or type(cv) is not int:
        return 0
    candidates = 0
    for grid in grids:
        if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
            return 0
        candidates += math.prod(len(v) for v in grid.values())
    return candidates * cv


def _workers_to_start(args: argparse.Namespace) -> int:
    """How many worker processes ``run`` can start before it has even imported the engine (0: none).

    From ``--n-jobs`` or the spec file's ``n_jobs``, read without validating it (the search
    does that), at most one per core besides this process, and none for a search of a few
    fits (:data:`EARLY_WORKERS_MIN_FITS`); the search starts any others it wants itself.
    """
    if args.scheduler:
        return 0
    try:
        path = Path(args.spec)
        raw = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size < 1_000_000 else None
    except (OSError, ValueError):
        return 0
    if not isinstance(raw, dict) or _raw_fits(raw) < EARLY_WORKERS_MIN_FITS:
        return 0
    n_jobs = args.n_jobs if args.n_jobs is not None else raw.get("n_jobs")
    if type(n_jobs) is not int or n_jobs == 0 or n_jobs < -1:
        return 0
    cores = os.cpu_count() or 1
    return min(cores if n_jobs == -1 else n_jobs, cores) - 1


def _cmd_run(args: argparse.Namespace) -> int:
    start_workers(_workers_to_start(args))  # they import the engine while this process does
    import joblib

    from tuning.engine.cluster import LOCAL, TRUST_WARNING, check_address
    from tuning.engine.search import run_search
    from tuning.engine.spec import load_spec
    from tuning.engine.store import ExperimentStore

    spec = load_spec(args.spec)
    out = Path(args.out)
    _check_writable(out, "--out")
    if args.model:
        _check_writable(Path(args.model), "--model")
    cancel = threading.Event()
    bar = None if args.quiet else ProgressBar(sys.stderr)
    store = None if args.no_store else ExperimentStore(args.store)
    scheduler = check_address(args.scheduler) if args.scheduler else None
    if scheduler is not None and scheduler != LOCAL:
        print(f"warning: {TRUST_WARNING}", file=sys.stderr)
    with warnings.catch_warnings(), _training_output_to_stderr():
        warnings.simplefilter("ignore")  # what matters comes back in result.warnings, one line each
        result = run_search(spec, n_jobs=args.n_jobs, progress=bar, cancel=cancel, store=store,
                            refit=bool(args.model) or store is not None, max_epochs=args.max_epochs,
                            scheduler=scheduler)
    _write_atomically(out, result.save)
    if args.model and result.best_estimator is not None:
        _write_atomically(Path(args.model), lambda p: joblib.dump(result.best_estimator, p))
    if result.status == "cancelled":
        print(f"cancelled: kept {result.fits_done} of {result.fits_total} finished fits in {out}", file=sys.stderr)
        return 130
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    saved = 1 - result.epochs_trained / result.epochs_gridsearchcv if result.epochs_gridsearchcv else 0.0
    print(f"best {result.scoring}: {_score_text(result.best_score)} with {json.dumps(result.best_params)}")
    print(f"{result.fits_done} fits in {result.elapsed:.1f}s; trained {result.epochs_trained:,} epochs "
          f"where GridSearchCV trains {result.epochs_gridsearchcv:,} ({saved:.0%} saved)")
    if store is not None:
        print(f"experiment {result.experiment_id} in {store.path}")
    model_written = bool(args.model) and result.best_estimator is not None
    print(f"wrote {out}" + (f" and {args.model}" if model_written else ""))
    if result.refit_error and args.model:
        print(f"error: {result.refit_error}; no model was written to {args.model}. The cross-validation results "
              f"are complete in {out}", file=sys.stderr)
        return 2
    if result.refit_error:
        print(f"warning: {result.refit_error}, so the stored experiment has no model; its cross-validation "
              "results are complete", file=sys.stderr)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from tuning.engine.store import ExperimentStore
    from tuning.services.experiments import describe_search, searched_parameters

    rows = ExperimentStore(args.store).list()
    fields = ("id", "dataset", "status", "fits_done", "fits_total", "best_score", "created", "name")
    if args.json:
        print(json.dumps([{**{k: r[k] for k in fields}, "searched": searched_parameters(r["spec"])
                           if "python" not in r["spec"] else {}} for r in rows], indent=2))
        return 0
    if not rows:
        print("no experiments yet: run one with `python -m tuning run SPEC.json --out RESULT.json`")
        return 0
    print(f"{'id':<13}{'dataset':<15}{'status':<12}{'fits':>11}  {'best':>7}  {'created':<20}name")
    for r in rows:
        best = _score_text(r["best_score"]) if r["best_score"] is not None else "-"
        print(f"{printable(r['id']):<13}{printable(r['dataset'])[:14]:<15}{printable(r['status']):<12}"
              f"{r['fits_done']:>5}/{r['fits_total']:<5}  {best:>7}  {r['created']:<20}{printable(r['name'])}")
        print(f"{'':<13}searched: {printable(describe_search(r['spec']))}")
    return 0


def _stored_result(args: argparse.Namespace) -> SearchResult:
    from tuning.engine.store import ExperimentStore

    store = ExperimentStore(args.store)
    exp_id = store.find(args.id)
    result = store.load_result(exp_id)
    if result is None:
        raise TuningError(f"experiment {exp_id} has not finished; resume it with "
                          f"`python -m tuning run SPEC.json --store {store.path} --out RESULT.json`")
    if result.model_note:
        print(f"note: {printable(result.model_note)}", file=sys.stderr)
    return result


def _cmd_show(args: argparse.Namespace) -> int:
    result = _stored_result(args)
    out = Path(args.out)
    _check_writable(out, "--out")
    _write_atomically(out, result.save)
    print(f"best {result.scoring}: {_score_text(result.best_score)} with {json.dumps(result.best_params)}; "
          f"wrote {out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    result = _stored_result(args)
    text = result.to_frame().to_csv(index=False) if args.format == "csv" else json.dumps(result.to_dict(), indent=2)
    if args.out:
        out = Path(args.out)
        _check_writable(out, "--out")
        _write_atomically(out, lambda p: p.write_text(text, encoding="utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from tuning.data.datasets import list_datasets

    datasets = list_datasets()
    if args.json:
        print(json.dumps(datasets, indent=2))
        return 0
    for d in datasets:
        print(f"{d['name']:<14} {d['description']}")
        for name, opt in d["options"].items():
            print(f"{'':<16}{name:<13} {opt['type']:<6} default {opt['default']!s:<6} "
                  f"({opt['min']:g} to {opt['max']:g}) {opt['help']}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from tuning.data.csv_source import csv_summary, load_csv

    data = load_csv(args.file, target=args.target, task=args.task)
    text = json.dumps(csv_summary(data), indent=2, ensure_ascii=False)
    print("\n".join(printable(line) for line in text.splitlines()))
    return 0


def _cmd_lesson_list(args: argparse.Namespace) -> int:
    from tuning.services.lessons import list_lessons

    lessons = list_lessons()
    if args.json:
        print(json.dumps(lessons, indent=2))
    else:
        for lesson in lessons:
            print(f"{lesson['name']:<15}{lesson['title']}: {lesson['summary']}")
    return 0


def _cmd_lesson_run(args: argparse.Namespace) -> int:
    from tuning.services.lessons import run_lesson

    out = Path(args.out)
    _check_writable(out, "--out")
    result = run_lesson(args.name, n_jobs=args.n_jobs)
    _write_atomically(out, lambda p: p.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8"))
    print(result.text)
    print(f"claim: {result.claim}: {'holds' if result.claim_holds else 'DOES NOT HOLD'}; wrote {out}")
    return 0


def _cmd_lesson_prepare(args: argparse.Namespace) -> int:
    from tuning.services.lessons import LessonCache, lower_priority, prepare_lessons

    if args.low_priority:
        lower_priority()
    cache = LessonCache(args.cache)
    computed = prepare_lessons(cache, n_jobs=args.n_jobs)
    print(f"computed {', '.join(computed) or 'nothing (every preset was stored)'}; presets are in {cache.folder}")
    return 0


def _program_name() -> str:
    """``tuning`` when run as the installed command, ``python -m tuning`` otherwise."""
    return "python -m tuning" if Path(sys.argv[0]).name in ("__main__.py", "-m", "-c", "") else "tuning"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(), description="Tuning Lab: grid searches over MLPClassifier and MLPRegressor."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the search a spec file describes")
    run.add_argument("spec", help="experiment spec (JSON)")
    run.add_argument("--out", required=True, help="where to write the result (JSON)")
    run.add_argument("--n-jobs", type=_positive_or_all, default=None, help="parallel workers, -1 for all cores")
    run.add_argument("--max-epochs", type=_positive_or_all, default=None,
                     help="refuse searches that would train more epochs (default 200,000 or $TUNING_MAX_EPOCHS)")
    run.add_argument("--model", help="also refit the best candidate on all the data and save it (joblib file)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--store", help="experiment store (default $TUNING_STORE or ~/.tuning-lab/experiments.sqlite): "
                                     "every finished fit is kept, a rerun resumes, a finished spec trains nothing")
    run.add_argument("--no-store", action="store_true", help="do not use the experiment store")
    run.add_argument("--scheduler", default=os.environ.get("TUNING_DASK_SCHEDULER") or None,
                     help="run on a Dask cluster: tcp://HOST:PORT, or 'local' to start one here with --n-jobs "
                          "workers (default $TUNING_DASK_SCHEDULER)")
    run.set_defaults(handler=_cmd_run)
    datasets = commands.add_parser("datasets", help="list the built-in datasets and their options")
    datasets.add_argument("--json", action="store_true", help="print JSON")
    datasets.set_defaults(handler=_cmd_datasets)
    inspect = commands.add_parser("inspect", help="check a CSV file and print what training on it would use")
    inspect.add_argument("file", help="a CSV file")
    inspect.add_argument("--target", help="the column to predict (default: guessed)")
    inspect.add_argument("--task", choices=["classification", "regression"],
                         help="how to read the target (default: regression when it looks continuous)")
    inspect.set_defaults(handler=_cmd_inspect)
    listing = commands.add_parser("list", help="list the experiments in the store")
    listing.add_argument("--store", help="experiment store (default $TUNING_STORE or ~/.tuning-lab/experiments.sqlite)")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=_cmd_list)
    show = commands.add_parser("show", help="write a stored experiment's result")
    show.add_argument("id", help="experiment id (or a unique prefix)")
    show.add_argument("--store")
    show.add_argument("--out", required=True, help="where to write the result (JSON)")
    show.set_defaults(handler=_cmd_show)
    export = commands.add_parser("export", help="export a stored experiment as CSV (cv_results) or JSON")
    export.add_argument("id", help="experiment id (or a unique prefix)")
    export.add_argument("--store")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(handler=_cmd_export)
    lesson = commands.add_parser("lesson", help="the lesson presets")
    lesson_commands = lesson.add_subparsers(dest="lesson_command", required=True, metavar="ACTION")
    lesson_list = lesson_commands.add_parser("list", help="list the presets")
    lesson_list.add_argument("--json", action="store_true", help="print JSON")
    lesson_list.set_defaults(handler=_cmd_lesson_list)
    lesson_run = lesson_commands.add_parser("run", help="run one preset and check its claim")
    lesson_run.add_argument("name", help="a preset name from `lesson list`")
    lesson_run.add_argument("--out", required=True, help="where to write the result (JSON)")
    lesson_run.add_argument("--n-jobs", type=_positive_or_all, default=None)
    lesson_run.set_defaults(handler=_cmd_lesson_run)
    lesson_prepare = lesson_commands.add_parser(
        "prepare", help="compute and store every preset not stored yet (the app shows stored presets at once)")
    lesson_prepare.add_argument("--cache", help="where presets are stored (default $TUNING_LESSON_CACHE, else a "
                                                "lessons folder beside the experiment store)")
    lesson_prepare.add_argument("--n-jobs", type=_positive_or_all, default=None)
    lesson_prepare.add_argument("--low-priority", action="store_true",
                                help="run only on otherwise idle CPU (what a server does when it starts)")
    lesson_prepare.set_defaults(handler=_cmd_lesson_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except TuningError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m tuning datasets | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:
        log = Path(tempfile.gettempdir()) / f"tuning-lab-crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        exc_type, exc_value = sys.exc_info()[:2]
        print(f"error: unexpected internal error ({exc_type.__name__}: {printable(exc_value)}). This is a bug in "
              f"Tuning Lab; the traceback is in {log}", file=sys.stderr)
        return 1
    finally:
        # The interpreter's collections at exit would walk every object scikit-learn, SciPy and pandas
        # made (about 0.2 s of a command); frozen, they are skipped. Everything is still released, and
        # every file the command wrote is closed already.
        gc.freeze()
