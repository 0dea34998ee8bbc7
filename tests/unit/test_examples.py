"""The README's Python example runs as a notebook user would run it."""

import os
import subprocess
import sys
from pathlib import Path

from tuning import ExperimentStore

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_and_leaves_its_chart_and_experiment(tmp_path):
    store = tmp_path / "experiments.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNING_STORE": str(store)}  # as if `pip install .` had run
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("best_params_ {'mlpclassifier__") and "best_score_ 0.9" in lines[0]
    trained, gridsearchcv = (int(w) for w in lines[1].replace(";", "").split() if w.isdigit())
    assert trained == 2 * 3 * 40 < gridsearchcv
    assert (tmp_path / "loss_curves.html").stat().st_size > 10_000
    exp_id = lines[2].split()[3]
    assert ExperimentStore(store).get(exp_id)["name"] == "quickstart"
