"""Scale out on real Dask processes: the same scores as a local run, workers recorded, failures survived."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import start_dask, stop
from tuning.engine.cluster import TRUST_WARNING, cluster_status, connected
from tuning.engine.search import run_search
from tuning.errors import TuningError

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"dataset": "iris", "cv": 3, "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20]}}
LONGER = {"dataset": "digits", "cv": 3,
          "param_grid": {"hidden_layer_sizes": [[16], [32]], "max_iter": [30, 80], "learning_rate_init": [1e-3, 3e-3]}}
SCORES = ["mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score"]


@pytest.fixture
def cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on loopback."""
    log = (tmp_path / "dask.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # as the README says: Tuning Lab importable everywhere
    address, procs = start_dask(["w1", "w2"], env, log)
    deadline = time.monotonic() + 60
    while len(cluster_status(address)["workers"]) < 2:
        assert time.monotonic() < deadline, "the workers did not join"
        time.sleep(0.3)
    yield address, procs
    stop(list(procs.values()))
    log.close()


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_cli_left_behind():
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _run_cli(spec: dict, out: Path, *extra: str) -> subprocess.Popen:
    path = out.with_suffix(".spec.json")
    path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, "-m", "tuning", "run", str(path), "--out", str(out), "--quiet",
                             "--no-store", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _STARTED.append(proc)
    return proc


def _assert_same_scores(ours: dict, reference) -> None:
    for key in SCORES:
        assert ours["cv_results"][key] == reference.cv_results[key], key
    assert ours["best_params"] == reference.best_params


def test_a_local_cluster_never_starts_more_workers_than_cores():
    with connected("local", n_workers=16) as client:
        assert len(client.scheduler_info()["workers"]) == (os.cpu_count() or 1)


def test_a_local_cluster_gives_the_local_result():
    on_dask = run_search(SMALL, n_jobs=2, scheduler="local")
    local = run_search(SMALL, n_jobs=1)
    _assert_same_scores(on_dask.to_dict(), local)
    assert all(f["worker"].startswith("tcp://127.0.0.1:") for f in on_dask.fits)


def test_a_grid_on_a_scheduler_and_two_workers_equals_the_local_run(cluster, tmp_path):
    address, _ = cluster
    status = cluster_status(address)
    assert status["threads"] == 2 and {w["name"] for w in status["workers"]} == {"w1", "w2"}
    proc = _run_cli(LONGER, tmp_path / "dask.json", "--scheduler", address)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert proc.stderr.read().startswith(f"warning: {TRUST_WARNING}")  # an address is trusted code: say so
    result = json.loads((tmp_path / "dask.json").read_text())
    _assert_same_scores(result, run_search(LONGER, n_jobs=2))
    assert {f["worker"] for f in result["fits"]} == {w["address"] for w in status["workers"]}  # both worked


def test_a_worker_killed_mid_search_costs_nothing_but_time(cluster, tmp_path):
    address, procs = cluster
    proc = _run_cli(LONGER, tmp_path / "survivor.json", "--scheduler", address)
    from distributed import Client

    with Client(address, timeout=10) as watcher:  # kill w2 while it is running a unit of work
        w2 = next(a for a, w in watcher.scheduler_info()["workers"].items() if w["name"] == "w2")
        deadline = time.monotonic() + 120
        while not watcher.processing().get(w2):
            assert time.monotonic() < deadline and proc.poll() is None, "w2 never got a unit of work"
            time.sleep(0.05)
        procs["w2"].send_signal(signal.SIGKILL)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    result = json.loads((tmp_path / "survivor.json").read_text())
    assert result["fits_done"] == result["fits_total"] == 24
    _assert_same_scores(result, run_search(LONGER, n_jobs=2))


@pytest.mark.parametrize(("address", "message"), [
    ("tcp://127.0.0.1:9", "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
    ("my-cluster", "is not a Dask scheduler address"),
])
def test_a_bad_scheduler_address_is_one_clear_error(address, message, tmp_path):
    with pytest.raises(TuningError, match=message):
        run_search(SMALL, scheduler=address)
    proc = _run_cli(SMALL, tmp_path / "r.json", "--scheduler", address)
    assert proc.wait(timeout=60) == 2
    stderr = proc.stderr.read()
    assert message in stderr and "Traceback" not in stderr
