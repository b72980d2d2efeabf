"""The safety primitives: names, output locations, the owned-folder marker, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcperf.errors import GcperfError
from gcperf.safeio import (
    MARKER,
    TEMP_SUFFIX,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    check_name,
    claim,
    clear_owned,
    inspect_output,
    read_marker,
    register,
    require_replaceable,
)

# ------------------------------------------------------------------ names


@pytest.mark.parametrize("name", ["web-service", "a", "x_1.2", "A-b.c_d", "..a", "a.."])
def test_plain_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "../../x", "/etc", "a/b", "a\\b", "~", "a b", "é", None, 5,
                                  "x\n", "a\0b"])
def test_paths_and_odd_values_are_not_names(name):
    with pytest.raises(GcperfError, match="name"):
        check_name(name, "experiment name")


@given(st.text(min_size=1, max_size=30))
def test_a_name_never_leaves_its_folder(text):
    try:
        name = check_name(text)
    except GcperfError:
        return
    # whatever passes stays one component directly below the parent
    assert (Path("/base") / name).parent == Path("/base") and name not in (".", "..")
    assert "/" not in name and "\\" not in name


# ------------------------------------------------------------------ locations


def test_refuses_the_current_directory_its_parents_home_and_system_folders(tmp_path, monkeypatch):
    work = tmp_path / "project" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for p, why in [(".", "current directory"), (str(work), "current directory"), ("..", "parent of the current"),
                   (str(tmp_path), "parent of the current"), ("/", "parent of the current"),
                   ("/proc/self", "under /proc"), ("/sys/kernel", "under /sys"), ("/dev/shm/x", "under /dev"),
                   ("sub2/..", "current directory")]:
        with pytest.raises(GcperfError, match=why):
            inspect_output(p)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(GcperfError, match="home directory"):
        inspect_output(str(home))
    with pytest.raises(GcperfError, match="home directory"):
        inspect_output(str(home / ".." / "home"))
    # a symbolic link to the home directory is the home directory
    (work / "link").symlink_to(home)
    with pytest.raises(GcperfError, match="home directory"):
        inspect_output("link")
    assert inspect_output(str(home / "results")).path == home / "results"
    # a "~" that reaches gcperf is a folder's name (the shell expands the other kind), also after "./"
    assert inspect_output("././~/x").path == work / "~" / "x"


def test_refuses_files_and_empty_paths(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("mine")
    with pytest.raises(GcperfError, match="is a file"):
        inspect_output(f)
    with pytest.raises(GcperfError, match="is a file"):
        inspect_output(f / "sub")
    with pytest.raises(GcperfError, match="must not be empty"):
        inspect_output("  ")
    assert f.read_text() == "mine"


def test_describes_what_is_there_and_creates_nothing(tmp_path):
    p = tmp_path / "a" / "b"
    info = inspect_output(p)
    assert (info.path, info.exists, info.nonempty, info.owned, info.kind) == (p, False, False, False, None)
    assert not (tmp_path / "a").exists()
    claim(p, "run")
    info = inspect_output(p)
    assert info.exists and info.nonempty and info.owned and info.kind == "run"


def test_require_replaceable(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("x")
    for force in (False, True):
        with pytest.raises(GcperfError, match="not made by gcperf"):
            require_replaceable(inspect_output(foreign), "run", force)
    owned = claim(tmp_path / "owned", "run")
    with pytest.raises(GcperfError, match="use --force"):
        require_replaceable(inspect_output(owned), "run", False)
    require_replaceable(inspect_output(owned), "run", True)
    with pytest.raises(GcperfError, match="holds gcperf run results, not sweep"):
        require_replaceable(inspect_output(owned), "sweep", True)
    empty = tmp_path / "empty"
    empty.mkdir()
    require_replaceable(inspect_output(empty), "run", False)


# ------------------------------------------------------------------ marker and clearing


def test_clear_owned_removes_only_gcperfs_files(tmp_path):
    d = claim(tmp_path / "res", "sweep")
    (d / "runs").mkdir()
    (d / "charts").mkdir()
    ours = ["summary.csv", "meta.json", "runs/0123abcd.timeline.csv.gz", "charts/tradeoff.png",
            f".summary.csv.x{TEMP_SUFFIX}", "listed.dat"]
    theirs = ["notes.txt", "runs/my.txt", "charts/mine.png", "other/summary.csv"]
    for rel in ours + theirs:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(rel)
    register(d, ["listed.dat"])
    kept = clear_owned(d, ("summary.csv", "meta.json", "runs/*.csv.gz", "charts/tradeoff.png"))
    for rel in ours:
        assert not (d / rel).exists(), rel
    for rel in theirs:
        assert (d / rel).read_text() == rel
    assert set(kept) == {"notes.txt", "runs/my.txt", "charts/mine.png", "other/"}
    assert (d / MARKER).is_file() and d.is_dir()


def test_clear_owned_removes_emptied_subfolders_and_never_follows_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.csv.gz").write_text("precious")
    d = claim(tmp_path / "res", "sweep")
    (d / "runs").symlink_to(outside)  # a link where gcperf keeps its detail files
    (d / "charts").mkdir()
    (d / "charts" / "tradeoff.png").write_text("x")
    (d / "summary.csv").symlink_to(outside / "a.csv.gz")
    kept = clear_owned(d, ("summary.csv", "runs/*.csv.gz", "charts/tradeoff.png"))
    assert (outside / "a.csv.gz").read_text() == "precious"
    assert not (d / "summary.csv").exists() and not (d / "charts").exists()
    assert kept == ["runs"]


def test_no_marker_no_removal(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "summary.csv").write_text("x")
    with pytest.raises(GcperfError, match="not made by gcperf"):
        clear_owned(d, ("summary.csv",))
    with pytest.raises(GcperfError, match="not made by gcperf"):
        register(d, ["x"])
    (d / MARKER).write_text("{broken")  # an unreadable marker is no marker
    assert read_marker(d) is None
    with pytest.raises(GcperfError):
        clear_owned(d, ("summary.csv",))
    assert (d / "summary.csv").read_text() == "x"


def test_marker_content_and_registering(tmp_path):
    d = claim(tmp_path / "d", "record")
    m = json.loads((d / MARKER).read_text())
    assert m["gcperf_folder"] == 1 and m["kind"] == "record" and m["files"] == []
    register(d, ["a.bin", "sub/b.bin", "a.bin"])
    assert read_marker(d)["files"] == ["a.bin", "sub/b.bin"]
    for bad in ("../x", "/etc/passwd", ""):
        with pytest.raises(GcperfError, match="relative"):
            register(d, [bad])
    claim(d, "record")  # idempotent: the list stays
    assert read_marker(d)["files"] == ["a.bin", "sub/b.bin"]
    with pytest.raises(GcperfError, match="not sweep results"):
        claim(d, "sweep")


# ------------------------------------------------------------------ atomic writes


def test_atomic_write_replaces_whole_files(tmp_path):
    p = tmp_path / "t.txt"
    atomic_write_text(p, "one\n")
    atomic_write_bytes(p, b"two\n")
    assert p.read_bytes() == b"two\n"
    assert oct(p.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(RuntimeError), atomic_writer(p, "w") as f:
        f.write("half")
        raise RuntimeError("crash in the middle")
    assert p.read_bytes() == b"two\n"
    assert [x.name for x in tmp_path.iterdir()] == ["t.txt"]  # no temporary file left


def test_atomic_write_errors_are_one_line(tmp_path):
    with pytest.raises(GcperfError, match="cannot write .*No such file or directory"):
        atomic_write_text(tmp_path / "missing" / "t.txt", "x")


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return os.system(f"mount -t tmpfs -o size={size} tmpfs {path} 2>/dev/null") == 0


def test_disk_full_leaves_the_previous_file(tmp_path):
    mnt = tmp_path / "small"
    if not _tmpfs(mnt, "64k"):
        pytest.skip("needs root to mount a tiny tmpfs")
    try:
        p = mnt / "table.csv"
        atomic_write_text(p, "old\n")
        with pytest.raises(GcperfError, match="No space left on device"):
            atomic_write_bytes(p, b"x" * (1 << 20))
        assert p.read_text() == "old\n"
        assert [x.name for x in mnt.iterdir()] == ["table.csv"]
        os.system(f"mount -o remount,ro {mnt}")
        with pytest.raises(GcperfError, match="cannot be written"):
            inspect_output(mnt / "res")
        with pytest.raises(GcperfError, match="Read-only file system"):
            atomic_write_text(p, "new\n")
        assert p.read_text() == "old\n"
    finally:
        os.system(f"umount {mnt}")
