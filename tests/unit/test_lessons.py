"""Every lesson preset runs and its chart shows what its text claims."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuning.errors import TuningError
from tuning.figures import fig_lesson
from tuning.services.lessons import LESSONS, run_lesson

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=sorted(LESSONS))
def lesson(request):
    return run_lesson(request.param, n_jobs=2)


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


def test_an_unknown_lesson_is_refused():
    with pytest.raises(TuningError, match=r"there is no lesson .nope.\. The lessons are: learning_rate"):
        run_lesson("nope")


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
