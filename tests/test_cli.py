"""The command line: default run, options, output folder, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from gcperf.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "gcperf", *args], capture_output=True, text=True, timeout=300)


def test_default_run_prints_a_summary():
    p = run("run", "--quick")
    assert p.returncode == 0, p.stderr
    assert "workload 'web' on CPython 3.13 collector" in p.stdout
    assert "collections" in p.stdout and "p99" in p.stdout


def test_json_summary_and_options(capsys):
    assert main(["run", "-w", "cycles", "-V", "3.11", "-t", "5000", "-d", "0.2", "-s", "4", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["workload"], s["version"], s["threshold0"], s["threshold1"], s["seed"]) == ("cycles", "3.11", 5000, 10, 4)
    assert s["duration_s"] == pytest.approx(0.2)
    assert s["collections"] > 0


def test_output_folder_is_written_with_provenance_and_not_overwritten(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "-d", "0.2", "-o", str(out)]) == 0
    for f in ("collections.csv", "timeline.csv", "summary.csv", "meta.json"):
        assert (out / f).is_file()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["inputs"]["seed"] == 0 and meta["inputs"]["workload"] == "web"
    assert meta["packages"]["simpy"] and meta["command"][:2] == ["gcperf", "run"] or meta["command"]
    assert len(pd.read_csv(out / "summary.csv")) == 1
    capsys.readouterr()
    assert main(["run", "-d", "0.2", "-o", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["run", "-d", "0.2", "-o", str(out), "--force"]) == 0


def test_workload_from_json_file(tmp_path, capsys):
    spec = {
        "name": "mine",
        "phases": [{"name": "serve", "duration_s": 0.1, "alloc_rate_per_s": 1e6, "cyclic_share": 0.1,
                    "lifetimes": [{"name": "t", "share": 0.9, "kind": "immediate"},
                                  {"name": "r", "share": 0.1, "kind": "exponential", "scale_s": 0.001}]}],
    }
    f = tmp_path / "w.json"
    f.write_text(json.dumps(spec))
    assert main(["run", "-w", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"] == "mine"


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "-t", "-5"], "expected an integer >= 0, got '-5'"),
        (["run", "-t", "1", "2", "3", "4"], "at most 3 values"),
        (["run", "-V", "3.7"], "version 3.7 is not modelled"),
        (["run", "-w", "nope"], "unknown workload 'nope'"),
        (["run", "-w", "missing.json"], "cannot read workload file"),
        (["run", "--freeze-after", "x"], "phase 'x' is not in workload 'web'"),
        (["run", "-d", "0"], "expected a number > 0"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    p = run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcperf: error:") and message in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_bad_workload_file_contents(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"phases": [{"name": "a", "duration_s": 1, "typo": 3}]}')
    p = run("run", "-w", str(f))
    assert p.returncode == 2 and "unknown key 'typo'" in p.stderr
    f.write_text('{"phases": [')
    p = run("run", "-w", str(f))
    assert p.returncode == 2 and "invalid JSON" in p.stderr


def test_info_commands(capsys):
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out
    assert "web" in out and "batch" in out and "cycles" in out
    assert main(["versions"]) == 0
    out = capsys.readouterr().out
    assert "3.13  releases 3.13.0-3.13.16\n      thresholds (2000, 10, 10), count0 counts GC allocations" in out
    assert "3.15  releases 3.15.0\n      thresholds (2000, 10, 10), count0 counts tracked objects" in out
    assert "evidence: derived from the source, not measured" in out


def test_workloads_export_writes_a_template_that_loads_as_the_same_workload(tmp_path, capsys):
    from gcperf.workload.builtin import BUILTIN_WORKLOADS
    from gcperf.workload.specs import load_workload

    out = tmp_path / "web.json"
    assert main(["workloads", "--export", "web", "-o", str(out)]) == 0
    assert load_workload(out) == BUILTIN_WORKLOADS["web"]
    before = out.read_text()
    assert main(["workloads", "--export", "cycles", "-o", str(out)]) == 2  # never over an existing file
    assert out.read_text() == before
    assert "exists already" in capsys.readouterr().err
    assert main(["workloads", "--export", "nope"]) == 2
    assert main(["workloads", "-o", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
def test_shipped_experiments_work_from_any_folder(tmp_path, monkeypatch, capsys):
    """The experiments are package data: listed, loaded and swept outside the checkout."""
    import gcperf

    monkeypatch.chdir(tmp_path)  # no experiments/ here
    assert main(["experiments"]) == 0
    out = capsys.readouterr().out
    for name in ("web-service", "batch-heap", "cycles", "upgrade-3-12-to-3-13", "web-service-long"):
        assert f"{name}  (shipped)" in out
    assert gcperf.load_experiment("web-service").name == "web-service"
    with pytest.raises(gcperf.GcperfError, match="no experiment 'nope' .known: batch-heap, cycles"):
        gcperf.load_experiment("nope")
    assert main(["sweep", "cycles", "--quick", "-j", "1", "--no-plots", "-o", str(tmp_path / "res")]) == 0
    assert (tmp_path / "res" / "aggregate.csv").is_file()


@pytest.mark.parametrize(("stop", "code", "word"), [("interrupt", 130, "interrupted"), ("term", 143, "terminated")])
def test_an_interrupt_wrapped_by_a_compiled_kernel_is_still_an_interrupt(monkeypatch, capsys, stop, code, word):
    """Ctrl-C (or SIGTERM) landing inside a numba kernel comes back as a SystemError whose cause is the
    interrupt: the one line says interrupted, not internal error."""
    import gcperf.cli as cli

    def kernel_interrupted(args):
        try:
            raise KeyboardInterrupt if stop == "interrupt" else cli.Terminated()
        except BaseException as e:
            raise SystemError("CPUDispatcher(<function _tables>) returned a result with an exception set") from e

    monkeypatch.setattr(cli, "_cmd_run", kernel_interrupted)
    assert cli.main(["run"]) == code
    assert capsys.readouterr().err.strip() == f"gcperf: {word}"


@pytest.mark.parametrize("wall", [40.0, "40", None, -1.0, True])
def test_a_calibrated_models_run_says_how_much_faster_it_went_than_the_recorded_program(tmp_path, capsys, wall):
    import re

    from gcperf import Lifetime, Phase, Workload
    from gcperf.workload.specs import workload_to_dict

    wl = Workload("mine", phases=(Phase("p", duration_s=0.05, alloc_rate_per_s=100000.0,
                                        lifetimes=(Lifetime("now", 0.9, "immediate"),
                                                   Lifetime("later", 0.1, "exponential", 0.01))),))
    doc = workload_to_dict(wl)
    doc["provenance"] = {"calibrated_from": "mine.gcrec.json.gz", "program": {"wall_s": wall}}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(doc))
    assert main(["run", "-w", str(path), "--no-memory"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = re.fullmatch(r"\(simulated in ([\d.]+) s: [\d.]+ M allocations per second; the recorded program ran "
                     r"([\d.]+) s: ([\d.]+)x faster\)", last.strip())
    if wall == 40.0:  # a run time in seconds: the comparison, consistent with the time shown
        assert m and m[2] == "40.00"
        t = float(m[1])
        assert 40 / (t + 0.005) - 0.05 <= float(m[3]) <= 40 / max(t - 0.005, 1e-9) + 0.05
    else:  # no number, or not a run time: no comparison (and no error)
        assert m is None and last.strip().startswith("(simulated in") and "recorded" not in last
    # a run of another length than the recording's is not compared with it
    assert main(["run", "-w", str(path), "--no-memory", "-d", "0.02"]) == 0
    assert "recorded program" not in capsys.readouterr().out
