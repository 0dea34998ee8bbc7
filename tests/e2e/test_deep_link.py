"""A link straight to a page, opened first on a freshly started server, shows the whole app."""

from playwright.sync_api import expect

from tests.e2e.conftest import wait_until_idle


def test_first_visit_to_a_page_url_gets_the_app_navigation(page, app_url):
    page.goto(f"{app_url}/grid_search")  # the server's very first page view
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Grid Search")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_text("widgets")).to_have_count(0)
