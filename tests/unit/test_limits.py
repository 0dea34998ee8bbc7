"""Cost caps on the parsed spec, and the hostile-link corpus: every link is refused quickly, naming its cap."""

import base64
import json
import time
import warnings
import zlib

import pytest
from sklearn.model_selection import GridSearchCV

from tuning.data.datasets import _BUNDLED_SHAPES, dataset_shape, load_dataset
from tuning.engine.limits import CapError, SearchLimits, check_search_costs, n_weights
from tuning.engine.search import run_search, sklearn_equivalent
from tuning.engine.spec import parse_spec
from tuning.errors import TuningError
from tuning.services.hosting import HostedLimits
from tuning.services.share import FORM_DEFAULTS, LinkLimits, decode_spec, encode_spec, form_to_spec, open_link

HOSTED = HostedLimits(enabled=True).search_limits()


def _link(raw: dict | list) -> str:
    """A link as encode_spec makes it, for any JSON (also one that is not a valid spec)."""
    return _compressed(json.dumps(raw).encode())


def _compressed(raw: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def _many_candidates() -> dict:
    ten = range(1, 11)
    grid = {"alpha": [i * 1e-5 for i in ten], "learning_rate_init": [i * 1e-3 for i in ten],
            "tol": [i * 1e-5 for i in ten], "beta_1": [i / 20 for i in ten], "momentum": [i / 20 for i in ten]}
    return {"dataset": "iris", "param_grid": grid}


# (what the issue found, the link, the cap that must refuse it)
HOSTILE_LINKS = [
    ("a 20000x20000 network passing as 2 epochs",
     _link({"dataset": "digits", "param_grid": {"hidden_layer_sizes": [[20000, 20000]], "max_iter": [2]}}),
     "network size"),
    ("a thousand one-unit layers",
     _link({"dataset": "iris", "param_grid": {"hidden_layer_sizes": [[1] * 500]}}), "hidden layers"),
    ("n_jobs 16 on a hosted server", _link({"dataset": "iris", "param_grid": {"max_iter": [2]}, "n_jobs": 16}),
     "workers"),
    ("n_jobs -1 on a hosted server", _link({"dataset": "iris", "param_grid": {"max_iter": [2]}, "n_jobs": -1}),
     "workers"),
    ("20,000 duplicate candidates", _link({"dataset": "iris", "param_grid": {"max_iter": [2] * 20_000}}),
     "decompressed size"),
    ("2,000 duplicate candidates", _link({"dataset": "iris", "param_grid": {"max_iter": [2] * 2_000}}),
     "spec values"),
    ("the same grid listed 600 times", _link({"dataset": "iris", "param_grid": [{"max_iter": [2]}] * 600}),
     "spec values"),
    ("100,000 candidates from a 300-byte link", _link(_many_candidates()), "candidates"),
    ("distinct max_iter 1..10000", _link({"dataset": "iris", "param_grid": {"max_iter": list(range(1, 10_001))}}),
     "link length"),
    ("distinct max_iter 1..300", _link({"dataset": "iris", "param_grid": {"max_iter": list(range(1, 301))}}),
     "max_iter values"),
    ("cv=1000 on 100,000 generated rows",
     _link({"dataset": {"name": "moons", "n_samples": 100_000}, "cv": 1000, "param_grid": {"max_iter": [2]}}),
     "folds × rows"),
    ("100,000 generated rows in 3 folds",
     _link({"dataset": {"name": "spirals", "n_samples": 100_000}, "cv": 3, "param_grid": {"max_iter": [2]}}),
     "folds × rows"),
    ("one-row mini-batches for 2,000 epochs",
     _link({"dataset": {"name": "moons", "n_samples": 2000}, "cv": 10,
            "param_grid": {"max_iter": [2000], "batch_size": [1], "hidden_layer_sizes": [[128, 128]]}}),
     "training work"),
    ("a million epochs", _link({"dataset": "iris", "param_grid": {"max_iter": [1_000_000]}}), "epochs"),
    ("a zip bomb: 10 MB of zeros in 10 KB", _compressed(b"[" + b"0," * 5_000_000 + b"0]"), "link length"),
    ("a zip bomb under the length cap: 2 MB in 3 KB", _compressed(b" " * 2_000_000), "decompressed size"),
    ("deep nesting", _compressed(b"[" * 20 + b"]" * 20), "nesting"),
    ("nesting deeper than Python's parser", _compressed(b"[" * 15_000 + b"]" * 15_000), "nesting"),
    ("a very long link", "A" * 100_000, "link length"),
]


@pytest.mark.parametrize(("what", "link", "cap"), HOSTILE_LINKS, ids=[h[0] for h in HOSTILE_LINKS])
def test_every_hostile_link_is_refused_quickly_naming_its_cap(what, link, cap):
    started = time.thread_time()
    with pytest.raises(CapError) as refused:
        open_link(link, HOSTED)
    cpu = time.thread_time() - started
    assert refused.value.cap == cap, str(refused.value)
    assert f"the {cap} cap" in str(refused.value)
    assert cpu < 0.5, f"{what}: {cpu:.2f} s of CPU"


def test_a_refused_link_says_by_how_much():
    with pytest.raises(CapError, match=r"100,000 candidates, above the cap of 500 \(the candidates cap; 200× over\)"):
        open_link(_link(_many_candidates()), HOSTED)
    with pytest.raises(CapError, match=r"more than 32,000 bytes of spec, the decompressed size cap"):
        decode_spec(_compressed(b" " * 2_000_000))


def test_the_forms_biggest_hosted_grid_and_every_default_pass():
    form = {"units": [128], "depths": [3], "rates": [1e-3], "iters": [25, 50, 100, 200, 400],
            "batches": ["auto"], "alphas": [1e-4], "cv": 10}
    spec = parse_spec(form_to_spec(form, {"name": "digits"}, 1))
    assert open_link(encode_spec(spec), HOSTED) == spec
    defaults = parse_spec(form_to_spec(FORM_DEFAULTS, {"name": "moons"}, 1))
    check_search_costs(defaults, HOSTED)
    check_search_costs(defaults, SearchLimits.from_env())


def test_a_value_listed_twice_is_two_candidates_as_in_gridsearchcv():
    spec = parse_spec({"dataset": "iris", "cv": 3, "param_grid": {"alpha": [0.1, 0.2, 0.1], "max_iter": [5]}})
    result = run_search(spec, n_jobs=1, refit=False)
    estimator, grid = sklearn_equivalent(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_dataset("iris")
        reference = GridSearchCV(estimator, grid, cv=3).fit(data.X, data.y)
    assert [p["alpha"] for p in result.cv_results["params"]] == [0.1, 0.2, 0.1]
    for key in ("split0_test_score", "mean_test_score", "rank_test_score"):
        assert list(result.cv_results[key]) == list(reference.cv_results_[key])


def test_local_caps_are_looser_and_set_from_the_environment(monkeypatch):
    big = parse_spec({"dataset": "digits", "n_jobs": 16, "param_grid": {"hidden_layer_sizes": [[1024, 512]]}})
    check_search_costs(big, SearchLimits.from_env())  # nothing capped workers or this size locally
    monkeypatch.setenv("TUNING_MAX_WEIGHTS", "1000")
    with pytest.raises(CapError, match="network size cap"):
        check_search_costs(big, SearchLimits.from_env())


def test_network_size_counts_weights_and_biases():
    assert n_weights([3], 2, 2) == 2 * 3 + 3 + 3 * 1 + 1
    assert n_weights(5, 4, 3) == 4 * 5 + 5 + 5 * 3 + 3


@pytest.mark.parametrize("options", [*({"name": n} for n in sorted(_BUNDLED_SHAPES)),
                                     {"name": "moons", "n_samples": 123}, {"name": "blobs", "centers": 4},
                                     {"name": "friedman1", "n_samples": 77}, {"name": "sine", "n_samples": 55}])
def test_known_dataset_shapes_match_the_data(options):
    data = load_dataset(options)
    classes = 1 if data.is_regression else len(data.class_names)  # a regressor has one output
    assert dataset_shape(options) == (data.n_samples, data.n_features, classes)


def test_run_search_checks_the_caps_before_fitting_anything(tmp_path):
    csv = tmp_path / "wide.csv"
    csv.write_text("a,b,y\n" + "".join(f"{(i * 7) % 60},{i % 3},{i % 2}\n" for i in range(60)))  # a: not the row number
    spec = {"dataset": {"csv": str(csv)}, "cv": 3, "param_grid": {"hidden_layer_sizes": [[50_000]]}}
    with pytest.raises(CapError, match="network size cap") as refused:
        run_search(spec, limits=HOSTED, store=None)
    assert refused.value.value == n_weights([50_000], 2, 2)  # measured on the loaded table
    with pytest.raises(TuningError, match="epochs cap"):
        run_search({"dataset": "iris", "param_grid": {"max_iter": [300]}}, max_epochs=100)


def test_decoding_time_is_a_cap_too():
    slow = LinkLimits(max_seconds=0.0)
    with pytest.raises(CapError, match="decoding time cap"):
        decode_spec(encode_spec(parse_spec({"dataset": "iris", "param_grid": {"alpha": [0.1, 0.2]}})), slow)
