"""Your own data: read a CSV file into a :class:`~tuning.data.datasets.Dataset`, or refuse it clearly.

Every file either loads or raises :class:`~tuning.errors.DataError` with one message
that names the problem and the fix. Preprocessing itself (imputation, scaling,
one-hot encoding) happens later, inside the cross-validated pipeline, so nothing
learnt from the test folds leaks into training.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuning.data.dataset import Dataset
from tuning.errors import DataError, sentence

MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# Numbers beyond this cannot be scaled (their squares overflow) or trained on.
MAX_ABS_VALUE = 1e100
UPLOAD_MAX_AGE = 24 * 3600  # seconds an uploaded file is kept after its last use
TARGET_NAMES = ("target", "class", "label", "species", "y")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
# Leading bytes of formats people upload by mistake.
_MAGIC = {
    b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
    b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive (an .xlsx spreadsheet is one)",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Office file", b"\x1f\x8b": "a gzip archive",
}


@dataclass(frozen=True)
class CsvLimits:
    """How large a CSV file may be; set from ``TUNING_CSV_MAX_{BYTES,ROWS,COLUMNS}``."""

    max_bytes: int = 20_000_000
    max_rows: int = 100_000
    max_columns: int = 500
    min_rows: int = 10

    @classmethod
    def from_env(cls) -> CsvLimits:
        def get(name: str, default: int) -> int:
            value = os.environ.get(f"TUNING_CSV_{name}")
            return int(value) if value and value.isdigit() else default

        return cls(get("MAX_BYTES", cls.max_bytes), get("MAX_ROWS", cls.max_rows),
                   get("MAX_COLUMNS", cls.max_columns))


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    """Text and the encoding it was read with: UTF-8 (with or without BOM), else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{name} is UTF-16 text, which Tuning Lab cannot read. Save it as UTF-8 CSV")
    nul = raw.find(b"\x00")
    if nul >= 0:  # anywhere: a NUL byte is never part of a table's text
        raise DataError(f"{name} is not a text file (it contains binary data: a NUL byte at byte {nul:,}). "
                        "Save your table as CSV")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])
    if printable < 0.95 * min(len(text), 4096):
        raise DataError(f"{name} is in an encoding Tuning Lab cannot read. Save it as UTF-8 CSV")
    return text, "latin-1"


def _sniff_format(raw: bytes, name: str) -> None:
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise DataError(f"{name} is {what}, not a CSV file. Export your table as CSV")
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        raise DataError(f"{name} looks like JSON, not CSV. Export your table as CSV (one row per line)")


def _field_too_long(name: str, exc: Exception) -> DataError | None:
    """The refusal for a field longer than the csv module reads (its limit is left as it is: it is
    process-wide, and a longer field is almost always a quote that is never closed)."""
    if "field larger than field limit" not in str(exc):
        return None
    return DataError(f"{name} has a field longer than {csv.field_size_limit():,} characters, which is not a table "
                     "cell. Usually a quote (\") is never closed and the rest of the file became one field: check "
                     "the quoting, or remove the long text column")


def _delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields."""
    best, best_score = ",", -1.0
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:  # e.g. a whole long line read as one field: not this delimiter
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


def guess_target(columns: list[str]) -> str:
    """A column named target/class/label/species/y (any case), else the last column."""
    for wanted in TARGET_NAMES:
        for column in columns:
            if column.strip().lower() == wanted:
                return column
    return columns[-1]


def _missing_mask(frame: pd.DataFrame) -> pd.DataFrame:
    """True where a cell is empty or a common missing marker (NA, ?, null…)."""
    return frame.isna() | frame.apply(lambda column: column.astype(str).str.strip().str.lower().isin(MISSING_MARKERS))


def _numeric(series: pd.Series) -> pd.Series | None:
    """The column as floats (infinities included), or None when some present value is not a number."""
    present = series.dropna()
    converted = pd.to_numeric(present.str.strip(), errors="coerce")
    if converted.isna().any():
        return None
    return pd.to_numeric(series.str.strip(), errors="coerce").astype(float)


def _refuse_unusable_numbers(name: str, column: str, numbers: pd.Series, text: pd.Series) -> None:
    """A numeric column may not hold infinities or numbers too large to scale (such as ±1e308)."""
    values = numbers.to_numpy(dtype=float)
    bad = ~np.isnan(values) & ~(np.abs(values) <= MAX_ABS_VALUE)
    if bad.any():
        example = str(text[bad].iloc[0]).strip()[:30]
        raise DataError(f"{name}: column {column!r} has {int(bad.sum())} value(s) that are infinite or too large "
                        f"to train on (such as {example!r}). Use numbers between -1e100 and 1e100: fix those cells, "
                        "or empty them to have them filled with the column's median")


def _looks_continuous(values: pd.Series) -> bool:
    numbers = _numeric(values)
    if numbers is None:
        return False
    numbers = numbers.dropna()
    fractional = (numbers != np.round(numbers)).any()
    distinct = numbers.nunique()
    return bool(fractional and distinct > 10) or distinct > max(20, 0.5 * len(numbers))


def _row_number(series: pd.Series) -> str | None:
    """``"1 to n"`` or ``"0 to n-1"`` when the column is exactly the row number, as R and pandas write it."""
    numbers = _numeric(series)
    if numbers is None or len(numbers) < 3 or numbers.isna().any():
        return None
    values = numbers.to_numpy()
    n = len(values)
    for first in (1, 0):
        if np.array_equal(values, np.arange(first, first + n)):
            return f"{first} to {first + n - 1}"
    return None


_UNNAMED = re.compile(r"Unnamed: (\d+)")


def column_label(column: str) -> str:
    """A column as its file shows it: pandas names a header cell left empty ``Unnamed: N``, which the
    user never wrote (R writes its row names under an empty header)."""
    unnamed = _UNNAMED.fullmatch(column)
    return f"column {int(unnamed.group(1)) + 1} (no name in the header)" if unnamed else repr(column)


def _check_size(name: str, size: int, limits: CsvLimits) -> None:
    if size > limits.max_bytes:
        raise DataError(f"{name} is {size:,} bytes, above the limit of {limits.max_bytes:,}. Use a sample of the rows")


def _text(raw: bytes, name: str, limits: CsvLimits) -> tuple[list[str], str, str, list[str]]:
    """Non-blank lines, encoding, delimiter and header of a CSV file, or a DataError."""
    _check_size(name, len(raw), limits)
    if not raw.strip():
        raise DataError(f"{name} is empty. Choose a CSV file with a header row and data rows")
    _sniff_format(raw, name)
    breaks = max(raw.count(b"\n"), raw.count(b"\r"))
    if breaks > 2 * limits.max_rows + 10:  # refused before millions of short lines become Python objects
        raise DataError(f"{name} has {breaks:,} lines, more than the limit of {limits.max_rows:,} rows. "
                        "Use a sample of the rows")
    text, encoding = _decode(raw, name)
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    if not lines:
        raise DataError(f"{name} is empty. Choose a CSV file with a header row and data rows")
    delimiter = _delimiter(lines[:50])
    try:
        header = [c.strip() for c in next(csv.reader(lines[:1], delimiter=delimiter))]
    except csv.Error as exc:
        raise _field_too_long(name, exc) or DataError(f"{name} has a header row that is not CSV ({sentence(exc)}). "
                                                      "Check its quoting") from None
    if len(header) > limits.max_columns:  # before anything looks at every column
        raise DataError(f"{name} has {len(header):,} columns, above the limit of {limits.max_columns:,}. "
                        "Keep the columns you need")
    counts = Counter(header)
    repeated = sorted(c for c, n in counts.items() if n > 1)
    if repeated:
        raise DataError(f"{name} has repeated column names: {', '.join(map(repr, repeated))}. "
                        "Give every column its own name")
    return lines, encoding, delimiter, header


def csv_columns(raw: bytes, *, name: str = "the file", limits: CsvLimits | None = None) -> list[str]:
    """The header of a CSV file (to choose the target from), or a DataError."""
    return _text(raw, name, limits or CsvLimits.from_env())[3]


def upload_folder() -> Path:
    """Where uploaded files are kept: ``$TUNING_UPLOAD_DIR``, else ``tuning-lab-uploads`` in the temp folder."""
    return Path(os.environ.get("TUNING_UPLOAD_DIR") or Path(tempfile.gettempdir()) / "tuning-lab-uploads")


def remove_old_uploads(folder: str | Path | None = None, max_age: float = UPLOAD_MAX_AGE) -> int:
    """Delete uploaded files not used for ``max_age`` seconds (a day by default); returns how many."""
    folder = Path(folder or upload_folder())
    removed, cutoff = 0, time.time() - max_age
    # <content hash>/<the user's file name>, and files kept as <stem>-<hash>.csv by earlier versions
    for path in [*folder.glob("*/*"), *folder.glob("*.csv")] if folder.is_dir() else ():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
                if path.parent != folder and not any(path.parent.iterdir()):
                    path.parent.rmdir()
        except OSError:  # another process removed it first
            continue
    return removed


def upload_file_name(name: str) -> str:
    """The user's file name, made safe to keep on disk: no folders, no control or path characters."""
    base = re.split(r"[\\/]", name)[-1]
    safe = re.sub(r"[^\w .()+,-]+", "_", base).strip(" ._")[-120:].strip(" ._")
    return safe or "upload.csv"


def save_upload(raw: bytes, name: str, folder: str | Path | None = None) -> Path:
    """Keep an uploaded file so that a spec can point at it: ``<folder>/<content hash>/<the user's file name>``.

    The folder is named by the content, so the same bytes are kept once per name, and the
    file keeps the name the user knows it by: messages, results and scripts show that name.
    Files are readable by this user only and removed a day after their last upload
    (:func:`remove_old_uploads` runs here).
    """
    folder = Path(folder or upload_folder())
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / hashlib.sha256(raw).hexdigest()[:16] / upload_file_name(name)
    path.parent.mkdir(exist_ok=True, mode=0o700)
    if path.exists():
        os.utime(path)  # in use again: kept for another day
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
    remove_old_uploads(folder)
    return path


def check_linked_csv(path: str, *, uploads: Collection[str | Path] = (), folders: Collection[str | Path] = ()) -> Path:
    """The CSV file a link names, if a link may read it: one of ``uploads`` (this session's own
    files), or a regular file inside one of ``folders``. Symbolic links are followed first.

    Raises
    ------
    DataError
        Otherwise; the message names neither the path nor anything in the file.
    """
    resolved = Path(path).resolve()
    allowed = resolved in {Path(u).resolve() for u in uploads} or any(
        resolved.is_relative_to(Path(f).resolve()) for f in folders)
    if not allowed or not resolved.is_file():
        raise DataError("this link names a CSV file on the server, and links may only use the built-in datasets "
                        "or a file you uploaded in this session. Upload the file with 'Upload a CSV…' instead")
    return resolved


TASKS = ("classification", "regression")
MAX_CLASSES = 200  # more distinct labels than this is a numeric target read as classes


def _task_reason(labels: pd.Series) -> tuple[str, str]:
    """The task a target suggests, and why, in words."""
    if _looks_continuous(labels):
        return "regression", f"it looks continuous ({labels.nunique():,} distinct numbers)"
    if _numeric(labels) is not None:
        return "classification", f"its {labels.nunique():,} distinct values are few whole numbers: classes"
    return "classification", f"it holds text labels ({labels.nunique():,} distinct)"


def read_csv(raw: bytes, *, name: str = "the file", target: str | None = None,
             limits: CsvLimits | None = None, task: str | None = None) -> Dataset:
    """Parse CSV bytes into a dataset: a label-encoded target (classification) or a numeric one (regression).

    Parameters
    ----------
    raw : bytes
        The file's content.
    name : str
        How messages call the file.
    target : str, optional
        The target column; guessed with :func:`guess_target` when omitted.
    limits : CsvLimits, optional
        Size caps; :meth:`CsvLimits.from_env` when omitted.
    task : {"classification", "regression"}, optional
        How to read the target; when omitted, a continuous numeric target (fractions
        and more than 10 distinct values, or distinct values for most rows) is
        regression, anything else classification. ``report["task_reason"]`` says why.

    Returns
    -------
    Dataset
        ``X`` is a DataFrame (numeric columns as floats with NaN for missing values,
        categorical ones as text); ``numeric_columns``, ``categorical_columns`` and
        ``report`` say what the pipeline will do with each column.

    Raises
    ------
    DataError
        For every file that cannot be used as it is, with the fix in the message.
    """
    limits = limits or CsvLimits.from_env()
    lines, encoding, delimiter, _ = _text(raw, name, limits)
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=delimiter, dtype=str, keep_default_na=False,
                            skipinitialspace=True, engine="python")
    except (pd.errors.ParserError, csv.Error) as exc:
        raise _field_too_long(name, exc) or DataError(
            f"{name} is not a well-formed CSV file ({sentence(str(exc).strip().splitlines()[-1])}). "
            "Check that every row has the same number of fields") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < 2:
        raise DataError(f"{name} has only one column ({frame.columns[0]!r}). A table needs feature columns and "
                        "a target column, separated by commas, semicolons or tabs")
    if frame.shape[1] > limits.max_columns:
        raise DataError(f"{name} has {frame.shape[1]:,} columns, above the limit of {limits.max_columns:,}. "
                        "Keep the columns you need")
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows. Add rows below the header")
    if len(frame) > limits.max_rows:
        raise DataError(f"{name} has {len(frame):,} rows, above the limit of {limits.max_rows:,}. "
                        "Use a sample of the rows")

    columns = list(frame.columns)
    if target is None:
        target = guess_target(columns)
    elif target not in columns:
        raise DataError(f"{name} has no column {target!r}. Its columns are: {', '.join(map(repr, columns))}")
    frame = frame.mask(_missing_mask(frame).to_numpy(), np.nan)
    # R's write.csv and pandas' to_csv start with the row names or index: the row number, not a feature
    dropped = {c: f"the row number ({span}), as R and pandas write row names" for c in columns
               if c != target and (span := _row_number(frame[c])) is not None}

    missing_target = int(frame[target].isna().sum())
    frame = frame[frame[target].notna()].reset_index(drop=True)
    labels = frame[target].str.strip()
    detected, reason = _task_reason(labels)
    if task is not None and task not in TASKS:
        raise DataError(f"task {task!r} is not one of {', '.join(TASKS)}. Choose classification or regression")
    task = task or detected
    if task == "regression":
        target_values = _numeric(labels)
        if target_values is None:
            example = next(v for v in labels if _numeric(pd.Series([v])) is None)
            raise DataError(f"target column {target!r} holds text (such as {example[:30]!r}), not numbers, so it "
                            "cannot be a regression target. Choose classification, or another target column")
        _refuse_unusable_numbers(name, target, target_values, labels)
        if target_values.nunique() < 2:
            raise DataError(f"target column {target!r} has a single value ({target_values.iloc[0]:g}): there is "
                            "nothing to predict. Choose another target column")
        class_names: list[str] = []
    else:
        class_names = sorted(labels.unique(), key=_class_sort_key)
        if len(class_names) < 2:
            only = f" ({class_names[0]!r})" if class_names else ""
            raise DataError(f"target column {target!r} has a single class{only}. A classifier needs at least two; "
                            "choose another target column")
        if len(class_names) > MAX_CLASSES:
            raise DataError(f"target column {target!r} has {len(class_names):,} distinct values, more than "
                            f"{MAX_CLASSES} classes. If it is a number to predict, choose regression")
    if len(frame) < limits.min_rows:
        raise DataError(f"{name} has {len(frame)} usable rows; at least {limits.min_rows} are needed. Add rows")

    numeric, categorical = [], []
    features = {}
    for column in columns:
        if column == target or column in dropped:
            continue
        values = frame[column]
        if values.isna().all():
            dropped[column] = "empty"
            continue
        as_numbers = _numeric(values)
        if as_numbers is not None:
            _refuse_unusable_numbers(name, column, as_numbers, values)
            numeric.append(column)
            features[column] = as_numbers
        elif values.dropna().nunique() == len(values) and len(values) > 1:
            dropped[column] = "an identifier (every value is different)"
        else:
            categorical.append(column)
            features[column] = values.str.strip()
    if not features:
        raise DataError(f"{name} has no usable feature column once {', '.join(map(repr, dropped))} "
                        f"{'is' if len(dropped) == 1 else 'are'} dropped. Add columns that describe the rows")

    X = pd.DataFrame(features, columns=numeric + categorical)
    if task == "regression":
        y = target_values.to_numpy(dtype=np.float64)
    else:
        y = labels.map({c: i for i, c in enumerate(class_names)}).to_numpy(dtype=np.int64)
    report = {
        "source": name,
        "task": task,
        "task_detected": detected,
        "task_reason": reason,
        "encoding": encoding,
        "delimiter": DELIMITERS[delimiter],
        "target": target,
        "rows_dropped_missing_target": missing_target,
        "numeric_columns": numeric,
        "categorical_columns": categorical,
        "dropped_columns": dropped,
        "missing_values": {c: int(n) for c, n in X.isna().sum().items() if n},
    }
    return Dataset(name=name, X=X, y=y, feature_names=numeric + categorical, class_names=list(class_names),
                   description=f"{name}: {len(X)} rows, target {target!r}", numeric_columns=numeric,
                   categorical_columns=categorical, report=report, task=task)


def _class_sort_key(label: str) -> tuple[int, Any]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def load_csv(path: str | Path, *, target: str | None = None, limits: CsvLimits | None = None,
             task: str | None = None) -> Dataset:
    """Read a CSV file from disk; see :func:`read_csv`."""
    path = Path(path)
    limits = limits or CsvLimits.from_env()
    try:
        raw = _read_regular_file(path, limits)
    except FileNotFoundError:
        raise DataError(f"CSV file {str(path)!r} does not exist. Check the path") from None
    except IsADirectoryError:
        raise DataError(f"{str(path)!r} is a folder, not a CSV file. Give the file's path") from None
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror}. Check the path and its permissions") from None
    return read_csv(raw, name=path.name, target=target, limits=limits, task=task)


def _read_regular_file(path: Path, limits: CsvLimits) -> bytes:
    """The bytes of a regular file, never more than the size cap; devices, FIFOs and sockets are refused.

    The file is opened without blocking (a FIFO would wait for a writer) and checked on
    the open descriptor, so it cannot be swapped between the check and the read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{str(path)!r} is not a regular file (it is a device, a pipe or a socket). "
                            "Give the path of a CSV file")
        _check_size(path.name, info.st_size, limits)  # before reading a huge file into memory
        raw = f.read(limits.max_bytes + 1)
    _check_size(path.name, len(raw), limits)  # it grew while we read it
    return raw


def describe_preprocessing(data: Dataset, preprocess: str) -> list[str]:
    """What the cross-validated pipeline will do with each kind of column (and a numeric target), in words."""
    target = []
    if data.is_regression and preprocess == "standard":
        target = ["standardise the target too (TransformedTargetRegressor, fit on the training folds only): the "
                  "network learns numbers of mean 0 and standard deviation 1, and its predictions are scaled back "
                  "to the target's units"]
    if data.categorical_columns is None:
        return ["standardise every feature (fit on the training folds only)" if preprocess == "standard"
                else "use the features as they are", *target]
    steps = []
    if data.numeric_columns:
        scale = ", then standardise" if preprocess == "standard" else ""
        steps.append(f"{len(data.numeric_columns)} numeric column(s): fill missing values with the median{scale}")
    if data.categorical_columns:
        steps.append(f"{len(data.categorical_columns)} categorical column(s): fill missing values with the most "
                     "frequent one, then one-hot encode")
    return [*steps, *target]


def csv_summary(data: Dataset, preprocess: str = "standard") -> dict[str, Any]:
    """The summary shown before training, JSON-ready."""
    return {**data.summary(), "preprocessing": describe_preprocessing(data, preprocess)}
