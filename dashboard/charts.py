"""Drawing a figure on a page, in the session's mode."""

from __future__ import annotations

from typing import Any

import streamlit as st

from tuning.figures import apply_theme


def show_chart(fig: Any, key: str, *, container: Any = None, shared: bool = False, **options: Any) -> Any:
    """Draw a figure with our theme (projection mode when on), in ``container`` (default: here).

    ``shared`` marks a cached figure that other sessions draw too: it is already styled for
    the mode it was built for and is never modified here.
    """
    if st.session_state.get("present") and not shared:
        apply_theme(fig, projection=True)
    return (container or st).plotly_chart(fig, theme=None, key=key, **options)
