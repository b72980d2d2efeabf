"""Threshold recommendations from sweep results, against the user's constraints.

:func:`recommend` returns data (a :class:`Recommendation`); :func:`format_recommendation`
turns it into text. Comparisons with the default use *paired* replicates: every
grid point ran the same seeds (the same programs), so the difference between two
settings is measured replicate by replicate, and its confidence interval is far
narrower than the two absolute intervals would suggest.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cpython.versions import preset
from ..engine.metrics import pareto_front
from ..errors import GcperfError
from .experiment import mean_ci95

OBJECTIVES = {
    "gc-time": ("gc_share", "GC share of wall time"),
    "pauses": ("pauses_per_s", "collections per second"),
    "p99": ("pause_p99_ms", "p99 pause (ms)"),
    "max-pause": ("pause_max_ms", "longest pause (ms)"),
    "footprint": ("peak_footprint_mb", "peak footprint (MiB)"),
}
QUICK_NOTE = ("QUICK RESULTS: drawn from a --quick sweep (a small grid, short runs, few replicates): "
              "a first look, not a basis for a decision; run the full sweep")
REPORTED = ("gc_share", "pauses_per_s", "pause_p99_ms", "pause_max_ms", "peak_footprint_mb", "mean_footprint_mb",
            "peak_garbage_mb")


@dataclass(frozen=True)
class Constraints:
    """What the user can accept.

    Args:
        max_p99_pause_ms: largest acceptable mean p99 pause.
        max_pause_ms: largest acceptable longest pause.
        max_footprint_mb: largest acceptable peak footprint.
        max_footprint_increase_pct: largest acceptable peak-footprint increase over the default, in %.
        objective: what to minimise among acceptable settings (a key of ``OBJECTIVES``).
        version: which CPython version's settings to consider (needed when the sweep varied it).
        traits: workload traits to recommend for, ``{"serve.cyclic_share": "0.05"}``, when the
            sweep varied them (they describe the program, they are not settings to choose);
            unnamed ones take the values of the first default run.
    """

    max_p99_pause_ms: float | None = None
    max_pause_ms: float | None = None
    max_footprint_mb: float | None = None
    max_footprint_increase_pct: float | None = None
    objective: str = "gc-time"
    version: str | None = None
    traits: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise GcperfError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        for name in ("max_p99_pause_ms", "max_pause_ms", "max_footprint_mb"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(v) or v <= 0):
                raise GcperfError(f"{name} must be a number > 0, got {v!r}")
        v = self.max_footprint_increase_pct
        if v is not None and (not math.isfinite(v) or v < 0):
            raise GcperfError(f"max_footprint_increase_pct must be >= 0, got {v!r}")


@dataclass
class Comparison:
    metric: str
    value: float
    ci95: float
    default: float
    default_ci95: float
    diff: float  # paired mean difference (setting - default)
    diff_ci95: float


@dataclass
class Recommendation:
    version: str
    objective: str
    setting: dict
    label: str
    default_label: str
    comparisons: list[Comparison]
    runners_up: list[dict]
    warnings: list[str]
    code: str
    replicates: int
    is_default: bool
    extra: dict = field(default_factory=dict)
    quick: bool = False  # drawn from a --quick sweep (small grid, short runs)

    def to_dict(self) -> dict:
        """Plain data (for --json); NaN becomes None so the result is strict JSON."""
        return _no_nan(asdict(self))


def _no_nan(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_no_nan(v) for v in o]
    return o


def load_results(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read ``aggregate.csv``, ``summary.csv`` and ``meta.json`` of a sweep, checking the schema.

    Raises:
        GcperfError: missing, corrupt or other-schema results.
    """
    import json

    from ..engine.schema import SCHEMA_VERSION

    f = Path(folder)
    meta_p, agg_p, sum_p = f / "meta.json", f / "aggregate.csv", f / "summary.csv"
    for p in (meta_p, agg_p, sum_p):
        if not p.is_file():
            raise GcperfError(f"{f} is not a finished sweep: {p.name} is missing (run `gcperf sweep` first)")
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise GcperfError(f"{meta_p} is corrupt: {e}") from None
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise GcperfError(f"{f} was written with schema version {meta.get('schema_version')}; "
                          f"this gcperf reads {SCHEMA_VERSION} (re-run the sweep with --force)")
    # versions are text: "3.10" read as a number would be 3.1
    text = {c: str for c in _TEXT_COLUMNS} | {f"param_{c}": str for c in _TEXT_COLUMNS}
    try:
        agg = pd.read_csv(agg_p, dtype=text)
        summ = pd.read_csv(sum_p, dtype=text)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise GcperfError(f"{f}: corrupt table ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    _check_against_meta(f, meta, agg, summ)
    needed = {"point", "version", "threshold0", "threshold1", "threshold2"}
    if agg.empty or not needed <= set(agg.columns) or "point" not in summ:
        raise GcperfError(f"{f}: aggregate.csv has no rows or misses columns {sorted(needed - set(agg.columns))}")
    for df in (agg, summ):
        # CSV writes "" (no freeze) and reads it back as NaN: restore it, or "" and "load" would not
        # compare as two values (a heatmap averaged freeze and no-freeze runs so)
        for c in df.columns:
            if c in _TEXT_COLUMNS or (c.startswith("param_") and _is_text(df[c])):
                df[c] = df[c].astype("string").fillna("").astype(str)
    return agg, summ, meta


_TEXT_COLUMNS = ("version", "workload", "freeze_after")


def _is_text(col: pd.Series) -> bool:
    return col.dtype == object or pd.api.types.is_string_dtype(col)


def _check_against_meta(folder: Path, meta: dict, agg: pd.DataFrame, summ: pd.DataFrame) -> None:
    """Refuse tables that are not the ones the sweep wrote (truncated, edited, of an unfinished sweep).

    ``meta.json`` records the number of runs and, since gcperf writes them, the
    SHA-256 of ``summary.csv`` and ``aggregate.csv``; folders from before the
    hashes are checked on the run count alone.
    """
    from ..store.output import check_table_hashes

    fix = f"resume the sweep into {folder} (gcperf sweep ... -o {folder}) to rewrite its tables from runs.jsonl"
    check_table_hashes(folder, meta, "the sweep", fix=fix)
    runs = meta.get("runs")
    if not isinstance(runs, int) or isinstance(runs, bool):
        raise GcperfError(f"{folder}/meta.json records no run count: the sweep did not finish; {fix}")
    reps = pd.to_numeric(agg.get("replicates", pd.Series(dtype=float)), errors="coerce")
    if len(summ) != runs or reps.sum() != runs:
        raise GcperfError(f"{folder}: the tables hold {len(summ)} runs (summary.csv) and {reps.sum():g} "
                          f"(aggregate.csv), meta.json says {runs}; {fix}")


def is_default(row) -> bool:
    """Is this grid point CPython's out-of-the-box setting for its version?"""
    th = preset(str(row["version"])).thresholds
    fa = row.get("freeze_after", "")
    ce = row.get("collect_every_s")
    no_timer = ce is None or (isinstance(ce, float) and math.isnan(ce))
    traits_default = True
    return (
        (int(row["threshold0"]), int(row["threshold1"]), int(row["threshold2"])) == th
        and bool(row.get("enabled", True))
        and not (isinstance(fa, str) and fa)
        and no_timer
        and traits_default
    )


def default_points(agg: pd.DataFrame) -> list[int]:
    """Grid points that are the default setting (one per version and workload-trait combination)."""
    return [int(r["point"]) for _, r in agg.iterrows() if is_default(r)]


def _paired(summ: pd.DataFrame, p: int, q: int, metric: str) -> tuple[float, float]:
    a = summ[summ["point"] == p].set_index("replicate")[metric]
    b = summ[summ["point"] == q].set_index("replicate")[metric]
    return mean_ci95((a - b).dropna().to_numpy(dtype=float))


def _same_number(v, text: str) -> bool:
    try:
        return float(v) == float(text)
    except (TypeError, ValueError):
        return False


def _traits(row, several_workloads: bool = False) -> dict:
    """The grid's dimensions that describe the program rather than the GC setting: its parameters
    (``phases.serve.cyclic_fraction``) and, where the grid runs several, the workload itself."""
    return {c: row[c] for c in row.index
            if c.startswith("param_") and ("." in c or (c == "param_workload" and several_workloads))}


def recommend(folder: str | Path, c: Constraints) -> Recommendation:
    """Choose the best acceptable setting of a sweep.

    Raises:
        GcperfError: unreadable results, no default to compare against, or
            constraints no setting satisfies.
    """
    from .charts import setting_label

    agg, summ, meta = load_results(folder)
    versions = sorted(agg["version"].astype(str).unique())
    version = c.version if c.version is not None else (versions[0] if len(versions) == 1 else None)
    if version is None:
        raise GcperfError(f"the sweep covers versions {', '.join(versions)}; choose one with --version")
    if version not in versions:
        raise GcperfError(f"version {version} is not in this sweep (it has {', '.join(versions)})")
    agg = agg[agg["version"].astype(str) == version]
    agg_all = agg
    defaults = [p for p in default_points(agg)]
    if not defaults:
        raise GcperfError(f"the sweep has no run of CPython {version}'s default setting "
                          f"{preset(version).thresholds}; add it to the grid to compare against")
    # workload traits describe the program: recommend within one combination of them, the
    # user's (--trait) or else the first default run's
    several = "param_workload" in agg and agg["param_workload"].nunique() > 1
    all_traits = _traits(agg.iloc[0], several)
    for k in c.traits:
        if f"param_{k}" not in all_traits:
            raise GcperfError(f"trait {k!r} is not varied by this sweep"
                              + (f" (it varies {', '.join(t[6:] for t in all_traits)})" if all_traits else ""))
    chosen: dict[str, Any] = {}
    for col in all_traits:
        values = list(dict.fromkeys(agg[col].tolist()))
        want = c.traits.get(col[6:])
        if want is None:
            continue
        match = [v for v in values if str(v) == want or _same_number(v, want)]
        if not match:
            raise GcperfError(f"trait {col[6:]} = {want} is not in this sweep (it has "
                              f"{', '.join(str(v) for v in values)})")
        chosen[col] = match[0]
    for col, v in chosen.items():
        agg = agg[agg[col] == v]
        defaults = [p for p in defaults if p in set(agg["point"])]
    if not defaults:
        raise GcperfError("the sweep has no run of the default setting with these traits")
    d_row = agg[agg["point"] == defaults[0]].iloc[0]
    traits = _traits(d_row, several)
    for k, v in traits.items():
        agg = agg[agg[k] == v]
    other_traits = {k[6:]: [v for v in dict.fromkeys(agg_all[k].tolist()) if v != traits[k]]
                    for k in traits if k in agg_all}
    obj, obj_label = OBJECTIVES[c.objective]
    d_fp = float(d_row["peak_footprint_mb_mean"])
    ok = pd.Series(True, index=agg.index)
    reasons = []
    if c.max_p99_pause_ms is not None:
        ok &= agg["pause_p99_ms_mean"] <= c.max_p99_pause_ms
        reasons.append(f"p99 pause <= {c.max_p99_pause_ms:g} ms")
    if c.max_pause_ms is not None:
        ok &= agg["pause_max_ms_mean"] <= c.max_pause_ms
        reasons.append(f"longest pause <= {c.max_pause_ms:g} ms")
    if c.max_footprint_mb is not None:
        ok &= agg["peak_footprint_mb_mean"] <= c.max_footprint_mb
        reasons.append(f"peak footprint <= {c.max_footprint_mb:g} MiB")
    if c.max_footprint_increase_pct is not None:
        if math.isnan(d_fp):
            raise GcperfError("this sweep ran without the memory model; footprint constraints need memory=true")
        ok &= agg["peak_footprint_mb_mean"] <= d_fp * (1 + c.max_footprint_increase_pct / 100)
        reasons.append(f"peak footprint at most {c.max_footprint_increase_pct:g} % above the default's {d_fp:.1f} MiB")
    feasible = agg[ok]
    if feasible.empty:
        raise GcperfError("no setting in this sweep satisfies " + " and ".join(reasons)
                          + f" (closest: {_closest(agg, c)})")
    best = feasible.sort_values([f"{obj}_mean", "point"]).iloc[0]
    bp = int(best["point"])
    comps = []
    for m in REPORTED:
        if f"{m}_mean" not in agg or math.isnan(float(best[f"{m}_mean"])):
            continue
        diff, dci = _paired(summ, bp, defaults[0], m)
        comps.append(Comparison(m, float(best[f"{m}_mean"]), float(best[f"{m}_ci95"]), float(d_row[f"{m}_mean"]),
                                float(d_row[f"{m}_ci95"]), diff, dci))
    # runners-up: the rest of the frontier of (footprint, objective) among acceptable settings
    fx = "peak_footprint_mb_mean" if feasible["peak_footprint_mb_mean"].notna().all() else "pause_p99_ms_mean"
    if fx == f"{obj}_mean":  # objective footprint: its tradeoff is against pause frequency
        fx = "pauses_per_s_mean"
    front = [i for i in pareto_front(feasible, fx, f"{obj}_mean") if int(feasible.loc[i, "point"]) != bp]
    shown = dict.fromkeys((obj, "pauses_per_s", "pause_p99_ms", "peak_footprint_mb"))
    runners = [{"setting": setting_label(feasible.loc[i]), "point": int(feasible.loc[i, "point"]),
                **{m: float(feasible.loc[i, f"{m}_mean"]) for m in shown if f"{m}_mean" in feasible}}
               for i in front[:4]]
    warnings = _warnings(folder, summ, best, bp, defaults[0], obj, obj_label, feasible, c)
    from ..calibration.selfcheck import warning_of

    distrust = warning_of(meta)  # a calibrated model that misses its own recording
    if distrust:
        warnings.insert(0, distrust)
    return Recommendation(
        version=version,
        objective=c.objective,
        setting={k: (v.item() if isinstance(v, np.generic) else v) for k, v in best.items()
                 if k in ("threshold0", "threshold1", "threshold2", "enabled", "freeze_after", "collect_every_s")},
        label=setting_label(best),
        default_label=setting_label(d_row),
        comparisons=comps,
        runners_up=runners,
        warnings=warnings,
        code=apply_code(best),
        replicates=int(best["replicates"]),
        is_default=bp == defaults[0],
        quick=bool(meta.get("quick", False)),
        extra={"point": bp, "default_point": defaults[0], "experiment": meta.get("experiment"),
               "constraints": asdict(c),
               "traits": {k[6:]: (v.item() if isinstance(v, np.generic) else v) for k, v in traits.items()},
               "other_trait_values": {k: [x.item() if isinstance(x, np.generic) else x for x in v]
                                      for k, v in other_traits.items() if v}},
    )


def _closest(agg: pd.DataFrame, c: Constraints) -> str:
    from .charts import setting_label

    r = agg.sort_values("pause_p99_ms_mean").iloc[0]
    return (f"{setting_label(r)} with p99 {r['pause_p99_ms_mean']:.3g} ms, longest {r['pause_max_ms_mean']:.3g} ms, "
            f"peak footprint {r['peak_footprint_mb_mean']:.1f} MiB")


def _warnings(folder, summ, best, bp, dp, obj, obj_label, feasible, c) -> list[str]:
    w = []
    n = int(best["replicates"])
    if n < 3:
        w.append(f"only {n} replicate(s): confidence intervals are wide or missing; run more (replicates >= 5)")
    if bp != dp:
        diff, dci = _paired(summ, bp, dp, obj)
        if math.isnan(dci) or abs(diff) <= dci:
            w.append(f"no clear winner: the {obj_label} of the recommendation and of the default differ by "
                     f"{diff:.3g} +/- {dci:.3g} (95 %), within noise; keeping the default is as good")
    if len(feasible) > 1:
        second = feasible.sort_values([f"{obj}_mean", "point"]).iloc[1]
        diff, dci = _paired(summ, bp, int(second["point"]), obj)
        if not math.isnan(dci) and abs(diff) <= dci:
            from .charts import setting_label

            w.append(f"the runner-up {setting_label(second)} is within noise of the recommendation on {obj_label}")
    growth = _growth_warning(folder, summ, bp, dp)
    if growth:
        w.append(growth)
    full = _unseen_full_collection(best, feasible, dp, summ)
    if full:
        w.append(full)
    if c.max_p99_pause_ms is not None:
        hi = best["pause_p99_ms_mean"] + (best["pause_p99_ms_ci95"] if not math.isnan(best["pause_p99_ms_ci95"]) else 0)
        if hi > c.max_p99_pause_ms:
            w.append(f"the p99 pause bound is met on average but not with 95 % confidence ({hi:.3g} ms)")
    return w


def _unseen_full_collection(best, feasible, dp: int, summ: pd.DataFrame) -> str | None:
    """A warning when the recommended setting made no full collection in the simulated time while
    the default did: its longest pause, and the garbage only a full collection frees, lie beyond
    the run, so the comparison flatters it."""
    if best.get("collections_gen2_mean", math.nan) != 0:
        return None
    d = summ[summ["point"] == dp]
    if d.empty or d["collections_gen2"].mean() < 1:
        return None
    gen0 = float(best.get("collections_gen0_mean", 0.0))
    gen1 = float(best.get("collections_gen1_mean", 0.0))
    wall = float(best.get("wall_time_s_mean", math.nan))
    eta = ""
    t1, t2 = int(best["threshold1"]), int(best["threshold2"])
    # a full collection needs threshold2 + 1 gen1 collections, each threshold1 + 1 gen0 ones (the 25 % rule
    # can delay it further)
    if gen1 > 0 and math.isfinite(wall):
        eta = f" (at its rate of collections the first would come after about {(t2 + 1) * wall / gen1:.3g} s)"
    elif gen0 > 0 and math.isfinite(wall):
        eta = f" (at its rate of collections the first would come after about {(t1 + 1) * (t2 + 1) * wall / gen0:.3g} s)"
    return (f"no full collection happened in the simulated {wall:.3g} s under this setting (the default made "
            f"{d['collections_gen2'].mean():.3g}): if the program runs longer than that, its longest pause and the "
            f"garbage only a full collection frees are not in these numbers{eta}; simulate the real length")


def garbage_trend(folder, summ: pd.DataFrame, point: int) -> tuple[float, float, float, str] | None:
    """How uncollected garbage moves over the second half of the runs of a grid point.

    Returns (rise from the middle to the end, largest drop on the way, the scale they are judged
    against, unit), averaged over replicates: in MiB against the mean footprint when the memory
    model ran, else in objects against the mean live objects. Collections that free garbage make
    a sawtooth (drops); a backlog that no collection clears (collector disabled, full collections
    vetoed or never due) only rises, with the length of the run. None without timelines.
    """
    ids = summ.loc[summ["point"] == point, "run_id"]
    rows, unit = [], "MiB"
    from .sweep import read_detail

    for rid in ids:
        tl = read_detail(folder, str(rid), "timeline")
        if len(tl) < 8:
            continue
        if tl["garbage_mb"].notna().all():
            col, scale, unit = "garbage_mb", tl["footprint_mb"].mean(), "MiB"
        else:
            col, scale, unit = "garbage_objects", tl["live_objects"].mean(), "objects"
        y = tl[col].to_numpy(dtype=float)[len(tl) // 2:]
        rows.append((y[-1] - y[0], float(np.max(np.maximum.accumulate(y) - y)), float(scale)))
    if not rows:
        return None
    rise, drop, scale = np.mean(rows, axis=0)
    return float(rise), float(drop), float(scale), unit


def _growth_warning(folder, summ: pd.DataFrame, bp: int, dp: int) -> str | None:
    """A warning when the recommendation's garbage backlog only grows (and the default's does not,
    or less): its footprint then depends on how long the program runs."""
    rec = garbage_trend(folder, summ, bp)
    if rec is None:
        return None
    rise, drop, scale, unit = rec
    base = garbage_trend(folder, summ, dp) if dp != bp else None
    base_rise = max(base[0], 0.0) if base is not None else 0.0
    if rise <= 0.01 * scale or drop >= 0.5 * rise or rise <= 2 * base_rise:
        return None
    than = f" (default: {base_rise:+.3g})" if base is not None else ""
    return (f"uncollected garbage keeps growing under this setting: {rise:+.3g} {unit} over the second half of the "
            f"run{than} and no collection clears it, so its footprint depends on how long the program runs")


def apply_code(row) -> str:
    """The exact Python that puts a setting into a program."""
    lines = ["import gc"]
    th = (int(row["threshold0"]), int(row["threshold1"]), int(row["threshold2"]))
    pre = preset(str(row["version"]))
    if th != pre.thresholds:
        # the incremental collector (3.14.0-3.14.4) takes two thresholds (a third is ignored)
        lines.append(f"gc.set_threshold{th[:2] if pre.incremental else th}")
    if not bool(row.get("enabled", True)):
        lines.append("gc.disable()")
    fa = row.get("freeze_after", "")
    if isinstance(fa, str) and fa:
        lines.append(f"# ... once the {fa!r} phase is over (imports done, caches warm, before forking workers):")
        lines.append("gc.freeze()")
    ce = row.get("collect_every_s")
    if ce is not None and not (isinstance(ce, float) and math.isnan(ce)):
        lines += ["import threading", "def _collect():", "    gc.collect()",
                  f"    threading.Timer({ce:g}, _collect).start()", f"threading.Timer({ce:g}, _collect).start()"]
    if len(lines) == 1:
        lines.append("# nothing to change: the default setting is the best acceptable one")
    return "\n".join(lines)


def format_recommendation(r: Recommendation) -> str:
    """Human-readable text of a recommendation."""
    names = {"gc_share": "GC share", "pauses_per_s": "collections/s", "pause_p99_ms": "p99 pause ms",
             "pause_max_ms": "longest pause ms", "peak_footprint_mb": "peak footprint MiB",
             "mean_footprint_mb": "mean footprint MiB", "peak_garbage_mb": "peak garbage MiB"}
    out = textwrap.wrap(QUICK_NOTE, width=100, subsequent_indent="  ") if r.quick else []
    out += [f"Recommended for CPython {r.version} (objective: least {OBJECTIVES[r.objective][1]}):",
           f"  {r.label}" + ("   (the default)" if r.is_default else f"   vs default {r.default_label}")]
    for k, v in r.extra.get("traits", {}).items():
        others = r.extra.get("other_trait_values", {}).get(k)
        out.append(f"  for the workload with {k} = {v}"
                   + (f" (the sweep also has {', '.join(map(str, others))}: --trait {k}=VALUE)" if others else ""))
    out += ["",
           f"  {'metric':<20} {'recommended':>20}  {'default':>20}  {'change (paired)':>28}"]

    def fmt(v, ci):
        return f"{v:.4g}" + (f" ± {ci:.2g}" if not math.isnan(ci) else "")

    for cp in r.comparisons:
        rel = f" ({100 * cp.diff / cp.default:+.0f} %)" if cp.default else ""
        out.append(f"  {names.get(cp.metric, cp.metric):<20} {fmt(cp.value, cp.ci95):>20}  "
                   f"{fmt(cp.default, cp.default_ci95):>20}  {fmt(cp.diff, cp.diff_ci95) + rel:>28}")
    out.append(f"  (means over {r.replicates} replicates, ± 95 % confidence intervals)")
    if r.runners_up:
        out.append("")
        out.append("  Runners-up on the Pareto frontier (objective against footprint, or pause frequency):")
        for ru in r.runners_up:
            vals = ", ".join(f"{names.get(m, m)} {v:.4g}" for m, v in ru.items() if m not in ("setting", "point"))
            out.append(f"    {ru['setting']:<34} {vals}")
    if r.warnings:
        out.append("")
        for w in r.warnings:
            out += textwrap.wrap(f"warning: {w}", width=100, initial_indent="  ", subsequent_indent="    ")
    out += ["", "  Apply it:", *[f"    {line}" for line in r.code.splitlines()]]
    return "\n".join(out)
