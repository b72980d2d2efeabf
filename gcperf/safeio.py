"""Safe output: where gcperf may write, what it may delete, and how it writes.

Every command that writes a results folder goes through this module, so that
gcperf deletes only what it wrote and a crash never leaves a half-written file:

* :func:`check_name` - an experiment (or other) name is a name, never a path.
* :func:`inspect_output` - resolve an output path and refuse, *before any work*,
  the current directory or a parent of it, the home directory (or a parent of
  it), ``/``, ``/proc``, ``/sys`` and ``/dev``, a path that is a file, and a
  location that cannot be written.
* :func:`claim` - create the folder if needed and put gcperf's marker file
  (:data:`MARKER`) in it: a folder carrying the marker is one gcperf made.
* :func:`clear_owned` - remove, from a folder carrying the marker, only the files
  gcperf wrote there: those listed in the marker (:func:`register`) and those
  whose names the caller recognises as its own (patterns such as ``"*.csv"`` or
  ``"runs/*.csv.gz"``). Any other file stays, and so does the folder.
* :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_writer` -
  temporary file in the same folder, flush, fsync, ``os.replace``: a reader sees
  the old file or the new one, never a part of one.

Every function raises :class:`~gcperf.errors.GcperfError` (one line, fit for the
user) for a refused location or a failed write (disk full, read-only file
system, permission), never a bare ``OSError``.

A new command that writes a results folder calls, in this order::

    folder = inspect_output(path)                     # before any work
    if folder.nonempty and not folder.owned: refuse   # see require_replaceable
    ... do the work ...
    claim(folder.path, kind="mycommand")
    if force: clear_owned(folder.path, MY_PATTERNS)
    atomic_write_text(folder.path / "table.csv", text)
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fnmatch
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import GcperfError

MARKER = ".gcperf-folder.json"
"""Name of the marker file gcperf writes into every folder it creates or fills."""

TEMP_SUFFIX = ".gcperf-tmp"
"""Suffix of the temporary files of atomic writes (recognised as gcperf's own, so leftovers of a crash are cleared)."""

_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
# kernel pseudo-file systems and device nodes: never a place for results
_SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_name(name: object, what: str = "name") -> str:
    """Check that ``name`` is a plain name (``[A-Za-z0-9._-]+``, not ``.`` or ``..``).

    Names become folder names (``results/<name>``), so a name must never be a
    path: ``../../x`` or ``/home/me`` would point gcperf anywhere.

    Args:
        name: the value to check.
        what: what it is, for the message (``"experiment name"``).

    Returns:
        The name.

    Raises:
        GcperfError: not a string, empty, ``.``/``..``, or other characters.
    """
    if not isinstance(name, str) or not name:
        raise GcperfError(f"{what} must be a non-empty string, got {name!r}")
    if name in (".", "..") or not _NAME_RE.fullmatch(name):
        raise GcperfError(f"{what} must be a name of letters, digits, '.', '_' and '-' (not a path), got {name!r}")
    return name


@dataclass(frozen=True)
class OutputFolder:
    """An output location that passed :func:`inspect_output`.

    Attributes:
        path: the resolved, absolute path.
        exists: the folder exists.
        nonempty: it exists and holds at least one entry.
        owned: it carries gcperf's marker (:data:`MARKER`).
        kind: the kind recorded in the marker (``"sweep"``, ``"run"``, ...), or None.
    """

    path: Path
    exists: bool
    nonempty: bool
    owned: bool
    kind: str | None


def _forbidden(p: Path) -> str | None:
    cwd = Path.cwd().resolve()
    if p == cwd:
        return "is the current directory"
    if cwd.is_relative_to(p):
        return "is a parent of the current directory"
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no home directory known
        home = None
    if home is not None and home != Path("/"):
        if p == home:
            return "is the home directory"
        if home.is_relative_to(p):
            return "is a parent of the home directory"
    for root in _SYSTEM_ROOTS:
        if p == root or p.is_relative_to(root):
            return f"is under {root}"
    return None


def inspect_output(path: str | os.PathLike[str], what: str = "output folder") -> OutputFolder:
    """Resolve and check an output location before any work is done.

    Nothing is created or changed.

    Args:
        path: the folder the user named.
        what: what it is, for messages.

    Returns:
        What is there now.

    Raises:
        GcperfError: the path is empty, is the current directory or a parent of it,
            the home directory or a parent of it, ``/``, under ``/proc``, ``/sys`` or
            ``/dev``, an existing file (or other non-folder), or its nearest existing
            folder cannot be written.
    """
    text = os.fspath(path)
    if not text.strip():
        raise GcperfError(f"{what} must not be empty")
    try:
        # no expanduser: the shell expands ~, and pathlib would expand the "~" of "./~/x" too, since it
        # drops the "./" first (found by the fault-injection tests: "././~/~" wrote into $HOME/~)
        p = Path(text).resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise GcperfError(f"{what} {text!r} cannot be resolved: {e}") from None
    why = _forbidden(p)
    if why:
        raise GcperfError(f"{what} {text!r} {why}; gcperf writes results only into a folder of their own")
    if p.exists() and not p.is_dir():
        raise GcperfError(f"{what} {text!r} is a file, not a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise GcperfError(f"{what} {text!r} cannot be created: {str(probe)!r} is a file")
    # access(2) also reports a read-only file system (EROFS), even to root
    if not os.access(probe, os.W_OK | os.X_OK):
        raise GcperfError(f"{what} {text!r} cannot be written: no write permission on {str(probe)!r} "
                          "(or a read-only file system)")
    if not p.exists():
        return OutputFolder(p, False, False, False, None)
    try:
        nonempty = any(p.iterdir())
    except OSError as e:
        raise GcperfError(f"{what} {text!r} cannot be read: {e.strerror}") from None
    marker = read_marker(p)
    return OutputFolder(p, True, nonempty, marker is not None, marker.get("kind") if marker else None)


def require_replaceable(folder: OutputFolder, kind: str, force: bool, what: str = "output folder") -> None:
    """Refuse to write into a non-empty folder unless gcperf made it for ``kind`` and ``force`` is set.

    Args:
        folder: from :func:`inspect_output`.
        kind: the kind of folder the caller writes (``"run"``, ``"sweep"``).
        force: the user asked to replace gcperf's earlier results.

    Raises:
        GcperfError: the folder holds files and is not gcperf's (whatever ``force``
            says), is gcperf's folder of another kind, or ``force`` is false.
    """
    if not folder.nonempty:
        return
    if not folder.owned:
        raise GcperfError(f"{what} {str(folder.path)!r} is not empty and was not made by gcperf (no {MARKER}); "
                          "gcperf neither writes into it nor deletes anything in it: choose a new folder")
    if folder.kind != kind:
        raise GcperfError(f"{what} {str(folder.path)!r} holds gcperf {folder.kind} results, not {kind} results; "
                          "choose another folder")
    if not force:
        raise GcperfError(f"{what} {str(folder.path)!r} holds earlier {kind} results; use --force to replace them "
                          "(only the files gcperf wrote are removed)")


def read_marker(folder: str | os.PathLike[str]) -> dict | None:
    """The marker of a folder gcperf made, or None when it has none (or an unreadable one).

    Never raises: an unreadable marker counts as no marker (nothing is deleted then).
    """
    p = Path(folder) / MARKER
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("gcperf_folder") != 1 or not isinstance(data.get("kind"), str):
        return None
    files = data.get("files", [])
    data["files"] = [f for f in files if isinstance(f, str)] if isinstance(files, list) else []
    return data


def claim(folder: str | os.PathLike[str], kind: str) -> Path:
    """Create ``folder`` (and its parents) if needed and mark it as gcperf's.

    A folder already marked keeps its marker (and the files listed in it).

    Args:
        folder: a location checked with :func:`inspect_output`.
        kind: what gcperf writes there (``"run"``, ``"sweep"``, ...).

    Returns:
        The folder.

    Raises:
        GcperfError: the folder cannot be created or the marker cannot be written,
            or the folder is marked for another kind.
    """
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GcperfError(f"cannot create folder {str(p)!r}: {e.strerror}") from None
    marker = read_marker(p)
    if marker is not None:
        if marker["kind"] != kind:
            raise GcperfError(f"folder {str(p)!r} holds gcperf {marker['kind']} results, not {kind} results")
        return p
    from . import __version__

    data = {"gcperf_folder": 1, "kind": kind, "gcperf_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "files": []}
    atomic_write_text(p / MARKER, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return p


def register(folder: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Record, in the folder's marker, files gcperf wrote there that no pattern of the caller recognises.

    :func:`clear_owned` removes them too. Names are relative to the folder.

    Raises:
        GcperfError: the folder carries no marker, a name is not relative to the
            folder, or the marker cannot be rewritten.
    """
    p = Path(folder)
    marker = read_marker(p)
    if marker is None:
        raise GcperfError(f"folder {str(p)!r} was not made by gcperf (no {MARKER})")
    for n in names:
        rel = Path(n)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise GcperfError(f"file name {n!r} must be relative to the folder")
        if rel.as_posix() not in marker["files"]:
            marker["files"].append(rel.as_posix())
    atomic_write_text(p / MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n")


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    # a pattern matches a path relative to the folder, component by component ("runs/*.gz" never
    # matches "runs/x/y.gz")
    parts = rel.split("/")
    for pat in patterns:
        pp = pat.split("/")
        if len(pp) == len(parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pp, strict=True)):
            return True
    return False


def clear_owned(folder: str | os.PathLike[str], patterns: Iterable[str]) -> list[str]:
    """Remove the files gcperf wrote into a folder it made; leave everything else.

    Removed: files listed in the marker, files whose path relative to the folder
    matches one of ``patterns`` (``fnmatch`` per path component), and leftover
    temporary files of atomic writes. Symbolic links are removed as links, never
    followed; sub-folders are entered only when a pattern or listed name reaches
    into them, and removed only when that leaves them empty. The folder itself and
    its marker stay.

    Args:
        folder: a folder carrying gcperf's marker.
        patterns: the names the caller writes there, e.g. ``("summary.csv", "runs/*.csv.gz")``.

    Returns:
        The relative paths of the files kept (not gcperf's), sorted.

    Raises:
        GcperfError: the folder carries no marker, or a file cannot be removed.
    """
    root = Path(folder)
    marker = read_marker(root)
    if marker is None:
        raise GcperfError(f"folder {str(root)!r} was not made by gcperf (no {MARKER}); nothing removed")
    pats = [*patterns, *marker["files"], f"*{TEMP_SUFFIX}"]
    subdirs = {pat.split("/")[0] for pat in pats if "/" in pat}
    pats += [f"{d}/*{TEMP_SUFFIX}" for d in subdirs]
    kept: list[str] = []
    try:
        for entry in sorted(root.iterdir()):
            rel = entry.name
            if rel == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                if rel not in subdirs:
                    kept.append(rel + "/")
                    continue
                left = False
                for sub in sorted(entry.iterdir()):
                    srel = f"{rel}/{sub.name}"
                    if (sub.is_file() or sub.is_symlink()) and _matches(srel, pats):
                        sub.unlink()
                    else:
                        kept.append(srel + ("/" if sub.is_dir() and not sub.is_symlink() else ""))
                        left = True
                if not left:
                    entry.rmdir()
            elif _matches(rel, pats):
                entry.unlink()
            else:
                kept.append(rel)
    except OSError as e:
        raise GcperfError(f"cannot clear {str(root)!r}: {e.strerror} ({e.filename})") from None
    return kept


# ------------------------------------------------------------------ atomic writes


def _fsync_dir(folder: Path) -> None:
    # the rename itself is durable only once the folder's entry is on disk
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some file systems refuse to open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` at once.

    The temporary file is flushed and fsync'ed before ``os.replace``; on any error
    (or an exception in the ``with`` body) it is removed and ``path`` is unchanged.

    Args:
        path: the file to write.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8, ``\\n`` newlines).

    Raises:
        GcperfError: the file cannot be written (disk full, read-only file system,
            permission); the message names the file and the cause.
    """
    target = Path(path)
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as e:
        raise GcperfError(f"cannot write {str(target)!r}: {e.strerror}") from None
    try:
        f: IO
        f = os.fdopen(fd, "w", encoding="utf-8", newline="\n") if mode == "w" else os.fdopen(fd, "wb")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are ordinary files
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise GcperfError(f"cannot write {str(target)!r}: {e.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`).

    Raises:
        GcperfError: the file cannot be written.
    """
    with atomic_writer(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_writer`).

    Raises:
        GcperfError: the file cannot be written.
    """
    atomic_write_bytes(path, text.encode("utf-8"))
