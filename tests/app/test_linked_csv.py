"""A CSV search's address opened in a new session: what it shows names the user's file, never the server's path."""

from pathlib import Path

from tests.app.pages import open_page
from tuning.data.csv_source import save_upload
from tuning.engine.spec import parse_spec
from tuning.services.share import encode_spec

CSV = Path(__file__).resolve().parents[1] / "data" / "csv"


def test_a_linked_csv_search_shows_its_file_name_and_a_summary_but_no_server_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path / "uploads"))
    kept = save_upload((CSV / "penguins.csv").read_bytes(), "penguins.csv")  # as an earlier session uploaded it
    spec = parse_spec({"dataset": {"csv": str(kept), "target": "species"}, "cv": 3,
                       "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [10]}})
    at = open_page("pages/grid_search.py", spec=encode_spec(spec))
    assert not at.exception and not at.error
    shown = [str(e.value) for e in [*at.text, *at.caption, *at.markdown, *at.code, *at.info, *at.warning]]
    assert not [s for s in shown if str(tmp_path) in s or "tuning-lab-uploads" in s], shown
    assert any("penguins.csv (uploaded)" in s and "species" in s for s in shown)
    assert any("2 candidates × 3 folds = 6 fits" in s for s in shown)
    assert next(m.value for m in at.metric if m.label == "Fits") == "6"  # it still runs exactly as linked
