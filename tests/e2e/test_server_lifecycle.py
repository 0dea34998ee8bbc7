"""A fresh server, from start to stop: lesson presets ready before anyone asks, and Ctrl+C or
SIGTERM ending the server and every process it started within 2 seconds, whatever runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import require_browser, running_app, wait_until_idle
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.lessons import LESSON_CACHE_ENV, LESSONS, LessonCache
from tuning.services.share import encode_spec

STOP_WITHIN = 2.0  # seconds, the house rule


@dataclass
class FreshServer:
    process: subprocess.Popen
    url: str
    store: Path
    lessons: LessonCache

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop_with(self, signum: int) -> tuple[float, list[psutil.Process]]:
        """Send the signal; return the seconds until the server exited, and its processes still running
        by the end of the 2 seconds (a zombie has ended: it only waits for init to collect it)."""
        processes = self.descendants()
        started = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=60)
        elapsed = time.monotonic() - started
        _gone, alive = psutil.wait_procs(processes, timeout=max(0.0, STOP_WITHIN - elapsed))
        return elapsed, [p for p in alive if _running(p)]


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[FreshServer]:
    """`streamlit run app.py` as on a new machine: no lesson presets on disk, an empty store."""
    require_browser()
    env = {**os.environ, "TUNING_STORE": str(tmp_path / "experiments.sqlite"),
           LESSON_CACHE_ENV: str(tmp_path / "lessons")}
    with running_app(tmp_path / "streamlit.log", env) as (url, server):
        fresh = FreshServer(server, url, tmp_path / "experiments.sqlite", LessonCache(tmp_path / "lessons"))
        try:
            yield fresh
        finally:
            for process in fresh.descendants():  # only if a test failed before stopping the server
                process.kill()


@pytest.fixture
def page(browser):
    """A browser tab (without the module's shared server: each test here starts its own)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_presets_are_computed_from_server_start_and_shown_at_once(fresh_server, page):
    # Nobody has opened any page: the server alone prepares every preset, at idle priority.
    started = time.monotonic()
    _wait(lambda: not fresh_server.lessons.missing(), 300, "the presets to be stored")
    print(f"every preset ready {time.monotonic() - started:.1f} s after the server answered")
    page.goto(f"{fresh_server.url}/lessons")
    wait_until_idle(page)
    for name, lesson in LESSONS.items():
        page.locator(".st-key-lesson").get_by_role("radio", name=lesson.title, exact=True).click()
        wait_until_idle(page)
        expect(page.get_by_role("heading", name=lesson.title, exact=True)).to_be_visible()
        expect(page.locator(f".st-key-lesson_{name}_0 .main-svg").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Preparing")).to_have_count(0)


def test_a_preset_appears_by_itself_then_ctrl_c_stops_everything_within_2_seconds(fresh_server, page):
    page.goto(f"{fresh_server.url}/lessons?lesson=hidden_size")
    expect(page.get_by_text("Preparing “Hidden-layer size”")).to_be_visible(timeout=60_000)  # still computing
    expect(page.locator(".st-key-lesson_hidden_size_0 .main-svg").first).to_be_visible(timeout=240_000)
    expect(page.get_by_role("heading", name="Hidden-layer size", exact=True)).to_be_visible()  # by itself, the same
    assert fresh_server.lessons.missing(), "the rest are still being computed"
    assert fresh_server.descendants(), "in a process of their own"
    elapsed, alive = fresh_server.stop_with(signal.SIGINT)
    print(f"SIGINT while the presets were computed: stopped in {elapsed:.2f} s")
    assert elapsed < STOP_WITHIN, f"the server took {elapsed:.2f} s to stop"
    assert alive == [], f"left running: {alive}"


def test_sigterm_during_a_search_stops_its_workers_and_keeps_finished_fits(fresh_server, page):
    spec = parse_spec({"dataset": {"name": "digits"}, "n_jobs": 2, "cv": 3,
                       "param_grid": {"hidden_layer_sizes": [[64], [128]], "max_iter": [300],
                                      "learning_rate_init": [1e-3, 3e-3, 1e-2]}})
    page.goto(f"{fresh_server.url}/grid_search?spec={encode_spec(spec)}")
    wait_until_idle(page)
    page.get_by_test_id("stButton").get_by_text("Run search").click()
    store = ExperimentStore(fresh_server.store)

    def fits_kept() -> int:
        experiments = store.list()
        return experiments[0]["fits_done"] if experiments else 0

    _wait(lambda: fits_kept() >= 1, 120, "a first finished fit")
    kept = fits_kept()
    assert kept < 18 and len(fresh_server.descendants()) >= 2  # workers busy with the rest
    elapsed, alive = fresh_server.stop_with(signal.SIGTERM)
    print(f"SIGTERM during a 2-worker search: stopped in {elapsed:.2f} s")
    assert elapsed < STOP_WITHIN, f"the server took {elapsed:.2f} s to stop"
    assert alive == [], f"left running: {alive}"
    assert fits_kept() >= kept  # nothing a finished unit wrote is lost


def test_ctrl_c_during_a_search_on_a_local_dask_cluster_stops_everything_within_2_seconds(fresh_server, page):
    spec = parse_spec({"dataset": {"name": "digits"}, "n_jobs": 2, "cv": 3,
                       "param_grid": {"hidden_layer_sizes": [[64], [128]], "max_iter": [300]}})
    page.goto(f"{fresh_server.url}/grid_search?spec={encode_spec(spec)}")
    wait_until_idle(page)
    page.get_by_test_id("stRadio").get_by_text("A Dask cluster").click()
    wait_until_idle(page)
    address = page.get_by_test_id("stTextInput").filter(has_text="Scheduler address").locator("input")
    address.fill("local")
    address.press("Enter")
    expect(page.get_by_text("Connected: 2 worker(s)")).to_be_visible(timeout=90_000)
    page.get_by_test_id("stButton").get_by_text("Run search").click()
    expect(page.get_by_test_id("stProgress")).to_be_visible(timeout=90_000)  # its cluster starting or running
    elapsed, alive = fresh_server.stop_with(signal.SIGINT)
    print(f"SIGINT during a search on a local Dask cluster: stopped in {elapsed:.2f} s")
    assert elapsed < STOP_WITHIN, f"the server took {elapsed:.2f} s to stop"
    assert alive == [], f"left running: {alive}"
