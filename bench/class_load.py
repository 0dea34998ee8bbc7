"""Load figure for class mode: a class of phones answering at once, seen on the projector.

    python bench/class_load.py [--students 40] [--within 10]

Starts `streamlit run app.py` in hosted mode (TUNING_HOSTED=1) on a free loopback port,
starts a class, and opens the teacher's page in the system Chromium at 1280x720. Then
N simulated students open the class page and answer at random moments within the given
seconds. Each student speaks Streamlit's websocket protocol as the front end does (the
same BackMsg: open the page, then press an answer's button) without drawing anything,
so the server does all its work while the machine's cores are not spent on N browsers.

For every answer it prints the time from the student pressing the button to the
projector's answer count including it (the count only grows, so an answer is shown once
the count reaches the number of answers stored up to and including it), as p50, p95 and
max, plus the time the server took to store the answer, and failures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import websockets
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import CHROMIUM_ARGS, free_port, start_streamlit, stop  # noqa: E402
from tuning.engine.store import ExperimentStore  # noqa: E402
from tuning.services.classroom import QUESTIONS, Classroom  # noqa: E402

UNTHROTTLED = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
               "--disable-backgrounding-occluded-windows"]
COUNT = ".st-key-class_count [data-testid='stMetricValue']"

# Records (wall-clock seconds, shown count) each time the projector's answer count changes.
WATCH_COUNT = """selector => {
    window.__counts = [];
    const seen = () => {
        const el = document.querySelector(selector);
        const n = el ? parseInt(el.textContent, 10) : NaN;
        const last = window.__counts.at(-1);
        if (!Number.isNaN(n) && (!last || last[1] !== n)) window.__counts.push([Date.now() / 1000, n]);
    };
    new MutationObserver(seen).observe(document, {childList: true, subtree: true, characterData: true});
    seen();
}"""


async def _until_finished(ws, found: dict) -> None:
    """Read ForwardMsgs until the script run finishes; note the page hash and the answer buttons' ids."""
    async for data in ws:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            found["page"] = msg.new_session.page_script_hash
        elif kind == "delta" and msg.delta.new_element.WhichOneof("type") == "button":
            found.setdefault("buttons", {})[msg.delta.new_element.button.id] = msg.delta.new_element.button.label
        elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            return


async def student(port: int, code: str, option: str, at: float, timeout: float) -> tuple[float, float] | None:
    """Open the class page, press ``option``'s button at wall-clock time ``at``; (pressed, stored) or None."""
    query = f"c={code}&s={secrets.token_hex(8)}"
    try:
        async with asyncio.timeout(timeout), websockets.connect(
                f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None) as ws:
            opening = BackMsg()
            opening.rerun_script.query_string = query
            opening.rerun_script.page_name = "class"
            await ws.send(opening.SerializeToString())
            found: dict = {}
            await _until_finished(ws, found)
            button = next(i for i, label in found.get("buttons", {}).items() if label == option)
            await asyncio.sleep(max(0.0, at - time.time()))
            press = BackMsg()
            press.rerun_script.query_string = query
            press.rerun_script.page_script_hash = found["page"]
            widget = press.rerun_script.widget_states.widgets.add()
            widget.id, widget.trigger_value = button, True
            pressed = time.time()
            await ws.send(press.SerializeToString())
            await _until_finished(ws, {})
            return pressed, time.time()
    except Exception as exc:  # a failure is counted, not raised
        print(f"  a student failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


async def measure(port: int, store: Path, students: int, within: float) -> None:
    room = Classroom(ExperimentStore(store))
    session, key = room.start(60, preset="learning_rate")
    options = QUESTIONS["learning_rate"].options
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                          args=CHROMIUM_ARGS + UNTHROTTLED)
        teacher = await browser.new_page(viewport={"width": 1280, "height": 720})
        await teacher.goto(f"http://127.0.0.1:{port}/lessons?lesson=learning_rate&class={session.code}"
                           f"&teacher={key}&present=1", timeout=300_000)
        await teacher.wait_for_selector(COUNT, timeout=300_000)  # first visit: the presets are computed
        await teacher.evaluate(WATCH_COUNT, COUNT)
        start = time.time() + 3.0  # every student has opened the page by then
        rng = random.Random(0)
        results = await asyncio.gather(*[
            student(port, session.code, rng.choice(options), start + rng.uniform(0, within), within + 60)
            for _ in range(students)])
        await asyncio.sleep(3.0)  # the projector's last redraws
        counts = await teacher.evaluate("window.__counts")
        await browser.close()
    done = sorted(r for r in results if r is not None)
    by_store = sorted(done, key=lambda r: r[1])
    shown = []
    for n, (pressed, stored) in enumerate(by_store, start=1):
        when = next((t for t, c in counts if c >= n and t >= stored - 0.05), None)
        shown.append(None if when is None else when - pressed)
    delays = sorted(d for d in shown if d is not None)
    stored_in = sorted(s - p for p, s in done)
    print(f"{students} students answering within {within:g} s, hosted server on {os.cpu_count()} cores "
          f"(students' websocket clients and the teacher's Chromium on the same cores):")
    print(f"  answers stored: {len(done)} of {students} (failed: {students - len(done)}), "
          f"final count on the projector: {counts[-1][1] if counts else 'none'}")
    if delays:
        print(f"  answer -> projector histogram: p50 {statistics.median(delays):.2f} s, "
              f"p95 {delays[int(0.95 * (len(delays) - 1))]:.2f} s, max {delays[-1]:.2f} s "
              f"({len(shown) - len(delays)} never shown)")
        print(f"  answer -> stored (the student's page answered): p50 {statistics.median(stored_in):.2f} s, "
              f"p95 {stored_in[int(0.95 * (len(stored_in) - 1))]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--within", type=float, default=10.0, help="seconds over which the answers arrive")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "experiments.sqlite"
        port = free_port()
        server = start_streamlit(port, {**os.environ, "TUNING_HOSTED": "1", "TUNING_STORE": str(store),
                                        "TUNING_KEY_FILE": str(Path(folder) / "store.key")})
        if server is None:
            raise SystemExit("the server did not start")
        try:
            asyncio.run(measure(port, store, args.students, args.within))
        finally:
            stop([server])


if __name__ == "__main__":
    main()
