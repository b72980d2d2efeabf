"""``gcperf compare``: one workload under several CPython versions' collectors, side by side.

"What does moving to 3.13 do to my program?" Each version runs the same workload (built-in,
JSON, or calibrated from a recording) with the same seeds, so every version sees the same
program realisation (common random numbers): the differences are the collectors', not the
draws'. Each version uses its own default thresholds unless the user gives thresholds, which
then apply to all (missing ones filled from each version's defaults, as ``gcperf run -t``).
The first version named is the baseline of the relative changes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..errors import GcperfError
from ..workload.model import Workload
from .experiment import mean_ci95

#: (summary column, label, unit) of the compared metrics, in print order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("collections", "collections", ""),
    ("collections_gen0", "  generation 0", ""),
    ("collections_gen1", "  generation 1", ""),
    ("collections_gen2", "  generation 2", ""),
    ("pauses_per_s", "pauses per second", "/s"),
    ("pause_total_ms", "total pause", "ms"),
    ("pause_p99_ms", "p99 pause", "ms"),
    ("pause_max_ms", "longest pause", "ms"),
    ("gc_share_pct", "GC share of wall time", "%"),
    ("peak_footprint_mb", "peak footprint", "MiB"),
    ("peak_garbage_objects", "peak uncollected garbage", "objects"),
    ("peak_garbage_mb", "peak uncollected garbage", "MiB"),
)

OUTPUT_KIND = "compare"


def compare_versions(workload: str | Workload, versions: Sequence[str], *, thresholds: Sequence[int] | None = None,
                     seeds: Sequence[int] = (0, 1, 2), duration_s: float | None = None, memory: bool = True,
                     progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Simulate ``workload`` under each version, once per seed.

    Args:
        workload: a built-in name, a :class:`~gcperf.Workload`, or a loaded JSON one.
        versions: CPython versions (at least one, no repeats); the first is the baseline.
        thresholds: one to three thresholds for every version (the rest from each version's
            defaults); None: each version's own defaults.
        seeds: root seeds, the same for every version.
        duration_s: stretch or shrink the workload to this many mutator seconds.
        memory: simulate the memory footprint.
        progress: called with a line after every run.

    Returns:
        One row per (version, seed): the run's summary (``schema.SUMMARY_COLUMNS``) plus
        ``gc_share_pct``.

    Raises:
        GcperfError: no version, a repeated or unknown version, bad thresholds or seeds.
    """
    from ..cpython.versions import preset
    from ..engine.runner import simulate_many
    from ..engine.scenario import GCSettings, Scenario

    versions = [str(v) for v in versions]
    if not versions:
        raise GcperfError("compare needs at least one version")
    dup = sorted({v for v in versions if versions.count(v) > 1})
    if dup:
        raise GcperfError(f"version {dup[0]} is named twice")
    if not seeds:
        raise GcperfError("compare needs at least one seed")
    if thresholds is not None and not 1 <= len(thresholds) <= 3:
        raise GcperfError(f"thresholds takes one to three values, got {len(thresholds)}")
    settings = []
    for v in versions:
        th = None if thresholds is None else tuple(thresholds) + preset(v).thresholds[len(thresholds):]
        settings.append(GCSettings(version=v, thresholds=th))
    # one seed at a time, every version over one draw of the program where their draws agree
    # (3.8-3.13 and 3.13t track alike, 3.14 and 3.14t too: simulate_many); the rows in the order
    # version, then seed
    rows: dict[tuple[int, int], dict] = {}
    for j, seed in enumerate(seeds):
        t0 = time.perf_counter()
        results = simulate_many([Scenario(workload, gc, seed=int(seed), duration_s=duration_s, memory=memory)
                                 for gc in settings], memory_thread=None)
        for i, res in enumerate(results):
            row = res.summary_dict()
            row["gc_share_pct"] = 100.0 * float(row["gc_share"])
            rows[(i, j)] = row
        if progress is not None:
            progress(f"  seed {seed}: {len(results)} version{'s' if len(results) > 1 else ''} in "
                     f"{time.perf_counter() - t0:.1f} s")
    return pd.DataFrame([rows[k] for k in sorted(rows)])


def comparison_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per version (in the order run): mean, 95 % CI half-width over the seeds, and the change
    of the mean from the first version (percent), for every metric of :data:`METRICS`."""
    order = list(dict.fromkeys(runs["version"]))
    out = []
    base: dict[str, float] = {}
    for i, v in enumerate(order):
        g = runs[runs["version"] == v]
        row: dict = {"version": v, "threshold0": int(g["threshold0"].iloc[0]), "threshold1": int(g["threshold1"].iloc[0]),
                     "threshold2": int(g["threshold2"].iloc[0]), "seeds": len(g)}
        for col, _, _ in METRICS:
            mean, row[f"{col}_ci95"] = mean_ci95(g[col].to_numpy(dtype=float))
            row[f"{col}_mean"] = mean
            if i == 0:
                base[col] = mean
            b = base.get(col, math.nan)
            row[f"{col}_change_pct"] = (100.0 * (mean / b - 1.0)) if b and math.isfinite(b) and math.isfinite(mean) \
                else math.nan
        out.append(row)
    return pd.DataFrame(out)


def _fmt(v: float, unit: str) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    if unit in ("", "objects"):
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def format_comparison(table: pd.DataFrame, workload_name: str, duration_s: float, memory: bool) -> str:
    """The table as text: one column per version, the change from the first in brackets."""
    versions = list(table["version"])
    seeds = int(table["seeds"].iloc[0])
    th = [f"({r.threshold0},{r.threshold1},{r.threshold2})" for r in table.itertuples()]
    head = f"{'':36s}" + "".join(f"{v:>24s}" for v in versions)
    lines = [
        f"gcperf compare: workload {workload_name!r}, {duration_s:g} s simulated, {seeds} seed(s) per version; "
        f"mean (± 95 % CI over seeds) [change from {versions[0]}]",
        head,
        f"{'thresholds':36s}" + "".join(f"{t:>24s}" for t in th),
    ]
    for col, label, unit in METRICS:
        if not memory and col in ("peak_footprint_mb", "peak_garbage_mb"):
            continue
        cells = []
        for i, r in table.iterrows():
            mean, ci, ch = r[f"{col}_mean"], r[f"{col}_ci95"], r[f"{col}_change_pct"]
            s = _fmt(mean, unit)
            if math.isfinite(ci) and ci > 0:
                s += f" ±{ci:,.0f}" if unit in ("", "objects") or ci >= 10 else f" ±{ci:.2g}"
            if i > 0 and math.isfinite(ch):
                s += f" [{ch:+.0f}%]"
            cells.append(s)
        name = f"{label} ({unit})" if unit and unit != "objects" else (f"{label} (objects)" if unit else label)
        lines.append(f"{name:36s}" + "".join(f"{c:>24s}" for c in cells))
    from ..cpython.versions import preset

    lines += [f"  {v}: {preset(v).evidence}" for v in versions if not preset(v).checked_here]
    return "\n".join(lines)


def plot_comparison(runs: pd.DataFrame, path: Path, workload_name: str, duration_s: float) -> Path:
    """Four panels (GC share, p99 pause, peak footprint or garbage, pauses per second), one bar
    per version with the 95 % CI over seeds."""
    from .charts import _plt, save

    plt, sns = _plt()
    memory = runs["peak_footprint_mb"].notna().any()
    panels = [("gc_share_pct", "GC share of wall time (%)"), ("pause_p99_ms", "p99 pause (ms)"),
              ("peak_footprint_mb", "peak footprint (MiB)") if memory else
              ("peak_garbage_objects", "peak uncollected garbage (objects)"),
              ("pauses_per_s", "pauses per second")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    order = list(dict.fromkeys(runs["version"]))
    for ax, (col, label) in zip(axes, panels, strict=True):
        sns.barplot(data=runs, x="version", y=col, order=order, errorbar=("ci", 95), ax=ax, color="#4c72b0")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
    seeds = runs.groupby("version").size().iloc[0]
    fig.suptitle(f"{workload_name}: {duration_s:g} s simulated, {seeds} seed(s) per version "
                 f"(bars: mean, lines: 95 % CI)", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


# ------------------------------------------------------------------------------ command line


def add_compare_parser(sub, positive_float, nonneg_int) -> None:
    p = sub.add_parser("compare", help="one workload under several CPython versions, side by side",
                       description="Simulate one workload under several CPython versions' collectors with the "
                                   "same seeds and print collections, pauses, GC share, footprint and uncollected "
                                   "garbage side by side (the first version is the baseline of the changes).")
    p.add_argument("-w", "--workload", default="web",
                   help="built-in workload, JSON workload file, or a model from `gcperf calibrate` (default: web)")
    p.add_argument("-V", "--versions", nargs="+", required=True, metavar="VERSION",
                   help="CPython versions, e.g. 3.11 3.12 3.13 3.14 (see `gcperf versions`)")
    p.add_argument("-t", "--thresholds", nargs="+", type=nonneg_int, metavar="N",
                   help="the same gc.set_threshold values for every version (default: each version's own)")
    p.add_argument("-r", "--replicates", type=nonneg_int, default=3, help="seeds 0..R-1 per version (default: 3)")
    p.add_argument("-d", "--duration", type=positive_float, metavar="SECONDS",
                   help="stretch or shrink the workload to this many mutator seconds")
    p.add_argument("--quick", action="store_true", help="a tenth of the workload's duration")
    p.add_argument("--no-memory", action="store_true", help="do not simulate the memory footprint (faster)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="write compare_runs.csv, compare.csv, compare.png and meta.json here")
    p.add_argument("--force", action="store_true", help="replace an earlier `gcperf compare -o` in DIR (its files only)")
    p.add_argument("--json", action="store_true", help="print the table as strict JSON")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..cpython.versions import preset
    from ..engine.scenario import Scenario
    from ..provenance import collect_metadata
    from ..safeio import claim, inspect_output, require_replaceable
    from ..store.output import json_text, write_csv, write_json
    from ..workload.builtin import BUILTIN_WORKLOADS
    from ..workload.specs import load_workload

    if args.replicates < 1:
        raise GcperfError("--replicates must be at least 1")
    wl = args.workload
    if wl not in BUILTIN_WORKLOADS and (wl.endswith(".json") or "/" in wl):
        wl = load_workload(wl)
    base = Scenario(wl).resolved_workload()
    duration = args.duration if args.duration is not None else base.duration_s
    if args.quick:
        duration /= 10
    out = None
    if args.output is not None:
        folder = inspect_output(args.output)
        require_replaceable(folder, OUTPUT_KIND, args.force)  # before the work, not after
        out = folder.path
    say = (lambda line: print(line, file=sys.stderr)) if not args.json else None
    runs = compare_versions(wl, args.versions, thresholds=args.thresholds, seeds=range(args.replicates),
                            duration_s=duration, memory=not args.no_memory, progress=say)
    table = comparison_table(runs)
    if out is not None:
        claim(out, OUTPUT_KIND)
        write_csv(runs, out / "compare_runs.csv")
        write_csv(table, out / "compare.csv")
        plot_comparison(runs, out / "compare.png", base.name, duration)
        meta = collect_metadata(["gcperf", *sys.argv[1:]])
        meta["inputs"] = {"workload": base.name, "versions": list(args.versions), "thresholds": args.thresholds,
                          "seeds": list(range(args.replicates)), "duration_s": duration,
                          "memory": not args.no_memory}
        write_json(out / "meta.json", meta)
    if args.json:
        # what each preset stands for and how it is known (measured here, or derived from the source)
        presets = {v: {"releases": preset(v).releases, "evidence": preset(v).evidence,
                       "measured_here": preset(v).checked_here} for v in args.versions}
        print(json_text({"workload": base.name, "duration_s": duration, "seeds": list(range(args.replicates)),
                         "baseline": args.versions[0], "presets": presets,
                         "table": table.to_dict(orient="records")}), end="")
    else:
        print(format_comparison(table, base.name, duration, not args.no_memory))
        if out is not None:
            print(f"  tables and chart written to {out}/")
    return 0
