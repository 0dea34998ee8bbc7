"""Load check for the hosted demo: many sessions at once against one server.

    python bench/load_check.py [--sessions 20] [--searches 6]

Starts `streamlit run app.py` in hosted mode (TUNING_HOSTED=1) on a free loopback port,
warms the lesson presets, then measures N concurrent sessions that open a preset, three
ways, and M browser sessions that each run a small search:

1. server side: N clients do what a browser asks of the server, without drawing: with a
   cold cache they first download every file a fresh Chromium fetched to show the page
   (recorded during the warm-up, six connections at a time as a browser does); then,
   as with a warm cache, they speak Streamlit's websocket protocol exactly as the front
   end does (the same BackMsg, the same ForwardMsgs back) until the preset's chart
   arrives. This is what the server adds for a class whose browsers run on their own
   machines.
2. browser page loads: N Playwright tabs (the system Chromium) open the preset's address
   at once and time until the chart's SVG is in the page. The browsers run on the server's cores,
   so this includes N Streamlit front ends booting on one machine.
3. browser clicks: those N open tabs each click another preset at once ("one click
   each") and time from the click (the event's time stamp) until the new chart's SVG is
   in the page.

Prints p50/p95, failures, CPU used by the server and by Chromium, and peak memory.
Targets on 2 cores: N=20 preset sessions with no failures and p95 under 5 s once warm;
6 concurrent small searches all complete.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import websockets
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS  # noqa: E402
from tests.processes import free_port, start_streamlit  # noqa: E402
from tuning.engine.spec import parse_spec  # noqa: E402
from tuning.services.lessons import LESSONS  # noqa: E402
from tuning.services.share import encode_spec  # noqa: E402

CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS,
                 # every tab is a student's foreground tab: no throttling of background pages
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
CHART = "[data-testid='stPlotlyChart'] .main-svg"


# Resolves once an element matching the selector is in the page. A MutationObserver, unlike
# Playwright's polling on every animation frame, costs the tab nothing while it waits, so
# twenty waiting tabs do not slow each other down.
APPEARS = """selector => new Promise(resolve => {
    const found = () => document.querySelector(selector) && (observer.disconnect(), resolve(true), true);
    const observer = new MutationObserver(found);
    if (!found()) observer.observe(document, {childList: true, subtree: true});
})"""


async def appears(page, selector: str, timeout: float) -> None:
    await asyncio.wait_for(page.evaluate(APPEARS, selector), timeout)


# Resolves with the seconds from the next click (the event's own time stamp: when the
# browser received it) until an element matching the selector is in the page; Playwright's
# checks before it clicks are not part of what the student waits for.
CLICK_TO = """selector => new Promise(resolve => {
    let clicked = null;
    document.addEventListener("click", event => { clicked ??= event.timeStamp; }, {capture: true});
    const observer = new MutationObserver(() => {
        if (clicked !== null && document.querySelector(selector)) {
            observer.disconnect();
            resolve((performance.now() - clicked) / 1000);
        }
    });
    observer.observe(document, {childList: true, subtree: true});
})"""


def lesson_chart(name: str) -> str:
    """The first chart of one preset (Streamlit marks an element's container with its key)."""
    return f".st-key-lesson_{name}_0 {CHART}"


def start_server(port: int, store: Path) -> subprocess.Popen:
    server = start_streamlit(port, {**os.environ, "TUNING_HOSTED": "1", "TUNING_STORE": str(store)})
    if server is None:
        raise SystemExit("the server did not start")
    return server


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def chromium_cpu() -> dict[int, float]:
    """CPU time used so far by each Chromium process alive now."""
    return {proc.pid: proc.info["cpu_times"].user + proc.info["cpu_times"].system
            for proc in psutil.process_iter(["name", "cpu_times"])
            if proc.info["name"] == "chromium" and proc.info["cpu_times"]}


class MemoryWatch(threading.Thread):
    """Peak resident memory of the server and its children (loky workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.server_peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.server_peak = max(self.server_peak, self.process.memory_info().rss)
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)


BROWSER_CONNECTIONS = 6  # a browser's parallel HTTP/1.1 connections to one host


def fetch(url: str) -> int:
    """GET one file as Chromium asks for it; the status."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def protocol_session(port: int, name: str, timeout: float,
                           assets: dict[str, int] | None = None) -> float | None:
    """One session as the front end opens it: download ``assets`` (path -> the status the
    browser got; a cold cache), connect, ask for the page, wait for its chart."""
    started = time.perf_counter()
    connections = asyncio.Semaphore(BROWSER_CONNECTIONS)

    async def get(path: str) -> int:
        async with connections:
            return await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}{path}")

    assets = assets or {}
    try:
        statuses = await asyncio.wait_for(asyncio.gather(*[get(path) for path in assets]), timeout)
    except Exception:
        return None
    if statuses != list(assets.values()):  # the front end's probes of /lessons/_stcore/... get a 404 too
        return None
    message = BackMsg()
    message.rerun_script.query_string = f"lesson={name}"
    message.rerun_script.page_name = "lessons"
    try:
        async with asyncio.timeout(timeout), websockets.connect(
                f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None) as ws:
            await ws.send(message.SerializeToString())
            async for data in ws:
                forward = ForwardMsg()
                forward.ParseFromString(data)
                if (forward.WhichOneof("type") == "delta"
                        and forward.delta.new_element.WhichOneof("type") == "plotly_chart"
                        and f"lesson_{name}_0" in forward.delta.new_element.plotly_chart.id):
                    return time.perf_counter() - started
                if forward.WhichOneof("type") == "script_finished" and forward.script_finished in (
                        ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    return None  # the page finished without the chart
    except Exception:  # a failure is counted, not raised
        return None
    return None


async def record_assets(browser, base: str, name: str) -> dict[str, int]:
    """The files a browser with an empty cache fetches from the server to show a preset,
    with the status each got."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    paths: dict[str, int] = {}
    context.on("response", lambda response: paths.setdefault(response.url.removeprefix(base), response.status)
               if response.url.startswith(base) else None)
    seconds, _ = await open_preset(context, f"{base}/lessons?lesson={name}", name, timeout=300)
    await context.close()
    if seconds is None:
        raise SystemExit(f"the preset {name!r} did not show its chart")
    return paths


async def open_preset(context, url: str, name: str, timeout: float) -> tuple[float | None, object]:
    """Open a preset's address in a new tab (its own Streamlit session); the tab stays open."""
    page = await context.new_page()
    started = time.perf_counter()
    try:
        await page.goto(url)
        await appears(page, lesson_chart(name), timeout)
        return time.perf_counter() - started, page
    except Exception:
        return None, page


async def click_preset(page, name: str, timeout: float) -> float | None:
    """In an open Lessons tab, click another preset and wait for its chart."""
    try:
        shown = asyncio.ensure_future(asyncio.wait_for(page.evaluate(CLICK_TO, lesson_chart(name)), timeout))
        await page.locator(".st-key-lesson button", has_text=LESSONS[name].title).click(timeout=timeout * 1000)
        return await shown
    except Exception:
        return None


async def run_search(context, url: str, timeout: float) -> float | None:
    page = await context.new_page()
    started = time.perf_counter()
    try:
        await page.goto(url)
        await page.get_by_test_id("stButton").get_by_text("Run search").click(timeout=timeout * 1000)
        await page.get_by_test_id("stMetric").filter(has_text="best_score_").wait_for(timeout=timeout * 1000)
        return time.perf_counter() - started
    except Exception:
        return None
    finally:
        await page.close()


def summary(label: str, times: list[float | None]) -> str:
    done = sorted(t for t in times if t is not None)
    failures = len(times) - len(done)
    if not done:
        return f"{label}: {len(times)} sessions, all failed"
    p95 = done[min(len(done) - 1, round(0.95 * len(done)) - 1)]
    return (f"{label}: {len(times)} sessions, {failures} failed, p50 {statistics.median(done):.2f} s, "
            f"p95 {p95:.2f} s, max {done[-1]:.2f} s")


class Meter:
    """Wall time and the CPU the server and Chromium used over one phase."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.wall, self.server, self.browser = time.perf_counter(), cpu_seconds(server_pid), chromium_cpu()

    def line(self, sessions: int) -> str:
        wall = time.perf_counter() - self.wall
        server = cpu_seconds(self.server_pid) - self.server
        # Chromium processes alive at the end (tabs of earlier phases may have exited meanwhile)
        browser = sum(used - self.browser.get(pid, 0.0) for pid, used in chromium_cpu().items())
        return (f"  CPU used meanwhile ({wall:.1f} s of wall time on {os.cpu_count()} cores): server {server:.1f} s "
                f"({server / sessions:.3f} s per session), Chromium {browser:.1f} s")


async def main_async(args: argparse.Namespace) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    names = list(LESSONS)
    n = args.sessions
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, Path(tmp) / "store.sqlite")
        watch = MemoryWatch(server.pid)
        watch.start()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                context = await browser.new_context(viewport={"width": 1280, "height": 720})
                warm = time.perf_counter()
                assets = await record_assets(browser, base, names[0])
                for name in names:  # warm the presets once (they are computed once per server)
                    _, page = await open_preset(context, f"{base}/lessons?lesson={name}", name, timeout=300)
                    await page.close()
                print(f"presets warmed in {time.perf_counter() - warm:.1f} s; a browser with an empty cache "
                      f"fetched {len(assets)} files to show one")
                single, page = await open_preset(context, f"{base}/lessons?lesson={names[0]}", names[0], timeout=60)
                await page.close()
                print(f"one browser session alone, page load to chart: {single:.2f} s")

                for cache, files in (("warm", {}), ("cold", assets)):
                    meter = Meter(server.pid)
                    times = await asyncio.gather(*[protocol_session(port, names[i % len(names)], 120, files)
                                                   for i in range(n)])
                    print(summary(f"server side, {cache} cache: {n} concurrent sessions opening presets", times))
                    print(meter.line(n))

                meter = Meter(server.pid)
                opened = await asyncio.gather(*[
                    open_preset(context, f"{base}/lessons?lesson={names[i % len(names)]}", names[i % len(names)],
                                timeout=180) for i in range(n)])
                print(summary(f"browser page loads: {n} concurrent tabs opening presets", [t for t, _ in opened]))
                print(meter.line(n))

                meter = Meter(server.pid)
                times = await asyncio.gather(*[click_preset(page, names[(i + 1) % len(names)], timeout=120)
                                               for i, (_, page) in enumerate(opened)])
                print(summary(f"browser clicks: {n} open tabs clicking another preset at once", times))
                print(meter.line(n))
                for _, page in opened:
                    await page.close()

                specs = [parse_spec({"dataset": {"name": "moons"}, "cv": 3, "n_jobs": 1,
                                     "param_grid": {"hidden_layer_sizes": [[4], [16]], "learning_rate_init": [0.01],
                                                    "max_iter": [25, 50], "batch_size": ["auto"],
                                                    "alpha": [[1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0][i % 6]]}})
                         for i in range(args.searches)]
                if specs:
                    search_times = await asyncio.gather(*[
                        run_search(context, f"{base}/grid_search?spec={encode_spec(spec)}", timeout=300)
                        for spec in specs])
                    print(summary(f"{args.searches} concurrent small searches", search_times))
                await browser.close()
        finally:
            watch.running = False
            server.terminate()
            server.wait(timeout=30)
        print(f"peak memory: server process {watch.server_peak / 2**20:.0f} MiB, "
              f"with its worker processes {watch.peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--searches", type=int, default=6)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
