"""The experiment store: one SQLite file that keeps every finished fit as it completes.

Experiments are keyed by a stable hash of the normalised spec, a fingerprint of the
data and the scikit-learn version. Running a spec again resumes it (only unfinished
units of work run); a finished spec is served from the store with no training.
Several processes may share one file: SQLite's WAL mode keeps it consistent, and a
lease (owner + heartbeat) makes sure one experiment is trained by one process at a time.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from tuning.data.dataset import Dataset
from tuning.engine.results import SearchResult
from tuning.engine.spec import ExperimentSpec
from tuning.engine.training import FitRecord, UnitResult
from tuning.errors import TuningError

LEASE_SECONDS = 20.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    dataset TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    fits_total INTEGER NOT NULL,
    best_score REAL,
    result TEXT,
    model BLOB,
    owner TEXT,
    heartbeat REAL
);
CREATE TABLE IF NOT EXISTS units (
    experiment TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    unit INTEGER NOT NULL,
    epochs_run INTEGER NOT NULL,
    worker TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    records TEXT NOT NULL,
    PRIMARY KEY (experiment, unit)
);
"""


def default_store_path() -> Path:
    """``$TUNING_STORE``, else ``~/.tuning-lab/experiments.sqlite``."""
    return Path(os.environ.get("TUNING_STORE") or Path.home() / ".tuning-lab" / "experiments.sqlite")


def data_fingerprint(data: Dataset) -> str:
    """A hash of the features and labels exactly as they are used."""
    digest = hashlib.sha256()
    if isinstance(data.X, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(data.X, index=False).to_numpy().tobytes())
        digest.update(json.dumps(list(map(str, data.X.columns))).encode())
    else:
        digest.update(np.ascontiguousarray(data.X).tobytes())
    digest.update(np.ascontiguousarray(data.y).tobytes())
    digest.update(json.dumps(data.class_names).encode())
    return digest.hexdigest()[:16]


def experiment_id(spec: ExperimentSpec, data: Dataset) -> str:
    """Stable id of (spec without ``n_jobs``, data, scikit-learn version)."""
    normalised = {k: v for k, v in spec.to_dict().items() if k != "n_jobs"}
    key = json.dumps({"spec": normalised, "data": data_fingerprint(data), "sklearn": sklearn.__version__},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None, heartbeat: float | None) -> bool:
    if not owner or heartbeat is None:
        return False
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return time.time() - heartbeat < LEASE_SECONDS


def _record_to_json(record: FitRecord) -> dict[str, Any]:
    data = asdict(record)
    for key in ("test_score", "train_score"):
        if isinstance(data[key], float) and math.isnan(data[key]):
            data[key] = None
    return data


def _record_from_json(data: dict[str, Any]) -> FitRecord:
    for key in ("test_score", "train_score"):
        if data[key] is None:
            data[key] = float("nan")
    return FitRecord(**data)


class ExperimentStore:
    """Experiments and their finished fits in one SQLite file.

    Parameters
    ----------
    path : str or Path, optional
        The file (created with its folder when missing); :func:`default_store_path`
        when omitted.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise TuningError(f"cannot open the experiment store {str(self.path)!r}: {exc}. "
                              "Choose another file with --store or TUNING_STORE") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    # --- experiments -------------------------------------------------------------------

    def create(self, exp_id: str, spec: ExperimentSpec, dataset: dict[str, Any], fits_total: int) -> None:
        """Record a new experiment (nothing happens if it exists)."""
        now = time.time()
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO experiments (id, spec, dataset, created, updated, status, fits_total) "
                       "VALUES (?, ?, ?, ?, ?, 'interrupted', ?)",
                       (exp_id, spec.to_json(), json.dumps(dataset), now, now, fits_total))

    def acquire(self, exp_id: str) -> bool:
        """Take the experiment's lease unless a live process holds it; True when taken."""
        me = this_process()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT owner, heartbeat, status FROM experiments WHERE id = ?", (exp_id,)).fetchone()
            if row is None or row["status"] == "finished":
                db.execute("ROLLBACK")
                return False
            if row["owner"] not in (None, me) and _owner_alive(row["owner"], row["heartbeat"]):
                db.execute("ROLLBACK")
                return False
            db.execute("UPDATE experiments SET owner = ?, heartbeat = ?, status = 'running', updated = ? "
                       "WHERE id = ?", (me, time.time(), time.time(), exp_id))
            db.execute("COMMIT")
            return True

    def release(self, exp_id: str, status: str = "interrupted") -> None:
        with self._connect() as db:
            db.execute("UPDATE experiments SET owner = NULL, heartbeat = NULL, status = ?, updated = ? "
                       "WHERE id = ? AND owner = ? AND status != 'finished'",
                       (status, time.time(), exp_id, this_process()))

    def save_unit(self, exp_id: str, unit: UnitResult) -> None:
        """Persist one finished unit of work (its fits) and renew the lease, in one transaction."""
        records = json.dumps([_record_to_json(r) for r in unit.records])
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute('INSERT OR IGNORE INTO units (experiment, unit, epochs_run, worker, start, "end", records) '
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (exp_id, unit.unit, unit.epochs_run, unit.worker, unit.start, unit.end, records))
            db.execute("UPDATE experiments SET heartbeat = ?, updated = ? WHERE id = ? AND owner = ?",
                       (time.time(), time.time(), exp_id, this_process()))
            db.execute("COMMIT")

    def units(self, exp_id: str) -> list[UnitResult]:
        """Every finished unit of work of an experiment."""
        with self._connect() as db:
            rows = db.execute('SELECT unit, epochs_run, worker, start, "end", records FROM units '
                              "WHERE experiment = ? ORDER BY unit", (exp_id,)).fetchall()
        return [UnitResult(unit=r["unit"], records=[_record_from_json(d) for d in json.loads(r["records"])],
                           epochs_run=r["epochs_run"], worker=r["worker"], start=r["start"], end=r["end"])
                for r in rows]

    def finish(self, exp_id: str, result: SearchResult) -> None:
        """Store the assembled result (and the refitted model) and mark the experiment finished."""
        model = None
        if result.best_estimator is not None:
            buffer = io.BytesIO()
            joblib.dump(result.best_estimator, buffer)
            model = buffer.getvalue()
        with self._connect() as db:
            db.execute("UPDATE experiments SET result = ?, model = ?, status = 'finished', best_score = ?, "
                       "owner = NULL, heartbeat = NULL, updated = ? WHERE id = ?",
                       (json.dumps(result.to_dict()), model, result.best_score, time.time(), exp_id))

    def load_result(self, exp_id: str) -> SearchResult | None:
        """The finished result of an experiment (with its model), or None."""
        with self._connect() as db:
            row = db.execute("SELECT result, model FROM experiments WHERE id = ?", (exp_id,)).fetchone()
        if row is None or row["result"] is None:
            return None
        result = SearchResult.from_dict(json.loads(row["result"]))
        if row["model"] is not None:
            result.best_estimator = joblib.load(io.BytesIO(row["model"]))
        return result

    def get(self, exp_id: str) -> dict[str, Any] | None:
        """One experiment's row, as :meth:`list` shows it."""
        rows = self.list(exp_id)
        return rows[0] if rows else None

    def list(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        """Every experiment, newest first: id, name, note, dataset, status, fits done and total, best score."""
        query = ("SELECT e.*, (SELECT COALESCE(SUM(json_array_length(u.records)), 0) FROM units u "
                 "WHERE u.experiment = e.id) AS fits_done FROM experiments e")
        args: tuple[Any, ...] = ()
        if exp_id is not None:
            query += " WHERE e.id = ?"
            args = (exp_id,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY e.created DESC", args).fetchall()
        listed = []
        for r in rows:
            status = r["status"]
            if status == "running" and not _owner_alive(r["owner"], r["heartbeat"]):
                status = "interrupted"
            dataset = json.loads(r["dataset"])
            listed.append({
                "id": r["id"], "name": r["name"], "note": r["note"],
                "dataset": dataset.get("name", ""), "status": status,
                "fits_done": r["fits_done"], "fits_total": r["fits_total"], "best_score": r["best_score"],
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"])),
                "spec": json.loads(r["spec"]),
            })
        return listed

    def annotate(self, exp_id: str, *, name: str | None = None, note: str | None = None) -> None:
        """Rename an experiment or change its note."""
        self._require(exp_id)
        with self._connect() as db:
            if name is not None:
                db.execute("UPDATE experiments SET name = ? WHERE id = ?", (name.strip()[:120], exp_id))
            if note is not None:
                db.execute("UPDATE experiments SET note = ? WHERE id = ?", (note.strip()[:2000], exp_id))

    def delete(self, exp_id: str) -> None:
        """Delete an experiment and every fit it kept."""
        self._require(exp_id)
        with self._connect() as db:
            db.execute("DELETE FROM experiments WHERE id = ?", (exp_id,))

    def _require(self, exp_id: str) -> None:
        if self.get(exp_id) is None:
            known = ", ".join(r["id"] for r in self.list()[:5])
            raise TuningError(f"experiment {exp_id!r} is not in {self.path}. "
                              + (f"Known ids include: {known}" if known else "The store is empty"))

    def find(self, prefix: str) -> str:
        """The full id of an experiment from its id or a unique prefix of it."""
        matches = [r["id"] for r in self.list() if r["id"].startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            self._require(prefix)
        raise TuningError(f"{prefix!r} matches {len(matches)} experiments; give more of the id")
