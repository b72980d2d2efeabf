"""Sweeps: declarations, executors, resuming, provenance, charts and recommendations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gcperf.errors import GcperfError
from gcperf.studies.experiment import load_experiment, parse_experiment
from gcperf.studies.recommend import Constraints, default_points, format_recommendation, load_results, recommend
from gcperf.studies.sweep import group_runs, run_task, sweep

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"

TINY = {
    "name": "tiny",
    "replicates": 3,
    "root_seed": 5,
    "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.15, "timeline_points": 20},
    "grid": {"threshold0": [700, 5000], "main.cyclic_share": [0.1, 0.3]},
}


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "tiny"
    sweep(parse_experiment(TINY, "tiny.toml"), out, workers=1)
    return out


def test_results_folder_has_one_row_per_run_with_inputs_and_aggregates(tiny_results):
    summ = pd.read_csv(tiny_results / "summary.csv")
    agg = pd.read_csv(tiny_results / "aggregate.csv")
    meta = json.loads((tiny_results / "meta.json").read_text())
    assert len(summ) == 2 * 2 * 3 and list(summ["point"]) == sorted(summ["point"])
    for col in ("param_threshold0", "param_main.cyclic_share", "seed", "replicate", "version", "threshold0",
                "pause_p99_ms", "peak_footprint_mb"):
        assert col in summ
    # same replicate seeds at every grid point (common random numbers), different across replicates
    seeds = summ.pivot(index="point", columns="replicate", values="seed")
    assert (seeds.nunique() == 1).all() and seeds.iloc[0].nunique() == 3
    assert len(agg) == 4 and (agg["replicates"] == 3).all()
    assert {"gc_share_mean", "gc_share_ci95", "peak_footprint_mb_ci95"} <= set(agg.columns)
    assert (agg["pause_total_ms_ci95"] >= 0).all()
    assert meta["config"]["name"] == "tiny" and meta["config_hash"] and meta["packages"]["numpy"]
    assert meta["packages"]["numba"] and "source_revision" in meta
    assert meta["runs"] == 12 and meta["executor"] == "in-process"


def test_interrupted_sweep_resumes_without_redoing_runs(tmp_path, tiny_results):
    exp = parse_experiment(TINY, "tiny.toml")
    calls = []

    def flaky(params, seed):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(seed)
        return run_task(params, seed)

    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        sweep(exp, out, workers=1, task=flaky)
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 5
    # an interruption in the middle of writing leaves a truncated last line: tolerated
    with open(out / "runs.jsonl", "a") as f:
        f.write('{"run_id": "abc", "summ')
    second = []

    def counting(params, seed):
        second.append(seed)
        return run_task(params, seed)

    sweep(exp, out, workers=1, task=counting)
    assert len(second) == 12 - 5
    a = pd.read_csv(out / "summary.csv").drop(columns=["gcperf_version"])
    b = pd.read_csv(tiny_results / "summary.csv").drop(columns=["gcperf_version"])
    pd.testing.assert_frame_equal(a, b)


def test_refuses_other_configurations_and_corrupt_folders(tmp_path, tiny_results):
    other = dict(TINY, replicates=2)
    with pytest.raises(GcperfError, match="another configuration"):
        sweep(parse_experiment(other, "x"), tiny_results, workers=1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.json").write_text("{not json")
    with pytest.raises(GcperfError, match="corrupt"):
        sweep(parse_experiment(TINY, "x"), bad, workers=1)
    (bad / "meta.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(GcperfError, match="schema version 1"):
        sweep(parse_experiment(TINY, "x"), bad, workers=1)
    mid = tmp_path / "mid"
    sweep(parse_experiment(dict(TINY, replicates=1), "x"), mid, workers=1)
    text = (mid / "runs.jsonl").read_text().splitlines()
    (mid / "runs.jsonl").write_text("\n".join(["garbage"] + text) + "\n")
    with pytest.raises(GcperfError, match="line 1 is corrupt"):
        sweep(parse_experiment(dict(TINY, replicates=1), "x"), mid, workers=1)


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
def test_process_pool_and_dask_give_identical_results(tmp_path, tiny_results):
    exp = parse_experiment(TINY, "tiny.toml")
    ref = pd.read_csv(tiny_results / "summary.csv").drop(columns=["gcperf_version"])
    sweep(exp, tmp_path / "pool", workers=2)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pool" / "summary.csv").drop(columns=["gcperf_version"]), ref)
    # per-run detail files are the same bytes (no time stamps in them), whoever ran the run
    details = sorted(p.name for p in (tiny_results / "runs").iterdir())
    assert details and details == sorted(p.name for p in (tmp_path / "pool" / "runs").iterdir())
    for name in details:
        assert (tiny_results / "runs" / name).read_bytes() == (tmp_path / "pool" / "runs" / name).read_bytes(), name
    distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'gcperf[dask]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        sweep(exp, tmp_path / "dask", scheduler=cl.scheduler_address)
    meta = json.loads((tmp_path / "dask" / "meta.json").read_text())
    assert meta["executor"].startswith("dask ")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "dask" / "summary.csv").drop(columns=["gcperf_version"]), ref)


def _one_by_one(params, seed):
    return run_task(params, seed)


def test_settings_of_one_draw_run_together_and_give_the_tables_of_runs_drawn_alone(tmp_path, tiny_results):
    """A sweep runs the settings that draw the same program over one draw (``simulate_many``):
    its tables and detail files are the bytes of every run simulated alone."""
    exp = parse_experiment(TINY, "tiny.toml")
    groups = group_runs(exp.runs())
    # threshold0 700 and 5000 share the draw of each (cyclic share, replicate)
    assert sorted(len(g.specs) for g in groups) == [2] * 6
    assert all(len({s.seed for s in g.specs}) == 1 and len({s.params["main.cyclic_share"] for s in g.specs}) == 1
               for g in groups)
    assert len(group_runs(exp.runs(), tasks_wanted=12)) == 12  # split so that every worker has work
    sweep(exp, tmp_path / "alone", workers=1, task=_one_by_one)
    for name in ("summary.csv", "aggregate.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "alone" / name).drop(columns=["gcperf_version"], errors="ignore"),
                                      pd.read_csv(tiny_results / name).drop(columns=["gcperf_version"], errors="ignore"))
    details = sorted(p.name for p in (tiny_results / "runs").iterdir())
    assert len(details) == 2 * 12
    for name in details:
        assert (tiny_results / "runs" / name).read_bytes() == (tmp_path / "alone" / "runs" / name).read_bytes(), name


@pytest.mark.parametrize(
    "data, message",
    [
        (dict(TINY, grid={"threshold9": [1]}), "unknown parameter 'threshold9'"),
        (dict(TINY, grid={"threshold0": []}), "must be a non-empty list"),
        (dict(TINY, grid={"main.nope": [1]}), "not a phase field"),
        (dict(TINY, grid={"serve.cyclic_share": [0.1]}), "has no phase 'serve'"),
        (dict(TINY, grid={"threshold0": [-1]}), r"threshold0 must be in 0..2147483647 \(gc.set_threshold takes a C int\), got -1"),
        (dict(TINY, replicates=0), r"replicates must be an integer in 1..10000"),
        (dict(TINY, extra=1), "unknown key 'extra'"),
    ],
)
def test_bad_experiments_are_refused(data, message):
    with pytest.raises(GcperfError, match=message):
        parse_experiment(data, "bad.toml")


def test_recommendation_against_constraints(tiny_results):
    r = recommend(tiny_results, Constraints(objective="pauses"))
    assert r.setting["threshold0"] == 5000 and not r.is_default
    assert "gc.set_threshold(5000, 10, 10)" in r.code
    d = {c.metric: c for c in r.comparisons}
    assert d["pauses_per_s"].diff < 0 and d["peak_garbage_mb"].diff > 0
    text = format_recommendation(r)
    assert "vs default 3.12 (700,10,10)" in text and "Apply it:" in text
    # runners-up sit on the frontier: the recommendation does not dominate any of them
    fp = d["peak_footprint_mb"].value
    for ru in r.runners_up:
        assert ru["setting"] in text
        assert not (fp <= ru["peak_footprint_mb"] and d["pauses_per_s"].value <= ru["pauses_per_s"]), ru
    r2 = recommend(tiny_results, Constraints(objective="footprint"))
    assert r2.setting["threshold0"] == 700 and r2.is_default
    with pytest.raises(GcperfError, match="no setting in this sweep satisfies"):
        recommend(tiny_results, Constraints(max_p99_pause_ms=1e-6))
    with pytest.raises(GcperfError, match="objective must be one of"):
        Constraints(objective="speed")
    with pytest.raises(GcperfError, match="version 3.13 is not in this sweep"):
        recommend(tiny_results, Constraints(version="3.13"))
    # workload traits are not settings: the recommendation is for one value, named in the output
    assert r.extra["traits"] == {"main.cyclic_share": 0.1}
    assert "main.cyclic_share = 0.1 (the sweep also has 0.3" in text
    r3 = recommend(tiny_results, Constraints(objective="pauses", traits={"main.cyclic_share": "0.3"}))
    assert r3.extra["traits"] == {"main.cyclic_share": 0.3}
    assert r3.comparisons[0].default != r.comparisons[0].default
    with pytest.raises(GcperfError, match="is not in this sweep"):
        recommend(tiny_results, Constraints(traits={"main.cyclic_share": "0.2"}))
    with pytest.raises(GcperfError, match="is not varied by this sweep"):
        recommend(tiny_results, Constraints(traits={"main.rate": "1"}))


def test_growing_garbage_backlog_is_warned_about(tmp_path):
    # collections disabled: the least GC time, and cyclic garbage that nothing clears
    spec = {"name": "backlog", "replicates": 2, "root_seed": 3,
            "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.3, "timeline_points": 40},
            "grid": {"enabled": [True, False]}}
    out = sweep(parse_experiment(spec, "backlog.toml"), tmp_path / "backlog", workers=1)
    r = recommend(out, Constraints(objective="gc-time"))
    assert r.setting["enabled"] is False
    assert any("keeps growing" in w for w in r.warnings), r.warnings
    assert "gc.disable()" in r.code
    # with the collector on, garbage is a sawtooth: no warning
    r2 = recommend(out, Constraints(objective="footprint"))
    assert r2.is_default and not any("keeps growing" in w for w in r2.warnings), r2.warnings


def test_a_setting_whose_full_collections_lie_beyond_the_run_is_flagged(tmp_path):
    spec = {"name": "short", "replicates": 2, "root_seed": 4,
            "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.3, "timeline_points": 20,
                     "memory": False},
            "grid": {"threshold0": [700, 50000]}}
    out = sweep(parse_experiment(spec, "short.toml"), tmp_path / "short", workers=1)
    summ = pd.read_csv(out / "summary.csv")
    gen2 = summ.groupby("threshold0")["collections_gen2"].mean()
    assert gen2[700] >= 1 and gen2[50000] == 0  # the premise
    r = recommend(out, Constraints(objective="gc-time"))
    assert r.setting["threshold0"] == 50000
    assert any("no full collection happened" in w for w in r.warnings), r.warnings
    d = recommend(out, Constraints(objective="p99"))
    assert d.is_default and not any("no full collection" in w for w in d.warnings)


def test_charts_draw_what_they_are_given(tiny_results):
    import matplotlib

    matplotlib.use("Agg")
    from gcperf.studies.charts import plot_results, tradeoff_figure

    agg, _, _ = load_results(tiny_results)
    defaults = default_points(agg)
    fig = tradeoff_figure(agg, "t", defaults, [int(agg["point"].max())])
    ax = fig.axes[0]
    labels = [h.get_label() for h in fig.legends[0].legend_handles]
    assert "Pareto frontier" in labels and any("default" in lbl for lbl in labels)
    assert any(lbl.startswith("recommended") for lbl in labels)
    frontier = [ln for ln in ax.get_lines() if ln.get_label() == "Pareto frontier"][0]
    assert 1 <= len(frontier.get_xdata()) <= len(agg)
    paths = plot_results(tiny_results)
    assert {p.name for p in paths} == {"tradeoff.png", "heatmap.png", "pauses.png", "timeline.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_cli_errors_are_one_line(tmp_path):
    def run(*a):
        return subprocess.run([sys.executable, "-m", "gcperf", *a], capture_output=True, text=True, cwd=tmp_path)

    for args, msg in [
        (["sweep", "nope"], "no experiment 'nope'"),
        (["recommend", str(tmp_path)], "is not a finished sweep"),
        (["plot", str(tmp_path / "missing")], "is not a finished sweep"),
        (["recommend", str(tmp_path), "--max-p99-pause-ms", "-1"], "expected a number > 0"),
    ]:
        p = run(*args)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and msg in p.stderr, p.stderr


# the three slowest quick modes (incremental-3-14 ~9 s, cycles ~4 s, batch-heap ~3 s) run with the
# long tests, which keep the README's test command near 5 minutes
SLOW_QUICK = {"incremental-3-14", "cycles", "batch-heap"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.long] if n in SLOW_QUICK else [])
                                  for n in sorted(p.stem for p in EXPERIMENTS.glob("*.toml"))])
def test_every_standard_experiment_runs_in_quick_mode(name, tmp_path):
    exp = load_experiment(name, EXPERIMENTS)
    out = sweep(exp, tmp_path / name, quick=True, workers=2)
    summ = pd.read_csv(out / "summary.csv")
    assert len(summ) == len(exp.with_quick().runs()) >= 4
    assert len(default_points(load_results(out)[0])) >= 1


def test_there_are_at_least_four_standard_experiments():
    assert len(list(EXPERIMENTS.glob("*.toml"))) >= 4


def test_a_grid_of_workloads_is_recommended_for_one_workload_at_a_time():
    """results/incremental-3-14 runs three workloads: a recommendation compares settings of one of
    them (the default's first, or --trait workload=NAME), never one program's runs with another's."""
    folder = Path(__file__).resolve().parents[1] / "results" / "incremental-3-14"
    if not (folder / "meta.json").exists():
        pytest.skip("results/incremental-3-14 is not in this checkout")
    r = recommend(folder, Constraints(version="3.14.4"))
    assert r.extra["traits"] == {"workload": "web"}
    assert r.runners_up == []  # the only 3.14.4 setting for the web workload is its default
    r = recommend(folder, Constraints(version="3.14.4", traits={"workload": "cycles"}))
    assert r.extra["traits"] == {"workload": "cycles"}
    summ = load_results(folder)[1]
    cyc = summ[(summ["version"] == "3.14.4") & (summ["workload"] == "cycles")]
    got = {c.metric: c for c in r.comparisons}["peak_footprint_mb"].value
    assert got == pytest.approx(cyc["peak_footprint_mb"].mean())
    with pytest.raises(GcperfError, match="trait workload = nope is not in this sweep"):
        recommend(folder, Constraints(version="3.14.4", traits={"workload": "nope"}))
