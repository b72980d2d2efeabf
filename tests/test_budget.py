"""Long or absurd work is announced and bounded (issue 10.4)."""

from __future__ import annotations

import io
import json
import logging
import math
import time

import pytest

from gcperf import GCSettings, Scenario, simulate
from gcperf.cli import main
from gcperf.engine import kernels as kernels_mod
from gcperf.errors import GcperfError
from gcperf.studies.budget import RUN_LIMIT_S, check_sweep, estimate, human_duration
from gcperf.studies.executors import IN_FLIGHT_PER_WORKER, processes
from gcperf.studies.experiment import parse_experiment
from gcperf.studies.progress import RunProgress
from gcperf.studies.sweep import plan_sweep


@pytest.mark.parametrize("args", [["-d", "1e12"], ["-t", "1"], ["--collect-every", "1e-9"],
                                  ["-w", "batch", "-t", "1", "-d", "600"]])
def test_absurd_runs_need_yes(capsys, args):
    t0 = time.perf_counter()
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "add --yes" in err[0] and "this run would take about" in err[0], err
    assert time.perf_counter() - t0 < 5  # refused before any simulation


def test_estimates_are_of_the_right_order():
    web = estimate(Scenario())
    assert 1 < web.seconds < 20 and web.allocations == 61_500_000  # takes 2-3 s here
    assert estimate(Scenario(gc=GCSettings(thresholds=(1, 10, 10)))).seconds > RUN_LIMIT_S
    off = estimate(Scenario(gc=GCSettings(enabled=False)))
    assert off.collections == 0 and off.seconds < web.seconds
    assert human_duration(40) == "40 s" and human_duration(600) == "10 min" and human_duration(math.inf) == "for ever"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_with_eta_on_a_terminal_and_same_results():
    sc = Scenario("cycles", GCSettings(version="3.12"), duration_s=0.3, memory=False)
    tty = FakeTTY()
    bar = RunProgress("simulating cycles", stream=tty, every_s=0.0)
    with_bar = simulate(sc, progress=bar)
    bar.close()
    text = tty.getvalue()
    assert "simulating cycles:" in text and "% of 0.9 M allocations" in text and "eta" in text
    assert text.endswith("\r\033[K")  # erased at the end
    assert with_bar.summary.equals(simulate(sc).summary)
    quiet = io.StringIO()  # not a terminal: nothing drawn
    bar2 = RunProgress("x", stream=quiet, every_s=0.0)
    simulate(sc, progress=bar2)
    bar2.close()
    assert quiet.getvalue() == ""


def test_kernel_compilation_is_announced_also_from_the_api(monkeypatch, caplog):
    monkeypatch.setattr(kernels_mod, "_ready", False)
    monkeypatch.setattr(kernels_mod, "ANNOUNCE_AFTER_S", 0.05)
    monkeypatch.setattr(kernels_mod, "_warm_up", lambda version: time.sleep(0.3))
    with caplog.at_level(logging.INFO, logger="gcperf"):
        simulate(Scenario("cycles", duration_s=0.01))
    messages = [r.getMessage() for r in caplog.records if r.name == "gcperf"]
    assert any("compiling the memory model's kernels" in m for m in messages), messages
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gcperf"):
        simulate(Scenario("cycles", duration_s=0.01))  # once per process
    assert not caplog.records


def test_run_json_is_strict(capsys):
    assert main(["run", "-w", "cycles", "-d", "0.02", "--no-memory", "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text
    s = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert s["peak_footprint_mb"] is None and s["collections"] > 0


def test_sweep_announces_its_size_and_names_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "s.toml").write_text(
        'name = "s"\nreplicates = 2\n[base]\nworkload = "cycles"\nduration_s = 0.02\nmemory = false\n'
        '[grid]\nthreshold0 = [700, 5000]\nversion = ["3.11", "3.13"]\n')
    assert main(["sweep", "s", "-j", "1", "--no-plots"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("gcperf sweep s: 8 runs (4 points x 2 replicates), about ") and "on 1 process" in err[0]
    assert "point 3 (threshold0=5000, version='3.13') replicate 1" in err[-1]


def test_huge_sweeps_need_yes(capsys):
    exp = parse_experiment({"name": "big", "replicates": 100, "base": {"workload": "web"},
                            "grid": {"threshold0": list(range(700, 1700))}}, "big.toml")
    plan = plan_sweep(exp, workers=2)
    assert plan.points == 1000 and plan.seconds > 86400
    assert "100000 runs (1000 points x 100 replicates)" in plan.describe()
    with pytest.raises(GcperfError, match="this sweep would take about .* add --yes"):
        check_sweep(plan.seconds, plan.longest_s, False)
    check_sweep(plan.seconds, plan.longest_s, True)


def _double(params, seed):
    return params["x"] * 2


class Task:
    def __init__(self, x):
        self.params, self.seed = {"x": x}, 0


def test_tasks_are_submitted_in_bounded_batches():
    pulled = []

    def tasks():
        for i in range(60):
            pulled.append(i)
            yield Task(i)

    seen = []
    for task, result in processes(tasks(), _double, workers=2):
        assert result == 2 * task.params["x"]
        seen.append(task.params["x"])
        assert len(pulled) - len(seen) <= 2 * IN_FLIGHT_PER_WORKER  # never everything at once
    assert sorted(seen) == list(range(60))
