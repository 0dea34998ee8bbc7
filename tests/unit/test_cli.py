"""The CLI as a user runs it: a real `python -m tuning` process."""

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from tuning.engine.store import ExperimentStore
from tuning.services.experiments import searched_parameters

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 2,
        "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20]}}


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tuning", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_run_writes_the_documented_result(spec_file, tmp_path):
    out, model = tmp_path / "result.json", tmp_path / "best.joblib"
    proc = run_cli("run", spec_file, "--out", out, "--model", model)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    cv = result["cv_results"]
    for key in ["params", "mean_test_score", "std_test_score", "rank_test_score", "split0_test_score",
                "split2_test_score", "mean_train_score", "mean_fit_time"]:
        assert len(cv[key]) == 4, key
    assert result["best_params"] == cv["params"][result["best_index"]]
    assert result["best_score"] == cv["mean_test_score"][result["best_index"]]
    assert [c["params"] for c in result["curves"]] == cv["params"]
    assert all(len(f["loss_curve"]) == f["n_iter"] for c in result["curves"] for f in c["folds"])
    assert len(result["fits"]) == 12
    assert {"candidate", "fold", "worker", "start", "end"} <= set(result["fits"][0])
    assert result["epochs_trained"] < result["epochs_gridsearchcv"]
    assert "100%" in proc.stderr  # the progress bar finished
    assert "best accuracy:" in proc.stdout
    assert joblib.load(model).predict([[5.1, 3.5, 1.4, 0.2]]).shape == (1,)


def test_n_jobs_flag_overrides_the_spec(spec_file, tmp_path):
    proc = run_cli("run", spec_file, "--out", tmp_path / "r.json", "--n-jobs", "1", "--quiet")
    assert proc.returncode == 0 and proc.stderr == ""
    workers = {f["worker"] for f in json.loads((tmp_path / "r.json").read_text())["fits"]}
    assert len(workers) == 1


@pytest.mark.parametrize(
    ("spec_text", "message"),
    [
        ('{"dataset": "iris", "param_grid": {"max_iter": 5}}', "error: param_grid.max_iter: needs a list of values"),
        ('{"dataset": "iris",, }', "is not valid JSON"),
        ('{"dataset": "mnist", "param_grid": {}}', "error: dataset.name: unknown dataset 'mnist'"),
        ('{"dataset": "iris", "cv": 51, "param_grid": {}}', "error: cv: 51 folds need at least 51 rows"),
        ('{"dataset": "iris", "param_grid": {"max_iter": [10000000]}}', "above the cap"),
        ('{"dataset": "iris", "cv": 3, "param_grid": {"max_iter": [2]}, "estimator": {"early_stopping": true, '
         '"validation_fraction": 0.01}}', "error: all 3 fits failed"),
    ],
)
def test_bad_input_is_one_error_line_and_status_2(tmp_path, spec_text, message):
    path = tmp_path / "spec.json"
    path.write_text(spec_text)
    out = tmp_path / "result.json"
    proc = run_cli("run", path, "--out", out, "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_missing_spec_and_bad_out_path_are_clear(spec_file, tmp_path):
    proc = run_cli("run", tmp_path / "nope.json", "--out", tmp_path / "r.json")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run_cli("run", spec_file, "--out", tmp_path / "no" / "such" / "dir" / "r.json")
    assert proc.returncode == 2 and "does not exist. Create it first" in proc.stderr
    proc = run_cli("run", spec_file, "--out", tmp_path)
    assert proc.returncode == 2 and "is a directory" in proc.stderr


def test_datasets_lists_every_builtin():
    proc = run_cli("datasets", "--json")
    assert proc.returncode == 0
    names = [d["name"] for d in json.loads(proc.stdout)]
    assert names == ["iris", "wine", "breast_cancer", "digits", "moons", "circles", "xor", "spirals", "blobs",
                     "diabetes", "friedman1", "sine"]
    text = run_cli("datasets").stdout
    assert "noise" in text and "digits" in text


CSV = ROOT / "tests" / "data" / "csv"


def test_inspect_prints_the_summary_as_json():
    proc = run_cli("inspect", CSV / "good_missing_markers.csv")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["target"] == "species" and summary["n_samples"] == 30
    assert summary["missing_values"] == {"sepal_length": 2, "sepal_width": 1, "colour": 1}


def test_inspect_reads_a_continuous_target_as_regression_and_says_why():
    proc = run_cli("inspect", CSV / "regression_target.csv")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["task"] == "regression" and "looks continuous" in summary["task_reason"]
    assert any("TransformedTargetRegressor" in step for step in summary["preprocessing"])


@pytest.mark.parametrize(("name", "target", "message"), [
    ("image_named.csv", None, "is a PNG image, not a CSV file"),
    ("good_comma.csv", "kind", "has no column 'kind'"),
    ("penguins.csv", "species --task regression", "holds text (such as 'Adelie'), not numbers"),
])
def test_inspect_refuses_bad_files_with_one_line(name, target, message):
    proc = run_cli("inspect", CSV / name, *(["--target", *target.split()] if target else []))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and message in proc.stderr and proc.stderr.count("\n") == 1


def test_run_refuses_a_bad_csv_the_same_way(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"dataset": {"csv": str(CSV / "single_class.csv")}, "param_grid": {"max_iter": [5]}}))
    proc = run_cli("run", spec, "--out", tmp_path / "r.json")
    assert proc.returncode == 2 and "has a single class ('same')" in proc.stderr


def test_run_trains_on_a_csv(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"dataset": {"csv": str(CSV / "good_comma.csv"), "target": "species"}, "cv": 3,
                                "param_grid": {"max_iter": [5, 10]}}))
    proc = run_cli("run", spec, "--out", tmp_path / "r.json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["dataset"]["target"] == "species" and len(result["cv_results"]["params"]) == 2


def test_list_show_and_export_a_stored_experiment(spec_file, tmp_path):
    store = tmp_path / "db.sqlite"
    proc = run_cli("run", spec_file, "--out", tmp_path / "r.json", "--store", store, "--quiet")
    assert proc.returncode == 0, proc.stderr
    exp_id = json.loads((tmp_path / "r.json").read_text())["experiment_id"]
    assert f"experiment {exp_id}" in proc.stdout

    listed = json.loads(run_cli("list", "--store", store, "--json").stdout)
    assert [r["id"] for r in listed] == [exp_id]
    assert {"id", "dataset", "status", "fits_done", "fits_total", "best_score", "created"} <= set(listed[0])
    assert listed[0]["status"] == "finished" and listed[0]["fits_done"] == listed[0]["fits_total"] == 12
    listing = run_cli("list", "--store", store).stdout
    assert exp_id in listing
    assert "searched: " in listing
    stored_spec = ExperimentStore(store).get(exp_id)["spec"]
    assert listed[0]["searched"] and listed[0]["searched"] == searched_parameters(stored_spec)

    assert run_cli("show", exp_id[:6], "--store", store, "--out", tmp_path / "again.json").returncode == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["cv_results"] == json.loads((tmp_path / "r.json").read_text())["cv_results"]

    csv_text = run_cli("export", exp_id, "--store", store, "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("mean_fit_time,") and len(csv_text.splitlines()) == 5
    exported = json.loads(run_cli("export", exp_id, "--store", store, "--format", "json").stdout)
    assert exported["best_index"] == again["best_index"]

    missing = run_cli("show", "ffffff", "--store", store, "--out", tmp_path / "x.json")
    assert missing.returncode == 2 and "is not in" in missing.stderr


def test_a_second_run_is_served_from_the_store(spec_file, tmp_path):
    store = tmp_path / "db.sqlite"
    run_cli("run", spec_file, "--out", tmp_path / "a.json", "--store", store)
    proc = run_cli("run", spec_file, "--out", tmp_path / "b.json", "--store", store)
    assert proc.returncode == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["cv_results"] == b["cv_results"] and a["fits"] == b["fits"]


HOSTILE_TEXT = "\x1b[2J\x1b]0;pwned\x07\x9b31mred\u202eevil\nfake line\tend"


def test_list_strips_terminal_escape_sequences_from_user_strings(spec_file, tmp_path):
    from tuning.engine.store import ExperimentStore

    store = tmp_path / "db.sqlite"
    assert run_cli("run", spec_file, "--out", tmp_path / "r.json", "--store", store, "--quiet").returncode == 0
    exp_id = json.loads((tmp_path / "r.json").read_text())["experiment_id"]
    ExperimentStore(store).annotate(exp_id, name=HOSTILE_TEXT)
    proc = run_cli("list", "--store", store)
    assert proc.returncode == 0
    line = proc.stdout.splitlines()[1]
    assert line.startswith(exp_id) and line.endswith("red evil fake line end")
    assert not any(ch in proc.stdout for ch in "\x1b\x07\x9b\u202e\t")
    # the header, the experiment and what it searched: the name's newline made no line of its own
    assert len(proc.stdout.splitlines()) == 3 and proc.stdout.splitlines()[2].strip().startswith("searched: ")
    assert HOSTILE_TEXT in json.loads(run_cli("list", "--store", store, "--json").stdout)[0]["name"]  # JSON escapes


def test_inspect_and_errors_strip_terminal_escape_sequences_from_csv_headers(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text(f"a{HOSTILE_TEXT.replace(chr(10), '').replace(chr(9), '')},b,y\n"
                     + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)), encoding="utf-8")
    proc = run_cli("inspect", table)
    assert proc.returncode == 0 and "red evil" in proc.stdout  # C0 characters come out JSON-escaped
    assert not any(ch in proc.stdout for ch in "\x1b\x07\x9b\u202e")
    failed = run_cli("inspect", table, "--target", "\x9b2Jnope")
    assert failed.returncode == 2 and "has no column" in failed.stderr
    assert not any(ch in failed.stderr for ch in "\x1b\x07\x9b\u202e")


GRID = {"cv": 3, "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20]}}  # 12 fits


@pytest.mark.parametrize(
    ("spec", "flags", "jobs"),  # jobs: how many the search will run at once (this process is one of them)
    [
        ({**GRID, "n_jobs": 2}, [], 2),
        ({**GRID, "n_jobs": -1}, [], "all"),
        ({**GRID, "n_jobs": 64}, [], "all"),  # never more than the machine's cores before the spec is checked
        ({**GRID, "n_jobs": 2}, ["--n-jobs", "1"], 1),
        (GRID, ["--n-jobs", "2"], 2),
        (GRID, [], 1),  # one job: this process alone
        ({**GRID, "n_jobs": 2}, ["--scheduler", "local"], 1),  # a Dask cluster brings its own workers
        ({**GRID, "n_jobs": "2"}, [], 1),  # not validated here: the search refuses it in one line
        ({**GRID, "n_jobs": 0}, [], 1),
        ({**GRID, "n_jobs": True}, [], 1),
        ({**GRID, "cv": 2, "n_jobs": 2}, [], 1),  # 8 fits: trained in this process, no worker wanted
        ({"param_grid": [{"alpha": [1, 2]}, {"alpha": [3, 4]}], "n_jobs": 2}, [], 2),  # 4 candidates, 5 folds
        ({"param_grid": {"alpha": 1}, "n_jobs": 2}, [], 1),  # not a list: left to the search to refuse
        ([2], [], 1),
    ],
)
def test_run_starts_its_workers_before_importing_the_engine_only_when_the_search_will_want_them(
        tmp_path, spec, flags, jobs):
    import os

    from tuning.cli import _workers_to_start, build_parser

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    args = build_parser().parse_args(["run", str(path), "--out", str(tmp_path / "r.json"), *flags])
    cores = os.cpu_count() or 1
    assert _workers_to_start(args) == (cores if jobs == "all" else min(jobs, cores)) - 1


def test_run_with_a_missing_or_unreadable_spec_starts_no_worker(tmp_path):
    from tuning.cli import _workers_to_start, build_parser

    for path in (tmp_path / "missing.json", tmp_path):
        args = build_parser().parse_args(["run", str(path), "--out", str(tmp_path / "r.json")])
        assert _workers_to_start(args) == 0
    (tmp_path / "bad.json").write_text("{not json")
    args = build_parser().parse_args(["run", str(tmp_path / "bad.json"), "--out", str(tmp_path / "r.json")])
    assert _workers_to_start(args) == 0
