"""Provenance: what produced a result, so it can be reproduced and trusted."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _source_revision() -> str | None:
    """The git commit of the gcperf source tree ("+dirty" with uncommitted changes), when it is a checkout."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "gcperf"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def collect_metadata(command: list[str] | None = None) -> dict:
    """Versions, platform, date and command line of the current process."""
    from . import __version__

    return {
        "gcperf_version": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": {p: _version(p) for p in ("simpy", "numpy", "numba", "pandas", "seaborn", "matplotlib", "dask")},
        "source_revision": _source_revision(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
    }


def find_first(o: Any, pick: Callable[[dict], Any]) -> Any:
    """The first value ``pick`` gives (not None) for an object met in a depth-first walk of the
    dicts and lists of ``o`` (provenance nests: a model's within a sweep's meta.json): None if none."""
    if isinstance(o, dict):
        found = pick(o)
        if found is not None:
            return found
        children = o.values()
    elif isinstance(o, list):
        children = o
    else:
        return None
    for v in children:
        found = find_first(v, pick)
        if found is not None:
            return found
    return None
