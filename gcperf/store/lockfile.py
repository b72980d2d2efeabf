"""One writer per results folder: a lock file that names its holder.

``FolderLock`` holds an exclusive ``flock`` on ``<folder>/.gcperf-lock.json``
and writes into it who holds it (pid, host, start time, command). The kernel
drops the ``flock`` when the holder dies, however it dies, so a lock left by a
dead process never blocks anyone: it is taken over, with a message naming the
dead holder. A live holder is named in the error.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import GcperfError

LOCK_NAME = ".gcperf-lock.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _holder_text(info: dict) -> str:
    return (f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('started_utc', '?')} "
            f"({' '.join(map(str, info.get('command', []))) or 'no command recorded'})")


class FolderLock:
    """An exclusive lock on a results folder, held by one process at a time.

    Use as a context manager; :meth:`acquire` and :meth:`release` also work.

    Args:
        folder: the results folder (it must exist).
        command: the command line, recorded for whoever finds the folder locked.
        say: receives the message when a stale lock is taken over.
    """

    def __init__(self, folder: str | os.PathLike[str], command: list[str] | None = None,
                 say: Callable[[str], None] | None = None):
        self.path = Path(folder) / LOCK_NAME
        self.command = list(command) if command is not None else list(sys.argv)
        self.say = say or (lambda _m: None)
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock.

        Raises:
            GcperfError: another live process holds it (named in the message), or
                the lock file cannot be created.
        """
        for _ in range(10):  # retried only when the file was replaced under us
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise GcperfError(f"cannot create the lock file {str(self.path)!r}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = self._busy(fd)
                os.close(fd)
                raise GcperfError(message) from None
            # the holder before us may have removed the file between our open and our lock
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            old = self._read(fd)
            if old.get("pid") is not None:
                dead = not (old.get("host") == socket.gethostname() and _pid_alive(int(old["pid"])))
                self.say(f"taking over the lock of {self.path.parent} left by {_holder_text(old)}"
                         + (" (that process is gone)" if dead else " (it no longer holds it)"))
            info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                    "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
            data = (json.dumps(info, sort_keys=True) + "\n").encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                os.fsync(fd)
            except OSError as e:
                os.close(fd)
                raise GcperfError(f"cannot write the lock file {str(self.path)!r}: {e.strerror}") from None
            self.fd = fd
            return self
        raise GcperfError(f"cannot lock {self.path.parent}: its lock file keeps being replaced")

    def check_free(self) -> None:
        """Raise when a live process holds the lock; create nothing (a read-only look, done before any work).

        Raises:
            GcperfError: another live process holds the lock (named in the message).
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return  # no lock file (or none readable): nobody to name
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GcperfError(self._busy(fd)) from None
        finally:
            os.close(fd)

    def _busy(self, fd: int) -> str:
        return (f"{self.path.parent} is in use by another gcperf: {_holder_text(self._read(fd))}; "
                "wait for it to finish or stop it")

    @staticmethod
    def _read(fd: int) -> dict:
        try:
            data = json.loads(os.pread(fd, 65536, 0).decode("utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def release(self) -> None:
        """Remove the lock file and drop the lock (harmless when not held)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # removed while still locked: nobody can lock the old file meanwhile
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
