"""Real processes that the tests and the bench scripts start: free loopback ports, a
`streamlit run app.py` server, a `dask scheduler` with workers, and the flags for the
system Chromium."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    """Wait until something listens on a loopback port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def start_dask(workers: list[str], env: dict[str, str], log: IO | int = subprocess.DEVNULL
               ) -> tuple[str, dict[str, subprocess.Popen]]:
    """A real `dask scheduler` on a free loopback port and one `dask worker` (one thread) per name.

    Returns the scheduler's address and the processes by name ("scheduler" and each worker);
    the caller stops them. Workers may still be joining when this returns.
    """
    dask = [sys.executable, "-m", "dask"]  # the `dask` command of this Python, wherever its scripts are
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = {"scheduler": subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                            "--no-dashboard"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)}
    wait_for_port(port)
    for name in workers:
        procs[name] = subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--name", name, "--no-nanny",
                                        "--no-dashboard"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate processes this code started, then kill any that do not exit within 20 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_streamlit(port: int, env: dict[str, str], log: IO | int = subprocess.DEVNULL,
                    timeout: float = 60) -> subprocess.Popen | None:
    """Start `streamlit run app.py` headless on a loopback port and wait for its health endpoint.

    Returns the running server, or None (after killing it) when it exited or did not answer
    within ``timeout`` seconds.
    """
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    return None
