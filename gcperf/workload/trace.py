"""Exact traces: an explicit sequence of allocations, frees and GC calls.

A trace is the deterministic workload form. Every event gets a position (seq) in
program order; objects are identified by their allocation slot. Build one with
:class:`TraceBuilder`, or from a :class:`gcperf.program.Program`, which can also
render the same behaviour as a real Python program.

Semantics of each event (CPYTHON_GC.md §1-2):

* ``alloc``: one counted GC allocation (+1 to count0). By default it is followed
  by an eval-breaker check (the end of the CALL that allocated: where 3.12+ runs
  a scheduled collection); inside :meth:`TraceBuilder.c_call` it is not.
* ``free``: the object is deallocated by reference counting (-1, saturating).
* ``unreachable``: a group of objects that reference each other loses its last
  outside reference; they stay until a collection that holds all of them.
* ``checkpoint``: an eval-breaker check (loop back-edge, end of a call).
* ``collect g``, ``disable``, ``enable``, ``freeze``, ``unfreeze``,
  ``set_threshold``: the ``gc`` module calls, each followed by a checkpoint.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..cpython.heap import FLAG_ATOMIC, FLAG_CYCLIC, FLAG_UNTRACKED, NEVER
from ..errors import GcperfError

KINDS = {"tracked": 0, "atomic": int(FLAG_ATOMIC), "untracked": int(FLAG_UNTRACKED)}
OPS = ("collect", "disable", "enable", "freeze", "unfreeze", "set_threshold")


@dataclass
class Trace:
    """The arrays of an exact trace.

    Attributes:
        alloc_seq: seq of each allocation (increasing).
        death: seq of each object's free or loss of reachability, or NEVER.
        flags: kind bits per object (``heap.FLAG_*``).
        head: per object, the slot of the oldest member of its cycle (cyclic only).
        checkpoints: sorted seqs of eval-breaker checks.
        ops: ``(seq, name, args)`` of gc calls, sorted by seq.
        alloc_interval_s: mutator seconds per allocation (for timestamps only).
        name: label.
    """

    alloc_seq: np.ndarray
    death: np.ndarray
    flags: np.ndarray
    head: np.ndarray
    checkpoints: np.ndarray
    ops: list[tuple[int, str, tuple]] = field(default_factory=list)
    alloc_interval_s: float = 1e-7
    name: str = "trace"
    sizes: np.ndarray | None = None  # int32 (n, k): each object's allocations in bytes, 0 = none

    @property
    def n(self) -> int:
        """Number of allocations."""
        return len(self.alloc_seq)


class TraceBuilder:
    """Build a :class:`Trace` event by event, or in vectorised blocks.

    Example:
        >>> b = TraceBuilder()
        >>> keep = b.alloc_many(1000)          # kept for ever
        >>> t = b.alloc(); b.free(t)           # a temporary
        >>> b.collect(0)
        >>> trace = b.build()
    """

    def __init__(self, alloc_interval_s: float = 1e-7, name: str = "trace"):
        self.seq = 0
        self.n = 0
        self._alloc_seq: list[np.ndarray] = []
        self._flags: list[np.ndarray] = []
        self._deaths: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []  # ids, seqs, heads (cyclic)
        self._checkpoints: list[np.ndarray] = []
        self._resolved: list[tuple[int, np.ndarray, np.ndarray]] = []  # (first id, death, head)
        self._sizes: list[np.ndarray] = []  # per block of allocations, int32 (count, k)
        self._has_sizes = False
        self.ops: list[tuple[int, str, tuple]] = []
        self._in_c_call = False
        self.alloc_interval_s = alloc_interval_s
        self.name = name

    def _take(self, k: int = 1) -> int:
        s = self.seq
        self.seq += k
        return s

    # -- allocations -----------------------------------------------------------
    def alloc(self, kind: str = "tracked", sizes: tuple[int, ...] | None = None) -> int:
        """Allocate one object; returns its id (slot).

        ``sizes`` are the bytes of its allocations for the memory model: the object
        itself, then its payload (non-GC contents freed with it).
        """
        return int(self.alloc_many(1, kind, sizes)[0])

    def alloc_many(self, count: int, kind: str = "tracked", sizes: tuple[int, ...] | None = None) -> np.ndarray:
        """Allocate ``count`` objects one after the other; returns their ids."""
        self._add_sizes(count, sizes)
        if kind not in KINDS:
            raise GcperfError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if count < 0:
            raise GcperfError(f"count must be >= 0, got {count}")
        step = 1 if self._in_c_call else 2
        base = self._take(step * count)
        seqs = base + step * np.arange(count, dtype=np.int64)
        self._alloc_seq.append(seqs)
        if not self._in_c_call:
            self._checkpoints.append(seqs + 1)
        self._flags.append(np.full(count, KINDS[kind], dtype=np.uint8))
        ids = np.arange(self.n, self.n + count, dtype=np.int64)
        self.n += count
        return ids

    def _add_sizes(self, count: int, sizes) -> None:
        if sizes is None:
            self._sizes.append(np.zeros((count, 1), dtype=np.int32))
            return
        arr = np.asarray(sizes, dtype=np.int32)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (count, len(arr)))
        if arr.shape[0] != count or (arr < 0).any() or (arr[:, 0] <= 0).any():
            raise GcperfError("sizes must give a positive object size (and payload sizes >= 0) per object")
        self._sizes.append(np.ascontiguousarray(arr))
        self._has_sizes = True

    def append_arrays(self, alloc_seq: np.ndarray, flags: np.ndarray, death: np.ndarray, head: np.ndarray,
                      checkpoints: np.ndarray, ops: list[tuple[int, str, tuple]], width: int,
                      sizes: np.ndarray | None = None) -> None:
        """Append a block of events whose positions are already resolved.

        ``alloc_seq``, ``death``, ``checkpoints`` and op seqs are absolute and must lie
        in ``[self.seq, self.seq + width)``; ``flags`` already carries the cyclic bit
        and ``head`` the cycle heads of the block's own objects.
        """
        lo, hi = self.seq, self.seq + width
        for name, arr in (("alloc_seq", alloc_seq), ("checkpoints", checkpoints)):
            if len(arr) and (arr.min() < lo or arr.max() >= hi):
                raise GcperfError(f"{name} outside the block")
        self._add_sizes(len(alloc_seq), sizes)
        self._alloc_seq.append(np.asarray(alloc_seq, dtype=np.int64))
        self._flags.append(np.asarray(flags, dtype=np.uint8))
        self._resolved.append((self.n, np.asarray(death, dtype=np.int64), np.asarray(head, dtype=np.int64)))
        self._checkpoints.append(np.asarray(checkpoints, dtype=np.int64))
        self.ops.extend(sorted(ops))
        self.n += len(alloc_seq)
        self.seq = hi

    # -- deaths ------------------------------------------------------------------
    def free(self, obj: int) -> None:
        """The object is freed by reference counting now."""
        self.free_many(np.array([obj], dtype=np.int64))

    def free_many(self, objs) -> None:
        """Free several objects now, one after the other."""
        ids = np.asarray(objs, dtype=np.int64)
        seqs = self._take(len(ids)) + np.arange(len(ids), dtype=np.int64)
        self._deaths.append((ids, seqs, None))

    def unreachable(self, objs) -> None:
        """The objects, which form one reference cycle, lose their last outside reference now."""
        ids = np.asarray(objs, dtype=np.int64)
        if len(ids) == 0:
            return
        s = self._take()
        self._deaths.append((ids, np.full(len(ids), s, dtype=np.int64), np.full(len(ids), ids.min())))

    # -- checkpoints and gc calls --------------------------------------------------
    def checkpoint(self) -> None:
        """An eval-breaker check (loop back-edge, end of a call)."""
        self._checkpoints.append(np.array([self._take()], dtype=np.int64))

    def _op(self, name: str, args: tuple = ()) -> None:
        self.ops.append((self._take(), name, args))
        self.checkpoint()

    def collect(self, generation: int = 2) -> None:
        """``gc.collect(generation)``."""
        if generation not in (0, 1, 2):
            raise GcperfError(f"generation must be 0, 1 or 2, got {generation!r}")
        self._op("collect", (int(generation),))

    def disable(self) -> None:
        """``gc.disable()``."""
        self._op("disable")

    def enable(self) -> None:
        """``gc.enable()``."""
        self._op("enable")

    def freeze(self) -> None:
        """``gc.freeze()``."""
        self._op("freeze")

    def unfreeze(self) -> None:
        """``gc.unfreeze()``."""
        self._op("unfreeze")

    def set_threshold(self, t0: int, t1: int | None = None, t2: int | None = None) -> None:
        """``gc.set_threshold(t0[, t1[, t2]])``: thresholds not given keep their values, as in CPython."""
        from ..cpython.policy import check_threshold_values

        given = (t0,) if t1 is None else (t0, t1) if t2 is None else (t0, t1, t2)
        if t1 is None and t2 is not None:
            raise GcperfError("set_threshold: give t1 to give t2 (gc.set_threshold takes them in order)")
        self._op("set_threshold", check_threshold_values(given))

    @contextmanager
    def c_call(self):
        """Allocations inside one C call: no eval-breaker check until it returns."""
        if self._in_c_call:
            raise GcperfError("c_call blocks cannot nest")
        self._in_c_call = True
        try:
            yield self
        finally:
            self._in_c_call = False
            self.checkpoint()

    # -- result --------------------------------------------------------------------
    def build(self) -> Trace:
        """Check the events and return the trace.

        Raises:
            GcperfError: no allocation, an object freed twice or before it exists.
        """
        alloc_seq = np.concatenate(self._alloc_seq) if self._alloc_seq else np.empty(0, dtype=np.int64)
        flags = np.concatenate(self._flags) if self._flags else np.empty(0, dtype=np.uint8)
        death = np.full(self.n, NEVER, dtype=np.int64)
        head = np.full(self.n, NEVER, dtype=np.int64)
        for first, d, h in self._resolved:
            death[first : first + len(d)] = d
            head[first : first + len(h)] = h
        for ids, seqs, heads in self._deaths:
            if len(ids) and (ids.min() < 0 or ids.max() >= self.n):
                raise GcperfError(f"free of an unknown object id {int(ids.max()) if ids.max() >= self.n else int(ids.min())}")
            if len(ids) and (death[ids] != NEVER).any():
                bad = int(ids[(death[ids] != NEVER)][0])
                raise GcperfError(f"object {bad} dies twice")
            if len(np.unique(ids)) != len(ids):
                raise GcperfError("an object is listed twice in one free/unreachable event")
            if len(ids) and (seqs <= alloc_seq[ids]).any():
                bad = int(ids[seqs <= alloc_seq[ids]][0])
                raise GcperfError(f"object {bad} dies before it is allocated")
            death[ids] = seqs
            if heads is not None:
                if (flags[ids] != 0).any():
                    raise GcperfError("only tracked objects can form cycles")
                flags[ids] |= FLAG_CYCLIC
                head[ids] = heads
        cks = np.sort(np.concatenate(self._checkpoints)) if self._checkpoints else np.empty(0, dtype=np.int64)
        ops = sorted(self.ops, key=lambda op: op[0])
        sizes = None
        if self._has_sizes:
            k = max(a.shape[1] for a in self._sizes)
            sizes = np.zeros((self.n, k), dtype=np.int32)
            i = 0
            for a in self._sizes:
                sizes[i : i + len(a), : a.shape[1]] = a
                i += len(a)
            if (sizes[:, 0] <= 0).any():
                raise GcperfError("give sizes for every allocation of a trace, or for none")
        return Trace(alloc_seq, death, flags, head, cks, ops, self.alloc_interval_s, self.name, sizes)
