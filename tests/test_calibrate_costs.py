"""gcperf calibrate-costs: the machine constants measured under a real interpreter, saved where runs find them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gcperf.cpython.costs import cost_model_for, user_costs_path

MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _gcperf(*args, costs):
    env = dict(os.environ, GCPERF_COSTS=str(costs))
    return subprocess.run([sys.executable, "-m", "gcperf", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A quick probe of this interpreter, into a costs file that already holds another version."""
    path = tmp_path_factory.mktemp("costs") / "costs.json"
    other = {"model": dict(cost_model_for("3.9").to_dict(), source="an earlier measurement of 3.9"),
             "interpreter": {"version": "3.9.18"}}
    path.write_text(json.dumps({"schema_version": 1, "written_by": "gcperf calibrate-costs", "versions": {"3.9": other}}))
    proc = _gcperf("calibrate-costs", "--quick", costs=path)
    assert proc.returncode == 0, proc.stderr
    return path, proc


def test_calibrate_costs_writes_the_measured_constants_with_their_provenance(measured):
    path, proc = measured
    doc = json.loads(path.read_text())
    entry = doc["versions"][MINOR]
    assert entry["interpreter"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert entry["probe"]["mode"] == "quick" and entry["runs"][0]["date"]
    assert entry["machine"]["cpus"] == os.cpu_count()
    # the probe timed real collections: a cost per examined object in the range any machine
    # gives (1-1000 ns), fitted with a residual it reports
    m = entry["model"]
    assert 1.0 < m["per_object_ns"] < 1000.0 and m["cache_factor"] >= 1.0
    assert entry["fit"]["examined_rms_rel_residual"] < 1.0
    # another version's entry is kept
    assert doc["versions"]["3.9"]["model"]["source"] == "an earlier measurement of 3.9"
    assert "wrote" in proc.stdout and str(path) in proc.stdout


def test_runs_use_the_constants_measured_on_this_machine(measured, monkeypatch):
    path, _ = measured
    monkeypatch.setenv("GCPERF_COSTS", str(path))
    assert user_costs_path() == path
    mine = cost_model_for(MINOR)
    entry = json.loads(path.read_text())["versions"][MINOR]["model"]
    assert mine.per_object_ns == entry["per_object_ns"] and mine.cache_half_objects == entry["cache_half_objects"]
    assert "this machine" in mine.source and str(path) in mine.source
    # a version the file does not hold comes from the package's table, as before
    monkeypatch.setenv("GCPERF_COSTS", str(path.parent / "absent.json"))
    assert "this machine" not in cost_model_for(MINOR).source
    # and the simulator's provenance names the constants it used
    monkeypatch.setenv("GCPERF_COSTS", str(path))
    from gcperf import GCSettings, Scenario
    from gcperf.engine.runner import simulate
    res = simulate(Scenario("cycles", GCSettings(version=MINOR), seed=1, memory=False, duration_s=0.2))
    assert "this machine" in res.inputs["cost_model"]


def test_a_costs_file_gcperf_did_not_write_is_left_alone(tmp_path):
    path = tmp_path / "theirs.json"
    text = json.dumps({"schema_version": 1, "versions": {}})  # valid layout, but not written by gcperf
    path.write_text(text)
    proc = _gcperf("calibrate-costs", "--quick", costs=path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "left alone" in proc.stderr
    assert path.read_text() == text


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 7, "versions": {}}',
                                     '{"schema_version": 1, "versions": {"3.11": {"model": {"per_object_ns": -1}}}}'])
def test_a_damaged_user_costs_file_is_one_line_and_exit_2(tmp_path, content):
    path = tmp_path / "costs.json"
    path.write_text(content)
    proc = _gcperf("run", "-V", "3.11", "-d", "0.2", "--no-memory", costs=path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.count("\n") == 1 and "costs file" in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_text() == content


def test_calibrate_costs_refuses_what_is_not_cpython(tmp_path):
    proc = _gcperf("calibrate-costs", "--python", "/bin/ls", costs=tmp_path / "c.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert not (tmp_path / "c.json").exists()


def test_calibrate_costs_refuses_an_output_it_cannot_write_before_probing(tmp_path):
    proc = _gcperf("calibrate-costs", "--quick", "-o", str(tmp_path / "missing" / "c.json"), costs=tmp_path / "u.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr
    assert "probing" not in proc.stderr and not (tmp_path / "missing").exists()
