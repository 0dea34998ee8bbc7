"""Weight initialisation in the pages: a Playground setting and a Grid Search field."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tuning.services.share import decode_spec

ROOT = Path(__file__).resolve().parents[2]


def _open(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page)
    return at.run()


def test_the_playground_trains_from_all_zeros_and_the_loss_stays_flat():
    at = _open("pages/playground.py")
    at.selectbox(key="pg_init").set_value("zeros")
    at.slider(key="pg_epochs").set_value(20)
    at.button(key="pg_train").click().run()
    assert not at.exception
    run = at.session_state["pg_run"]
    assert run.params["init"] == "zeros" and max(abs(v - run.loss_curve[0]) for v in run.loss_curve) < 0.01


def test_the_grid_form_searches_over_init_schemes_and_a_link_brings_them_back():
    at = _open("pages/grid_search.py")
    at.multiselect(key="gs_inits").set_value(["glorot_uniform", "he_normal"]).run()
    assert not at.exception and not at.error
    spec = decode_spec(at.query_params["spec"])
    assert spec.param_grid[0]["init"] == ["glorot_uniform", "he_normal"]
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    fresh.query_params["spec"] = at.query_params["spec"]
    fresh.run()
    fresh.switch_page("pages/grid_search.py").run()
    assert fresh.multiselect(key="gs_inits").value == ["glorot_uniform", "he_normal"]
