"""The Playground page through AppTest: it trains as the controls change, draws training and
validation loss, marks a result that no longer matches the controls, and lives in its address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.pages import open_page
from tuning.services.hosting import HostedLimits

ROOT = Path(__file__).resolve().parents[2]
LARGE = {"data": "digits", "layers": "3", "units": "128", "batch": "8", "epochs": "300"}  # minutes: waits for Train


def _open(**query: str) -> AppTest:
    return open_page("pages/playground.py", **query)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _loss_chart(at: AppTest) -> dict:
    """The loss chart as the page sent it (the last one drawn)."""
    charts = [c for c in at.get("plotly_chart") if (c.proto.id or "").find("pg_loss_") >= 0]
    assert charts, "no loss chart"
    return json.loads(charts[-1].proto.spec)


def test_a_quick_run_trains_without_a_button_and_draws_both_losses():
    at = _open()
    assert not at.exception
    assert not [b for b in at.button if b.key == "pg_train"]  # nothing to press on built-in data
    assert _metrics(at)["Epochs run"] == "100"
    traces = _loss_chart(at)["data"]
    assert [t["name"] for t in traces] == ["training loss", "validation loss (held-out 25%)"]
    assert len(traces[0]["y"]) == len(traces[1]["y"]) == 100
    assert traces[0]["y"] != traces[1]["y"]


def test_changing_a_control_retrains_with_the_new_settings_and_updates_the_address():
    at = _open()
    first = _metrics(at)
    at.select_slider(key="pg_lr").set_value(0.03)
    at.slider(key="pg_epochs").set_value(40)
    at.select_slider(key="pg_units").set_value(8).run()
    assert not at.exception and not at.warning
    metrics = _metrics(at)
    assert metrics["Epochs run"] == "40" and metrics != first
    assert 0.5 <= float(metrics["Test accuracy"]) <= 1.0
    assert len(_loss_chart(at)["data"][0]["y"]) == 40
    assert {k: at.query_params[k] for k in ("lr", "epochs", "units")} == {"lr": "0.03", "epochs": "40", "units": "8"}
    assert len(at.get("plotly_chart")) >= 3  # the data scatter, the loss curves and the decision boundary


def test_a_link_opens_the_same_setup_and_the_address_round_trips():
    query = {"lr": "0.003", "epochs": "40", "layers": "2", "units": "8", "solver": "sgd", "activation": "tanh",
             "batch": "32", "alpha": "0.001", "seed": "7", "data": "circles", "n_samples": "400", "noise": "0.1",
             "data_seed": "3"}
    at = _open(**query)
    assert not at.exception and not at.error
    assert at.select_slider(key="pg_lr").value == 0.003 and at.selectbox(key="pg_solver").value == "sgd"
    assert at.selectbox(key="pg_batch").value == 32 and at.number_input(key="pg_seed").value == 7
    assert at.selectbox(key="dataset_name").value == "circles" and at.slider(key="dataset_noise").value == 0.1
    assert _metrics(at)["Epochs run"] == "40"
    assert {k: at.query_params[k] for k in query} == query  # the page writes back exactly what it shows


def test_bad_values_in_a_link_are_one_message_and_the_defaults():
    at = _open(lr="banana", epochs="41", units="8", data="mnist")
    assert not at.exception
    (error,) = at.error
    assert "lr='banana' should be one of 1e-05" in error.value
    assert "epochs='41' should be a multiple of 5 from 5 to 500" in error.value
    assert "data='mnist' should be one of iris" in error.value
    assert at.select_slider(key="pg_lr").value == 0.01 and at.slider(key="pg_epochs").value == 100
    assert at.select_slider(key="pg_units").value == 8  # the good value is kept
    assert at.query_params["lr"] == "0.01" and at.query_params["epochs"] == "100"
    at.select_slider(key="pg_units").set_value(16).run()
    assert not at.error  # said once


def test_a_long_run_waits_for_train_and_an_old_result_is_marked_stale():
    at = _open()
    assert _metrics(at)["Epochs run"] == "100"
    at.selectbox(key="dataset_name").set_value("digits")
    at.select_slider(key="pg_layers").set_value(3)
    at.select_slider(key="pg_units").set_value(128)
    at.selectbox(key="pg_batch").set_value(8)
    at.slider(key="pg_epochs").set_value(300).run()
    assert not at.exception
    assert at.button(key="pg_train").value is False  # there to press
    assert any("press **Train**" in w.value for w in at.warning)
    assert "stale" in _loss_chart(at)["layout"]["title"]["text"]
    assert _metrics(at)["Epochs run"] == "100"  # what is shown is still the old run, marked as such


def test_the_hosted_epoch_cap_holds_for_the_slider_and_for_links(monkeypatch):
    # a cap below the local 500 epochs (the hosted default is 500 too since the lean trainer)
    monkeypatch.setattr(HostedLimits, "from_env", classmethod(lambda cls: cls(enabled=True, max_playground_epochs=300)))
    at = _open(epochs="400")
    assert not at.exception
    assert at.slider(key="pg_epochs").max == 300 and at.slider(key="pg_epochs").value == 100
    assert "epochs='400' should be a multiple of 5 from 5 to 300" in at.error[0].value


def test_comparing_learning_rates_says_what_the_curves_show():
    at = _open(epochs="30")
    at.multiselect(key="pg_rates").set_value([1e-4, 0.01, 1.0])
    at.button(key="pg_compare").click().run()
    assert not at.exception
    assert any("ends with the lowest training loss" in c.value for c in at.caption)


@pytest.mark.parametrize("query", [{"seed": "-1"}, {"seed": "1e9"}, {"noise": "nan", "data": "moons"}])
def test_odd_numbers_in_a_link_are_refused_too(query):
    at = _open(**query)
    assert not at.exception and len(at.error) == 1


def test_the_settings_come_back_after_a_visit_to_another_page():
    at = _open(lr="0.1", epochs="40")
    at.select_slider(key="pg_units").set_value(4).run()
    at.switch_page("pages/lessons.py").run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert (at.select_slider(key="pg_lr").value, at.slider(key="pg_epochs").value,
            at.select_slider(key="pg_units").value) == (0.1, 40, 4)
