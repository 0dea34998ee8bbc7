"""Streamlit glue for the dashboard: one module per concern, shared by the pages in ``pages/``.

UI code only: everything it computes comes from ``tuning``.
"""
