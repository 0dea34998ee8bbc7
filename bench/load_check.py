"""Load check for the hosted demo: many browser sessions at once against one server.

    python bench/load_check.py [--sessions 20] [--searches 6]

Starts `streamlit run app.py` in hosted mode (TUNING_HOSTED=1) on a free loopback port,
warms the lesson presets, then opens N concurrent browser sessions (Playwright driving
the system Chromium) that each open a preset, and M sessions that each run a small
search. Prints p50/p95 time until the chart is shown, failures, and the server's peak
memory (its process tree). Targets on 2 cores: 20 preset sessions with no failures and
p95 under 5 s once warm; 6 concurrent small searches all complete.

The browsers run on the same machine as the server, so the times include Chromium
starting 20 Streamlit front ends on the same 2 cores; the script also reports the CPU
the server and the browser used meanwhile, to tell the two apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuning.lessons import LESSONS  # noqa: E402
from tuning.share import encode_spec  # noqa: E402
from tuning.spec import parse_spec  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # every tab is a student's foreground tab: no throttling of background pages
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
CHART = "[data-testid='stPlotlyChart'] .main-svg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, store: Path) -> subprocess.Popen:
    env = {**os.environ, "TUNING_HOSTED": "1", "TUNING_STORE": str(store)}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start")


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


def chromium_cpu_seconds() -> float:
    return sum(cpu_seconds(p.pid) for p in psutil.process_iter(["name"]) if p.info["name"] == "chromium")


class MemoryWatch(threading.Thread):
    """Peak resident memory of the server and its children (loky workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)


async def open_preset(browser, url: str, timeout: float) -> float | None:
    page = await browser.shared.new_page()  # each tab is its own Streamlit session (its own websocket)
    started = time.perf_counter()
    try:
        await page.goto(url)
        await page.wait_for_selector(CHART, timeout=timeout * 1000)
        return time.perf_counter() - started
    except Exception:  # a failure is counted, not raised
        return None
    finally:
        await page.close()


async def run_search(browser, url: str, timeout: float) -> float | None:
    page = await browser.shared.new_page()
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


async def main_async(args: argparse.Namespace) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, Path(tmp) / "store.sqlite")
        watch = MemoryWatch(server.pid)
        watch.start()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                browser.shared = await browser.new_context(viewport={"width": 1280, "height": 720})
                names = list(LESSONS)
                warm = time.perf_counter()
                for name in names:  # warm the presets once (they are computed once per server)
                    await open_preset(browser, f"{base}/lessons?lesson={name}", timeout=300)
                print(f"presets warmed in {time.perf_counter() - warm:.1f} s")
                single = await open_preset(browser, f"{base}/lessons?lesson=learning_rate", timeout=60)
                print(f"one session alone: {single:.2f} s")
                server_cpu, browser_cpu, wall = cpu_seconds(server.pid), chromium_cpu_seconds(), time.perf_counter()
                preset_times = await asyncio.gather(*[
                    open_preset(browser, f"{base}/lessons?lesson={names[i % len(names)]}", timeout=120)
                    for i in range(args.sessions)])
                wall = time.perf_counter() - wall
                server_cpu = cpu_seconds(server.pid) - server_cpu
                browser_cpu = chromium_cpu_seconds() - browser_cpu
                print(summary(f"{args.sessions} concurrent preset sessions", preset_times))
                print(f"  CPU used meanwhile ({wall:.1f} s of wall time on {os.cpu_count()} cores): server "
                      f"{server_cpu:.1f} s ({server_cpu / args.sessions:.2f} s per session), "
                      f"browser {browser_cpu:.1f} s")
                specs = [parse_spec({"dataset": {"name": "moons"}, "cv": 3, "n_jobs": 1,
                                     "param_grid": {"hidden_layer_sizes": [[4], [16]], "learning_rate_init": [0.01],
                                                    "max_iter": [25, 50], "batch_size": ["auto"],
                                                    "alpha": [[1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0][i % 6]]}})
                         for i in range(args.searches)]
                search_times = await asyncio.gather(*[
                    run_search(browser, f"{base}/grid_search?spec={encode_spec(spec)}", timeout=300)
                    for spec in specs])
                print(summary(f"{args.searches} concurrent small searches", search_times))
                await browser.close()
        finally:
            watch.running = False
            server.terminate()
            server.wait(timeout=30)
        print(f"server peak memory (with its workers): {watch.peak / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--searches", type=int, default=6)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
