"""A sweep's resume log, ``runs.jsonl``: one JSON line per finished run.

Lines are appended and fsync'ed one at a time, so after a crash or a kill the
file holds every finished run, and at worst a last line cut short (no final
newline). That cut-off line is truncated away *before* anything is appended, so
a new record never lands on the end of a partial one. A corrupt complete line
elsewhere (a disk error, an edit) stops the sweep with one line, unless the user
asks for ``repair``: then each such line is dropped, by number, and the run it
held is redone.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GcperfError
from ..safeio import atomic_write_bytes

REQUIRED = {"run_id": str, "point": int, "replicate": int, "seed": int, "params": dict, "summary": dict}


@dataclass(frozen=True)
class RunLog:
    """What ``runs.jsonl`` holds.

    Attributes:
        runs: finished runs by run id (the last record wins).
        dropped: ``(line number, reason)`` of every line left out.
        truncated_bytes: bytes of a cut-off last line that were removed.
    """

    runs: dict[str, dict]
    dropped: tuple[tuple[int, str], ...] = ()
    truncated_bytes: int = 0


def _check_record(line: bytes) -> tuple[dict | None, str]:
    try:
        rec = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except json.JSONDecodeError as e:
        return None, f"not JSON ({e.msg})"
    if not isinstance(rec, dict):
        return None, "not a JSON object"
    for key, typ in REQUIRED.items():
        v = rec.get(key)
        if not isinstance(v, typ) or isinstance(v, bool):
            return None, f"{key!r} missing or not a {typ.__name__}"
    return rec, ""


def read_runs(path: Path, *, repair: bool = False, say: Callable[[str], None] | None = None) -> RunLog:
    """Read ``runs.jsonl``; truncate a cut-off last line; with ``repair`` drop corrupt lines.

    The file is changed only to remove a cut-off last line (always) or, with
    ``repair``, to rewrite it without its corrupt lines (atomically).

    Args:
        path: the log (a missing file is an empty log).
        repair: drop corrupt complete lines (each is named through ``say``) instead of refusing.
        say: receives one message per dropped or truncated line.

    Raises:
        GcperfError: a complete line is corrupt and ``repair`` is false, or the
            file cannot be read or rewritten.
    """
    tell = say or (lambda _m: None)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return RunLog({})
    except OSError as e:
        raise GcperfError(f"cannot read {path}: {e.strerror}") from None
    cut = 0
    if data and not data.endswith(b"\n"):
        # an interrupted append: remove it now, before the next record is appended after it
        keep = data.rfind(b"\n") + 1
        cut = len(data) - keep
        try:
            with open(path, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise GcperfError(f"cannot truncate the cut-off last line of {path}: {e.strerror}") from None
        tell(f"{path}: removed a cut-off last line ({cut} bytes, an interrupted write); that run is redone")
        data = data[:keep]
    runs: dict[str, dict] = {}
    dropped: list[tuple[int, str]] = []
    kept: list[bytes] = []
    for i, line in enumerate(data.split(b"\n")[:-1] if data else [], 1):
        if not line.strip():
            continue
        rec, why = _check_record(line)
        if rec is None:
            if not repair:
                raise GcperfError(f"{path} line {i} is corrupt ({why}); use --repair to drop such lines and redo "
                                  "their runs, or --force to start the sweep again")
            dropped.append((i, why))
            tell(f"{path}: dropped line {i} ({why}); its run is redone")
            continue
        runs[rec["run_id"]] = rec
        kept.append(line)
    if dropped:
        atomic_write_bytes(path, b"".join(line + b"\n" for line in kept))
    return RunLog(runs, tuple(dropped), cut)


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def append_run(path: Path, rec: dict) -> None:
    """Append one record as a line and fsync it (a finished run is on disk before the next starts).

    Raises:
        GcperfError: the line cannot be written (disk full, read-only file system).
    """
    line = (json.dumps(rec, sort_keys=True, default=_plain) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise GcperfError(f"cannot append to {path}: {e.strerror}") from None
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            # unbuffered: a failed write (disk full) is seen here, and its partial line removed
            # (a buffered file would retry the flush in truncate() and fail again, found by the
            # fault-injection tests)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise GcperfError(f"cannot append to {path}: {e.strerror}") from None
    finally:
        os.close(fd)
