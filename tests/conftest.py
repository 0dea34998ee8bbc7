"""Shared test setup: every test gets its own experiment store file."""

import pytest


@pytest.fixture(autouse=True)
def _own_experiment_store(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_STORE", str(tmp_path / "experiments.sqlite"))
