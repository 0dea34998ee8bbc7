"""A new user's path through the dashboard, in a real browser."""

from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, SERVER_STORES, click_and_wait, screenshot, wait_until_idle
from tests.processes import ROOT
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.share import encode_spec

CSV = ROOT / "tests" / "data" / "csv"


def test_home_page_links_to_both_pages(page, app_url):
    page.goto(app_url)
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Tuning Lab")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Playground")).to_be_visible()
    expect(nav.get_by_role("link", name="Grid Search")).to_be_visible()
    screenshot(page, "home")


def test_no_page_fetches_anything_from_another_host(new_page, app_url):
    # nothing at run time downloads: a classroom offline or behind a firewall gets every page whole
    # (the tab's icon once came from fonts.gstatic.com, a material symbol Streamlit fetches as a favicon)
    from urllib.parse import urlparse

    page = new_page()
    for path in ["", "/lessons", "/playground", "/grid_search", "/experiments", "/class"]:
        page.goto(f"{app_url}{path}")
        wait_until_idle(page)
    ours = urlparse(app_url).netloc
    elsewhere = [r for r in new_page.requests if urlparse(r).scheme in ("http", "https", "ws", "wss")
                 and urlparse(r).netloc != ours]
    assert elsewhere == []


def test_grid_search_runs_and_draws_every_chart(page, app_url):
    page.goto(f"{app_url}/grid_search")
    wait_until_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("54")
    page.set_viewport_size({"width": 1280, "height": 720})  # a laptop, the sidebar open
    estimate = page.get_by_test_id("stMetric").filter(has_text="Estimated time")
    cut = estimate.evaluate("el => [el, ...el.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1)"
                            ".map(e => e.textContent)")
    assert not cut, f"the estimate is cut off: {cut}"
    page.set_viewport_size({"width": 1400, "height": 1000})
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
    stop = page.get_by_role("button", name="Stop", exact=True)  # the one shown (a fragment may keep a hidden copy)
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
    # on the first screen, and tall enough to read across a room while leaving room for the lesson's
    # text under it (tests/e2e/test_projection.py checks that every preset's text fits too)
    assert box["y"] + box["height"] <= 720 and box["height"] >= 300
    # every tick label, including a log axis's in-between ones (2, 5, ...), which Plotly draws smaller
    sizes = chart.locator(".xtick text, .ytick text").evaluate_all(
        "els => els.map(el => parseFloat(getComputedStyle(el).fontSize))")
    assert len(sizes) > 4 and min(sizes) >= 20, sizes
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lesson-projection.png"))
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")  # controls tucked away


SMALL_GRID = parse_spec({"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 2, "param_grid": {
    "hidden_layer_sizes": [[4]], "learning_rate_init": [0.01, 0.1], "max_iter": [10, 25], "batch_size": ["auto"],
    "alpha": [1e-4]}})


def _field(page, label: str):
    return page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text(label, exact=True))


def test_a_csv_upload_keeps_the_grid_and_runs_it_then_the_star_stays_on_the_best(page, app_url):
    page.goto(f"{app_url}/grid_search?spec={encode_spec(SMALL_GRID)}")  # a small grid, set by its link
    wait_until_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("12")
    _choose(page, "Dataset", "Upload a CSV…")
    expect(page.get_by_text("Upload a CSV file in the sidebar")).to_be_visible()  # said in the main area too
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(CSV / "Pima.tr.csv"))
    expect(page.get_by_text("Pima.tr.csv: not used as features: column 1 (no name in the header), the row "
                                "number")).to_be_visible()
    wait_until_idle(page)
    expect(_field(page, "Learning rates")).to_contain_text("0.1")  # the grid is the one set before the upload
    expect(_field(page, "Hidden units")).not_to_contain_text("32")
    expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("12")

    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Run search"))
    expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible(timeout=90_000)
    wait_until_idle(page)
    page.get_by_role("tab", name="Code").click()
    expect(page.get_by_text("CSV_FILE = 'Pima.tr.csv'").first).to_be_visible()

    page.get_by_role("tab", name="cv_results_").click()
    table = page.get_by_test_id("stTabs").get_by_test_id("stDataFrame")
    expect(table).to_be_visible()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 + 17)  # the second row (rank 2): not the best
    wait_until_idle(page)
    page.get_by_role("tab", name="Loss curves").click()
    legend = page.get_by_test_id("stTabs").locator(".legendtext")
    expect(legend.filter(has_text="★ best")).to_have_count(1)
    expect(legend.filter(has_text="selected")).to_have_count(1)
    expect(page.get_by_text("★ marks the best candidate")).to_be_visible()
    screenshot(page, "grid-search-selected")


def test_progress_and_finished_curves_show_while_a_search_runs(page, app_url):
    # long enough to watch (tens of seconds): small batches, and units that cannot share a stack
    spec = parse_spec({"dataset": {"name": "digits"}, "cv": 3, "n_jobs": 2, "param_grid": {
        "hidden_layer_sizes": [[8], [16], [32]], "learning_rate_init": [0.001, 0.01], "max_iter": [50, 100],
        "batch_size": [16, 32], "alpha": [1e-4]}})
    page.goto(f"{app_url}/grid_search?spec={encode_spec(spec)}")
    wait_until_idle(page)
    page.get_by_test_id("stButton").get_by_text("Run search").click()
    bar = page.get_by_test_id("stProgress")
    expect(bar).to_be_visible()
    first = bar.inner_text()
    expect(bar).not_to_have_text(first, timeout=5_000)  # the clock moves before any fit has finished
    live = page.locator(".gtitle").filter(has_text="Finished so far", visible=True)  # not a fragment's old copy
    expect(live.first).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("the estimate was")).to_be_visible()


def test_an_unknown_experiment_link_says_so(page, app_url):
    page.goto(f"{app_url}/experiments?exp=0123456789ab")
    wait_until_idle(page)
    alert = page.get_by_test_id("stAlert")
    expect(alert).to_contain_text("There is no experiment 0123456789ab here")
    assert str(SERVER_STORES[app_url].parent) not in page.content()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()  # the list is still there


def test_two_experiments_side_by_side_and_paired(page, app_url):
    store = ExperimentStore(SERVER_STORES[app_url])  # the server's own store file
    base = {"dataset": "wine", "cv": 4, "param_grid": {"hidden_layer_sizes": [[2], [8], [32]],
                                                       "max_iter": [20, 80]}}
    first = run_search(base, n_jobs=1, store=store, refit=False).experiment_id
    second = run_search({**base, "param_grid": {"hidden_layer_sizes": [[8], [32], [128]], "max_iter": [20, 80]},
                         "estimator": {"random_state": 0, "activation": "tanh"}},
                        n_jobs=1, store=store, refit=False).experiment_id
    store.annotate(first, name="relu", tags=["wine"])
    store.annotate(second, name="tanh, larger", tags=["wine"])
    page.goto(f"{app_url}/experiments?exp={first}")
    wait_until_idle(page)
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text("hidden_layer_sizes")
    page.get_by_role("tab", name="Compare").click()
    wait_until_idle(page)
    side_by_side = page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".gtitle", has_text="side by side"))
    expect(side_by_side).to_have_count(2)
    expect(page.get_by_text("shared candidate(s) differ")).to_be_visible()
    expect(page.get_by_text("What B changes besides the grid: activation: default -> tanh")).to_be_visible()
    screenshot(page, "experiments-compare", height=2400)


def test_a_regression_csv_goes_from_upload_to_best_model_and_its_charts(page, app_url):
    page.goto(f"{app_url}/grid_search")
    wait_until_idle(page)
    _choose(page, "Dataset", "Upload a CSV…")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(CSV / "mtcars.csv"))
    wait_until_idle(page)
    _choose(page, "Target column", "mpg")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("it looks continuous (25 distinct numbers)")).to_be_visible()
    expect(main.get_by_test_id("stRadio").get_by_role("radio", name="Regression (MLPRegressor)")).to_be_checked()
    click_and_wait(page, page.get_by_test_id("stButton").get_by_text("Run search"))
    best = page.get_by_test_id("stMetric").filter(has_text="best_score_ (r2)")
    expect(best).to_be_visible(timeout=120_000)
    assert float(best.get_by_test_id("stMetricValue").inner_text()) <= 1.0
    expect(page.get_by_test_id("stPlotlyChart").first).to_contain_text("error (1 − R²)")
    page.get_by_role("tab", name="Predicted vs actual").click()
    wait_until_idle(page)
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text="Predicted versus actual").first).to_be_visible()
    screenshot(page, "grid-search-regression")
