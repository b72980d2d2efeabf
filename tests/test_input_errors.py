"""Every bad input is one line on stderr and exit status 2 (issue 10.3), never a traceback nor a silent coercion."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gcperf import GCSettings
from gcperf.cli import main
from gcperf.cpython.versions import KNOWN_PATCHES, preset
from gcperf.errors import GcperfError
from gcperf.studies.executors import check_scheduler
from gcperf.studies.experiment import parse_experiment
from gcperf.studies.recommend import Constraints, load_results, recommend
from gcperf.studies.sweep import sweep

REPO = Path(__file__).resolve().parent.parent
BASE = {"name": "t", "replicates": 1,
        "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.05, "timeline_points": 5, "memory": False}}


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gcperf: error: ") and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ thresholds: what gc.set_threshold accepts


THRESHOLD_PROBES = [0, 1, 700, 2**31 - 1, 2**31, 2**32, 2**63, 10**30, -1, -(2**31), -(2**31) - 1]


@pytest.mark.real_interpreter
def test_thresholds_mirror_the_real_gc_set_threshold():
    code = ("import gc, json, sys\nout = []\n"
            "for v in json.loads(sys.argv[1]):\n"
            "    try:\n        gc.set_threshold(v, 10, 10); out.append(True)\n"
            "    except (OverflowError, ValueError):\n        out.append(False)\n"
            "print(json.dumps(out))")
    real = json.loads(subprocess.run([sys.executable, "-c", code, json.dumps(THRESHOLD_PROBES)], capture_output=True,
                                     text=True, check=True).stdout)
    for v, ok in zip(THRESHOLD_PROBES, real, strict=True):
        try:
            GCSettings(thresholds=(v, 10, 10))
            ours = True
        except GcperfError as e:
            ours = False
            assert "0..2147483647" in str(e)
        # the same upper limit as CPython; negative values, which CPython takes, gcperf refuses
        assert ours == (ok and v >= 0), (v, ok, ours)
    assert real[THRESHOLD_PROBES.index(2**31 - 1)] and not real[THRESHOLD_PROBES.index(2**31)]


@pytest.mark.parametrize("bad", [700.9, "700", True, None, [700]])
def test_thresholds_are_never_converted(bad):
    with pytest.raises(GcperfError, match=r"threshold0 must be an integer in 0..2147483647, got"):
        GCSettings(thresholds=(bad, 10, 10))


# ------------------------------------------------------------------ versions name releases


@pytest.mark.parametrize("v", ["3.13.99", "3.8.21", "3.12.99", "3.14.50"])
def test_versions_beyond_the_known_releases_are_refused(v):
    with pytest.raises(GcperfError, match=rf"version {v} is not a CPython release .*; for a newer one, give 3\.\d+"):
        preset(v)


@pytest.mark.parametrize("v, message", [("3.13.07", "must look like"), ("3.13.1rc1", "must look like"),
                                        (3.13, "must be a string"), ("3.7", "not modelled"), ("", "must look like")])
def test_malformed_versions_are_refused(v, message):
    with pytest.raises(GcperfError, match=message):
        preset(v)


def test_every_known_release_is_accepted():
    for minor, last in KNOWN_PATCHES.items():
        for micro in range(last + 1):
            plain, t = minor.rstrip("t"), "t" if minor.endswith("t") else ""
            pre = preset(f"{plain}.{micro}{t}")
            assert (pre.minor, pre.free_threaded) == (plain, bool(t))
            # 3.14.0-3.14.4 ran the incremental collector (3.14.0's own rules, then 3.14.1's)
            want = ("3.14.0" if micro == 0 else "3.14.1") if (minor == "3.14" and micro < 5) else ""
            assert pre.incremental == want


def test_free_threaded_versions():
    assert preset("3.14.2t").ft_live_counts_all is False  # before gh-142531 (3.14.3)
    assert preset("3.14.3t").ft_live_counts_all is True
    assert preset("3.14t").ft_memory_gate and not preset("3.13t").ft_memory_gate
    for bad in ("3.12t", "3.14.10t", "3.13tt", "3.13.t"):
        with pytest.raises(GcperfError):
            preset(bad)


# ------------------------------------------------------------------ strict experiment typing


@pytest.mark.parametrize(
    "change, message",
    [
        ({"grid": {"enabled": ["no"]}}, "enabled must be true or false, got 'no'"),
        ({"grid": {"memory": ["false"]}}, "memory must be true or false, got 'false'"),
        ({"base": {**BASE["base"], "memory": "false"}}, "memory must be true or false, got 'false'"),
        ({"grid": {"threshold0": [700.9]}}, r"threshold0 must be an integer in 0..2147483647, got 700.9"),
        ({"grid": {"threshold0": ["abc"]}}, "threshold0 must be an integer in 0..2147483647, got 'abc'"),
        ({"grid": {"threshold0": [10**30]}}, r"threshold0 must be in 0..2147483647 \(gc.set_threshold"),
        ({"grid": {"version": [3.13]}}, "version must be a string"),
        ({"grid": {"version": ["3.13.99"]}}, "version 3.13.99 is not a CPython release"),
        ({"grid": {"freeze_after": [False]}}, "freeze_after must be a phase name"),
        ({"grid": {"collect_every_s": ["1"]}}, "collect_every_s must be a number > 0, got '1'"),
        ({"grid": {"collect_generation": [True]}}, "collect_generation must be 0, 1 or 2, got True"),
        ({"grid": {"collect_generation": [0.0]}}, "collect_generation must be 0, 1 or 2, got 0.0"),  # 0.0 == 0
        ({"grid": {"timeline_points": [2.0]}}, r"timeline_points must be an integer in 0..1000000, got 2.0"),
        ({"grid": {"duration_s": ["1"]}}, "duration_s must be a number > 0"),
        ({"grid": {"main.cyclic_share": ["0.1"]}}, "cyclic_share must be a finite number, got '0.1'"),
        ({"grid": {"main.cyclic_share": [True]}}, "cyclic_share must be a finite number, got True"),
        ({"grid": {"workload": [5]}}, "workload must be the name of a built-in workload or a JSON workload file, got 5"),
        ({"base": 5}, r"\[base\] must be a table"),
        ({"grid": [1, 2]}, r"\[grid\] must be a table"),
        ({"quick": {"grid": 5}}, r"\[quick\]: grid must be a table"),
        ({"quick": {"replicates": "2"}}, r"\[quick\]: replicates must be an integer in 1..10000, got '2'"),
        ({"replicates": 2.0}, "replicates must be an integer in 1..10000, got 2.0"),
        ({"replicates": 10**6}, "replicates must be an integer in 1..10000"),
        ({"root_seed": -1}, "root_seed must be an integer in 0.."),
        ({"description": 5}, "description must be a string, got 5"),
        ({"grid": {"threshold0": list(range(1001)), "threshold1": list(range(1001))}},
         "1002001 runs; at most 1000000 are allowed"),
    ],
)
def test_wrong_types_and_ranges_in_an_experiment_are_named(change, message):
    with pytest.raises(GcperfError, match=message):
        parse_experiment({**BASE, **change}, "x.toml")


# ------------------------------------------------------------------ workload JSON files


@pytest.mark.parametrize(
    "doc, message",
    [
        (b'\xff\xfe{"phases": []}', "is not UTF-8 text"),
        (b'{"name": 5, "phases": [{"name": "a"}]}', "workload name must be a string, got 5"),
        (b'{"phases": [{"name": "a", "sizes": {"sizes_bytes": [2147483648], "weights": [1]}}]}',
         r"sizes_bytes entries must be integers in 1..2147483647, got 2147483648"),
        (b'{"phases": [{"name": "a", "lifetimes": [{"name": 3, "kind": "immediate"}]}]}',
         "lifetime name must be a string, got 3"),
        (b'{"phases": [{"name": "a", "sizes": {"sizes_bytes": 5, "weights": [1]}}]}', "phase 'a' sizes"),
        (b'{"phases": [{"name": "a", "duration_s": "1"}]}', "duration_s must be a finite number, got '1'"),
    ],
)
def test_bad_workload_files_are_one_line(tmp_path, capsys, doc, message):
    f = tmp_path / "w.json"
    f.write_bytes(doc)
    assert main(["run", "-w", str(f), "-d", "0.01", "--no-memory"]) == 2
    assert message in one_line(capsys)


# ------------------------------------------------------------------ CLI regressions of the issue


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "-t", str(10**30)], "threshold0 must be in 0..2147483647"),
        (["run", "-t", "700", str(2**31)], "threshold1 must be in 0..2147483647"),
        (["run", "-V", "3.13.99"], "version 3.13.99 is not a CPython release"),
        (["sweep", "x", "--scheduler", "nonsense"], "--scheduler must look like tcp://HOST:PORT"),
        (["sweep", "x", "--scheduler", "tcp://host:99999"], "--scheduler must look like"),
        (["sweep", "x", "--scheduler", "http://host:8786"], "--scheduler must look like"),
        (["sweep", "x", "-j", str(10**20)], "expected an integer in 1..256"),
        (["sweep", "x", "-j", "0"], "expected an integer in 1..256"),
        (["run", "-o", ""], "output folder must not be empty"),  # was silently no output
        (["run", "-V", ""], "version must look like"),  # was silently the default
        (["recommend", str(REPO / "results" / "web-service"), "-V", ""], "version  is not in this sweep"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, args, message):
    assert main(args) == 2
    assert message in one_line(capsys)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://sched.example:1", "inproc://x"])
def test_good_scheduler_addresses_pass(address):
    assert check_scheduler(address) == address


def test_a_closed_pipe_ends_quietly():
    r, w = os.pipe()
    os.close(r)  # the reader is gone before gcperf writes a byte (`gcperf ... | head -0`)
    p = subprocess.run([sys.executable, "-m", "gcperf", "recommend", str(REPO / "results" / "web-service")],
                       stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w)
    assert p.returncode == 141 and p.stderr == "", p.stderr


def test_unexpected_errors_are_one_line_with_a_hint_and_debug_shows_the_traceback(monkeypatch, capsys):
    import gcperf.cli as cli

    def boom(args):
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(cli, "_cmd_versions", boom)
    assert main(["versions"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gcperf: internal error: RuntimeError: something nobody expected")
    assert "re-run with --debug" in err[0]
    with pytest.raises(RuntimeError):
        main(["versions", "--debug"])
    with pytest.raises(RuntimeError):
        main(["--debug", "versions"])


# ------------------------------------------------------------------ results folders: detail files, text columns


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    spec = {**BASE, "name": "small", "replicates": 2,
            "base": {**BASE["base"], "memory": True, "duration_s": 0.1, "timeline_points": 20},
            "grid": {"threshold0": [700, 5000], "freeze_after": ["", "main"]}}
    return sweep(parse_experiment(spec, "small.toml"), tmp_path_factory.mktemp("s") / "small", workers=1)


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated"])
def test_missing_or_corrupt_detail_files_are_one_line(tmp_path, small, capsys, damage):
    out = tmp_path / "c"
    shutil.copytree(small, out)
    for victim in (out / "runs").glob("*.timeline.csv.gz"):  # whichever runs recommend and plot read
        if damage == "missing":
            victim.unlink()
        elif damage == "garbage":
            victim.write_bytes(b"not gzip at all")
        else:
            victim.write_bytes(gzip.compress(b"time_s,footprint_mb\n" + b"1,2\n" * 100)[:-20])
    assert main(["recommend", str(out)]) == 2
    line = one_line(capsys)
    assert ".timeline.csv.gz" in line and ("missing" in line or "corrupt" in line)
    assert main(["plot", str(out)]) == 2
    one_line(capsys)


def test_empty_text_cells_read_back_as_empty_text(small):
    agg, summ, _ = load_results(small)
    assert set(agg["param_freeze_after"]) == {"", "main"} and set(summ["freeze_after"]) == {"", "main"}
    assert set(agg["version"]) == {"3.12"} and agg["version"].map(type).eq(str).all()
    assert recommend(small, Constraints()).replicates == 2


def test_the_batch_heap_heatmap_no_longer_averages_freeze_and_no_freeze():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gcperf.studies.charts import _pick_axes, heatmap_plot

    agg, _, _ = load_results(REPO / "results" / "batch-heap")
    x, y = _pick_axes(agg)
    fig, ax = plt.subplots()  # its own axes: another test's figure may still be the current one
    heatmap_plot(agg, x, y, "gc_share_mean", ax=ax)
    plt.close(fig)
    cells = [t.get_text() for t in ax.texts]
    # 4 x 2 cells of one grid combination each (averaging freeze and no-freeze gave 4 x 2 of two each)
    assert len(cells) == 8 and "threshold2=" in ax.get_title() or "freeze_after" in (ax.get_xlabel(), ax.get_ylabel())


def test_a_recording_with_too_few_collections_says_what_the_collector_cost(tmp_path, capsys):
    """numeric_loop on 3.13.0 collected 5 times in 3.3 s: the error says so, with its pauses, rather
    than only asking for a longer run (a user learns that the collector barely matters there)."""
    from gcperf.calibration.calibrate import fit_pauses
    from gcperf.recording.format import load_recording

    path = Path(__file__).resolve().parent.parent / "results" / "validation" / "data" / "3.13.0" / "numeric_loop.gcrec.json.gz"
    rec = load_recording(path)
    pauses_ms = 1e3 * rec.collections["pause_s"].sum()
    with pytest.raises(GcperfError) as e:
        fit_pauses(rec)
    msg = str(e.value)
    assert "only 3 of its 5 collections have measured sizes" in msg
    assert f"collected 5 times in its {rec.wall_s:.1f} s run, pausing {pauses_ms:.1f} ms" in msg
    assert "next to nothing" in msg and "\n" not in msg
    out = tmp_path / "model.json"
    assert main(["calibrate", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "collected 5 times" in err[0]
    assert not out.exists()
