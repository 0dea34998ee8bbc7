"""Shared test setup: every test gets its own experiment store file, and one model-signing
key for the whole run that is never the user's own (~/.tuning-lab/store.key)."""

import pytest


@pytest.fixture(scope="session")
def _signing_key_file(tmp_path_factory):
    return tmp_path_factory.mktemp("key") / "store.key"


@pytest.fixture(autouse=True)
def _own_experiment_store(tmp_path, monkeypatch, _signing_key_file):
    monkeypatch.setenv("TUNING_STORE", str(tmp_path / "experiments.sqlite"))
    monkeypatch.setenv("TUNING_KEY_FILE", str(_signing_key_file))
