"""Atomic file writes and the CSV metrics files.

Every run file is written atomically (a temporary file in the same folder, flushed to disk,
then ``os.replace``), so an interrupted or killed run never leaves a half-written file. The
files get the mode an ordinary ``open`` would give (``0o666`` less the umask), not the
``0o600`` of :func:`tempfile.mkstemp`: logs are meant to be read by other users and tools.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "csv_text", "read_csv"]

# The umask can only be read by setting it: read once, at import, before any thread starts.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), 0o666 & ~_UMASK)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The CSV of ``rows``; the columns are every key in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV file written by :func:`csv_text` (numbers parsed), or ``[]``."""
    if not path.exists():
        return []
    with open(path, newline="") as file:
        rows = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(file)]
    if any(None in row or None in row.values() for row in rows):
        raise ValueError(f"{path} has a row with the wrong number of fields")
    return rows


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
