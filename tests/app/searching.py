"""Driving a search in AppTest: the page follows a running search in a fragment that reruns on a
timer, which AppTest does not run by itself, so a test reruns the page as a user's browser would."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def run_search_on_page(at: AppTest, timeout: float = 120) -> AppTest:
    """Press *Run search*, then rerun the page until the search has ended (results, a stop or an error)."""
    at.button(key="gs_run").click().run()
    deadline = time.monotonic() + timeout
    while any(p for p in at.get("progress")) and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert not at.get("progress"), "the search did not end in time"
    return at
