import json

import pytest

from tuning.engine.spec import ExperimentSpec, load_spec, parse_spec
from tuning.errors import SpecError, TuningError

GOOD = {
    "dataset": {"name": "digits"},
    "preprocess": "standard",
    "estimator": {"random_state": 0},
    "param_grid": {"hidden_layer_sizes": [[4], [16], [16, 8]], "max_iter": [25, 50, 100],
                   "learning_rate_init": [0.001, 0.01]},
    "cv": 3,
    "scoring": "accuracy",
    "n_jobs": 2,
}


def test_good_spec_round_trips_through_json_unchanged():
    spec = parse_spec(GOOD)
    assert isinstance(spec, ExperimentSpec)
    assert parse_spec(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.to_dict()["param_grid"] == GOOD["param_grid"]


def test_defaults_are_filled_in():
    spec = parse_spec({"dataset": {"name": "moons"}, "param_grid": {"max_iter": [10]}})
    assert spec.cv == 5 and spec.scoring == "accuracy" and spec.preprocess == "standard"
    assert spec.estimator == {"random_state": 0}
    assert spec.dataset == {"name": "moons", "n_samples": 300, "noise": 0.2, "random_state": 0}


def test_explicit_null_random_state_is_kept():
    spec = parse_spec({"dataset": "iris", "param_grid": {}, "estimator": {"random_state": None}})
    assert spec.estimator["random_state"] is None


def test_a_list_of_grids_is_kept_as_a_list():
    spec = parse_spec({"dataset": "iris", "param_grid": [{"max_iter": [5]}, {"alpha": [0.1, 1.0]}]})
    assert len(spec.param_grid) == 2
    assert spec.to_dict()["param_grid"] == [{"max_iter": [5]}, {"alpha": [0.1, 1.0]}]


def test_tuples_become_lists():
    spec = parse_spec({"dataset": "iris", "param_grid": {"hidden_layer_sizes": [(4, 2)]}})
    assert spec.param_grid[0]["hidden_layer_sizes"] == [[4, 2]]


def _with(**changes):
    spec = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is KeyError:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("raw", "field", "match"),
    [
        ([1, 2], "spec", r"needs a JSON object, got \[1, 2\] \(list\)"),
        (_with(datset={"name": "iris"}), "datset", r"Did you mean 'dataset'"),
        (_with(dataset=KeyError), "dataset", r"is missing"),
        (_with(param_grid=KeyError), "param_grid", r"is missing"),
        (_with(dataset={"name": "mnist"}), "dataset.name", r"unknown dataset 'mnist'.*Choose one of: iris"),
        (_with(dataset={"name": "moons", "noise": "high"}), "dataset.noise", r"needs a number, got 'high' \(str\)"),
        (_with(dataset={"name": "moons", "n_samples": 5}), "dataset.n_samples", r"out of range.*20 to 100000"),
        (_with(dataset={"name": "iris", "noise": 0.1}), "dataset.noise", r"iris has no option 'noise'"),
        (_with(preprocess="minmax"), "preprocess", r"'minmax' \(str\).*standard, none"),
        (_with(cv=1), "cv", r"at least 2, got 1 \(int\)"),
        (_with(cv=True), "cv", r"got True \(bool\)"),
        (_with(cv="3"), "cv", r"got '3' \(str\)"),
        (_with(scoring="acuracy"), "scoring", r"Did you mean 'accuracy'"),
        (_with(n_jobs=0), "n_jobs", r"got 0 \(int\)"),
        (_with(estimator={"hidden_units": 3}), "estimator.hidden_units", r"not an MLPClassifier parameter"),
        (_with(estimator={"solver": "newton"}), "estimator.solver", r"got 'newton'.*'adam'"),
        (_with(estimator=[1]), "estimator", r"needs an object"),
        (_with(param_grid={"max_itr": [5]}), "param_grid.max_itr", r"Did you mean 'max_iter'"),
        (_with(param_grid={"max_iter": 50}), "param_grid.max_iter",
         r"needs a list of values, got 50 \(int\)\. Single values need to be wrapped in a list: \[50\]"),
        (_with(param_grid={"solver": "adam"}), "param_grid.solver", r"wrapped in a list: \[\"adam\"\]"),
        (_with(param_grid={"max_iter": []}), "param_grid.max_iter", r"empty list"),
        (_with(param_grid={"max_iter": [10, 0]}), r"param_grid.max_iter[1]", r"got 0 \(int\).*range \[1, inf\)"),
        (_with(param_grid={"learning_rate_init": [-0.1]}), "param_grid.learning_rate_init[0]", r"-0.1 \(float\)"),
        (_with(param_grid={"hidden_layer_sizes": [[4], [0]]}), "param_grid.hidden_layer_sizes[1]",
         r"positive whole numbers, got \[0\] \(list\)"),
        (_with(param_grid={"hidden_layer_sizes": [["a"]]}), "param_grid.hidden_layer_sizes[0]", r"positive whole"),
        (_with(param_grid=[{"max_iter": [5]}, "alpha"]), "param_grid[1]", r"needs an object of parameter lists"),
        (_with(param_grid=[]), "param_grid", r"non-empty list"),
    ],
)
def test_bad_spec_names_the_field_and_the_fix(raw, field, match):
    with pytest.raises(SpecError, match=match) as info:
        parse_spec(raw)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_load_spec_reports_bad_json_with_its_position(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text('{"dataset": "iris",\n "cv": 3,,}')
    with pytest.raises(TuningError, match=r"not valid JSON: .* line 2 column 10"):
        load_spec(path)


def test_load_spec_reports_a_missing_file(tmp_path):
    with pytest.raises(TuningError, match=r"does not exist"):
        load_spec(tmp_path / "nope.json")


def test_load_spec_accepts_a_utf8_bom(tmp_path):
    path = tmp_path / "spec.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    assert load_spec(path) == parse_spec(GOOD)
