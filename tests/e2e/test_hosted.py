"""Hosted mode as a class would meet it, and as an attacker would: a real `streamlit run` server with
TUNING_HOSTED=1, driven in Chromium. One test per item of "Safe to host" that a visitor can reach.

The server's store is seeded with an experiment someone else wrote: its model blob writes a
marker file if it is ever unpickled, and its name and note are Markdown links and images.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from playwright.sync_api import expect

import tuning.engine.store as store_module
from tests.e2e.conftest import require_browser, running_app, wait_until_idle
from tests.unit.test_limits import HOSTILE_LINKS
from tuning.engine.search import run_search
from tuning.engine.spec import parse_spec
from tuning.engine.store import ExperimentStore
from tuning.services.share import encode_spec

MARKUP = "[click](http://127.0.0.1:9/a) ![img](http://127.0.0.1:9/i.png) www.evil.example :material/home: **b**"
TINY = {"dataset": {"name": "iris"}, "cv": 3, "n_jobs": 1,
        "param_grid": {"hidden_layer_sizes": [[2]], "learning_rate_init": [0.01], "max_iter": [10, 25],
                       "batch_size": ["auto"], "alpha": [1e-4]}}
ABANDON_SECONDS = 8  # the server's grace period for a search nobody watches (60 s by default)
WAIT = 60_000  # ms: pages load slowly while two long searches share the machine's two cores
OTHER_TINY = {**TINY, "param_grid": {**TINY["param_grid"], "alpha": [1e-3]}}
# Long enough (hundreds of short units: no two candidates share a stack) to hold a core for minutes,
# within the hosted caps.
LONG = {"dataset": "digits", "cv": 3, "n_jobs": 1,
        "param_grid": {"hidden_layer_sizes": [[8], [16], [24], [32], [40], [48], [56]], "max_iter": [60],
                       "batch_size": [8, 12, 16, 24, 32, 48, 64]}}


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@dataclass
class Hosted:
    url: str
    pid: int
    store: Path
    foreign_id: str
    marker: Path

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seed_foreign_store(path: Path, marker: Path) -> str:
    """A finished experiment whose model someone else signed, named and annotated with Markdown."""
    store = ExperimentStore(path)
    exp_id = run_search(TINY, store=store, refit=False).experiment_id
    blob = pickle.dumps(_WritesMarker(marker))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE experiments SET model = ?, model_mac = ? WHERE id = ?",
                   (blob, store_module._model_signature(b"another user's key", exp_id, blob), exp_id))
    store.annotate(exp_id, name=MARKUP, note=MARKUP)
    return exp_id


@pytest.fixture(scope="module")
def hosted(tmp_path_factory, _signing_key_file):
    require_browser()
    folder = tmp_path_factory.mktemp("hosted")
    store, marker = folder / "experiments.sqlite", folder / "marker"
    foreign_id = _seed_foreign_store(store, marker)
    env = {**os.environ, "TUNING_HOSTED": "1", "TUNING_STORE": str(store), "TUNING_KEY_FILE": str(_signing_key_file),
           "TUNING_UPLOAD_DIR": str(folder / "uploads"), "TUNING_ABANDON_SECONDS": str(ABANDON_SECONDS)}
    env.pop("TUNING_DASK_SCHEDULER", None)
    with running_app(folder / "streamlit.log", env) as (url, server):
        yield Hosted(url, server.pid, store, foreign_id, marker)


def _link(spec: dict) -> str:
    return encode_spec(parse_spec(spec))


def _raw_link(raw: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(raw).encode())).decode()


def _assert_nothing_clickable_or_loaded(page, requests: list[str]) -> None:
    main = page.get_by_test_id("stApp")
    expect(main.locator("a[href*='127.0.0.1:9'], a[href*='evil.example'], a[href^='mailto']")).to_have_count(0)
    expect(main.locator("img[src*='127.0.0.1:9']")).to_have_count(0)
    assert not [r for r in requests if urlparse(r).netloc in ("127.0.0.1:9", "evil.example", "www.evil.example")]


# --- 3. the hostile-link corpus ------------------------------------------------------------------------------


def test_every_hostile_link_is_refused_with_its_cap_in_under_a_second_of_server_cpu(hosted, new_page):
    page = new_page()
    page.goto(f"{hosted.url}/grid_search")  # the first page view imports the pages' code: not a link's cost
    wait_until_idle(page)
    costs = {}
    for what, link, cap in HOSTILE_LINKS:
        if len(link) > 50_000:  # longer than the server accepts as an address at all; the unit test has it
            continue
        before = hosted.cpu_seconds()
        page.goto(f"{hosted.url}/grid_search?spec={link}")
        wait_until_idle(page)
        expect(page.get_by_test_id("stAlertContentError").first).to_contain_text(f"the {cap} cap")
        costs[what] = hosted.cpu_seconds() - before
        expect(page.get_by_test_id("stMetric").filter(has_text="Fits")).to_contain_text("54")  # the form carries on
    print("\nserver CPU per refused link (s, page load included):",
          json.dumps({k: round(v, 2) for k, v in costs.items()}, indent=1))
    assert max(costs.values()) < 1.0, costs


# --- 2. data only from built-ins and this session's uploads --------------------------------------------------


def test_a_link_to_a_server_file_or_device_is_refused_and_shows_nothing_of_it(hosted, new_page, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password,y\n" + "".join(f"hunter{i},{i % 2}\n" for i in range(30)))
    page = new_page()
    for path in (secret, "/dev/zero", "/etc/passwd", tmp_path):
        before = hosted.cpu_seconds()
        page.goto(f"{hosted.url}/grid_search?spec={_link({'dataset': {'csv': str(path)}, 'param_grid': {}})}")
        wait_until_idle(page)
        expect(page.get_by_test_id("stAlertContentError")).to_contain_text("links may only use the built-in datasets")
        text = page.get_by_test_id("stApp").inner_text()
        for leak in (str(tmp_path), "secret", "password", "hunter", "/dev", "/etc", "root:"):
            assert leak not in text, leak
        assert hosted.cpu_seconds() - before < 1.0


def _choose(page, widget_label: str, option: str) -> None:
    page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text(widget_label, exact=True)).locator(
        "input").first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_until_idle(page)


def _upload(page, path: Path) -> None:
    _choose(page, "Dataset", "Upload a CSV…")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    wait_until_idle(page)


def test_another_visitors_upload_cannot_be_opened_by_its_link(hosted, new_page, tmp_path):
    table = tmp_path / "flowers.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{(i * 7) % 5},{'xy'[i % 2]}\n" for i in range(40)))
    owner = new_page()
    owner.goto(f"{hosted.url}/grid_search")
    wait_until_idle(owner)
    _upload(owner, table)
    expect(owner.get_by_test_id("stExpander").filter(has_text="About this file")).to_be_visible()
    assert "spec=" in owner.url
    visitor = new_page()
    visitor.goto(owner.url)  # the owner's address carries the upload's path on the server
    wait_until_idle(visitor)
    expect(visitor.get_by_test_id("stAlertContentError")).to_contain_text("links may only use")
    assert "uploads" not in visitor.get_by_test_id("stApp").inner_text()


# --- 4. a store someone else wrote ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["experiments", "grid_search"])
def test_a_foreign_experiment_shows_its_results_and_never_runs_its_model(hosted, new_page, path):
    page = new_page()
    page.goto(f"{hosted.url}/{path}?exp={hosted.foreign_id}")
    wait_until_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="was not loaded")).to_be_visible()
    expect(page.get_by_text("Download best_estimator_")).to_have_count(0)
    assert not hosted.marker.exists()


# --- 5. a fair queue: abandoned searches go, only the owner stops ---------------------------------------------


def _run(page, url: str, *, running: bool = True) -> None:
    """Open a grid link and run it; with ``running``, wait until its progress shows (a long search)."""
    page.goto(url)
    wait_until_idle(page)
    page.get_by_test_id("stButton").get_by_text("Run search").click()
    if running:
        expect(page.get_by_test_id("stProgress")).to_be_visible(timeout=WAIT)


def test_abandoned_searches_free_the_queue_and_only_the_owner_can_stop_one(hosted, new_page):
    long_a, long_b = _link(LONG), _link({**LONG, "cv": 4})
    owner = new_page()
    _run(owner, f"{hosted.url}/grid_search?spec={long_a}")
    stop = owner.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_visible(timeout=WAIT)

    watcher = new_page()  # another visitor opens the same link: sees the search, cannot stop it
    watcher.goto(f"{hosted.url}/grid_search?spec={long_a}")
    expect(watcher.get_by_test_id("stProgress")).to_be_visible(timeout=WAIT)
    expect(watcher.get_by_text("Started by someone else")).to_be_visible(timeout=WAIT)
    expect(watcher.get_by_role("button", name="Stop", exact=True)).to_have_count(0, timeout=WAIT)

    owner.get_by_test_id("stPopover").get_by_text("Owner link").click()  # the owner's own link, with its key
    owner_url = owner.get_by_test_id("stCode").filter(has_text="owner=").inner_text().strip()
    assert "owner=" in owner_url
    elsewhere = new_page()
    elsewhere.goto(owner_url)
    expect(elsewhere.get_by_role("button", name="Stop", exact=True)).to_be_visible(timeout=WAIT)

    second = new_page()  # both cores busy now
    _run(second, f"{hosted.url}/grid_search?spec={long_b}")
    latecomer = new_page()
    latecomer.goto(f"{hosted.url}/grid_search?spec={_link(OTHER_TINY)}")  # not in the store yet
    wait_until_idle(latecomer)
    latecomer.get_by_test_id("stButton").get_by_text("Run search").click()
    expect(latecomer.get_by_test_id("stProgress")).to_contain_text("1st in line", timeout=WAIT)

    rows = ExperimentStore(hosted.store).list()
    assert sorted(r["status"] for r in rows if r["fits_total"] in (7 * 7 * 3, 7 * 7 * 4)) == ["running", "running"]
    for page in (owner, watcher, elsewhere, second):  # everyone but the latecomer leaves
        page.context.close()
    left = time.monotonic()
    expect(latecomer.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible(timeout=60_000)
    assert time.monotonic() - left > ABANDON_SECONDS  # not before the grace period
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # both stop after the unit of work in progress
        statuses = {r["fits_total"]: r for r in ExperimentStore(hosted.store).list()}
        if statuses[7 * 7 * 3]["status"] == statuses[7 * 7 * 4]["status"] == "interrupted":
            break
        time.sleep(0.5)
    for row in (statuses[7 * 7 * 3], statuses[7 * 7 * 4]):
        assert row["status"] == "interrupted" and 0 < row["fits_done"] < row["fits_total"]  # finished fits kept


# --- 7. plain text everywhere -------------------------------------------------------------------------------


def test_markup_in_every_user_string_is_shown_as_plain_text(hosted, new_page, tmp_path):
    page = new_page()
    page.goto(f"{hosted.url}/grid_search?spec={_raw_link({'dataset': {'name': MARKUP}, 'param_grid': {}})}")
    wait_until_idle(page)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("[click](http")  # as written
    _assert_nothing_clickable_or_loaded(page, new_page.requests)

    page.goto(f"{hosted.url}/grid_search?exp={quote(MARKUP)}")  # an experiment id nobody has
    wait_until_idle(page)
    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("is not in this server's experiment store")
    assert str(hosted.store) not in error.inner_text() and hosted.foreign_id not in error.inner_text()
    _assert_nothing_clickable_or_loaded(page, new_page.requests)

    page.goto(f"{hosted.url}/experiments?exp={hosted.foreign_id}")  # its name and note are Markdown
    wait_until_idle(page)
    # (the list's table also holds the name, in a grid cell kept hidden for screen readers)
    expect(page.get_by_text(MARKUP, exact=True).filter(visible=True).first).to_be_visible()
    _assert_nothing_clickable_or_loaded(page, new_page.requests)

    table = tmp_path / "markup.csv"
    header = "![h](http://127.0.0.1:9/h.png)"
    table.write_text(f"a,{header},[t](http://127.0.0.1:9/t)\n"
                     + "".join(f"{i},{i * 0.37:.2f},![c{i % 2}](http://127.0.0.1:9/c.png)\n" for i in range(30)))
    page.goto(f"{hosted.url}/grid_search")
    wait_until_idle(page)
    _upload(page, table)
    expect(page.get_by_test_id("stExpander").filter(has_text="target column '[t](http")).to_be_visible()
    _choose(page, "Target column", header)  # a continuous column: a regression, and the reason names it
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="looks continuous").first).to_contain_text(
        header)
    _assert_nothing_clickable_or_loaded(page, new_page.requests)


# --- 8. numbers that cannot be trained on; a store that cannot be used (last: it damages the store) ----------


def test_an_upload_with_1e308_values_is_one_clear_message(hosted, new_page, tmp_path):
    table = tmp_path / "huge.csv"
    table.write_text("x,z,label\n" + "".join(f"{i},{1e308 if i % 2 else -1e308},{'ab'[i % 3 == 0]}\n"
                                             for i in range(30)))
    page = new_page()
    page.goto(f"{hosted.url}/grid_search")
    wait_until_idle(page)
    _upload(page, table)
    expect(page.get_by_test_id("stAlertContentError").first).to_contain_text(
        "column 'z' has 30 value(s) that are infinite or too large to train on")


def test_a_damaged_store_is_one_message_without_its_path_and_searches_still_run(hosted, new_page):
    kept = {p: p.read_bytes() for p in hosted.store.parent.glob("experiments.sqlite*")}
    try:
        for path in kept:  # the file damaged, its write-ahead log gone
            path.unlink()
        hosted.store.write_bytes(b"this is no longer a database" * 1000)
        page = new_page()
        page.goto(f"{hosted.url}/experiments")
        wait_until_idle(page)
        expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text("Experiment history is off on this")
        _run(page, f"{hosted.url}/grid_search?spec={_link(TINY)}", running=False)  # may finish at once
        expect(page.get_by_test_id("stMetric").filter(has_text="best_score_")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text("Experiment history is off")
        assert str(hosted.store.parent) not in page.get_by_test_id("stApp").inner_text()
    finally:
        for path, data in kept.items():
            path.write_bytes(data)
