"""Provenance: what produced a result, so it can be reproduced and trusted."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def collect_metadata(command: list[str] | None = None) -> dict:
    """Versions, platform, date and command line of the current process."""
    from . import __version__

    return {
        "gcperf_version": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": {p: _version(p) for p in ("simpy", "numpy", "pandas", "seaborn", "matplotlib", "dask")},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
    }
