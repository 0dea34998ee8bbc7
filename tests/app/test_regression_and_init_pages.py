"""The pages with a regression dataset (R² instead of accuracy, a fit curve instead of a decision boundary), and
weight initialisation as a Playground setting and a Grid Search field."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.pages import open_page
from tests.app.searching import run_search_on_page
from tuning.services.share import decode_spec

ROOT = Path(__file__).resolve().parents[2]


def _open(page: str) -> AppTest:
    return open_page(page)


def test_the_playground_fits_the_noisy_sine_and_draws_its_curve():
    at = _open("pages/playground.py")
    at.selectbox(key="dataset_name").set_value("sine").run()
    assert not at.exception
    assert any(c.value.startswith("target: mean") for c in at.sidebar.caption)
    at.slider(key="pg_epochs").set_value(40).run()  # a quick run: it retrains by itself
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert "Test R²" in labels and "Test accuracy" not in labels and labels["Epochs run"] == "40"
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("What the network learnt" in spec for spec in specs)
    assert any("loss (half squared error)" in spec for spec in specs)  # both losses in the regression's own


def test_a_regression_grid_on_diabetes_shows_rmse_and_predicted_versus_actual():
    at = _open("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("diabetes").run()
    assert not at.exception
    at.selectbox(key="gs_scoring").set_value("neg_root_mean_squared_error")
    at.multiselect(key="gs_units").set_value([2, 16])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10, 50]).run()
    spec = decode_spec(at.query_params["spec"])
    assert (spec.task, spec.scoring) == ("regression", "neg_root_mean_squared_error")
    run_search_on_page(at)
    assert not at.exception
    assert any(m.label == "best_score_ (neg_root_mean_squared_error)" for m in at.metric)
    specs = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert any("RMSE (in the target" in s for s in specs)
    assert any("Predicted versus actual" in s for s in specs)


def test_a_regression_link_fills_the_form_with_its_scorer():
    at = _open("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("friedman1").run()
    at.selectbox(key="gs_scoring").set_value("neg_mean_absolute_error").run()
    link = at.query_params["spec"]
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    fresh.query_params["spec"] = link
    fresh.run()
    fresh.switch_page("pages/grid_search.py").run()
    assert not fresh.exception and not fresh.error
    assert fresh.selectbox(key="gs_scoring").value == "neg_mean_absolute_error"
    assert fresh.selectbox(key="dataset_name").value == "friedman1"


def test_the_playground_trains_from_all_zeros_and_the_loss_stays_flat():
    at = _open("pages/playground.py")
    at.selectbox(key="pg_init").set_value("zeros")
    at.slider(key="pg_epochs").set_value(20).run()
    assert not at.exception
    run = at.session_state["pg_live"].state().run
    assert run.params["init"] == "zeros" and max(abs(v - run.loss_curve[0]) for v in run.loss_curve) < 0.01
    assert at.query_params["init"] == "zeros"  # the setting travels in the address like the others


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
