"""Playground: one network at a time, its loss curve drawn as it trains."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.charts import show_chart
from dashboard.datasets import choose_dataset
from dashboard.hosting import hosted_limits
from dashboard.page import page_setup
from tuning.engine.networks import DEFAULT_INIT, INIT_SCHEMES
from tuning.figures import fig_decision_boundary, fig_fit_curve, fig_loss_curves
from tuning.services.playground import compare_learning_rates, describe_comparison, train_network
from tuning.services.share import FORM_OPTIONS


def network_controls() -> dict:
    """The network's settings, as ``MLPClassifier`` (or ``MLPRegressor``) parameters."""
    c1, c2, c3 = st.columns(3)
    with c1:
        rate = st.select_slider("Learning rate", FORM_OPTIONS["rates"], value=0.01, key="pg_lr",
                                format_func=lambda v: f"{v:g}", help="learning_rate_init, on a log scale")
        hosted = hosted_limits()
        most = hosted.max_playground_epochs if hosted.enabled else 500
        epochs = st.slider("Epochs (max_iter)", 5, most, min(100, most), step=5, key="pg_epochs")
        solver = st.selectbox("Solver", ["adam", "sgd"], key="pg_solver")
    with c2:
        layers = st.slider("Hidden layers", 1, 3, 1, key="pg_layers")
        units = st.select_slider("Units per layer", [1, 2, 4, 8, 16, 32, 64, 128], value=16, key="pg_units")
        activation = st.selectbox("Activation", ["relu", "tanh", "logistic", "identity"], key="pg_activation")
    with c3:
        batch = st.selectbox("Batch size", ["auto", 8, 16, 32, 64, 128, 256], key="pg_batch",
                             help="'auto' is min(200, rows): one epoch = rows / batch size updates")
        alpha = st.select_slider("L2 penalty (alpha)", FORM_OPTIONS["alphas"], value=1e-4, key="pg_alpha",
                                 format_func=lambda v: f"{v:g}")
        seed = int(st.number_input("Weight seed", 0, 10_000, 0, key="pg_seed"))
        init = st.selectbox("Weight init", list(INIT_SCHEMES), key="pg_init", format_func=lambda v: v.replace("_", "-"),
                            help="How the initial weights are drawn; glorot-uniform is scikit-learn's own")
    chosen_init = {"init": init} if init != DEFAULT_INIT else {}  # the default is plain scikit-learn
    return {**chosen_init, "hidden_layer_sizes": [units] * layers, "learning_rate_init": rate, "max_iter": epochs,
            "solver": solver, "activation": activation, "batch_size": batch, "alpha": alpha,
            "random_state": seed, "tol": 1e-6, "n_iter_no_change": 10_000}


@error_boundary
def page() -> None:
    page_setup("playground")
    st.title("Playground")
    st.caption("Train one network and watch its loss fall, epoch by epoch. Then compare learning rates.")
    _, data = choose_dataset()
    params = network_controls()

    train_col, compare_col = st.columns([1, 2])
    train = train_col.button("Train", type="primary", key="pg_train", use_container_width=True)
    with compare_col:
        rates = st.multiselect("Learning rates to compare", FORM_OPTIONS["rates"], default=[1e-4, 0.01, 1.0],
                               key="pg_rates", format_func=lambda v: f"{v:g}")
        compare = st.button("Compare learning rates", key="pg_compare", disabled=not rates)

    chart = st.empty()
    if train:
        last_draw = [0.0]

        def draw(epoch: int, losses: list[float]) -> None:
            if time.perf_counter() - last_draw[0] > 0.15 or epoch == params["max_iter"]:
                last_draw[0] = time.perf_counter()
                show_chart(fig_loss_curves({"training loss": losses}, title=f"Training… epoch {epoch}"),
                           f"pg_live_{epoch}", container=chart)

        st.session_state["pg_run"] = train_network(data, params, on_epoch=draw)
        st.session_state.pop("pg_comparison", None)
    if compare:
        with st.spinner("Training one network per learning rate…"):
            st.session_state["pg_comparison"] = compare_learning_rates(data, params, sorted(rates))
        st.session_state.pop("pg_run", None)

    run = st.session_state.get("pg_run")
    comparison = st.session_state.get("pg_comparison")
    score = "R²" if data.is_regression else "accuracy"
    if run is not None:
        show_chart(fig_loss_curves({"training loss": run.loss_curve}), "pg_loss", container=chart)
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(f"Train {score}", f"{run.train_score:.3f}")
        m2.metric(f"Test {score}", f"{run.test_score:.3f}")
        m3.metric("Epochs run", run.n_iter)
        m4.metric("Time", f"{run.seconds:.2f} s")
        if run.diverged:
            st.warning("Training diverged: the weights overflowed. Lower the learning rate.")
        elif data.is_plane:
            show_chart(fig_decision_boundary(run.model, data), "pg_boundary")
        elif data.is_line and run.task == data.task:
            show_chart(fig_fit_curve(run.model, data), "pg_fit_curve")
    elif comparison is not None:
        short = "R²" if data.is_regression else "acc"
        runs = {f"lr={rate:g}" + (" (diverged)" if r.diverged else f", test {short} {r.test_score:.2f}"): r.loss_curve
                for rate, r in comparison.items()}
        show_chart(fig_loss_curves(runs, title="Loss over iterations by learning rate", log_y=True),
                   "pg_compare_chart", container=chart)
        st.caption(describe_comparison(comparison) + " (The loss axis is logarithmic.)")
    else:
        chart.info("Set the network, then press **Train**.")


page()
