"""Every page driven through its widget keys, as a user would, with Streamlit's AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.pages import open_page
from tests.app.searching import run_search_on_page
from tuning.services.share import decode_spec

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "tests" / "data" / "csv"


def _open(page: str) -> AppTest:
    return open_page(page)


def _charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_home_page_lists_the_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Tuning Lab"
    assert "Playground" in at.markdown[0].value and "Grid Search" in at.markdown[0].value


def test_grid_search_runs_and_shows_best_score_and_charts():
    at = _open("pages/grid_search.py")
    assert not at.exception
    at.selectbox(key="dataset_name").set_value("iris").run()
    at.multiselect(key="gs_units").set_value([2, 8])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10, 25])
    at.slider(key="gs_cv").set_value(3).run()
    assert {m.label for m in at.metric} >= {"Candidates", "Fits", "Epochs to train"}
    assert next(m.value for m in at.metric if m.label == "Fits") == "12"
    run_search_on_page(at)
    assert not at.exception
    best = next(m for m in at.metric if m.label.startswith("best_score_"))
    assert 0.3 <= float(best.value) <= 1.0
    assert len(_charts(at)) >= 4  # error vs size, loss curves, heatmap, timeline (+ no scatter for iris)
    # Changing a display option re-renders from the finished job, never retrains.
    at.selectbox(key="gs_rows").set_value("max_iter").run()
    assert not at.exception
    assert next(m for m in at.metric if m.label.startswith("best_score_")).value == best.value


@pytest.mark.parametrize(("empty", "label"), [("gs_units", "Hidden units"), ("gs_depths", "Hidden layers"),
                                              ("gs_iters", "max_iter (epochs)"), ("gs_solvers", "Solver")])
def test_grid_search_names_the_empty_field_as_the_form_labels_it(empty, label):
    at = _open("pages/grid_search.py")
    at.multiselect(key=empty).set_value([]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"{label}: nothing is chosen. Choose at least one value"]
    assert not at.metric  # no cost panel for a grid that cannot run


def test_an_unreachable_dask_scheduler_is_one_message_and_blocks_only_running():
    at = _open("pages/grid_search.py")
    at.radio(key="compute_where").set_value("A Dask cluster").run()
    at.text_input(key="compute_address").input("tcp://127.0.0.1:9").run()
    assert not at.exception
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in at.error[0].value
    assert at.button(key="gs_run").disabled
    assert next(m.value for m in at.metric if m.label == "Fits") == "54"  # the rest of the page still works
    at.text_input(key="compute_address").input("my-cluster").run()
    assert "is not a Dask scheduler address" in at.error[0].value


def test_a_search_runs_on_a_local_dask_cluster_from_the_page():
    at = _open("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("iris").run()
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_rates").set_value([0.03])
    at.multiselect(key="gs_iters").set_value([10, 25])
    at.radio(key="compute_where").set_value("A Dask cluster").run()
    at.text_input(key="compute_address").input("local").run()
    assert any("Connected: 2 worker(s)" in s.value for s in at.success)
    run_search_on_page(at)
    assert not at.exception
    assert any(m.label.startswith("best_score_") for m in at.metric)


def test_the_form_offers_solver_activation_and_early_stopping_and_the_cost_follows():
    at = _open("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("iris").run()
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_iters").set_value([10, 25])
    at.multiselect(key="gs_rates").set_value([0.01]).run()
    assert next(m.value for m in at.metric if m.label == "Fits") == "6"
    at.multiselect(key="gs_solvers").set_value(["adam", "lbfgs"])
    at.multiselect(key="gs_activations").set_value(["relu", "tanh"])
    at.multiselect(key="gs_early_stopping").set_value([False, True]).run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Fits") == str(2 * 2 * 2 * 2 * 3)
    spec = decode_spec(at.query_params["spec"])
    assert spec.param_grid[0]["solver"] == ["adam", "lbfgs"] and spec.param_grid[0]["early_stopping"] == [False, True]
    estimate = next(m.value for m in at.metric if m.label == "Estimated time")
    assert estimate.endswith((" s", " min")) and "(" not in estimate  # beside it, the range was cut off
    assert estimate == "under 1 s" or any(c.value.startswith("likely ") for c in at.caption)


def test_the_dataset_and_the_grid_stay_as_chosen_across_pages_and_uploads():
    at = _open("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("wine").run()
    at.multiselect(key="gs_units").set_value([4, 64])
    at.slider(key="gs_cv").set_value(5).run()
    at.switch_page("pages/playground.py").run()
    assert at.selectbox(key="dataset_name").value == "wine"  # the picker is shared
    at.selectbox(key="dataset_name").set_value("upload").run()  # the form is not drawn while no file is chosen
    at.switch_page("pages/grid_search.py").run()
    assert at.selectbox(key="dataset_name").value == "upload"
    at.file_uploader(key="dataset_csv").upload("Pima.tr.csv", (CSV / "Pima.tr.csv").read_bytes()).run()
    assert not at.exception
    assert at.multiselect(key="gs_units").value == [4, 64] and at.slider(key="gs_cv").value == 5
    assert next(m.value for m in at.metric if m.label == "Fits") == str(2 * 2 * 3 * 5)


def test_a_grid_over_the_epoch_cap_is_one_message_and_cannot_run(monkeypatch):
    monkeypatch.setenv("TUNING_MAX_EPOCHS", "1000")
    at = _open("pages/grid_search.py")
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert message.startswith("The grid: this search would train up to 1,800 epochs (54 fits), above the cap of 1,000")
    assert at.button(key="gs_run").disabled and not at.metric
