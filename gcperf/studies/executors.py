"""Where a sweep's runs execute: in process, on a local process pool, or on Dask.

Each executor is a generator of ``(task, result)`` pairs in completion order.
Tasks are submitted in bounded batches (at most :data:`IN_FLIGHT_PER_WORKER`
per worker in flight), so an 800 000-run grid costs no more memory or start-up
than a small one. Local worker processes never outlive the sweep: each asks the
kernel to kill it when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``),
ignores Ctrl-C (the parent decides), and the parent kills them when it stops
early for any reason (an exception, SIGINT, SIGTERM turned into an exception by
the CLI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import GcperfError

IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted ahead per worker: enough to keep workers busy, few enough to bound memory."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere nothing).

    Exits at once when the parent is already gone (it died before the request).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def _worker_init(parent_pid: int, close_fd: tuple[int, int, int] | None) -> None:
    # (the death signal is tied to the thread that forked this worker: ProcessPoolExecutor forks
    # its workers from the thread that submits, here the sweep's, which lives as long as the pool)
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    # a pool of worker processes already keeps the CPUs busy: a memory-model thread per run
    # would only make the runs contend (results are the same either way)
    os.environ["GCPERF_MEMORY_THREAD"] = "0"
    if close_fd is not None:
        fd, dev, ino = close_fd
        # an inherited copy of the folder's lock: dropped, so that only the parent holds it (checked to be
        # that very file: with a start method that does not fork, the number is another file or none)
        with contextlib.suppress(OSError):
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (dev, ino):
                os.close(fd)


def serial(tasks: list, fn: Callable) -> Iterator[tuple[Any, Any]]:
    """Run tasks one after the other in this process."""
    for t in tasks:
        yield t, fn(t.params, t.seed)


def processes(tasks: list, fn: Callable, workers: int, lock_fd: int | None = None) -> Iterator[tuple[Any, Any]]:
    """Run tasks on a local pool of ``workers`` processes, at most ``IN_FLIGHT_PER_WORKER`` each in flight.

    Args:
        tasks: objects with ``params`` and ``seed``.
        fn: ``fn(params, seed)``, picklable.
        workers: processes (two or more).
        lock_fd: a file descriptor the workers must not keep open (the folder lock).
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    close = None
    if lock_fd is not None:
        st = os.fstat(lock_fd)
        close = (lock_fd, st.st_dev, st.st_ino)
    ex = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(), close))
    pending: dict = {}
    queue = iter(tasks)
    limit = workers * IN_FLIGHT_PER_WORKER
    try:
        while True:
            for t in queue:
                pending[ex.submit(fn, t.params, t.seed)] = t
                if len(pending) >= limit:
                    break
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield pending.pop(f), f.result()
    except BaseException:
        # stopped early (error, Ctrl-C, SIGTERM, the consumer gone): no worker may outlive us, nor finish
        # a run nobody will record
        for p in list(getattr(ex, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                p.kill()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def dask(tasks: list, fn: Callable, address: str, batch: int = 256) -> Iterator[tuple[Any, Any]]:
    """Run tasks on a Dask cluster, ``batch`` at a time in flight.

    Raises:
        GcperfError: Dask is not installed or the scheduler cannot be reached.
    """
    check_scheduler(address)
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise GcperfError("--scheduler needs Dask: pip install 'gcperf[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, ValueError, TypeError) as e:
        raise GcperfError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        queue = iter(tasks)
        index: dict = {}

        def submit(n: int) -> list:
            futs = []
            for t in queue:
                f = client.submit(fn, t.params, t.seed, pure=False)
                index[f.key] = t
                futs.append(f)
                if len(futs) >= n:
                    break
            return futs

        ac = as_completed(submit(batch))
        for f in ac:
            yield index.pop(f.key), f.result()
            for g in submit(1):
                ac.add(g)


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler(address: object) -> str:
    """Check the form of a Dask scheduler address (``tcp://host:8786``, ``host:8786``) before any work.

    Raises:
        GcperfError: not of that form, or a port outside 1..65535.
    """
    from urllib.parse import urlsplit

    text = address if isinstance(address, str) else ""
    url = text if "://" in text else f"tcp://{text}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (parts is None or parts.scheme not in _SCHEMES or not parts.hostname or parts.path not in ("", "/")
            or parts.query or parts.fragment or (parts.scheme != "inproc" and port is None)
            or (port is not None and not 1 <= port <= 65535)):
        raise GcperfError(f"--scheduler must look like tcp://HOST:PORT (port 1..65535; schemes "
                          f"{', '.join(_SCHEMES)}), got {address!r}")
    return text


def choose(tasks: list, fn: Callable, workers: int | None, scheduler: str | None,
           lock_fd: int | None = None) -> Iterable[tuple[Any, Any]]:
    """The executor for ``workers`` (None: all cores; 1: in process) or a Dask ``scheduler``."""
    if scheduler:
        return dask(tasks, fn, scheduler)
    n = workers if workers is not None else os.cpu_count() or 1
    if n <= 1 or len(tasks) <= 1:
        return serial(tasks, fn)
    return processes(tasks, fn, n, lock_fd)
