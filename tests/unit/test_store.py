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
import tuning.engine.store as store_module
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
    real = tuning.engine.search.fit_stack

    def counting(*args, **kwargs):
        calls.append(kwargs["unit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning.engine.search, "fit_stack", counting)
    return calls


def _same_scores(a, b):
    for key in SCORE_KEYS:
        assert json.dumps(a.cv_results[key]) == json.dumps(b.cv_results[key]), key


def test_a_finished_spec_is_served_from_the_store_without_training(store, count_units):
    first = run_search(SPEC, n_jobs=1, store=store)
    trained = len(count_units)
    again = run_search(SPEC, n_jobs=1, store=store)
    # 2 stacks (one per hidden size; alpha and max_iter train together) x 3 folds
    assert trained == 6 and len(count_units) == trained  # nothing trained the second time
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
    assert sorted(before + rerun_units) == list(range(6))  # every unit exactly once over both runs
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
    assert sorted(per_experiment.values()) == [2 * 3, 2 * 4]  # a unit per hidden size (both rates in it) and fold
    statuses = {r["status"] for r in ExperimentStore(db).list()}
    assert statuses == {"finished"}


_OPEN_AT_ONCE = """
import os, sys, time
from tuning.engine.store import ExperimentStore
while not os.path.exists(sys.argv[2]):  # every process waits here, then all open the store together
    time.sleep(0.001)
ExperimentStore(sys.argv[1])
"""


def test_processes_opening_an_old_store_at_once_all_bring_it_up_to_date(tmp_path):
    # a store from before tags and signed models: each process that opens it adds the missing columns,
    # and two doing it at once made the second fail with "duplicate column name"
    db, go = tmp_path / "old.sqlite", tmp_path / "go"
    with sqlite3.connect(db) as connection:
        connection.execute(store_module._SCHEMA.split(";")[0].replace(",\n    model_mac TEXT", "")
                           .replace(",\n    tags TEXT NOT NULL DEFAULT '[]'", ""))
        assert {"tags", "model_mac"}.isdisjoint(r[1] for r in connection.execute("PRAGMA table_info(experiments)"))
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT_ONCE, str(db), str(go)], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    time.sleep(2.0)  # let them all start and wait at the line
    go.touch()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    with sqlite3.connect(db) as connection:
        assert {"tags", "model_mac"} <= {r[1] for r in connection.execute("PRAGMA table_info(experiments)")}


# --- a store someone else wrote: its models never run, its results still show ------------------------------


class _WritesMarker:
    """A pickle that creates a file when it is loaded: what a hostile store's model blob could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_model(db_path, exp_id, blob, signature):
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE experiments SET model = ?, model_mac = ? WHERE id = ?", (blob, signature, exp_id))


@pytest.fixture
def foreign_store(tmp_path):
    """A store whose finished experiment's model, if unpickled, would write a marker file."""
    import pickle

    db = tmp_path / "foreign.sqlite"
    exp_id = run_search(SPEC, n_jobs=1, store=ExperimentStore(db)).experiment_id
    marker = tmp_path / "marker"
    other_key = b"someone else's key"
    blob = pickle.dumps(_WritesMarker(marker))
    _plant_model(db, exp_id, blob, store_module._model_signature(other_key, exp_id, blob))
    return db, exp_id, marker, blob


def test_a_model_signed_with_another_key_is_never_unpickled(foreign_store):
    db, exp_id, marker, _ = foreign_store
    result = ExperimentStore(db).load_result(exp_id)
    assert not marker.exists()
    assert result.best_estimator is None and result.best_score is not None  # the results are still there
    assert "was not loaded" in result.model_note and "could run their code" in result.model_note


def test_an_unsigned_model_is_never_unpickled_either(foreign_store):
    db, exp_id, marker, blob = foreign_store
    _plant_model(db, exp_id, blob, None)
    assert ExperimentStore(db).load_result(exp_id).best_estimator is None and not marker.exists()


def test_the_marker_blob_would_run_if_this_user_had_signed_it(foreign_store):
    """The control for the two tests above: the same blob, signed with this user's key, is live."""
    db, exp_id, marker, blob = foreign_store
    key = store_module._signing_key(create=True)
    _plant_model(db, exp_id, blob, store_module._model_signature(key, exp_id, blob))
    ExperimentStore(db).load_result(exp_id)
    assert marker.exists()


def test_tuning_show_on_a_foreign_store_shows_the_results_and_says_why_there_is_no_model(foreign_store, tmp_path):
    db, exp_id, marker, _ = foreign_store
    proc = _cli("show", exp_id, "--store", db, "--out", tmp_path / "shown.json", store=db)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert "note: The model of experiment" in proc.stderr.read()
    assert json.loads((tmp_path / "shown.json").read_text())["best_score"] is not None
    assert not marker.exists()


def test_a_key_file_others_can_read_is_not_trusted(store, tmp_path, monkeypatch):
    key = tmp_path / "loose.key"
    monkeypatch.setenv("TUNING_KEY_FILE", str(key))
    exp_id = run_search(SPEC, n_jobs=1, store=store).experiment_id
    assert key.stat().st_mode & 0o777 == 0o600  # made on first use, for this user only
    assert store.load_result(exp_id).best_estimator is not None
    key.chmod(0o644)
    assert store.load_result(exp_id).best_estimator is None


# --- an unusable store: one message naming the file, exit 2 -------------------------------------------------


def _damage(db_path):
    """Overwrite everything after the first page, as a disk or a bad copy might."""
    data = bytearray(db_path.read_bytes())
    for offset in range(4096, len(data), 512):
        data[offset:offset + 64] = b"\xa5" * 64
    db_path.write_bytes(bytes(data))


def _finished_store(tmp_path):
    db = tmp_path / "damaged.sqlite"
    exp_id = run_search(SPEC, n_jobs=1, store=ExperimentStore(db), refit=False).experiment_id
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, exp_id


@pytest.mark.parametrize("damage", ["not a database", "damaged pages"])
def test_a_damaged_store_is_one_message_naming_the_file_and_exit_2(damage, tmp_path):
    if damage == "not a database":
        db, exp_id = tmp_path / "random.sqlite", "abc"
        db.write_bytes(os.urandom(8192))
    else:
        db, exp_id = _finished_store(tmp_path)
        _damage(db)
    for args in (["list"], ["show", exp_id, "--out", tmp_path / "x.json"],
                 ["run", tmp_path / "spec.json", "--out", tmp_path / "r.json", "--quiet"]):
        (tmp_path / "spec.json").write_text(json.dumps(SPEC))
        proc = _cli(*args, "--store", db, store=db)
        assert proc.wait(timeout=120) == 2, (args, proc.stderr.read())
        stderr = proc.stderr.read()
        assert stderr.startswith(f"error: the experiment store '{db}' is damaged"), stderr
        assert "Move it aside to start a new one" in stderr and "bug" not in stderr and stderr.count("\n") == 1


@pytest.fixture
def read_only(tmp_path):
    """Make a file and its folder read-only, for this user even if it is root (then with chattr +i)."""
    made = []

    def make(*paths):
        for path in paths:
            if os.geteuid() == 0:
                if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                    pytest.skip("running as root without chattr: nothing can be read-only for this test")
            else:
                path.chmod(0o555 if path.is_dir() else 0o444)
            made.append(path)

    yield make
    for path in reversed(made):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        else:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_store_is_one_message_naming_the_file_and_exit_2(tmp_path, read_only):
    folder = tmp_path / "ro"
    folder.mkdir()
    db, _ = _finished_store(folder)
    for extra in folder.glob("damaged.sqlite-*"):
        extra.unlink()
    read_only(db, folder)
    proc = _cli("list", "--store", db, store=db)
    assert proc.wait(timeout=120) == 2
    stderr = proc.stderr.read()
    assert stderr.startswith(f"error: the experiment store '{db}' cannot be written"), stderr
    assert "Make the file and its folder writable" in stderr and stderr.count("\n") == 1


# --- the lease: a live owner keeps it, however long its units take ------------------------------------------

# Two units (one per fold: the lean trainer stacks the two learning rates), each over a second.
LONG_UNITS = {"dataset": "digits", "cv": 2, "n_jobs": 1,
              "param_grid": {"hidden_layer_sizes": [[512]], "max_iter": [100], "learning_rate_init": [1e-3, 3e-3]}}


def test_two_cli_runs_with_units_longer_than_the_lease_train_each_unit_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_LEASE_SECONDS", "0.5")  # the shortest lease: every unit below takes longer
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(LONG_UNITS))
    db = tmp_path / "lease.sqlite"
    first = _cli("run", spec, "--out", tmp_path / "a.json", "--quiet", store=db)
    store = ExperimentStore(db)
    while not store.list():
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.05)
    second = _cli("run", spec, "--out", tmp_path / "b.json", "--quiet", store=db)
    seen = set()
    while first.poll() is None or second.poll() is None:
        (row,) = store.list()
        seen.add(row["status"])
        time.sleep(0.1)
    assert first.wait() == 0 and second.wait() == 0, (first.stderr.read(), second.stderr.read())
    assert "interrupted" not in seen and "running" in seen  # a live owner is never listed as interrupted
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["cv_results"] == b["cv_results"]
    trainers = {f["worker"] for f in a["fits"]} | {f["worker"] for f in b["fits"]}
    assert len(trainers) == 1  # one process trained every unit; the other followed
    longest = max(f["end"] - f["start"] for f in a["fits"])
    assert longest > 0.5, f"units took {longest:.2f} s: not longer than the lease, the test proves nothing"


def test_a_store_made_before_tags_gets_them_and_keeps_its_experiments(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:  # the schema as it was before experiments had tags
        connection.executescript(store_module._SCHEMA.replace("tags TEXT NOT NULL DEFAULT '[]',", ""))
        connection.execute("INSERT INTO experiments (id, spec, dataset, created, updated, status, fits_total) "
                           "VALUES ('abc', ?, '{\"name\": \"iris\"}', 0, 0, 'interrupted', 4)",
                           (parse_spec(SPEC).to_json(),))
    store = ExperimentStore(path)
    assert [(r["id"], r["tags"]) for r in store.list()] == [("abc", [])]
    store.annotate("abc", tags=["  first run", "lr, small", "first run", "x" * 50, ""])
    assert store.get("abc")["tags"] == ["first run", "lr small", "x" * 30]
    assert ExperimentStore(path).get("abc")["tags"] == ["first run", "lr small", "x" * 30]  # opened again
