"""Shared test setup: every test gets its own experiment store file, and one model-signing
key for the whole run that is never the user's own (~/.tuning-lab/store.key); the session
shares one folder of lesson presets, computed once (by whichever test or server needs them first)."""

import pytest

from tuning.services.lessons import LESSON_CACHE_ENV, LessonCache, prepare_lessons


@pytest.fixture(autouse=True, scope="session")
def _session_lesson_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LESSON_CACHE_ENV, str(tmp_path_factory.mktemp("lessons")))
        yield


@pytest.fixture(scope="session")
def _signing_key_file(tmp_path_factory):
    return tmp_path_factory.mktemp("key") / "store.key"


@pytest.fixture(autouse=True)
def _own_experiment_store(tmp_path, monkeypatch, _signing_key_file):
    monkeypatch.setenv("TUNING_STORE", str(tmp_path / "experiments.sqlite"))
    monkeypatch.setenv("TUNING_KEY_FILE", str(_signing_key_file))


@pytest.fixture(scope="session")
def prepared_lessons() -> LessonCache:
    """Every preset, computed once for the whole session and stored in its lesson folder."""
    cache = LessonCache()
    prepare_lessons(cache)
    return cache
