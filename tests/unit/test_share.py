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
    spec_to_form,
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
