"""Tuning Lab's backend: specs, datasets, GridSearchCV-exact searches, results and figures.

No Streamlit here: the dashboard, the CLI and tests all call these functions.
"""

from tuning.data.dataset import Dataset
from tuning.data.datasets import list_datasets, load_dataset
from tuning.engine.results import SearchResult
from tuning.engine.search import Progress, run_search, sklearn_equivalent
from tuning.engine.spec import ExperimentSpec, load_spec, parse_spec
from tuning.errors import DataError, SearchFailed, SpecError, TuningError

__all__ = [
    "DataError",
    "Dataset",
    "ExperimentSpec",
    "Progress",
    "SearchFailed",
    "SearchResult",
    "SpecError",
    "TuningError",
    "list_datasets",
    "load_dataset",
    "load_spec",
    "parse_spec",
    "run_search",
    "sklearn_equivalent",
]
