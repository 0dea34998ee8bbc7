"""A new user's path through the dashboard, in a real browser."""

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, SERVER_STORES, click_and_wait, screenshot, wait_until_idle
from tuning.engine.store import ExperimentStore


def test_home_page_links_to_both_pages(page, app_url):
    page.goto(app_url)
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Tuning Lab")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Playground")).to_be_visible()
    expect(nav.get_by_role("link", name="Grid Search")).to_be_visible()
    screenshot(page, "home")


def test_playground_trains_a_network_and_compares_learning_rates(page, app_url):
    page.goto(f"{app_url}/playground")
    wait_until_idle(page)
    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Train", exact=True))
    expect(page.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible(timeout=60_000)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(3)  # data scatter, loss curve, decision boundary
    expect(charts.nth(1).locator(".main-svg").first).to_be_visible()
    screenshot(page, "playground")

    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Compare learning rates"))
    expect(page.get_by_text("ends with the lowest training loss")).to_be_visible(timeout=60_000)
    expect(page.locator(".legendtext").filter(has_text="lr=0.0001")).to_be_visible()
    screenshot(page, "playground-compare")


def test_grid_search_runs_and_draws_every_chart(page, app_url):
    page.goto(f"{app_url}/grid_search")
    wait_until_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("54")
    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Run search"))
    best = page.get_by_test_id("stMetric").filter(has_text="best_score_")
    expect(best).to_be_visible(timeout=60_000)
    value = float(best.get_by_test_id("stMetricValue").inner_text())
    assert 0.5 <= value <= 1.0
    expect(page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first).to_be_visible()
    screenshot(page, "grid-search")
    for tab in ["Loss curves", "Heatmap", "Fit timeline", "cv_results_"]:
        page.get_by_role("tab", name=tab).click()
        wait_until_idle(page)
    expect(page.get_by_test_id("stTabs").get_by_test_id("stDataFrame")).to_be_visible()
    page.get_by_role("tab", name="Loss curves").click()
    screenshot(page, "grid-search-loss-curves")

    (experiment,) = ExperimentStore(SERVER_STORES[app_url]).list()  # the search was kept as it ran
    assert experiment["status"] == "finished" and experiment["fits_done"] == 54
    page.goto(f"{app_url}/experiments?exp={experiment['id']}")
    wait_until_idle(page)
    expect(page.get_by_role("heading", name=f"Experiment {experiment['id']}")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_contain_text(f"{value:.4f}")
    screenshot(page, "experiments")


def _choose(page, widget_label: str, option: str) -> None:
    """Pick an option of a selectbox or multiselect, as a user does: open it, click the option."""
    page.locator("[data-testid='stSelectbox'], [data-testid='stMultiSelect']").filter(
        has=page.get_by_text(widget_label, exact=True)).locator("input").first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)


def test_stop_keeps_the_finished_fits(page, app_url):
    page.goto(f"{app_url}/grid_search")
    wait_until_idle(page)
    _choose(page, "Dataset", "digits")
    _choose(page, "Hidden units", "128")
    page.keyboard.press("Escape")
    _choose(page, "max_iter (epochs)", "400")
    page.keyboard.press("Escape")
    page.get_by_test_id("stButton").get_by_text("Run search").click()
    stop = page.get_by_test_id("stButton").get_by_text("Stop", exact=True)
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    click_and_wait(page, stop)
    expect(page.get_by_text("Stopped:")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)


def test_a_lesson_in_projection_mode_is_readable_at_1280x720(page, app_url):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{app_url}/lessons?lesson=learning_rate&present=1")
    wait_until_idle(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=120_000)
    box = chart.bounding_box()
    assert box["y"] + box["height"] <= 720 and box["height"] >= 450  # the chart fills the first screen
    # every tick label, including a log axis's in-between ones (2, 5, ...), which Plotly draws smaller
    sizes = chart.locator(".xtick text, .ytick text").evaluate_all(
        "els => els.map(el => parseFloat(getComputedStyle(el).fontSize))")
    assert len(sizes) > 4 and min(sizes) >= 20, sizes
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lesson-projection.png"))
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")  # controls tucked away
