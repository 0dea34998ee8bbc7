"""Show the code: a plain scikit-learn script that reproduces an experiment, and a PyTorch
version of its best network for users moving to a deep-learning framework."""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import PurePath
from typing import Any

from tuning.data import datasets
from tuning.data.csv_source import MISSING_MARKERS
from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult
from tuning.engine.spec import ExperimentSpec

_BUNDLED = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer", "digits": "load_digits"}


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
        CLASSES = {list(data.class_names) if data is not None else []!r}
        y = df[TARGET].str.strip().map({{name: i for i, name in enumerate(CLASSES)}}).to_numpy()
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
    if name == "blobs":
        return ["from sklearn.datasets import make_blobs"], (
            f"X, y = make_blobs(n_samples={options['n_samples']}, centers={options['centers']}, "
            f"cluster_std={options['noise']!r}, random_state={options['random_state']})")
    maker = {"xor": datasets.make_xor, "spirals": datasets.make_spirals}[name]
    source = inspect.getsource(maker)
    call = (f"X, y = {maker.__name__}(n_samples={options['n_samples']}, noise={options['noise']!r}, "
            f"random_state={options['random_state']})")
    return ["import numpy as np"], f"{source}\n\n{call}"


def _pipeline_code(spec: ExperimentSpec) -> tuple[list[str], str]:
    standard = spec.preprocess == "standard"
    mlp = f"MLPClassifier(**{_py(spec.estimator)})"
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
    load_imports, load = _loading_code(spec, data)
    pipe_imports, pipe = _pipeline_code(spec)
    grid = [{f"mlp__{k}": v for k, v in g.items()} for g in spec.param_grid]
    grid_literal = _py(grid[0] if len(grid) == 1 else grid)
    imports = sorted({*load_imports, *pipe_imports, "from sklearn.model_selection import GridSearchCV",
                      "from sklearn.neural_network import MLPClassifier", "from sklearn.pipeline import Pipeline",
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
    layers.append(f"nn.Linear({sizes[-1] if sizes else 'n_features'}, n_classes)")
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
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)",
        "X_train, X_test = (torch.tensor(a, dtype=torch.float32) for a in (X_train, X_test))",
        "y_train, y_test = (torch.tensor(a, dtype=torch.long) for a in (y_train, y_test))",
        "n_features, n_classes = X_train.shape[1], int(y.max()) + 1",
        f"torch.manual_seed({params.get('random_state') or 0})",
        "",
        f"model = nn.Sequential(\n    {layer_lines},\n)",
        "loss_fn = nn.CrossEntropyLoss()",
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
        "with torch.no_grad():",
        "    accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()",
        "print('test accuracy', accuracy)",
        "",
    ])
