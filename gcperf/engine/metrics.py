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


def memory_stats(timeline: pd.DataFrame, peak_footprint_bytes: float | None,
                 peak_garbage_bytes: float | None, peak_arenas: float | None) -> dict[str, float]:
    """Footprint metrics; NaN when memory was not simulated.

    The mean footprint is the average over the timeline samples, which are
    equally spaced in wall time; the peaks are exact (every allocator event).
    """
    nan = math.nan
    if peak_footprint_bytes is None or not len(timeline):
        return {k: nan for k in ("peak_footprint_mb", "mean_footprint_mb", "final_footprint_mb", "peak_garbage_mb",
                                 "peak_arenas", "final_arenas", "final_fragmentation_mb")}
    mb = 1024.0 * 1024.0
    return {
        "peak_footprint_mb": peak_footprint_bytes / mb,
        "mean_footprint_mb": float(timeline["footprint_mb"].mean()),
        "final_footprint_mb": float(timeline["footprint_mb"].iloc[-1]),
        "peak_garbage_mb": (peak_garbage_bytes or 0) / mb,
        "peak_arenas": float(peak_arenas) if peak_arenas is not None else nan,
        "final_arenas": float(timeline["arenas"].iloc[-1]),
        "final_fragmentation_mb": float(timeline["fragmentation_mb"].iloc[-1]),
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


def pareto_front(df: pd.DataFrame, x: str, y: str) -> list:
    """Index labels of the rows not dominated in (x, y), both to be minimised.

    A row is dominated when another is no worse in both and better in one. Rows
    with a NaN in x or y are left out.
    """
    d = df[[x, y]].dropna()
    order = d.sort_values([x, y], kind="stable")
    front = []
    best_y = math.inf
    for idx, row in order.iterrows():
        if row[y] < best_y:
            front.append(idx)
            best_y = row[y]
    return front
