"""Browser tests: a real `streamlit run` server and the system Chromium driven by Playwright.

Chromium is Debian's (/usr/bin/chromium); no browser is ever downloaded. Without it
these tests skip with a reason, except under CI (CI=true), where they must run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import CHROMIUM_ARGS, ROOT, free_port, start_streamlit

CHROMIUM = Path(os.environ.get("TUNING_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "screenshots"
SERVER_STORES: dict[str, Path] = {}  # app URL -> the experiment store file its server uses


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


def require_browser() -> None:
    missing = None
    if not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests are required under CI, but {missing}")
        pytest.skip(missing)


@contextlib.contextmanager
def running_app(log_path: Path, env: dict[str, str]) -> Iterator[tuple[str, object]]:
    """`streamlit run app.py` headless on a free port (three tries) with ``env``; yields its URL and process."""
    for _attempt in range(3):
        port = free_port()
        log = log_path.open("w")
        server = start_streamlit(port, env, log)
        if server is None:
            log.close()
            continue
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
            print(f"\n--- streamlit server log ---\n{log_path.read_text()}")
        return
    pytest.fail(f"streamlit did not start; log:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, _signing_key_file: Path) -> Iterator[str]:
    """Start `streamlit run app.py` headless on a free port; poll its health endpoint."""
    require_browser()
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "TUNING_STORE": str(log_path.parent / "experiments.sqlite"),
           "TUNING_KEY_FILE": str(_signing_key_file)}
    with running_app(log_path, env) as (url, _):
        SERVER_STORES[url] = log_path.parent / "experiments.sqlite"
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    context.close()


@pytest.fixture
def new_page(browser):
    """Make pages, each in a fresh browser context (a visitor of its own); ``new_page.requests`` keeps
    every URL any of them requested."""
    contexts, requests = [], []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.on("request", lambda r: requests.append(r.url))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(90_000)
        return page

    make.requests = requests
    yield make
    for context in contexts:
        context.close()


def wait_until_idle(page, timeout: float = 120_000) -> None:
    """Wait until the script has finished running and nothing is still loading."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector("[data-testid='stSkeleton']", state="detached", timeout=timeout)


def click_and_wait(page, locator) -> None:
    """Click, see the script start (it may already have), then wait until the app is idle again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    locator.click()
    with contextlib.suppress(PlaywrightTimeout):  # a fast run may finish before we look
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", timeout=3_000)
    wait_until_idle(page)


def screenshot(page, name: str, height: int = 2000) -> Path:
    """Save a screenshot; the viewport grows first, since Streamlit scrolls inside the page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    wait_until_idle(page)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path
