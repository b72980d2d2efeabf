"""The charts show what a performance engineer reads: settings labelled, comparable axes, a
caption, defaults and the recommendation marked, noise not painted as a pattern, tails on log axes."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gcperf.cli import main  # noqa: E402
from gcperf.errors import GcperfError  # noqa: E402
from gcperf.studies.charts import heatmap_plot, pause_distribution_plot, plot_results, tradeoff_figure  # noqa: E402
from gcperf.studies.recommend import Constraints, default_points, load_results, recommend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "results" / "web-service"

needs_web = pytest.mark.skipif(not (WEB / "aggregate.csv").exists(), reason="results/web-service is not here")


@needs_web
def test_the_tradeoff_compares_with_the_default_and_says_what_it_shows():
    agg, summ, _ = load_results(WEB)
    d = default_points(agg)
    rec = recommend(WEB, Constraints(max_footprint_increase_pct=5))
    fig = tradeoff_figure(agg, "t", d, [rec.extra["point"]], summ=summ)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "GC share of wall time (%)"
    assert ax.get_xlabel() == "peak footprint change from the default (MiB)"
    default_row = agg[agg["point"] == d[0]].iloc[0]
    # the default sits at 0 MiB and at its GC share in percent
    pts = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert any(abs(x) < 1e-9 and abs(y - 100 * default_row["gc_share_mean"]) < 1e-9 for x, y in pts)
    labels = {t.get_text() for t in ax.texts}
    assert "(2000,10,10)" in labels and "(25000,50,10)" in labels and len(labels) == len(agg)
    caption = " ".join(t.get_text() for t in fig.texts)
    assert "workload web" in caption and "CPython 3.13" in caption and "5 replicates" in caption
    assert f"{default_row['peak_footprint_mb_mean']:,.1f} MiB" in caption
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "CPython default 3.13" in legend and "recommended: 3.13 (25000,50,10)" in legend
    # the legend and the caption sit outside the panels: neither covers a point
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [fig.legends[0].get_window_extent(renderer), *(t.get_window_extent(renderer) for t in fig.texts)]
    for panel in fig.axes[:2]:
        area = panel.get_window_extent(renderer)
        assert not any(b.overlaps(area) for b in boxes), (boxes, area)
    plt.close(fig)


def _grid(values, ci):
    rows = []
    for i, t0 in enumerate((700, 2000)):
        for j, t1 in enumerate((10, 50)):
            rows.append({"point": 2 * i + j, "param_threshold0": t0, "param_threshold1": t1, "version": "3.13",
                         "gc_share_mean": values[2 * i + j], "gc_share_ci95": ci})
    return pd.DataFrame(rows)


def test_the_heatmap_says_when_its_cells_differ_by_less_than_the_noise():
    fig, ax = plt.subplots()
    heatmap_plot(_grid([0.0100, 0.0101, 0.0102, 0.0100], 0.001), "param_threshold0", "param_threshold1",
                 "gc_share_mean", ax=ax, default_points=[2], chosen_points=[1])
    assert "differences are noise" in ax.get_title()
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1.01", "1.02"]  # percent
    outlined = [p for p in ax.patches if not p.get_fill()]
    assert len(outlined) == 2
    plt.close(fig)
    fig, ax = plt.subplots()
    heatmap_plot(_grid([0.01, 0.02, 0.03, 0.04], 0.001), "param_threshold0", "param_threshold1", "gc_share_mean",
                 ax=ax)
    assert "noise" not in ax.get_title()
    plt.close(fig)


def test_pauses_are_a_ccdf_on_log_axes_with_the_tail_marked():
    rng = np.random.default_rng(1)
    p = pd.DataFrame({"pause_ms": rng.lognormal(0, 1, 500), "setting": "a"})
    fig, ax = plt.subplots()
    pause_distribution_plot(p, ax=ax)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    line = ax.get_lines()[0]
    y = np.asarray(line.get_ydata())
    assert y[0] == 1.0 and np.all(np.diff(y) <= 0)
    marks = np.concatenate([c.get_offsets() for c in ax.collections])
    v = np.sort(p["pause_ms"].to_numpy())
    assert any(abs(x - np.percentile(v, 99)) < 1e-9 for x, _ in marks)
    assert any(abs(x - v[-1]) < 1e-9 for x, _ in marks)
    plt.close(fig)


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
@needs_web
def test_plot_marks_the_recommendation_of_the_users_constraints(tmp_path, capsys):
    folder = tmp_path / "ws"
    shutil.copytree(WEB, folder, ignore=shutil.ignore_patterns("charts"))
    assert main(["plot", str(folder), "--max-p99-pause-ms", "2"]) == 0  # the default is the answer: no star
    assert (folder / "charts" / "tradeoff.png").exists()
    paths = plot_results(folder, constraints=Constraints(max_footprint_increase_pct=5))
    assert {p.name for p in paths} == {"tradeoff.png", "heatmap.png", "pauses.png", "timeline.png"}
    with pytest.raises(GcperfError):
        plot_results(folder, constraints=Constraints(max_footprint_mb=1.0))  # nothing fits: said, not hidden
    capsys.readouterr()


def test_a_grid_too_large_to_label_gets_numbers_and_a_key():
    rows = []
    for p, (t0, t1) in enumerate((a, b) for a in (700, 2000, 5000, 10000, 25000, 50000) for b in (10, 20, 50, 100, 200, 400)):
        rows.append({"point": p, "version": "3.13", "threshold0": t0, "threshold1": t1, "threshold2": 10,
                     "enabled": True, "freeze_after": "", "collect_every_s": np.nan, "workload": "web",
                     "duration_s": 31.0, "replicates": 3, "gc_share_mean": 0.01 * 700 / t0 + 1e-5 * t1,
                     "gc_share_ci95": 1e-4, "pauses_per_s_mean": 30 * 700 / t0, "pauses_per_s_ci95": 0.1,
                     "peak_footprint_mb_mean": 120 + t0 / 1e4 + t1 / 1e3, "peak_footprint_mb_ci95": 0.3})
    agg = pd.DataFrame(rows)
    assert len(agg) > 30
    fig = tradeoff_figure(agg, "t", [6], [20])
    assert {t.get_text() for t in fig.axes[0].texts} == {str(p) for p in agg["point"]}
    key = "\n".join(t.get_text() for t in fig.texts)
    assert "6: 3.13 (2000,10,10)" in key and "35: 3.13 (50000,400,10)" in key
    plt.close(fig)


def test_a_grid_of_workloads_draws_one_workload_on_the_tradeoff(tmp_path, monkeypatch):
    """Points of different programs on one frontier mean nothing: with a workload grid the tradeoff
    shows the recommendation's workload (results/incremental-3-14, copied)."""
    from gcperf.studies import charts
    from gcperf.studies.recommend import Constraints

    src = Path(__file__).resolve().parents[1] / "results" / "incremental-3-14"
    if not (src / "meta.json").exists():
        pytest.skip("results/incremental-3-14 is not in this checkout")
    folder = tmp_path / "inc"
    shutil.copytree(src, folder)
    seen = {}
    real = charts.tradeoff_figure

    def spy(agg, title, *args, **kwargs):
        seen["workloads"], seen["title"] = set(agg["workload"]), title
        return real(agg, title, *args, **kwargs)

    monkeypatch.setattr(charts, "tradeoff_figure", spy)
    charts.plot_results(folder, constraints=Constraints(version="3.14.4", traits={"workload": "cycles"}))
    assert seen["workloads"] == {"cycles"} and seen["title"].endswith("workload=cycles")
