"""Every lesson preset runs and its chart shows what its text claims; presets kept on disk are
shown as they were computed, and the process that prepares them stops at once."""

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning

from tuning.errors import TuningError
from tuning.figures import fig_lesson
from tuning.services.lessons import (
    LESSONS,
    LessonCache,
    LessonPreparer,
    LessonResult,
    code_fingerprint,
    prepare_lessons,
    run_lesson,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=sorted(LESSONS))
def lesson(request, prepared_lessons):
    """Each preset as the session computed it (run_lesson, stored and read back as a server would)."""
    return prepared_lessons.load(request.param)


def test_every_preset_checks_its_claim_and_it_holds(lesson):
    assert lesson.claim and lesson.text
    assert lesson.claim_holds, f"{lesson.name}: {lesson.claim}"


def test_every_preset_has_its_charts(lesson):
    figures = fig_lesson(lesson)
    assert figures and all(fig.data for fig in figures)
    if lesson.name == "hidden_size":
        star = next(t for t in figures[0].data if t.name == "best size")
        assert star.x[0] == lesson.data["best_size"]
        best = min(lesson.data["table"], key=lambda r: r["test_error"])
        assert best["size"] == lesson.data["best_size"] and star.y[0] == best["test_error"]
    if lesson.name == "hidden_size_regression":  # RMSE in the target's units, and the three fits drawn
        assert figures[0].layout.yaxis.title.text == "RMSE (target units)"
        assert [t.name for t in figures[1].data] == ["data", *lesson.data["fits"]]
        assert f"{lesson.data['best_size']} units (best)" in lesson.data["fits"]
    if lesson.name == "init_seeds":  # the schemes side by side, all-zeros flat
        schemes = figures[1]
        assert [t.name for t in schemes.data] == ["glorot_uniform", "he_normal", "lecun_normal", "small_constant",
                                                  "zeros"]
        zeros = lesson.data["scheme_curves"]["zeros"]
        assert max(zeros) - min(zeros) < 0.01 * zeros[0]
    if lesson.name == "minibatch":
        per_update = figures[1]
        assert per_update.layout.xaxis.title.text == "weight updates"
        assert per_update.data[0].x[0] == lesson.data["updates_per_epoch"][per_update.data[0].name]


def test_the_readme_quotes_what_each_preset_computes(lesson):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert lesson.headline and lesson.headline in readme, f"README should say: {lesson.headline}"


def test_the_hidden_size_preset_marks_a_best_size_between_the_extremes(prepared_lessons):
    lesson = prepared_lessons.load("hidden_size")
    sizes = [row["size"] for row in lesson.data["table"]]
    assert sizes == sorted(sizes) and sizes[0] == 1 and lesson.data["best_size"] in sizes[1:-1]
    assert "averaged over 4 seeds" in lesson.text


def test_an_unknown_lesson_is_refused():
    with pytest.raises(TuningError, match=r"there is no lesson .nope.\. The lessons are: learning_rate"):
        run_lesson("nope")


def test_a_preset_keeps_the_server_log_free_of_the_convergence_warnings_it_causes_on_purpose():
    # The engine passes ConvergenceWarnings on as GridSearchCV does; this preset stops networks at 5 epochs.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_lesson("grid_search", n_jobs=1)
    assert result.claim_holds
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_lesson_cli_lists_and_runs(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "tuning", "lesson", "list", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert [item["name"] for item in json.loads(listed.stdout)] == list(LESSONS)
    out = tmp_path / "lesson.json"
    ran = subprocess.run([sys.executable, "-m", "tuning", "lesson", "run", "init_seeds", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(out.read_text())
    assert result["name"] == "init_seeds" and result["claim_holds"] is True and len(result["data"]["curves"]) == 10
    bad = subprocess.run([sys.executable, "-m", "tuning", "lesson", "run", "nope", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: there is no lesson 'nope'")


def _result(name: str, **changes) -> LessonResult:
    return LessonResult(name=name, title=LESSONS[name].title, text="t", claim="c", claim_holds=True,
                        headline="h", data={"x": [1.5, None]}, **changes)


def test_a_stored_preset_reads_back_as_it_was_and_a_damaged_one_as_missing(tmp_path):
    cache = LessonCache(tmp_path)
    assert cache.missing() == list(LESSONS) and cache.load("minibatch") is None
    cache.save(_result("minibatch", seconds=2.5))
    assert cache.load("minibatch") == _result("minibatch", seconds=2.5)
    assert "minibatch" not in cache.missing()
    cache.path("init_seeds").write_text('{"name": "init_se', encoding="utf-8")  # cut short
    assert cache.load("init_seeds") is None and "init_seeds" in cache.missing()
    assert [p.name for p in cache.folder.iterdir() if p.suffix == ".tmp"] == []


def test_presets_computed_by_other_code_or_versions_are_not_shown(tmp_path, monkeypatch):
    cache = LessonCache(tmp_path)
    cache.save(_result("minibatch"))
    monkeypatch.setattr(sklearn, "__version__", "0.0.1")
    other = LessonCache(tmp_path)
    assert other.folder != cache.folder and code_fingerprint() == other.folder.name
    assert other.load("minibatch") is None


def test_preparing_computes_only_what_is_missing(tmp_path):
    cache = LessonCache(tmp_path)
    for name in LESSONS:
        if name != "init_seeds":
            cache.save(_result(name))
    assert prepare_lessons(cache) == ["init_seeds"]
    assert cache.load("init_seeds").claim_holds and cache.missing() == []
    assert prepare_lessons(cache) == []


def _wait(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's SCHED_IDLE")
def test_the_preparer_runs_on_idle_cpu_keeps_what_it_finished_and_stops_at_once(tmp_path):
    preparer = LessonPreparer(LessonCache(tmp_path))
    preparer.start()
    pid = preparer._process.pid
    _wait(lambda: os.sched_getscheduler(pid) == os.SCHED_IDLE)
    _wait(lambda: preparer.result("learning_rate") is not None)  # the first preset, shown as soon as it is done
    assert preparer.running and not preparer.failed
    started = time.monotonic()
    preparer.stop()
    assert time.monotonic() - started < 1.0 and not _group_alive(pid)  # it and any worker it started
    assert preparer.result("learning_rate").claim_holds
    restarted = LessonPreparer(LessonCache(tmp_path))
    assert "learning_rate" not in restarted.cache.missing()


def test_the_preparer_starts_nothing_when_every_preset_is_stored(tmp_path):
    cache = LessonCache(tmp_path)
    for name in LESSONS:
        cache.save(_result(name))
    preparer = LessonPreparer(cache)
    preparer.start()
    assert preparer._process is None and not preparer.running and not preparer.failed
    assert preparer.result("hidden_size") == _result("hidden_size")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads /proc")
def test_a_preparer_that_finished_leaves_no_defunct_process_beside_the_server(tmp_path):
    cache = LessonCache(tmp_path)
    for name in LESSONS:
        if name != "learning_rate":
            cache.save(_result(name))
    preparer = LessonPreparer(cache)
    preparer.start()
    pid = preparer._process.pid
    _wait(lambda: preparer.result("learning_rate") is not None)
    # a page asking for a preset reaps the ended process; unreaped, it would stay <defunct> in /proc
    _wait(lambda: preparer.result("learning_rate") is not None and not Path(f"/proc/{pid}").exists())
    assert not preparer.running and not preparer.failed
