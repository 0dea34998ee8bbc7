"""The Experiments page and shareable links, driven through AppTest on a real store file."""

import json
import re
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.searching import run_search_on_page
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.share import encode_spec

ROOT = Path(__file__).resolve().parents[2]
FORM_SPEC = {"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 1,
             "param_grid": {"hidden_layer_sizes": [[2], [8]], "learning_rate_init": [0.01], "max_iter": [10, 25],
                            "batch_size": ["auto"], "alpha": [1e-4]}}
OTHER_SPEC = {**FORM_SPEC, "param_grid": {**FORM_SPEC["param_grid"], "hidden_layer_sizes": [[8], [32]]}}


@pytest.fixture
def store():
    store = ExperimentStore()  # the per-test file from tests/conftest.py
    first = run_search(FORM_SPEC, n_jobs=1, store=store)
    second = run_search(OTHER_SPEC, n_jobs=1, store=store)
    return store, first.experiment_id, second.experiment_id


def _page(page: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_an_empty_store_says_how_to_start():
    at = _page("pages/experiments.py")
    assert not at.exception and "No experiments yet" in at.info[0].value


def test_opening_an_experiment_shows_its_results(store):
    _, first, _ = store
    at = _page("pages/experiments.py", exp=first)
    assert not at.exception
    assert at.subheader[0].value == f"Experiment {first}"
    best = next(m for m in at.metric if m.label.startswith("best_score_"))
    assert float(best.value) == pytest.approx(ExperimentStore().get(first)["best_score"], abs=1e-4)
    assert any("GridSearchCV(pipeline, param_grid, cv=3" in c.value for c in at.code)  # show the code


def test_rename_and_annotate_are_saved(store):
    db, first, _ = store
    at = _page("pages/experiments.py", exp=first)
    at.text_input(key="ex_name").input("small nets")
    at.text_area(key="ex_note").input("lr 0.01 only")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert not at.exception
    assert db.get(first)["name"] == "small nets" and db.get(first)["note"] == "lr 0.01 only"


def test_compare_two_experiments_on_the_same_data(store):
    _, first, second = store
    at = _page("pages/experiments.py", exp=first)
    assert at.selectbox(key="ex_other").value == second
    assert any("2 shared candidate(s)" in c.value for c in at.caption)


def test_delete_needs_confirmation(store):
    db, first, _ = store
    at = _page("pages/experiments.py", exp=first)
    assert at.button(key="ex_delete").disabled
    at.checkbox(key="ex_sure").check().run()
    at.button(key="ex_delete").click().run()
    assert not at.exception
    assert db.get(first) is None and len(db.list()) == 1


def test_a_hosted_server_shows_experiments_read_only(store, monkeypatch):
    monkeypatch.setenv("TUNING_HOSTED", "1")
    db, first, _ = store
    db.annotate(first, name="teacher's run", note="kept for the class", tags=["demo"])
    at = _page("pages/experiments.py", exp=first)
    assert not at.exception
    keys = {w.key for w in [*at.text_input, *at.text_area, *at.button, *at.checkbox]}
    assert not keys & {"ex_name", "ex_tags", "ex_note", "ex_delete", "ex_sure"}
    assert any("read-only" in c.value for c in at.caption)
    assert db.get(first)["name"] == "teacher's run"


def test_a_link_to_a_finished_grid_shows_it_from_the_store_without_training(store):
    at = _page("pages/grid_search.py", spec=encode_spec(parse_spec(FORM_SPEC)))
    assert not at.exception
    assert at.selectbox(key="dataset_name").value == "iris"
    assert at.multiselect(key="gs_units").value == [2, 8] and at.multiselect(key="gs_iters").value == [10, 25]
    assert any("From the experiment store" in c.value for c in at.caption)
    assert any(m.label.startswith("best_score_") for m in at.metric)
    assert at.query_params["spec"] == encode_spec(parse_spec(FORM_SPEC))  # the address is the link


def test_a_link_by_experiment_id_fills_the_form(store):
    _, _, second = store
    at = _page("pages/grid_search.py", exp=second)
    assert not at.exception
    assert at.multiselect(key="gs_units").value == [8, 32]


def test_a_link_the_form_cannot_show_runs_as_linked():
    spec = parse_spec({**FORM_SPEC, "estimator": {"solver": "sgd", "random_state": 0}})
    at = _page("pages/grid_search.py", spec=encode_spec(spec))
    assert not at.exception
    assert "cannot show" in at.info[0].value
    run_search_on_page(at)
    assert any(m.label.startswith("best_score_") for m in at.metric)


def test_a_damaged_link_is_one_message_and_the_form_still_works():
    at = _page("pages/grid_search.py", spec="not-a-link")
    assert not at.exception
    assert "damaged or incomplete" in at.error[0].value
    assert next(m.value for m in at.metric if m.label == "Fits") == "54"  # the default grid, ready to run


@pytest.mark.parametrize("page", ["pages/grid_search.py", "pages/experiments.py"])
@pytest.mark.parametrize("link", ["ffffffffffff", "<b>not-an-id</b>"])
def test_an_unknown_experiment_link_says_so_and_nothing_more(store, page, link):
    db, first, second = store
    at = _page(page, exp=link)
    assert not at.exception
    (message,) = [e.value for e in at.error]
    if page == "pages/experiments.py":
        assert message.startswith("There is no experiment") and "here" in message
        assert (link in message) == link.isalnum()  # an id is repeated only when it looks like one
    else:
        assert "not in this server's experiment store" in message and link not in message
    assert first not in message and second not in message and str(db.path) not in message  # nothing else leaks
    assert "exp" not in at.query_params
    if page == "pages/grid_search.py":
        assert at.button(key="gs_run")  # the form still works
    else:
        assert at.dataframe  # the list still shows


def test_the_list_shows_what_each_searched_and_filters_by_dataset_name_and_tag(store):
    db, first, second = store
    wine = run_search({**FORM_SPEC, "dataset": {"name": "wine"}}, n_jobs=1, store=db).experiment_id
    db.annotate(first, name="small nets", tags=["baseline"])
    db.annotate(wine, tags=["baseline", "wine"])
    at = _page("pages/experiments.py")
    table = at.dataframe[0].value
    assert list(table["id"]) == [wine, second, first]  # newest first
    row = table.set_index("id").loc[first]
    assert row["searched"] == "hidden_layer_sizes [2], [8] · max_iter 10, 25" and row["cv"] == 3
    assert row["tags"] == "baseline" and row["fits"] == "12 / 12"
    at.multiselect(key="ex_filter_dataset").set_value(["iris"]).run()
    assert set(at.dataframe[0].value["id"]) == {first, second}
    at.multiselect(key="ex_filter_tags").set_value(["baseline"]).run()
    assert list(at.dataframe[0].value["id"]) == [first]
    at.multiselect(key="ex_filter_dataset").set_value([]).run()
    at.text_input(key="ex_filter_text").input("SMALL").run()
    assert list(at.dataframe[0].value["id"]) == [first]


def test_tags_are_saved_from_the_page(store):
    db, first, _ = store
    at = _page("pages/experiments.py", exp=first)
    at.text_input(key="ex_tags").input("baseline, lr 0.01 ,baseline")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert not at.exception and db.get(first)["tags"] == ["baseline", "lr 0.01"]


def test_any_two_experiments_side_by_side_and_the_paired_test_only_where_it_applies(store):
    db, first, second = store
    wine = run_search({**FORM_SPEC, "dataset": {"name": "wine"}}, n_jobs=1, store=db).experiment_id
    at = _page("pages/experiments.py", exp=first)
    options = at.selectbox(key="ex_other").options
    assert options[0].startswith(second) and options[0].endswith("· paired test")  # comparable ones first
    assert any(o.startswith(wine) and "paired test" not in o for o in options)
    charts = [c for c in at.get("plotly_chart") if "side by side" in c.proto.spec]
    assert len(charts) == 2 and any("shared candidate(s) differ" in c.value for c in at.caption)
    at.selectbox(key="ex_other").set_value(wine).run()
    assert not at.exception
    assert len([c for c in at.get("plotly_chart") if "side by side" in c.proto.spec]) == 2
    assert not any("shared candidate(s) differ" in c.value for c in at.caption)
    assert any(f"No paired test with {wine}: they use different data. Experiments that allow one with {first}: "
               f"{second}." == t.value for t in at.text)


def _shown_cells(at: AppTest) -> pd.DataFrame:
    """The experiments table as the browser draws its cells (the styler's display values)."""
    arrow = at.dataframe[0].proto.arrow_data
    return pa.ipc.open_stream(arrow.styler.display_values).read_all().to_pandas()


def test_the_list_shows_scores_to_four_decimals_a_dash_for_none_and_whole_statuses(store):
    db, first, _ = store
    stop = threading.Event()
    interrupted = run_search({**FORM_SPEC, "dataset": {"name": "wine"}}, n_jobs=1, store=db, cancel=stop,
                             progress=lambda p: p.fits_done and stop.set()).experiment_id
    at = _page("pages/experiments.py")
    assert not at.exception
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[interrupted, "status"] == "interrupted" and pd.isna(table.loc[interrupted, "best_score"])
    assert table["best_score"].dtype == float  # numbers, so that the column sorts as numbers
    cells = _shown_cells(at)
    cells.index = at.dataframe[0].value["id"]
    assert cells.loc[interrupted, "best_score"] == "–"
    assert re.fullmatch(r"0\.\d{4}", cells.loc[first, "best_score"])
    assert cells.loc[first, "best_score"] == f"{table.loc[first, 'best_score']:.4f}"
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["status"]["width"] >= 90  # "interrupted" whole, not "finishe"
