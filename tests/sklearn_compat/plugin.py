"""A pytest plugin: scikit-learn's own search tests, with its GridSearchCV replaced by ours.

    python -m pytest -p tests.sklearn_compat.plugin --pyargs sklearn.model_selection.tests.test_search

scikit-learn installs ``sklearn/model_selection/tests/test_search.py`` with the package. Before
pytest collects it, this plugin imports it with ``sklearn.model_selection.GridSearchCV`` set to
``tuning.GridSearchCV``, so that every use of the name in that module (module level, the
parametrize lists, the test bodies) is ours; then scikit-learn's name is put back. Tests listed
in ``excluded.txt`` are expected to fail (strictly: one that passes fails the run), each with
its reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

MODULE = "sklearn.model_selection.tests.test_search"
EXCLUDED = Path(__file__).with_name("excluded.txt")


def excluded_tests() -> dict[str, str]:
    """Test name (with its parameters, as pytest shows them) to the reason it is excluded."""
    reasons = {}
    for line in EXCLUDED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            reasons[name] = reason.strip().lstrip("#").strip()
    return reasons


def pytest_configure(config: pytest.Config) -> None:
    import sklearn.model_selection

    import tuning

    original = sklearn.model_selection.GridSearchCV
    sklearn.model_selection.GridSearchCV = tuning.GridSearchCV
    try:
        module = importlib.import_module(MODULE)
    finally:
        sklearn.model_selection.GridSearchCV = original
    assert module.GridSearchCV is tuning.GridSearchCV


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import tuning

    reasons = excluded_tests()
    for item in items:
        if item.module.__name__ == MODULE:  # the module pytest runs is the one imported with our class
            assert item.module.GridSearchCV is tuning.GridSearchCV, item.nodeid
        reason = reasons.get(item.name) or reasons.get(item.originalname)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


def pytest_report_header(config: pytest.Config) -> str:
    return f"{MODULE}: GridSearchCV is tuning.GridSearchCV; {len(excluded_tests())} exclusions in {EXCLUDED.name}"
