import re

import pytest

from tuning.engine.spec import parse_spec
from tuning.errors import SpecError, TuningError
from tuning.services.share import (
    FORM_DEFAULTS,
    decode_spec,
    encode_spec,
    field_label,
    form_to_spec,
    shown_dataset,
    spec_for_display,
    spec_to_form,
    summarize_spec,
)

SPECS = [
    {"dataset": {"name": "digits"}, "param_grid": {"hidden_layer_sizes": [[4], [16, 8]], "max_iter": [25, 50]},
     "cv": 3, "n_jobs": 2, "estimator": {"random_state": 1, "solver": "sgd"}, "scoring": "f1_macro"},
    {"dataset": {"csv": "/data/my table.csv", "target": "ünïcode"}, "param_grid": [{"alpha": [0.1]}, {}],
     "preprocess": "none", "estimator": {"random_state": None}},
]


@pytest.mark.parametrize("raw", SPECS)
def test_spec_url_spec_round_trips_exactly(raw):
    spec = parse_spec(raw)
    text = encode_spec(spec)
    assert text.replace("-", "").replace("_", "").isalnum()  # URL-safe, no padding
    assert decode_spec(text) == spec


@pytest.mark.parametrize("text", ["", "abc", "%%%", encode_spec(parse_spec(SPECS[0]))[:-6]])
def test_a_damaged_link_is_one_clear_error(text):
    with pytest.raises(TuningError, match="damaged or incomplete"):
        decode_spec(text)


def test_the_form_round_trips_through_its_spec():
    form = {**FORM_DEFAULTS, "depths": [1, 2], "batches": ["auto", 32]}
    spec = parse_spec(form_to_spec(form, {"name": "wine"}, 2))
    assert spec.param_grid[0]["hidden_layer_sizes"] == [[2], [8], [32], [2, 2], [8, 8], [32, 32]]
    assert spec_to_form(spec) == form


@pytest.mark.parametrize("raw", SPECS)
def test_specs_the_form_cannot_show_are_recognised(raw):
    assert spec_to_form(parse_spec(raw)) is None


def test_the_default_form_makes_the_same_spec_as_before_solver_activation_and_early_stopping():
    # the three newer fields stay out of the grid at MLPClassifier's defaults: old links and experiments still match
    spec = parse_spec(form_to_spec(dict(FORM_DEFAULTS), {"name": "moons"}, 2))
    assert set(spec.param_grid[0]) == {"hidden_layer_sizes", "learning_rate_init", "max_iter", "batch_size", "alpha"}


def test_solver_activation_and_early_stopping_join_the_grid_and_round_trip():
    form = {**FORM_DEFAULTS, "solvers": ["sgd", "adam"], "activations": ["tanh"], "early_stopping": [True, False]}
    spec = parse_spec(form_to_spec(form, {"name": "iris"}, 1))
    grid = spec.param_grid[0]
    assert grid["solver"] == ["adam", "sgd"] and grid["activation"] == ["tanh"]
    assert grid["early_stopping"] == [False, True]
    assert spec_to_form(spec) == {**form, "solvers": ["adam", "sgd"], "early_stopping": [False, True]}


@pytest.mark.parametrize(("field", "label"), [("units", "Hidden units"), ("depths", "Hidden layers"),
                                              ("alphas", "alpha (L2)"), ("early_stopping", "Early stopping")])
def test_an_empty_field_is_named_as_the_form_labels_it(field, label):
    with pytest.raises(SpecError, match=rf"^{re.escape(label)}: nothing is chosen\. Choose at least one value$"):
        form_to_spec({**FORM_DEFAULTS, field: []}, {"name": "iris"}, 1)


@pytest.mark.parametrize(("field", "label"), [("cv", "CV folds"), ("param_grid.hidden_layer_sizes[2]",
                                                                  "Hidden units and layers"),
                                              ("param_grid.max_iter", "max_iter (epochs)"), ("scoring", "scoring")])
def test_spec_fields_are_named_as_the_form_labels_them(field, label):
    assert field_label(field) == label


def test_a_csv_spec_is_shown_by_its_file_name_never_the_servers_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_UPLOAD_DIR", str(tmp_path / "uploads"))
    kept = tmp_path / "uploads" / "f204db2c753b0937" / "penguins.csv"
    spec = parse_spec({"dataset": {"csv": str(kept), "target": "species"}, "cv": 3,
                       "param_grid": {"hidden_layer_sizes": [[4], [8]], "max_iter": [10]}})
    assert shown_dataset(spec.dataset) == 'penguins.csv (uploaded), target "species"'
    assert shown_dataset({"csv": "/home/me/data/my table.csv", "target": "y"}) == 'my table.csv, target "y"'
    assert spec_for_display(spec)["dataset"] == {"csv": "penguins.csv", "target": "species"}
    assert spec.dataset["csv"] == str(kept)  # the spec itself still runs on the kept file
    lines = summarize_spec(spec)
    assert str(tmp_path) not in " ".join(lines)
    assert lines == ['Data: penguins.csv (uploaded), target "species"',
                     "MLPClassifier or MLPRegressor (as the target is read): 2 candidates × 3 folds = 6 fits",
                     "Searched: hidden_layer_sizes [4], [8]",
                     "Fixed: max_iter=10, random_state=0"]


def test_a_summary_names_the_model_the_search_size_and_what_differs_from_the_defaults():
    spec = parse_spec({"dataset": {"name": "moons", "noise": 0.3}, "param_grid": [{"alpha": [0.1]},
                       {"alpha": [1.0], "max_iter": [5, 10]}], "preprocess": "none", "scoring": "f1_macro"})
    assert summarize_spec(spec) == ["Data: moons (n_samples=300, noise=0.3, random_state=0)",
                                    "MLPClassifier: 3 candidates × 5 folds = 15 fits, scored by f1_macro",
                                    "Searched: alpha 0.1, 1; max_iter 5, 10", "Fixed: random_state=0",
                                    "Preprocessing: none (no StandardScaler in front of the network)"]
