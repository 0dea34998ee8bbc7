"""Class mode's library: sessions, answers, reveals and leaderboards in a real SQLite store."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3

import pytest

from tuning.class_figures import fig_reveal, fig_votes
from tuning.engine.store import ExperimentStore
from tuning.services.classroom import (
    CODE_ALPHABET,
    CODE_LENGTH,
    EXERCISES,
    MAX_NAME,
    MAX_STUDENTS,
    QUESTIONS,
    SPREAD_BUCKETS,
    Attempt,
    ClassError,
    Classroom,
    RateLimit,
    check_exercise,
    display_name,
    new_student_token,
    normalise_code,
)
from tuning.services.hosting import HostedLimits
from tuning.services.lessons import LESSONS, LessonResult


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(tmp_path, clock):
    return Classroom(ExperimentStore(tmp_path / "store.sqlite"), clock=clock)


def _result(name: str, data: dict) -> LessonResult:
    return LessonResult(name, LESSONS[name].title, "text", "claim", True, data=data)


# Tiny results whose right answer is known by construction, one per preset and winner.
CASES = [
    ("learning_rate", {"curves": {"too low (lr=0.0001)": [2.0, 1.5], "good (lr=0.01)": [1.0, 0.4],
                                  "too high (lr=1)": [3.0, 0.1, None]}}, "1"),
    ("learning_rate", {"curves": {"too low (lr=0.0001)": [2.0, 1.5], "good (lr=0.01)": [1.0, 0.4],
                                  "too high (lr=1)": [3.0, 2.9]}}, "0.01"),
    ("hidden_size", {"table": [{"size": 1, "test_error": 0.4}, {"size": 2, "test_error": 0.3},
                               {"size": 32, "test_error": 0.2}], "best_size": 32}, "32"),
    ("grid_search", {"result": {"best_params": {"hidden_layer_sizes": [16], "max_iter": 80}, "best_score": 0.9}},
     "16"),
    ("minibatch", {"time_to_target": {"16": 0.3, "128": 0.1, "full (1348)": None}, "target": 0.5}, "128"),
    ("minibatch", {"time_to_target": {"16": None, "128": None, "full (1348)": 2.0}, "target": 0.5}, "full batch"),
    ("minibatch", {"time_to_target": {"16": None, "128": None, "full (1348)": None}, "target": 0.5},
     "none within 30 epochs"),
    ("init_seeds", {"test_scores": [0.80, 0.95, 0.9]}, "0.10 to 0.20"),
    ("init_seeds", {"test_scores": [0.90, 0.91]}, "under 0.02"),
    ("hidden_size_regression", {"table": [{"size": 1, "test_error": 0.7}, {"size": 2, "test_error": 0.6},
                                          {"size": 4, "test_error": 0.41}, {"size": 128, "test_error": 0.66}],
                                "best_size": 4}, "4"),
]


@pytest.mark.parametrize(("preset", "data", "right"), CASES)
def test_the_right_answer_comes_from_the_presets_result(preset, data, right):
    question = QUESTIONS[preset]
    answer, why = question.right_answer(_result(preset, data))
    assert answer == right and answer in question.options
    assert why


def test_every_preset_has_a_question_and_an_exercise():
    assert list(QUESTIONS) == list(LESSONS) and list(EXERCISES) == list(LESSONS)
    assert all(len(q.options) >= 3 for q in QUESTIONS.values())


@pytest.mark.parametrize("preset", list(LESSONS))
def test_each_question_answers_from_the_presets_own_result(preset, prepared_lessons):
    result = prepared_lessons.load(preset)
    right, why = QUESTIONS[preset].right_answer(result)
    assert right in QUESTIONS[preset].options and why
    if preset == "hidden_size":  # one option per size the preset tries, and no other
        assert QUESTIONS[preset].options == tuple(str(row["size"]) for row in result.data["table"])


def test_a_question_refuses_another_presets_result():
    with pytest.raises(ValueError, match="cannot answer"):
        QUESTIONS["hidden_size"].right_answer(_result("learning_rate", CASES[0][1]))


def test_codes_are_random_of_the_safe_alphabet_and_the_teacher_key_is_not_stored(room):
    sessions = [room.start(30) for _ in range(30)]
    codes = [s.code for s, _ in sessions]
    assert len(set(codes)) == 30
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    # not sequential: consecutive codes share few characters in place (a counter would share most)
    same = sum(a == b for c1, c2 in itertools.pairwise(codes) for a, b in zip(c1, c2, strict=True))
    assert same < 0.3 * CODE_LENGTH * 29
    with sqlite3.connect(room.store.path) as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM class_sessions") for v in row)
    assert not any(key in stored for _, key in sessions)


def test_a_code_is_read_as_a_student_types_it(room):
    session, _ = room.start(30)
    typed = f" {session.code[:3].lower()}-{session.code[3:].lower()} "
    assert room.session(typed).code == session.code
    assert normalise_code("0O1I00") is None and normalise_code("A" * 1000) is None and normalise_code(42) is None


def test_only_the_teacher_key_moves_reveals_and_ends_the_class(room):
    session, key = room.start(30)
    _, other_key = room.start(30)
    result = _result(*CASES[0][:2])
    for bad in (None, "", session.code, other_key, key[:-1] + ("A" if key[-1] != "A" else "B"), "x" * 10_000):
        assert not room.is_teacher(session.code, bad)
        with pytest.raises(ClassError, match="only the teacher's link"):
            room.move(session.code, bad, preset="hidden_size")
        with pytest.raises(ClassError, match="only the teacher's link"):
            room.reveal(session.code, bad, result)
        with pytest.raises(ClassError, match="only the teacher's link"):
            room.end(session.code, bad)
    assert room.is_teacher(session.code.lower(), key)
    assert room.session(session.code).phase == "predict"


def test_one_answer_per_student_and_question_kept_across_a_new_classroom(room, tmp_path, clock):
    session, key = room.start(30)
    students = [new_student_token() for _ in range(5)]
    for s, option in zip(students, ["0.01", "0.01", "1", "0.0001", "0.01"], strict=True):
        room.answer(session.code, s, "learning_rate", option)
    room.answer(session.code, students[2], "learning_rate", "0.01")  # a change of mind replaces the answer
    assert room.tally(session.code, "learning_rate").counts == {"0.0001": 1, "0.01": 4, "1": 0}
    # a server restart: a new Classroom on the same file sees everything
    again = Classroom(ExperimentStore(tmp_path / "store.sqlite"), clock=clock)
    assert again.my_answer(session.code, students[3], "learning_rate") == "0.0001"
    assert again.tally(session.code, "learning_rate").total == 5
    assert again.is_teacher(session.code, key)


@pytest.mark.parametrize(("student", "preset", "option", "message"), [
    ("not-a-token", "learning_rate", "0.01", "student token is not valid"),
    ("ab" * 8 + "0", "learning_rate", "0.01", "student token is not valid"),
    (None, "learning_rate", "0.01", "student token is not valid"),
    ("ab" * 8, "learning_rate", "0.02", "not one of this question's answers"),
    ("ab" * 8, "learning_rate", "0.01" * 1000, "not one of this question's answers"),
    ("ab" * 8, "nope", "0.01", "not one of this question's answers"),
    ("ab" * 8, "hidden_size", "8", "answers to this question are closed"),
])
def test_bad_answers_are_refused_with_the_reason(room, student, preset, option, message):
    session, _ = room.start(30)
    with pytest.raises(ClassError, match=message):
        room.answer(session.code, student, preset, option)
    assert room.tally(session.code, "learning_rate").total == 0


def test_reveal_closes_the_question_and_counts_who_was_right(room):
    session, key = room.start(30)
    for option in ["1", "1", "0.01", "0.0001"]:
        room.answer(session.code, new_student_token(), "learning_rate", option)
    tally = room.reveal(session.code, key, _result(*CASES[0][:2]))  # lr=1 ends lowest in this result
    assert tally.revealed and tally.right == "1" and tally.share_right == 0.5 and "lr=1" in tally.explanation
    assert room.session(session.code).phase == "reveal"
    with pytest.raises(ClassError, match="closed"):
        room.answer(session.code, new_student_token(), "learning_rate", "1")
    # going back to a revealed question shows its reveal; it does not reopen the answers
    room.move(session.code, key, preset="hidden_size")
    assert room.move(session.code, key, preset="learning_rate", phase="predict").phase == "reveal"
    with pytest.raises(ClassError, match="reveal the answer before"):
        room.move(session.code, key, preset="hidden_size", phase="practice")
    assert room.move(session.code, key, preset="learning_rate", phase="practice").phase == "practice"


def test_a_session_ends_after_its_time_or_when_the_teacher_ends_it(room, clock):
    session, key = room.start(30)
    clock.now += 29 * 60
    room.answer(session.code, new_student_token(), "learning_rate", "1")
    assert room.session(session.code).minutes_left(clock.now) == 1
    clock.now += 61
    with pytest.raises(ClassError, match="this class has ended"):
        room.answer(session.code, new_student_token(), "learning_rate", "1")
    with pytest.raises(ClassError, match="this class has ended"):
        room.move(session.code, key, preset="hidden_size")
    other, other_key = room.start(30)
    room.end(other.code, other_key)
    with pytest.raises(ClassError, match="this class has ended"):
        room.open_session(other.code)
    with pytest.raises(ClassError, match="1 to 240 minutes"):
        room.start(10_000)


def test_a_session_takes_a_bounded_number_of_students(room, monkeypatch):
    monkeypatch.setattr("tuning.services.classroom.MAX_STUDENTS", 3)
    session, _ = room.start(30)
    students = [new_student_token() for _ in range(4)]
    for s in students[:3]:
        room.answer(session.code, s, "learning_rate", "1")
    with pytest.raises(ClassError, match="this class is full"):
        room.answer(session.code, students[3], "learning_rate", "1")
    room.answer(session.code, students[0], "learning_rate", "0.01")  # a student already in may still change
    assert MAX_STUDENTS == 300


def test_the_leaderboard_keeps_each_students_best_score_and_plain_short_names(room):
    session, _ = room.start(30)
    a, b, c = (new_student_token() for _ in range(3))

    def attempt(score):
        return Attempt(score, score > 0.95, {"units": 8}, 0.1, "")

    assert room.record_score(session.code, a, "hidden_size", attempt(0.90), "Ada")
    assert room.record_score(session.code, a, "hidden_size", attempt(0.97), "Ada")
    assert not room.record_score(session.code, a, "hidden_size", attempt(0.93), "Ada")  # not better
    room.record_score(session.code, b, "hidden_size", attempt(0.95), "[click](http://x)\u202e\n" + "z" * 100)
    room.record_score(session.code, c, "hidden_size", attempt(float("nan")), "nan")
    board = room.leaderboard(session.code, "hidden_size")
    assert [(e.rank, e.name, e.score) for e in board][:1] == [(1, "Ada", 0.97)]
    assert len(board) == 2 and len(board[1].name) <= MAX_NAME and "\u202e" not in board[1].name
    assert "\n" not in board[1].name and board[1].settings == {"units": 8}
    assert room.leaderboard(session.code, "learning_rate") == []


def test_display_names_are_single_line_printable_and_short():
    assert display_name("  Ada \t Lovelace\x00\x1b[31m ") == "Ada Lovelace [31m"
    assert display_name(None) == "" and len(display_name("é" * 100)) == MAX_NAME


def test_a_rate_limit_allows_bursts_up_to_its_capacity_then_refills():
    now = [0.0]
    limit = RateLimit(3, 30.0, clock=lambda: now[0])
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 10.0  # one token back
    assert limit.allow() and not limit.allow()


def test_exercise_settings_must_come_from_their_options():
    exercise = EXERCISES["hidden_size"]
    with pytest.raises(ClassError, match="Epochs"):
        exercise.parse({"units": 8, "layers": 1, "max_iter": 10_000})
    with pytest.raises(ClassError, match="Units per layer"):
        exercise.parse({"units": "8; rm -rf", "layers": 1, "max_iter": 10})
    grid = EXERCISES["grid_search"]
    with pytest.raises(ClassError, match="choose 1 to 2 values"):
        grid.parse({"hidden_layer_sizes": [4, 8, 16], "max_iter": [5]})
    with pytest.raises(ClassError, match="choose from"):
        grid.parse({"hidden_layer_sizes": [4, 4], "max_iter": [5]})


def test_an_exercise_is_checked_by_the_engine_and_its_goal_can_be_reached():
    exercise = EXERCISES["learning_rate"]
    weak = check_exercise(exercise, exercise.defaults())
    strong = check_exercise(exercise, {"learning_rate_init": 0.01, "max_iter": 30},
                            max_epochs=HostedLimits().max_playground_epochs)
    assert not weak.beats_goal and strong.beats_goal and strong.score > weak.score
    assert "test accuracy" in strong.detail and strong.settings == {"learning_rate_init": 0.01, "max_iter": 30}
    diverged = check_exercise(exercise, {"learning_rate_init": 1.0, "max_iter": 30})
    assert math.isfinite(diverged.score)
    with pytest.raises(ClassError, match="at most 5 epochs"):
        check_exercise(exercise, {"learning_rate_init": 0.01, "max_iter": 30}, max_epochs=5)


def test_the_regression_exercise_is_scored_by_r2_and_its_goal_can_be_reached():
    exercise = EXERCISES["hidden_size_regression"]
    weak = check_exercise(exercise, exercise.defaults())  # one unit draws the sine as a line
    strong = check_exercise(exercise, {"units": 32, "activation": "relu", "alpha": 0.01},
                            max_epochs=HostedLimits().max_playground_epochs)
    assert not weak.beats_goal and strong.beats_goal and strong.score > weak.score
    assert "test R²" in strong.detail


def test_a_grid_exercise_runs_a_capped_search():
    grid = EXERCISES["grid_search"]
    attempt = check_exercise(grid, {"hidden_layer_sizes": [4], "max_iter": [5]},
                             limits=HostedLimits(enabled=True).search_limits())
    assert 0 < attempt.score < 0.93 and "best_score_" in attempt.detail


def test_the_votes_histogram_shows_every_option_and_marks_the_right_one():
    fig = fig_votes({"a": 3, "b": 0, "c": 1}, right="c", projection=True)
    bar = fig.data[0]
    assert list(bar.x) == ["a", "b", "c"] and list(bar.y) == [3, 0, 1]
    assert bar.marker.color[2] != bar.marker.color[0] and fig.layout.font.size >= 20


@pytest.mark.parametrize(("preset", "data", "right"), [CASES[0], CASES[2], CASES[3], CASES[4], CASES[7], CASES[9]])
def test_the_reveal_marks_the_class_guesses_on_the_presets_chart(preset, data, right):
    if preset == "learning_rate":
        data = {**data, "test_scores": {}}
    if preset in ("hidden_size", "hidden_size_regression"):
        data = {"table": [{**r, "test_std": 0.01, "train_error": 0.1, "train_std": 0.01} for r in data["table"]],
                "best_size": data["best_size"], "points": {"x": [0.0, 1.0], "y": [0.0, 0.9]},
                "fits": {"4 units (best)": {"x": [0.0, 1.0], "y": [0.1, 0.8]}}}
    if preset == "grid_search":
        data = {"result": _tiny_search_result()}
    if preset == "minibatch":
        data = {**data, "curves": {"16": [1.0, 0.4], "128": [1.2, 0.3], "full (1348)": [2.0, 1.9]}}
    counts = dict.fromkeys(QUESTIONS[preset].options, 0)
    counts[QUESTIONS[preset].options[0]] = 4
    counts[QUESTIONS[preset].options[1]] = 2
    fig = fig_reveal(_result(preset, data), counts, right=right, buckets=SPREAD_BUCKETS, projection=True)
    text = json.dumps(fig.to_plotly_json(), default=str)
    assert "4 votes" in text and "2 votes" in text


def _tiny_search_result() -> dict:
    from tuning.engine.search import run_search

    result = run_search({"dataset": {"name": "iris"}, "cv": 2,
                         "param_grid": {"hidden_layer_sizes": [[4], [16]], "max_iter": [2, 4]}}, refit=False)
    return result.to_dict()
