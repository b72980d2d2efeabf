"""Sweeps survive faults (issue 10.2): cut-off and corrupt log lines, two sweeps at once, signals, stale tables."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from gcperf.errors import GcperfError
from gcperf.safeio import claim
from gcperf.store.lockfile import LOCK_NAME, FolderLock
from gcperf.store.runlog import append_run, read_runs
from gcperf.studies.experiment import load_experiment, parse_experiment
from gcperf.studies.recommend import Constraints, load_results, recommend
from gcperf.studies.sweep import run_task, sweep

REPO = Path(__file__).resolve().parent.parent

SMALL = {"name": "small", "replicates": 2, "root_seed": 11,
         "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.1, "timeline_points": 10, "memory": False},
         "grid": {"threshold0": [700, 2000, 10000]}}


def rec(i: int) -> dict:
    return {"run_id": f"r{i}", "point": i, "replicate": 0, "seed": 1, "params": {}, "summary": {"x": i}}


def result_bytes(folder: Path) -> dict[str, bytes]:
    """The files a finished sweep's results consist of (not its log of when runs finished, nor meta.json)."""
    names = ["summary.csv", "aggregate.csv", *(f"runs/{p.name}" for p in sorted((folder / "runs").iterdir()))]
    return {n: (folder / n).read_bytes() for n in names}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sweep(parse_experiment(SMALL, "small.toml"), tmp_path_factory.mktemp("ref") / "small", workers=1)


# ------------------------------------------------------------------ runs.jsonl


def test_cut_off_last_line_is_truncated_before_appending(tmp_path):
    log = tmp_path / "runs.jsonl"
    append_run(log, rec(1))
    with open(log, "ab") as f:
        f.write(b'{"run_id": "r2", "summ')  # the process died in the middle of this write
    notes = []
    got = read_runs(log, say=notes.append)
    assert list(got.runs) == ["r1"] and got.truncated_bytes == 22 and "cut-off" in notes[0]
    append_run(log, rec(3))
    lines = log.read_text().splitlines()
    assert [json.loads(x)["run_id"] for x in lines] == ["r1", "r3"]  # nothing glued onto a partial line
    assert list(read_runs(log).runs) == ["r1", "r3"]


def test_corrupt_lines_stop_the_sweep_unless_repaired_and_each_is_named(tmp_path):
    log = tmp_path / "runs.jsonl"
    for i in range(4):
        append_run(log, rec(i))
    lines = log.read_bytes().split(b"\n")
    lines[1] = b"\xff\xfe not utf-8"
    lines[2] = b'{"run_id": 5}'
    log.write_bytes(b"\n".join(lines))
    before = log.read_bytes()
    with pytest.raises(GcperfError, match=r"line 2 is corrupt \(not UTF-8\); use --repair"):
        read_runs(log)
    assert log.read_bytes() == before  # refused: nothing changed
    notes = []
    got = read_runs(log, repair=True, say=notes.append)
    assert list(got.runs) == ["r0", "r3"]
    assert got.dropped == ((2, "not UTF-8"), (3, "'run_id' missing or not a str"))
    assert [n.split(": ", 1)[1] for n in notes] == ["dropped line 2 (not UTF-8); its run is redone",
                                                    "dropped line 3 ('run_id' missing or not a str); its run is redone"]
    assert list(read_runs(log).runs) == ["r0", "r3"]  # the file was rewritten without them


def test_sweep_repair_redoes_only_the_dropped_runs(tmp_path, reference):
    exp = parse_experiment(SMALL, "small.toml")
    out = tmp_path / "s"
    sweep(exp, out, workers=1)
    lines = (out / "runs.jsonl").read_text().splitlines()
    lines[2] = "#" + lines[2][1:]
    (out / "runs.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(GcperfError, match="line 3 is corrupt"):
        sweep(exp, out, workers=1)
    calls, notes = [], []

    def counting(params, seed):
        calls.append(seed)
        return run_task(params, seed)

    sweep(exp, out, workers=1, repair=True, task=counting, progress=notes.append)
    assert len(calls) == 1 and any("dropped line 3" in n for n in notes)
    assert result_bytes(out) == result_bytes(reference)


# ------------------------------------------------------------------ lock


def test_a_second_sweep_into_the_same_folder_is_refused_naming_the_first(tmp_path):
    exp = parse_experiment(SMALL, "small.toml")
    out = claim(tmp_path / "s", "sweep")  # as a sweep does before it locks
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gcperf.store.lockfile import FolderLock;"
         f"l = FolderLock({str(out)!r}, ['gcperf', 'sweep', 'small']).acquire(); print('held', flush=True);"
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GcperfError, match=rf"in use by another gcperf: pid {holder.pid} on host .* since .*"
                                              r"\(gcperf sweep small\)"):
            sweep(exp, out, workers=1)
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock is stale and is taken over, with a message
    notes = []
    sweep(exp, out, workers=1, progress=notes.append)
    assert any(f"taking over the lock of {out} left by pid {holder.pid}" in n and "gone" in n for n in notes), notes
    assert not (out / LOCK_NAME).exists()


def test_lock_is_exclusive_within_a_process_too(tmp_path):
    with FolderLock(tmp_path, ["a"]), pytest.raises(GcperfError, match="in use by another gcperf"):
        FolderLock(tmp_path, ["b"]).acquire()
    with FolderLock(tmp_path, ["c"]):  # released: free again
        assert json.loads((tmp_path / LOCK_NAME).read_text())["command"] == ["c"]


# ------------------------------------------------------------------ tables against meta.json


def test_tables_are_checked_against_meta_before_use(tmp_path, reference):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    load_results(out)
    agg = (out / "aggregate.csv").read_bytes()
    (out / "aggregate.csv").write_bytes(agg[: agg.rfind(b"\n", 0, len(agg) - 1) + 1])  # last row cut off
    with pytest.raises(GcperfError, match="aggregate.csv is not the table the sweep wrote"):
        recommend(out, Constraints())
    (out / "aggregate.csv").write_bytes(agg)
    meta = json.loads((out / "meta.json").read_text())
    del meta["tables"]  # a folder from before the hashes: the run counts still catch a truncation
    (out / "meta.json").write_text(json.dumps(meta))
    (out / "summary.csv").write_text("\n".join((out / "summary.csv").read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(GcperfError, match=r"tables hold 5 runs \(summary.csv\) and 6 \(aggregate.csv\), meta.json "
                                          r"says 6"):
        load_results(out)
    # resuming rewrites the tables from runs.jsonl
    sweep(parse_experiment(SMALL, "small.toml"), out, workers=1)
    assert recommend(out, Constraints()).replicates == 2


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "results").iterdir() if (p / "meta.json").is_file()))
def test_committed_results_match_their_meta(name):
    agg, summ, meta = load_results(REPO / "results" / name)
    assert len(summ) == meta["runs"] and set(meta["tables"]) == {"summary.csv", "aggregate.csv"}


# ------------------------------------------------------------------ signals


SIG_TOML = """
name = "sig"
replicates = 3
root_seed = 5
[base]
workload = "cycles"
version = "3.12"
duration_s = 0.25
timeline_points = 10
memory = false
[grid]
threshold0 = [700, 1000, 2000, 5000]
"""


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task may end while we look
            out |= {int(x) for x in (task / "children").read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _start_sweep(cwd: Path, out: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gcperf", "sweep", "sig", "-o", out, "-j", "2", "--no-plots"],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _kill_mid_sweep(cwd: Path, out: str, sig: int, after_runs: int) -> tuple[set[int], str]:
    p = _start_sweep(cwd, out)
    seen = 0
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while seen < after_runs and time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        seen += line.startswith("[")
        workers |= _children(p.pid)
    workers |= _children(p.pid)
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=30)  # the pipes close only once every holder of them is gone
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("the sweep's pipes stayed open after its parent was signalled") from None
    return workers, err


def _sig_project(tmp_path: Path) -> Path:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "sig.toml").write_text(SIG_TOML)
    return tmp_path


def _check_signal(tmp_path: Path, sig: int, after_runs: int) -> None:
    cwd = _sig_project(tmp_path)
    workers, err = _kill_mid_sweep(cwd, "cut", sig, after_runs)
    assert workers, "the sweep had no worker processes to check"
    time.sleep(0.5)
    assert not [w for w in workers if _alive(w)], f"workers left behind after signal {sig}"
    if sig != signal.SIGKILL:
        assert "Traceback" not in err and err.strip().splitlines()[-1] in ("gcperf: terminated", "gcperf: interrupted")
    done = len((cwd / "cut" / "runs.jsonl").read_text().splitlines())
    assert done >= after_runs  # every run reported finished is on disk
    resumed = subprocess.run([sys.executable, "-m", "gcperf", "sweep", "sig", "-o", "cut", "-j", "2", "--no-plots"],
                             cwd=cwd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done} of 12 runs already done" in resumed.stderr
    whole = sweep(load_experiment("sig", cwd / "experiments"), cwd / "whole", workers=1)  # uninterrupted
    assert result_bytes(cwd / "cut") == result_bytes(whole)


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
def test_sigterm_leaves_no_workers_and_the_resumed_results_are_identical(tmp_path):
    _check_signal(tmp_path, signal.SIGTERM, after_runs=3)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("seed", range(3))
def test_signals_at_random_points_leave_no_workers_and_lose_nothing(tmp_path, sig, seed):
    _check_signal(tmp_path, sig, after_runs=random.Random(seed * 31 + sig).randint(1, 10))


@pytest.mark.slow
def test_sigkill_of_the_parent_kills_its_workers(tmp_path):
    cwd = _sig_project(tmp_path)
    workers, _ = _kill_mid_sweep(cwd, "k", signal.SIGKILL, after_runs=2)
    time.sleep(0.5)
    assert workers and not [w for w in workers if _alive(w)]
    # and the killed sweep's lock does not block the next one
    p = subprocess.run([sys.executable, "-m", "gcperf", "sweep", "sig", "-o", "k", "-j", "2", "--no-plots"],
                       cwd=cwd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "taking over the lock" in p.stderr, p.stderr
    assert len(pd.read_csv(cwd / "k" / "summary.csv")) == 12


def test_workers_die_with_their_parent():
    # the mechanism on its own: a child that asked for PR_SET_PDEATHSIG dies when its parent is killed
    code = ("import os, sys, time; from gcperf.studies.executors import die_with_parent\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    die_with_parent(os.getppid()); time.sleep(60); os._exit(0)\n"
            "print(pid, flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    child = int(parent.stdout.readline())
    time.sleep(0.3)
    assert _alive(child)
    parent.kill()
    parent.wait()
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)
