"""The Playground as an instrument, in a real browser: move a control and the curves answer."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from playwright.sync_api import expect

from tests.e2e.conftest import click_and_wait, screenshot, wait_until_idle

# the chart as drawn now: while a rerun redraws the page, the previous one stays until replaced
LOSS_CHART = "[class*='st-key-pg_loss_']:not([data-stale='true']) .js-plotly-plot"


def _curves(page) -> list[list[float]]:
    """The loss chart's curves as Plotly holds them (training, validation)."""
    return page.locator(LOSS_CHART).last.evaluate(
        "el => (el.data || [{y: []}, {y: []}]).map(trace => Array.from(trace.y))")


def _wait_for(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _address(page) -> dict[str, list[str]]:
    """The page's query parameters as the browser shows them now (page.url misses history updates)."""
    return parse_qs(page.evaluate("location.search").lstrip("?"))


def _title(page) -> str:
    return page.locator(f"{LOSS_CHART} .gtitle").last.text_content()


def test_moving_a_slider_retrains_without_pressing_anything(page, app_url):
    page.goto(f"{app_url}/playground")
    wait_until_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stButton").filter(has_text="Train")).to_have_count(0)  # quick runs need no button
    before = _curves(page)
    assert len(before[0]) == 100 and len(before[1]) == 100  # training and validation loss, every epoch
    screenshot(page, "playground", height=1500)

    slider = page.get_by_test_id("stSlider").filter(has_text="Learning rate").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")  # 0.01 -> 0.03, and nothing else is touched
    _wait_for(lambda: _address(page).get("lr") == ["0.03"], what="the address to follow")
    _wait_for(lambda: _curves(page)[0] != before[0] and "stale" not in _title(page) and "Training" not in _title(page),
              what="a new curve")
    wait_until_idle(page)
    after = _curves(page)
    assert len(after[0]) == 100 and after[0][-1] != before[0][-1]
    expect(page.get_by_test_id("stMetric").filter(has_text="Epochs run")).to_contain_text("100")


def test_a_long_run_streams_in_and_stop_keeps_what_it_learned(page, app_url):
    # digits, 3 x 128 units, mini-batches of 8 for 300 epochs: minutes of training, so it waits for Train
    page.goto(f"{app_url}/playground?data=digits&layers=3&units=128&batch=8&epochs=300")
    wait_until_idle(page)
    train = page.get_by_test_id("stButton").filter(has_text="Train")
    expect(train).to_be_visible()
    expect(page.get_by_text("Press Train to train this network.")).to_be_visible()
    train.click()
    _wait_for(lambda: page.locator(LOSS_CHART).count() and len(_curves(page)[0]) >= 2, 90, "the first epochs")
    growing = len(_curves(page)[0])
    _wait_for(lambda: len(_curves(page)[0]) > growing, 90, "the curve to grow")  # it streams in
    assert "Training… epoch" in _title(page)
    click_and_wait(page, page.get_by_test_id("stButton").filter(has_text="Stop"))
    expect(page.get_by_text("Stopped after epoch")).to_be_visible(timeout=30_000)
    epochs = int(page.get_by_test_id("stMetric").filter(has_text="Epochs run").get_by_test_id("stMetricValue")
                 .inner_text())
    assert growing < epochs < 300 and len(_curves(page)[0]) == epochs
    float(page.get_by_test_id("stMetric").filter(has_text="Test accuracy").get_by_test_id("stMetricValue")
          .inner_text())  # scored as it stood

    page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider").focus()
    page.keyboard.press("ArrowLeft")
    wait_until_idle(page)
    expect(page.get_by_text("These results are for the previous settings")).to_be_visible()
    assert "stale" in _title(page)


def test_comparing_learning_rates_says_what_the_curves_show(page, app_url):
    page.goto(f"{app_url}/playground?epochs=60")
    wait_until_idle(page)
    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Compare learning rates"))
    expect(page.get_by_text("ends with the lowest training loss")).to_be_visible(timeout=60_000)
    expect(page.locator(".legendtext").filter(has_text="lr=0.0001")).to_be_visible()
    page.locator(".st-key-pg_compare_chart").scroll_into_view_if_needed()
    screenshot(page, "playground-compare", height=2200)
