"""Finding and checking real CPython interpreters (for recording and validating programs).

An interpreter is named by a path (``/usr/bin/python3.12``), a command on ``PATH``
(``python3.12``) or a version (``3.12``: the newest pyenv build of that minor version, else
``python3.12`` on ``PATH``). Whatever names it, it is run once to learn what it is: only
CPython 3.8 and later is accepted.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from .errors import GcperfError

_VERSION_ONLY = re.compile(r"^3\.(\d+)$")

_PROBE = (
    "import sys, platform, json, gc; print(json.dumps({"
    "'implementation': platform.python_implementation(), 'version': platform.python_version(), "
    "'executable': sys.executable, 'thresholds': list(gc.get_threshold()), "
    "'free_threaded': bool(hasattr(sys, '_is_gil_enabled') and not sys._is_gil_enabled())}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A CPython interpreter found on this machine.

    Attributes:
        path: the executable as given or found.
        version: its full version, e.g. ``"3.12.1"``.
        minor: ``"3.12"``.
        thresholds: ``gc.get_threshold()`` of a fresh process.
        free_threaded: whether it runs without the GIL (3.13t and later).
    """

    path: str
    version: str
    minor: str
    thresholds: tuple[int, int, int]
    free_threaded: bool = False


def pyenv_candidates(minor: str) -> list[str]:
    """Executables of pyenv builds of ``minor`` (newest first), then ``python3.X`` on PATH."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = glob.glob(os.path.join(root, "versions", f"{minor}.*", "bin", f"python{minor}"))
    # newest micro version first; release builds only (3.13.0t is a separate build)
    found = [p for p in found if re.search(rf"/versions/{re.escape(minor)}\.\d+/", p)]
    found.sort(key=lambda p: int(re.search(rf"/versions/{re.escape(minor)}\.(\d+)/", p).group(1)),  # type: ignore[union-attr]
               reverse=True)
    which = shutil.which(f"python{minor}")
    if which:
        found.append(which)
    return found


def _run_probe(path: str, flags: list[str]) -> subprocess.CompletedProcess:
    # stdin from /dev/null: a "python" that reads its input must not wait on the terminal
    return subprocess.run([path, *flags, "-c", _PROBE], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, errors="replace")


def _facts(proc: subprocess.CompletedProcess) -> dict | None:
    """The probe's answer (its last line of output), None when it gave none."""
    if proc.returncode != 0:
        return None
    try:
        facts = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None
    return facts if isinstance(facts, dict) else None


@functools.lru_cache(maxsize=64)
def probe(path: str) -> Interpreter:
    """Run ``path`` once and return what it is.

    Raises:
        GcperfError: it cannot be run, or it is not CPython 3.8 or later.
    """
    try:
        proc = _run_probe(path, ["-I"])
        facts = _facts(proc)
        if facts is None and "-I" in proc.stderr:
            # Python 2.7 and 3.3 do not know -I: ask again, to say which version it is
            facts = _facts(_run_probe(path, ["-E", "-s"]))
    except FileNotFoundError:
        raise GcperfError(f"interpreter {path!r} does not exist") from None
    except PermissionError:
        raise GcperfError(f"interpreter {path!r} is not executable") from None
    except OSError as e:
        raise GcperfError(f"cannot run interpreter {path!r}: {e.strerror or e}") from None
    except subprocess.TimeoutExpired:
        raise GcperfError(f"interpreter {path!r} did not answer within 60 s") from None
    if facts is None:
        raise GcperfError(f"{path!r} is not a Python interpreter gcperf can use (it did not run the version check)")
    if facts.get("implementation") != "CPython":
        raise GcperfError(f"{path!r} is {facts.get('implementation')}, not CPython")
    version = str(facts.get("version", ""))
    m = re.match(r"^(\d+)\.(\d+)", version)
    if not m:
        raise GcperfError(f"{path!r} did not give a usable version ({version!r})")
    if (int(m.group(1)), int(m.group(2))) < (3, 8):
        raise GcperfError(f"{path!r} is CPython {version}; gcperf needs CPython 3.8 or later")
    try:
        th = tuple(int(x) for x in facts["thresholds"])
        if len(th) != 3:
            raise ValueError(th)
    except (KeyError, TypeError, ValueError):
        raise GcperfError(f"{path!r} did not give its GC thresholds; it is not an interpreter gcperf can use") from None
    return Interpreter(path, version, f"{m.group(1)}.{m.group(2)}", th, bool(facts.get("free_threaded")))


def resolve(spec: str | None) -> Interpreter:
    """Find the interpreter named by ``spec`` (a path, a command, a version such as 3.12; None: this one).

    Raises:
        GcperfError: nothing by that name, or it is not CPython 3.8+.
    """
    if spec is None or spec == "":
        return probe(sys.executable)
    spec = os.path.expanduser(spec.strip())
    vm = _VERSION_ONLY.match(spec)
    if vm and int(vm.group(1)) < 8:
        raise GcperfError(f"gcperf records CPython 3.8 or later, not {spec}")
    if vm:
        for cand in pyenv_candidates(spec):
            try:
                it = probe(cand)
            except GcperfError:
                continue
            if it.minor == spec and not it.free_threaded:
                return it
        raise GcperfError(f"no CPython {spec} found (looked in pyenv and for python{spec} on PATH)")
    if os.sep in spec or spec.startswith("."):
        return probe(os.path.abspath(spec))
    found = shutil.which(spec)
    if found is None:
        raise GcperfError(f"interpreter {spec!r} not found on PATH")
    return probe(found)


def find(minor: str) -> Interpreter | None:
    """The newest CPython ``minor`` (GIL build) on this machine, or None."""
    try:
        return resolve(minor)
    except GcperfError:
        return None
