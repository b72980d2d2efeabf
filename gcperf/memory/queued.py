"""The memory model behind a queue of calls, run on a thread of its own or in line.

The engine never needs an answer from the memory model to decide what happens
next: the collector's decisions depend on counts, not bytes. So the engine only
*tells* the memory model what happens (allocate these objects, advance to this
position, free these objects) and asks for statistics that it reads at the end
of the run (the footprint at each timeline point and at each collection). The
calls go through a FIFO queue to a worker thread that carries them out in the
order they were made, with the allocator's kernels releasing the GIL: the
allocator works on one core while the engine draws the next chunk of the
workload on another. The model sees exactly the same calls in the same order
as without the thread, so results are identical (tests check it).

Objects the engine will free explicitly (cyclic garbage freed by a collection)
are named by ids that this side hands out and recycles, not by the model's row
ids, which only exist once the worker has run the allocation. The worker maps
ids to rows.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import GcperfError

_STOP = None
# calls in flight at most: the engine waits when the worker is this far behind, which
# bounds the memory held by queued batches
_MAX_QUEUED = 8


# With the thread left to decide (no explicit choice), calls go to the worker while the
# allocation batches are large and run in line while they are small, judged by a moving
# average of objects per batch, looked at every _ADAPT_EVERY batches, with hysteresis.
# A batch is what the engine allocated since its last call (one per collection, or per
# chunk). Small batches are what programs that collect often make (calibrated models,
# ~1-2 k objects): there handing every call to another thread cost more than it saved
# (2026-12-03, 2-core VM, load ~0.8, memory model on: a calibrated cyclic_graph model took
# 2.1 s threaded against 1.2 s in line). The web scenario's batches grow from ~2 k to a
# median of ~18 k as its heap builds up, and the thread saves a third of its run (5.0 s
# against 7.8 s). Which side runs a call never changes its result.
_ADAPT_EVERY = 16
_THREAD_OFF_BELOW = 4096
_THREAD_ON_ABOVE = 12288


def thread_default() -> bool:
    """Whether to run the memory model on a thread of its own: when this process may use two or more CPUs.

    ``GCPERF_MEMORY_THREAD=0`` (or 1) decides instead.
    """
    env = _thread_env()
    if env is not None:
        return env
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return n >= 2


def _thread_env() -> bool | None:
    env = os.environ.get("GCPERF_MEMORY_THREAD")
    if env is not None and env.strip() != "":
        return env.strip() not in ("0", "false", "no", "off")
    return None


class _IdPool:
    """Ids for objects freed explicitly: the lowest fresh ones, and freed ones again (last freed first)."""

    def __init__(self) -> None:
        self._free = np.empty(1024, dtype=np.int64)
        self._top = 0
        self._next = 0

    def take(self, k: int) -> np.ndarray:
        reuse = min(k, self._top)
        ids = np.empty(k, dtype=np.int64)
        ids[:reuse] = self._free[self._top - reuse: self._top][::-1]
        self._top -= reuse
        ids[reuse:] = np.arange(self._next, self._next + k - reuse)
        self._next += k - reuse
        return ids

    def give(self, ids: np.ndarray) -> None:
        need = self._top + len(ids)
        if need > len(self._free):
            grown = np.empty(max(2 * len(self._free), need), dtype=np.int64)
            grown[: self._top] = self._free[: self._top]
            self._free = grown
        self._free[self._top: need] = ids
        self._top = need

    @property
    def issued(self) -> int:
        """How many distinct ids exist (the size of the id -> row table)."""
        return self._next


class QueuedMemory:
    """A :class:`~gcperf.memory.MemoryModel` driven through a FIFO of calls.

    Args:
        model: the memory model; only this object touches it until :meth:`close`.
        threaded: carry the calls out on a worker thread (else at once, in line); None:
            :func:`thread_default`, switching between the two as the allocation batches
            grow and shrink (see ``_ADAPT_EVERY``).
    """

    def __init__(self, model: Any, threaded: bool | None = None) -> None:
        self.model = model
        # adaptive: (batches since the last look, moving average of objects per batch)
        self._adapt: list[float] | None = None
        if threaded is None:
            threaded = thread_default()
            if threaded and _thread_env() is None:
                # in line until the batches grow large enough
                self._adapt = [0, 0.0]
                threaded = False
        self._ids = _IdPool()
        self._id2row = np.full(1024, -1, dtype=np.int64)
        self._results: list[dict | None] = []
        self._errors: list[BaseException] = []  # the first error a call raised (shared with the worker)
        self._closed = False
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._start_worker()

    def _start_worker(self) -> None:
        if self._queue is None:
            self._queue = queue.Queue(maxsize=_MAX_QUEUED)
            # the worker holds no reference to this object between calls: if a run is abandoned
            # (an exception in the engine), collecting this object stops the worker
            self._thread = threading.Thread(target=_work, args=(self._queue, self._errors), name="gcperf-memory",
                                            daemon=True)
            self._thread.start()
            self._finalizer = weakref.finalize(self, self._queue.put, _STOP)
            self._finalizer.atexit = False

    # ------------------------------------------------------------- engine side
    def allocate(self, seqs: np.ndarray, free_seqs: np.ndarray, sizes: np.ndarray, want: np.ndarray) -> np.ndarray:
        """Queue an allocation batch (see ``MemoryModel.allocate``); returns per object its id, or -1
        for objects without ``want`` (the arrays must not change afterwards)."""
        ids = np.full(len(seqs), -1, dtype=np.int64)
        where = np.flatnonzero(want)
        wid = self._ids.take(len(where))
        ids[where] = wid
        self._submit(self._do_allocate, seqs, free_seqs, sizes, want, where, wid)
        ad = self._adapt
        if ad is not None:
            ad[1] += (len(seqs) - ad[1]) / _ADAPT_EVERY
            ad[0] += 1
            if ad[0] >= _ADAPT_EVERY:
                ad[0] = 0
                if self._queue is not None and ad[1] < _THREAD_OFF_BELOW:
                    self._stop_worker()
                elif self._queue is None and ad[1] > _THREAD_ON_ABOVE:
                    self._start_worker()
        return ids

    def advance(self, seq: int) -> None:
        """Queue ``MemoryModel.advance(seq)``."""
        self._submit(self.model.advance, int(seq))

    def free(self, ids: np.ndarray) -> None:
        """Queue the free, in order, of the objects with these ids (ids from :meth:`allocate`)."""
        if len(ids):
            ids = np.array(ids, dtype=np.int64)  # a copy: the caller's array may change
            if ids.min() < 0 or ids.max() >= self._ids.issued:
                raise GcperfError(f"cannot free object ids {ids[(ids < 0) | (ids >= self._ids.issued)][:5].tolist()}: "
                                  "never handed out")
            self._ids.give(ids)
            self._submit(self._do_free, ids)

    def stats_later(self) -> int:
        """Queue a snapshot of ``MemoryModel.stats()``; returns its ticket for :meth:`result`."""
        self._results.append(None)
        t = len(self._results) - 1
        self._submit(self._do_stats, t)
        return t

    def stats_now(self) -> dict:
        """``MemoryModel.stats()`` after every call queued so far (waits for the worker)."""
        if self._queue is None:
            if self._errors:
                raise self._errors[0]
            return self.model.stats()
        done = threading.Event()
        box: list[dict] = []

        def snap() -> None:
            try:
                box.append(self.model.stats())
            finally:
                done.set()

        self._submit(snap)
        while not done.wait(0.5):
            if self._errors:
                break
        if self._errors:
            self.close()  # raises the worker's error
        return box[0]

    def result(self, ticket: int) -> dict:
        """The snapshot of a ticket (after :meth:`close`)."""
        r = self._results[ticket]
        assert r is not None, "result() before close()"
        return r

    @property
    def threaded(self) -> bool:
        """Whether calls still go to the worker thread."""
        return self._queue is not None

    def close(self) -> None:
        """Wait until every queued call is done and stop the worker; raise the error a call raised."""
        if not self._closed:
            self._closed = True
            self._stop_worker()
        if self._errors:
            raise self._errors[0]

    def _stop_worker(self) -> None:
        """Let the worker finish the queued calls and stop; later calls run in line."""
        if self._queue is not None and self._thread is not None:
            self._finalizer.detach()
            self._queue.put(_STOP)
            self._thread.join()
        self._queue = None
        self._thread = None

    def stats(self) -> dict:
        """``MemoryModel.stats()`` now (after :meth:`close`)."""
        self.close()
        return self.model.stats()

    # ------------------------------------------------------------------ worker
    def _submit(self, fn: Callable, *args: Any) -> None:
        if self._closed:
            raise RuntimeError("the memory queue is closed")
        if self._errors:
            self.close()  # raises the worker's error
        if self._queue is None:
            try:
                fn(*args)
            except BaseException as e:
                self._errors.append(e)
                raise
        else:
            self._queue.put((fn, args))

    def _do_allocate(self, seqs, free_seqs, sizes, want, where, wid) -> None:
        rows = self.model.allocate(seqs, free_seqs, sizes, want)
        if len(wid):
            top = int(wid.max()) + 1
            if top > len(self._id2row):
                grown = np.full(max(2 * len(self._id2row), top), -1, dtype=np.int64)
                grown[: len(self._id2row)] = self._id2row
                self._id2row = grown
            self._id2row[wid] = rows[where]

    def _do_free(self, ids) -> None:
        rows = self._id2row[ids]
        self._id2row[ids] = -1
        self.model.free_rows(rows)

    def _do_stats(self, ticket: int) -> None:
        self._results[ticket] = self.model.stats()


def _work(q: queue.Queue, errors: list[BaseException]) -> None:
    """The worker: carry out queued calls in order until told to stop."""
    while True:
        item = q.get()
        if item is _STOP:
            return
        if not errors:  # after an error, calls are dropped (the engine raises it at its next call)
            fn, args = item
            try:
                fn(*args)
            except BaseException as e:  # handed to the engine's thread
                errors.append(e)
            del fn, args
        del item
