"""Uploading your own CSV in the dashboard: bad files get one message, good ones train."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.searching import run_search_on_page
from tuning.services.share import decode_spec

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "tests" / "data" / "csv"


def _grid_search_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/grid_search.py")
    at.run()
    return at.selectbox(key="dataset_name").set_value("upload").run()


def test_upload_asks_for_a_file_first():
    at = _grid_search_page()
    assert not at.exception
    assert any("Upload a CSV file" in i.value for i in at.info)


def test_a_bad_file_is_one_message_then_a_good_file_trains():
    at = _grid_search_page()
    at.file_uploader(key="dataset_csv").upload("photo.csv", (CSV / "image_named.csv").read_bytes()).run()
    assert not at.exception
    # one message, in the sidebar where the file is chosen and in the main area where the user looks
    assert [e.value for e in at.sidebar.error] == [e.value for e in at.main.error]
    assert len(at.main.error) == 1 and "is a PNG image, not a CSV file" in at.main.error[0].value
    assert not at.metric  # nothing else pretends to work

    at.file_uploader(key="dataset_csv").set_value(
        ("flowers.csv", (CSV / "good_missing_markers.csv").read_bytes(), "text/csv")).run()
    assert not at.exception and not at.error
    assert at.selectbox(key="dataset_csv_target").value == "species"
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10, 25])
    at.slider(key="gs_cv").set_value(3).run()
    run_search_on_page(at)
    assert not at.exception
    best = next(m for m in at.metric if m.label.startswith("best_score_"))
    assert 0.0 <= float(best.value) <= 1.0


def test_a_regression_csv_goes_from_upload_to_best_model_and_its_charts():
    at = _grid_search_page()
    at.file_uploader(key="dataset_csv").upload("mtcars.csv", (CSV / "mtcars.csv").read_bytes()).run()
    assert at.radio(key="dataset_csv_task").value == "classification"  # carb: 6 whole numbers, classes
    at.selectbox(key="dataset_csv_target").set_value("mpg").run()
    assert not at.exception and not at.error
    task = at.radio(key="dataset_csv_task")
    assert task.value == "regression" and task in at.main.radio  # the choice is in the main area
    assert any("looks continuous (25 distinct numbers)" in c.value for c in at.main.caption)
    assert any("TransformedTargetRegressor" in t.value for t in at.text)  # the target scaling is said
    assert at.selectbox(key="gs_scoring").value == "r2"
    at.selectbox(key="gs_scoring").set_value("neg_root_mean_squared_error")
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10, 25]).run()
    run_search_on_page(at)
    assert not at.exception
    best = next(m for m in at.metric if m.label.startswith("best_score_"))
    assert best.label == "best_score_ (neg_root_mean_squared_error)" and float(best.value) < 0
    assert decode_spec(at.query_params["spec"]).task == "regression"
    script = next(c.value for c in at.code if "GridSearchCV(" in c.value)
    assert "MLPRegressor" in script and "TransformedTargetRegressor" in script

    at.radio(key="dataset_csv_task").set_value("classification").run()  # overridden: mpg's values as classes
    assert not at.exception and at.radio(key="dataset_csv_task").value == "classification"
    assert any("You chose otherwise" in c.value for c in at.main.caption)


def test_column_names_are_shown_as_plain_text():
    at = _grid_search_page()
    at.file_uploader(key="dataset_csv").upload("markup.csv", (CSV / "good_markup_header.csv").read_bytes()).run()
    assert not at.exception
    markdown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "<script>" not in markdown and "**bold**" not in markdown
    tables = [d.value for d in at.dataframe if "column" in d.value]
    assert list(tables[0]["column"])[:2] == ["<script>alert(1)</script>", "**bold**"]


def test_an_r_export_names_the_users_file_drops_its_row_numbers_and_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = _grid_search_page()
    at.file_uploader(key="dataset_csv").upload("Pima.tr.csv", (CSV / "Pima.tr.csv").read_bytes()).run()
    assert not at.exception and not at.error
    assert any(t.value.startswith("Pima.tr.csv: not used as features: column 1 (no name in the header), the row number "
                            "(1 to 200)")
               for t in at.main.text)
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10]).run()
    run_search_on_page(at)
    assert not at.exception
    assert any(m.label.startswith("best_score_") for m in at.metric)
    shown = " ".join(str(e.value) for e in [*at.text, *at.caption, *at.markdown, *at.code, *at.error, *at.info])
    assert str(tmp_path) not in shown  # no message, table or script shows the server's copy
    script = next(c.value for c in at.code if "GridSearchCV(" in c.value)
    assert "CSV_FILE = 'Pima.tr.csv'" in script and "pd.read_csv(CSV_FILE" in script
    linked = decode_spec(at.query_params["spec"])
    assert Path(linked.dataset["csv"]).name == "Pima.tr.csv"  # the link names the user's file too
