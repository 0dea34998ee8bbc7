"""Tuning Lab's backend: specs, datasets, GridSearchCV-exact searches, results and figures.

No Streamlit here: the dashboard, the CLI and tests all call these functions.
"""

from tuning.datasets import Dataset, list_datasets, load_dataset
from tuning.errors import DataError, SearchFailed, SpecError, TuningError
from tuning.results import SearchResult
from tuning.search import Progress, run_search, sklearn_equivalent
from tuning.spec import ExperimentSpec, load_spec, parse_spec

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
