"""The memory model's compiled kernels: compiled (or loaded from numba's cache) once per process, and said so.

The first run on a machine compiles the allocator's kernels: 11.4 s in a fresh install on the
2-core VM with the other core idle (2026-12-04), 18-22 s with it busy; later runs load them
from numba's on-disk cache in about a second.
:func:`ensure_kernels` does that work up front, and when it takes longer than
:data:`ANNOUNCE_AFTER_S` it says so through the ``gcperf`` logger (a WARNING, which
Python prints to stderr even when the caller configured no logging), so a run
from the Python API is not silent for half a minute either.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("gcperf")

ANNOUNCE_AFTER_S = 2.0
_ready = False
_lock = threading.Lock()


def _warm_up(version: str) -> None:
    import numpy as np

    from ..memory import MemoryModel, geometry_for
    from ..workload.model import Phase
    from ..workload.stream import _SizeTable

    m = MemoryModel(geometry_for(version.rstrip("t")))  # a free-threaded build: its minor's geometry
    one = np.zeros(1, dtype=np.int64)
    m.allocate(one, one + 1, np.array([[64, 0, 0, 0]], dtype=np.int32), np.zeros(1, dtype=bool))  # the stream's sizes
    m.advance(2)
    m.stats()
    _SizeTable(Phase()).draw(np.random.default_rng(0), 1)  # the size draw kernel


def ensure_kernels(version: str = "3.13") -> float:
    """Compile or load the memory model's kernels if this process has not yet; return the seconds it took.

    Logs a warning naming the compilation when it takes more than
    :data:`ANNOUNCE_AFTER_S` (the first run on a machine), before it ends.

    Raises:
        Exception: whatever the compilation raised (a broken numba installation).
    """
    global _ready
    with _lock:
        if _ready:
            return 0.0
        errors: list[BaseException] = []

        def work() -> None:
            try:
                _warm_up(version)
            except BaseException as e:  # handed to the caller's thread
                errors.append(e)

        t0 = time.perf_counter()
        worker = threading.Thread(target=work, name="gcperf-kernels", daemon=True)
        worker.start()
        worker.join(ANNOUNCE_AFTER_S)
        if worker.is_alive():
            log.warning("gcperf: compiling the memory model's kernels (10-25 s, once: later runs load them from "
                        "numba's cache)")
            worker.join()
        if errors:
            raise errors[0]
        _ready = True
        elapsed = time.perf_counter() - t0
        if elapsed > ANNOUNCE_AFTER_S:
            log.info("kernels ready after %.1f s", elapsed)
        return elapsed
