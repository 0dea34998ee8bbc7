"""The experiment store: nothing finished is lost, nothing is trained twice."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tuning.engine.search
from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore, experiment_id
from tuning.errors import TuningError

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"dataset": "iris", "cv": 3, "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20],
                                                     "alpha": [1e-4, 1.0]}}
SCORE_KEYS = ["mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score",
              "mean_train_score"]


@pytest.fixture
def store(tmp_path):
    return ExperimentStore(tmp_path / "store.sqlite")


@pytest.fixture
def count_units(monkeypatch):
    calls = []
    real = tuning.engine.search.fit_trajectory

    def counting(*args, **kwargs):
        calls.append(kwargs["unit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning.engine.search, "fit_trajectory", counting)
    return calls


def _same_scores(a, b):
    for key in SCORE_KEYS:
        assert json.dumps(a.cv_results[key]) == json.dumps(b.cv_results[key]), key


def test_a_finished_spec_is_served_from_the_store_without_training(store, count_units):
    first = run_search(SPEC, n_jobs=1, store=store)
    trained = len(count_units)
    again = run_search(SPEC, n_jobs=1, store=store)
    assert trained == 12 and len(count_units) == trained  # nothing trained the second time
    _same_scores(first, again)
    assert again.best_params == first.best_params and again.experiment_id == first.experiment_id
    assert (again.best_estimator.predict(load_dataset({"name": "iris"}).X)
            == first.best_estimator.predict(load_dataset({"name": "iris"}).X)).all()


def test_an_interrupted_search_resumes_with_only_the_unfinished_units(store, count_units):
    cancel = threading.Event()
    partial = run_search(SPEC, n_jobs=1, store=store, cancel=cancel,
                         progress=lambda p: cancel.set() if p.fits_done >= 4 else None)
    assert partial.status == "cancelled"
    row = store.get(partial.experiment_id)
    assert row["status"] == "interrupted" and row["fits_done"] == partial.fits_done
    before = list(count_units)
    resumed = run_search(SPEC, n_jobs=1, store=store)
    rerun_units = count_units[len(before):]
    assert sorted(before + rerun_units) == list(range(12))  # every unit exactly once over both runs
    _same_scores(resumed, run_search(SPEC, n_jobs=1))
    assert store.get(resumed.experiment_id)["status"] == "finished"


def test_experiment_ids_follow_spec_and_data_but_not_n_jobs():
    spec = parse_spec(SPEC)
    iris = load_dataset({"name": "iris"})
    same = parse_spec({**SPEC, "n_jobs": 2})
    other = parse_spec({**SPEC, "cv": 4})
    assert experiment_id(spec, iris) == experiment_id(same, iris)
    assert experiment_id(spec, iris) != experiment_id(other, iris)
    moons = load_dataset({"name": "moons"})
    assert experiment_id(spec, iris) != experiment_id(spec, moons)


def test_list_annotate_find_and_delete(store):
    result = run_search(SPEC, n_jobs=1, store=store, refit=False)
    exp_id = result.experiment_id
    store.annotate(exp_id, name="first try", note="alpha matters")
    (row,) = store.list()
    assert row["id"] == exp_id and row["name"] == "first try" and row["note"] == "alpha matters"
    assert row["dataset"] == "iris" and row["status"] == "finished"
    assert row["fits_done"] == row["fits_total"] == 24 and row["best_score"] == result.best_score
    assert store.find(exp_id[:5]) == exp_id
    store.delete(exp_id)
    assert store.list() == []
    with pytest.raises(TuningError, match="is not in"):
        store.delete(exp_id)


def test_an_unwritable_store_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(TuningError, match="cannot open the experiment store"):
        ExperimentStore(tmp_path / "file" / "store.sqlite")


def _cli(*args, store):
    env = {**os.environ, "TUNING_STORE": str(store)}
    return subprocess.Popen([sys.executable, "-m", "tuning", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


LONGER = {"dataset": "digits", "cv": 3, "n_jobs": 1,
          "param_grid": {"hidden_layer_sizes": [[16], [32]], "max_iter": [20, 60], "learning_rate_init": [1e-3, 3e-3]}}


def test_a_killed_cli_search_resumes_to_the_uninterrupted_result(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(LONGER))
    db = tmp_path / "killed.sqlite"
    proc = _cli("run", spec, "--out", tmp_path / "a.json", "--quiet", store=db)
    store = ExperimentStore(db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = store.list()
        if rows and rows[0]["fits_done"] >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (row,) = store.list()
    assert row["status"] == "interrupted" and 0 < row["fits_done"] < row["fits_total"]
    kept = row["fits_done"]

    resumed = _cli("run", spec, "--out", tmp_path / "b.json", "--quiet", store=db)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    plain = _cli("run", spec, "--out", tmp_path / "c.json", "--quiet", "--no-store", store=db)
    assert plain.wait(timeout=300) == 0
    b, c = (json.loads((tmp_path / n).read_text()) for n in ("b.json", "c.json"))
    for key in SCORE_KEYS:
        assert b["cv_results"][key] == c["cv_results"][key], key
    assert b["best_params"] == c["best_params"] and kept < b["fits_done"] == c["fits_done"]


def test_two_processes_on_one_store_never_train_one_experiment_twice(tmp_path):
    spec, other = tmp_path / "spec.json", tmp_path / "other.json"
    spec.write_text(json.dumps(LONGER))
    other.write_text(json.dumps({**LONGER, "cv": 4}))
    db = tmp_path / "shared.sqlite"
    procs = [_cli("run", spec, "--out", tmp_path / "a.json", "--quiet", store=db),
             _cli("run", spec, "--out", tmp_path / "b.json", "--quiet", store=db),
             _cli("run", other, "--out", tmp_path / "o.json", "--quiet", store=db)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["cv_results"] == b["cv_results"]
    assert {f["worker"] for f in a["fits"]} == {f["worker"] for f in b["fits"]}  # one process trained it
    assert len({f["worker"] for f in a["fits"]}) == 1
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_experiment = dict(connection.execute("SELECT experiment, COUNT(*) FROM units GROUP BY experiment"))
    assert sorted(per_experiment.values()) == [2 * 2 * 3, 2 * 2 * 4]
    statuses = {r["status"] for r in ExperimentStore(db).list()}
    assert statuses == {"finished"}
