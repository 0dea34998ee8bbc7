"""The experiment store: one SQLite file that keeps every finished fit as it completes.

Experiments are keyed by a stable hash of the normalised spec, a fingerprint of the
data and the scikit-learn version. Running a spec again resumes it (only unfinished
units of work run); a finished spec is served from the store with no training.
Several processes may share one file: SQLite's WAL mode keeps it consistent, and a
lease (owner + heartbeat) makes sure one experiment is trained by one process at a time.
The owner renews its lease while it trains; another process takes it over only when the
owner is gone (its process has exited, or it has not renewed the lease for
``lease_seconds()``).

Models are pickles, and unpickling runs code, so a model is only loaded when this user
wrote it on this machine: it is signed with a key kept outside the store
(``~/.tuning-lab/store.key``, or ``$TUNING_KEY_FILE``, mode 0600). A store written by
anyone else still shows its results; its models are never unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import socket
import sqlite3
import stat
import threading
import time
import uuid
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
from tuning.engine.results import SearchResult, _plain
from tuning.engine.spec import ExperimentSpec, for_data
from tuning.engine.training import FitRecord, UnitResult
from tuning.errors import ExperimentNotFound, StoreError, TuningError

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0
_MODEL_SIGNATURE_CONTEXT = b"tuning-lab model v1"
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
    model_mac TEXT,
    owner TEXT,
    heartbeat REAL,
    tags TEXT NOT NULL DEFAULT '[]'
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


def clean_tags(tags: Any) -> list[str]:
    """Tags as kept: trimmed, no commas or line breaks, at most 30 characters each, 12 tags, no repeats."""
    cleaned: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).replace(",", " ").split())[:30].strip()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned[:12]


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
    """Stable id of (spec without ``n_jobs``, data, scikit-learn version); a spec whose task is
    "auto" counts as the task the data has, as the search runs it."""
    if spec.task == "auto":
        spec = for_data(spec, data)
    normalised = {k: v for k, v in spec.to_dict().items() if k != "n_jobs"}
    key = json.dumps({"spec": normalised, "data": data_fingerprint(data), "sklearn": sklearn.__version__},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_seconds() -> float:
    """How long a lease lasts without a heartbeat: ``$TUNING_LEASE_SECONDS``, else 20 s."""
    try:
        return max(0.5, float(os.environ.get("TUNING_LEASE_SECONDS", LEASE_SECONDS)))
    except ValueError:
        return LEASE_SECONDS


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_alive(owner: str | None, heartbeat: float | None) -> bool:
    """Whether the lease holder is still there: its heartbeat is fresh and, on this host, its process runs."""
    if not owner or heartbeat is None:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit() and not _process_exists(int(pid)):
        return False
    return time.time() - heartbeat < lease_seconds()


def key_path() -> Path:
    """The file holding this user's model-signing key: ``$TUNING_KEY_FILE``, else ``~/.tuning-lab/store.key``."""
    return Path(os.environ.get("TUNING_KEY_FILE") or Path.home() / ".tuning-lab" / "store.key")


def _signing_key(create: bool) -> bytes | None:
    """This user's signing key (made on first use, mode 0600), or None when it is missing or untrustworthy."""
    path = key_path()
    if create and not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        except OSError as exc:
            log.warning("cannot create the model-signing key %s (%s): models are not kept", path, exc)
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)):
            log.warning("the model-signing key %s is not a file only you can read and write (chmod 600 it): "
                        "stored models are neither kept nor loaded", path)
            return None
        key = f.read(4096).strip()
    return key or None


def _model_signature(key: bytes, exp_id: str, model: bytes) -> str:
    message = b"\0".join([_MODEL_SIGNATURE_CONTEXT, exp_id.encode(), model])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _record_to_json(record: FitRecord) -> dict[str, Any]:
    """JSON-ready: NaN and infinities (failed scores, a diverged loss curve) become null."""
    return _plain(asdict(record))


def _record_from_json(data: dict[str, Any]) -> FitRecord:
    for key in ("test_score", "train_score"):
        value = data[key]
        if isinstance(value, dict):
            data[key] = {k: float("nan") if v is None else v for k, v in value.items()}
        elif value is None:
            data[key] = float("nan")
    return FitRecord(**data)


class ExperimentStore:
    """Experiments and their finished fits in one SQLite file.

    Parameters
    ----------
    path : str or Path, optional
        The file (created with its folder when missing); :func:`default_store_path`
        when omitted.

    Raises
    ------
    StoreError
        From the constructor and every method, when the file is damaged, read-only,
        locked for too long or not an experiment store; the message names the file and
        says what to do.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self._leases: dict[str, str] = {}  # experiment id -> the owner token this object holds
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open the experiment store {str(self.path)!r}: {exc.strerror or exc}. "
                             "Choose another file with --store or TUNING_STORE") from None
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"the experiment store {str(self.path)!r} is not a file. "
                             "Choose another file with --store or TUNING_STORE")
        with self._connect() as db:
            # one process at a time: two opening the same old store at once both saw a column missing,
            # and the second one's ALTER TABLE failed ("duplicate column name")
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                columns = {row["name"] for row in db.execute("PRAGMA table_info(experiments)")}
                if "model_mac" not in columns:  # a store from before models were signed
                    db.execute("ALTER TABLE experiments ADD COLUMN model_mac TEXT")
                if "tags" not in columns:  # a store from before experiments had tags
                    db.execute("ALTER TABLE experiments ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _problem(self, exc: sqlite3.Error) -> StoreError:
        """One message naming the file, what is wrong with it and what to do."""
        text = str(exc)
        where = f"the experiment store {str(self.path)!r}"
        other = "or choose another file with --store or TUNING_STORE"
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(f"{where} cannot be written ({text}). Make the file and its folder writable, {other}")
        if "locked" in text or "busy" in text:
            return StoreError(f"{where} stayed locked by another process for 30 s ({text}). Try again, {other}")
        if not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text:
            return StoreError(f"{where} is damaged or is not an experiment store ({text}). Move it aside to "
                              f"start a new one, {other}")
        return StoreError(f"cannot use {where} ({text}). Check the file, {other}")

    def _damaged(self, what: str) -> StoreError:
        return StoreError(f"{what} in the experiment store {str(self.path)!r} is damaged. Delete that experiment, "
                          "move the file aside to start a new one, or choose another file with --store or TUNING_STORE")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("PRAGMA busy_timeout=30000")
                db.row_factory = sqlite3.Row
                yield db
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise self._problem(exc) from None

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store's file (autocommit, WAL, rows by name) for a service that keeps
        its own tables beside the experiments, such as class sessions; a failure is a StoreError."""
        with self._connect() as db:
            yield db

    def check(self) -> None:
        """Raise StoreError unless the file can still be read as a store (a cheap probe)."""
        with self._connect() as db:
            db.execute("SELECT id FROM experiments LIMIT 1").fetchall()

    # --- experiments -------------------------------------------------------------------

    def create(self, exp_id: str, spec: ExperimentSpec, dataset: dict[str, Any], fits_total: int) -> None:
        """Record a new experiment (nothing happens if it exists), as running: :meth:`acquire` comes next."""
        now = time.time()
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO experiments (id, spec, dataset, created, updated, status, fits_total) "
                       "VALUES (?, ?, ?, ?, ?, 'running', ?)",
                       (exp_id, spec.to_json(), json.dumps(dataset), now, now, fits_total))

    def acquire(self, exp_id: str) -> bool:
        """Take the experiment's lease unless its holder is still there; True when taken.

        The lease belongs to this object and this call: another thread or another
        ``ExperimentStore`` of the same process cannot take it while it is held.
        """
        me = f"{this_process()}:{uuid.uuid4().hex[:12]}"
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT owner, heartbeat, status FROM experiments WHERE id = ?", (exp_id,)).fetchone()
            if row is None or row["status"] == "finished":
                db.execute("ROLLBACK")
                return False
            if row["owner"] is not None and _owner_alive(row["owner"], row["heartbeat"]):
                db.execute("ROLLBACK")
                return False
            db.execute("UPDATE experiments SET owner = ?, heartbeat = ?, status = 'running', updated = ? "
                       "WHERE id = ?", (me, time.time(), time.time(), exp_id))
            db.execute("COMMIT")
        with self._lock:
            self._leases[exp_id] = me
        return True

    def _owner(self, exp_id: str) -> str | None:
        with self._lock:
            return self._leases.get(exp_id)

    def renew(self, exp_id: str) -> bool:
        """Refresh the heartbeat of a lease this object holds; False when it was lost."""
        with self._connect() as db:
            cursor = db.execute("UPDATE experiments SET heartbeat = ? WHERE id = ? AND owner = ?",
                                (time.time(), exp_id, self._owner(exp_id)))
        return cursor.rowcount == 1

    def release(self, exp_id: str, status: str = "interrupted") -> None:
        with self._connect() as db:
            db.execute("UPDATE experiments SET owner = NULL, heartbeat = NULL, status = ?, updated = ? "
                       "WHERE id = ? AND owner = ? AND status != 'finished'",
                       (status, time.time(), exp_id, self._owner(exp_id)))
        with self._lock:
            self._leases.pop(exp_id, None)

    @contextmanager
    def holding(self, exp_id: str) -> Iterator[None]:
        """Within the block, renew the lease taken with :meth:`acquire` every quarter of
        :func:`lease_seconds` (units of work may take longer than a lease); release it after."""
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(lease_seconds() / 4):
                try:
                    self.renew(exp_id)
                except TuningError as exc:  # the next beat may get through; the lease lasts a while
                    log.warning("could not renew the lease of experiment %s: %s", exp_id, exc)

        beating = threading.Thread(target=heartbeat, daemon=True, name=f"tuning-lease-{exp_id}")
        beating.start()
        try:
            yield
        finally:
            stop.set()
            beating.join()
            self.release(exp_id)

    def save_unit(self, exp_id: str, unit: UnitResult) -> None:
        """Persist one finished unit of work (its fits) and renew the lease, in one transaction."""
        records = json.dumps([_record_to_json(r) for r in unit.records])
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute('INSERT OR IGNORE INTO units (experiment, unit, epochs_run, worker, start, "end", records) '
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (exp_id, unit.unit, unit.epochs_run, unit.worker, unit.start, unit.end, records))
            db.execute("UPDATE experiments SET heartbeat = ?, updated = ? WHERE id = ? AND owner = ?",
                       (time.time(), time.time(), exp_id, self._owner(exp_id)))
            db.execute("COMMIT")

    def units(self, exp_id: str) -> list[UnitResult]:
        """Every finished unit of work of an experiment."""
        with self._connect() as db:
            rows = db.execute('SELECT unit, epochs_run, worker, start, "end", records FROM units '
                              "WHERE experiment = ? ORDER BY unit", (exp_id,)).fetchall()
        try:
            return [UnitResult(unit=r["unit"], records=[_record_from_json(d) for d in json.loads(r["records"])],
                               epochs_run=r["epochs_run"], worker=r["worker"], start=r["start"], end=r["end"])
                    for r in rows]
        except (ValueError, TypeError, KeyError):
            raise self._damaged(f"a fit of experiment {exp_id!r}") from None

    def finish(self, exp_id: str, result: SearchResult) -> None:
        """Store the assembled result (and the refitted model, signed) and mark the experiment finished."""
        model = signature = None
        key = _signing_key(create=True) if result.best_estimator is not None else None
        if key is not None:
            buffer = io.BytesIO()
            joblib.dump(result.best_estimator, buffer)
            model = buffer.getvalue()
            signature = _model_signature(key, exp_id, model)
        with self._connect() as db:
            db.execute("UPDATE experiments SET result = ?, model = ?, model_mac = ?, status = 'finished', "
                       "best_score = ?, owner = NULL, heartbeat = NULL, updated = ? WHERE id = ?",
                       (json.dumps(result.to_dict()), model, signature, result.best_score, time.time(), exp_id))
        with self._lock:
            self._leases.pop(exp_id, None)

    def save_result(self, result: SearchResult, units: list[UnitResult], *, name: str = "") -> None:
        """Keep a finished search that ran elsewhere (``tuning.GridSearchCV`` in Python), with its units."""
        spec = result.spec.to_json() if result.spec is not None else json.dumps({"python": result.source})
        now = time.time()
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO experiments (id, spec, dataset, name, created, updated, status, "
                       "fits_total) VALUES (?, ?, ?, ?, ?, ?, 'interrupted', ?)",
                       (result.experiment_id, spec, json.dumps(result.dataset), name.strip()[:120], now, now,
                        result.fits_total))
        for unit in units:
            self.save_unit(result.experiment_id, unit)
        self.finish(result.experiment_id, result)

    def load_result(self, exp_id: str) -> SearchResult | None:
        """The finished result of an experiment, or None.

        Its model is loaded only when it carries this user's signature; otherwise
        ``best_estimator`` is None and ``model_note`` says why (nothing is unpickled).
        """
        with self._connect() as db:
            row = db.execute("SELECT result, model, model_mac FROM experiments WHERE id = ?", (exp_id,)).fetchone()
        if row is None or row["result"] is None:
            return None
        try:
            result = SearchResult.from_dict(json.loads(row["result"]))
        except (ValueError, TypeError, KeyError, AttributeError, TuningError):
            raise self._damaged(f"the result of experiment {exp_id!r}") from None
        if row["model"] is not None:
            result.best_estimator, result.model_note = self._trusted_model(exp_id, bytes(row["model"]),
                                                                           row["model_mac"])
        return result

    def _trusted_model(self, exp_id: str, model: bytes, signature: Any) -> tuple[Any, str | None]:
        """The stored model when this user's key signed it, else (None, why it was not loaded)."""
        key = _signing_key(create=False)
        if key is None or not isinstance(signature, str) or not hmac.compare_digest(
                _model_signature(key, exp_id, model).encode(), signature.encode("utf-8", "replace")):
            how = "it was stored without a signature" if signature is None else "it is not signed with your key"
            return None, (f"The model of experiment {exp_id} was not loaded: {how}, so {self.path.name} was not "
                          "written by you on this machine, and loading someone else's model could run their code. "
                          "The results are shown; run the spec again to refit the model.")
        try:
            return joblib.load(io.BytesIO(model)), None
        except Exception as exc:  # e.g. written by another scikit-learn version
            return None, (f"The model of experiment {exp_id} could not be loaded ({type(exc).__name__}). "
                          "The results are shown; run the spec again to refit the model.")

    def get(self, exp_id: str) -> dict[str, Any] | None:
        """One experiment's row, as :meth:`list` shows it."""
        rows = self.list(exp_id)
        return rows[0] if rows else None

    def list(self, exp_id: str | None = None) -> list[dict[str, Any]]:
        """Every experiment, newest first: id, name, note, dataset, status, fits done and total, best score."""
        # Stores written before NaN became null hold records SQLite's JSON functions reject: count their
        # "candidate" keys (one per record) instead of failing the whole list.
        query = ("SELECT e.*, (SELECT COALESCE(SUM(CASE WHEN json_valid(u.records) THEN json_array_length(u.records) "
                 "ELSE (length(u.records) - length(replace(u.records, '\"candidate\":', ''))) / 12 END), 0) "
                 "FROM units u WHERE u.experiment = e.id) AS fits_done FROM experiments e")
        args: tuple[Any, ...] = ()
        if exp_id is not None:
            query += " WHERE e.id = ?"
            args = (exp_id,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY e.created DESC", args).fetchall()
        listed = []
        for r in rows:
            status = r["status"]
            just_created = r["owner"] is None and time.time() - r["updated"] < lease_seconds()
            if status == "running" and not _owner_alive(r["owner"], r["heartbeat"]) and not just_created:
                status = "interrupted"  # its process is gone (or stopped renewing its lease)
            try:
                dataset = json.loads(r["dataset"])
                listed.append({
                    "id": str(r["id"]), "name": str(r["name"]), "note": str(r["note"]),
                    "tags": [str(t) for t in json.loads(r["tags"])],
                    "dataset": str(dataset.get("name", "")), "status": str(status),
                    "fits_done": int(r["fits_done"]), "fits_total": int(r["fits_total"]),
                    "best_score": None if r["best_score"] is None else float(r["best_score"]),
                    "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created"])),
                    "spec": json.loads(r["spec"]),
                })
            except (ValueError, TypeError, AttributeError, OverflowError, OSError):
                raise self._damaged(f"experiment {r['id']!r}") from None
        return listed

    def annotate(self, exp_id: str, *, name: str | None = None, note: str | None = None,
                 tags: list[str] | None = None) -> None:
        """Rename an experiment, change its note or its tags (see :func:`clean_tags`)."""
        self._require(exp_id)
        with self._connect() as db:
            if name is not None:
                db.execute("UPDATE experiments SET name = ? WHERE id = ?", (name.strip()[:120], exp_id))
            if note is not None:
                db.execute("UPDATE experiments SET note = ? WHERE id = ?", (note.strip()[:2000], exp_id))
            if tags is not None:
                db.execute("UPDATE experiments SET tags = ? WHERE id = ?", (json.dumps(clean_tags(tags)), exp_id))

    def delete(self, exp_id: str) -> None:
        """Delete an experiment and every fit it kept."""
        self._require(exp_id)
        with self._connect() as db:
            db.execute("DELETE FROM experiments WHERE id = ?", (exp_id,))

    def _require(self, exp_id: str) -> None:
        if self.get(exp_id) is None:
            known = ", ".join(r["id"] for r in self.list()[:5])
            raise ExperimentNotFound(f"experiment {exp_id!r} is not in {self.path}. "
                                     + (f"Known ids include: {known}" if known else "The store is empty"), exp_id)

    def find(self, prefix: str) -> str:
        """The full id of an experiment from its id or a unique prefix of it."""
        matches = [r["id"] for r in self.list() if r["id"].startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            self._require(prefix)
        raise TuningError(f"{prefix!r} matches {len(matches)} experiments; give more of the id")
