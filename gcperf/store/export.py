"""Results in the formats other tools read: Chrome/Perfetto trace events and Parquet.

``chrome_trace`` turns a run into the Trace Event Format (a JSON object with ``traceEvents``)
that Perfetto (ui.perfetto.dev, "Open trace file") and chrome://tracing load: each collection
is a slice on the track of its generation (its start in simulated wall time, its pause as the
duration, what it examined and freed as arguments), and the timeline's samples are counters
(generation sizes, uncollected garbage, the memory footprint when simulated). Times are
microseconds of simulated wall time.

``write_parquet`` writes tables as Parquet beside the CSVs when pyarrow is installed (the
``parquet`` extra); without it nothing is written and the CSVs stay the format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import GcperfError
from .output import finite_or_none

_PID = 1
_COUNTER_TID = 10


def chrome_trace(result) -> dict:
    """The run as Trace Event Format events (see the module docstring)."""
    s = result.summary_dict()
    events: list[dict] = [
        {"ph": "M", "pid": _PID, "name": "process_name",
         "args": {"name": f"gcperf: {s['workload']} on CPython {s['version']} "
                          f"({s['threshold0']},{s['threshold1']},{s['threshold2']}), seed {s['seed']}"}},
    ]
    for g in range(3):
        events.append({"ph": "M", "pid": _PID, "tid": g + 1, "name": "thread_name",
                       "args": {"name": f"generation {g} collections"}})
        events.append({"ph": "M", "pid": _PID, "tid": g + 1, "name": "thread_sort_index", "args": {"sort_index": g}})
    c = result.collections
    for row in c.itertuples(index=False):
        g = int(row.generation)
        events.append({
            "ph": "X", "pid": _PID, "tid": g + 1, "name": f"gen {g} collection ({row.reason})", "cat": "gc",
            "ts": float(row.time_s) * 1e6, "dur": float(row.pause_ms) * 1e3,
            "args": {"examined": int(row.examined), "garbage_freed": int(row.garbage_freed),
                     "survivors": int(row.survivors), "count0": int(row.count0),
                     "heap_objects_after": int(row.heap_objects_after)},
        })
    tl = result.timeline
    mem = "footprint_mb" in tl and tl["footprint_mb"].notna().any()
    for row in tl.itertuples(index=False):
        ts = float(row.time_s) * 1e6
        events.append({"ph": "C", "pid": _PID, "name": "tracked objects", "ts": ts,
                       "args": {"generation 0": int(row.gen0_objects), "generation 1": int(row.gen1_objects),
                                "generation 2": int(row.gen2_objects), "permanent": int(row.permanent_objects)}})
        events.append({"ph": "C", "pid": _PID, "name": "uncollected cyclic garbage (objects)", "ts": ts,
                       "args": {"garbage": int(row.garbage_objects)}})
        if mem:
            events.append({"ph": "C", "pid": _PID, "name": "memory (MiB)", "ts": ts,
                           "args": {"footprint": finite_or_none(row.footprint_mb), "live": finite_or_none(row.live_mb),
                                    "garbage": finite_or_none(row.garbage_mb), "fragmentation": finite_or_none(row.fragmentation_mb)}})
    body = [e for e in events if e["ph"] != "M"]
    body.sort(key=lambda e: e["ts"])  # stable: a collection before the counters of the same instant
    return {"traceEvents": [e for e in events if e["ph"] == "M"] + body, "displayTimeUnit": "ms",
            "otherData": {"generator": f"gcperf {s['gcperf_version']}", "inputs": json.dumps(result.inputs, default=str)}}


def write_trace(result, path: str | Path) -> Path:
    """Write :func:`chrome_trace` to ``path`` (a new file: never over an existing one).

    Raises:
        GcperfError: ``path`` exists or cannot be written.
    """
    from ..recording.recorder import check_output
    from ..safeio import atomic_write_bytes
    from .output import json_text

    out = check_output(path)
    atomic_write_bytes(out, json_text(chrome_trace(result)).encode("utf-8"))
    return out


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def write_parquet(tables: dict[str, pd.DataFrame], folder: Path) -> list[str]:
    """Write each table as ``<name>.parquet`` in ``folder`` (atomically) when pyarrow is installed;
    return the file names written (none without pyarrow).

    Raises:
        GcperfError: a file cannot be written.
    """
    if not parquet_available():
        return []
    import io

    from ..safeio import atomic_write_bytes

    names = []
    for name, df in tables.items():
        buf = io.BytesIO()
        try:
            df.to_parquet(buf, index=False)
        except (ValueError, TypeError) as e:  # pragma: no cover - a column pyarrow cannot type
            raise GcperfError(f"cannot write {name}.parquet: {e}") from None
        atomic_write_bytes(folder / f"{name}.parquet", buf.getvalue())
        names.append(f"{name}.parquet")
    return names
