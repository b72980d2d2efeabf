"""Writing a run's tables to a folder, with provenance, atomically."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..engine.schema import SCHEMA_VERSION
from ..errors import GcperfError
from ..provenance import collect_metadata
from ..safeio import atomic_write_text, atomic_writer, claim, inspect_output, require_replaceable

RUN_FILES = ("collections.csv", "timeline.csv", "summary.csv", "meta.json", "collections.parquet", "timeline.parquet",
             "summary.parquet")
"""The files ``gcperf run -o`` writes (the Parquet ones when pyarrow is installed); all it ever
replaces or removes with ``--force``."""


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def json_text(data) -> str:
    """``data`` as indented, sorted, strict JSON (NaN and infinities become null)."""
    return json.dumps(_no_nan(data), indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"


def _no_nan(o):
    if isinstance(o, float) and (o != o or o in (float("inf"), float("-inf"))):
        return None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_no_nan(v) for v in o]
    try:
        import numpy as np

        if isinstance(o, np.floating):
            return _no_nan(float(o))
    except ImportError:  # pragma: no cover
        pass
    return o


def finite_or_none(v) -> float | None:
    """``v`` as a float, or None when it is missing, not a number or NaN (for strict JSON)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON, atomically.

    Raises:
        GcperfError: the file cannot be written.
    """
    atomic_write_text(path, json_text(data))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex.

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_csv(df, path: Path) -> None:
    """Write a table as CSV, atomically.

    Raises:
        GcperfError: the file cannot be written.
    """
    with atomic_writer(path, "w") as f:
        df.to_csv(f, index=False)


def check_table_hashes(folder: Path, meta: dict, who: str, names=None, fix: str = "") -> None:
    """Refuse a table that is not the one ``who`` (e.g. "the sweep") wrote: its SHA-256 differs from
    the one ``meta.json`` records (``names``: only these tables; tables without a hash pass).

    Raises:
        GcperfError: a table changed or truncated since, or unreadable.
    """
    tables = meta.get("tables") if isinstance(meta, dict) else None
    for name, want in (tables if isinstance(tables, dict) else {}).items():
        if names is not None and name not in names:
            continue
        try:
            got = sha256_file(folder / name)
        except OSError as e:
            raise GcperfError(f"{folder / name} cannot be read: {e.strerror}") from None
        if got != want:
            raise GcperfError(f"{folder / name} is not the table {who} wrote (its SHA-256 differs from "
                              f"meta.json's: changed or truncated since){'; ' + fix if fix else ''}")


def check_run_output(folder: str | Path, force: bool = False) -> Path:
    """Check ``gcperf run -o`` 's folder before simulating; return it resolved.

    Raises:
        GcperfError: a forbidden or unwritable location, a file, a non-empty folder
            gcperf did not make, or earlier results without ``force``.
    """
    info = inspect_output(folder)
    require_replaceable(info, "run", force)
    return info.path


def write_run(result, folder: str | Path, force: bool = False, command: list[str] | None = None) -> Path:
    """Write ``collections.csv``, ``timeline.csv``, ``summary.csv`` and ``meta.json``.

    Every file is written atomically and ``meta.json`` last (an earlier one is
    removed first), so a folder with a ``meta.json`` always holds one complete run;
    the hashes of the tables are in it. With ``force`` only these files are
    replaced: nothing else in the folder is touched.

    Raises:
        GcperfError: as :func:`check_run_output`, or a file cannot be written.
    """
    out = check_run_output(folder, force)
    claim(out, "run")
    meta_path = out / "meta.json"
    try:
        meta_path.unlink(missing_ok=True)  # until the new meta.json is in, the folder holds no complete run
    except OSError as e:
        raise GcperfError(f"cannot replace {str(meta_path)!r}: {e.strerror}") from None
    tables = {"collections.csv": result.collections, "timeline.csv": result.timeline, "summary.csv": result.summary}
    for name, df in tables.items():
        write_csv(df, out / name)
    from .export import write_parquet

    written = list(tables) + write_parquet({n.removesuffix(".csv"): df for n, df in tables.items()}, out)
    for name in RUN_FILES:  # Parquet files of an earlier run, now that pyarrow is gone: not this run's
        if name.endswith(".parquet") and name not in written:
            try:
                (out / name).unlink(missing_ok=True)
            except OSError as e:
                raise GcperfError(f"cannot remove the earlier {out / name}: {e.strerror}") from None
    meta = collect_metadata(command)
    meta["schema_version"] = SCHEMA_VERSION
    meta["inputs"] = result.inputs
    meta["tables"] = {name: sha256_file(out / name) for name in written}
    write_json(meta_path, meta)
    return out
