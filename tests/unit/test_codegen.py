"""The generated scikit-learn script reproduces the stored scores when it is actually run."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.services.codegen import sklearn_script, torch_script

CSV = Path(__file__).resolve().parents[1] / "data" / "csv"
SPECS = {
    "iris": {"dataset": "iris", "cv": 3, "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [5, 20]}},
    "spirals_sgd_no_scaling": {"dataset": {"name": "spirals", "n_samples": 120}, "cv": 3, "preprocess": "none",
                               "estimator": {"solver": "sgd", "random_state": 3},
                               "param_grid": [{"max_iter": [10, 30]}, {"alpha": [0.1], "max_iter": [15]}],
                               "scoring": "balanced_accuracy"},
    "xor": {"dataset": {"name": "xor", "n_samples": 90}, "cv": 3, "param_grid": {"max_iter": [8]}},
    "csv": {"dataset": {"csv": str(CSV / "good_missing_markers.csv")}, "cv": 3,
            "param_grid": {"hidden_layer_sizes": [[4]], "max_iter": [5, 15]}},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_generated_script_prints_the_same_best_score(name, tmp_path):
    spec = parse_spec(SPECS[name])
    data = load_dataset(spec.dataset)
    result = run_search(spec, n_jobs=1, refit=False)
    script = tmp_path / "reproduce.py"
    script.write_text(sklearn_script(spec, data))
    if "csv" in spec.dataset:  # the script reads the user's own copy of the file, named at its top
        source = Path(spec.dataset["csv"])
        assert f"CSV_FILE = {source.name!r}" in script.read_text() and str(source.parent) not in script.read_text()
        (tmp_path / source.name).write_bytes(source.read_bytes())
    proc = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert float(printed["best_score_"]) == result.best_score
    assert "tuning" not in script.read_text().replace("Tuning Lab", "")  # plain scikit-learn, no Tuning Lab


def test_the_torch_script_defines_the_best_network():
    spec = parse_spec({"dataset": "wine", "cv": 3, "estimator": {"activation": "tanh", "batch_size": 32},
                       "param_grid": {"hidden_layer_sizes": [[16, 8]], "learning_rate_init": [0.01],
                                      "max_iter": [7]}})
    result = run_search(spec, n_jobs=1, refit=False)
    code = torch_script(result, load_dataset(spec.dataset))
    ast.parse(code)  # valid Python (torch itself is not a dependency)
    assert "nn.Linear(n_features, 16),\n    nn.Tanh(),\n    nn.Linear(16, 8),\n    nn.Tanh(),\n    " \
           "nn.Linear(8, n_classes)" in code
    assert "torch.optim.Adam(model.parameters(), lr=0.01)" in code
    assert "batch_size = 32" in code and "for epoch in range(7):" in code
