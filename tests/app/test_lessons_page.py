"""The Lessons page and projection mode, driven through AppTest."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.projection import PROJECTED_CHART_HEIGHT
from tests.app.pages import open_page

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("prepared_lessons")  # a server has them from its start; see below


def _lessons(**query) -> AppTest:
    return open_page("pages/lessons.py", timeout=180, **query)


def test_every_preset_shows_its_text_and_charts():
    at = _lessons()
    assert not at.exception
    for name in ["learning_rate", "hidden_size", "grid_search", "minibatch", "init_seeds"]:
        at.session_state["lesson"] = name
        at.run()
        assert not at.exception and not at.warning, name
        assert at.query_params["lesson"] == name
        assert at.subheader[0].value and len(at.markdown[0].value) > 80
        assert at.get("plotly_chart"), name
        captions = [c.value for c in at.caption]
        assert any(c.startswith("Checked on this result:") for c in captions), captions
        assert any(f"python -m tuning lesson run {name}" in c for c in captions), captions


def test_a_lesson_link_opens_that_lesson_in_projection_mode():
    at = _lessons(lesson="hidden_size", present="1")
    assert not at.exception
    # the text under the chart (then only the Class mode popover's own words), no title
    texts = [m.value for m in at.markdown]
    assert "Error against hidden units" in texts[-2] and "Students predict" in texts[-1] and not at.subheader
    assert at.toggle(key="present_lessons").value is True
    assert any("font-size: 22px" in m.value for m in at.markdown)  # the projection stylesheet
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert layout["height"] == PROJECTED_CHART_HEIGHT and layout["xaxis"]["tickfont"]["size"] >= 20
    at.toggle(key="present_lessons").set_value(False).run()
    assert "present" not in at.query_params
    # the shared figures are cached per mode: leaving projection mode gets the normal chart back
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert "height" not in layout and layout["xaxis"]["tickfont"]["size"] < 20
