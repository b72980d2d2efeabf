"""Writing a run's tables to a folder, with provenance, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import GcperfError
from .provenance import collect_metadata
from .schema import SCHEMA_VERSION


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


def write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")


def write_run(result, folder: str | Path, force: bool = False, command: list[str] | None = None) -> Path:
    """Write ``collections.csv``, ``timeline.csv``, ``summary.csv`` and ``meta.json``.

    The files are written to a temporary folder next to the target and moved in
    place at the end, so an interrupted write leaves nothing half-written.

    Raises:
        GcperfError: the folder exists and is not empty, and ``force`` is false.
    """
    out = Path(folder)
    if out.exists() and any(out.iterdir()) and not force:
        raise GcperfError(f"output folder {str(out)!r} is not empty; use --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result.collections.to_csv(tmp / "collections.csv", index=False)
        result.timeline.to_csv(tmp / "timeline.csv", index=False)
        result.summary.to_csv(tmp / "summary.csv", index=False)
        meta = collect_metadata(command)
        meta["schema_version"] = SCHEMA_VERSION
        meta["inputs"] = result.inputs
        write_json(tmp / "meta.json", meta)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
