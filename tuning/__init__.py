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
