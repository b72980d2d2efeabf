"""Summary metrics: pure functions of a run's tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def pause_stats(pause_ms: np.ndarray) -> dict[str, float]:
    """Total, mean, p50, p99 and max of pauses in ms (NaN where undefined)."""
    if len(pause_ms) == 0:
        nan = math.nan
        return {"pause_total_ms": 0.0, "pause_mean_ms": nan, "pause_p50_ms": nan, "pause_p99_ms": nan, "pause_max_ms": nan}
    p50, p99 = np.percentile(pause_ms, [50, 99])
    return {
        "pause_total_ms": float(pause_ms.sum()),
        "pause_mean_ms": float(pause_ms.mean()),
        "pause_p50_ms": float(p50),
        "pause_p99_ms": float(p99),
        "pause_max_ms": float(pause_ms.max()),
    }


def summarize(collections: pd.DataFrame, timeline: pd.DataFrame, wall_time_s: float,
              garbage_seconds: float, peak_garbage: int) -> dict[str, float | int]:
    """Outcome metrics of one run (the summary row without its inputs)."""
    gen = collections["generation"].to_numpy()
    reason = collections["reason"].to_numpy()
    pauses = collections["pause_ms"].to_numpy(dtype=float)
    out: dict[str, float | int] = {
        "allocations": int(timeline["allocations"].iloc[-1]) if len(timeline) else 0,
        "wall_time_s": float(wall_time_s),
        "collections": int(len(collections)),
        "collections_gen0": int((gen == 0).sum()),
        "collections_gen1": int((gen == 1).sum()),
        "collections_gen2": int((gen == 2).sum()),
        "explicit_collections": int((reason != "auto").sum()),
        "full_vetoed": int(collections["full_vetoed"].sum()),
        "pauses_per_s": len(collections) / wall_time_s if wall_time_s > 0 else math.nan,
    }
    out.update(pause_stats(pauses))
    out["gc_share"] = out["pause_total_ms"] / 1000.0 / wall_time_s if wall_time_s > 0 else math.nan
    out["peak_garbage_objects"] = int(peak_garbage)
    out["mean_garbage_objects"] = garbage_seconds / wall_time_s if wall_time_s > 0 else math.nan
    out["final_live_objects"] = int(timeline["live_objects"].iloc[-1]) if len(timeline) else 0
    return out
