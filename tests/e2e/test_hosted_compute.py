"""Hosted mode decides where work runs: the Dask scheduler comes from the server's own configuration
(TUNING_DASK_SCHEDULER), never from a visitor. A real `dask scheduler` and worker on loopback, a real
hosted server, Chromium."""

from __future__ import annotations

import os
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import require_browser, running_app, wait_until_idle
from tests.processes import ROOT, start_dask, stop
from tuning.engine.cluster import cluster_status
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.share import encode_spec

TINY = parse_spec({"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 1,
                   "param_grid": {"hidden_layer_sizes": [[2]], "learning_rate_init": [0.01], "max_iter": [10, 25],
                                  "batch_size": ["auto"], "alpha": [1e-4]}})


@pytest.fixture(scope="module")
def hosted_on_dask(tmp_path_factory, _signing_key_file):
    """A hosted server whose configuration names a real scheduler (with two workers) on loopback.

    Two: with a single one-thread worker, joblib counts one job and runs everything in the server itself.
    """
    require_browser()
    folder = tmp_path_factory.mktemp("hosted-dask")
    log = (folder / "dask.log").open("w")
    address, procs = start_dask(["w1", "w2"], {**os.environ, "PYTHONPATH": str(ROOT)}, log)
    try:
        deadline = time.monotonic() + 60
        while len(cluster_status(address)["workers"]) < 2:
            assert time.monotonic() < deadline, "the worker did not join"
            time.sleep(0.3)
        env = {**os.environ, "TUNING_HOSTED": "1", "TUNING_DASK_SCHEDULER": address,
               "TUNING_STORE": str(folder / "experiments.sqlite"), "TUNING_KEY_FILE": str(_signing_key_file)}
        with running_app(folder / "streamlit.log", env) as (url, _):
            yield url, address, folder / "experiments.sqlite"
    finally:
        stop(list(procs.values()))
        log.close()


def test_the_hosted_page_offers_no_address_box_and_runs_on_the_servers_cluster(hosted_on_dask, new_page):
    url, address, store = hosted_on_dask
    page = new_page()
    # a visitor trying to choose the address through the page's own widget keys gets nothing
    page.goto(f"{url}/grid_search?spec={encode_spec(TINY)}&compute_address=tcp://127.0.0.1:9&compute_where=x")
    wait_until_idle(page)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Searches run on this server's Dask cluster: 2 worker(s)")).to_be_visible()
    expect(page.get_by_test_id("stTextInput")).to_have_count(0)  # no address box
    expect(page.get_by_test_id("stRadio")).to_have_count(0)  # no choice of where to run
    assert address.rsplit(":", 1)[1] not in page.get_by_test_id("stApp").inner_text()  # nor the address

    page.get_by_test_id("stButton").get_by_text("Run search").click()
    expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible(timeout=120_000)
    (row,) = ExperimentStore(store).list()
    result = ExperimentStore(store).load_result(row["id"])
    assert {f["worker"] for f in result.fits} <= {w["address"] for w in cluster_status(address)["workers"]}
