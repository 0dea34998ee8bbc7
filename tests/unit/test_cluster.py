"""Scale out on real Dask processes: the same scores as a local run, workers recorded, failures survived."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tuning
from tests.processes import free_port, start_dask, stop, wait_for_port
from tuning import GridSearchCV
from tuning.engine.cluster import TRUST_WARNING, cluster_status, connected, prepare_workers
from tuning.engine.search import run_search
from tuning.errors import TuningError

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"dataset": "iris", "cv": 3, "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20]}}
LONGER = {"dataset": "digits", "cv": 3,
          "param_grid": {"hidden_layer_sizes": [[16], [32]], "max_iter": [30, 80], "learning_rate_init": [1e-3, 3e-3]}}
SCORES = ["mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score"]


def _dask_command(*args: str) -> list[str]:
    """The README's `dask ...` command: the `dask` script of this Python, else the one on PATH."""
    beside = Path(sys.executable).with_name("dask")
    return [str(beside) if beside.exists() else shutil.which("dask") or "dask", *args]


def _clean_env() -> dict[str, str]:
    """This environment without PYTHONPATH: nothing makes the checkout importable for the cluster."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _stop_groups(procs) -> None:
    """Stop processes started in their own session, with whatever they started (a worker's nanny's worker)."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for_workers(address: str, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(cluster_status(address)["workers"]) < n:
        assert time.monotonic() < deadline, "the workers did not join"
        time.sleep(0.3)


@pytest.fixture
def cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on loopback (no PYTHONPATH: the README
    test below shows workers that cannot import `tuning` get it from the client)."""
    log = (tmp_path / "dask.log").open("w")
    address, procs = start_dask(["w1", "w2"], _clean_env(), log)
    _wait_for_workers(address, 2)
    yield address, procs
    stop(list(procs.values()))
    log.close()


def _readme_dask_commands() -> list[str]:
    """The two commands the README's Dask section tells each machine to run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Scale out on a Dask cluster"):]
    block = section[section.index("```bash") + len("```bash"):]
    block = block[:block.index("```")]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert [c.split()[:2] for c in commands] == [["dask", "scheduler"], ["dask", "worker"]], commands
    return commands


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


def _versions_on(address: str) -> dict:
    from distributed import Client

    from tuning.engine.cluster import _versions_probe

    with Client(address, timeout=10) as client:
        return client.run(_versions_probe())


def test_the_readmes_dask_commands_work_verbatim_from_an_empty_directory(tmp_path):
    """`dask scheduler` and `dask worker` as the README writes them (its port made free), in a directory
    with no Tuning Lab and no PYTHONPATH: the client sends `tuning`, and the scores are the local ones."""
    port = free_port()
    scheduler_line, worker_line = (c.replace("8786", str(port)).replace("SCHEDULER_HOST", "127.0.0.1")
                                   for c in _readme_dask_commands())
    empty = tmp_path / "fresh"
    empty.mkdir()
    log = (tmp_path / "dask.log").open("w")
    procs = [subprocess.Popen(_dask_command(*shlex.split(scheduler_line)[1:]), cwd=empty, stdout=log,
                              stderr=subprocess.STDOUT, env=_clean_env(), start_new_session=True)]
    try:
        wait_for_port(port)
        procs.append(subprocess.Popen(_dask_command(*shlex.split(worker_line)[1:]), cwd=empty, stdout=log,
                                      stderr=subprocess.STDOUT, env=_clean_env(), start_new_session=True))
        address = f"tcp://127.0.0.1:{port}"
        _wait_for_workers(address, 1)
        assert cluster_status(address)["threads"] == 2
        assert [v["tuning"] for v in _versions_on(address).values()] == [None]  # the worker has no `tuning`

        proc = _run_cli(SMALL, tmp_path / "dask.json", "--scheduler", address)
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
        _assert_same_scores(json.loads((tmp_path / "dask.json").read_text()), run_search(SMALL, n_jobs=1))

        X, y = load_digits(return_X_y=True)
        grid = {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)], "mlpclassifier__max_iter": [5, 15]}
        estimator = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
        local = GridSearchCV(estimator, grid, cv=3).fit(X, y)
        from distributed import Client

        with Client(address, timeout=10), joblib.parallel_backend("dask"):
            remote = GridSearchCV(estimator, grid, cv=3).fit(X, y)
        for key in ("mean_test_score", "split0_test_score", "rank_test_score"):
            np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
        assert {e["worker"] for e in remote.fit_log_} == {w["address"] for w in cluster_status(address)["workers"]}
        assert [v["tuning"] for v in _versions_on(address).values()] == [tuning.__version__]
    finally:
        _stop_groups(procs)
        log.close()


class _Cluster:
    """What a distributed.Client answers about versions, for the refusal messages."""

    def __init__(self, found):
        self.found = found

    def run_on_scheduler(self, probe):
        return self.found["scheduler"]

    def run(self, probe, on_error="raise"):
        return {k: v for k, v in self.found.items() if k != "scheduler"}

    def upload_file(self, path, load=True):
        raise ModuleNotFoundError("No module named 'plotly'")  # a machine without the requirements


def test_machines_with_other_versions_are_refused_by_name():
    ours = {"tuning": tuning.__version__, "scikit-learn": __import__("sklearn").__version__}
    prepare_workers(_Cluster({"scheduler": ours, "tcp://a:1": ours}))  # all the same: fine
    older = {**ours, "scikit-learn": "1.5.0"}
    with pytest.raises(TuningError, match=r"another scikit-learn .* tcp://b:2 has 1\.5\.0\. Install requirements"):
        prepare_workers(_Cluster({"scheduler": ours, "tcp://a:1": ours, "tcp://b:2": older}))
    with pytest.raises(TuningError, match=r"another tuning .* scheduler has 0\.0\.1\. Install this version"):
        prepare_workers(_Cluster({"scheduler": {**ours, "tuning": "0.0.1"}, "tcp://a:1": ours}))
    bare = {"tuning": None, "scikit-learn": ours["scikit-learn"]}
    with pytest.raises(TuningError, match=r"could not send .* No module named 'plotly'\)\. Run `pip install -r"):
        prepare_workers(_Cluster({"scheduler": ours, "tcp://c:3": bare}))
