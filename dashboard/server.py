"""What the server does once: when it starts and when it stops (the lifespan of app.py's ``st.App``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dashboard.lessons import lesson_preparer
from tuning.engine.workers import stop_worker_processes


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Start preparing the lesson presets as the server starts; stop everything it started as it stops.

    The presets are computed in a low-priority process of their own, so that a visitor
    arriving a minute later sees every chart at once. Stopping (Ctrl+C, SIGTERM) kills
    that process and the worker processes of any search at once instead of waiting for
    them: the units of work that finished are already in the experiment store.
    """
    preparer = lesson_preparer()
    preparer.start()
    try:
        yield
    finally:
        preparer.stop()
        stop_worker_processes()
        # The interpreter's last garbage collections walk every object scikit-learn, pandas,
        # Plotly and Streamlit loaded: ~0.4 CPU-seconds, 1-2 s on a busy machine. Nothing
        # is left to collect that matters, so exclude what exists now from them.
        gc.freeze()
