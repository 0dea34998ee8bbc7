"""What the Grid Search page says while a search runs and when it ends: fits, clock and estimate."""

import re
import threading

from streamlit.testing.v1 import AppTest

from tests.app.pages import open_page
from tests.app.searching import run_search_on_page
from tuning.data.datasets import load_dataset
from tuning.engine.search import run_search
from tuning.engine.store import ExperimentStore, experiment_id
from tuning.errors import TuningError
from tuning.services.share import decode_spec


def _small_iris_grid(at: AppTest) -> AppTest:
    at.selectbox(key="dataset_name").set_value("iris").run()
    at.multiselect(key="gs_units").set_value([4])
    at.multiselect(key="gs_rates").set_value([0.01])
    at.multiselect(key="gs_iters").set_value([10, 25])
    return at.slider(key="gs_cv").set_value(3).run()  # 2 candidates x 3 folds = 6 fits


def test_before_the_first_progress_report_the_bar_counts_the_planned_fits(monkeypatch):
    started, release = threading.Event(), threading.Event()

    def search_that_has_not_reported_yet(spec, *, cancel, **options):
        started.set()
        release.wait(30)
        cancel.wait(30)
        raise TuningError("stopped by the test")

    monkeypatch.setattr("tuning.services.jobs.run_search", search_that_has_not_reported_yet)
    at = _small_iris_grid(open_page("pages/grid_search.py"))
    try:
        at.button(key="gs_run").click().run()
        assert started.wait(30)
        at.run()
        (bar,) = at.get("progress")
        assert bar.proto.text.startswith("0 / 6 fits · "), bar.proto.text
    finally:
        release.set()
        at.button(key="gs_stop").click().run()


def test_a_finished_search_under_ten_seconds_says_its_time_with_a_decimal():
    at = run_search_on_page(_small_iris_grid(open_page("pages/grid_search.py")))
    assert not at.exception
    (took,) = [c.value for c in at.caption if c.value.startswith("Took ")]
    assert re.fullmatch(r"Took \d\.\d s; the estimate was .+\.", took), took


def test_an_interrupted_search_is_estimated_on_the_fits_it_has_left():
    at = _small_iris_grid(open_page("pages/grid_search.py"))
    at.multiselect(key="gs_units").set_value([4, 8, 16]).run()  # 6 candidates x 3 folds
    spec = decode_spec(at.query_params["spec"])
    stop = threading.Event()
    run_search(spec, n_jobs=1, store=ExperimentStore(), cancel=stop,
               progress=lambda p: p.fits_done and stop.set())  # interrupted after its first unit of work
    data = load_dataset(spec.dataset)
    done = {(r.candidate, r.fold) for u in ExperimentStore().units(experiment_id(spec, data)) for r in u.records}
    assert 0 < len(done) < 18
    at.run()
    assert not at.exception
    assert f"{len(done)} of 18 fits are kept from an earlier run: the estimate is for the {18 - len(done)} left" \
        in [c.value for c in at.caption]
