"""Playground: one network at a time; change a control and its loss curves answer as it trains."""

from __future__ import annotations

import streamlit as st

from dashboard.boundary import error_boundary
from dashboard.charts import show_chart
from dashboard.datasets import choose_dataset
from dashboard.page import page_setup
from dashboard.playground import (
    follow_playground_link,
    network_controls,
    publish_settings,
    show_link_problems,
    training_panel,
)
from tuning.figures import fig_loss_curves
from tuning.services.playground import compare_learning_rates, describe_comparison, network_params
from tuning.services.share import FORM_OPTIONS


@error_boundary
def page() -> None:
    page_setup("playground")
    st.title("Playground")
    st.caption("Train one network and watch its training and validation loss, epoch by epoch. The page's address "
               "is a link to this setup.")
    follow_playground_link()
    dataset, data = choose_dataset()
    show_link_problems()
    settings = network_controls()
    publish_settings(settings, dataset)
    follow_run = training_panel(data, dataset, settings)

    st.subheader("Compare learning rates")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    rates = c1.multiselect("Learning rates to compare", FORM_OPTIONS["rates"], default=[1e-4, 0.01, 1.0],
                           key="pg_rates", format_func=lambda v: f"{v:g}")
    if c2.button("Compare learning rates", key="pg_compare", disabled=not rates):
        with st.spinner("Training the same network once per learning rate…"):
            st.session_state["pg_comparison"] = compare_learning_rates(data, network_params(settings), sorted(rates))
    comparison = st.session_state.get("pg_comparison")
    if comparison is not None:
        short = "R²" if data.is_regression else "acc"
        runs = {f"lr={rate:g}" + (" (diverged)" if r.diverged else f", test {short} {r.test_score:.2f}"): r.loss_curve
                for rate, r in comparison.items()}
        show_chart(fig_loss_curves(runs, title="Loss over iterations by learning rate", log_y=True),
                   "pg_compare_chart")
        st.caption(describe_comparison(comparison) + " (The loss axis is logarithmic.)")
    follow_run()  # last: it redraws the run until it is trained


page()
