"""What every page does first: run inside the app's navigation, projection mode, hosted limits."""

from __future__ import annotations

import streamlit as st

from dashboard.hosting import hosted_limits
from dashboard.projection import projection_mode
from tuning.data.csv_source import remove_old_uploads
from tuning.services.share import DATASET_FORM_RANGES, FORM_DEFAULTS


@st.cache_resource(ttl=3600, show_spinner=False)
def _remove_old_uploads() -> int:
    """Uploads unused for a day go, checked at most hourly (uploading also checks)."""
    return remove_old_uploads()


# Widgets whose values belong to the session, not to one page or one run: the dataset picker
# (shared by Playground and Grid Search) and the Grid Search form.
KEPT_WIDGETS = ("dataset_name", *(f"dataset_{option}" for option in DATASET_FORM_RANGES),
                *(f"gs_{field}" for field in FORM_DEFAULTS), "gs_n_jobs")


def keep_widget_values(keys: tuple[str, ...] = KEPT_WIDGETS) -> None:
    """Keep these widgets' values in every run, whether or not the widgets are drawn.

    Streamlit deletes a widget's value at the end of a run that did not draw it (another
    page, or a page that stopped early, e.g. while the sidebar waits for a CSV file). A value
    saved again through Session State at the start of a run belongs to no widget until a
    widget with its key is drawn, so it survives; a widget drawn later in the run, on any
    page, starts from it.
    """
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def page_setup(page: str) -> None:
    """What every page does first: keep the session's widget values, run inside the app's navigation,
    the projection toggle, hosted limits."""
    keep_widget_values()
    require_app_navigation()
    _remove_old_uploads()
    projection_mode(page)
    if hosted_limits().enabled:
        st.sidebar.caption(hosted_limits().describe())


def require_app_navigation() -> None:
    """Make a page opened by its own URL on a fresh server run inside ``app.py``'s navigation.

    Streamlit starts in its legacy mode when a ``pages/`` folder sits beside the main
    script, and stays there until ``st.navigation`` runs; a first visitor arriving at
    ``/grid_search`` would get the page without the app around it. Leaving that mode and
    rerunning serves the same URL through ``app.py``. (AppTest resets that mode before
    every run and drives the pages itself, so it is left alone there.)
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()
