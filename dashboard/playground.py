"""The Playground's controls, its page address, and the live training panel.

A change of any control retrains at once when the run is quick (debounced, stopping the
run in flight); a longer run waits for Train. The network trains in a background thread;
the script run redraws its curves every quarter of a second until it is done, as the last
thing the page does. Any click interrupts that run at once (Streamlit stops a script at
its next element when a rerun is asked for), so the page never waits for the training.

Not a fragment: a fragment's own Stop button could not interrupt the fragment's running
loop (its rerun waits for the run to end), and ending a polling fragment with
``st.rerun()`` lost the values a link had put into the controls (Streamlit 1.67).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.charts import show_chart
from dashboard.hosting import hosted_limits
from tuning.data.dataset import Dataset
from tuning.figures import fig_decision_boundary, fig_fit_curve, fig_training_curves
from tuning.services.playground import (
    EPOCH_STEP,
    MAX_SEED,
    PLAYGROUND_CHOICES,
    PLAYGROUND_DEFAULTS,
    LiveState,
    LiveTraining,
    estimate_training_seconds,
    network_params,
    read_settings,
    settings_query,
)

AUTO_SECONDS = 3.0  # runs estimated to train faster than this retrain on every change
DEBOUNCE = 0.4  # seconds without a change before an automatic run starts
POLL = 0.25  # seconds between two drawings of a run in progress
_WIDGETS = {name: f"pg_{name}" for name in PLAYGROUND_DEFAULTS}
_DATASET_QUERY_KEYS = ("data", "n_samples", "noise", "centers", "data_seed")


def max_epochs() -> int:
    hosted = hosted_limits()
    return hosted.max_playground_epochs if hosted.enabled else 500


def follow_playground_link() -> None:
    """Put the settings a page address carries into the controls, before they are drawn.

    A link is followed on the session's first visit to the page (a link opens a new
    session); each bad value keeps its default, and one message says which and why.
    Coming back from another page (Streamlit forgets the controls of a page it does not
    show), the controls get the settings this session last had here. Other reruns leave
    the controls alone, so a browser that has not caught up with the address yet never
    undoes a change.
    """
    query = {k: v for k, v in st.query_params.to_dict().items() if k in _WIDGETS or k in _DATASET_QUERY_KEYS}
    last = st.session_state.get("pg_last_query")
    if last is None and query:
        settings, dataset, problems = read_settings(query, max_epochs=max_epochs())
        for option, value in (dataset or {}).items():
            st.session_state["dataset_name" if option == "name" else f"dataset_{option}"] = value
        st.session_state["pg_link_problems"] = problems
    elif last is not None and _WIDGETS["lr"] not in st.session_state:
        settings, _, _ = read_settings({k: v for k, v in last.items() if k in _WIDGETS}, max_epochs=max_epochs())
    else:
        return
    for name, value in settings.items():
        st.session_state[_WIDGETS[name]] = value


def show_link_problems() -> None:
    problems = st.session_state.pop("pg_link_problems", None)
    if problems:
        st.error("This link's Playground settings are not all valid here, so these keep their defaults: "
                 + "; ".join(problems) + ".", icon=":material/link_off:")


def network_controls() -> dict[str, Any]:
    """The Playground's controls; returns the settings that ``network_params`` turns into parameters."""
    for name, default in PLAYGROUND_DEFAULTS.items():
        st.session_state.setdefault(_WIDGETS[name], min(default, max_epochs()) if name == "epochs" else default)
    fmt = {"format_func": lambda v: f"{v:g}"}
    c1, c2, c3 = st.columns(3)
    with c1:
        lr = st.select_slider("Learning rate", PLAYGROUND_CHOICES["lr"], key="pg_lr",
                              help="learning_rate_init, on a log scale", **fmt)
        epochs = st.slider("Epochs (max_iter)", EPOCH_STEP, max_epochs(), step=EPOCH_STEP, key="pg_epochs")
        solver = st.selectbox("Solver", PLAYGROUND_CHOICES["solver"], key="pg_solver")
    with c2:
        layers = st.select_slider("Hidden layers", PLAYGROUND_CHOICES["layers"], key="pg_layers")
        units = st.select_slider("Units per layer", PLAYGROUND_CHOICES["units"], key="pg_units")
        activation = st.selectbox("Activation", PLAYGROUND_CHOICES["activation"], key="pg_activation")
    with c3:
        batch = st.selectbox("Batch size", PLAYGROUND_CHOICES["batch"], key="pg_batch",
                             help="'auto' is min(200, rows): one epoch = rows / batch size updates")
        alpha = st.select_slider("L2 penalty (alpha)", PLAYGROUND_CHOICES["alpha"], key="pg_alpha", **fmt)
        seed = int(st.number_input("Weight seed", 0, MAX_SEED, key="pg_seed"))
        init = st.selectbox("Weight init", PLAYGROUND_CHOICES["init"], key="pg_init",
                            format_func=lambda v: v.replace("_", "-"),
                            help="How the initial weights are drawn; glorot-uniform is scikit-learn's own")
    return {"lr": lr, "epochs": epochs, "layers": layers, "units": units, "solver": solver,
            "activation": activation, "batch": batch, "alpha": alpha, "seed": seed, "init": init}


def publish_settings(settings: dict[str, Any], dataset: dict[str, Any]) -> None:
    """Write the settings (and a built-in dataset) into the page address, so that it can be shared."""
    query = settings_query(settings, dataset)
    for key in _DATASET_QUERY_KEYS:
        if key not in query:
            st.query_params.pop(key, None)
    st.query_params.update(query)
    st.session_state["pg_last_query"] = query


def training_panel(data: Dataset, dataset: dict[str, Any], settings: dict[str, Any]) -> Callable[[], None]:
    """Train, Stop and the run for these settings (started, stopped or marked stale as they change).

    Returns the function that draws the run, and redraws it while it trains: call it
    last, after the rest of the page.
    """
    params = network_params(settings)
    key = json.dumps([dataset, settings], sort_keys=True, default=str)
    auto = estimate_training_seconds(data, params) <= AUTO_SECONDS
    live: LiveTraining | None = st.session_state.get("pg_live")
    training = live is not None and live.state().status == "training"
    retrain = auto and (live is None or live.key != key)
    *buttons, status = st.columns([1, 1, 4] if not auto else [1, 5], vertical_alignment="center")
    train = False if auto else buttons[0].button("Train", type="primary", key="pg_train", use_container_width=True)
    stop = buttons[-1].button("Stop", key="pg_stop", use_container_width=True,
                              disabled=not (training or train or retrain))
    status = status.empty()
    view = st.empty()
    if stop and live is not None:
        live.stop()
        live.wait(5)
    start = train or (retrain and not stop)
    if auto and live is not None and live.key != key:
        live.stop()  # it no longer matches the controls

    def follow() -> None:
        nonlocal live
        draws = iter(range(1_000_000_000))  # each drawing's charts get keys of their own
        if start:
            if live is not None:  # debounce: a further change asks for a rerun, which ends this one at the next element
                _draw(view, next(draws), live, live.state(), data, stale=True, auto=auto)
                time.sleep(DEBOUNCE)
            status.caption(_how_it_runs(data, params, auto))
            live = st.session_state["pg_live"] = LiveTraining(data, params, key=key)
        status.caption(_how_it_runs(data, params, auto))
        if live is None:
            view.info("Press **Train** to train this network.", icon=":material/play_arrow:")
            return
        state = live.state()
        while state.status == "training":
            _draw(view, next(draws), live, state, data, stale=live.key != key, auto=auto)
            time.sleep(POLL)
            state = live.state()
        _draw(view, next(draws), live, state, data, stale=live.key != key, auto=auto)

    return follow


def _how_it_runs(data: Dataset, params: dict[str, Any], auto: bool) -> str:
    if auto:
        return "Retrains by itself as you change any control (this run is quick)."
    return (f"A longer run (about {estimate_training_seconds(data, params):.0f} s): press **Train** to start it; "
            "**Stop** keeps what it learned so far.")


def _draw(view: Any, n: int, live: LiveTraining, state: LiveState, data: Dataset, *, stale: bool,
          auto: bool) -> None:
    with view.container():
        _show_run(live, state, data, n=n, stale=stale, auto=auto)


def _show_run(live: LiveTraining, state: LiveState, data: Dataset, *, n: int, stale: bool, auto: bool) -> None:
    fig = fig_training_curves(state.loss_curve, state.validation_loss, epochs=state.epochs,
                              title=f"Training… epoch {state.epoch} of {state.epochs}"
                              if state.status == "training" else "Loss per epoch",
                              loss="half squared error" if data.is_regression else "log-loss", stale=stale)
    show_chart(fig, f"pg_loss_{n}")
    if stale:
        st.warning("These results are for the previous settings: "
                   + ("the network retrains as soon as the controls settle." if auto
                      else "press **Train** to train the new ones."), icon=":material/update:")
    if state.status == "failed":
        st.error(state.error, icon=":material/warning:")
        return
    run = state.run
    if run is None:
        return
    if run.stopped:
        st.caption(f"Stopped after epoch {run.n_iter} of {state.epochs}; the scores are the network's at that point.")
    score = "R²" if run.task == "regression" else "accuracy"
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(f"Train {score}", f"{run.train_score:.3f}")
    m2.metric(f"Test {score}", f"{run.test_score:.3f}")
    m3.metric("Epochs run", run.n_iter)
    m4.metric("Training time", f"{run.seconds:.2f} s", help="CPU time of the network's training alone (one "
              "core): not measuring the validation loss, not drawing, not waiting for the server")
    if run.diverged:
        st.warning("Training diverged: the weights overflowed. Lower the learning rate.")
    elif data.is_plane or (data.is_line and run.task == data.task):
        cached = st.session_state.get("pg_boundary")
        if cached is None or cached[0] is not live:  # drawn once per run: the decision boundary, or the fitted curve
            figure = fig_decision_boundary(run.model, data) if data.is_plane else fig_fit_curve(run.model, data)
            cached = st.session_state["pg_boundary"] = (live, figure)
        show_chart(cached[1], f"pg_boundary_{n}")
