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

from .errors import GcperfError
from .metrics import pareto_front

LABELS = {
    "pauses_per_s_mean": "collections per second",
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


def tradeoff_plot(agg: pd.DataFrame, x: str = "peak_footprint_mb_mean", y: str = "pauses_per_s_mean",
                  default_points=(), chosen_points=(), ax=None):
    """Each grid point's mean (with 95 % CI bars), the Pareto frontier, the default and chosen points marked."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    hue = "version" if agg["version"].nunique() > 1 else None
    sns.scatterplot(data=agg, x=x, y=y, hue=hue, ax=ax, s=40, zorder=3, legend=bool(hue))
    xe, ye = x.replace("_mean", "_ci95"), y.replace("_mean", "_ci95")
    if xe in agg and ye in agg:
        ax.errorbar(agg[x], agg[y], xerr=agg[xe].fillna(0), yerr=agg[ye].fillna(0), fmt="none", ecolor="0.6",
                    elinewidth=0.8, zorder=2)
    front = pareto_front(agg, x, y)
    f = agg.loc[front].sort_values(x)
    ax.plot(f[x], f[y], "-", color="tab:green", lw=1.5, zorder=1, label="Pareto frontier")
    labelled = set()
    for p in default_points:
        r = agg.loc[agg["point"] == p].iloc[0]
        label = f"CPython default {r['version']}"
        ax.scatter([r[x]], [r[y]], s=220, facecolors="none", edgecolors="tab:red", lw=2, zorder=4,
                   label=None if label in labelled else label)
        labelled.add(label)
    for p in chosen_points:
        r = agg.loc[agg["point"] == p].iloc[0]
        ax.scatter([r[x]], [r[y]], marker="*", s=260, color="gold", edgecolors="k", zorder=5,
                   label=f"recommended: {setting_label(r)}")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.legend(fontsize="small", loc="best")
    return ax


def tradeoff_figure(agg: pd.DataFrame, title: str, default_points=(), chosen_points=()):
    """Pause frequency and total pause time against peak footprint (or garbage objects), side by side."""
    plt, _ = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    x = memory_metric(agg)
    tradeoff_plot(agg, x=x, y="pauses_per_s_mean", default_points=default_points, chosen_points=chosen_points,
                  ax=axes[0])
    tradeoff_plot(agg, x=x, y="pause_total_ms_mean", default_points=default_points, chosen_points=chosen_points,
                  ax=axes[1])
    if (agg["pauses_per_s_mean"] > 0).any():  # a log axis of nothing but zeros cannot be drawn
        axes[0].set_yscale("log")
    axes[1].get_legend().remove()  # the same as the first panel's
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap_plot(agg: pd.DataFrame, x: str, y: str, metric: str, ax=None, at: dict | None = None):
    """``metric`` over two grid parameters; the others fixed at ``at[param]`` (else their first value)."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    data = agg
    at = at or {}
    others = [c for c in agg.columns if c.startswith("param_") and c not in (x, y) and agg[c].nunique() > 1]
    for c in others:
        data = data[data[c] == at.get(c, data[c].iloc[0])]
    table = data.pivot_table(index=y, columns=x, values=metric, aggfunc="mean").sort_index(ascending=False)
    # "" is how a grid says "none" (no freeze): show it so
    table = table.rename(index=lambda v: "none" if v == "" else v, columns=lambda v: "none" if v == "" else v)
    sns.heatmap(table, annot=True, fmt=".3g", cmap="viridis", ax=ax, cbar_kws={"label": LABELS.get(metric, metric)})
    ax.set_xlabel(x.removeprefix("param_"))
    ax.set_ylabel(y.removeprefix("param_"))
    fixed = ", ".join(f"{c.removeprefix('param_')}={data[c].iloc[0]}" for c in others)
    ax.set_title(LABELS.get(metric, metric) + (f" ({fixed})" if fixed else ""))
    return ax


def heatmap_figure(agg: pd.DataFrame, x: str, y: str, metrics=None, at: dict | None = None):
    """One heatmap per metric over two grid parameters (the others fixed as in ``at``).

    ``metrics`` defaults to the GC share and the memory axis (:func:`memory_metric`).
    """
    plt, _ = _plt()
    metrics = metrics or ("gc_share_mean", memory_metric(agg))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 5))
    for ax, m in zip(np.atleast_1d(axes), metrics, strict=True):
        heatmap_plot(agg, x, y, m, ax=ax, at=at)
    fig.tight_layout()
    return fig


def pause_distribution_plot(pauses: pd.DataFrame, ax=None):
    """Empirical CDF of pause lengths per setting (column ``setting``), log x."""
    plt, sns = _plt()
    if ax is None:
        ax = plt.gca()
    sns.ecdfplot(data=pauses, x="pause_ms", hue="setting", ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("pause (ms)")
    ax.set_ylabel("share of collections")
    return ax


def pause_distribution_figure(pauses: pd.DataFrame, title: str):
    plt, _ = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    pause_distribution_plot(pauses, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def timeline_figure(timelines: pd.DataFrame, pauses: pd.DataFrame, title: str):
    """Footprint and uncollected garbage over time per setting, pauses marked as ticks."""
    plt, sns = _plt()
    fig, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    y0 = "footprint_mb" if timelines["footprint_mb"].notna().any() else "live_objects"
    y1 = "garbage_mb" if timelines["garbage_mb"].notna().any() else "garbage_objects"
    sns.lineplot(data=timelines, x="time_s", y=y0, hue="setting", ax=axes[0])
    sns.lineplot(data=timelines, x="time_s", y=y1, hue="setting", ax=axes[1], legend=False)
    settings = list(dict.fromkeys(timelines["setting"]))
    palette = dict(zip(settings, sns.color_palette(n_colors=len(settings)), strict=True))
    lo, hi = axes[1].get_ylim()
    for i, (setting, g) in enumerate(pauses.groupby("setting", sort=False)):
        # full collections as taller ticks
        for gen, h in ((0, 0.03), (1, 0.05), (2, 0.12)):
            t = g.loc[g["generation"] == gen, "time_s"]
            axes[1].vlines(t, hi - (i + 1) * 0.14 * (hi - lo), hi - (i + 1) * 0.14 * (hi - lo) + h * (hi - lo),
                           color=palette.get(setting), lw=0.6)
    axes[0].set_ylabel("footprint (MiB)" if y0 == "footprint_mb" else "live objects")
    axes[1].set_ylabel("uncollected garbage (MiB)" if y1 == "garbage_mb" else "garbage objects")
    axes[1].set_xlabel("wall time (s); ticks: collections (taller: older generations)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path: Path) -> Path:
    """Save a figure as PNG (deterministic: no timestamps in the metadata) and close it."""
    from .safeio import atomic_writer

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


def plot_results(folder: str | Path, recommendation=None) -> list[Path]:
    """Draw the standard charts of a sweep into ``<folder>/charts/``; return their paths.

    ``recommendation`` (from :func:`gcperf.recommend.recommend`) marks the chosen
    setting; without it the charts compare the default with the setting of least
    GC time whose peak footprint is at most 50 % above the default's.
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
    if rec is None and defaults:
        versions = sorted(agg["version"].astype(str).unique())
        try:
            rec = recommend(folder, Constraints(max_footprint_increase_pct=50, version=versions[-1]))
        except GcperfError:  # no footprint, no feasible point...: charts without a recommendation
            rec = None
    chosen = [rec.extra["point"]] if rec is not None and not rec.is_default else []
    # workload traits describe different programs: a frontier across them means nothing, so the
    # tradeoff shows one combination (the recommendation's, else the first default's)
    ref = rec.extra["default_point"] if rec is not None else (defaults[0] if defaults else None)
    sel, where = agg, ""
    if ref is not None:
        ref_row = agg[agg["point"] == ref].iloc[0]
        traits = [c for c in agg.columns if c.startswith("param_") and "." in c and agg[c].nunique() > 1]
        for c in traits:
            sel = sel[sel[c] == ref_row[c]]
        where = "".join(f", {c[6:]}={ref_row[c]}" for c in traits)
    shown_defaults = [p for p in defaults if p in set(sel["point"])]
    paths.append(save(tradeoff_figure(sel, f"{name}: pauses against memory{where}", shown_defaults, chosen),
                      out / "tradeoff.png"))
    axes = _pick_axes(agg)
    if axes:
        at = None
        if ref is not None:
            rp = rec.extra["point"] if rec is not None else ref
            at = agg[agg["point"] == rp].iloc[0].to_dict()
        paths.append(save(heatmap_figure(agg, *axes, at=at), out / "heatmap.png"))
    # pause distributions and timelines of the default, the recommendation and a runner-up
    show: list[tuple[int, str]] = []
    if rec is not None:
        show.append((rec.extra["default_point"], f"default {rec.default_label}"))
        if not rec.is_default:
            show.append((rec.extra["point"], f"recommended {rec.label}"))
        for ru in rec.runners_up[:1]:
            show.append((ru["point"], f"runner-up {ru['setting']}"))
    elif defaults:
        show.append((defaults[0], "default " + setting_label(agg[agg["point"] == defaults[0]].iloc[0])))
    pauses, timelines = [], []
    for point, label in show:
        rid = summ.loc[(summ["point"] == point) & (summ["replicate"] == 0), "run_id"]
        if rid.empty:
            continue
        p = read_detail(folder, str(rid.iloc[0]), "pauses")
        t = read_detail(folder, str(rid.iloc[0]), "timeline")
        p["setting"] = label
        t["setting"] = label
        pauses.append(p)
        timelines.append(t)
    if pauses:
        paths.append(save(pause_distribution_figure(pd.concat(pauses), f"{name}: pause lengths (replicate 0)"),
                          out / "pauses.png"))
        paths.append(save(timeline_figure(pd.concat(timelines), pd.concat(pauses),
                                          f"{name}: footprint and garbage over time (replicate 0)"),
                          out / "timeline.png"))
    return paths
