"""The tables a run produces: every column, its unit and meaning.

SCHEMA_VERSION history:
  1 - first release: collections, timeline and summary tables.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

COLLECTIONS_COLUMNS: dict[str, str] = {
    "time_s": "wall-clock time (s) at which the collection started",
    "mutator_time_s": "mutator time (s, pauses excluded) at which it started",
    "seq": "position of the collection in the run's event order (internal, for exact comparisons)",
    "allocations": "counted GC allocations made before it",
    "reason": "auto (threshold), explicit (gc.collect() in the program) or timer (gc.collect() from a timer thread)",
    "generation": "oldest generation collected (0, 1 or 2)",
    "count0": "generation 0 count when the collection started",
    "examined": "tracked objects in the collected generations (alive or garbage)",
    "garbage_freed": "cyclic-garbage objects freed",
    "survivors": "tracked objects that survived (after tuple untracking); moved to the next generation",
    "untracked": "tuples of atomic values untracked by this collection",
    "garbage_stuck": "unreachable objects kept because their cycle reaches into an older generation",
    "full_vetoed": "a full collection was due but vetoed by the 25 % long-lived rule",
    "pause_ms": "stop-the-world pause (ms) from the cost model",
    "heap_objects_after": "tracked objects in generations 0-2 after the collection",
    "garbage_before": "uncollected cyclic garbage (objects) in the whole heap just before",
    "long_lived_pending": "survivors of generation-1 collections since the last full one, after",
    "long_lived_total": "survivors of the last full collection, after",
}

TIMELINE_COLUMNS: dict[str, str] = {
    "time_s": "wall-clock time (s) of the sample",
    "mutator_time_s": "mutator time (s)",
    "allocations": "counted GC allocations so far",
    "gen0_objects": "tracked objects in generation 0",
    "gen1_objects": "tracked objects in generation 1",
    "gen2_objects": "tracked objects in generation 2",
    "permanent_objects": "tracked objects frozen by gc.freeze()",
    "live_objects": "tracked objects still reachable",
    "garbage_objects": "uncollected cyclic garbage (objects)",
}

SUMMARY_COLUMNS: dict[str, str] = {
    "workload": "workload name",
    "version": "CPython version simulated",
    "threshold0": "gc threshold of generation 0 in force",
    "threshold1": "gc threshold of generation 1",
    "threshold2": "gc threshold of generation 2",
    "enabled": "automatic collection enabled",
    "freeze_after": "phase after which gc.freeze() is called (empty: never)",
    "collect_every_s": "period (s) of a timer calling gc.collect() (NaN: none)",
    "seed": "root seed",
    "duration_s": "mutator seconds of the workload",
    "allocations": "counted GC allocations",
    "wall_time_s": "simulated wall-clock time: mutator time + pauses",
    "collections": "collections of any generation and reason",
    "collections_gen0": "collections of generation 0",
    "collections_gen1": "collections of generation 1",
    "collections_gen2": "collections of generation 2 (full)",
    "explicit_collections": "collections requested by gc.collect() (program or timer)",
    "full_vetoed": "automatic collections where a due full collection was vetoed by the 25 % rule",
    "pauses_per_s": "collections per wall second",
    "pause_total_ms": "sum of pauses (ms)",
    "pause_mean_ms": "mean pause (ms; NaN without collections)",
    "pause_p50_ms": "median pause (ms)",
    "pause_p99_ms": "99th percentile pause (ms, linear interpolation)",
    "pause_max_ms": "longest pause (ms)",
    "gc_share": "fraction of wall time spent in collections",
    "peak_garbage_objects": "most uncollected cyclic garbage at any moment (objects)",
    "mean_garbage_objects": "time-average of uncollected cyclic garbage (objects)",
    "final_live_objects": "tracked reachable objects at the end",
    "gcperf_version": "version of gcperf that produced the row",
    "schema_version": "SCHEMA_VERSION of the tables",
}


def markdown_table(columns: dict[str, str]) -> str:
    """Render a column dictionary as a Markdown table (for the docs)."""
    rows = ["| column | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {v} |" for k, v in columns.items()]
    return "\n".join(rows)
