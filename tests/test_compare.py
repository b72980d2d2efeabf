"""``gcperf compare``: one workload under several versions, side by side."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from gcperf import GCSettings, Scenario, simulate
from gcperf.studies.compare import compare_versions, comparison_table, format_comparison


def _gcperf(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gcperf", *args], capture_output=True, text=True, cwd=cwd)


def test_each_version_runs_the_same_seeds_as_a_plain_run():
    runs = compare_versions("web", ["3.12", "3.13"], seeds=(0, 1), duration_s=0.3, memory=False)
    assert list(runs.version) == ["3.12", "3.12", "3.13", "3.13"]
    for r in runs.itertuples():
        plain = simulate(Scenario("web", GCSettings(version=r.version), seed=r.seed, duration_s=0.3, memory=False))
        s = plain.summary_dict()
        assert (r.collections, r.pause_total_ms) == (s["collections"], s["pause_total_ms"])
        assert r.gc_share_pct == pytest.approx(100 * s["gc_share"])
    table = comparison_table(runs)
    assert list(table.version) == ["3.12", "3.13"]
    assert (table.threshold0.tolist(), table.seeds.tolist()) == ([700, 2000], [2, 2])
    m = runs.groupby("version", sort=False).collections.mean()
    assert table.collections_mean.tolist() == m.tolist()
    assert math.isnan(table.collections_change_pct[0]) or table.collections_change_pct[0] == 0
    assert table.collections_change_pct[1] == pytest.approx(100 * (m["3.13"] / m["3.12"] - 1))
    text = format_comparison(table, "web", 0.3, memory=False)
    assert "3.12" in text and "(2000,10,10)" in text and "peak footprint" not in text


def test_given_thresholds_apply_to_every_version_with_its_own_defaults_filling_in():
    runs = compare_versions("web", ["3.11", "3.13"], thresholds=(5000,), seeds=(0,), duration_s=0.2, memory=False)
    assert runs[["threshold0", "threshold1", "threshold2"]].values.tolist() == [[5000, 10, 10], [5000, 10, 10]]


@pytest.mark.parametrize(("args", "message"), [
    (["-V", "3.12", "3.12"], "version 3.12 is named twice"),
    (["-V", "3.99"], "version 3.99 is not modelled"),
    (["-V", "3.13", "-t", "1", "2", "3", "4"], "thresholds takes one to three values"),
    (["-V", "3.13", "-r", "0"], "--replicates must be at least 1"),
    (["-V", "3.13", "-w", "nope.json"], "nope.json"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    p = _gcperf("compare", "-d", "0.1", "--no-memory", *args)
    assert p.returncode == 2
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
def test_json_and_output_folder_never_touch_foreign_files(tmp_path):
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    p = _gcperf("compare", "-V", "3.12", "3.13", "-d", "0.2", "-r", "2", "--no-memory", "-o", str(foreign))
    assert p.returncode == 2 and "not made by gcperf" in p.stderr
    assert [x.name for x in foreign.iterdir()] == ["notes.txt"]

    out = tmp_path / "cmp"
    p = _gcperf("compare", "-V", "3.12", "3.13", "-d", "0.2", "-r", "2", "--no-memory", "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["baseline"] == "3.12" and [r["version"] for r in doc["table"]] == ["3.12", "3.13"]
    assert doc["presets"]["3.13"]["measured_here"] and doc["presets"]["3.13"]["releases"].startswith("3.13.0-")
    assert {"compare.csv", "compare_runs.csv", "compare.png", "meta.json"} <= {x.name for x in out.iterdir()}
    (out / "mine.txt").write_text("keep")
    p = _gcperf("compare", "-V", "3.12", "-d", "0.2", "-r", "1", "--no-memory", "-o", str(out))
    assert p.returncode == 2 and "--force" in p.stderr
    p = _gcperf("compare", "-V", "3.12", "-d", "0.2", "-r", "1", "--no-memory", "-o", str(out), "--force")
    assert p.returncode == 0, p.stderr
    assert (out / "mine.txt").read_text() == "keep"
    assert "3.12" in p.stdout and "total pause" in p.stdout
