"""What a visitor sends never reaches code, files or unbounded compute: the dashboard's side, through AppTest.

Links, uploads, experiment names and store files are hostile input here. Each test opens
the real app on a real store file and checks what a visitor would see.
"""

from __future__ import annotations

import base64
import json
import pickle
import re
import sqlite3
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import tuning.engine.store as store_module
from tests.app.searching import run_search_on_page
from tests.app.test_experiments import _page
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.share import encode_spec

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "tests" / "data" / "csv"
TINY = {"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 1,
        "param_grid": {"hidden_layer_sizes": [[2]], "learning_rate_init": [0.01], "max_iter": [5, 10],
                       "batch_size": ["auto"], "alpha": [1e-4]}}
MARKUP = "[click](http://127.0.0.1:9/a) ![img](http://127.0.0.1:9/i.png) www.evil.example :red[x] **b** <b>"


@pytest.fixture
def hosted(monkeypatch):
    monkeypatch.setenv("TUNING_HOSTED", "1")


def _messages(at: AppTest) -> list[str]:
    """The Markdown source of everything that renders Markdown: alerts, captions, headings."""
    elements = [*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.markdown, *at.subheader, *at.title]
    return [e.value for e in elements] + [e.label for e in at.expander]


def _as_shown(text: str) -> str:
    """What the reader sees: backslash escapes and zero-width spaces removed."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def _assert_plain(text: str) -> None:
    """Markdown source that can hold no link, image, address, icon or emphasis."""
    assert re.search(r"(?<!\\)[\[\]*`<]", text) is None, text
    assert not re.search(r"(?i)https?://|www\.|:[a-z]", text), text


# --- 1. the compute box ---------------------------------------------------------------------------------------


def test_hosted_pages_offer_no_address_box_and_show_no_address(hosted, monkeypatch):
    monkeypatch.setenv("TUNING_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    at = _page("pages/grid_search.py")
    assert not at.exception
    assert not [r for r in at.radio if r.key == "compute_where"] and not at.text_input  # no choice at all
    assert any("Dask cluster cannot be reached" in e.value for e in at.error)
    assert at.button(key="gs_run").disabled
    assert not any("127.0.0.1" in m for m in _messages(at))  # the server's own address stays on the server
    monkeypatch.setenv("TUNING_DASK_SCHEDULER", "local")  # hosted never starts a local cluster
    at = _page("pages/grid_search.py")
    assert any("Searches run on this server, 1 worker each" in c.value for c in at.caption)
    assert not at.button(key="gs_run").disabled


def test_locally_a_scheduler_address_comes_with_a_trusted_code_warning():
    at = _page("pages/grid_search.py")
    at.radio(key="compute_where").set_value("A Dask cluster").run()
    assert any("trusted code" in w.value and "can run code in this process" in w.value for w in at.warning)


# --- 2. data from built-ins and uploads only ------------------------------------------------------------------


def _csv_link(path) -> str:
    return encode_spec(parse_spec({"dataset": {"csv": str(path)}, "cv": 3, "param_grid": {"max_iter": [5]}}))


@pytest.mark.parametrize("mode", ["hosted", "local"])
def test_a_link_naming_a_server_file_is_refused_without_showing_it(mode, tmp_path, monkeypatch):
    if mode == "hosted":
        monkeypatch.setenv("TUNING_HOSTED", "1")
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path / "uploads"))
    secret = tmp_path / "secret.csv"
    secret.write_text("password,y\n" + "".join(f"hunter{i},{i % 2}\n" for i in range(20)))
    for path in (secret, "/dev/zero", tmp_path, "/etc/passwd"):
        at = _page("pages/grid_search.py", spec=_csv_link(path))
        assert not at.exception
        assert "links may only use the built-in datasets or a file you uploaded" in _as_shown(at.error[0].value)
        shown = " ".join(_messages(at)) + " ".join(c.value for c in at.code)
        for leak in (str(tmp_path), "secret", "password", "hunter", "/dev", "/etc", "root"):
            assert leak not in shown, leak
        assert next(m.value for m in at.metric if m.label == "Fits") == "54"  # the form carries on


def test_hosted_a_link_may_name_this_sessions_upload_but_not_anothers(hosted, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path))
    mine = _page("pages/grid_search.py")
    mine.selectbox(key="dataset_name").set_value("upload").run()
    mine.file_uploader(key="dataset_csv").upload("flowers.csv", (CSV / "good_comma.csv").read_bytes()).run()
    (saved,) = tmp_path.glob("*/flowers.csv")  # <content hash>/<the user's file name>
    link = _csv_link(saved)
    mine.query_params["spec"] = link
    mine.run()
    assert not mine.exception and not mine.error
    assert "cannot show" in mine.info[0].value  # this session's own upload: the linked spec is shown
    other = _page("pages/grid_search.py", spec=link)
    assert "links may only use" in _as_shown(other.error[0].value) and str(tmp_path) not in other.error[0].value


def test_locally_a_link_may_name_a_file_in_the_upload_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path))
    path = tmp_path / "table.csv"
    path.write_bytes((CSV / "good_comma.csv").read_bytes())
    at = _page("pages/grid_search.py", spec=_csv_link(path))
    assert not at.exception and not at.error and "cannot show" in at.info[0].value


# --- 3. caps on a link ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("grid", "cap"), [({"hidden_layer_sizes": [[20000, 20000]], "max_iter": [2]}, "network size"),
                                          ({"max_iter": list(range(1, 40))}, "max_iter values")])
def test_a_hostile_link_is_refused_naming_its_cap_and_the_form_carries_on(hosted, grid, cap):
    at = _page("pages/grid_search.py", spec=encode_spec(parse_spec({"dataset": "digits", "param_grid": grid})))
    assert not at.exception
    assert f"the {cap} cap" in _as_shown(at.error[0].value)
    assert next(m.value for m in at.metric if m.label == "Fits") == "54"


# --- 4. a store someone else wrote ----------------------------------------------------------------------------


class _WritesMarker:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def foreign_experiment(tmp_path):
    """An experiment in this server's store whose model blob would write a marker file if unpickled."""
    store = ExperimentStore()
    exp_id = run_search(TINY, store=store).experiment_id
    marker = tmp_path / "marker"
    blob = pickle.dumps(_WritesMarker(marker))
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE experiments SET model = ?, model_mac = ? WHERE id = ?",
                   (blob, store_module._model_signature(b"another user's key", exp_id, blob), exp_id))
    return exp_id, marker


@pytest.mark.parametrize("page", ["pages/experiments.py", "pages/grid_search.py"])
def test_opening_a_foreign_experiment_shows_its_results_and_never_runs_its_model(page, foreign_experiment):
    exp_id, marker = foreign_experiment
    at = _page(page, exp=exp_id)
    assert not at.exception
    assert any(m.label.startswith("best_score_") for m in at.metric)  # the results are shown
    assert any("was not loaded" in _as_shown(i.value) and "could run their code" in i.value for i in at.info)
    assert not [b for b in at.get("download_button") if "best_estimator" in b.label]
    assert not marker.exists()


# --- 7. plain text everywhere ---------------------------------------------------------------------------------


def test_markup_in_a_links_dataset_name_stays_plain_text():
    raw = json.dumps({"dataset": {"name": MARKUP}, "param_grid": {"max_iter": [5]}}).encode()
    at = _page("pages/grid_search.py", spec=base64.urlsafe_b64encode(zlib.compress(raw)).decode())
    assert not at.exception and "unknown dataset" in at.error[0].value
    _assert_plain(at.error[0].value)


def test_an_unknown_experiment_link_shows_no_store_path_no_other_ids_and_no_markup(foreign_experiment):
    exp_id, _ = foreign_experiment
    for page in ("pages/grid_search.py", "pages/experiments.py"):
        at = _page(page, exp=MARKUP)
        assert not at.exception
        shown = " ".join(_messages(at))
        assert str(ExperimentStore().path) not in shown and "sqlite" not in shown
        if page == "pages/grid_search.py":
            assert "is not in this server's experiment store" in _as_shown(at.error[0].value)
            assert exp_id not in shown
        for message in _messages(at):
            assert "127.0.0.1" not in message or "\u200b" in message


def test_experiment_names_notes_and_ids_with_markup_stay_plain_text(foreign_experiment):
    exp_id, _ = foreign_experiment
    store = ExperimentStore()
    other = run_search({**TINY, "cv": 4}, store=store).experiment_id
    store.annotate(exp_id, name=MARKUP, note=MARKUP)
    store.annotate(other, name=MARKUP)
    at = _page("pages/experiments.py", exp=exp_id)
    assert not at.exception
    assert at.text[0].value == MARKUP  # the name, as written
    assert at.text_area(key="ex_note").value == MARKUP
    for message in _messages(at):
        _assert_plain(message) if MARKUP[:5] in _as_shown(message) else None
    assert any(exp_id in _as_shown(s.value) for s in at.subheader)


def test_csv_headers_and_class_names_with_markup_stay_plain_text():
    at = _page("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("upload").run()
    header = "[x](http://127.0.0.1:9/h)"
    rows = "".join(f"{i},{i * 0.37:.2f},![c{i % 2}](http://127.0.0.1:9/c.png)\n" for i in range(30))
    at.file_uploader(key="dataset_csv").upload("m.csv", f"a,{header},**target**\n{rows}".encode()).run()
    assert not at.exception and not at.error
    (label,) = [e.label for e in at.expander]
    assert "**target**" in _as_shown(label)
    _assert_plain(label)
    classes = next(d.value for d in at.dataframe if "class" in d.value)
    assert list(classes["class"]) == ["![c0](http://127.0.0.1:9/c.png)", "![c1](http://127.0.0.1:9/c.png)"]
    at.selectbox(key="dataset_csv_target").set_value(header).run()  # a continuous column as the target
    assert "looks continuous" in at.error[0].value
    _assert_plain(at.error[0].value)


# --- 8. a store that cannot be used; numbers that cannot be trained on ----------------------------------------


@pytest.mark.parametrize("mode", ["hosted", "local"])
def test_a_damaged_store_is_one_warning_and_searches_still_run(mode, tmp_path, monkeypatch):
    if mode == "hosted":
        monkeypatch.setenv("TUNING_HOSTED", "1")
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database" * 500)
    monkeypatch.setenv("TUNING_STORE", str(damaged))
    at = _page("pages/grid_search.py")
    assert not at.exception
    (warning,) = at.warning
    assert "Experiment history is off" in warning.value
    assert (str(damaged) in _as_shown(warning.value)) == (mode == "local")  # a visitor never sees the path
    at.selectbox(key="dataset_name").set_value("iris").run()
    at.multiselect(key="gs_units").set_value([2])
    at.multiselect(key="gs_iters").set_value([10])
    at.slider(key="gs_cv").set_value(3).run()
    run_search_on_page(at)
    assert not at.exception and any(m.label.startswith("best_score_") for m in at.metric)
    experiments = _page("pages/experiments.py")
    assert not experiments.exception and "Experiment history is off" in experiments.warning[0].value


def test_an_upload_with_1e308_values_is_one_clear_message():
    at = _page("pages/grid_search.py")
    at.selectbox(key="dataset_name").set_value("upload").run()
    rows = "".join(f"{i},{1e308 if i % 3 else -1e308},{'ab'[i % 2]}\n" for i in range(30))
    at.file_uploader(key="dataset_csv").upload("big.csv", f"x,z,label\n{rows}".encode()).run()
    assert not at.exception
    (error,) = at.main.error  # (the sidebar, where the file is chosen, says it too)
    assert "column 'z' has 30 value(s) that are infinite or too large to train on" in _as_shown(error.value)
