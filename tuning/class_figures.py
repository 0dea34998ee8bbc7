"""Class-mode figures: the class's answers as a histogram, and a preset's chart with the guesses on it.

Pure functions like :mod:`tuning.figures` (and themed by it): counts and a
``LessonResult`` in, ``plotly.graph_objects.Figure`` out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from tuning.figures import OKABE_ITO, apply_theme, fig_lesson, fig_loss_curves

RIGHT_COLOUR = "#009E73"  # Okabe–Ito bluish green
GUESS_COLOUR = "#0072B2"
OTHER_COLOUR = "#999999"


def _votes(n: int) -> str:
    return f"{n} vote{'s' if n != 1 else ''}"


def fig_votes(counts: Mapping[str, int], *, right: str | None = None, title: str = "The class's answers",
              projection: bool = False) -> go.Figure:
    """One bar per option with its count; once ``right`` is known its bar is green and the others grey."""
    options = list(counts)
    colours = [GUESS_COLOUR if right is None else RIGHT_COLOUR if o == right else OTHER_COLOUR for o in options]
    fig = go.Figure(go.Bar(x=options, y=[counts[o] for o in options], marker={"color": colours},
                           text=[str(counts[o]) for o in options], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y}<extra></extra>"))
    top = max([*counts.values(), 1])
    fig.update_layout(title=title, xaxis_title=None, yaxis_title="answers", showlegend=False, bargap=0.25)
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, top * 1.25], dtick=max(1, round(top / 4)), rangemode="tozero")
    return apply_theme(fig, projection=projection)


def _mark_curve_ends(fig: go.Figure, option_of: Any, counts: Mapping[str, int], right: str | None) -> None:
    """A labelled marker at the end of each curve the class voted for, sized by its votes."""
    top = max([*counts.values(), 1])
    for trace in list(fig.data):
        option = option_of(trace.name or "")
        n = counts.get(option, 0)
        points = [(x, y) for x, y in zip(trace.x, trace.y, strict=False) if y is not None]
        if not n or not points:
            continue
        x, y = points[-1]
        fig.add_trace(go.Scatter(
            x=[x], y=[y], mode="markers+text", text=[_votes(n)], textposition="middle left", showlegend=False,
            marker={"size": 14 + 26 * n / top, "color": RIGHT_COLOUR if option == right else GUESS_COLOUR,
                    "line": {"width": 2, "color": "white"}, "symbol": "circle"},
            textfont={"color": "#111111"}, hovertemplate=f"{option}: {_votes(n)}<extra></extra>"))


def _rate_option(label: str) -> str:
    found = re.search(r"lr=([^)\s]+)", label)
    return found.group(1) if found else label


def _batch_option(label: str) -> str:
    return "full batch" if label.startswith("full") else label


def _seed_spread(scores: list[float], counts: Mapping[str, int], right: str | None,
                 buckets: tuple[tuple[str, float, float], ...], projection: bool) -> go.Figure:
    """The ten seeds' test accuracies on one line, their spread bracketed, and each guessed spread
    drawn as a bar of that width centred on the middle of the scores, one row per answer."""
    low, high = min(scores), max(scores)
    middle = (low + high) / 2
    fig = go.Figure()
    rows = list(counts)
    for label, start, stop in buckets:
        n = counts.get(label, 0)
        width = 1.5 * start if stop == float("inf") else (start + stop) / 2  # a typical spread of this answer
        fig.add_trace(go.Bar(x=[width], base=[middle - width / 2], y=[label], orientation="h",
                             marker={"color": RIGHT_COLOUR if label == right else GUESS_COLOUR,
                                     "opacity": 0.35 + 0.65 * (n / max([*counts.values(), 1]))},
                             text=[_votes(n)], textposition="outside", cliponaxis=False, showlegend=False,
                             hovertemplate=f"{label}: {_votes(n)}<extra></extra>"))
    fig.add_trace(go.Scatter(x=scores, y=["10 seeds"] * len(scores), mode="markers", name="test accuracy",
                             marker={"size": 16, "color": OKABE_ITO[3], "line": {"width": 1, "color": "white"}},
                             showlegend=False, hovertemplate="%{x:.3f}<extra></extra>"))
    fig.add_vrect(x0=low, x1=high, fillcolor=OKABE_ITO[3], opacity=0.12, line_width=0)
    fig.update_layout(title=f"Ten seeds: test accuracy {low:.2f} to {high:.2f} ({high - low:.2f} apart)",
                      xaxis_title="test accuracy", barmode="overlay")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=[*rows, "10 seeds"])
    return apply_theme(fig, projection=projection)


def fig_reveal(result: Any, counts: Mapping[str, int], *, right: str | None,
               buckets: tuple[tuple[str, float, float], ...] = (), projection: bool = False) -> go.Figure:
    """The preset's chart with the class's guesses marked on it (the right answer in green).

    ``result`` is the preset's ``LessonResult``; ``counts`` the votes per option of its
    question; ``buckets`` the spread options of the seeds question.
    """
    data = result.data
    if result.name == "learning_rate":
        fig = fig_lesson(result, projection=projection)[0]
        _mark_curve_ends(fig, _rate_option, counts, right)
    elif result.name == "minibatch":
        fig = fig_loss_curves(data["curves"], title="Loss per epoch, by batch size", log_y=True, projection=projection)
        _mark_curve_ends(fig, _batch_option, counts, right)
        fig.add_hline(y=data.get("target", 0.5), line_dash="dash", line_color="#444",
                      annotation_text=f"loss {data.get('target', 0.5)}", annotation_position="bottom left")
    elif result.name in ("hidden_size", "hidden_size_regression"):  # guesses on the error-by-size curve
        fig = fig_lesson(result, projection=projection)[0]
        errors = {str(row["size"]): row["test_error"] for row in data["table"]}
        top = max([*counts.values(), 1])
        voted = [o for o in counts if counts[o] and o in errors]
        fig.add_trace(go.Scatter(
            x=[int(o) for o in voted], y=[errors[o] for o in voted], mode="markers+text", name="the class's guesses",
            text=[_votes(counts[o]) for o in voted], textposition="bottom center",
            marker={"size": [14 + 26 * counts[o] / top for o in voted], "symbol": "circle-open",
                    "line": {"width": 4},
                    "color": [RIGHT_COLOUR if o == right else GUESS_COLOUR for o in voted]}))
    elif result.name == "grid_search":
        fig = fig_lesson(result, projection=projection)[0]
        for option, n in counts.items():
            fig.add_annotation(x=json.dumps([int(option)]), y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                               text=f"<b>{_votes(n)}</b>" if option == right else _votes(n),
                               font={"color": RIGHT_COLOUR if option == right else GUESS_COLOUR})
        fig.update_layout(title={"text": "Mean CV score; above each column, the class's votes", "y": 0.98,
                                 "yanchor": "top"}, margin={"t": 110})
    elif result.name == "init_seeds":
        fig = _seed_spread(list(data["test_scores"]), counts, right, buckets, projection)
    else:
        raise ValueError(f"no reveal for lesson {result.name!r}")
    return apply_theme(fig, projection=projection)
