"""Projection mode measured at 1280x720: what matters is on the first screen, no text is under
20 px, and no label is clipped, on Lessons (every preset, every chart), a Grid Search result
link and the Playground."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS, SERVER_STORES, click_and_wait, wait_until_idle
from tuning.engine.store import ExperimentStore
from tuning.services.lessons import LESSONS

SCREEN = {"width": 1280, "height": 720}

# Every visible piece of text on the first screen (HTML and the charts' SVG): its font size, and
# whether its box is cut (text wider than the element that shows it, with the overflow hidden).
MEASURE = """() => {
    const sizes = [], clipped = [];
    const main = document.querySelector("[data-testid='stMain']");
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode, el = node.parentElement;
        if (!node.textContent.trim() || !el) continue;
        const box = el.getBoundingClientRect(), style = getComputedStyle(el);
        if (!box.width || !box.height || box.bottom <= 0 || box.top >= innerHeight) continue;
        if (style.visibility === "hidden" || style.opacity === "0" || el.closest("[aria-hidden='true']")) continue;
        sizes.push([parseFloat(style.fontSize), node.textContent.trim().slice(0, 40)]);
        if (el.scrollWidth > el.clientWidth + 1 && style.overflow !== "visible" && el.tagName !== "svg"
                && !(el instanceof SVGElement)) clipped.push(node.textContent.trim().slice(0, 40));
    }
    return {sizes, clipped};
}"""


# Tick labels of one axis whose boxes overlap (Plotly's labels of one axis share an axis layer).
OVERLAPPING_TICKS = """chart => {
    const overlaps = [];
    for (const layer of chart.querySelectorAll("g.xaxislayer-above, g.yaxislayer-above")) {
        const boxes = Array.from(layer.querySelectorAll("text")).filter(t => t.textContent.trim())
            .map(t => [t.textContent.trim(), t.getBoundingClientRect()]);
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const [a, p] = boxes[i], [b, q] = boxes[j];
            if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
                overlaps.push(`${a} / ${b}`);
        }
    }
    return overlaps;
}"""


def _overlapping(first, second) -> bool:
    a, b = first.bounding_box(), second.bounding_box()
    assert a is not None and b is not None
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def _check_screen(page, name: str) -> None:
    measured = page.evaluate(MEASURE)
    small = [(size, text) for size, text in measured["sizes"] if size < 20]
    assert not small, f"{name}: text under 20 px: {small[:8]}"
    assert not measured["clipped"], f"{name}: clipped labels: {measured['clipped']}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"projection-{name}.png"))


def _bottom(locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"] + box["height"]


def _above_the_fold(locator, what: str) -> None:
    assert _bottom(locator) <= SCREEN["height"], f"{what} ends below 720 px"


@pytest.fixture
def screen(browser, app_url):
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.set_default_timeout(180_000)
    yield page
    context.close()


# Under the chart and the text, what else fits 720 px: the check of the lesson's claim, then Class mode.
# The two-chart presets with the longest texts (the sine, the seeds) leave no room for either.
CLAIM_FITS = {"learning_rate", "hidden_size", "grid_search", "minibatch"}
CLASS_MODE_FITS = {"learning_rate", "hidden_size"}


@pytest.mark.parametrize("name", list(LESSONS))
def test_every_preset_fits_the_projected_screen(screen, app_url, name):
    screen.goto(f"{app_url}/lessons?lesson={name}&present=1")
    wait_until_idle(screen)
    buttons = screen.get_by_test_id("stButtonGroup").first.locator("button")
    buttons.nth(len(LESSONS) - 1).wait_for()  # all drawn: the app may look idle before its script has started
    assert len({round(b.bounding_box()["y"]) for b in buttons.all()}) == 1, "preset buttons on more than one row"
    text = screen.get_by_test_id("stMarkdownContainer").filter(has_text=LESSONS[name].title.split()[0][:4]).last
    steps = 2 if name in ("hidden_size_regression", "grid_search", "minibatch", "init_seeds") else 1
    for step in range(steps):
        if step:
            click_and_wait(screen, screen.locator(f".st-key-lesson_{name}_step_next button"))
        chart = screen.locator(f".st-key-lesson_{name}_{step} [data-testid='stPlotlyChart']")
        chart.locator(".main-svg").first.wait_for()
        _above_the_fold(chart, f"{name}: chart {step + 1}")
        paragraph = screen.get_by_test_id("stMarkdownContainer").locator("p").filter(
            has_text=text.inner_text()[:30] if text.count() else "").last
        _above_the_fold(paragraph, f"{name}: the lesson's text")
        overlaps = chart.locator(".js-plotly-plot").evaluate(OVERLAPPING_TICKS)
        assert not overlaps, f"{name}: chart {step + 1}'s tick labels overlap: {overlaps[:6]}"
        _check_screen(screen, f"lesson-{name}-{step + 1}")
        if step == 0 and name in CLAIM_FITS:
            claim = screen.get_by_test_id("stCaptionContainer").filter(has_text="Checked on this result").locator("p")
            _above_the_fold(claim, f"{name}: the check of the lesson's claim")
        if step == 0 and name in CLASS_MODE_FITS:
            _above_the_fold(screen.get_by_test_id("stPopover").filter(has_text="Class mode"), f"{name}: Class mode")
    expect_collapsed(screen)


def expect_collapsed(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")


def test_a_grid_search_result_link_opens_on_the_result(screen, app_url):
    from playwright.sync_api import expect

    from tuning.engine.search import run_search

    spec = {"dataset": {"name": "iris"}, "cv": 3,
            "param_grid": {"hidden_layer_sizes": [[2], [8], [32]], "max_iter": [5, 20],
                           "learning_rate_init": [0.001, 0.01], "alpha": [0.0001], "batch_size": ["auto"]}}
    # the form always sends alpha and batch_size: two more lines of best_params_ above the chart
    result = run_search(spec, store=ExperimentStore(SERVER_STORES[app_url]))
    screen.goto(f"{app_url}/grid_search?exp={result.experiment_id}&present=1")
    wait_until_idle(screen)
    metric = screen.get_by_test_id("stMetric").filter(has_text="best_score_")
    expect(metric).to_be_visible()
    expect(screen.get_by_text("Hidden units", exact=True)).to_be_hidden()  # the form is folded away
    _above_the_fold(metric, "best_score_")
    _above_the_fold(screen.get_by_text("learning_rate_init = 0.01"), "best_params_")
    chart = screen.locator(".st-key-gs_error_fig [data-testid='stPlotlyChart']")
    chart.locator(".main-svg").first.wait_for()
    _above_the_fold(chart, "the error-versus-size chart")
    _above_the_fold(chart.locator(".g-xtitle"), "the error-versus-size chart's x-axis title")
    value = metric.get_by_test_id("stMetricValue").locator("p")
    label = metric.get_by_test_id("stMetricLabel").locator("p")
    size = "el => parseFloat(getComputedStyle(el).fontSize)"
    assert value.evaluate(size) >= 2 * label.evaluate(size)  # the value is clearly larger than its label
    _check_screen(screen, "grid-search-result")
    expect_collapsed(screen)

    click_and_wait(screen, screen.get_by_role("tab", name="cv_results_"))
    table = screen.get_by_test_id("stMain").locator("[data-testid='stDataFrame']:visible").last
    scroller = table.locator(".dvn-scroller").first
    assert scroller.evaluate("el => el.scrollWidth <= el.clientWidth + 1", timeout=30_000), "wider than the screen"
    _check_screen(screen, "grid-search-table")


def test_the_playground_controls_are_readable_when_projected(screen, app_url):
    screen.goto(f"{app_url}/playground?present=1")
    wait_until_idle(screen)
    expect_collapsed(screen)
    screen.get_by_test_id("stMain").get_by_test_id("stSlider").nth(3).wait_for()  # drawn, not just idle
    sliders = screen.get_by_test_id("stMain").get_by_test_id("stSlider").all()
    assert len(sliders) >= 4
    for slider in sliders:
        value = slider.get_by_test_id("stSliderThumbValue").first
        thumb = value.locator("xpath=..")  # the thumb on the track; its value is drawn above it
        assert _bottom(value) <= thumb.bounding_box()["y"] + 1, f"a slider value on its track: {value.inner_text()}"
        label = slider.get_by_test_id("stWidgetLabel").locator("p").first
        assert not _overlapping(label, value), f"{value.inner_text()} is drawn over {label.inner_text()}"
    for box in screen.get_by_test_id("stMain").get_by_test_id("stSelectbox").all():
        assert box.get_by_role("combobox").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 20
    _check_screen(screen, "playground")


def test_the_sidebar_toggle_projects_like_the_address_does(screen, app_url):
    from playwright.sync_api import expect

    screen.goto(app_url)
    wait_until_idle(screen)
    expect(screen.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "false")
    click_and_wait(screen, screen.get_by_test_id("stSidebar").get_by_text("Projection mode"))
    expect_collapsed(screen)  # the sidebar's width goes to the text, as with ?present=1
    screen.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar']\")"
                             ".getBoundingClientRect().right <= 0 && !document.getAnimations().length")  # slid away
    _above_the_fold(screen.get_by_test_id("stMain").locator("p").last, "the home page's last paragraph")
    _check_screen(screen, "home-toggled")
