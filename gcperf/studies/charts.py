"""Charts of sweep results (seaborn). Pure consumers of the tables.

Axes-level functions take tidy data and ``ax=None`` and return the Axes;
figure-level ones own their figure and return it. matplotlib and seaborn are
imported lazily so sweep workers stay light, with the Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.metrics import pareto_front
from ..errors import GcperfError

LABELS = {
    "pauses_per_s_mean": "collections per second",
    "gc_share_pct_mean": "GC share of wall time (%)",
    "footprint_change_mb_mean": "peak footprint change from the default (MiB)",
    "pause_total_ms_mean": "total pause time (ms)",
    "gc_share_mean": "GC share of wall time",
    "pause_p99_ms_mean": "p99 pause (ms)",
    "pause_max_ms_mean": "longest pause (ms)",
    "peak_footprint_mb_mean": "peak memory footprint (MiB)",
    "mean_footprint_mb_mean": "mean memory footprint (MiB)",
    "peak_garbage_mb_mean": "peak uncollected garbage (MiB)",
    "peak_garbage_objects_mean": "peak uncollected garbage (objects)",
}


def memory_metric(agg: pd.DataFrame) -> str:
    """The memory axis: peak footprint, or peak garbage objects when the sweep ran without the memory model."""
    col = "peak_footprint_mb_mean"
    return col if col in agg and agg[col].notna().any() else "peak_garbage_objects_mean"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def setting_label(row: pd.Series | dict) -> str:
    """A short human label of a grid point's GC setting."""
    parts = [f"{row['version']}", f"({int(row['threshold0'])},{int(row['threshold1'])},{int(row['threshold2'])})"]
    if not bool(row.get("enabled", True)):
        parts.append("disabled")
    fa = row.get("freeze_after")
    if isinstance(fa, str) and fa:
        parts.append(f"freeze@{fa}")
    ce = row.get("collect_every_s")
    if ce is not None and not (isinstance(ce, float) and math.isnan(ce)):
        parts.append(f"collect/{ce:g}s")
    traits = [f"{c[6:]}={row[c]}" for c in row if str(c).startswith("param_") and "." in str(c)]
    return " ".join(parts + traits)


def _relative(agg: pd.DataFrame, default_points=()) -> tuple[pd.DataFrame, dict]:
    """``agg`` with the axes that compare across runs: GC share in %, and the peak footprint as a
    change from the default of the same version (MiB); returns it and, per version, the
    default's absolute peak footprint (for the caption)."""
    a = agg.copy()
    a["gc_share_pct_mean"] = 100.0 * a["gc_share_mean"]
    if "gc_share_ci95" in a:
        a["gc_share_pct_ci95"] = 100.0 * a["gc_share_ci95"]
    base: dict[str, float] = {}
    mem = memory_metric(a)
    if mem == "peak_footprint_mb_mean":
        for p in default_points:
            r = a.loc[a["point"] == p].iloc[0]
            base.setdefault(str(r["version"]), float(r[mem]))
        if base and all(str(v) in base for v in a["version"].astype(str).unique()):
            a["footprint_change_mb_mean"] = a[mem] - a["version"].astype(str).map(base)
            a["footprint_change_mb_ci95"] = a.get("peak_footprint_mb_ci95", np.nan)
    return a, base


def _short_label(row) -> str:
    lab = f"({int(row['threshold0'])},{int(row['threshold1'])},{int(row['threshold2'])})"
    fa = row.get("freeze_after")
    if isinstance(fa, str) and fa:
        lab += f" freeze@{fa}"
    if not bool(row.get("enabled", True)):
        lab += " off"
    return lab


MAX_LABELLED_POINTS = 30
#: Entries per row of the tradeoff figure's legend (below its panels).
LEGEND_COLUMNS = 4
_DEFAULT_MARKERS = ("D", "s", "^", "v", "P", "X")


def tradeoff_plot(agg: pd.DataFrame, x: str = "peak_footprint_mb_mean", y: str = "pauses_per_s_mean",
                  default_points=(), chosen_points=(), ax=None, label_points: bool | None = None):
    """Each grid point's mean (with 95 % CI bars), the Pareto frontier, each version's default
    (a marker of its own) and the chosen point (a star) marked; every point labelled with its
    thresholds when there are at most :data:`MAX_LABELLED_POINTS`."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    versions = list(dict.fromkeys(agg["version"].astype(str)))
    palette = dict(zip(versions, sns.color_palette(n_colors=max(len(versions), 1)), strict=False))
    hue = "version" if len(versions) > 1 else None
    sns.scatterplot(data=agg.assign(version=agg["version"].astype(str)), x=x, y=y, hue=hue, palette=palette if hue else None,
                    ax=ax, s=45, zorder=3, legend=bool(hue), edgecolor="k", linewidth=0.4)
    xe, ye = x.replace("_mean", "_ci95"), y.replace("_mean", "_ci95")
    if xe in agg and ye in agg:
        ax.errorbar(agg[x], agg[y], xerr=agg[xe].fillna(0), yerr=agg[ye].fillna(0), fmt="none", ecolor="0.55",
                    elinewidth=0.8, zorder=2)
    front = pareto_front(agg, x, y)
    f = agg.loc[front].sort_values(x)
    ax.plot(f[x], f[y], "-", color="tab:green", lw=1.5, zorder=1, label="Pareto frontier")
    labelled = set()
    for p in default_points:
        r = agg.loc[agg["point"] == p].iloc[0]
        v = str(r["version"])
        label = f"CPython default {v}"
        k = versions.index(v) if v in versions else 0
        ax.scatter([r[x]], [r[y]], marker=_DEFAULT_MARKERS[k % len(_DEFAULT_MARKERS)], s=170, facecolors="none",
                   edgecolors="tab:red", lw=2, zorder=4, label=None if label in labelled else label)
        labelled.add(label)
    for p in chosen_points:
        r = agg.loc[agg["point"] == p].iloc[0]
        ax.scatter([r[x]], [r[y]], marker="*", s=300, color="gold", edgecolors="k", zorder=5,
                   label=f"recommended: {setting_label(r)}")
    if label_points is None:
        label_points = True
    if label_points:
        # few points: each labelled with its setting; many: with its grid point number, which the
        # figure's key (:func:`tradeoff_figure`) spells out
        many = len(agg) > MAX_LABELLED_POINTS
        for _, r in agg.iterrows():
            if pd.notna(r[x]) and pd.notna(r[y]):
                ax.annotate(str(int(r["point"])) if many else _short_label(r), (r[x], r[y]), xytext=(4, 3),
                            textcoords="offset points", fontsize=6.5, color="0.25", zorder=6)
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.legend(fontsize="small", loc="best")
    return ax


def caption(agg: pd.DataFrame, summ: pd.DataFrame | None = None, base: dict | None = None) -> str:
    """Workload, versions, simulated length, replicates and seeds of the runs a chart shows."""
    wl = ", ".join(dict.fromkeys(agg["workload"].astype(str))) if "workload" in agg else "?"
    vs = ", ".join(dict.fromkeys(agg["version"].astype(str)))
    dur = ", ".join(f"{d:g}" for d in dict.fromkeys(agg["duration_s"])) if "duration_s" in agg else "?"
    reps = ", ".join(str(int(r)) for r in dict.fromkeys(agg["replicates"])) if "replicates" in agg else "?"
    text = f"workload {wl}; CPython {vs}; {dur} s of mutator time per run; {reps} replicates per setting"
    if summ is not None and "seed" in summ and len(summ):
        text += f" (seeds {int(summ['seed'].min())}..{int(summ['seed'].max())}, common to all settings)"
    if base:
        text += "; default peak footprint " + ", ".join(f"{v}: {b:,.1f} MiB" for v, b in base.items())
    return text


def tradeoff_figure(agg: pd.DataFrame, title: str, default_points=(), chosen_points=(), summ: pd.DataFrame | None = None):
    """GC share (%) and pause frequency against the peak footprint's change from the default
    (MiB, with % on the top axis; the absolute default in the caption), side by side."""
    plt, _ = _plt()
    a, base = _relative(agg, default_points)
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    x = "footprint_change_mb_mean" if "footprint_change_mb_mean" in a else memory_metric(a)
    tradeoff_plot(a, x=x, y="gc_share_pct_mean", default_points=default_points, chosen_points=chosen_points,
                  ax=axes[0])
    # labels on the first panel only: pause frequency stacks settings that differ in threshold1
    tradeoff_plot(a, x=x, y="pauses_per_s_mean", default_points=default_points, chosen_points=chosen_points,
                  ax=axes[1], label_points=False)
    if (a["pauses_per_s_mean"] > 0).any():  # a log axis of nothing but zeros cannot be drawn
        axes[1].set_yscale("log")
    axes[1].get_legend().remove()  # the same as the first panel's
    # the legend below the panels, where it hides no point (inside, "best" can still cover one)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), LEGEND_COLUMNS), fontsize="small",
               frameon=False, bbox_to_anchor=(0.5, 0.045))
    if x == "footprint_change_mb_mean" and len(base) == 1:
        b = next(iter(base.values()))
        if b > 0:
            for ax in axes:
                top = ax.secondary_xaxis("top", functions=(lambda m, b=b: 100.0 * m / b, lambda q, b=b: q * b / 100.0))
                top.set_xlabel("peak footprint change from the default (%)", fontsize="small")
    fig.suptitle(title)
    fig.text(0.01, 0.01, _wrap_parts(caption(a, summ, base)), fontsize="small", color="0.3")
    right = 1.0
    if len(a) > MAX_LABELLED_POINTS:  # too many to label: a key of point numbers beside the panels
        key = [f"{int(r['point'])}: {setting_label(r)}" for _, r in a.sort_values("point").iterrows()]
        per_col = 45
        cols = [key[i:i + per_col] for i in range(0, len(key), per_col)]
        width = 0.15 * len(cols)
        right = 1.0 - width
        for k, col in enumerate(cols):
            fig.text(right + 0.005 + 0.15 * k, 0.95, "\n".join(col), fontsize=5.5, va="top", family="monospace")
    rows = -(-len(labels) // LEGEND_COLUMNS)  # the legend's rows, below the panels
    fig.tight_layout(rect=(0, 0.06 + 0.035 * rows, right, 1))
    return fig


def _wrap_parts(text: str, width: int = 190) -> str:
    """``text`` on as many lines as it needs, broken only between its "; "-separated parts."""
    lines: list[str] = []
    for part in text.split("; "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "; " + part
        else:
            lines.append(part)
    return ";\n".join(lines)


def _fmt_for(values: np.ndarray) -> str:
    v = np.abs(values[np.isfinite(values)]) if len(values) else np.array([])
    top = float(v.max()) if len(v) else 0.0
    if top >= 1000:
        return ",.0f"
    if top >= 10:
        return ".1f"
    return ".3g"


def heatmap_plot(agg: pd.DataFrame, x: str, y: str, metric: str, ax=None, at: dict | None = None,
                 default_points=(), chosen_points=()):
    """``metric`` over two grid parameters; the others fixed at ``at[param]`` (else their first
    value) and named in the title, never averaged over. The default's cell is outlined in red,
    the chosen one in gold. When the cells differ by less than the replicates' 95 % interval
    the colour scale is widened to that interval (and the title says so): noise is not painted
    as a pattern."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    data = agg
    at = at or {}
    others = [c for c in agg.columns if c.startswith("param_") and c not in (x, y) and agg[c].nunique() > 1]
    for c in others:
        data = data[data[c] == at.get(c, data[c].iloc[0])]
    if data.groupby([x, y], dropna=False).size().max() > 1:  # pragma: no cover - every param is fixed above
        raise GcperfError(f"heatmap of {metric}: a cell holds several grid points")
    scale, label = (100.0, "GC share of wall time (%)") if metric == "gc_share_mean" else (1.0, LABELS.get(metric, metric))
    d = data.assign(_v=data[metric] * scale)
    table = d.pivot_table(index=y, columns=x, values="_v", aggfunc="first").sort_index(ascending=False)
    points = d.pivot_table(index=y, columns=x, values="point", aggfunc="first").reindex_like(table)
    ci_col = metric.replace("_mean", "_ci95")
    vals = table.to_numpy(dtype=float)
    kw = {}
    note = ""
    if ci_col in d and np.isfinite(vals).sum() > 1:
        ci = float(np.nanmedian(d[ci_col].to_numpy(dtype=float) * scale))
        spread = float(np.nanmax(vals) - np.nanmin(vals))
        if np.isfinite(ci) and ci > 0 and spread < ci:
            mid = float(np.nanmean(vals))
            kw = {"vmin": mid - ci, "vmax": mid + ci}
            note = f"\nspread {spread:.3g} < replicates' 95 % CI {ci:.3g}: differences are noise"
    # "" is how a grid says "none" (no freeze): show it so
    table = table.rename(index=lambda v: "none" if v == "" else v, columns=lambda v: "none" if v == "" else v)
    sns.heatmap(table, annot=True, fmt=_fmt_for(vals), cmap="viridis", ax=ax, annot_kws={"fontsize": 8},
                cbar_kws={"label": label}, **kw)
    from matplotlib.patches import Rectangle

    for pts, colour in ((default_points, "tab:red"), (chosen_points, "gold")):
        for p in pts:
            where = np.argwhere(points.to_numpy() == p)
            for r, c in where:
                ax.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor=colour, lw=3, zorder=5))
    ax.set_xlabel(x.removeprefix("param_"))
    ax.set_ylabel(y.removeprefix("param_"))
    fixed = ", ".join(f"{c.removeprefix('param_')}={data[c].iloc[0]}" for c in others)
    ax.set_title(label + (f" ({fixed})" if fixed else "") + note, fontsize="medium")
    return ax


def heatmap_figure(agg: pd.DataFrame, x: str, y: str, metrics=None, at: dict | None = None, default_points=(),
                   chosen_points=()):
    """One heatmap per metric over two grid parameters (the others fixed as in ``at``); the
    default's cell outlined in red, the recommendation's in gold.

    ``metrics`` defaults to the GC share and the memory axis (:func:`memory_metric`).
    """
    plt, _ = _plt()
    metrics = metrics or ("gc_share_mean", memory_metric(agg))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.8 * len(metrics), 5.4))
    for ax, m in zip(np.atleast_1d(axes), metrics, strict=True):
        heatmap_plot(agg, x, y, m, ax=ax, at=at, default_points=default_points, chosen_points=chosen_points)
    fig.text(0.01, 0.01, "outlined: red the default, gold the recommendation", fontsize="small", color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def pause_distribution_plot(pauses: pd.DataFrame, ax=None):
    """Complementary CDF of pause lengths per setting (column ``setting``) on log axes: the share
    of pauses at least this long, so the tail (p99, the full collections) is where one looks;
    p50, p99 and the longest pause of each setting marked on its curve."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    settings = list(dict.fromkeys(pauses["setting"]))
    palette = dict(zip(settings, sns.color_palette(n_colors=max(len(settings), 1)), strict=False))
    for setting in settings:
        v = np.sort(pauses.loc[pauses["setting"] == setting, "pause_ms"].to_numpy(dtype=float))
        v = v[v > 0]
        if not len(v):
            continue
        share = 1.0 - np.arange(len(v)) / len(v)  # share of pauses >= v[i]
        colour = palette[setting]
        ax.step(v, share, where="post", color=colour, label=f"{setting} ({len(v)} pauses)")
        for q, marker in ((50, "o"), (99, "s"), (100, "^")):
            val = float(np.percentile(v, q)) if q < 100 else float(v[-1])
            ax.scatter([val], [max(1.0 - q / 100.0, 1.0 / len(v))], marker=marker, color=colour, edgecolor="k",
                       zorder=4, s=36)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pause (ms)")
    ax.set_ylabel("share of pauses at least this long")
    from matplotlib.lines import Line2D

    marks = [Line2D([], [], marker=m, color="0.4", ls="", label=t) for m, t in (("o", "p50"), ("s", "p99"), ("^", "longest"))]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + marks, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    return ax


def pause_distribution_figure(pauses: pd.DataFrame, title: str, note: str = ""):
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 6.2))
    pause_distribution_plot(pauses, ax=ax)
    ax.set_title(title)
    if note:
        fig.text(0.01, 0.01, note, fontsize="small", color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def timeline_figure(timelines: pd.DataFrame, pauses: pd.DataFrame, title: str, marks: dict | None = None,
                    note: str = ""):
    """Footprint and uncollected garbage over time per setting, and the collections on a strip of
    their own (one row per setting, taller ticks for older generations). ``marks``: per label,
    a time to draw as a dashed line on every panel (phase ends, ``gc.freeze()``)."""
    plt, sns = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.3]})
    y0 = "footprint_mb" if timelines["footprint_mb"].notna().any() else "live_objects"
    y1 = "garbage_mb" if timelines["garbage_mb"].notna().any() else "garbage_objects"
    settings = list(dict.fromkeys(timelines["setting"]))
    palette = dict(zip(settings, sns.color_palette(n_colors=max(len(settings), 1)), strict=False))
    styles = ["-", "--", ":", "-."]
    for i, setting in enumerate(settings):
        t = timelines[timelines["setting"] == setting]
        axes[0].plot(t["time_s"], t[y0], styles[i % len(styles)], color=palette[setting], lw=1.4, label=setting)
        axes[1].plot(t["time_s"], t[y1], styles[i % len(styles)], color=palette[setting], lw=1.1)
    strip = axes[2]
    for i, setting in enumerate(settings):
        g = pauses[pauses["setting"] == setting]
        for gen, h in ((0, 0.25), (1, 0.5), (2, 0.9)):
            tt = g.loc[g["generation"] == gen, "time_s"]
            strip.vlines(tt, i, i + h, color=palette[setting], lw=0.6 if gen == 0 else 1.2)
    strip.set_yticks([i + 0.4 for i in range(len(settings))])
    strip.set_yticklabels([f"#{i + 1}" for i in range(len(settings))], fontsize="small")
    strip.set_ylim(-0.1, len(settings))
    strip.set_ylabel("collections")
    strip.grid(False)
    for label, when in (marks or {}).items():
        for ax in axes:
            ax.axvline(when, color="0.35", ls="--", lw=0.9)
        axes[0].annotate(label, (when, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                         textcoords="offset points", fontsize=7, color="0.3", rotation=90, va="top")
    axes[0].set_ylabel("footprint (MiB)" if y0 == "footprint_mb" else "live objects")
    axes[1].set_ylabel("uncollected garbage (MiB)" if y1 == "garbage_mb" else "garbage objects")
    axes[2].set_xlabel("simulated wall time (s); strip: one row per setting (#1, #2... as in the legend), "
                       "taller ticks: older generations")
    axes[0].legend([f"#{i + 1} {s}" for i, s in enumerate(settings)], fontsize="small", loc="best")
    fig.suptitle(title)
    if note:
        fig.text(0.01, 0.005, note, fontsize="small", color="0.3")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


def save(fig, path: Path) -> Path:
    """Save a figure as PNG (deterministic: no timestamps in the metadata) and close it."""
    from ..safeio import atomic_writer

    plt, _ = _plt()
    try:
        with atomic_writer(path) as f:  # a reader never sees half a PNG
            fig.savefig(f, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def _pick_axes(agg: pd.DataFrame) -> tuple[str, str] | None:
    varied = [c for c in agg.columns if c.startswith("param_") and agg[c].nunique() > 1]
    if "param_threshold0" not in varied:
        return None
    others = [c for c in varied if c != "param_threshold0"]
    return ("param_threshold0", others[0]) if others else None


def _run_records(folder: Path, run_ids: set[str]) -> dict[str, dict]:
    """The ``runs.jsonl`` records of these runs, read once and without touching the file (a
    corrupt line is skipped; a missing log gives none)."""
    import json

    found: dict[str, dict] = {}
    try:
        lines = (folder / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return found
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("run_id") in run_ids:
            found[rec["run_id"]] = rec
    return found


def _phase_marks(rec: dict | None, freeze_after: str | None) -> dict:
    """Phase ends of a run's workload (mutator seconds) and its ``gc.freeze()``, as timeline marks."""
    from .experiment import scenario_for

    if rec is None:
        return {}
    try:
        wl = scenario_for(rec["params"], int(rec["seed"])).resolved_workload()
    except (GcperfError, KeyError, TypeError, ValueError):
        return {}
    marks, t = {}, 0.0
    for ph in wl.phases[:-1]:
        t += ph.duration_s
        name = f"end of {ph.name}" + (": gc.freeze()" if freeze_after == ph.name else "")
        marks[name] = t
    return marks


def plot_results(folder: str | Path, recommendation=None, constraints=None) -> list[Path]:
    """Draw the standard charts of a sweep into ``<folder>/charts/``; return their paths.

    ``recommendation`` (from :func:`gcperf.recommend.recommend`) marks the chosen setting;
    without it, ``constraints`` (:class:`gcperf.recommend.Constraints`, as ``gcperf plot`` and
    ``gcperf recommend`` take them; None: recommend's defaults) decide it, exactly as
    ``gcperf recommend`` would. When recommend's defaults give no answer (a sweep of several
    versions needs one named) the charts mark none; the user's own constraints that give none
    are an error.
    """
    from .recommend import Constraints, default_points, load_results, recommend
    from .sweep import read_detail

    folder = Path(folder)
    agg, summ, meta = load_results(folder)
    out = folder / "charts"
    try:
        out.mkdir(exist_ok=True)
    except OSError as e:
        raise GcperfError(f"cannot create {str(out)!r}: {e.strerror}") from None
    name = meta.get("experiment", folder.name)
    if meta.get("quick"):
        name += " [QUICK sweep: small grid, short runs]"
    paths = []
    defaults = default_points(agg)
    rec = recommendation
    if rec is None:
        try:
            rec = recommend(folder, constraints or Constraints())
        except GcperfError:
            if constraints is not None and constraints != Constraints():
                raise  # the user's constraints: an error there is theirs to see
            rec = None
    chosen = [rec.extra["point"]] if rec is not None and not rec.is_default else []
    # workloads and their traits describe different programs: a frontier across them means
    # nothing, so the tradeoff shows one (the recommendation's, else the first default's)
    ref = rec.extra["default_point"] if rec is not None else (defaults[0] if defaults else None)
    sel, where = agg, ""
    if ref is not None:
        ref_row = agg[agg["point"] == ref].iloc[0]
        traits = [c for c in agg.columns
                  if c.startswith("param_") and ("." in c or c == "param_workload") and agg[c].nunique() > 1]
        for c in traits:
            sel = sel[sel[c] == ref_row[c]]
        where = "".join(f", {c[6:]}={ref_row[c]}" for c in traits)
    shown_defaults = [p for p in defaults if p in set(sel["point"])]
    paths.append(save(tradeoff_figure(sel, f"{name}: GC time and pause frequency against memory{where}",
                                      shown_defaults, chosen, summ=summ[summ["point"].isin(sel["point"])]),
                      out / "tradeoff.png"))
    axes = _pick_axes(agg)
    if axes:
        at = None
        if ref is not None:
            rp = rec.extra["point"] if rec is not None else ref
            at = agg[agg["point"] == rp].iloc[0].to_dict()
        paths.append(save(heatmap_figure(agg, *axes, at=at, default_points=defaults, chosen_points=chosen),
                          out / "heatmap.png"))
    # pause distributions and timelines of the default, the recommendation and a runner-up
    show: list[tuple[int, str]] = []
    if rec is not None:
        show.append((rec.extra["default_point"], f"default {rec.default_label}"))
        if not rec.is_default:
            show.append((rec.extra["point"], f"recommended {rec.label}"))
        for ru in rec.runners_up:
            if ru["point"] not in {p for p, _ in show}:  # never the default (or the choice) drawn twice
                show.append((ru["point"], f"runner-up {ru['setting']}"))
                break
    elif defaults:
        show.append((defaults[0], "default " + setting_label(agg[agg["point"] == defaults[0]].iloc[0])))
    pauses, timelines = [], []
    marks: dict = {}
    first = summ[summ["replicate"] == 0]
    records = _run_records(folder, set(first.loc[first["point"].isin([p for p, _ in show]), "run_id"].astype(str)))
    for point, label in show:
        rid = first.loc[first["point"] == point, "run_id"]
        if rid.empty:
            continue
        p = read_detail(folder, str(rid.iloc[0]), "pauses")
        t = read_detail(folder, str(rid.iloc[0]), "timeline")
        p["setting"] = label
        t["setting"] = label
        pauses.append(p)
        timelines.append(t)
        fa = agg.loc[agg["point"] == point, "freeze_after"].iloc[0] if "freeze_after" in agg else ""
        for k, v in _phase_marks(records.get(str(rid.iloc[0])), fa if isinstance(fa, str) and fa else None).items():
            marks.setdefault(k, v)
    note = caption(agg[agg["point"].isin([p for p, _ in show])], None) + "; replicate 0 of each"
    if pauses:
        paths.append(save(pause_distribution_figure(pd.concat(pauses), f"{name}: pause lengths", note),
                          out / "pauses.png"))
        paths.append(save(timeline_figure(pd.concat(timelines), pd.concat(pauses),
                                          f"{name}: footprint and garbage over time", marks,
                                          note + "; dashed: phase ends (mutator time)"),
                          out / "timeline.png"))
    return paths
