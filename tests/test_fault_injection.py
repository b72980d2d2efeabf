"""Fault injection (issue 10.6): generated invalid TOML and JSON documents, output paths, and faults in sweeps.

Every generated input is driven through the command line (``gcperf.cli.main``, in
process) inside a sandbox with a home directory and a project folder of the
user's files, and must end as:

* exit status 2 with exactly one line ``gcperf: error: ...`` on stderr, no
  traceback; or, for an input that is valid after all (some paths), exit 0;
* no file outside the output folder created, changed or removed;
* the output folder untouched, or a valid gcperf folder (marker, meta.json and
  the tables meta.json names, with their hashes).

The default run keeps the example counts small (about 25 s in all); the
``thorough`` hypothesis profile (``HYPOTHESIS_PROFILE=thorough``) and the tests
marked slow run the large version quoted in the README.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gcperf.cli import main
from gcperf.errors import GcperfError
from gcperf.safeio import MARKER
from gcperf.studies.experiment import parse_experiment
from gcperf.studies.sweep import run_task, sweep
from gcperf.workload.model import LIFETIME_KINDS

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def examples(n: int):
    """``n`` examples by default, twenty times more in the thorough profile."""
    return settings(max_examples=n * 20 if THOROUGH else n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ------------------------------------------------------------------ the sandbox


class Sandbox:
    """A fake home with a project folder (the current directory) holding the user's files."""

    def __init__(self, root: Path):
        self.home = root / "home"
        self.project = self.home / "project"
        (self.project / "experiments").mkdir(parents=True)
        (self.project / "data").mkdir()
        (self.project / "src.py").write_text("print('mine')\n")
        (self.project / "data" / "table.csv").write_text("a,b\n1,2\n")
        (self.home / "notes.txt").write_text("my notes\n")
        (self.project / "foreign").mkdir()
        (self.project / "foreign" / "keep.txt").write_text("keep\n")
        (self.project / "link_home").symlink_to(self.home)
        (self.project / "link_cwd").symlink_to(self.project)

    def snapshot(self) -> dict[str, str]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.home):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, self.home)
                out[rel] = ("link:" + os.readlink(p)) if os.path.islink(p) else \
                    hashlib.sha256(Path(p).read_bytes()).hexdigest()
        return out


@pytest.fixture
def sandbox(tmp_path_factory, monkeypatch):
    sb = Sandbox(tmp_path_factory.mktemp("sandbox"))
    monkeypatch.setenv("HOME", str(sb.home))
    monkeypatch.chdir(sb.project)
    return sb


def drive(capsys, sb: Sandbox, args: list[str], out: str | None) -> int:
    """Run the CLI and check the three properties; return the exit status."""
    before = sb.snapshot()
    out_path = (sb.project / out).resolve() if out is not None else None  # "~" is a name: no shell expanded it
    if out_path is not None and not out_path.is_relative_to(sb.home.parent):
        out_path = None  # /proc, /sys, /dev, /: refused (checked below: nothing of the sandbox changed); never read
    out_before = None
    if out_path is not None and out_path.is_dir():
        out_before = {str(p): p.read_bytes() for p in out_path.rglob("*") if p.is_file()}
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("gcperf: error: "), (args, err)
    after = sb.snapshot()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if out_path is not None:
        inside = {k for k in changed if (sb.home / k).resolve().is_relative_to(out_path)
                  or (sb.home / k).parent.resolve().is_relative_to(out_path)}
        outside = changed - inside
    else:
        outside = changed
    assert not outside, (args, sorted(outside))
    if out_path is not None and out_path.is_dir():
        now = {str(p): p.read_bytes() for p in out_path.rglob("*") if p.is_file()}
        if now != out_before:
            check_valid_folder(out_path)
    return code


def check_valid_folder(folder: Path) -> None:
    """A folder gcperf wrote: its marker, a meta.json, and the tables meta.json names with their hashes."""
    assert (folder / MARKER).is_file(), folder
    meta = json.loads((folder / "meta.json").read_text())
    for name, digest in meta.get("tables", {}).items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


# ------------------------------------------------------------------ invalid TOML experiments


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def toml_document(doc: dict) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(k)}]")
            lines += [f"{json.dumps(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


VALID = {"name": "fi", "replicates": 1, "root_seed": 1,
         "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.01, "timeline_points": 5, "memory": False},
         "grid": {"threshold0": [700, 5000]}}

scalars = st.one_of(st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.just(""))
# a value of the wrong type or out of range for each key (never one that is valid)
WRONG = {
    "name": st.one_of(st.sampled_from(["", ".", "..", "../x", "/abs", "a/b", "a b", "x\n"]), st.integers(), st.booleans()),
    "replicates": st.one_of(st.integers(max_value=0), st.integers(min_value=10_001), st.floats(), st.text(),
                            st.booleans()),
    "root_seed": st.one_of(st.integers(max_value=-1), st.floats(), st.text(), st.booleans()),
    "description": st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(), max_size=2)),
    "threshold0": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**31), st.floats(), st.text(),
                            st.booleans()),
    "threshold1": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**31), st.floats(), st.text(),
                            st.booleans()),
    "enabled": st.one_of(st.text(), st.integers(), st.floats(), st.lists(st.text(), min_size=1, max_size=2)),
    "memory": st.one_of(st.text(), st.integers(), st.floats()),
    "version": st.one_of(st.floats(), st.integers(), st.sampled_from(["3.13.99", "3.7", "4.0", "3.13.1rc1", "x", "",
                                                                      "3.12.07", "3.14.2", "3.8.21"])),
    "duration_s": st.one_of(st.floats(max_value=0), st.just(math.inf), st.just(math.nan), st.text(), st.booleans()),
    "timeline_points": st.one_of(st.integers(max_value=-1), st.integers(min_value=1_000_001), st.floats(), st.text(),
                                 st.booleans()),
    "freeze_after": st.one_of(st.integers(), st.booleans(), st.floats(), st.sampled_from(["nope", "serve"])),
    "collect_every_s": st.one_of(st.floats(max_value=-1e-9), st.just(math.nan), st.just(math.inf), st.booleans(),
                                 st.sampled_from(["x", "1", "0.5"])),
    "collect_generation": st.one_of(st.integers(min_value=3), st.integers(max_value=-1), st.booleans(), st.floats(),
                                    st.text()),
    "workload": st.one_of(st.integers(), st.booleans(), st.sampled_from(["nope", "../etc/passwd", ""])),
    "main.cyclic_share": st.one_of(st.floats(min_value=1.0001), st.floats(max_value=-1e-9), st.text(), st.booleans(),
                                   st.just(math.nan)),
    "main.alloc_rate_per_s": st.one_of(st.floats(max_value=0), st.text(), st.booleans()),
    "main.nope": scalars,
    "threshold9": scalars,
}
TOP = ("name", "replicates", "root_seed", "description")


@st.composite
def invalid_experiments(draw) -> dict:
    doc = json.loads(json.dumps(VALID))
    key = draw(st.sampled_from(sorted(WRONG)))
    bad = draw(WRONG[key])
    where = draw(st.sampled_from(["top"] if key in TOP else ["base", "grid", "quick"]))
    if where == "top":
        doc[key] = bad
    elif where == "base":
        doc["base"][key] = bad
    elif where == "grid":
        doc["grid"][key] = [700 if key.startswith("threshold") else doc["base"].get(key, 1), bad][-draw(
            st.integers(1, 2)):] if draw(st.booleans()) else bad
    else:
        doc["quick"] = {key: bad} if draw(st.booleans()) else {"grid": {key: [bad]}}
    # and sometimes a broken structure on top of it
    extra = draw(st.sampled_from([None, "base", "grid", "quick", "unknown"]))
    if extra == "unknown":
        doc[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in VALID and k != "quick"))] = 1
    elif extra is not None and draw(st.booleans()):
        doc[extra] = draw(scalars)
    return doc


@examples(40)
@given(doc=invalid_experiments())
def test_generated_invalid_experiments_are_one_line(sandbox, capsys, doc):
    (sandbox.project / "experiments" / "fi.toml").write_text(toml_document(doc), encoding="utf-8")
    try:
        code = drive(capsys, sandbox, ["sweep", "fi", "-o", "out", "-j", "1", "--no-plots"], "out")
        assert code == 2, doc
        assert not (sandbox.project / "out").exists(), doc
    finally:  # examples share the sandbox: a failure must not leak into the next one (and hide its cause)
        shutil.rmtree(sandbox.project / "out", ignore_errors=True)


@examples(25)
@given(data=st.binary(max_size=200))
def test_generated_garbage_toml_files_are_one_line(sandbox, capsys, data):
    (sandbox.project / "experiments" / "fi.toml").write_bytes(data)
    assert drive(capsys, sandbox, ["sweep", "fi", "-o", "out", "--no-plots"], "out") == 2


# ------------------------------------------------------------------ invalid JSON workloads


VALID_WL = {"name": "w", "refs_per_object": 2.0,
            "phases": [{"name": "a", "duration_s": 0.01, "alloc_rate_per_s": 1e6, "cyclic_share": 0.1,
                        "lifetimes": [{"name": "t", "share": 0.9, "kind": "immediate"},
                                      {"name": "r", "share": 0.1, "kind": "exponential", "scale_s": 0.001}],
                        "sizes": {"sizes_bytes": [64, 128], "weights": [1, 1]}}]}
WL_WRONG = {
    ("name",): st.one_of(st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)),
    ("refs_per_object",): st.one_of(st.text(), st.booleans(), st.floats(max_value=-1e-9), st.none()),
    ("baseline_objects",): st.one_of(st.integers(max_value=-1), st.floats(), st.text(), st.booleans()),
    ("phases",): st.one_of(st.just([]), st.integers(), st.text(), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                   max_size=2)),
    ("phases", 0, "name"): st.one_of(st.integers(), st.just(""), st.booleans(), st.none()),
    ("phases", 0, "duration_s"): st.one_of(st.floats(max_value=0), st.text(), st.booleans(), st.none()),
    ("phases", 0, "alloc_rate_per_s"): st.one_of(st.floats(max_value=0), st.text(), st.booleans()),
    ("phases", 0, "cyclic_share"): st.one_of(st.floats(min_value=1.001), st.floats(max_value=-1e-9), st.text()),
    ("phases", 0, "lifetimes"): st.one_of(st.just([]), st.integers(), st.lists(st.integers(), min_size=1, max_size=2)),
    ("phases", 0, "lifetimes", 0, "kind"): st.one_of(st.text(max_size=8).filter(
        lambda k: k not in LIFETIME_KINDS), st.integers()),
    ("phases", 0, "lifetimes", 0, "share"): st.one_of(st.floats(min_value=1.001), st.text(), st.booleans()),
    ("phases", 0, "sizes", "sizes_bytes"): st.one_of(
        st.lists(st.integers(min_value=2**31), min_size=2, max_size=2), st.lists(st.integers(max_value=0), min_size=2,
                                                                                 max_size=2),
        st.lists(st.text(), min_size=2, max_size=2), st.integers(), st.just([])),
    ("phases", 0, "sizes", "weights"): st.one_of(st.lists(st.text(), min_size=2, max_size=2), st.just([0, 0]),
                                                 st.just([1])),
    ("phases", 0, "typo"): scalars,
    ("typo",): scalars,
}


@st.composite
def invalid_workloads(draw) -> dict:
    doc = json.loads(json.dumps(VALID_WL))
    path = draw(st.sampled_from(sorted(WL_WRONG, key=str)))
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = draw(WL_WRONG[path])
    return doc


@examples(40)
@given(doc=invalid_workloads())
def test_generated_invalid_workloads_are_one_line(sandbox, capsys, doc):
    (sandbox.project / "w.json").write_text(json.dumps(doc))
    try:
        code = drive(capsys, sandbox, ["run", "-w", "./w.json", "--no-memory", "-o", "out"], "out")
        assert code == 2, doc
        assert not (sandbox.project / "out").exists(), doc
    finally:
        shutil.rmtree(sandbox.project / "out", ignore_errors=True)


@examples(25)
@given(data=st.binary(max_size=200))
def test_generated_garbage_json_files_are_one_line(sandbox, capsys, data):
    (sandbox.project / "w.json").write_bytes(data)
    assert drive(capsys, sandbox, ["run", "-w", "./w.json", "--no-memory", "-o", "out"], "out") == 2


# ------------------------------------------------------------------ output paths


PARTS = ["..", ".", "data", "src.py", "foreign", "link_home", "link_cwd", "new", "new2", "x y", "é", "~"]


@st.composite
def output_paths(draw) -> str:
    kind = draw(st.sampled_from(["relative", "relative", "absolute", "home", "system"]))
    parts = draw(st.lists(st.sampled_from(PARTS), min_size=0, max_size=4))
    rel = "/".join(parts)
    if kind == "relative":
        return rel or "."
    if kind == "absolute":
        return os.path.join(os.getcwd(), rel)
    if kind == "home":
        return os.path.join(os.environ["HOME"], rel)
    return draw(st.sampled_from(["/", "/proc/self", "/sys/kernel/x", "/dev/null", "/dev/shm/x", "/etc/hostname"]))


@examples(60)
@given(out=output_paths(), force=st.booleans(), command=st.sampled_from(["run", "sweep"]))
def test_generated_output_paths_write_only_their_folder(sandbox, capsys, out, force, command):
    resolved = Path(out).resolve()
    system = out in ("/", "/proc/self", "/sys/kernel/x", "/dev/null", "/dev/shm/x", "/etc/hostname")
    # never let a generated path reach a real folder outside the sandbox (its parents are refused: kept)
    assume(system or resolved.is_relative_to(sandbox.home.parent) or Path.cwd().is_relative_to(resolved))
    (sandbox.project / "experiments" / "fi.toml").write_text(toml_document(VALID))
    args = (["run", "-w", "cycles", "-d", "0.01", "--no-memory"] if command == "run"
            else ["sweep", "fi", "-j", "1", "--no-plots"]) + ["-o", out] + (["--force"] if force else [])
    code = drive(capsys, sandbox, args, out)
    if code == 0:
        # accepted only where gcperf may write: a new or gcperf's own folder inside the sandbox
        assert resolved.is_relative_to(sandbox.home.parent)
        assert not Path.cwd().is_relative_to(resolved) and not sandbox.home.is_relative_to(resolved)
        check_valid_folder(resolved)
        shutil.rmtree(resolved)  # the next example starts from the same sandbox
    for name in ("src.py", "data/table.csv", "foreign/keep.txt"):
        assert (sandbox.project / name).is_file()


# ------------------------------------------------------------------ faults in the middle of a sweep


SMALL = {"name": "small", "replicates": 2, "root_seed": 9,
         "base": {"workload": "cycles", "version": "3.12", "duration_s": 0.03, "timeline_points": 8, "memory": False},
         "grid": {"threshold0": [700, 2000, 5000]}}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return sweep(parse_experiment(SMALL, "small.toml"), tmp_path_factory.mktemp("whole") / "s", workers=1)


def result_bytes(folder: Path) -> dict[str, bytes]:
    names = ["summary.csv", "aggregate.csv", *(f"runs/{p.name}" for p in sorted((folder / "runs").iterdir()))]
    return {n: (folder / n).read_bytes() for n in names}


class Fault(Exception):
    pass


@examples(12)
@given(at=st.integers(0, 5), kind=st.sampled_from([KeyboardInterrupt, OSError, Fault, MemoryError]))
def test_a_fault_at_any_run_loses_nothing_and_resumes_identically(tmp_path_factory, whole, at, kind):
    out = tmp_path_factory.mktemp("cut") / "s"
    exp = parse_experiment(SMALL, "small.toml")
    calls = []

    def faulty(params, seed):
        if len(calls) == at:
            raise kind("injected")
        calls.append(seed)
        return run_task(params, seed)

    with pytest.raises(kind):
        sweep(exp, out, workers=1, task=faulty)
    log = out / "runs.jsonl"
    assert (len(log.read_text().splitlines()) if log.exists() else 0) == at  # every finished run is on disk
    sweep(exp, out, workers=1)
    assert result_bytes(out) == result_bytes(whole)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True)
    return os.geteuid() == 0 and os.system(f"mount -t tmpfs -o size={size} tmpfs {path} 2>/dev/null") == 0


def test_disk_full_in_the_middle_of_a_sweep_is_one_line_and_resumable(tmp_path, whole, capsys):
    mnt = tmp_path / "small-disk"
    if not _mount_tmpfs(mnt, "48k"):
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        exp = parse_experiment(SMALL, "small.toml")
        with pytest.raises(GcperfError, match="No space left on device"):
            sweep(exp, mnt / "s", workers=1)
        lines = (mnt / "s" / "runs.jsonl").read_text().splitlines()
        assert all(json.loads(x)["run_id"] for x in lines)  # whole lines only
        done = len(lines)
        os.system(f"mount -o remount,size=4m {mnt}")  # space again: the sweep resumes
        notes = []
        sweep(exp, mnt / "s", workers=1, progress=notes.append)
        assert f"resuming: {done} of 6 runs already done" in notes[0] or done == 0
        assert result_bytes(mnt / "s") == result_bytes(whole)
        # a read-only results folder: refused before any work, in one line, nothing changed
        before = {p: p.read_bytes() for p in (mnt / "s").rglob("*") if p.is_file()}
        os.system(f"mount -o remount,ro {mnt}")
        (tmp_path / "small.toml").write_text(toml_document(SMALL))
        code = main(["sweep", str(tmp_path / "small.toml"), "-o", str(mnt / "s2"), "--no-plots"])
        assert code == 2 and "cannot be written" in capsys.readouterr().err
        code = main(["run", "-w", "cycles", "-d", "0.01", "--no-memory", "-o", str(mnt / "s"), "--force"])
        assert code == 2
        assert {p: p.read_bytes() for p in (mnt / "s").rglob("*") if p.is_file()} == before
    finally:
        os.system(f"umount {mnt}")


@pytest.mark.slow
@pytest.mark.parametrize("size_kib", [24, 32, 40, 56, 64, 80, 96, 128])
def test_disk_full_at_many_points(tmp_path, whole, size_kib):
    mnt = tmp_path / "disk"
    if not _mount_tmpfs(mnt, f"{size_kib}k"):
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        exp = parse_experiment(SMALL, "small.toml")
        try:
            sweep(exp, mnt / "s", workers=1)
        except GcperfError as e:
            assert "No space left on device" in str(e) or "cannot" in str(e)
        os.system(f"mount -o remount,size=8m {mnt}")
        sweep(exp, mnt / "s", workers=1)
        assert result_bytes(mnt / "s") == result_bytes(whole)
        summ = pd.read_csv(mnt / "s" / "summary.csv")
        assert len(summ) == 6
    finally:
        os.system(f"umount {mnt}")


@pytest.mark.slow
def test_random_interruptions_many_times(tmp_path, whole):
    rng = random.Random(2026)
    exp = parse_experiment(SMALL, "small.toml")
    for trial in range(20):
        out = tmp_path / f"t{trial}"
        stops = 0
        while True:
            budget = rng.randint(0, 3)
            calls = []

            def faulty(params, seed, budget=budget, calls=calls):
                if len(calls) == budget:
                    raise KeyboardInterrupt
                calls.append(seed)
                return run_task(params, seed)

            try:
                sweep(exp, out, workers=1, task=faulty)
                break
            except KeyboardInterrupt:
                stops += 1
                log = out / "runs.jsonl"
                if log.exists() and rng.random() < 0.5:  # and a cut-off line, as a kill mid-write leaves
                    with open(log, "ab") as f:
                        f.write(b'{"run_id": "x", "po')
        assert result_bytes(out) == result_bytes(whole), (trial, stops)
