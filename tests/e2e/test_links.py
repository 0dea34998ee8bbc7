"""A shared Grid Search link shows the same grid after a reload and after visiting another page."""

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.e2e.conftest import wait_until_idle
from tuning.engine.spec import parse_spec
from tuning.services.share import decode_spec, encode_spec

LINKED = parse_spec({"dataset": {"name": "wine"}, "cv": 4, "n_jobs": 1,
                     "param_grid": {"hidden_layer_sizes": [[4], [16]], "learning_rate_init": [0.003],
                                    "max_iter": [10, 50], "batch_size": ["auto"], "alpha": [1e-4]}})


def _shows_the_linked_grid(page) -> None:
    wait_until_idle(page)
    units = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Hidden units", exact=True))
    expect(units).to_contain_text("4")
    expect(units).to_contain_text("16")
    expect(units).not_to_contain_text("32")
    expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("16")  # 4 candidates x 4 folds
    query = parse_qs(urlparse(page.url).query)
    assert decode_spec(query["spec"][0]) == LINKED


def test_a_link_survives_reload_and_page_switches(page, app_url):
    page.goto(f"{app_url}/grid_search?spec={encode_spec(LINKED)}")
    _shows_the_linked_grid(page)
    page.reload()
    _shows_the_linked_grid(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Playground").click()
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Grid Search").click()
    _shows_the_linked_grid(page)
