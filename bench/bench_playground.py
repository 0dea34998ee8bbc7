"""How fast the Playground answers a control: training time against the time until the new curves are drawn.

    python bench/bench_playground.py [--moves 8]

Starts `streamlit run app.py` on a free loopback port, opens the Playground (moons, the
default network) in the system Chromium, then moves the learning-rate slider back and
forth with the keyboard. For each move it measures, in the browser, the time from the
key press until the loss chart shows the new run's curves, and reads the page's
"Training time" (the network's training alone). The difference is everything else:
the rerun, the debounce, validation loss, drawing the charts and the decision boundary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import CHROMIUM_ARGS, free_port, start_streamlit  # noqa: E402

CHART = "[class*='st-key-pg_loss_']:not([data-stale='true']) .js-plotly-plot"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "TUNING_STORE": str(Path(tempfile.mkdtemp()) / "experiments.sqlite")}
    server = start_streamlit(port, env)
    if server is None:
        sys.exit("the server did not start")
    answers, trainings = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/playground")
            page.wait_for_selector(IDLE, timeout=120_000)
            page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
            slider = page.get_by_test_id("stSlider").filter(has_text="Learning rate").get_by_role("slider")
            for move in range(args.moves):
                before = page.locator(CHART).last.evaluate("el => el.data[0].y.join()")
                started = time.perf_counter()
                slider.focus()
                page.keyboard.press("ArrowRight" if move % 2 == 0 else "ArrowLeft")
                page.wait_for_function(
                    """([chart, before]) => {
                        const charts = document.querySelectorAll(chart);
                        const el = charts[charts.length - 1];
                        const title = el && el.querySelector('.gtitle');
                        return el && el.data && el.data[0].y.join() !== before && title
                            && !/stale|Training/.test(title.textContent);
                    }""", arg=[CHART, before], timeout=60_000)
                answers.append(time.perf_counter() - started)
                page.wait_for_selector(IDLE, timeout=60_000)
                shown = page.get_by_test_id("stMetric").filter(has_text="Training time")
                trainings.append(float(shown.get_by_test_id("stMetricValue").inner_text().removesuffix(" s")))
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"{args.moves} slider moves on moons (100 epochs, 16 units):")
    print(f"  key press to new curves drawn: p50 {statistics.median(answers):.2f} s "
          f"(range {min(answers):.2f}-{max(answers):.2f}), including the {0.4:.1f} s debounce")
    print(f"  training time shown:           p50 {statistics.median(trainings):.2f} s "
          f"(range {min(trainings):.2f}-{max(trainings):.2f})")


if __name__ == "__main__":
    main()
