"""The calibration's self-check (gcperf/calibration/selfcheck.py) and the answers that repeat it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gcperf.calibration.selfcheck import SELF_CHECK_TOLERANCE, self_check, warning_of
from gcperf.cli import main
from gcperf.studies.experiment import parse_experiment
from gcperf.studies.recommend import Constraints, recommend
from gcperf.studies.sweep import sweep
from gcperf.workload.builtin import get_workload
from gcperf.workload.specs import workload_to_dict


def _recorded(young: int, gen1: int, explicit: int = 0) -> pd.DataFrame:
    gen = [0] * young + [1] * gen1 + [2] * explicit
    return pd.DataFrame({"generation": gen, "explicit": [0] * (young + gen1) + [1] * explicit})


def _replays(young: int, gen1: int, seeds: int) -> pd.DataFrame:
    return pd.DataFrame({"generation": ([0] * young + [1] * gen1) * seeds})


def test_the_check_compares_the_young_collections_over_the_recording_windows():
    # the program's explicit collections are not the model's to make
    ck = self_check(_replays(110, 9, 2), _recorded(100, 10, explicit=3), 2)
    assert ck["generation_0"] == {"recorded": 100, "modelled": 110.0}
    assert ck["generation_1"] == {"recorded": 10, "modelled": 9.0}
    assert ck["generation_2"] == {"recorded": 0, "modelled": 0.0}
    assert ck["young_ratio"] == pytest.approx(1.1) and ck["reproduces"] is True and "message" not in ck
    low = self_check(_replays(int(100 * (1 - SELF_CHECK_TOLERANCE)) - 1, 9, 1), _recorded(100, 10), 1)
    assert low["reproduces"] is False and "makes 79 young collections where the program made 100 (x0.79)" in low["message"]
    high = self_check(_replays(125, 9, 1), _recorded(100, 10), 1)
    assert high["reproduces"] is False
    none = self_check(None, _recorded(0, 0, explicit=2), 2)
    assert none["reproduces"] is None and "no automatic young collection" in none["message"]


def test_the_warning_is_found_wherever_the_model_is_kept():
    bad = {"calibration_report": {"self_check": {"reproduces": False, "message": "the model is off"}}}
    good = {"calibration_report": {"self_check": {"reproduces": True}}}
    assert warning_of(bad) == "the model is off"
    assert warning_of({"runs": [{"inputs": {"workload_spec": {"provenance": bad}}}]}) == "the model is off"
    assert warning_of(good) is None and warning_of(None) is None and warning_of({"calibrated_from": "x"}) is None
    # a check that could not be made (no young collection recorded) is not a failed one
    assert warning_of({"calibration_report": {"self_check": {"reproduces": None}}}) is None


def _model(tmp_path: Path, reproduces: bool) -> Path:
    doc = workload_to_dict(get_workload("cycles"))
    msg = "over its recording's own windows the model makes 67 young collections where the program made 506 (x0.13)"
    doc["provenance"] = {"calibrated_from": "prog.gcrec.json.gz",
                         "calibration_report": {"self_check": {"reproduces": reproduces,
                                                               **({} if reproduces else {"message": msg})}}}
    path = tmp_path / ("bad.json" if not reproduces else "good.json")
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("reproduces", [False, True])
def test_a_run_of_a_model_that_misses_its_recording_says_so(tmp_path, capsys, reproduces):
    path = _model(tmp_path, reproduces)
    assert main(["run", "-w", str(path), "-d", "0.1", "--no-memory"]) == 0
    out = capsys.readouterr().out
    assert ("warning: over its recording's own windows the model makes 67 young collections" in out) == (not reproduces)
    assert main(["run", "-w", str(path), "-d", "0.1", "--no-memory", "--json"]) == 0
    cap = capsys.readouterr()
    json.loads(cap.out)  # the JSON stays clean; the warning goes to stderr
    assert ("gcperf: warning: over its recording's own windows" in cap.err) == (not reproduces)


def test_a_recommendation_for_a_model_that_misses_its_recording_warns_first(tmp_path):
    path = _model(tmp_path, False)
    exp = parse_experiment({"name": "mine", "replicates": 2, "root_seed": 1,
                            "base": {"workload": str(path), "version": "3.12", "duration_s": 0.1, "memory": False,
                                     "timeline_points": 10},
                            "grid": {"threshold0": [700, 7000]}}, "mine.toml")
    out = tmp_path / "sweep"
    sweep(exp, out, workers=1)
    rec = recommend(out, Constraints())
    assert rec.warnings[0].startswith("over its recording's own windows the model makes 67 young collections")
    # the sweep's page names the recording and repeats the warning (with the recommendation's)
    from gcperf.studies.report import write_report

    page = write_report(out, tmp_path / "report.html").read_text()
    assert "calibrated from <code>prog.gcrec.json.gz</code>" in page
    assert "the model makes 67 young collections where the program made 506" in page
