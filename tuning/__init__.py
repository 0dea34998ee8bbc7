"""Tuning Lab: GridSearchCV-exact searches over scikit-learn's MLPClassifier that keep every loss curve.

The public API sits here; no Streamlit anywhere in this package.

- A drop-in for scikit-learn's search: :class:`GridSearchCV` (``from tuning import GridSearchCV``),
  faster on ``MLPClassifier`` grids, with every loss curve kept.
- Running a spec: :func:`run_search` (``load_spec``/``parse_spec`` validate one) returns a
  :class:`SearchResult` whose ``cv_results`` load into ``pandas.DataFrame``.
- Data: :func:`load_dataset` for the built-ins and CSV files.
- Figures: the ``fig_*`` builders, results in, ``plotly.graph_objects.Figure`` out.
- Persistence: :class:`ExperimentStore`, the SQLite file every search is kept in.

The modules are grouped as ``tuning.engine`` (spec, plan, training, search, results,
cluster, store), ``tuning.data`` (datasets, CSV, preprocessing) and ``tuning.services``
(what the dashboard and CLI build on the engine).
"""

__version__ = "0.2.0"

from typing import TYPE_CHECKING

# Where each public name lives. They are imported on first use (PEP 562), so that `import tuning`
# and the command line start without importing scikit-learn, Plotly and SQLite first: the
# command starts its worker processes before that (see tuning.engine.workers).
_PUBLIC = {
    "Dataset": "tuning.data.dataset",
    "list_datasets": "tuning.data.datasets",
    "load_dataset": "tuning.data.datasets",
    "SearchResult": "tuning.engine.results",
    "Progress": "tuning.engine.search",
    "run_search": "tuning.engine.search",
    "sklearn_equivalent": "tuning.engine.search",
    "GridSearchCV": "tuning.engine.search_cv",
    "ExperimentSpec": "tuning.engine.spec",
    "load_spec": "tuning.engine.spec",
    "parse_spec": "tuning.engine.spec",
    "ExperimentStore": "tuning.engine.store",
    "DataError": "tuning.errors",
    "SearchFailed": "tuning.errors",
    "SpecError": "tuning.errors",
    "TuningError": "tuning.errors",
    **{name: "tuning.figures" for name in (
        "apply_theme", "fig_candidate_losses", "fig_dataset_scatter", "fig_decision_boundary",
        "fig_error_vs_hidden_size", "fig_fit_timeline", "fig_loss_curves", "fig_score_heatmap")},
}

if TYPE_CHECKING:  # what static tools and IDEs see
    from tuning.data.dataset import Dataset
    from tuning.data.datasets import list_datasets, load_dataset
    from tuning.engine.results import SearchResult
    from tuning.engine.search import Progress, run_search, sklearn_equivalent
    from tuning.engine.search_cv import GridSearchCV
    from tuning.engine.spec import ExperimentSpec, load_spec, parse_spec
    from tuning.engine.store import ExperimentStore
    from tuning.errors import DataError, SearchFailed, SpecError, TuningError
    from tuning.figures import (
        apply_theme,
        fig_candidate_losses,
        fig_dataset_scatter,
        fig_decision_boundary,
        fig_error_vs_hidden_size,
        fig_fit_timeline,
        fig_loss_curves,
        fig_score_heatmap,
    )


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'tuning' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DataError",
    "Dataset",
    "ExperimentSpec",
    "ExperimentStore",
    "GridSearchCV",
    "Progress",
    "SearchFailed",
    "SearchResult",
    "SpecError",
    "TuningError",
    "__version__",
    "apply_theme",
    "fig_candidate_losses",
    "fig_dataset_scatter",
    "fig_decision_boundary",
    "fig_error_vs_hidden_size",
    "fig_fit_timeline",
    "fig_loss_curves",
    "fig_score_heatmap",
    "list_datasets",
    "load_dataset",
    "load_spec",
    "parse_spec",
    "run_search",
    "sklearn_equivalent",
]
