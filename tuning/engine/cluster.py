"""Scale out: run the units of work on a Dask distributed cluster through joblib's Dask backend.

Results are the same as a local run: every unit pins BLAS to one thread and the data
is identical on every worker (scattered once, not sent with each task). Workers need
only the requirements: a client sends its own ``tuning`` package to machines that lack
it (:func:`prepare_workers`), and refuses machines that run other versions.

A scheduler address is trusted code: Dask sends pickles both ways, so whoever runs the
scheduler (or a worker) at that address can run code in the process that connects. Only
the person running Tuning Lab chooses it (the CLI, the local dashboard, or a hosted
server's own configuration), never a visitor.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import logging
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from joblib import parallel_config

from tuning.errors import TuningError, sentence

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


def _versions_probe() -> Callable[[], dict[str, str | None]]:
    """A function that reports the ``tuning`` and scikit-learn versions where it runs.

    It is defined inside this function so that Dask sends it by value (cloudpickle never
    pickles a local function by reference): it runs on machines that cannot import ``tuning``.
    """

    def probe() -> dict[str, str | None]:
        import importlib
        import importlib.metadata

        try:
            found = importlib.import_module("tuning").__version__
        except ImportError:
            found = None
        return {"tuning": found, "scikit-learn": importlib.metadata.version("scikit-learn")}

    return probe


def package_zip() -> Path:
    """This ``tuning`` package as a zip archive (made once per content) that Python can import from."""
    import tuning

    source = Path(tuning.__file__).resolve().parent
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    target = Path(tempfile.gettempdir()) / f"tuning-{tuning.__version__}-{digest.hexdigest()[:12]}.zip"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, Path("tuning") / path.relative_to(source))
        os.replace(partial, target)
    return target


def _survey(client: Any) -> dict[str, Any]:
    probe = _versions_probe()
    found = {"scheduler": client.run_on_scheduler(probe)}
    found.update(client.run(probe, on_error="return"))
    return found


def prepare_workers(client: Any) -> None:
    """Make the scheduler and every worker run this ``tuning`` and scikit-learn.

    Where ``tuning`` cannot be imported, this client sends its own package (Dask's
    ``upload_file``, which also reaches workers that join later); so workers need only the
    requirements. A machine with another scikit-learn, or another ``tuning`` installed, is
    refused by name: its scores could differ.

    Raises
    ------
    TuningError
        Naming each machine that runs other versions, and the fix.
    """
    import tuning

    local = {"tuning": tuning.__version__, "scikit-learn": importlib.metadata.version("scikit-learn")}
    found = _survey(client)
    if any(isinstance(v, dict) and v["tuning"] is None for v in found.values()):
        try:
            client.upload_file(str(package_zip()), load=True)
        except Exception as exc:  # e.g. a worker without the requirements cannot import what tuning imports
            raise TuningError(f"could not send Tuning Lab's `tuning` package to the Dask scheduler and workers "
                              f"({type(exc).__name__}: {sentence(exc)}). Run `pip install -r requirements.txt` "
                              "on every machine") from None
        found = _survey(client)
    broken = sorted(f"{where} ({type(v).__name__}: {v})" for where, v in found.items() if not isinstance(v, dict))
    if broken:
        raise TuningError(f"cannot check the Dask machines {', '.join(broken)}. Check that they run "
                          "`pip install -r requirements.txt`")
    for package, fix in (("scikit-learn", "Install requirements.txt on every worker"),
                         ("tuning", "Install this version of Tuning Lab there, or none (it is then sent)")):
        wrong = sorted(f"{where} has {v[package] or 'none'}" for where, v in found.items()
                       if v[package] != local[package])
        if wrong:
            raise TuningError(f"the Dask scheduler or workers run another {package} than this machine "
                              f"({local[package]}), so scores could differ: {'; '.join(wrong)}. {fix}")


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
        prepare_workers(client)
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
