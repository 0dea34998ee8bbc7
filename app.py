"""Tuning Lab: see how a neural network's hyperparameters shape its training.

`streamlit run app.py` finds the ``st.App`` below and serves this same file through it:
the server imports this module once (as ``app``), and runs its lifespan when it starts
and stops (dashboard/server.py); every session then runs this file as its script
(as ``__main__``), which draws the pages.
"""

import streamlit as st

from dashboard.page import page_setup
from dashboard.projection import projection_requested
from dashboard.text import plain
from tuning.services.lessons import list_lessons

_COUNTS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def home_text(lessons: list[dict[str, str]]) -> str:
    """The home page's tour of the pages, with the Lessons page's presets as the lessons registry lists them."""
    count = _COUNTS[len(lessons)] if len(lessons) < len(_COUNTS) else str(len(lessons))
    presets = ", ".join(plain(lesson["title"].lower()) for lesson in lessons)
    return (
        "See how a neural network's hyperparameters shape its training, with scikit-learn's `MLPClassifier` "
        "(and `MLPRegressor` for a numeric target).\n\n"
        f"- **Lessons**: {count} one-click presets ({presets}), each a few sentences and the chart that shows "
        "them. Try projection mode for a class, or start a class session there.\n"
        "- **Playground**: one network at a time. Move the learning rate, epochs and layer sizes and watch the "
        "loss curve answer as it trains; compare a too-low, a good and a too-high learning rate on one chart.\n"
        "- **Grid Search**: build a `param_grid` (hidden sizes × learning rates × `max_iter` …), see what it "
        "costs, run it with `n_jobs` workers, and read `best_score_` and `best_params_` from error-versus-size "
        "curves, every candidate's loss curve, a heatmap and a fit timeline. Your own CSV works too.\n"
        "- **Experiments**: every search is kept as it runs. Reopen, rename, annotate, compare two on the same "
        "data, export, and get the plain scikit-learn (or PyTorch) code. Page addresses are shareable links.\n"
        "- **Class**: for students in a class session: join with the code on the projector, predict what the "
        "chart will show, see the reveal, then try it yourself.\n\n"
        "Pick a page in the sidebar. Scores equal `GridSearchCV`'s exactly; searches are faster because "
        "candidates that differ only in `max_iter` share one training run."
    )


def home() -> None:
    page_setup("home")
    st.title("Tuning Lab")
    st.markdown(home_text(list_lessons()))


def main() -> None:
    # an emoji, not a material symbol: Streamlit fetches those from fonts.gstatic.com as the tab icon
    st.set_page_config(page_title="Tuning Lab", page_icon="📈", layout="wide",
                       initial_sidebar_state="collapsed" if projection_requested() else "auto")
    pages = [
        st.Page(home, title="Home", icon=":material/home:", default=True),
        st.Page("pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
        st.Page("pages/playground.py", title="Playground", icon=":material/science:", url_path="playground"),
        st.Page("pages/grid_search.py", title="Grid Search", icon=":material/grid_on:", url_path="grid_search"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/history:", url_path="experiments"),
        st.Page("pages/class.py", title="Class", icon=":material/how_to_vote:", url_path="class"),
    ]
    st.navigation(pages).run()


if __name__ == "__main__":  # a session's script run
    main()
else:  # the server, importing this module once when it starts
    from dashboard.server import lifespan

    app = st.App("app.py", lifespan=lifespan)
