"""The Keras 3 script: generated text only (Keras is not a dependency), checked to be valid Python that
builds the best network with its settings."""

import ast

import pytest

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.services.codegen import keras_script

CASES = {
    "adam_tanh_multiclass": ({"dataset": "wine", "cv": 3, "estimator": {"activation": "tanh", "batch_size": 32},
                              "param_grid": {"hidden_layer_sizes": [[16, 8]], "learning_rate_init": [0.01],
                                             "max_iter": [7]}}, None),
    "sgd_early_stopping_init": ({"dataset": {"name": "moons", "n_samples": 120}, "cv": 3,
                                 "estimator": {"solver": "sgd", "momentum": 0.8, "early_stopping": True,
                                               "n_iter_no_change": 4, "init": "small_constant", "alpha": 0.01},
                                 "param_grid": {"hidden_layer_sizes": [[5]], "max_iter": [9]}}, None),
    "regression_sine": ({"dataset": {"name": "sine", "n_samples": 60}, "cv": 3,
                         "param_grid": {"hidden_layer_sizes": [[12]], "max_iter": [11], "activation": ["logistic"]}},
                        None),
    "regression_csv_lbfgs": ({"dataset": {"csv": "tests/data/csv/mtcars.csv", "target": "mpg"}, "cv": 3,
                              "estimator": {"solver": "lbfgs"},
                              "param_grid": {"hidden_layer_sizes": [[4]], "max_iter": [30]}}, "regression"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    raw, task = CASES[request.param]
    spec = parse_spec(raw)
    data = load_dataset(spec.dataset, task=task)
    result = run_search(spec, n_jobs=1, refit=False)
    return request.param, result, keras_script(result, data)


def test_the_script_is_valid_python(case):
    _, _, code = case
    compile(code, "best_network_keras.py", "exec")
    imported = {alias.name for node in ast.walk(ast.parse(code)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert "keras" in imported and not any(name.startswith("tuning") for name in imported)


def _dense_layers(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip().startswith("layers.Dense(")]


def test_the_script_builds_the_best_networks_layers_optimiser_and_schedule(case):
    name, _, code = case
    if name == "adam_tanh_multiclass":
        assert _dense_layers(code)[:2] == [
            'layers.Dense(16, activation="tanh", kernel_initializer="glorot_uniform", kernel_regularizer=l2),',
            'layers.Dense(8, activation="tanh", kernel_initializer="glorot_uniform", kernel_regularizer=l2),']
        assert "keras.optimizers.Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-08)" in code
        assert "batch_size = 32" in code and "epochs=7" in code and "stratify=y" in code
        assert '"sparse_categorical_crossentropy"' in code and 'monitor="loss"' in code
        assert "prep = StandardScaler()" in code
    if name == "sgd_early_stopping_init":
        assert "keras.optimizers.SGD(learning_rate=0.001, momentum=0.8, nesterov=True)" in code
        assert "kernel_initializer=keras.initializers.RandomNormal(stddev=0.01)" in code
        assert "validation_split=0.1" in code and 'monitor="val_accuracy"' in code and "patience=4" in code
        assert "regularizers.L2(0.01 / (2 * batch_size))" in code and "batch_size = min(200, len(X_train))" in code
    if name == "regression_sine":
        assert _dense_layers(code) == [
            'layers.Dense(12, activation="sigmoid", kernel_initializer="glorot_uniform", kernel_regularizer=l2),',
            "layers.Dense(1),"]
        assert '"mean_squared_error"' in code and "stratify" not in code and "y_std + y_mean" in code
    if name == "regression_csv_lbfgs":
        assert "has no Keras optimiser: this script uses Adam instead" in code
        assert "prep = ColumnTransformer(transformers)" in code and "CSV_FILE = 'mtcars.csv'" in code
        assert "epochs=30" in code


def test_the_docstring_says_what_cannot_be_identical(case):
    _, _, code = case
    docstring = ast.get_docstring(ast.parse(code))
    assert "Initial weights and the order of the mini-batches" in docstring and "not bit-identical" in docstring
