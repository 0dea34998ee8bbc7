"""Class mode: predict, vote, reveal, then "your turn", for every lesson preset.

A teacher starts a class session and gets a short code (students type it, or scan the
link) and a secret teacher key (the teacher's link carries it: only it moves the class
on). For each preset the class first predicts, one anonymous answer per student and
question; the reveal computes the right answer from the preset's own
:class:`~tuning.services.lessons.LessonResult` and the share who were right; then each
student tries an exercise that the engine checks, and the best scores make a
leaderboard.

Everything lives in the experiment store's SQLite file, in tables beside the
experiments (a server restart loses nothing), and everything a visitor sends is bounded:
codes and tokens have a fixed shape, an answer is one of the question's options, names
are short plain text, every session expires, and a session takes a bounded number of
students.

>>> room = Classroom(ExperimentStore())
>>> session, teacher_key = room.start(minutes=60)
>>> room.answer(session.code, new_student_token(), "learning_rate", "0.01")
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuning.data.datasets import load_dataset
from tuning.engine.limits import SearchLimits, check_search_costs
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.errors import TuningError
from tuning.services.lessons import HIDDEN_SIZES, LESSONS, LessonResult
from tuning.services.playground import train_network

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a projector
CODE_LENGTH = 6  # 32**6: about a billion codes, drawn at random
DEFAULT_MINUTES = 90
MAX_MINUTES = 240
MAX_STUDENTS = 300  # per session: answers and scores stay bounded whatever a visitor sends
MAX_OPEN_SESSIONS = 100  # per store: starting more waits until some end
MAX_NAME = 24
PHASES = ("predict", "reveal", "practice")

_CODE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
_STUDENT = re.compile(r"[0-9a-f]{16}")
_TEACHER_KEY = re.compile(r"[A-Za-z0-9_-]{22,64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS class_sessions (
    code TEXT PRIMARY KEY,
    teacher_hash TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    preset TEXT NOT NULL,
    phase TEXT NOT NULL,
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS class_answers (
    code TEXT NOT NULL REFERENCES class_sessions(code) ON DELETE CASCADE,
    preset TEXT NOT NULL,
    student TEXT NOT NULL,
    answer TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (code, preset, student)
);
CREATE TABLE IF NOT EXISTS class_reveals (
    code TEXT NOT NULL REFERENCES class_sessions(code) ON DELETE CASCADE,
    preset TEXT NOT NULL,
    answer TEXT,
    explanation TEXT NOT NULL,
    PRIMARY KEY (code, preset)
);
CREATE TABLE IF NOT EXISTS class_scores (
    code TEXT NOT NULL REFERENCES class_sessions(code) ON DELETE CASCADE,
    preset TEXT NOT NULL,
    student TEXT NOT NULL,
    name TEXT NOT NULL,
    score REAL NOT NULL,
    settings TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (code, preset, student)
);
"""


class ClassError(TuningError):
    """A class-mode request that cannot be done: the message says why and what to do."""


# --- Questions: what the class predicts, and the right answer from the preset's result ---------


@dataclass(frozen=True)
class Question:
    """One prediction per preset: the prompt, its options (what a phone shows as buttons), and how
    the preset's result decides the right one."""

    preset: str
    prompt: str
    options: tuple[str, ...]
    solve: Callable[[LessonResult], tuple[str | None, str]]  # (right option or None, why, in one sentence)

    def right_answer(self, result: LessonResult) -> tuple[str | None, str]:
        if result.name != self.preset:
            raise ValueError(f"a {result.name!r} result cannot answer the {self.preset!r} question")
        return self.solve(result)


def _last(values: Sequence[float | None]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return finite[-1] if finite else math.inf


def _rate_of(label: str) -> str:
    """``"good (lr=0.01)"`` -> ``"0.01"``."""
    found = re.search(r"lr=([^)\s]+)", label)
    return found.group(1) if found else label


def _solve_learning_rate(result: LessonResult) -> tuple[str | None, str]:
    finals = {_rate_of(label): _last(curve) for label, curve in result.data["curves"].items()}
    best = min(finals, key=finals.get)
    others = ", ".join(f"lr={rate}: {loss:.3g}" for rate, loss in finals.items() if rate != best)
    return best, f"lr={best} ends lowest, at a loss of {finals[best]:.3g} ({others})."


def _solve_hidden_size(result: LessonResult) -> tuple[str | None, str]:
    best = next(row for row in result.data["table"] if row["size"] == result.data["best_size"])
    return str(best["size"]), f"{best['size']} units has the lowest CV error, {best['test_error']:.1%}."


def _solve_hidden_size_regression(result: LessonResult) -> tuple[str | None, str]:
    best = next(row for row in result.data["table"] if row["size"] == result.data["best_size"])
    return str(best["size"]), f"{best['size']} units has the lowest CV RMSE, {best['test_error']:.2f}."


def _solve_grid_search(result: LessonResult) -> tuple[str | None, str]:
    search = result.data["result"]
    sizes = search["best_params"]["hidden_layer_sizes"]
    units = str(sizes[0]) if isinstance(sizes, list) and len(sizes) == 1 else json.dumps(sizes)
    return units, (f"best_params_ has hidden_layer_sizes={json.dumps(sizes)} (max_iter="
                   f"{search['best_params'].get('max_iter')}), best_score_ {search['best_score']:.3f}.")


MINIBATCH_NONE = "none within 30 epochs"


def _batch_option(label: str) -> str:
    return "full batch" if label.startswith("full") else label


def _solve_minibatch(result: LessonResult) -> tuple[str | None, str]:
    times = {_batch_option(k): v for k, v in result.data["time_to_target"].items()}
    reached = {k: v for k, v in times.items() if v is not None}
    target = result.data.get("target", 0.5)
    def named(k: str) -> str:
        return k if k == "full batch" else f"batch {k}"

    listed = ", ".join(f"{named(k)}: {f'{v:.2f} s' if v is not None else 'never'}" for k, v in times.items())
    if not reached:
        return MINIBATCH_NONE, f"No batch size reached a loss of {target} within 30 epochs ({listed})."
    best = min(reached, key=reached.get)
    return best, f"{named(best).capitalize()} reaches a loss of {target} first ({listed})."


SPREAD_BUCKETS = (("under 0.02", 0.0, 0.02), ("0.02 to 0.05", 0.02, 0.05), ("0.05 to 0.10", 0.05, 0.10),
                  ("0.10 to 0.20", 0.10, 0.20), ("0.20 or more", 0.20, math.inf))


def spread_bucket(spread: float) -> str:
    return next(label for label, low, high in SPREAD_BUCKETS if low <= spread < high)


def _solve_init_seeds(result: LessonResult) -> tuple[str | None, str]:
    scores = result.data["test_scores"]
    spread = max(scores) - min(scores)
    return spread_bucket(spread), (f"Test accuracy went from {min(scores):.2f} to {max(scores):.2f}: "
                                   f"{spread:.2f} apart, from the seed alone.")


QUESTIONS: dict[str, Question] = {q.preset: q for q in [
    Question("learning_rate", "Same network, same seed, 60 epochs on the digits: which learning rate ends with "
             "the lowest training loss?", ("0.0001", "0.01", "1"), _solve_learning_rate),
    Question("hidden_size", "Noisy XOR, 100 points: at how many hidden units is the cross-validated test error "
             "lowest?", tuple(str(size) for size in HIDDEN_SIZES), _solve_hidden_size),
    Question("hidden_size_regression", "A noisy sine, 60 points: at how many hidden units is the cross-validated "
             "RMSE lowest?", tuple(str(size) for size in HIDDEN_SIZES), _solve_hidden_size_regression),
    Question("grid_search", "Grid search over max_iter × hidden_layer_sizes on the digits: how many hidden units "
             "will the best candidate have?", ("4", "16", "64"), _solve_grid_search),
    Question("minibatch", "Batch 16, batch 128 or the full batch on the digits: which reaches a training loss of "
             "0.5 first, in seconds?", ("16", "128", "full batch", MINIBATCH_NONE), _solve_minibatch),
    Question("init_seeds", "One 4-unit network trained from 10 seeds: how far apart will the best and the worst "
             "test accuracy be?", tuple(label for label, _, _ in SPREAD_BUCKETS), _solve_init_seeds),
]}


# --- Exercises: "your turn", checked by the engine -------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One thing a student sets in an exercise: a parameter and the values it may take."""

    name: str
    label: str
    options: tuple[Any, ...]
    default: Any
    many: int = 0  # 0: one value; n: a list of 1 to n values (a grid's parameter)


@dataclass(frozen=True)
class Exercise:
    """A small, capped task checked by the engine: a network (its test score on a hold-out split: accuracy,
    or R² for a regression) or a grid (``best_score_``). The settings' option lists bound what any check
    can cost."""

    preset: str
    prompt: str
    dataset: dict[str, Any]
    fixed: dict[str, Any]
    settings: tuple[Setting, ...]
    goal: float
    grid: bool = False

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.settings}

    def parse(self, chosen: Mapping[str, Any]) -> dict[str, Any]:
        """The chosen settings, checked against their options (ClassError names the one that is not)."""
        values = {}
        for s in self.settings:
            value = chosen.get(s.name, s.default)
            picked = list(value) if s.many and isinstance(value, (list, tuple)) else [value]
            if not picked or (s.many and len(picked) > s.many) or (not s.many and len(picked) != 1):
                raise ClassError(f"{s.label}: choose {'1 to ' + str(s.many) + ' values' if s.many else 'one value'}")
            if any(v not in s.options for v in picked) or len(set(map(json.dumps, picked))) != len(picked):
                raise ClassError(f"{s.label}: choose from {', '.join(map(str, s.options))}")
            values[s.name] = picked if s.many else picked[0]
        return values


@dataclass
class Attempt:
    """What the engine found for one try at an exercise."""

    score: float
    beats_goal: bool
    settings: dict[str, Any]
    seconds: float
    detail: str


def _network(values: dict[str, Any]) -> dict[str, Any]:
    params = dict(values)
    if "units" in params:
        params["hidden_layer_sizes"] = [params.pop("units")] * params.pop("layers", 1)
    return params


def check_exercise(exercise: Exercise, chosen: Mapping[str, Any], *, limits: SearchLimits | None = None,
                   max_epochs: int | None = None) -> Attempt:
    """Run one attempt with the engine: settings checked first, costs capped (``limits`` for a grid,
    ``max_epochs`` for a network), then the score and whether it beats the goal."""
    values = exercise.parse(chosen)
    data = load_dataset(exercise.dataset)
    started = time.perf_counter()
    if exercise.grid:
        grid = {name: ([[v] for v in vals] if name == "hidden_layer_sizes" else vals) for name, vals in values.items()}
        spec = parse_spec({"dataset": exercise.dataset, "cv": 3, "n_jobs": 1, "estimator": exercise.fixed,
                           "param_grid": grid})
        if limits is not None:
            check_search_costs(spec, limits, data=data)
        result = run_search(spec, n_jobs=1, refit=False)
        score = float(result.best_score)
        detail = f"best_score_ {score:.3f} with {json.dumps(result.best_params)}"
    else:
        params = {**exercise.fixed, **_network(values)}
        if max_epochs is not None and params.get("max_iter", 200) > max_epochs:
            raise ClassError(f"at most {max_epochs} epochs on this server")
        run = train_network(data, params)
        score = 0.0 if run.diverged else float(run.test_score)
        detail = ("diverged: the weights overflowed (try a lower learning rate)" if run.diverged
                  else f"test {'R²' if run.task == 'regression' else 'accuracy'} {score:.3f} after {run.n_iter} "
                       "epochs")
    return Attempt(score, score > exercise.goal, values, time.perf_counter() - started, detail)


_UNITS = (1, 2, 4, 8, 16, 32, 64)
EXERCISES: dict[str, Exercise] = {e.preset: e for e in [
    Exercise("learning_rate", "Your turn: pick a learning rate and at most 30 epochs so that a 32-unit network "
             "beats 0.95 test accuracy on the digits.", {"name": "digits"},
             {"hidden_layer_sizes": [32], "random_state": 0},
             (Setting("learning_rate_init", "Learning rate", (0.0001, 0.001, 0.01, 0.1, 1.0), 0.0001),
              Setting("max_iter", "Epochs (max_iter)", (5, 10, 20, 30), 10)), 0.95),
    Exercise("hidden_size", "Your turn: find a hidden_layer_sizes that beats 0.95 on the digits with "
             "max_iter ≤ 50.", {"name": "digits"}, {"random_state": 0},
             (Setting("units", "Units per layer", _UNITS, 2), Setting("layers", "Hidden layers", (1, 2), 1),
              Setting("max_iter", "Epochs (max_iter)", (10, 20, 30, 40, 50), 20)), 0.95),
    Exercise("hidden_size_regression", "Your turn: one hidden layer fitted by L-BFGS on the noisy sine; choose its "
             "units, activation and L2 penalty so that its test R² beats 0.60.",
             {"name": "sine", "n_samples": 60, "noise": 0.3},
             {"solver": "lbfgs", "max_iter": 500, "tol": 1e-6, "random_state": 0},
             (Setting("units", "Units", (1, 2, 4, 8, 16, 32, 64, 128), 1),
              Setting("activation", "Activation", ("tanh", "relu"), "tanh"),
              Setting("alpha", "L2 penalty (alpha)", (0.0, 0.01, 0.1, 1.0), 0.0)), 0.60),
    Exercise("grid_search", "Your turn: a grid of at most 2 hidden sizes × 2 max_iter values on the digits "
             "(cv=3) whose best_score_ beats 0.93.", {"name": "digits"},
             {"random_state": 0, "learning_rate_init": 0.01},
             (Setting("hidden_layer_sizes", "Hidden units", (4, 8, 16, 32), [4], many=2),
              Setting("max_iter", "max_iter", (5, 10, 20, 40), [5], many=2)), 0.93, grid=True),
    Exercise("minibatch", "Your turn: pick a batch size and a learning rate so that 10 epochs beat 0.95 test "
             "accuracy on the digits (32 units).", {"name": "digits"},
             {"hidden_layer_sizes": [32], "max_iter": 10, "random_state": 0},
             (Setting("batch_size", "Batch size", (8, 16, 32, 64, 128, 256, 1347), 1347),
              Setting("learning_rate_init", "Learning rate", (0.0001, 0.001, 0.01, 0.1), 0.001)), 0.95),
    Exercise("init_seeds", "Your turn: find a seed that takes the 4-unit network above 0.90 test accuracy on "
             "the moons (150 epochs).", {"name": "moons", "n_samples": 200, "noise": 0.25},
             {"hidden_layer_sizes": [4], "max_iter": 150, "learning_rate_init": 0.01},
             (Setting("random_state", "Seed", tuple(range(50)), 0),), 0.90),
]}


# --- Sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSession:
    """A class's state: its code, when it ends, and the preset and phase it is on."""

    code: str
    created: float
    expires: float
    preset: str
    phase: str
    changed: float

    def is_open(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.expires

    def minutes_left(self, now: float | None = None) -> int:
        return max(0, math.ceil((self.expires - (time.time() if now is None else now)) / 60))


@dataclass(frozen=True)
class Tally:
    """The answers to one question so far, in the question's option order."""

    counts: dict[str, int]
    right: str | None = None
    explanation: str = ""
    revealed: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def share_right(self) -> float | None:
        """The share of answers that were right, once revealed (None before, or with no answers)."""
        if not self.revealed or not self.total:
            return None
        return self.counts.get(self.right, 0) / self.total if self.right is not None else 0.0


@dataclass(frozen=True)
class Entry:
    rank: int
    name: str
    score: float
    settings: dict[str, Any]


def new_student_token() -> str:
    """A random, anonymous student token (kept in the student's page address, so a reload keeps it)."""
    return secrets.token_hex(8)


def normalise_code(text: object) -> str | None:
    """A code as a student may type it (any case, spaces, dashes) in its canonical form, or None."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    return code if _CODE.fullmatch(code) else None


def valid_student(token: object) -> bool:
    return isinstance(token, str) and bool(_STUDENT.fullmatch(token))


def display_name(text: object) -> str:
    """A leaderboard name as plain, printable, single-line text of at most ``MAX_NAME`` characters
    (an empty name shows as "anonymous"). Markup is escaped where it is shown."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    kept = "".join(c if c.isprintable() else " " for c in text if unicodedata.category(c) not in ("Cf", "Co", "Cs"))
    return " ".join(kept.split())[:MAX_NAME].strip()


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class RateLimit:
    """At most ``capacity`` actions in any ``per`` seconds (a token bucket), for one browser session."""

    def __init__(self, capacity: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.per, self.clock = capacity, per, clock
        self._tokens, self._at = float(capacity), clock()

    def allow(self) -> bool:
        now = self.clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.capacity / self.per)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass
class Classroom:
    """Class sessions, answers and scores in the experiment store's file (tables beside the experiments).

    Every method raises :class:`ClassError` for a request it refuses (the message says why)
    and ``StoreError`` when the file cannot be used.
    """

    store: ExperimentStore
    clock: Callable[[], float] = field(default=time.time)

    def __post_init__(self) -> None:
        with self.store.connection() as db:
            db.executescript(_SCHEMA)

    # sessions

    def start(self, minutes: float = DEFAULT_MINUTES, preset: str | None = None) -> tuple[ClassSession, str]:
        """A new session with a random code; returns it and the teacher's secret key (keep it: only its
        hash is stored)."""
        if not 1 <= minutes <= MAX_MINUTES:
            raise ClassError(f"a class lasts 1 to {MAX_MINUTES} minutes, not {minutes:g}")
        preset = preset or next(iter(LESSONS))
        if preset not in QUESTIONS:
            raise ClassError(f"there is no preset {preset!r}")
        key = secrets.token_urlsafe(24)
        now = self.clock()
        with self.store.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM class_sessions WHERE expires < ?", (now - 86_400,))  # a day after they end
            if db.execute("SELECT COUNT(*) FROM class_sessions WHERE expires > ?", (now,)).fetchone()[0] \
                    >= MAX_OPEN_SESSIONS:
                db.execute("ROLLBACK")
                raise ClassError(f"this server already runs {MAX_OPEN_SESSIONS} classes; try again when one ends")
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if db.execute("SELECT 1 FROM class_sessions WHERE code = ?", (code,)).fetchone() is None:
                    break
            db.execute("INSERT INTO class_sessions (code, teacher_hash, created, expires, preset, phase, changed) "
                       "VALUES (?, ?, ?, ?, ?, 'predict', ?)", (code, _hash_key(key), now, now + 60 * minutes,
                                                                 preset, now))
            db.execute("COMMIT")
        return self.session(code), key

    def session(self, code: object) -> ClassSession | None:
        """The session with this code (typed in any case), or None when there is none."""
        code = normalise_code(code)
        if code is None:
            return None
        with self.store.connection() as db:
            row = db.execute("SELECT code, created, expires, preset, phase, changed FROM class_sessions "
                             "WHERE code = ?", (code,)).fetchone()
        return None if row is None else ClassSession(**dict(row))

    def open_session(self, code: object) -> ClassSession:
        """The session, or ClassError when there is none or it has ended."""
        session = self.session(code)
        if session is None:
            raise ClassError("there is no class with this code. Check the code on the projector")
        if not session.is_open(self.clock()):
            raise ClassError("this class has ended. Thank you for taking part!")
        return session

    def is_teacher(self, code: object, key: object) -> bool:
        code = normalise_code(code)
        if code is None or not isinstance(key, str) or not _TEACHER_KEY.fullmatch(key):
            return False
        with self.store.connection() as db:
            row = db.execute("SELECT teacher_hash FROM class_sessions WHERE code = ?", (code,)).fetchone()
        return row is not None and hmac.compare_digest(row["teacher_hash"], _hash_key(key))

    def _teacher(self, code: object, key: object) -> ClassSession:
        if not self.is_teacher(code, key):
            raise ClassError("only the teacher's link can run this class (the class code alone cannot)")
        return self.open_session(code)

    def move(self, code: str, key: str, *, preset: str | None = None, phase: str | None = None) -> ClassSession:
        """The teacher moves the class to a preset and phase (``predict``, ``reveal``, ``practice``)."""
        session = self._teacher(code, key)
        phase = phase or (session.phase if preset in (None, session.preset) else "predict")
        preset = preset or session.preset
        if preset not in QUESTIONS or phase not in PHASES:
            raise ClassError(f"there is no preset {preset!r} or phase {phase!r}")
        revealed = self.tally(code, preset).revealed
        if phase != "predict" and not revealed:
            raise ClassError("reveal the answer before moving on to the exercise")
        if phase == "predict" and revealed:  # a question is answered once: back to its reveal
            phase = "reveal"
        with self.store.connection() as db:
            db.execute("UPDATE class_sessions SET preset = ?, phase = ?, changed = ? WHERE code = ?",
                       (preset, phase, self.clock(), session.code))
        return self.session(code)

    def end(self, code: str, key: str) -> None:
        """End the class now (its answers and scores are kept until it is cleaned up)."""
        session = self._teacher(code, key)
        with self.store.connection() as db:
            db.execute("UPDATE class_sessions SET expires = ?, changed = ? WHERE code = ?",
                       (self.clock(), self.clock(), session.code))

    # predictions

    def answer(self, code: str, student: str, preset: str, option: str) -> None:
        """Record (or change, until the reveal) a student's answer to a preset's question."""
        session = self.open_session(code)
        if not valid_student(student):
            raise ClassError("this page's student token is not valid; open the class link again")
        question = QUESTIONS.get(preset)
        if question is None or option not in question.options:
            raise ClassError("that is not one of this question's answers")
        closed = ClassError("answers to this question are closed: the teacher has revealed it or moved on")
        if session.preset != preset or session.phase != "predict":
            raise closed
        with self.store.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM class_reveals WHERE code = ? AND preset = ?",
                          (session.code, preset)).fetchone() is not None:
                db.execute("ROLLBACK")
                raise closed
            known = db.execute("SELECT 1 FROM class_answers WHERE code = ? AND student = ? LIMIT 1",
                               (session.code, student)).fetchone()
            if known is None and db.execute("SELECT COUNT(DISTINCT student) FROM class_answers WHERE code = ?",
                                            (session.code,)).fetchone()[0] >= MAX_STUDENTS:
                db.execute("ROLLBACK")
                raise ClassError(f"this class is full ({MAX_STUDENTS} students)")
            db.execute("INSERT INTO class_answers (code, preset, student, answer, at) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (code, preset, student) DO UPDATE SET answer = excluded.answer, at = excluded.at",
                       (session.code, preset, student, option, self.clock()))
            db.execute("COMMIT")

    def my_answer(self, code: str, student: str, preset: str) -> str | None:
        code = normalise_code(code)
        if code is None or not valid_student(student):
            return None
        with self.store.connection() as db:
            row = db.execute("SELECT answer FROM class_answers WHERE code = ? AND preset = ? AND student = ?",
                             (code, preset, student)).fetchone()
        return None if row is None else row["answer"]

    def tally(self, code: str, preset: str) -> Tally:
        """How many chose each option (and, once revealed, the right one)."""
        question = QUESTIONS[preset]
        code = normalise_code(code) or ""
        with self.store.connection() as db:
            rows = db.execute("SELECT answer, COUNT(*) AS n FROM class_answers WHERE code = ? AND preset = ? "
                              "GROUP BY answer", (code, preset)).fetchall()
            reveal = db.execute("SELECT answer, explanation FROM class_reveals WHERE code = ? AND preset = ?",
                                (code, preset)).fetchone()
        counts = dict.fromkeys(question.options, 0)
        for row in rows:
            if row["answer"] in counts:
                counts[row["answer"]] = int(row["n"])
        if reveal is None:
            return Tally(counts)
        return Tally(counts, reveal["answer"], reveal["explanation"], revealed=True)

    def reveal(self, code: str, key: str, result: LessonResult) -> Tally:
        """Close the answers to the preset's question, work out the right one from ``result`` and keep it."""
        session = self._teacher(code, key)
        right, explanation = QUESTIONS[result.name].right_answer(result)
        with self.store.connection() as db:
            db.execute("INSERT OR REPLACE INTO class_reveals (code, preset, answer, explanation) VALUES (?, ?, ?, ?)",
                       (session.code, result.name, right, explanation))
            db.execute("UPDATE class_sessions SET preset = ?, phase = 'reveal', changed = ? WHERE code = ?",
                       (result.name, self.clock(), session.code))
        return self.tally(code, result.name)

    # practice

    def record_score(self, code: str, student: str, preset: str, attempt: Attempt, name: str = "") -> bool:
        """Keep a student's attempt if it is their best so far at this exercise; True when it is."""
        session = self.open_session(code)
        if not valid_student(student) or preset not in EXERCISES:
            raise ClassError("this attempt cannot be recorded; open the class link again")
        if not math.isfinite(attempt.score):
            return False
        with self.store.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT score FROM class_scores WHERE code = ? AND preset = ? AND student = ?",
                             (session.code, preset, student)).fetchone()
            if row is None and db.execute("SELECT COUNT(*) FROM class_scores WHERE code = ? AND preset = ?",
                                          (session.code, preset)).fetchone()[0] >= MAX_STUDENTS:
                db.execute("ROLLBACK")
                raise ClassError(f"this class is full ({MAX_STUDENTS} students)")
            best = row is None or attempt.score > row["score"]
            if best:
                db.execute("INSERT OR REPLACE INTO class_scores (code, preset, student, name, score, settings, at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (session.code, preset, student, display_name(name), attempt.score,
                            json.dumps(attempt.settings), self.clock()))
            db.execute("COMMIT")
        return best

    def leaderboard(self, code: str, preset: str, limit: int = 10) -> list[Entry]:
        """The best score of each student at a preset's exercise, best first (ties: who got there first)."""
        code = normalise_code(code) or ""
        with self.store.connection() as db:
            rows = db.execute("SELECT name, score, settings FROM class_scores WHERE code = ? AND preset = ? "
                              "ORDER BY score DESC, at ASC LIMIT ?", (code, preset, max(0, min(limit, 50))))
            rows = rows.fetchall()
        return [Entry(i + 1, row["name"] or "anonymous", float(row["score"]), json.loads(row["settings"]))
                for i, row in enumerate(rows)]
