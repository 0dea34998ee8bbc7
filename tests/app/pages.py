"""Opening one page of the app in AppTest, as a browser would: through app.py, with its address's query."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def open_page(page: str, *, timeout: float = 120, **query: str) -> AppTest:
    """Run app.py with ``query`` in the address, switch to ``page`` (``"pages/lessons.py"``), run it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    return at.run()
