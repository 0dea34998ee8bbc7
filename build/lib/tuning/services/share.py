"""Shareable links: a spec in a URL, and the Grid Search form's values for a spec.

``decode_spec(encode_spec(spec)) == spec`` exactly; the text is compact and URL-safe.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from tuning.data.datasets import BUILTIN_DATASETS
from tuning.engine.spec import DEFAULT_RANDOM_STATE, ExperimentSpec, parse_spec
from tuning.errors import SpecError, TuningError

# The Grid Search form's choices; a spec whose values are all among them can be shown in it.
FORM_OPTIONS: dict[str, list[Any]] = {
    "units": [1, 2, 4, 8, 16, 32, 64, 128],
    "depths": [1, 2, 3],
    "rates": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0],
    "iters": [10, 25, 50, 100, 200, 400],
    "batches": ["auto", 16, 32, 64, 128],
    "alphas": [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0],
}
# The sidebar's dataset sliders: (low, high, step) of each generated dataset's option.
DATASET_FORM_RANGES: dict[str, tuple[float, float, float]] = {
    "n_samples": (50, 2000, 50), "noise": (0.0, 2.0, 0.05), "centers": (2, 6, 1), "random_state": (0, 10_000, 1),
}
FORM_DEFAULTS: dict[str, Any] = {"units": [2, 8, 32], "depths": [1], "rates": [1e-3, 0.01], "iters": [25, 50, 100],
                                 "batches": ["auto"], "alphas": [1e-4], "cv": 3}


def encode_spec(spec: ExperimentSpec) -> str:
    """The spec as a short URL-safe string."""
    text = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def decode_spec(text: str) -> ExperimentSpec:
    """The spec a link carries.

    Raises
    ------
    TuningError
        When the text is not a link this tool made (or was cut short).
    """
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        data = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError, UnicodeDecodeError):
        raise TuningError("this link's spec is damaged or incomplete. Ask for the link again, "
                          "or build the grid with the form") from None
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise TuningError(f"this link's spec is not valid here: {exc}") from None


def form_to_spec(form: dict[str, Any], dataset: dict[str, Any], n_jobs: int) -> dict[str, Any]:
    """The spec the Grid Search form describes (form keys as in :data:`FORM_DEFAULTS`)."""
    grid = {"hidden_layer_sizes": [[u] * d for d in sorted(form["depths"]) for u in sorted(form["units"])],
            "learning_rate_init": sorted(form["rates"]), "max_iter": sorted(form["iters"]),
            "batch_size": list(form["batches"]), "alpha": sorted(form["alphas"])}
    return {"dataset": dataset, "param_grid": grid, "cv": form["cv"], "n_jobs": n_jobs}


def spec_to_form(spec: ExperimentSpec) -> dict[str, Any] | None:
    """The form's values for a spec, or None when the form (and the sidebar) cannot show it exactly."""
    if (len(spec.param_grid) != 1 or spec.estimator != {"random_state": DEFAULT_RANDOM_STATE}
            or spec.preprocess != "standard" or spec.scoring != "accuracy" or spec.cv > 10
            or spec.dataset.get("name") not in BUILTIN_DATASETS):
        return None
    grid = spec.param_grid[0]
    if set(grid) != {"hidden_layer_sizes", "learning_rate_init", "max_iter", "batch_size", "alpha"}:
        return None
    sizes = grid["hidden_layer_sizes"]
    if not all(isinstance(s, list) and len(set(s)) == 1 for s in sizes):
        return None
    form = {"units": sorted({s[0] for s in sizes}), "depths": sorted({len(s) for s in sizes}),
            "rates": sorted(grid["learning_rate_init"]), "iters": sorted(grid["max_iter"]),
            "batches": list(grid["batch_size"]), "alphas": sorted(grid["alpha"]), "cv": spec.cv}
    for key, options in FORM_OPTIONS.items():
        if any(v not in options for v in form[key]):
            return None
    for option, value in spec.dataset.items():
        if option == "name":
            continue
        low, high, step = DATASET_FORM_RANGES[option]
        if not (low <= value <= high and abs(round((value - low) / step) * step + low - value) < 1e-9):
            return None
    rebuilt = parse_spec(form_to_spec(form, spec.dataset, spec.n_jobs or 1))
    return form if rebuilt.param_grid == spec.param_grid else None
