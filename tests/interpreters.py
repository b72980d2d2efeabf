"""Find real CPython interpreters to test against (the machine's python3, pyenv builds)."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess

import pytest

from gcperf.cpython.versions import SUPPORTED_VERSIONS


@functools.cache
def find_interpreter(minor: str) -> tuple[str, str] | None:
    """(path, full version) of a CPython ``minor`` (e.g. "3.12") on this machine, or None."""
    roots = [os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))]
    # a free-threaded minor ("3.14t"): pyenv names the build 3.14.7t, its binary python3.14t
    want_ft = minor.endswith("t")
    plain = minor.rstrip("t")
    pattern = f"{plain}.*t" if want_ft else f"{plain}.*"
    candidates = sorted(glob.glob(os.path.join(roots[0], "versions", pattern, "bin", f"python{minor}")), reverse=True)
    which = shutil.which(f"python{minor}")
    if which:
        candidates.append(which)
    for exe in candidates:
        try:
            out = subprocess.run(
                [exe, "-I", "-c", "import sys, platform; print(platform.python_implementation(), sys.version.split()[0], hasattr(sys, '_is_gil_enabled') and not sys._is_gil_enabled())"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        impl, version, free_threaded = out[0], out[1], out[2] == "True"
        if impl == "CPython" and ".".join(version.split(".")[:2]) == plain and free_threaded == want_ft:
            return exe, version + ("t" if want_ft else "")
    return None


def interpreter_params(pymalloc: bool = False):
    """pytest params, one per modelled minor version; absent ones are skipped with a reason.

    ``pymalloc``: the test compares pymalloc's arenas and pools, which the free-threaded builds do
    not have (they allocate objects with mimalloc, which gcperf does not model): those are skipped.
    """
    params = []
    for minor in SUPPORTED_VERSIONS:
        found = find_interpreter(minor)
        marks = [pytest.mark.real_interpreter]
        if pymalloc and minor.endswith("t"):
            marks.append(pytest.mark.skip(reason=f"{minor} allocates objects with mimalloc, not pymalloc"))
        elif found is None:
            marks.append(pytest.mark.skip(reason=f"CPython {minor} is not installed here (checked pyenv and PATH)"))
        params.append(pytest.param(minor, id=f"py{minor}", marks=marks))
    return params


@functools.cache
def can_hide_proc() -> bool:
    """Whether a process can be started with /proc hidden (a private mount namespace: root, or
    unprivileged user namespaces, and util-linux's unshare)."""
    if shutil.which("unshare") is None:
        return False
    try:
        out = subprocess.run(["unshare", "--mount", "--", "sh", "-c",
                              "mount -t tmpfs none /proc && test ! -e /proc/self/status && echo hidden"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() == "hidden"


def run_program(minor: str, source: str, timeout: float = 300, hide_proc: bool = False) -> dict:
    """Run ``source`` with CPython ``minor`` in isolated mode; return its JSON output.

    ``hide_proc`` runs it with an empty /proc (``can_hide_proc``): the free-threaded 3.14t then
    cannot read its resident memory, and its memory gate answers yes, as on a platform without
    the figure (``gc_should_collect_mem_usage``), which leaves every other rule observable.
    """
    import json

    found = find_interpreter(minor)
    assert found is not None
    exe, _ = found
    cmd = [exe, "-I", "-c", source]
    if hide_proc:
        cmd = ["unshare", "--mount", "--", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" "$@"', *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{exe} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)
