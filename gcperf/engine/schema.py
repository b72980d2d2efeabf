"""The tables a run produces: every column, its unit and meaning.

SCHEMA_VERSION history:
  1 - first release: collections, timeline and summary tables.
  2 - memory footprint: timeline footprint/arena/byte columns, collection
      garbage_mb_before/footprint_mb_before, summary peak/mean footprint,
      peak garbage bytes, arenas and fragmentation; summary `memory` input.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

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
    "garbage_mb_before": "bytes (MiB) of that garbage, objects and their payload (NaN without memory)",
    "footprint_mb_before": "memory footprint (MiB) just before the collection (NaN without memory)",
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
    "footprint_mb": "resident memory (MiB): interpreter baseline + touched pymalloc pools + system-malloc memory",
    "arenas": "pymalloc arenas mapped",
    "pools_in_use": "pymalloc pools holding at least one block",
    "live_mb": "requested bytes (MiB) of live objects and their payload (garbage excluded)",
    "garbage_mb": "requested bytes (MiB) of uncollected cyclic garbage",
    "large_mb": "memory (MiB) of requests over 512 B held from the system malloc (heap and mmap)",
    "fragmentation_mb": "footprint above baseline not explained by requested bytes (MiB): pool and block slack, empty pools, free heap",
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
    "memory": "memory footprint simulated",
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
    "peak_footprint_mb": "largest resident memory (MiB) at any moment (exact over every allocator event)",
    "mean_footprint_mb": "time-average of resident memory (MiB) over the timeline samples",
    "final_footprint_mb": "resident memory (MiB) at the end",
    "peak_garbage_mb": "most bytes (MiB) of uncollected cyclic garbage at any moment",
    "peak_arenas": "most pymalloc arenas mapped at once",
    "final_arenas": "pymalloc arenas mapped at the end",
    "final_fragmentation_mb": "fragmentation (MiB) at the end, as in the timeline",
    "gcperf_version": "version of gcperf that produced the row",
    "schema_version": "SCHEMA_VERSION of the tables",
}


def markdown_table(columns: dict[str, str]) -> str:
    """Render a column dictionary as a Markdown table (for the docs)."""
    rows = ["| column | meaning |", "|---|---|"]
    rows += [f"| `{k}` | {v} |" for k, v in columns.items()]
    return "\n".join(rows)
