"""The Grid Search time estimate: how the model prices a search, and the progress it shows.

Whether the estimate matches real wall times is a bench figure (bench/bench_estimate.py);
these tests check the model's shape on fixed throughput figures, and the real calibration.
"""

from dataclasses import replace

import pytest

from tuning.data.csv_source import read_csv
from tuning.data.datasets import load_dataset
from tuning.engine.plan import Estimate, describe_progress, describe_seconds, estimate_search, plan_search
from tuning.engine.spec import parse_spec
from tuning.engine.throughput import (
    Throughput,
    load_throughput,
    machine_load_now,
    machine_throughput,
    measure_throughput,
    this_machine,
)

FIXED = Throughput(per_unit=0.01, per_epoch=1e-4, per_batch_layer=4e-5, per_weight_row=4e-10, per_score=1e-3,
                   per_table_unit=0.01, per_table_score=5e-3, worker_start=2.0, machine=this_machine(),
                   measured=0.0)
IRIS = load_dataset({"name": "iris"})


def _estimate(grid, *, data=IRIS, n_jobs=2, ready=True, load=0.0, cv=3, throughput=FIXED, refit=True, done=(),
              **estimator):
    spec = parse_spec({"dataset": "iris", "cv": cv, "param_grid": grid, "estimator": {"random_state": 0, **estimator}})
    return estimate_search(plan_search(spec), data, n_jobs=n_jobs, throughput=throughput, workers_ready=ready,
                           machine_load=load, refit=refit, done=done)


def test_workers_that_must_start_join_late_and_a_small_search_starts_none():
    big = {"hidden_layer_sizes": [[8], [16]], "max_iter": [2000]}  # seconds of training
    cold, warm = _estimate(big, ready=False), _estimate(big, ready=True)
    assert cold.startup == warm.startup == 0  # this process trains while they start
    assert warm.seconds < cold.seconds < warm.seconds + FIXED.worker_start
    assert _estimate(big, n_jobs=1, ready=False).seconds == pytest.approx(2 * warm.seconds, rel=0.25)
    small = {"hidden_layer_sizes": [[8], [16]], "max_iter": [50]}  # well under IN_PROCESS_SECONDS
    assert _estimate(small, ready=False).seconds == _estimate(small, ready=True).seconds \
        == _estimate(small, n_jobs=1).seconds


def test_candidates_in_one_stack_share_its_per_batch_work():
    one = _estimate({"learning_rate_init": [0.01], "max_iter": [2000]}, n_jobs=1)
    four = _estimate({"learning_rate_init": [0.001, 0.003, 0.01, 0.03], "max_iter": [2000]}, n_jobs=1)
    assert 1.5 * one.seconds < four.seconds < 3 * one.seconds  # not 4x: one stack per fold
    lbfgs = _estimate({"learning_rate_init": [0.01], "max_iter": [2000]}, n_jobs=1, solver="lbfgs")
    assert lbfgs.seconds > 2 * one.seconds  # trained by scikit-learn's own fit, which costs more per epoch


def test_shared_trajectories_cost_their_longest_run_not_the_sum():
    shared = _estimate({"max_iter": [50, 100, 200]})
    alone = _estimate({"max_iter": [200]})
    assert shared.training == pytest.approx(alone.training, rel=0.1)  # only the scoring of two checkpoints more
    assert _estimate({"max_iter": [400]}).training > 1.5 * alone.training


def test_work_spreads_over_the_workers_and_shares_the_cores_with_other_load():
    grid = {"hidden_layer_sizes": [[4], [8], [16], [32]], "max_iter": [2000]}  # above IN_PROCESS_SECONDS
    one, two = _estimate(grid, n_jobs=1), _estimate(grid, n_jobs=2)
    assert two.training == pytest.approx(one.training / 2, rel=0.25)
    assert _estimate(grid, n_jobs=2, load=2.0).training == pytest.approx(2 * two.training, rel=0.05)


def test_batches_layers_and_tables_cost_what_the_throughput_says():
    base = _estimate({"max_iter": [50]}, batch_size=128)
    assert _estimate({"max_iter": [50]}, batch_size=8).training > 2 * base.training
    deep = _estimate({"max_iter": [50]}, batch_size=128, hidden_layer_sizes=[100, 100, 100])
    assert deep.training > base.training
    lines = ["a,b,kind,label"] + [f"{i % 7},{i % 5},{'xyz'[i % 3]},{'pq'[i % 2]}" for i in range(150)]
    table = read_csv("\n".join(lines).encode(), name="t.csv")
    assert _estimate({"max_iter": [50]}, data=table).training > _estimate({"max_iter": [50]}).training


def test_a_resumed_search_is_estimated_on_the_fits_still_to_do():
    grid = {"hidden_layer_sizes": [[4], [8], [16], [32]], "max_iter": [2000]}  # 4 candidates, 3 folds
    full = _estimate(grid, n_jobs=1, refit=False)
    two_folds_done = {(c, f) for c in range(4) for f in (0, 1)}
    assert _estimate(grid, n_jobs=1, refit=False, done=two_folds_done).training \
        == pytest.approx(full.training / 3, rel=1e-9)
    one_fit_left = {(c, f) for c in range(4) for f in range(3)} - {(3, 2)}
    assert _estimate(grid, n_jobs=1, refit=False, done=one_fit_left).training \
        == pytest.approx(_estimate({"hidden_layer_sizes": [[32]], "max_iter": [2000]}, n_jobs=1, refit=False).training
                         / 3, rel=1e-9)
    shared = {"max_iter": [50, 100, 200]}  # one run scored at three checkpoints: one checkpoint left trains it all
    assert _estimate(shared, refit=False, done={(0, 0), (1, 0)}).training \
        == _estimate(shared, refit=False).training


def test_the_range_surrounds_the_estimate_and_reads_well():
    estimate = _estimate({"hidden_layer_sizes": [[64]], "max_iter": [400]}, ready=False)
    assert estimate.low < estimate.seconds < estimate.high
    assert Estimate(startup=2.0, training=6.0, low=5.6, high=12.0).describe() == "~8 s (6–12 s)"
    assert Estimate(startup=0.0, training=1.2, low=0.84, high=1.8).describe() == "~1.2 s (0.8–1.8 s)"
    assert Estimate(startup=0.0, training=0.3, low=0.2, high=0.45).describe() == "under 1 s"
    assert Estimate(startup=0.0, training=300.0, low=210, high=450).describe() == "~5 min (4–8 min)"


def test_progress_moves_from_the_first_second_while_workers_start():
    estimate = Estimate(startup=6.0, training=6.0, low=8.4, high=18.0)
    bar = [describe_progress(estimate, elapsed=t, done=0.0, fits_done=0, fits_total=54, workers=2)
           for t in (0.5, 1.5, 3.0, 5.5)]
    fractions = [b[0] for b in bar]
    assert fractions == sorted(fractions) and fractions[0] > 0 and fractions[-1] <= 0.5
    assert bar[1][1] == "Starting 2 worker processes… 1.5 s (about 6 s here)"
    fraction, text = describe_progress(estimate, elapsed=9.0, done=0.5, fits_done=27, fits_total=54, workers=2)
    assert 0.74 <= fraction < 1 and text == "27 / 54 fits · 9.0 s · about 3 s left"
    late = describe_progress(estimate, elapsed=60.0, done=0.1, fits_done=6, fits_total=54, workers=2)
    assert late[0] < 1 and late[1].endswith("taking longer than estimated")


def test_progress_says_longer_than_estimated_only_past_the_estimates_upper_bound():
    penguins = Estimate(startup=0.0, training=1.6, low=1.1, high=2.4)  # "~1.6 s (1.1–2.4 s)"
    assert describe_progress(penguins, elapsed=0.5, done=0.2, fits_done=24, fits_total=108, workers=2)[1] \
        == "24 / 108 fits · 0.5 s · about 1 s left"
    assert describe_progress(penguins, elapsed=1.0, done=0.3, fits_done=36, fits_total=108, workers=2)[1] \
        == "36 / 108 fits · 1.0 s · almost done"
    assert describe_progress(penguins, elapsed=2.0, done=0.8, fits_done=96, fits_total=108, workers=2)[1] \
        == "96 / 108 fits · 2.0 s · almost done"  # past the middle of the range, not past its end
    assert describe_progress(penguins, elapsed=2.6, done=0.9, fits_done=100, fits_total=108, workers=2)[1] \
        == "100 / 108 fits · 2.6 s · taking longer than estimated"
    moons = Estimate(startup=0.0, training=0.3, low=0.2, high=0.45)  # "under 1 s"
    assert describe_progress(moons, elapsed=0.1, done=0.0, fits_done=0, fits_total=108, workers=1)[1] \
        == "0 / 108 fits · 0.1 s · almost done"


def test_times_under_ten_seconds_keep_a_decimal_and_long_ones_read_in_minutes():
    assert [describe_seconds(s) for s in (0.04, 0.4, 1.26, 9.94, 12.4, 89.4, 89.6, 125)] \
        == ["0.0 s", "0.4 s", "1.3 s", "9.9 s", "12 s", "89 s", "1 min 30 s", "2 min 5 s"]


def test_the_measurement_is_cached_per_machine(tmp_path, monkeypatch):
    path = tmp_path / "throughput.json"
    measured = []
    monkeypatch.setattr("tuning.engine.throughput.measure_throughput",
                        lambda: measured.append(1) or replace(FIXED, measured=1e12))
    first = machine_throughput(path)
    assert machine_throughput(path) == first and measured == [1]  # read back, not measured again
    path.write_text(path.read_text().replace(this_machine(), "another machine"))
    assert load_throughput(path) is None
    path.write_text("{not json")
    assert load_throughput(path) is None
    path.write_text('{"per_unit": 0.01}')  # an older version's file
    assert load_throughput(path) is None
    machine_throughput(path)
    assert measured == [1, 1]


def test_measuring_this_machine_gives_usable_figures():
    measured = measure_throughput()
    figures = [measured.per_unit, measured.per_epoch, measured.per_batch_layer, measured.per_weight_row,
               measured.per_score, measured.per_table_unit, measured.per_table_score]
    assert all(f >= 0 for f in figures) and measured.per_weight_row > 0 and measured.per_epoch > 0
    assert 0.05 < measured.worker_start < 60 and measured.per_search >= 0 and measured.machine == this_machine()


def test_the_load_now_is_a_count_of_other_busy_processes():
    load = machine_load_now(0.02)
    assert 0 <= load < 1000


def test_a_regression_is_priced_as_scikit_learn_trains_it():
    sine = load_dataset({"name": "sine"})
    spec = parse_spec({"dataset": {"name": "sine"}, "cv": 3, "param_grid": {"max_iter": [2000]}})
    plan = plan_search(spec)
    as_regression = estimate_search(plan, sine, n_jobs=1, throughput=FIXED, workers_ready=True)
    as_lean = estimate_search(plan, replace(sine, task="classification"), n_jobs=1, throughput=FIXED,
                              workers_ready=True)
    assert as_regression.seconds > 2 * as_lean.seconds  # the lean trainer fits MLPClassifier only


def test_the_estimate_s_range_can_go_under_the_metric():
    # the Grid Search page shows the central figure as a metric and the range under it
    assert Estimate(startup=0.0, training=1.6, low=1.12, high=2.4).parts() == ("~1.6 s", "1.1–2.4 s")
    assert Estimate(startup=2.0, training=15.0, low=11.9, high=25.5).parts() == ("~17 s", "12–26 s")
    assert Estimate(startup=0.0, training=300.0, low=210, high=450).parts() == ("~5 min", "4–8 min")
    assert Estimate(startup=0.0, training=0.3, low=0.2, high=0.45).parts() == ("under 1 s", "")
