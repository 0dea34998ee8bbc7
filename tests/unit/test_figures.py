"""Figures are pure functions: check the data they plot and their layout."""

import copy
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest

from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search
from tuning.figures import (
    OKABE_ITO,
    apply_theme,
    fig_candidate_losses,
    fig_compare_error_vs_size,
    fig_compare_loss_curves,
    fig_dataset_scatter,
    fig_decision_boundary,
    fig_error_by_size,
    fig_error_vs_hidden_size,
    fig_fit_timeline,
    fig_loss_curves,
    fig_score_heatmap,
    fig_training_curves,
    hidden_units,
)

GRID = {"hidden_layer_sizes": [[2], [8], [32]], "learning_rate_init": [0.003, 0.03], "max_iter": [5, 15]}


@pytest.fixture(scope="module")
def result():
    return run_search({"dataset": "iris", "cv": 3, "param_grid": GRID}, n_jobs=2)


def test_loss_curves_plot_every_epoch_of_every_run():
    fig = fig_loss_curves({"a": [3.0, 2.0, 1.5], "b": [3.0, 2.9]}, highlight="b", log_y=True)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[0].y) == [3.0, 2.0, 1.5]
    assert fig.data[1].line.width > fig.data[0].line.width and fig.data[0].opacity < 1
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "iteration (epoch)"


def test_candidate_losses_overlay_draws_the_mean_over_folds_and_stars_the_best(result):
    fig = fig_candidate_losses(result)
    assert len(fig.data) == len(result.curves)
    best = fig.data[result.best_index]
    assert best.name.startswith("★") and best.line.width == 4
    folds = result.curves[0]["folds"]
    expected = np.mean([f["loss_curve"] for f in folds], axis=0)
    np.testing.assert_allclose(fig.data[0].y, expected)
    assert set(fig.data[0].customdata) == {0}
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend.count("hidden_layer_sizes=[2]") == 1 and sum(n.startswith("★") for n in legend) == 1


def test_candidate_losses_small_multiples_put_each_value_pair_in_its_panel(result):
    fig = fig_candidate_losses(result, rows="learning_rate_init", cols="hidden_layer_sizes", highlight=3)
    assert [a.text for a in fig.layout.annotations][:3] == [
        "learning_rate_init=0.003, hidden_layer_sizes=[2]", "learning_rate_init=0.003, hidden_layer_sizes=[8]",
        "learning_rate_init=0.003, hidden_layer_sizes=[32]"]
    params = result.cv_results["params"]
    for trace in fig.data:
        candidate = trace.customdata[0]
        col = [[2], [8], [32]].index(params[candidate]["hidden_layer_sizes"]) + 1
        row = [0.003, 0.03].index(params[candidate]["learning_rate_init"]) + 1
        axis_number = (row - 1) * 3 + col
        assert trace.xaxis == ("x" if axis_number == 1 else f"x{axis_number}")
    assert fig.data[3].name.startswith("selected") or result.best_index == 3


def test_selecting_a_candidate_never_moves_the_star_off_the_best(result):
    other = next(i for i in range(len(result.curves)) if i != result.best_index)
    fig = fig_candidate_losses(result, highlight=other)
    starred = [t for t in fig.data if t.name.startswith("★")]
    assert [t.customdata[0] for t in starred] == [result.best_index]
    assert starred[0].line.color == "#000000" and starred[0].line.dash is None
    selected = fig.data[other]
    assert selected.name.startswith("selected") and selected.line.dash == "dash" and selected.line.width == 4
    assert selected.line.color != "#000000" and selected.showlegend


def test_legends_sort_numbers_as_numbers():
    grid = {"learning_rate_init": [0.01, 1e-05, 0.3, 0.001], "hidden_layer_sizes": [[2], [16]], "max_iter": [5]}
    res = run_search({"dataset": "iris", "cv": 2, "param_grid": grid}, n_jobs=1, refit=False)
    error_legend = [t.name for t in fig_error_vs_hidden_size(res).data if t.showlegend is not False]
    assert error_legend == [f"{kind} error, learning_rate_init={v}" for v in ("1e-05", "0.001", "0.01", "0.3")
                            for kind in ("CV", "train")]  # as text, "0.001" < "0.01" < "0.3" < "1e-05"
    lr_only = run_search({"dataset": "iris", "cv": 2, "param_grid": {**grid, "hidden_layer_sizes": [[4]]}},
                         n_jobs=1, refit=False)
    entries = sorted((t.legendrank, t.name) for t in fig_candidate_losses(lr_only).data if t.showlegend)
    best = lr_only.best_params["learning_rate_init"]
    assert [name for _, name in entries] == [f"★ best<br>learning_rate_init={best}"] + [
        f"learning_rate_init={v}" for v in (1e-05, 0.001, 0.01, 0.3) if v != best]


def test_a_running_search_draws_only_its_finished_candidates(result):
    partial = copy.deepcopy(result)
    partial.curves[0]["folds"][1] = None  # candidate 0 still has a fold to go
    fig = fig_candidate_losses(partial)
    assert 0 not in {t.customdata[0] for t in fig.data} and len(fig.data) == len(result.curves) - 1


def test_error_vs_hidden_size_shows_the_best_candidate_per_size_and_line(result):
    fig = fig_error_vs_hidden_size(result, line_param="learning_rate_init")
    cv = result.cv_results
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["CV error, learning_rate_init=0.003", "train error, learning_rate_init=0.003",
                                       "CV error, learning_rate_init=0.03", "train error, learning_rate_init=0.03"]
    assert list(lines[0].x) == [2, 8, 32]
    for x, y in zip(lines[0].x, lines[0].y):
        scores = [cv["mean_test_score"][i] for i, p in enumerate(cv["params"])
                  if hidden_units(p["hidden_layer_sizes"]) == x and p["learning_rate_init"] == 0.003]
        assert y == pytest.approx(1 - max(scores))
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2
    assert fig.layout.xaxis.type == "log"  # 2 to 32 spans more than a decade


def test_heatmap_holds_the_best_mean_score_per_cell(result):
    fig = fig_score_heatmap(result, x="hidden_layer_sizes", y="max_iter")
    heat = fig.data[0]
    assert list(heat.x) == ["[2]", "[8]", "[32]"] and list(heat.y) == ["5", "15"]
    cv = result.cv_results
    expected = max(s for s, p in zip(cv["mean_test_score"], cv["params"])
                   if p["hidden_layer_sizes"] == [8] and p["max_iter"] == 15)
    assert heat.z[1][1] == pytest.approx(expected)


def test_fit_timeline_has_a_bar_per_fit_and_a_row_per_worker(result):
    fig = fig_fit_timeline(result)
    assert sum(len(t.x) for t in fig.data) == len(result.fits) == 36
    assert {t.name for t in fig.data} == {f["worker"] for f in result.fits}
    assert all(d >= 0 for t in fig.data for d in t.x)


def test_fit_timeline_says_in_words_where_the_fits_ran(result):
    here = replace(result, fits=[{**f, "worker": "server:100"} for f in result.fits])
    asked_two = replace(here, spec=replace(result.spec, n_jobs=2))
    assert fig_fit_timeline(asked_two).layout.title.text \
        == "Fit timeline: 36 fits, all in the search's own process (too small to be worth starting workers)"
    assert fig_fit_timeline(replace(here, spec=replace(result.spec, n_jobs=1))).layout.title.text \
        == "Fit timeline: 36 fits, all in the search's own process"
    spread = replace(result, fits=[{**f, "worker": f"server:{100 + i % 2}"} for i, f in enumerate(result.fits)])
    fig = fig_fit_timeline(spread)
    assert fig.layout.title.text == "Fit timeline: 36 fits on 2 processes"
    assert {y for t in fig.data for y in t.y} == {"process 100", "process 101"}
    dask = replace(result, fits=[{**f, "worker": "tcp://10.0.0.5:4000"} for f in result.fits])
    assert fig_fit_timeline(dask).layout.title.text == "Fit timeline: 36 fits, all on one Dask worker"


def test_decision_boundary_sits_under_the_points():
    data = load_dataset({"name": "blobs", "n_samples": 90})

    class Nearest:  # any fitted classifier with predict
        def predict(self, X):
            return (X[:, 0] > 0).astype(int)

    fig = fig_decision_boundary(Nearest(), data, resolution=20)
    assert fig.data[0].type == "heatmap" and np.asarray(fig.data[0].z).shape == (20, 20)
    assert [t.name for t in fig.data[1:]] == data.class_names
    assert fig_dataset_scatter(data).layout.yaxis.scaleanchor == "x"


def test_projection_mode_makes_text_readable_from_the_back():
    fig = apply_theme(fig_loss_curves({"a": [1.0, 0.5]}), projection=True)
    assert fig.layout.xaxis.title.font.size >= 20 and fig.layout.xaxis.tickfont.size >= 20
    assert fig.layout.yaxis.tickfont.size >= 20 and fig.data[0].line.width >= 4
    assert list(fig.layout.colorway) == OKABE_ITO


def test_projection_mode_labels_only_the_decades_of_a_log_axis_spanning_several():
    # Projected, the 2s and 5s between powers of ten ran into them (a loss from 20 down to 0.001)
    runs = {"too high": [20.0, 3.0, 1.5], "good": [2.0, 0.1, 0.001]}
    fig = fig_loss_curves(runs, log_y=True, projection=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == 1
    assert fig.layout.yaxis.tickfont.size == 22 and fig.layout.xaxis.tickfont.size == 22
    assert fig_loss_curves(runs, log_y=True).layout.yaxis.dtick == "D2"  # on a screen they stay
    themed = apply_theme(fig_loss_curves(runs, log_y=True), projection=True)  # as show_chart projects a figure
    assert themed.layout.yaxis.dtick == 1


def test_projection_mode_keeps_in_between_labels_of_a_short_log_axis_and_readable():
    # from 1.1 to 0.3 only one power of ten is in view: decades alone would leave one label
    fig = fig_loss_curves({"a": [1.1, 0.6, 0.3]}, log_y=True, projection=True)
    assert fig.layout.yaxis.dtick == "D2"
    assert 0.75 * fig.layout.yaxis.tickfont.size >= 20  # Plotly draws the 2s and 5s at 3/4 size


def test_projection_mode_leaves_a_log_axis_with_its_own_ticks_alone():
    table = [{"size": s, "test_error": 0.1, "test_std": 0.0, "train_error": 0.05, "train_std": 0.0}
             for s in (2, 8, 32, 128)]
    fig = fig_error_by_size(table, projection=True)
    assert list(fig.layout.xaxis.tickvals) == [2, 8, 32, 128] and fig.layout.xaxis.dtick is None


@pytest.fixture(scope="module")
def other():
    grid = {"hidden_layer_sizes": [[4], [64]], "max_iter": [10, 30]}
    return run_search({"dataset": "wine", "cv": 3, "param_grid": grid}, n_jobs=1, refit=False)


def test_two_experiments_side_by_side_share_the_error_axes(result, other):
    fig = fig_compare_error_vs_size({"A: iris": result, "B: wine": other})
    cv_lines = [t for t in fig.data if (t.name or "").startswith("CV error")]
    assert [t.name for t in cv_lines] == ["CV error, A: iris", "CV error, B: wine"]
    assert list(cv_lines[0].x) == [2, 8, 32] and list(cv_lines[1].x) == [4, 64]
    candidates = [i for i, p in enumerate(other.cv_results["params"]) if p["hidden_layer_sizes"] == [64]]
    best_at_64 = max(candidates, key=lambda i: other.cv_results["mean_test_score"][i])
    assert cv_lines[1].y[-1] == pytest.approx(1 - other.cv_results["mean_test_score"][best_at_64])
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [2, 4, 8, 32, 64]
    assert cv_lines[0].line.color != cv_lines[1].line.color


def test_two_experiments_loss_curves_sit_in_panels_with_shared_axes(result, other):
    fig = fig_compare_loss_curves({"A": result, "B": other})
    assert [a.text for a in fig.layout.annotations] == ["A", "B"]
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    for panel, res in (("x", result), ("x2", other)):
        traces = [t for t in fig.data if t.xaxis == panel]
        assert len(traces) == len(res.curves)
        (starred,) = [t for t in traces if t.name.startswith("★")]
        assert starred.customdata[0] == res.best_index


def test_training_curves_grow_into_an_axis_spanning_every_epoch_and_fade_when_stale():
    fig = fig_training_curves([0.9, 0.6, 0.5], [1.0, 0.7, 0.65], epochs=100)
    assert [t.name for t in fig.data] == ["training loss", "validation loss (held-out 25%)"]
    assert list(fig.data[1].x) == [1, 2, 3] and list(fig.data[1].y) == [1.0, 0.7, 0.65]
    assert tuple(fig.layout.xaxis.range) == (1, 100) and fig.layout.yaxis.title.text == "loss (log-loss)"
    assert all(t.opacity == 1.0 for t in fig.data) and "stale" not in fig.layout.title.text
    stale = fig_training_curves([0.9], [1.0], epochs=1, stale=True)
    assert all(t.opacity < 0.5 for t in stale.data) and "stale" in stale.layout.title.text
    assert tuple(stale.layout.xaxis.range) == (1, 2)  # one epoch still has an axis
