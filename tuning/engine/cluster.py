"""Scale out: run the units of work on a Dask distributed cluster through joblib's Dask backend.

Results are the same as a local run: every unit pins BLAS to one thread and the data
is identical on every worker (scattered once, not sent with each task).

A scheduler address is trusted code: Dask sends pickles both ways, so whoever runs the
scheduler (or a worker) at that address can run code in the process that connects. Only
the person running Tuning Lab chooses it (the CLI, the local dashboard, or a hosted
server's own configuration), never a visitor.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from joblib import parallel_config

from tuning.errors import TuningError

LOCAL = "local"
TRUST_WARNING = ("a Dask scheduler address is trusted code: whoever runs the scheduler and its workers can run "
                 "code in this process (Dask exchanges pickles). Connect only to a cluster you or your "
                 "organisation run.")
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/:]+(:\d+)?$")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - it is in requirements.txt
        raise TuningError("dask.distributed is not installed. Run `pip install -r requirements.txt`") from None
    return distributed


def check_address(address: str) -> str:
    """Refuse an address that is not ``local`` or ``tcp://HOST:PORT``-like, before connecting."""
    address = address.strip()
    if address != LOCAL and not _ADDRESS.match(address):
        raise TuningError(f"{address!r} is not a Dask scheduler address. Write it as tcp://HOST:PORT "
                          "(e.g. tcp://10.0.0.5:8786), or 'local' to start a cluster on this machine")
    return address


@contextmanager
def connected(address: str, *, n_workers: int | None = None, timeout: float = 5.0) -> Iterator[Any]:
    """A ``distributed.Client`` for a scheduler address, or for a new local cluster (``local``);
    on leaving, the client is closed, and so is the local cluster it started.

    Raises
    ------
    TuningError
        When the address is malformed or nothing answers there.
    """
    distributed = _distributed()
    address = check_address(address)
    cluster = None
    if address == LOCAL:  # never more worker processes than this machine has cores
        cores = os.cpu_count() or 1
        cluster = distributed.LocalCluster(n_workers=min(n_workers or cores, cores), threads_per_worker=1,
                                           processes=True, dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
    else:
        try:
            client = distributed.Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise TuningError(f"cannot reach the Dask scheduler at {address} ({exc}). Check that `dask scheduler` "
                              "is running there and that this machine can reach its port") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def describe(client: Any) -> dict[str, Any]:
    """The scheduler's address and its workers with their threads."""
    info = client.scheduler_info()
    workers = [{"address": address, "threads": w.get("nthreads", 1), "name": str(w.get("name", ""))}
               for address, w in sorted(info.get("workers", {}).items())]
    return {"scheduler": info.get("address", ""), "workers": workers,
            "threads": sum(w["threads"] for w in workers)}


def cluster_status(address: str) -> dict[str, Any]:
    """Connect, describe the cluster and disconnect (for a UI's status line)."""
    with connected(address, timeout=3.0) as client:
        return describe(client)


def check_workers(client: Any) -> None:
    """Refuse a cluster whose scheduler or workers cannot run Tuning Lab's code identically."""
    try:
        client.run_on_scheduler(importlib.import_module, "tuning")
        outcomes = client.run(importlib.import_module, "tuning", on_error="return")
    except ImportError:
        outcomes = {"scheduler": ImportError()}
    if any(isinstance(outcome, ImportError) for outcome in outcomes.values()):
        raise TuningError("the Dask scheduler or workers cannot import Tuning Lab's `tuning` package. Start "
                          "`dask scheduler` and `dask worker` from a Tuning Lab checkout (or with it on "
                          "PYTHONPATH) after `pip install -r requirements.txt`") from None
    local = importlib.metadata.version("scikit-learn")
    versions = client.run(importlib.metadata.version, "scikit-learn", on_error="return")
    wrong = sorted(address for address, version in versions.items() if isinstance(version, str) and version != local)
    if wrong:
        raise TuningError(f"Dask worker(s) {', '.join(wrong)} run another scikit-learn than this machine "
                          f"({local}), so scores could differ. Install requirements.txt on every worker")


@contextmanager
def dask_backend(address: str, *, scatter: list[Any], n_workers: int | None = None) -> Iterator[Any]:
    """Within the block, joblib runs on the cluster at ``address``; ``scatter`` goes to the workers once."""
    with connected(address, n_workers=n_workers) as client:
        try:
            if not client.scheduler_info().get("workers"):
                client.wait_for_workers(1, timeout=30)
        except TimeoutError:
            raise TuningError(f"the Dask scheduler at {address} has no workers. Start some with "
                              f"`dask worker {address}`") from None
        check_workers(client)
        with parallel_config(backend="dask", scatter=scatter):
            yield client


def running_on_dask_worker() -> str | None:
    """The address of the Dask worker running this code, if any."""
    distributed = sys.modules.get("distributed")  # never imported just to ask
    if distributed is None:
        return None
    try:
        return distributed.get_worker().address
    except ValueError:
        return None
