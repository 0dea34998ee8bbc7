"""The pages' error boundary: a TuningError is one message, anything else is logged."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import streamlit as st

from dashboard.store import store_problem
from dashboard.text import plain
from tuning.errors import StoreError, TuningError

log = logging.getLogger("tuning_lab")


def error_boundary(page: Callable[[], None]) -> Callable[[], None]:
    """Show a :class:`TuningError` as one message (plain text); log anything else and apologise briefly."""

    @functools.wraps(page)
    def guarded() -> None:
        try:
            page()
        except StoreError as exc:  # the page carries on without history next time
            store_problem(exc)
        except TuningError as exc:
            st.error(plain(exc), icon=":material/warning:")
        except Exception:
            log.exception("unexpected error on a page")
            st.error("Something went wrong on our side: the details are in the server log. "
                     "Your settings are kept; try again or change them.", icon=":material/build:")

    return guarded
