"""``gcperf diff BEFORE AFTER``: two results side by side, metric by metric, with the noise.

Each side is a sweep's results folder (``gcperf sweep``), a run's folder (``gcperf run -o``), a
``gcperf compare -o`` folder, or a recording of a real program (``gcperf record``). Settings
are matched between the sides by what identifies them: a sweep's grid parameters, a compare's
versions; a parameter that is the same everywhere on each side but differs between them (the
version in a before/after upgrade, the workload file of two calibrations) is what is being
compared, not part of the match. Two sides of one setting each are compared directly.

Within a matched setting, runs with the same seed on both sides are paired (common random
numbers: the difference of each pair is free of the workload's randomness) and the change is
the mean paired difference with its 95 % confidence interval (Student's t). Without common
seeds the change is the difference of the means, its interval from both sides' spreads
(Welch); with one run per side there is no interval at all.

``--fail-on METRIC:+10%`` (or ``:+0.5`` in the metric's unit, or ``-`` for a fall) turns the
comparison into a gate: the command exits 1 when, for some setting, the change passes the
bound *and* is beyond noise (its interval excludes no change; a change without an interval
counts as it is). A CI job can so hold back a GC setting or an interpreter upgrade.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GcperfError
from .experiment import mean_ci95, t975

DEFAULT_METRICS = ("pause_total_ms", "pause_p99_ms", "pause_max_ms", "pauses_per_s", "gc_share", "collections",
                   "peak_footprint_mb")
ALIASES = {
    "p99_pause_ms": "pause_p99_ms", "total_pause_ms": "pause_total_ms", "max_pause_ms": "pause_max_ms",
    "p50_pause_ms": "pause_p50_ms", "mean_pause_ms": "pause_mean_ms", "peak_rss_mb": "peak_footprint_mb",
    "peak_rss_mib": "peak_footprint_mb", "footprint_mb": "peak_footprint_mb",
}


@dataclass(frozen=True)
class Side:
    """One side of a diff: per run a row of metrics, the setting columns and, where known, the seed."""

    path: Path
    kind: str  # "sweep", "run", "compare" or "recording"
    runs: pd.DataFrame
    keys: tuple[str, ...]  # the columns that identify a setting
    labels: tuple[str, ...] = ()  # columns that describe the setting (default: ``keys``)

    def settings(self) -> int:
        """How many distinct settings the side holds."""
        cols = [k for k in self.keys if k in self.runs]
        return int(len(self.runs[cols].drop_duplicates())) if cols else 1

    def describe(self) -> str:
        return f"{self.kind} {self.path} ({len(self.runs)} run{'s' if len(self.runs) != 1 else ''})"


@dataclass(frozen=True)
class Rule:
    """A ``--fail-on`` bound: ``metric`` may not move by more than ``bound`` in ``direction``."""

    metric: str
    direction: int  # +1: a rise is a regression, -1: a fall
    bound: float
    relative: bool  # bound in % of the before value, else in the metric's unit

    def text(self) -> str:
        sign = "+" if self.direction > 0 else "-"
        return f"{self.metric}:{sign}{self.bound:g}{'%' if self.relative else ''}"


def metric_name(name: str) -> str:
    return ALIASES.get(name, name)


def parse_rule(text: str) -> Rule:
    """``pause_p99_ms:+10%``, ``gc_share:+0.005``, ``collections:-20%``.

    Raises:
        GcperfError: not of that form.
    """
    m = re.fullmatch(r"\s*([A-Za-z0-9_]+)\s*:\s*([+-])\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(%?)\s*", text)
    if not m:
        raise GcperfError(f"--fail-on takes METRIC:+N%, METRIC:+N, METRIC:-N% or METRIC:-N, got {text!r}")
    return Rule(metric_name(m.group(1)), 1 if m.group(2) == "+" else -1, float(m.group(3)), m.group(4) == "%")


# ------------------------------------------------------------------ reading the sides


def load_side(path: str | Path) -> Side:
    """Read one side: a sweep, run or compare folder, or a recording file.

    Raises:
        GcperfError: a path that is none of these, or corrupt or incomplete results.
    """
    p = Path(path)
    if p.is_file():
        return _recording_side(p)
    if not p.is_dir():
        raise GcperfError(f"{p} does not exist")
    if (p / "aggregate.csv").exists():
        from .recommend import load_results

        _, summ, _ = load_results(p)
        keys = tuple(c for c in summ.columns if c.startswith("param_"))
        return Side(p, "sweep", summ, keys or ("version", "threshold0", "threshold1", "threshold2"))
    if (p / "compare_runs.csv").exists():
        runs = _read_csv(p / "compare_runs.csv")
        if "version" not in runs:
            raise GcperfError(f"{p / 'compare_runs.csv'} has no version column")
        return Side(p, "compare", runs, ("version",))
    if (p / "summary.csv").exists() and (p / "meta.json").exists():
        runs = _read_csv(p / "summary.csv")
        _check_hash(p, "summary.csv")
        return Side(p, "run", runs, ("workload", "version", "threshold0", "threshold1", "threshold2"))
    raise GcperfError(f"{p} holds no gcperf results (a sweep, run or compare folder) and is not a recording")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={"version": str, "param_version": str, "freeze_after": str})
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise GcperfError(f"{path}: corrupt table ({type(e).__name__})") from None
    if df.empty:
        raise GcperfError(f"{path} has no rows")
    return df


def _check_hash(folder: Path, name: str) -> None:
    from ..store.output import check_table_hashes

    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GcperfError(f"{folder / 'meta.json'} is corrupt: {e}") from None
    check_table_hashes(folder, meta, "the run", names={name})


def _recording_side(p: Path) -> Side:
    from ..recording.cli import summarize
    from ..recording.format import load_recording

    rec = load_recording(p)  # GcperfError for a corrupt, truncated or foreign file
    s = summarize(rec)
    pauses_ms = rec.collections["pause_s"].to_numpy(dtype=float) * 1e3
    row = {
        "program": " ".join(s["argv"]), "version": s["version"], "seed": math.nan,
        "threshold0": s["thresholds"][0], "threshold1": s["thresholds"][1], "threshold2": s["thresholds"][2],
        "collections": s["collections"], "collections_gen0": s["collections_gen"][0],
        "collections_gen1": s["collections_gen"][1], "collections_gen2": s["collections_gen"][2],
        "pause_total_ms": s["pause_total_s"] * 1e3,
        "pause_p99_ms": float(np.percentile(pauses_ms, 99)) if len(pauses_ms) else math.nan,
        "pause_max_ms": s["pause_max_s"] * 1e3 if len(pauses_ms) else math.nan,
        "pauses_per_s": s["collections"] / s["wall_s"] if s["wall_s"] > 0 else math.nan,
        "gc_share": s["gc_share"], "peak_footprint_mb": s["peak_rss_mb"], "wall_time_s": s["wall_s"],
    }
    return Side(p, "recording", pd.DataFrame([row]), ("program",),
                ("program", "version", "threshold0", "threshold1", "threshold2"))


# ------------------------------------------------------------------ comparing


def _match_keys(before: Side, after: Side) -> list[str]:
    """The setting columns both sides share, minus those each side holds one value of (the thing
    compared, e.g. the version of an upgrade)."""
    keys = [k for k in before.keys if k in after.keys and k in before.runs and k in after.runs]
    return [k for k in keys if before.runs[k].nunique(dropna=False) > 1 or after.runs[k].nunique(dropna=False) > 1]


def _value_text(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return str(v)


def _setting_text(key: tuple, keys: list[str]) -> str:
    return ", ".join(f"{k.removeprefix('param_')}={_value_text(v)}" for k, v in zip(keys, key, strict=True))


def diff(before: Side, after: Side, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per (setting, metric): before and after means, the change, its 95 % interval
    (half-width, NaN when unknown), the change in % of before, and how it was estimated.

    Raises:
        GcperfError: no setting in common, or an unknown metric.
    """
    metrics = [metric_name(m) for m in (metrics or DEFAULT_METRICS)]
    unknown = [m for m in metrics if m not in before.runs or m not in after.runs]
    if unknown and metrics != list(DEFAULT_METRICS):
        have = sorted(set(before.runs.columns) & set(after.runs.columns))
        raise GcperfError(f"no metric {unknown[0]!r} on both sides; there are: {', '.join(have)}")
    metrics = [m for m in metrics if m not in unknown]
    keys = _match_keys(before, after)
    if keys:
        b_groups = {k if isinstance(k, tuple) else (k,): g for k, g in before.runs.groupby(keys, dropna=False, sort=False)}
        a_groups = {k if isinstance(k, tuple) else (k,): g for k, g in after.runs.groupby(keys, dropna=False, sort=False)}
        common = [k for k in b_groups if k in a_groups]
        if not common:
            raise GcperfError(f"no setting of {before.path} is in {after.path} (matched on {', '.join(keys)})")
        pairs = [(k, b_groups[k], a_groups[k]) for k in common]
    else:
        for side in (before, after):
            if side.settings() > 1:
                raise GcperfError(f"{before.path} and {after.path} have no setting columns in common to match "
                                  f"their settings on, and {side.path} holds {side.settings()} (compare a sweep "
                                  "with a sweep, a run with a run)")
        pairs = [((), before.runs, after.runs)]
    rows = []
    for key, b, a in pairs:
        label = _setting_text(key, keys) if keys else _one_setting_text(before, after)
        for m in metrics:
            row = _change(b, a, m)
            if not (math.isnan(row["before"]) and math.isnan(row["after"])):  # e.g. footprints of runs without memory
                rows.append({"setting": label, "metric": m, **row})
    if not rows:
        raise GcperfError(f"none of the metrics {', '.join(metrics)} has a value on either side")
    return pd.DataFrame(rows)


def _one_setting_text(before: Side, after: Side) -> str:
    """What differs between two one-setting sides, e.g. ``version 3.12 -> 3.13``."""
    parts = []
    for k in before.labels or before.keys:
        if k in before.runs and k in after.runs:
            bv, av = before.runs[k].iloc[0], after.runs[k].iloc[0]
            if str(bv) != str(av):
                parts.append(f"{k.removeprefix('param_')} {_value_text(bv)} -> {_value_text(av)}")
    return "; ".join(parts) if parts else "same setting"


def _change(b: pd.DataFrame, a: pd.DataFrame, m: str) -> dict:
    bv = b[m].to_numpy(dtype=float)
    av = a[m].to_numpy(dtype=float)
    b_mean, _ = mean_ci95(bv)
    a_mean, _ = mean_ci95(av)
    how, ci = "single runs", math.nan
    if "seed" in b and "seed" in a:
        common = sorted(set(b["seed"].dropna()) & set(a["seed"].dropna()))
        if len(common) >= 2:
            bs = b.drop_duplicates("seed").set_index("seed")[m]
            as_ = a.drop_duplicates("seed").set_index("seed")[m]
            d = np.array([as_[s] - bs[s] for s in common], dtype=float)
            change, ci = mean_ci95(d)
            how = f"paired over {len(common)} seeds"
            # before and after over the same seeds as the change, so that after - before = change
            b_common, _ = mean_ci95(bs[common].to_numpy(dtype=float))
            a_common, _ = mean_ci95(as_[common].to_numpy(dtype=float))
            return _row(b_common, a_common, change, ci, how, len(common), len(common))
    nb, na = int((~np.isnan(bv)).sum()), int((~np.isnan(av)).sum())
    if nb >= 2 and na >= 2:
        vb, va = np.nanvar(bv, ddof=1) / nb, np.nanvar(av, ddof=1) / na
        se = math.sqrt(vb + va)
        dof = (vb + va) ** 2 / ((vb**2 / (nb - 1) if vb else 0) + (va**2 / (na - 1) if va else 0)) if se > 0 else nb + na - 2
        ci = t975(max(int(dof), 1)) * se
        how = f"unpaired ({nb} and {na} runs)"
    return _row(b_mean, a_mean, a_mean - b_mean, ci, how, len(bv), len(av))


def _row(b_mean, a_mean, change, ci, how, nb, na) -> dict:
    pct = 100.0 * change / b_mean if b_mean and not math.isnan(b_mean) else math.nan
    ci_pct = 100.0 * ci / abs(b_mean) if b_mean and not math.isnan(b_mean) and not math.isnan(ci) else math.nan
    return {"before": b_mean, "after": a_mean, "change": change, "ci95": ci, "change_pct": pct, "ci95_pct": ci_pct,
            "estimate": how, "runs_before": nb, "runs_after": na}


def beyond_noise(row) -> bool:
    """The change is not explained by noise: its interval excludes 0 (no interval: taken as is)."""
    if math.isnan(row["ci95"]):
        return row["change"] != 0
    return abs(row["change"]) > row["ci95"]


def regressions(table: pd.DataFrame, rules: list[Rule]) -> list[str]:
    """Lines naming every (setting, metric) that breaks a rule beyond noise.

    Raises:
        GcperfError: a rule on a metric the table does not have.
    """
    out = []
    for r in rules:
        sel = table[table["metric"] == r.metric]
        if sel.empty:
            raise GcperfError(f"--fail-on {r.text()}: the diff has no metric {r.metric!r} "
                              f"(it has {', '.join(sorted(table['metric'].unique()))})")
        for _, row in sel.iterrows():
            moved = row["change_pct"] if r.relative else row["change"]
            if math.isnan(moved):
                continue
            if moved * r.direction > r.bound and beyond_noise(row):
                ci = "" if math.isnan(row["ci95"]) else f" (95 % CI ±{_num(row['ci95_pct'] if r.relative else row['ci95'])}" \
                                                        f"{'%' if r.relative else ''})"
                out.append(f"{row['setting']}: {r.metric} {_signed(moved)}{'%' if r.relative else ''}{ci}, "
                           f"beyond {r.text()}")
    return out


# ------------------------------------------------------------------ output


def _num(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _signed(v: float) -> str:
    return "-" if math.isnan(v) else ("+" if v > 0 else "") + _num(v)


def _cells(row) -> list[str]:
    ci = "" if math.isnan(row["ci95_pct"]) else f" ± {_num(row['ci95_pct'])}"
    pct = "-" if math.isnan(row["change_pct"]) else f"{_signed(row['change_pct'])}%{ci}"
    mark = " *" if beyond_noise(row) and not math.isnan(row["ci95"]) else ""
    return [row["setting"], row["metric"], _num(row["before"]), _num(row["after"]), _signed(row["change"]), pct + mark]


HEADER = ["setting", "metric", "before", "after", "change", "change % (95 % CI)"]


def format_text(table: pd.DataFrame, before: Side, after: Side) -> str:
    rows = [HEADER] + [_cells(r) for _, r in table.iterrows()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"before: {before.describe()}", f"after:  {after.describe()}", ""]
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("* beyond noise: the 95 % interval of the change excludes 0. " + _estimates(table))
    return "\n".join(lines)


def format_markdown(table: pd.DataFrame, before: Side, after: Side) -> str:
    lines = [f"**gcperf diff**: `{before.path}` ({before.kind}) → `{after.path}` ({after.kind})", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * 2 + "---:|" * 4]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |")
    lines += ["", "\\* beyond noise: the 95 % interval of the change excludes 0. " + _estimates(table)]
    return "\n".join(lines)


def _estimates(table: pd.DataFrame) -> str:
    how = sorted(table["estimate"].unique()) if len(table) else []
    return "Changes: " + "; ".join(how) + "." if how else ""


# ------------------------------------------------------------------ command line


def add_diff_parser(sub) -> None:
    p = sub.add_parser("diff", help="compare two results (sweeps, runs, compares or recordings) metric by metric",
                       description="Compare two results metric by metric, setting by setting, with paired 95 % "
                                   "confidence intervals where the seeds match; with --fail-on, exit 1 when a "
                                   "metric regresses beyond noise (a CI gate for a GC setting or an upgrade).")
    p.add_argument("before", help="results folder (gcperf sweep / run -o / compare -o) or recording")
    p.add_argument("after", help="the same kind of thing to compare with it")
    p.add_argument("-m", "--metric", action="append", metavar="METRIC",
                   help=f"a metric to compare (repeatable; default: {', '.join(DEFAULT_METRICS)})")
    p.add_argument("--fail-on", action="append", default=[], metavar="METRIC:+N%",
                   help="exit 1 when METRIC rises by more than N %% (or N in its unit without %%; '-' for a fall) "
                        "beyond noise, e.g. pause_p99_ms:+10%% (repeatable)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the table (and the regressions) as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table (for a pull request comment)")
    p.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    from ..store.output import json_text

    rules = [parse_rule(t) for t in args.fail_on]
    before, after = load_side(args.before), load_side(args.after)
    metrics = list(args.metric or DEFAULT_METRICS)
    for r in rules:
        if r.metric not in metrics:
            metrics.append(r.metric)
    table = diff(before, after, metrics)
    bad = regressions(table, rules)
    if args.json:
        print(json_text({"before": str(before.path), "after": str(after.path), "rows": table.to_dict(orient="records"),
                         "fail_on": [r.text() for r in rules], "regressions": bad}))
    elif args.markdown:
        print(format_markdown(table, before, after))
    else:
        print(format_text(table, before, after))
    if bad:
        for line in bad:
            print(f"gcperf: regression: {line}", file=sys.stderr)
        return 1
    return 0
