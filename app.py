"""Tuning Lab: see how a neural network's hyperparameters shape its training."""

import streamlit as st

st.set_page_config(page_title="Tuning Lab", page_icon="📉", layout="wide")
st.title("Tuning Lab")
st.write("Hyperparameter tuning for neural networks, made visible. The dashboard pages are on their way; "
         "the engine runs today with `python -m tuning run SPEC.json --out RESULT.json`.")
