"""Workloads and GC settings as plain data (JSON), with strict checking.

Users describe their own program in a JSON file::

    {"name": "myservice", "refs_per_object": 3,
     "phases": [{"name": "serve", "duration_s": 60, "alloc_rate_per_s": 3e6,
                 "cyclic_share": 0.01,
                 "lifetimes": [{"name": "temp", "share": 0.8, "kind": "immediate"},
                               {"name": "request", "share": 0.2, "kind": "lognormal",
                                "scale_s": 0.01, "sigma": 1.0}]}]}

Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..errors import GcperfError
from .model import Lifetime, Phase, SizeMix, Workload


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise GcperfError(f"{where} must be an object, got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise GcperfError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    try:
        return cls(**data)
    except TypeError as e:  # wrong value types that __post_init__ did not catch
        raise GcperfError(f"{where}: {e}") from None


def workload_from_dict(data: Any) -> Workload:
    """Build and validate a :class:`Workload` from plain data.

    Raises:
        GcperfError: unknown keys, missing or invalid values.
    """
    if not isinstance(data, dict):
        raise GcperfError(f"workload must be an object, got {type(data).__name__}")
    d = dict(data)
    phases = d.pop("phases", None)
    if not isinstance(phases, list) or not phases:
        raise GcperfError("workload: 'phases' must be a non-empty list")
    built = []
    for i, ph in enumerate(phases):
        if not isinstance(ph, dict):
            raise GcperfError(f"workload phase {i} must be an object")
        p = dict(ph)
        where = f"phase {p.get('name', i)!r}"
        if "lifetimes" in p:
            lts = p["lifetimes"]
            if not isinstance(lts, list) or not lts:
                raise GcperfError(f"{where}: 'lifetimes' must be a non-empty list")
            p["lifetimes"] = tuple(_build(Lifetime, lt, f"{where} lifetime {j}") for j, lt in enumerate(lts))
        for key in ("sizes", "payload_sizes"):
            if key in p:
                s = dict(p[key]) if isinstance(p[key], dict) else p[key]
                if isinstance(s, dict):
                    for k in ("sizes_bytes", "weights"):
                        if k in s and isinstance(s[k], list):
                            s[k] = tuple(s[k])
                p[key] = _build(SizeMix, s, f"{where} {key}")
        built.append(_build(Phase, p, where))
    d["phases"] = tuple(built)
    if isinstance(d.get("pause_costs"), dict):
        from ..cpython.costs import CostModel

        d["pause_costs"] = _build(CostModel, d["pause_costs"], "workload pause_costs")
    for key in ("pause_noise", "pause_scale"):
        if isinstance(d.get(key), list):
            d[key] = tuple(d[key])
    return _build(Workload, d, "workload")


def workload_to_dict(wl: Workload) -> dict:
    """Plain-data form of a workload (inverse of :func:`workload_from_dict`)."""
    return dataclasses.asdict(wl)


def load_workload(path: str | Path) -> Workload:
    """Read a workload from a JSON file.

    Raises:
        GcperfError: unreadable file, invalid JSON or invalid workload.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise GcperfError(f"cannot read workload file {str(p)!r}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise GcperfError(f"workload file {str(p)!r} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise GcperfError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    return workload_from_dict(data)
