"""Figures: pure functions, results in, ``plotly.graph_objects.Figure`` out.

The search figures take a :class:`~tuning.SearchResult` or a fitted ``tuning.GridSearchCV``.

Every figure goes through :func:`apply_theme` (the Okabe–Ito colour-blind-safe palette,
readable fonts, and a projection mode with large text and thick lines).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult, as_search_result

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
PROJECTION_MIN_TEXT = 20  # px: the smallest text in a figure in projection mode
LOG_MINOR_LABEL_SCALE = 0.75  # Plotly draws a log axis's in-between labels (2, 5, ...) at 3/4 of the tick size


def apply_theme(fig: go.Figure, *, projection: bool = False) -> go.Figure:
    """Style a figure: palette, fonts, margins; ``projection`` for the back of a classroom."""
    base = 22 if projection else 14
    fig.update_layout(
        template="plotly_white",
        colorway=OKABE_ITO,
        font={"size": base, "family": "Inter, Arial, sans-serif", "color": "#111111"},
        title={"font": {"size": base + 6}},
        legend={"font": {"size": base - 2}},
        margin={"l": 70, "r": 30, "t": max(70, fig.layout.margin.t or 0), "b": 60},
        hoverlabel={"font": {"size": base}},
    )
    axis_style = {"title_font": {"size": base + 2 if projection else base},
                  "tickfont": {"size": base if projection else base - 2},
                  "showline": True, "linecolor": "#444", "gridcolor": "#e5e5e5"}
    fig.update_xaxes(**axis_style)
    fig.update_yaxes(**axis_style)
    if projection:
        fig.update_traces(line={"width": 5}, selector={"type": "scatter"})
        minor_readable = math.ceil(PROJECTION_MIN_TEXT / LOG_MINOR_LABEL_SCALE)
        for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
            if axis.type != "log" or axis.tickvals is not None:  # with tickvals every label is full size
                continue
            if len(_powers_of_ten_in_view(fig, axis)) >= 2:
                axis.dtick = 1  # the decades alone: enlarged, the 2s and 5s between them run into them
            else:  # one decade or less in view: its in-between labels are all there is to read
                axis.tickfont.size = max(base, minor_readable)
    return fig


def _powers_of_ten_in_view(fig: go.Figure, axis: Any) -> list[int]:
    """The exponents of the powers of ten a log axis shows: within its range, or its traces' data."""
    if axis.range is not None:  # a log axis's range is in exponents
        low, high = sorted(axis.range)
    else:
        ref = axis.plotly_name.replace("axis", "")  # "yaxis2" -> "y2", as traces name their axes
        letter = ref[0]
        values = []
        for trace in fig.data:
            if (getattr(trace, f"{letter}axis", None) or letter) != ref or getattr(trace, letter, None) is None:
                continue
            try:
                values.append(np.asarray(getattr(trace, letter), dtype=float).ravel())
            except (TypeError, ValueError):  # categories or dates: not on a log axis
                continue
        data = np.concatenate(values) if values else np.array([])
        data = data[np.isfinite(data) & (data > 0)]
        if not data.size:
            return []
        low, high = np.log10(data.min()), np.log10(data.max())
    return list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))


def format_params(params: Mapping[str, Any]) -> str:
    """``hidden_layer_sizes=[16, 8], max_iter=50`` for legends and titles."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items())


def fig_loss_curves(
    runs: Mapping[str, Sequence[float]],
    *,
    title: str = "Training loss over iterations",
    highlight: str | None = None,
    log_y: bool = False,
    updates_per_epoch: Mapping[str, int] | None = None,
    projection: bool = False,
) -> go.Figure:
    """One line per run: log-loss after each epoch. ``highlight`` draws one run bold.

    With ``updates_per_epoch`` (mini-batches per epoch, per run) the x axis counts
    weight updates instead of epochs.
    """
    fig = go.Figure()
    for i, (label, losses) in enumerate(runs.items()):
        bold = highlight is not None and label == highlight
        faded = highlight is not None and not bold
        step = updates_per_epoch[label] if updates_per_epoch else 1
        fig.add_trace(go.Scatter(
            x=[step * k for k in range(1, len(losses) + 1)], y=list(losses), mode="lines", name=label,
            line={"width": 4 if bold else 2.5, "color": OKABE_ITO[i % len(OKABE_ITO)]},
            opacity=0.35 if faded else 1.0,
        ))
    fig.update_layout(title=title, xaxis_title="weight updates" if updates_per_epoch else "iteration (epoch)",
                      yaxis_title="training loss (log-loss)", hovermode="x unified")
    if log_y:
        fig.update_yaxes(type="log", dtick="D2")
    if updates_per_epoch:  # from tens to thousands of updates
        fig.update_xaxes(type="log")
    return apply_theme(fig, projection=projection)


def _mean_curve(folds: Sequence[Mapping[str, Any] | None]) -> list[float]:
    """The mean training loss across folds, epoch by epoch, while every fold still runs."""
    curves = [f["loss_curve"] for f in folds if f and f.get("loss_curve")]
    if not curves:
        return []
    length = min(len(c) for c in curves)
    return np.mean([c[:length] for c in curves], axis=0).tolist()


def _varying(params_list: Sequence[Mapping[str, Any]]) -> list[str]:
    names = sorted({k for p in params_list for k in p})
    return [n for n in names if len({json.dumps(p.get(n)) for p in params_list}) > 1]


def _finished(curve: Mapping[str, Any]) -> bool:
    """Every fold of the candidate has finished (a running or stopped search has some that have not)."""
    return all(f is not None for f in curve["folds"])


def fig_candidate_losses(
    result: SearchResult | Any,
    *,
    rows: str | None = None,
    cols: str | None = None,
    highlight: int | None = None,
    projection: bool = False,
) -> go.Figure:
    """Loss over iterations for every finished candidate (mean over folds), one trace per candidate.

    With ``rows``/``cols`` (parameter names) one panel per value pair, the other
    parameters as lines; without, one overlay. The best candidate is always the bold
    black "★ best" line; ``highlight`` (a selected candidate) is drawn dashed in its
    own colour, so selecting another candidate never moves the star. Legend entries
    follow the values' order, numbers as numbers.
    """
    result = as_search_result(result)
    params = result.cv_results["params"]
    best = result.best_index
    row_values = sorted({json.dumps(p.get(rows)) for p in params}, key=_sort_key) if rows else ["null"]
    col_values = sorted({json.dumps(p.get(cols)) for p in params}, key=_sort_key) if cols else ["null"]
    titles = [", ".join(x for x in (f"{rows}={r}" if rows else "", f"{cols}={c}" if cols else "") if x)
              for r in row_values for c in col_values]
    fig = make_subplots(rows=len(row_values), cols=len(col_values), shared_xaxes=True, shared_yaxes=True,
                        subplot_titles=titles if (rows or cols) else None,
                        horizontal_spacing=0.04, vertical_spacing=0.08)
    legend_names = [n for n in _varying(params) if n not in (rows, cols)]
    colour_by = next((n for n in legend_names if n != "max_iter"), None)
    colour_values = sorted({json.dumps(p.get(colour_by)) for p in params}, key=_sort_key) if colour_by else []
    in_legend: set[str] = set()
    for index, (p, curve) in enumerate(zip(params, result.curves)):
        losses = _mean_curve(curve["folds"]) if _finished(curve) else []
        if not losses:
            continue
        r = row_values.index(json.dumps(p.get(rows))) + 1 if rows else 1
        c = col_values.index(json.dumps(p.get(cols))) + 1 if cols else 1
        value = json.dumps(p.get(colour_by))
        colour = OKABE_ITO[colour_values.index(value) % 7] if colour_by else OKABE_ITO[0]
        group = f"{colour_by}={value}" if colour_by else "candidates"
        described = "<br>".join(f"{n}={json.dumps(p.get(n))}" for n in legend_names) or f"candidate {index}"
        if index == best:
            style = {"name": f"★ best<br>{described}", "legendgroup": "best", "legendrank": 1, "showlegend": True,
                     "line": {"width": 4, "color": "#000000"}, "opacity": 1.0}
        elif index == highlight:
            style = {"name": f"selected<br>{described}", "legendgroup": "selected", "legendrank": 2,
                     "showlegend": True, "line": {"width": 4, "color": colour, "dash": "dash"}, "opacity": 1.0}
        else:
            rank = 10 + (colour_values.index(value) if colour_by else 0)
            style = {"name": group, "legendgroup": group, "legendrank": rank, "showlegend": group not in in_legend,
                     "line": {"width": 1.8, "color": colour}, "opacity": 0.55}
            in_legend.add(group)
        fig.add_trace(go.Scatter(
            x=list(range(1, len(losses) + 1)), y=losses, mode="lines", customdata=[index] * len(losses),
            hovertemplate=f"candidate {index}<br>{format_params(p)}<br>epoch %{{x}}: loss %{{y:.4f}}<extra></extra>",
            **style,
        ), row=r, col=c)
    fig.update_layout(title="Loss over iterations, every candidate (mean over folds)",
                      height=max(420, 260 * len(row_values)))
    fig.update_xaxes(title_text="iteration", row=len(row_values))
    fig.update_yaxes(title_text="training loss", col=1)
    return apply_theme(fig, projection=projection)


def hidden_units(sizes: Any) -> int:
    """Total hidden units of a ``hidden_layer_sizes`` value."""
    return int(sum(sizes)) if isinstance(sizes, (list, tuple)) else int(sizes)


def _std_band(x: list, err: np.ndarray, std: np.ndarray, colour: str, name: str | None = None) -> go.Scatter:
    """A shaded ±1 std band around an error line (drawn before the line, out of the legend)."""
    return go.Scatter(x=x + x[::-1], y=list(err + std) + list((err - std)[::-1]), fill="toself", fillcolor=colour,
                      opacity=0.15, line={"width": 0}, hoverinfo="skip", showlegend=False, name=name)


def _best_per_size(result: SearchResult, line_param: str | None) -> dict[tuple[str, str], int]:
    """For each (``line_param`` value, hidden_layer_sizes), the candidate with the best mean CV score."""
    cv = result.cv_results
    best: dict[tuple[str, str], int] = {}
    for i, p in enumerate(cv["params"]):
        if math.isnan(cv["mean_test_score"][i]):
            continue
        key = (json.dumps(p.get(line_param)), json.dumps(p.get("hidden_layer_sizes", [100])))
        if key not in best or cv["mean_test_score"][i] > cv["mean_test_score"][best[key]]:
            best[key] = i
    return best


_ERROR_NAMES = {"neg_root_mean_squared_error": "RMSE", "neg_mean_absolute_error": "MAE",
                "neg_mean_squared_error": "MSE", "neg_median_absolute_error": "median absolute error",
                "r2": "R²", "accuracy": "accuracy"}


def error_of(scoring: str | None) -> tuple[float, float, str]:
    """How a score reads as an error, ``offset + sign * score``, and the axis title.

    Scores where higher is better and 1 is perfect (accuracy, R²) become ``1 − score``;
    scikit-learn's negated errors (``neg_root_mean_squared_error``…) become the error itself,
    in the target's units.
    """
    name = _ERROR_NAMES.get(scoring or "", scoring or "score")
    if scoring and scoring.startswith("neg_"):
        name = _ERROR_NAMES.get(scoring, scoring.removeprefix("neg_").replace("_", " "))
        return 0.0, -1.0, f"{name} (in the target's units)"
    return 1.0, -1.0, f"error (1 − {name})"


def _add_error_lines(fig: go.Figure, result: SearchResult, idx: list[int], colour: str, label: str | None) -> None:
    """CV error (solid, with its ±1 std band) and train error (dotted) of candidates ``idx`` by hidden units."""
    cv, params = result.cv_results, result.cv_results["params"]
    offset, sign, _ = error_of(result.scoring)
    idx = sorted(idx, key=lambda i: hidden_units(params[i].get("hidden_layer_sizes", [100])))
    x = [hidden_units(params[i].get("hidden_layer_sizes", [100])) for i in idx]
    sizes = [json.dumps(params[i].get("hidden_layer_sizes", [100])) for i in idx]
    kinds = (("test", "solid"), ("train", "dot")) if "mean_train_score" in cv else (("test", "solid"),)
    for kind, dash in kinds:  # train scores are there unless the search was told not to keep them
        err = offset + sign * np.asarray([cv[f"mean_{kind}_score"][i] for i in idx], dtype=float)
        std = np.asarray([cv[f"std_{kind}_score"][i] for i in idx], dtype=float)
        name = f"{'CV' if kind == 'test' else 'train'} error" + (f", {label}" if label else "")
        if kind == "test":
            fig.add_trace(_std_band(x, err, std, colour, f"±1 std, {label or 'CV'}"))
        fig.add_trace(go.Scatter(x=x, y=err.tolist(), mode="lines+markers", name=name, customdata=sizes,
                                 line={"color": colour, "dash": dash, "width": 3},
                                 hovertemplate="hidden_layer_sizes=%{customdata}<br>error %{y:.3f}<extra></extra>"))


def _hidden_units_axis(fig: go.Figure, results: Sequence[SearchResult]) -> None:
    """Hidden units on x: a tick at every size searched, log scale when the sizes span a decade."""
    all_x = [hidden_units(p.get("hidden_layer_sizes", [100])) for r in results for p in r.cv_results["params"]]
    all_x = all_x or [1]
    scoring = results[0].scoring if results else None
    fig.update_layout(xaxis_title="hidden units (total)", yaxis_title=error_of(scoring)[2])
    if max(all_x) >= 10 * min(all_x):
        fig.update_xaxes(type="log")
    fig.update_xaxes(tickvals=sorted(set(all_x)))


def fig_error_vs_hidden_size(
    result: SearchResult | Any,
    *,
    line_param: str | None = "learning_rate_init",
    projection: bool = False,
) -> go.Figure:
    """Train and CV error against total hidden units, ±1 std across folds.

    The error is ``1 − score`` (accuracy, R²), or for scikit-learn's negated errors
    (``neg_root_mean_squared_error``…) the error itself, in the target's units.

    One pair of lines per value of ``line_param`` (in the values' order, numbers as
    numbers); for each size and line the best candidate over the other parameters is
    shown. Log x when sizes span a decade.
    """
    result = as_search_result(result)
    if line_param and line_param not in _varying(result.cv_results["params"]):
        line_param = None
    best = _best_per_size(result, line_param)
    fig = go.Figure()
    for n, line in enumerate(sorted({k[0] for k in best}, key=_sort_key)):
        _add_error_lines(fig, result, [i for k, i in best.items() if k[0] == line], OKABE_ITO[n % len(OKABE_ITO)],
                         f"{line_param}={line}" if line_param else None)
    fig.update_layout(title="Error versus hidden-layer size")
    _hidden_units_axis(fig, [result])
    return apply_theme(fig, projection=projection)


def fig_compare_error_vs_size(results: Mapping[str, SearchResult], *, projection: bool = False) -> go.Figure:
    """Two (or more) experiments' error against hidden units on one pair of axes.

    ``results`` maps a label (e.g. "A: 3f2a…") to a result; for each hidden size the
    experiment's best candidate over its other parameters is drawn, CV error solid with
    its ±1 std band and train error dotted, one colour per experiment.
    """
    fig = go.Figure()
    for n, (label, result) in enumerate(results.items()):
        best = _best_per_size(result, None)
        _add_error_lines(fig, result, list(best.values()), OKABE_ITO[n % len(OKABE_ITO)], label)
    fig.update_layout(title="Error versus hidden-layer size, side by side")
    _hidden_units_axis(fig, list(results.values()))
    return apply_theme(fig, projection=projection)


def fig_compare_loss_curves(results: Mapping[str, SearchResult], *, projection: bool = False) -> go.Figure:
    """Every finished candidate's loss curve (mean over folds), one panel per experiment, shared axes.

    In each panel the experiment's best candidate is the bold black "★ best" line, the
    others faded in the experiment's colour; the axes are the same in every panel.
    """
    labels = list(results)
    fig = make_subplots(rows=1, cols=max(1, len(labels)), shared_xaxes="all", shared_yaxes="all",
                        subplot_titles=labels, horizontal_spacing=0.05)
    for n, (label, result) in enumerate(results.items()):
        colour = OKABE_ITO[n % 7]
        first_other = next((i for i, c in enumerate(result.curves) if _finished(c) and i != result.best_index), None)
        for index, (p, curve) in enumerate(zip(result.cv_results["params"], result.curves)):
            losses = _mean_curve(curve["folds"]) if _finished(curve) else []
            if not losses:
                continue
            best = index == result.best_index
            fig.add_trace(go.Scatter(
                x=list(range(1, len(losses) + 1)), y=losses, mode="lines", customdata=[index] * len(losses),
                name=f"★ best of {label}" if best else label, legendgroup=f"{label}{best}",
                showlegend=best or index == first_other,
                line={"width": 4 if best else 1.6, "color": "#000000" if best else colour},
                opacity=1.0 if best else 0.5, legendrank=2 * n + (1 if best else 2),
                hovertemplate=f"{label}, candidate {index}<br>{format_params(p)}<br>"
                              "epoch %{x}: loss %{y:.4f}<extra></extra>",
            ), row=1, col=n + 1)
    fig.update_layout(title="Loss over iterations, side by side (mean over folds)", height=460)
    fig.update_xaxes(title_text="iteration")
    fig.update_yaxes(title_text="training loss", col=1)
    return apply_theme(fig, projection=projection)


def fig_score_heatmap(result: SearchResult | Any, *, x: str, y: str, projection: bool = False) -> go.Figure:
    """Mean CV score over two parameters (the best over any others)."""
    result = as_search_result(result)
    cv = result.cv_results
    params = cv["params"]
    xs = sorted({json.dumps(p.get(x)) for p in params}, key=_sort_key)
    ys = sorted({json.dumps(p.get(y)) for p in params}, key=_sort_key)
    z = np.full((len(ys), len(xs)), np.nan)
    for i, p in enumerate(params):
        score = cv["mean_test_score"][i]
        if score is None or math.isnan(score):
            continue
        r, c = ys.index(json.dumps(p.get(y))), xs.index(json.dumps(p.get(x)))
        z[r, c] = score if math.isnan(z[r, c]) else max(z[r, c], score)
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, colorscale="Viridis", text=np.round(z, 3), texttemplate="%{text}",
                               colorbar={"title": {"text": "mean CV score"}}, hoverongaps=False))
    fig.update_layout(title="Mean CV score", xaxis_title=x, yaxis_title=y)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return apply_theme(fig, projection=projection)


def _sort_key(text: str) -> tuple[int, Any]:
    value = json.loads(text)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, list):
        return (1, hidden_units(value))
    return (2, str(value))


def _where_fits_ran(result: SearchResult, workers: list[str]) -> str:
    """``54 fits on 2 processes``, or, in one, why: a search too small to start workers trains in its own."""
    if len(workers) > 1:
        return f"{len(result.fits)} fits on {len(workers)} processes"
    if workers and "://" in workers[0]:  # a Dask worker's address
        return f"{len(result.fits)} fits, all on one Dask worker"
    asked = (result.spec.n_jobs if result.spec is not None else None) or 1
    why = " (too small to be worth starting workers)" if asked != 1 else ""
    return f"{len(result.fits)} fits, all in the search's own process{why}"


def _process_label(worker: str, workers: list[str]) -> str:
    """``process 4242`` for a ``host:pid`` when every process is on one host; else the label as it is."""
    hosts = {w.rpartition(":")[0] for w in workers}
    pid = worker.rpartition(":")[2]
    return f"process {pid}" if "://" not in worker and len(hosts) == 1 and pid.isdigit() else worker


def fig_fit_timeline(result: SearchResult | Any, *, projection: bool = False) -> go.Figure:
    """One bar per fit, one row per process: what ran in parallel, and for how long."""
    result = as_search_result(result)
    workers = sorted({f["worker"] for f in result.fits})
    fig = go.Figure()
    for n, worker in enumerate(workers):
        fits = [f for f in result.fits if f["worker"] == worker]
        label = _process_label(worker, workers)
        fig.add_trace(go.Bar(
            base=[f["start"] for f in fits], x=[f["end"] - f["start"] for f in fits], y=[label] * len(fits),
            orientation="h", name=worker, marker={"color": OKABE_ITO[n % len(OKABE_ITO)]}, opacity=0.55,
            customdata=[[f["candidate"], f["fold"], f["n_iter"]] for f in fits],
            hovertemplate="candidate %{customdata[0]}, fold %{customdata[1]}<br>%{customdata[2]} epochs<br>"
                          "%{base:.2f}s → %{x:.2f}s long<extra></extra>",
        ))
    fig.update_layout(title=f"Fit timeline: {_where_fits_ran(result, workers)}",
                      xaxis_title="seconds since the search started", yaxis_title="process", barmode="overlay",
                      showlegend=False, height=180 + 60 * len(workers))
    return apply_theme(fig, projection=projection)


def fig_dataset_scatter(data: Dataset, *, projection: bool = False) -> go.Figure:
    """The two features of a 2-D dataset, coloured by class; for 1-D regression data, the target against x."""
    if data.is_line:
        fig = go.Figure(go.Scatter(x=data.X[:, 0], y=data.y, mode="markers", name="data",
                                   marker={"color": OKABE_ITO[0], "size": 7, "opacity": 0.7}))
        fig.update_layout(title=f"{data.name}: {data.n_samples} points", xaxis_title=data.feature_names[0],
                          yaxis_title="target")
        return apply_theme(fig, projection=projection)
    fig = go.Figure()
    for k, name in enumerate(data.class_names):
        mask = data.y == k
        fig.add_trace(go.Scatter(x=data.X[mask, 0], y=data.X[mask, 1], mode="markers", name=name,
                                 marker={"color": OKABE_ITO[k % len(OKABE_ITO)], "size": 7, "opacity": 0.8,
                                         "line": {"width": 0.5, "color": "white"}}))
    fig.update_layout(title=f"{data.name}: {data.n_samples} points", xaxis_title=data.feature_names[0],
                      yaxis_title=data.feature_names[1])
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    fig.update_xaxes(constrain="domain")  # equal scales by narrowing the plot, not by widening the range
    return apply_theme(fig, projection=projection)


def fig_decision_boundary(model: Any, data: Dataset, *, resolution: int = 150, projection: bool = False) -> go.Figure:
    """A fitted 2-D classifier's predicted class over the plane, with the data on top."""
    pad = 0.1 * (data.X.max(axis=0) - data.X.min(axis=0))
    lo, hi = data.X.min(axis=0) - pad, data.X.max(axis=0) + pad
    gx, gy = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    predicted = model.predict(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    n = len(data.class_names)
    colours = [OKABE_ITO[k % len(OKABE_ITO)] for k in range(n)]
    scale = [[k / max(n - 1, 1), c] for k, c in enumerate(colours)] if n > 1 else [[0, colours[0]], [1, colours[0]]]
    fig = fig_dataset_scatter(data, projection=projection)
    fig.add_trace(go.Heatmap(x=gx, y=gy, z=predicted, colorscale=scale, opacity=0.25, showscale=False,
                             hoverinfo="skip", zmin=0, zmax=max(n - 1, 1)))
    fig.data = (fig.data[-1], *fig.data[:-1])  # the boundary under the points
    fig.update_layout(title="Decision boundary")
    return fig


def fig_fit_curve(model: Any, data: Dataset, *, resolution: int = 300, projection: bool = False) -> go.Figure:
    """A fitted regressor on 1-feature data: its prediction as a curve over x, with the data on top
    (the regression twin of the decision boundary)."""
    x = data.X[:, 0]
    pad = 0.05 * (x.max() - x.min())
    grid = np.linspace(x.min() - pad, x.max() + pad, resolution)
    fig = fig_dataset_scatter(data, projection=projection)
    fig.add_trace(go.Scatter(x=grid, y=model.predict(grid.reshape(-1, 1)).tolist(), mode="lines", name="network",
                             line={"color": OKABE_ITO[3], "width": 4}))
    fig.update_layout(title="What the network learnt: its prediction over x")
    return apply_theme(fig, projection=projection)


def fig_fitted_curves(points: Mapping[str, Sequence[float]], curves: Mapping[str, Mapping[str, Sequence[float]]], *,
                      projection: bool = False) -> go.Figure:
    """1-D data (``points["x"]``, ``points["y"]``) and several networks' predictions over x, one line each
    (``curves[label]["x"]``, ``curves[label]["y"]``)."""
    fig = go.Figure(go.Scatter(x=list(points["x"]), y=list(points["y"]), mode="markers", name="data",
                               marker={"color": "#777777", "size": 7, "opacity": 0.6}))
    for n, (label, curve) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=list(curve["x"]), y=list(curve["y"]), mode="lines", name=label,
                                 line={"color": OKABE_ITO[(n + 1) % len(OKABE_ITO)], "width": 3.5}))
    fig.update_layout(title="What each network learnt", xaxis_title="x", yaxis_title="y")
    return apply_theme(fig, projection=projection)


def fig_predicted_vs_actual(model: Any, data: Dataset, *, title: str | None = None,
                            projection: bool = False) -> go.Figure:
    """A fitted regressor's predictions against the true targets, with the diagonal where they would agree."""
    predicted = np.asarray(model.predict(data.X), dtype=float)
    actual = np.asarray(data.y, dtype=float)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    fig = go.Figure([
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect prediction",
                   line={"color": "#888888", "dash": "dash", "width": 2}, hoverinfo="skip"),
        go.Scatter(x=actual.tolist(), y=predicted.tolist(), mode="markers", name="rows",
                   marker={"color": OKABE_ITO[0], "size": 7, "opacity": 0.6},
                   hovertemplate="actual %{x:.3g}<br>predicted %{y:.3g}<extra></extra>"),
    ])
    fig.update_layout(title=title or f"Predicted versus actual (RMSE {rmse:.3g})", xaxis_title="actual target",
                      yaxis_title="predicted target")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    fig.update_xaxes(constrain="domain")
    return apply_theme(fig, projection=projection)


def fig_error_by_size(
    table: Sequence[Mapping[str, float]], *, best_size: int | None = None, error_label: str = "error (1 − accuracy)",
    projection: bool = False,
) -> go.Figure:
    """Train and test error against hidden units (rows of ``size``, ``*_error``, ``*_std``), best size marked."""
    sizes = [row["size"] for row in table]
    fig = go.Figure()
    for n, (kind, label) in enumerate((("test", "test error (CV)"), ("train", "training error"))):
        err = np.array([row[f"{kind}_error"] for row in table])
        std = np.array([row[f"{kind}_std"] for row in table])
        colour = OKABE_ITO[n * 2]
        fig.add_trace(_std_band(sizes, err, std, colour))
        fig.add_trace(go.Scatter(x=sizes, y=err.tolist(), mode="lines+markers", name=label,
                                 line={"color": colour, "width": 3, "dash": "solid" if kind == "test" else "dot"}))
    if best_size is not None:
        best = next(row for row in table if row["size"] == best_size)
        fig.add_trace(go.Scatter(x=[best_size], y=[best["test_error"]], mode="markers+text", name="best size",
                                 marker={"symbol": "star", "size": 22, "color": OKABE_ITO[3]},
                                 text=[f"best: {best_size} units"], textposition="top center"))
    fig.update_layout(title="Error versus hidden-layer size", xaxis_title="hidden units", yaxis_title=error_label)
    fig.update_xaxes(type="log", tickvals=sizes)
    return apply_theme(fig, projection=projection)


def fig_lesson(result: Any, *, projection: bool = False) -> list[go.Figure]:
    """The charts a lesson preset shows, from its ``LessonResult``."""
    data = result.data
    if result.name == "learning_rate":
        return [fig_loss_curves(data["curves"], title="Loss over iterations: three learning rates", log_y=True,
                                projection=projection)]
    if result.name == "hidden_size":
        return [fig_error_by_size(data["table"], best_size=data["best_size"], projection=projection)]
    if result.name == "hidden_size_regression":
        return [fig_error_by_size(data["table"], best_size=data["best_size"], error_label="RMSE (target units)",
                                  projection=projection),
                fig_fitted_curves(data["points"], data["fits"], projection=projection)]
    if result.name == "grid_search":
        search = SearchResult.from_dict(data["result"])
        return [fig_score_heatmap(search, x="hidden_layer_sizes", y="max_iter", projection=projection),
                fig_candidate_losses(search, projection=projection)]
    if result.name == "minibatch":
        return [fig_loss_curves(data["curves"], title="Loss per epoch, by batch size", log_y=True,
                                projection=projection),
                fig_loss_curves(data["curves"], title="Loss per weight update, by batch size", log_y=True,
                                updates_per_epoch=data["updates_per_epoch"], projection=projection)]
    if result.name == "init_seeds":
        return [fig_loss_curves(data["curves"], title="Ten initialisations of one network", projection=projection),
                fig_loss_curves(data["scheme_curves"], title="Five initialisation schemes, one ReLU network",
                                log_y=True, projection=projection)]
    raise ValueError(f"no figure for lesson {result.name!r}")


def fig_training_curves(
    loss_curve: Sequence[float],
    validation_loss: Sequence[float],
    *,
    epochs: int,
    title: str = "Loss per epoch",
    loss: str = "log-loss",
    stale: bool = False,
    projection: bool = False,
) -> go.Figure:
    """One network's training and validation loss per epoch, on an x axis that already spans all ``epochs``.

    The axis does not move while the curves grow into it. ``loss`` names the loss on the y
    axis. ``stale`` fades the curves: they belong to settings that have changed since.
    """
    fig = go.Figure()
    for i, (label, losses, dash) in enumerate((("training loss", loss_curve, "solid"),
                                                ("validation loss (held-out 25%)", validation_loss, "dot"))):
        fig.add_trace(go.Scatter(x=list(range(1, len(losses) + 1)), y=list(losses), mode="lines", name=label,
                                 line={"width": 2.5, "dash": dash, "color": OKABE_ITO[i]},
                                 opacity=0.35 if stale else 1.0))
    fig.update_layout(title=title + (" (stale: the settings have changed)" if stale else ""),
                      xaxis_title="iteration (epoch)", yaxis_title=f"loss ({loss})", hovermode="x unified",
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    fig.update_xaxes(range=[1, max(epochs, 2)])
    return apply_theme(fig, projection=projection)
