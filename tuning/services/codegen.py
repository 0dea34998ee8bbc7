"""Show the code: a plain scikit-learn script that reproduces an experiment, and PyTorch and
Keras 3 versions of its best network for users moving to a deep-learning framework."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import PurePath
from typing import Any

from tuning.data import datasets
from tuning.data.csv_source import MISSING_MARKERS
from tuning.data.dataset import Dataset
from tuning.engine import networks
from tuning.engine.networks import network_class
from tuning.engine.results import SearchResult
from tuning.engine.search import network_prefix, target_scaled
from tuning.engine.spec import ExperimentSpec, for_data

_BUNDLED = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer", "digits": "load_digits",
            "diabetes": "load_diabetes"}


def _py(value: Any) -> str:
    """A Python literal for a JSON value (true/false/null spelled the Python way)."""
    return repr(json.loads(json.dumps(value)))


def _loading_code(spec: ExperimentSpec, data: Dataset | None) -> tuple[list[str], str]:
    """Imports and code that set ``X`` and ``y`` exactly as Tuning Lab does."""
    ds = spec.dataset
    if "csv" in ds:
        report = (data.report if data is not None else None) or {}
        encoding = "utf-8-sig" if report.get("encoding") == "utf-8" else report.get("encoding", "utf-8-sig")
        sep = {"comma": ",", "semicolon": ";", "tab": "\t"}[report.get("delimiter", "comma")]
        file_name = PurePath(ds["csv"]).name
        code = f"""
        # Your data: set CSV_FILE to where your copy of {file_name} is.
        CSV_FILE = {file_name!r}

        # Read the table as Tuning Lab does: every cell as text, common missing markers as NaN.
        df = pd.read_csv(CSV_FILE, sep={sep!r}, dtype=str, keep_default_na=False,
                         skipinitialspace=True, encoding={encoding!r}, engine="python")
        df.columns = [str(c).strip() for c in df.columns]
        MISSING = {sorted(MISSING_MARKERS)!r}
        df = df.apply(lambda col: col.where(~col.astype(str).str.strip().str.lower().isin(MISSING)))
        TARGET = {report.get('target', ds.get('target'))!r}
        df = df[df[TARGET].notna()].reset_index(drop=True)
        NUMERIC = {report.get('numeric_columns', [])!r}
        CATEGORICAL = {report.get('categorical_columns', [])!r}
        X = pd.DataFrame({{**{{c: pd.to_numeric(df[c].str.strip(), errors="coerce").astype(float) for c in NUMERIC}},
                          **{{c: df[c].str.strip() for c in CATEGORICAL}}}}, columns=NUMERIC + CATEGORICAL)
        {_csv_target_code(spec, data)}
        """
        return ["import pandas as pd"], textwrap.dedent(code).strip()
    name = ds["name"]
    if name in _BUNDLED:
        return [f"from sklearn.datasets import {_BUNDLED[name]}"], \
            f"X, y = {_BUNDLED[name]}(return_X_y=True)  # bundled with scikit-learn, no download"
    options = {k: v for k, v in ds.items() if k != "name"}
    if name == "moons":
        return ["from sklearn.datasets import make_moons"], (
            f"X, y = make_moons(n_samples={options['n_samples']}, noise={options['noise']!r}, "
            f"random_state={options['random_state']})")
    if name == "circles":
        return ["from sklearn.datasets import make_circles"], (
            f"X, y = make_circles(n_samples={options['n_samples']}, noise={options['noise']!r}, factor=0.5, "
            f"random_state={options['random_state']})")
    if name == "friedman1":
        return ["from sklearn.datasets import make_friedman1"], (
            f"X, y = make_friedman1(n_samples={options['n_samples']}, n_features=10, noise={options['noise']!r}, "
            f"random_state={options['random_state']})")
    if name == "blobs":
        return ["from sklearn.datasets import make_blobs"], (
            f"X, y = make_blobs(n_samples={options['n_samples']}, centers={options['centers']}, "
            f"cluster_std={options['noise']!r}, random_state={options['random_state']})")
    maker = {"xor": datasets.make_xor, "spirals": datasets.make_spirals, "sine": datasets.make_sine}[name]
    source = inspect.getsource(maker)
    call = (f"X, y = {maker.__name__}(n_samples={options['n_samples']}, noise={options['noise']!r}, "
            f"random_state={options['random_state']})")
    return ["import numpy as np"], f"{source}\n\n{call}"


def _csv_target_code(spec: ExperimentSpec, data: Dataset | None) -> str:
    """The line(s) that make ``y`` from the target column: numbers for regression, class indices otherwise."""
    if spec.task == "regression" or (data is not None and data.is_regression):
        return "y = pd.to_numeric(df[TARGET].str.strip()).astype(float).to_numpy()  # a number to predict"
    classes = list(data.class_names) if data is not None else []
    return (f"CLASSES = {classes!r}\n        "
            "y = df[TARGET].str.strip().map({name: i for i, name in enumerate(CLASSES)}).to_numpy()")


def _network_name(spec: ExperimentSpec) -> str:
    name = "MLPRegressor" if spec.task == "regression" else "MLPClassifier"
    return f"Init{name}" if spec.uses_init else name


def _init_class_code(spec: ExperimentSpec) -> tuple[list[str], str]:
    """For a spec that sets ``init``: the small subclass that adds it, as Tuning Lab defines it."""
    if not spec.uses_init:
        return [], ""
    cls = network_class(spec.task, init=True)
    source = "\n\n".join(inspect.getsource(c) for c in (networks.InitScheme, cls))
    return (["import math", "import numpy as np", "from sklearn.utils._param_validation import StrOptions",
             "from typing import ClassVar",
             f"from sklearn.neural_network import {cls.__mro__[2].__name__}"],
            "# scikit-learn draws initial weights one way (Glorot-uniform); this subclass adds `init`.\n"
            f"{source}\n")


def _scale_target_code(spec: ExperimentSpec) -> tuple[list[str], str]:
    """For a regression with scaling: the pipeline inside a TransformedTargetRegressor, as Tuning Lab builds it."""
    if not target_scaled(spec):
        return [], ""
    return (["from sklearn.compose import TransformedTargetRegressor",
             "from sklearn.preprocessing import StandardScaler"],
            "\n# The target is standardised too (on the training folds only); predictions are scaled back.\n"
            "pipeline = TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())")


def _pipeline_code(spec: ExperimentSpec) -> tuple[list[str], str]:
    imports, code = _network_pipeline_code(spec)
    scale_imports, scale = _scale_target_code(spec)
    return [*imports, *scale_imports], code + scale


def _network_pipeline_code(spec: ExperimentSpec) -> tuple[list[str], str]:
    standard = spec.preprocess == "standard"
    mlp = f"{_network_name(spec)}(**{_py(spec.estimator)})"
    if "csv" not in spec.dataset:
        if standard:
            return ["from sklearn.preprocessing import StandardScaler"], \
                f'pipeline = Pipeline([("prep", StandardScaler()), ("mlp", {mlp})])'
        return [], f'pipeline = Pipeline([("mlp", {mlp})])'
    numeric_steps = '[("impute", SimpleImputer(strategy="median"))' + (', ("scale", StandardScaler())]'
                                                                       if standard else "]")
    code = f"""
    # Preprocessing sits inside the pipeline, so each CV split fits it on its training folds only.
    transformers = []
    if NUMERIC:
        transformers.append(("numeric", Pipeline({numeric_steps}), NUMERIC))
    if CATEGORICAL:
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), CATEGORICAL))
    pipeline = Pipeline([("prep", ColumnTransformer(transformers)), ("mlp", {mlp})])
    """
    imports = ["from sklearn.compose import ColumnTransformer", "from sklearn.impute import SimpleImputer",
               "from sklearn.preprocessing import OneHotEncoder, StandardScaler"]
    return imports, textwrap.dedent(code).strip()


def sklearn_script(spec: ExperimentSpec, data: Dataset | None = None) -> str:
    """A runnable script: the same data, Pipeline, ``param_grid``, ``cv``, ``scoring`` and ``n_jobs``.

    It prints ``best_score_`` and ``best_params_``, which equal Tuning Lab's.
    """
    if data is not None:
        spec = for_data(spec, data)
    load_imports, load = _loading_code(spec, data)
    pipe_imports, pipe = _pipeline_code(spec)
    init_imports, init_code = _init_class_code(spec)
    pipe_imports = [*pipe_imports, *init_imports]
    if init_code:
        pipe = f"{init_code}\n{pipe}"
    prefix = network_prefix(spec)
    grid = [{f"{prefix}{k}": v for k, v in g.items()} for g in spec.param_grid]
    grid_literal = _py(grid[0] if len(grid) == 1 else grid)
    imports = sorted({*load_imports, *pipe_imports, "from sklearn.model_selection import GridSearchCV",
                      *([] if spec.uses_init else [f"from sklearn.neural_network import {_network_name(spec)}"]),
                      "from sklearn.pipeline import Pipeline",
                      "from threadpoolctl import threadpool_limits"})
    return "\n".join([
        '"""Reproduces a Tuning Lab experiment with plain scikit-learn: the scores are the same."""',
        "", *imports, "", load, "", pipe, "",
        f"param_grid = {grid_literal}",
        f"search = GridSearchCV(pipeline, param_grid, cv={spec.cv}, scoring={spec.scoring!r}, "
        f"n_jobs={spec.n_jobs!r})",
        "# One BLAS thread per fit makes every floating-point sum the same wherever it runs.",
        "with threadpool_limits(limits=1):",
        "    search.fit(X, y)",
        'print("best_score_", repr(float(search.best_score_)))',
        'print("best_params_", search.best_params_)',
        "",
    ])


def torch_script(result: SearchResult, data: Dataset) -> str:
    """A PyTorch definition and training loop for the experiment's best network."""
    params = {**result.spec.estimator, **(result.best_params or {})}
    sizes = params.get("hidden_layer_sizes", [100])
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
    activation = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "logistic": "nn.Sigmoid()",
                  "identity": "nn.Identity()"}[params.get("activation", "relu")]
    batch = params.get("batch_size", "auto")
    batch_code = "min(200, len(X_train))" if batch == "auto" else str(batch)
    lr, epochs, alpha = params.get("learning_rate_init", 0.001), params.get("max_iter", 200), params.get("alpha", 1e-4)
    solver = params.get("solver", "adam")
    optimiser = (f"torch.optim.Adam(model.parameters(), lr={lr!r})" if solver == "adam" else
                 f"torch.optim.SGD(model.parameters(), lr={lr!r}, momentum={params.get('momentum', 0.9)!r}, "
                 f"nesterov={params.get('nesterovs_momentum', True)!r})")
    layers = []
    for n_in, n_out in zip(["n_features", *map(str, sizes)], [*map(str, sizes)]):
        layers += [f"nn.Linear({n_in}, {n_out})", activation]
    regression = result.spec.task == "regression"
    outputs = "1" if regression else "n_classes"
    layers.append(f"nn.Linear({sizes[-1] if sizes else 'n_features'}, {outputs})")
    load_imports, load = _loading_code(result.spec, data)
    layer_lines = ",\n    ".join(layers)
    return "\n".join([
        f'"""The best network of Tuning Lab experiment {result.experiment_id or ""} in PyTorch.',
        "",
        f"best_params_ = {result.best_params!r}",
        "Not bit-identical to scikit-learn (different initialisation and arithmetic), but the same model:",
        f"layers {sizes}, {params.get('activation', 'relu')} activation, {solver} with learning rate {lr}, "
        f"batch size {batch}, {epochs} epochs.",
        '"""',
        "", *sorted({*load_imports, "import torch", "from torch import nn",
                     "from sklearn.model_selection import train_test_split",
                     "from sklearn.preprocessing import StandardScaler"}), "",
        load, "",
        "X = StandardScaler().fit_transform(X)  # scale as the pipeline does (for CSV: use its ColumnTransformer)",
        *_torch_split(regression),
        f"torch.manual_seed({params.get('random_state') or 0})",
        "",
        f"model = nn.Sequential(\n    {layer_lines},\n)",
        "loss_fn = nn.MSELoss()  # scikit-learn's squared error (it halves it)" if regression
        else "loss_fn = nn.CrossEntropyLoss()",
        f"optimiser = {optimiser}",
        f"alpha = {alpha!r}  # scikit-learn's L2 penalty: alpha / 2 * sum of squared weights / n_samples",
        f"batch_size = {batch_code}",
        "",
        f"for epoch in range({epochs}):",
        "    order = torch.randperm(len(X_train))",
        "    total = 0.0",
        "    for start in range(0, len(X_train), batch_size):",
        "        batch = order[start:start + batch_size]",
        "        optimiser.zero_grad()",
        "        loss = loss_fn(model(X_train[batch]), y_train[batch])",
        "        l2 = sum((p ** 2).sum() for name, p in model.named_parameters() if name.endswith('weight'))",
        "        (loss + alpha / 2 * l2 / len(batch)).backward()",
        "        optimiser.step()",
        "        total += loss.item() * len(batch)",
        "    print(f'epoch {epoch + 1}: loss {total / len(X_train):.4f}')",
        "",
        *_torch_evaluation(regression),
        "",
    ])


def _torch_split(regression: bool) -> list[str]:
    if regression:
        return ["X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)",
                "y_mean, y_std = y_train.mean(), y_train.std()  # the target scaled as the pipeline does",
                "X_train, X_test = (torch.tensor(a, dtype=torch.float32) for a in (X_train, X_test))",
                "y_train = torch.tensor((y_train - y_mean) / y_std, dtype=torch.float32).reshape(-1, 1)",
                "n_features = X_train.shape[1]"]
    return ["X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)",
            "X_train, X_test = (torch.tensor(a, dtype=torch.float32) for a in (X_train, X_test))",
            "y_train, y_test = (torch.tensor(a, dtype=torch.long) for a in (y_train, y_test))",
            "n_features, n_classes = X_train.shape[1], int(y.max()) + 1"]


def _torch_evaluation(regression: bool) -> list[str]:
    if regression:
        return ["with torch.no_grad():",
                "    predicted = model(X_test).numpy().ravel() * y_std + y_mean",
                "print('test RMSE', float(((predicted - y_test) ** 2).mean() ** 0.5))"]
    return ["with torch.no_grad():",
            "    accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()",
            "print('test accuracy', accuracy)"]


_KERAS_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}
_KERAS_INITIALISERS = {"glorot_uniform": '"glorot_uniform"', "he_normal": '"he_normal"',
                       "lecun_normal": '"lecun_normal"', "zeros": '"zeros"',
                       "small_constant": "keras.initializers.RandomNormal(stddev=0.01)"}


def _keras_preprocessing(spec: ExperimentSpec) -> tuple[list[str], list[str]]:
    """Imports and lines that make ``prep``, the pipeline's preprocessing step (None without one)."""
    imports, code = _network_pipeline_code(spec)
    if "csv" in spec.dataset:  # the ColumnTransformer the pipeline builds, without the network
        code = code.replace(code[code.index("pipeline = Pipeline("):], 'prep = ColumnTransformer(transformers)')
        return [*imports, "from sklearn.pipeline import Pipeline"], code.splitlines()
    if spec.preprocess == "standard":
        return imports, ["prep = StandardScaler()"]
    return [], ["prep = None"]


def _keras_notes(params: dict[str, Any]) -> list[str]:
    """What the Keras script cannot do exactly as scikit-learn does, for these parameters."""
    notes = ["Initial weights and the order of the mini-batches come from Keras's own random generator, so the "
             "numbers differ from scikit-learn's even with the same seed (and Keras starts every bias at 0).",
             "Float32 arithmetic on a different backend: expect the same behaviour, not the same digits."]
    if params.get("solver", "adam") == "lbfgs":
        notes.append("scikit-learn's lbfgs solver has no Keras optimiser: this script uses Adam instead.")
    if params.get("learning_rate", "constant") != "constant":
        notes.append(f"learning_rate={params['learning_rate']!r} (scikit-learn's schedule) is not reproduced: "
                     "the learning rate stays constant here.")
    if params.get("init", "glorot_uniform") in ("he_normal", "lecun_normal"):
        notes.append("Keras's he_normal and lecun_normal draw from a truncated normal distribution.")
    return notes


def keras_script(result: SearchResult, data: Dataset) -> str:
    """A Keras 3 script for the experiment's best network: the same layers, activation, optimiser,
    learning rate, batch size, epochs, L2 penalty, early stopping, preprocessing and hold-out split.

    Only text is generated; Keras is not a dependency of Tuning Lab.
    """
    spec = for_data(result.spec, data)
    params = {**spec.estimator, **(result.best_params or {})}
    sizes = params.get("hidden_layer_sizes", [100])
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
    activation = _KERAS_ACTIVATIONS[params.get("activation", "relu")]
    initialiser = _KERAS_INITIALISERS[params.get("init", "glorot_uniform")]
    batch = params.get("batch_size", "auto")
    lr, epochs, alpha = params.get("learning_rate_init", 0.001), params.get("max_iter", 200), params.get("alpha", 1e-4)
    solver = params.get("solver", "adam")
    if solver == "sgd":
        optimiser = (f"keras.optimizers.SGD(learning_rate={lr!r}, momentum={params.get('momentum', 0.9)!r}, "
                     f"nesterov={params.get('nesterovs_momentum', True)!r})")
    else:
        optimiser = (f"keras.optimizers.Adam(learning_rate={lr!r}, beta_1={params.get('beta_1', 0.9)!r}, "
                     f"beta_2={params.get('beta_2', 0.999)!r}, epsilon={params.get('epsilon', 1e-8)!r})")
    regression = spec.task == "regression"
    scaled = target_scaled(spec)
    tol, patience = params.get("tol", 1e-4), params.get("n_iter_no_change", 10)
    if params.get("early_stopping", False):
        monitor = "val_loss" if regression else "val_accuracy"
        stopping = (f'keras.callbacks.EarlyStopping(monitor="{monitor}", min_delta={tol!r}, patience={patience}, '
                    'restore_best_weights=True)')
        validation = f", validation_split={params.get('validation_fraction', 0.1)!r}"
    else:  # scikit-learn stops when the training loss has not improved by tol for n_iter_no_change epochs
        stopping = f'keras.callbacks.EarlyStopping(monitor="loss", min_delta={tol!r}, patience={patience})'
        validation = ""
    if regression:
        output, loss, metrics = "layers.Dense(1)", '"mean_squared_error"', '["root_mean_squared_error"]'
    else:
        output = ('layers.Dense(1, activation="sigmoid") if n_classes == 2 else '
                  'layers.Dense(n_classes, activation="softmax")')
        loss = '"binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"'
        metrics = '["accuracy"]'
    dense = [f'    layers.Dense({units}, activation="{activation}", kernel_initializer={initialiser}, '
             'kernel_regularizer=l2),' for units in sizes]
    load_imports, load = _loading_code(spec, data)
    prep_imports, prep = _keras_preprocessing(spec)
    split = ("X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0"
             + (")" if regression else ", stratify=y)"))
    notes = "\n".join(f"- {note}" for note in _keras_notes(params))
    return "\n".join([
        f'"""The best network of Tuning Lab experiment {result.experiment_id or ""} in Keras 3.',
        "",
        f"best_params_ = {result.best_params!r}",
        f"layers {sizes}, {params.get('activation', 'relu')} activation, {solver} with learning rate {lr}, "
        f"batch size {batch}, {epochs} epochs, alpha={alpha} (L2).",
        "",
        "The same model, trained the same way, but not bit-identical to scikit-learn:",
        notes,
        '"""',
        "", *sorted({*load_imports, *prep_imports, "import keras", "from keras import layers, regularizers",
                     "from sklearn.model_selection import train_test_split"}), "",
        load, "",
        "# The same hold-out split as the Playground, and the preprocessing fitted on the training rows only.",
        split,
        *prep,
        "if prep is not None:",
        "    X_train, X_test = prep.fit_transform(X_train), prep.transform(X_test)",
        *(["y_mean, y_std = y_train.mean(), y_train.std()  # the target standardised, as the pipeline does",
           "y_train_fit = (y_train - y_mean) / y_std"] if scaled else ["y_train_fit = y_train"]),
        "n_features = X_train.shape[1]",
        *([] if regression else ["n_classes = int(y.max()) + 1"]),
        f"batch_size = {'min(200, len(X_train))' if batch == 'auto' else batch}",
        "# scikit-learn adds alpha / 2 * (sum of squared weights) / batch size to the loss; so does this L2:",
        f"l2 = regularizers.L2({alpha!r} / (2 * batch_size))",
        f"keras.utils.set_random_seed({params.get('random_state') or 0})",
        "",
        "model = keras.Sequential([",
        "    keras.Input(shape=(n_features,)),",
        *dense,
        f"    {output},",
        "])",
        f"model.compile(optimizer={optimiser}, loss={loss}, metrics={metrics})",
        f"model.fit(X_train, y_train_fit, batch_size=batch_size, epochs={epochs}, shuffle=True{validation},",
        f"          callbacks=[{stopping}], verbose=2)",
        "",
        *(["predicted = model.predict(X_test, verbose=0).ravel()" + (" * y_std + y_mean" if scaled else ""),
           "print('test RMSE', float(((predicted - y_test) ** 2).mean() ** 0.5))"] if regression else
          ["print('test accuracy', model.evaluate(X_test, y_test, verbose=0)[1])"]),
        "",
    ])
