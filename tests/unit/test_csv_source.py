"""Every file either loads or is refused with one clear message: a corpus of awkward CSV files."""

import contextlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuning.data.csv_source import CsvLimits, csv_summary, load_csv, read_csv
from tuning.engine.search import run_search
from tuning.errors import DataError

CORPUS = Path(__file__).resolve().parents[1] / "data" / "csv"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_corpus_file_loads_or_is_refused_as_expected(case):
    facts = EXPECTED[case]
    path = CORPUS / facts.get("file", case)
    if facts["error"]:
        with pytest.raises(DataError) as info:
            load_csv(path, target=facts.get("target_option"), task=facts.get("task_option"))
        message = str(info.value)
        assert facts["error"] in message
        assert "\n" not in message and "Traceback" not in message
        return
    data = load_csv(path, target=facts.get("target_option"), task=facts.get("task_option"))
    report = data.report
    assert data.task == report["task"] == facts.get("task", "classification")
    assert data.n_samples == facts["rows"] == len(data.y)
    for key, field in [("target", "target"), ("delimiter", "delimiter"), ("encoding", "encoding")]:
        if key in facts:
            assert report[field] == facts[key]
    if "numeric" in facts:
        assert report["numeric_columns"] == facts["numeric"]
    if "categorical" in facts:
        assert report["categorical_columns"] == facts["categorical"]
    if "classes" in facts:
        assert len(data.class_names) == facts["classes"]
    if "class_names" in facts:
        assert data.class_names == facts["class_names"]
    if "dropped" in facts:
        assert sorted(report["dropped_columns"]) == facts["dropped"]
    if "missing" in facts:
        assert report["missing_values"] == facts["missing"]
    if "rows_dropped" in facts:
        assert report["rows_dropped_missing_target"] == facts["rows_dropped"]
    if data.is_regression:
        assert data.y.dtype == np.float64 and data.class_names == [] and np.isfinite(data.y).all()
    else:
        assert set(np.unique(data.y)) == set(range(len(data.class_names)))


def test_the_corpus_is_large_enough():
    assert len(EXPECTED) >= 25
    assert sum(1 for f in EXPECTED.values() if f["error"]) >= 12


def test_a_numeric_target_is_regression_unless_told_otherwise_and_says_why():
    raw = (CORPUS / "mtcars.csv").read_bytes()
    guessed = read_csv(raw, target="mpg")
    assert guessed.task == "regression" and "looks continuous (25 distinct numbers)" in guessed.report["task_reason"]
    np.testing.assert_array_equal(guessed.y[:3], [21.0, 21.0, 22.8])
    chosen = read_csv(raw, target="mpg", task="classification")
    assert chosen.task == "classification" and chosen.report["task_detected"] == "regression"
    assert read_csv(raw, target="cyl").task == "classification"  # 4, 6, 8: classes
    assert read_csv(raw, target="cyl", task="regression").y.dtype == np.float64


@pytest.mark.parametrize(("rows", "task", "message"), [
    ("1,2,5\n" * 20, "regression", "has a single value (5)"),
    ("".join(f"{i},{i},{i * 1.5}\n" for i in range(300)), "classification", "more than 200 classes"),
    ("1,2,x\n" * 20, "sideways", "is not one of classification, regression"),
])
def test_a_target_that_does_not_suit_the_chosen_task_is_refused(rows, task, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv(f"a,b,y\n{rows}".encode(), task=task)


def test_target_is_label_encoded_and_class_names_kept():
    data = load_csv(CORPUS / "good_comma.csv")
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    assert [data.class_names[k] for k in data.y[:3]] == ["setosa", "versicolor", "virginica"]


def test_size_caps_name_the_numbers():
    raw = (CORPUS / "good_comma.csv").read_bytes()
    with pytest.raises(DataError, match=r"has 30 rows, above the limit of 20"):
        read_csv(raw, name="x.csv", limits=CsvLimits(max_rows=20))
    with pytest.raises(DataError, match=r"has 4 columns, above the limit of 3"):
        read_csv(raw, name="x.csv", limits=CsvLimits(max_columns=3))
    with pytest.raises(DataError, match=rf"is {len(raw):,} bytes, above the limit of 100"):
        read_csv(raw, name="x.csv", limits=CsvLimits(max_bytes=100))


def test_missing_file_and_folder_are_clear(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        load_csv(tmp_path)


def test_summary_says_what_preprocessing_will_do():
    summary = csv_summary(load_csv(CORPUS / "good_missing_markers.csv"))
    assert summary["n_samples"] == 30 and summary["classes"] == {"setosa": 10, "versicolor": 10, "virginica": 10}
    assert summary["preprocessing"] == [
        "2 numeric column(s): fill missing values with the median, then standardise",
        "1 categorical column(s): fill missing values with the most frequent one, then one-hot encode"]


def test_a_csv_search_equals_gridsearchcv_with_the_same_pipeline():
    from sklearn.model_selection import GridSearchCV
    from threadpoolctl import threadpool_limits

    from tuning.engine.search import sklearn_equivalent

    spec = {"dataset": {"csv": str(CORPUS / "good_missing_markers.csv")}, "cv": 3,
            "param_grid": {"hidden_layer_sizes": [[4]], "max_iter": [5, 20]}}
    result = run_search(spec, n_jobs=1)
    estimator, grid = sklearn_equivalent(spec)
    data = load_csv(CORPUS / "good_missing_markers.csv")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(estimator, grid, cv=3).fit(data.X, data.y)
    np.testing.assert_allclose(result.cv_results["mean_test_score"], reference.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-9)
    assert result.dataset["n_samples"] == 30


def test_a_class_smaller_than_the_folds_is_a_warning_as_in_scikit_learn(tmp_path):
    path = tmp_path / "rare.csv"
    rows = [f"{(i * 7) % 20},{'common' if i > 1 else 'rare'}" for i in range(20)]
    path.write_text("x,label\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"The least populated class in y has only 2 members, which is less than "
                                         r"n_splits=5"):
        result = run_search({"dataset": {"csv": str(path)}, "param_grid": {"max_iter": [5]}}, refit=False)
    assert result.fits_done == 5 and any("only 2 members" in w for w in result.warnings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_raise_nothing_but_data_error(raw):
    with contextlib.suppress(DataError):
        read_csv(raw, name="fuzz.csv")


cells = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=False, width=16).map(str),
                  st.sampled_from(["", "NA", "?", "a", "b", "x y", '"q"', "é", "1e3", "inf"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5), st.integers(0, 30), st.sampled_from([",", ";", "\t"]), st.data())
def test_random_csv_shapes_raise_nothing_but_data_error(n_columns, n_rows, delimiter, data):
    header = delimiter.join(data.draw(st.lists(st.sampled_from(["a", "b", "c", "label", "y", " ", "a"]),
                                               min_size=n_columns, max_size=n_columns)))
    rows = [delimiter.join(data.draw(st.lists(cells, min_size=1, max_size=n_columns + 1))) for _ in range(n_rows)]
    raw = ("\n".join([header, *rows]) + "\n").encode()
    try:
        loaded = read_csv(raw, name="fuzz.csv")
    except DataError:
        return
    assert isinstance(loaded.X, pd.DataFrame) and len(loaded.X) == len(loaded.y) >= 10


# --- numbers that cannot be trained on; files that are not files; uploads that linger --------------------


def _table(rows: list[str]) -> bytes:
    return ("x,z,label\n" + "".join(f"{r}\n" for r in rows)).encode()


@pytest.mark.parametrize("bad", ["1e308", "-1e308", "inf", "-Infinity", "1e101"])
def test_infinite_or_overflowing_numbers_are_refused_naming_the_column(bad):
    rows = [f"{i},{bad if i == 3 else i / 2},{'ab'[i % 2]}" for i in range(20)]
    with pytest.raises(DataError, match=r"column 'z' has 1 value\(s\) that are infinite or too large to train "
                                        rf"on \(such as '{bad}'\)\. Use numbers between -1e100 and 1e100"):
        read_csv(_table(rows), name="t.csv")


def test_large_but_usable_numbers_still_load_as_numbers():
    data = read_csv(_table([f"{(i * 7) % 20},{i * 5e98},{'ab'[i % 2]}" for i in range(20)]), name="t.csv")
    assert data.report["numeric_columns"] == ["x", "z"]


def test_a_spec_on_1e308_values_is_refused_before_any_fit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(_table([f"{i},{1e308 if i % 2 else -1e308},{'ab'[i % 2]}" for i in range(30)]))
    with pytest.raises(DataError, match="infinite or too large"):
        run_search({"dataset": {"csv": str(path)}, "cv": 3, "param_grid": {"max_iter": [5]}})


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
def test_devices_and_pipes_are_never_read(special, tmp_path):
    import os

    if special == "fifo":
        special = tmp_path / "pipe.csv"
        os.mkfifo(special)  # opening it for reading would wait for a writer forever
    with pytest.raises(DataError, match="is not a regular file"):
        load_csv(special)


def test_links_may_name_only_this_sessions_uploads_or_files_in_the_upload_folder(tmp_path):
    from tuning.data.csv_source import check_linked_csv, save_upload

    folder, elsewhere = tmp_path / "uploads", tmp_path / "secret.csv"
    elsewhere.write_text("password,y\nhunter2,1\n")
    mine = save_upload(b"a,y\n1,0\n", "mine.csv", folder)
    theirs = save_upload(b"a,y\n2,1\n", "theirs.csv", folder)
    escape = folder / "escape.csv"
    escape.symlink_to(elsewhere)
    assert check_linked_csv(str(mine), uploads=[mine]) == mine  # hosted: only this session's own upload
    for path in (theirs, elsewhere, escape, "/dev/zero", folder):
        with pytest.raises(DataError) as refused:
            check_linked_csv(str(path), uploads=[mine])
        assert str(tmp_path) not in str(refused.value) and "hunter2" not in str(refused.value)
    assert check_linked_csv(str(theirs), folders=[folder]) == theirs  # locally: the upload folder
    for path in (elsewhere, escape, folder / ".." / "secret.csv", folder):  # never outside it, nor a folder
        with pytest.raises(DataError, match="links may only use"):
            check_linked_csv(str(path), folders=[folder])


def test_uploads_are_kept_for_a_day_after_their_last_use(tmp_path):
    import os
    import time

    from tuning.data.csv_source import UPLOAD_MAX_AGE, save_upload

    old, recent = save_upload(b"a,y\n1,0\n", "old.csv", tmp_path), save_upload(b"a,y\n2,0\n", "recent.csv", tmp_path)
    reused = save_upload(b"a,y\n3,0\n", "reused.csv", tmp_path)
    day_ago = time.time() - UPLOAD_MAX_AGE - 60
    for path in (old, reused):
        os.utime(path, (day_ago, day_ago))
    assert save_upload(b"a,y\n3,0\n", "reused.csv", tmp_path) == reused  # uploaded again: a new day starts
    assert not old.exists() and recent.exists() and reused.exists()
    assert reused.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("first_cell", "numbers", "dropped"), [
    ('""', range(1, 31), True),           # R's write.csv: an unnamed column of row names 1..n
    ("", range(30), True),                # pandas' to_csv: an unnamed index 0..n-1
    ("row", range(1, 31), True),          # named, but still exactly the row number
    ("row", [*range(2, 31), 1], False),   # the same numbers in another order are data
    ("row", range(5, 35), False),         # ids that are not the row number are data
])
def test_a_row_number_column_is_dropped_and_said_so(first_cell, numbers, dropped):
    lines = [f"{first_cell},size,label"] + [f"{n},{(i * 7) % 11},{'ab'[i % 2]}" for i, n in enumerate(numbers)]
    data = read_csv("\n".join(lines).encode(), name="export.csv")
    column = data.report["dropped_columns"].get("Unnamed: 0" if first_cell in ('""', "") else "row")
    assert (column is not None) == dropped
    if dropped:
        assert "the row number" in column and data.feature_names == ["size"]


def test_the_row_number_is_found_before_rows_without_a_target_are_dropped():
    lines = ['"","x","label"'] + [f'"{i}",{(i * 3) % 7},{"" if i == 5 else "ab"[i % 2]}' for i in range(1, 21)]
    data = read_csv("\n".join(lines).encode(), name="gaps.csv")
    assert list(data.report["dropped_columns"]) == ["Unnamed: 0"] and data.n_samples == 19


# Files within the size cap that once crashed the reader or could exhaust memory, made at test time.
PATHOLOGICAL = {
    "giant_field.csv": lambda: b'feature,label\n"' + b"a" * 4_000_000 + b'",1\n' + b"1,0\n" * 20,
    "giant_unquoted_field.csv": lambda: b"feature,label\n" + b"a" * 4_000_000 + b",1\n" + b"1,0\n" * 20,
    "giant_header.csv": lambda: b",".join(b"c%d" % i for i in range(300_000)) + b"\n" + b"1," * 299_999 + b"1\n",
    "nested_quotes.csv": lambda: b"a,b\n" + b'"' * 3_000_001 + b",1\n" + b"1,0\n" * 20,
    "unclosed_quote.csv": lambda: b'a,b\n"x,1\n' + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(200_000)),
    "nul_byte_far_in.csv": lambda: b"a,b\n" + b"1,0\n" * 5_000 + b"5,\x001\n" + b"1,0\n" * 20,
    "one_long_line.csv": lambda: b",".join(b"%d" % i for i in range(700_000)),
    "one_long_field.csv": lambda: b"x" * 5_000_000,
    "millions_of_short_rows.csv": lambda: b"a,b\n" + b"1,0\n" * 2_500_000,
    "long_text_cells.csv": lambda: b"text,label\n" + b"".join(b"%s,%d\n" % (b"w" * 100_000, i % 2) for i in range(30)),
}
_INSPECT_EACH = """
import json, resource, sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from tuning.cli import main
for path in sys.argv[1:]:
    err = StringIO()
    with redirect_stdout(StringIO()), redirect_stderr(err):
        status = main(["inspect", path])
    print(json.dumps({"path": path, "status": status, "stderr": err.getvalue()}))
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def test_pathological_files_load_or_get_one_clear_refusal_within_bounded_memory(tmp_path):
    paths = []
    for name, make in PATHOLOGICAL.items():
        (tmp_path / name).write_bytes(make())
        paths.append(str(tmp_path / name))
    assert max(Path(p).stat().st_size for p in paths) <= CsvLimits().max_bytes  # within the size cap
    proc = subprocess.run([sys.executable, "-c", _INSPECT_EACH, *paths], capture_output=True, text=True,
                          timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    *outcomes, memory = [json.loads(line) for line in proc.stdout.splitlines()]
    for outcome in outcomes:
        name = Path(outcome["path"]).name
        assert outcome["status"] in (0, 2), (name, outcome)
        if outcome["status"] == 2:
            assert outcome["stderr"].startswith("error: ") and outcome["stderr"].count("\n") == 1, name
            assert "internal error" not in outcome["stderr"] and ".." not in outcome["stderr"], name
    assert memory["peak_mib"] < 600  # the largest file is 10 MB; importing the libraries takes about 200 MiB


def test_a_column_left_unnamed_in_the_header_is_shown_by_its_place_not_by_pandas_name():
    from tuning.data.csv_source import column_label

    assert column_label("Unnamed: 0") == "column 1 (no name in the header)"
    assert column_label("Unnamed: 12") == "column 13 (no name in the header)"
    assert column_label("age") == "'age'"
    assert column_label("Unnamed: x") == "'Unnamed: x'"  # a name someone wrote
