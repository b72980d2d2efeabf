"""gcperf diff: settings matched, paired intervals, the --fail-on gate, every kind of input."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gcperf.cli import main
from gcperf.errors import GcperfError
from gcperf.studies.diff import Side, diff, parse_rule, regressions
from gcperf.studies.experiment import mean_ci95

ROOT = Path(__file__).resolve().parents[1]
REC = ROOT / "results" / "validation" / "data"


def _sweep(values: dict[int, list[float]], seeds=(1, 2, 3, 4)) -> Side:
    rows = [{"param_threshold0": t0, "seed": s, "pause_total_ms": v}
            for t0, vs in values.items() for s, v in zip(seeds, vs, strict=True)]
    return Side(Path("x"), "sweep", pd.DataFrame(rows), ("param_threshold0",))


def test_paired_seeds_give_the_interval_of_the_differences():
    before = _sweep({700: [10.0, 12.0, 11.0, 13.0], 2000: [5.0, 6.0, 5.5, 6.5]})
    after = _sweep({700: [11.0, 13.5, 11.8, 14.1], 2000: [5.0, 6.0, 5.5, 6.5]})
    t = diff(before, after, ["pause_total_ms"]).set_index("setting")
    d = np.array([1.0, 1.5, 0.8, 1.1])
    m, ci = mean_ci95(d)
    row = t.loc["threshold0=700"]
    assert row["change"] == pytest.approx(m) and row["ci95"] == pytest.approx(ci)
    assert row["change_pct"] == pytest.approx(100 * m / 11.5)
    assert row["estimate"] == "paired over 4 seeds"
    assert t.loc["threshold0=2000", "change"] == 0 and t.loc["threshold0=2000", "ci95"] == 0


def test_the_gate_fails_only_beyond_the_bound_and_beyond_noise():
    before = _sweep({700: [10.0, 12.0, 11.0, 13.0]})
    steady = _sweep({700: [11.5, 13.5, 12.5, 14.5]})  # +1.5 on every seed: +13 %, no noise
    noisy = _sweep({700: [16.0, 9.0, 17.0, 10.0]})  # +1.5 on average too, but the seeds disagree
    rule = parse_rule("pause_total_ms:+10%")
    assert regressions(diff(before, steady, ["pause_total_ms"]), [rule])
    assert not regressions(diff(before, noisy, ["pause_total_ms"]), [rule])
    assert not regressions(diff(before, steady, ["pause_total_ms"]), [parse_rule("pause_total_ms:+20%")])
    assert not regressions(diff(before, steady, ["pause_total_ms"]), [parse_rule("pause_total_ms:-10%")])
    assert regressions(diff(before, steady, ["pause_total_ms"]), [parse_rule("pause_total_ms:+1")])  # in ms


def test_without_common_seeds_the_interval_is_welchs():
    before = _sweep({700: [10.0, 12.0, 11.0, 13.0]}, seeds=(1, 2, 3, 4))
    after = _sweep({700: [14.0, 15.0, 13.0, 16.0]}, seeds=(5, 6, 7, 8))
    row = diff(before, after, ["pause_total_ms"]).iloc[0]
    assert row["estimate"] == "unpaired (4 and 4 runs)"
    assert row["change"] == pytest.approx(14.5 - 11.5)
    from scipy import stats

    w = stats.ttest_ind([14, 15, 13, 16], [10, 12, 11, 13], equal_var=False)
    lo = w.confidence_interval(0.95).low
    assert row["change"] - row["ci95"] == pytest.approx(lo, rel=0.05)  # t quantile of the rounded-down dof


def test_a_parameter_that_differs_only_between_the_sides_is_what_is_compared():
    b = _sweep({700: [1.0, 1.0, 1.0, 1.0], 2000: [2.0, 2.0, 2.0, 2.0]})
    a = _sweep({700: [1.5, 1.5, 1.5, 1.5], 2000: [3.0, 3.0, 3.0, 3.0]})
    b.runs["param_version"], a.runs["param_version"] = "3.12", "3.13"
    b = Side(b.path, "sweep", b.runs, ("param_threshold0", "param_version"))
    a = Side(a.path, "sweep", a.runs, ("param_threshold0", "param_version"))
    t = diff(b, a, ["pause_total_ms"])
    assert list(t["setting"]) == ["threshold0=700", "threshold0=2000"]
    assert list(t["change_pct"]) == [pytest.approx(50.0), pytest.approx(50.0)]


def test_sides_with_nothing_to_match_are_refused():
    b = _sweep({700: [1.0] * 4, 2000: [2.0] * 4})
    a = _sweep({5000: [1.0] * 4})
    with pytest.raises(GcperfError, match="no setting"):
        diff(b, a, ["pause_total_ms"])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    for name, ver in (("a", "3.12"), ("b", "3.13")):
        assert main(["run", "-V", ver, "--no-memory", "-d", "1", "-o", str(d / name)]) == 0
    return d / "a", d / "b"


def test_two_runs_from_the_command_line(two_runs, capsys):
    a, b = two_runs
    capsys.readouterr()
    assert main(["diff", str(a), str(b), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["metric"]: r for r in doc["rows"]}
    summ_a = pd.read_csv(a / "summary.csv").iloc[0]
    summ_b = pd.read_csv(b / "summary.csv").iloc[0]
    assert rows["collections"]["before"] == summ_a["collections"]
    assert rows["collections"]["after"] == summ_b["collections"]
    assert "peak_footprint_mb" not in rows  # no memory model on either side: no row of NaNs
    assert rows["collections"]["setting"].startswith("version 3.12 -> 3.13")
    # 3.13 collects less often (threshold0 2000): a rise never happened, a fall of >10 % did
    assert main(["diff", str(a), str(b), "--fail-on", "collections:+10%"]) == 0
    capsys.readouterr()
    assert main(["diff", str(a), str(b), "--fail-on", "collections:-10%", "--markdown"]) == 1
    out = capsys.readouterr()
    assert "| setting | metric |" in out.out
    assert "regression" in out.err and "collections" in out.err


def test_recordings_of_one_program_under_two_interpreters(capsys):
    a, b = REC / "3.11.7" / "lru_service.gcrec.json.gz", REC / "3.12.1" / "lru_service.gcrec.json.gz"
    if not (a.exists() and b.exists()):
        pytest.skip("the validation recordings are not in this checkout")
    assert main(["diff", str(a), str(b), "--json", "-m", "pause_total_ms", "-m", "peak_rss_mb"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["metric"] for r in rows] == ["pause_total_ms", "peak_footprint_mb"]
    assert all(r["setting"].startswith("version 3.11.7 -> 3.12.1") for r in rows)
    assert all(math.isfinite(r["before"]) and math.isfinite(r["after"]) for r in rows)


def test_bad_input_is_one_line_and_exit_2(two_runs, tmp_path, capsys):
    a, _ = two_runs
    cases = [
        [str(tmp_path / "missing"), str(a)],
        [str(tmp_path), str(a)],  # a folder without results
        [str(a), str(a), "--fail-on", "p99"],
        [str(a), str(a), "-m", "no_such_metric"],
    ]
    trunc = tmp_path / "t.gcrec.json.gz"
    src = REC / "3.11.7" / "lru_service.gcrec.json.gz"
    if src.exists():
        trunc.write_bytes(src.read_bytes()[:2000])
        cases.append([str(trunc), str(a)])
    bad = tmp_path / "notgz.gcrec.json.gz"
    bad.write_bytes(gzip.compress(b"{not json"))
    cases.append([str(bad), str(a)])
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in ("summary.csv", "meta.json", "collections.csv", "timeline.csv"):
        (changed / f).write_bytes((a / f).read_bytes())
    (changed / "summary.csv").write_text((a / "summary.csv").read_text().replace("3.12", "3.11"))
    cases.append([str(changed), str(a)])
    for argv in cases:
        capsys.readouterr()
        assert main(["diff", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("gcperf: error:"), (argv, err)


def test_paired_means_are_over_the_common_seeds():
    before = _sweep({700: [10.0, 12.0, 11.0, 13.0]}, seeds=(1, 2, 3, 4))
    after = _sweep({700: [11.0, 13.0, 12.0, 99.0]}, seeds=(1, 2, 3, 9))  # seed 9 has no partner
    row = diff(before, after, ["pause_total_ms"]).iloc[0]
    assert row["estimate"] == "paired over 3 seeds"
    assert (row["before"], row["after"], row["change"]) == (pytest.approx(11.0), pytest.approx(12.0), pytest.approx(1.0))
    assert row["runs_before"] == row["runs_after"] == 3
