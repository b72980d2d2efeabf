"""Collector policies: when to collect and which generation.

A policy owns the collector's counters and decides; the heap (``heap.py``) owns
the objects and does the collecting; the engine wires the two together. The
generational policy below is CPython 3.8-3.13 and 3.14.5+ as described in
../shared/CPYTHON_GC.md sections 1-2 and 8:

* ``count0`` is a net, saturating counter: +1 per counted GC allocation, -1 per
  GC deallocation (whatever the object's generation), never below 0;
* a collection is due when ``count0 > threshold0`` (strict), the collector is
  enabled and ``threshold0 != 0``;
* the generation is chosen oldest first (``count[g] > threshold[g]``), a full
  collection being vetoed while ``long_lived_pending < long_lived_total // 4``;
* collecting generation g bumps ``count[g+1]`` and zeroes ``count[0..g]``; a
  generation-1 collection adds its survivors to ``long_lived_pending``, a full
  one resets it and sets ``long_lived_total`` to its survivors.

The saturating counter is a Lindley recursion, ``y[k] = max(0, y[k-1] + 1 - d[k])``
(one allocation, then ``d[k]`` frees, per allocation slot), so runs of slots with
no collection are evaluated with two numpy scans instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import GcperfError

_SEARCH_MIN_WINDOW = 4096


def lindley(inc: np.ndarray, y0: int) -> np.ndarray:
    """Saturating counter after each step: ``y[k] = max(0, y[k-1] + inc[k])``.

    Args:
        inc: net change of each step (``1 - frees`` per allocation slot), int64.
        y0: counter value before the first step, ``>= 0``.

    Returns:
        int64 array of the counter after each step.
    """
    s = np.cumsum(inc)
    s += y0
    low = np.minimum.accumulate(s)
    np.minimum(low, 0, out=low)
    s -= low
    return s


class CounterScan:
    """Fast queries on count0 over one chunk, which has no collection in between.

    With prefix sums ``S[k] = inc[0] + ... + inc[k]`` the saturating counter
    started at slot ``pos`` with value ``y0`` is, after slot k,
    ``y[k] = S[k] - min(S[pos-1] - y0, min(S[pos..k]))`` (Lindley's formula).
    Keeping the maximum and minimum of S per block of ``BLOCK`` slots lets a
    search for the first ``y[k] >= threshold`` skip every block where even its
    largest S minus the smallest running minimum stays below the threshold, so
    long quiet stretches cost one comparison per block instead of several numpy
    passes per slot.

    Args:
        inc: per-slot net change of count0 (``1 - frees``) of the chunk.
    """

    BLOCK = 1024

    def __init__(self, inc: np.ndarray):
        n = len(inc)
        self.n = n
        self.S = np.cumsum(inc)
        B = self.BLOCK
        nb = n // B  # full blocks only; the tail is scanned directly
        self.nb = nb
        if nb:
            blocks = self.S[: nb * B].reshape(nb, B)
            self.bmax = blocks.max(axis=1)
            self.bmin = blocks.min(axis=1)
        else:
            self.bmax = self.bmin = np.empty(0, dtype=np.int64)

    def _base(self, pos: int, y0: int) -> int:
        return (int(self.S[pos - 1]) if pos > 0 else 0) - y0

    def _range_min(self, a: int, b: int) -> int | None:
        """min(S[a:b]) or None for an empty range."""
        if b <= a:
            return None
        B = self.BLOCK
        ba, bb = -(-a // B), b // B  # full blocks inside [a, b)
        if ba >= bb:
            return int(self.S[a:b].min())
        parts = [int(self.bmin[ba:bb].min())]
        if a < ba * B:
            parts.append(int(self.S[a : ba * B].min()))
        if bb * B < b:
            parts.append(int(self.S[bb * B : b].min()))
        return min(parts)

    def value(self, pos: int, y0: int, end: int) -> int:
        """count0 after slot ``end - 1``, starting from ``y0`` before slot ``pos``."""
        if end <= pos:
            return y0
        base = self._base(pos, y0)
        m = self._range_min(pos, end)
        return int(self.S[end - 1]) - min(base, m if m is not None else base)

    def _scan(self, a: int, b: int, m: int, threshold: int) -> tuple[int, int]:
        """First k in [a, b) with S[k] - min(m, min S[a..k]) >= threshold: (k, y[k]) or (-1, running min)."""
        seg = self.S[a:b]
        run = np.minimum.accumulate(seg)
        np.minimum(run, m, out=run)
        ys = seg - run
        hit = ys >= threshold
        k = int(hit.argmax())
        if hit[k]:
            return a + k, int(ys[k])
        return -1, int(run[-1])

    def first_trigger(self, pos: int, stop: int, y0: int, threshold: int) -> tuple[int, int]:
        """Find the first slot in ``[pos, stop)`` whose allocation sees ``count0 > threshold``.

        The allocation of slot k is checked against the counter left by slot k-1
        (``y[k-1] + 1 > threshold``, i.e. ``y[k-1] >= threshold``).

        Returns:
            ``(k, y[k-1])`` for the triggering slot k, or ``(stop, y[stop-1])``
            when no slot in the range triggers.
        """
        if pos >= stop:
            return stop, y0
        if y0 >= threshold:
            return pos, y0
        # the counter left by slots pos..stop-2 decides triggers at pos+1..stop-1
        last = stop - 1
        m = self._base(pos, y0)
        B = self.BLOCK
        a = pos
        while a < last:
            blk = a // B
            if a % B or blk >= self.nb or (blk + 1) * B > last:
                # partial block: scan directly up to its end (or to last)
                b = min((blk + 1) * B, last)
                k, v = self._scan(a, b, m, threshold)
                if k >= 0:
                    return k + 1, v
                m = v
                a = b
                continue
            # whole blocks [blk, hi): skip those that cannot reach the threshold
            hi = min(self.nb, last // B)
            run = np.minimum.accumulate(self.bmin[blk:hi])
            np.minimum(run, m, out=run)
            cand = (self.bmax[blk:hi] - run) >= threshold
            c = int(cand.argmax())
            if not cand[c]:
                m = int(run[-1])
                a = hi * B
                continue
            if c:
                m = int(run[c - 1])
            k, v = self._scan((blk + c) * B, (blk + c + 1) * B, m, threshold)
            if k >= 0:
                return k + 1, v
            m = v
            a = (blk + c + 1) * B
        return stop, self.value(pos, y0, stop)


def first_trigger(inc: np.ndarray, start: int, stop: int, y0: int, threshold: int) -> tuple[int, int]:
    """Plain-numpy version of :meth:`CounterScan.first_trigger` (kept as its test oracle)."""
    if y0 >= threshold:
        return start, y0
    pos, y = start, y0
    window = max(2 * (threshold - y), _SEARCH_MIN_WINDOW)
    while pos < stop:
        end = min(stop, pos + window)
        ys = lindley(inc[pos:end], y)
        hit = ys >= threshold
        k = int(hit.argmax())
        if hit[k]:
            if pos + k + 1 < stop:
                return pos + k + 1, int(ys[k])
            return stop, int(ys[k])
        y = int(ys[-1])
        pos = end
        window *= 2
    return stop, y


@dataclass
class Decision:
    """The generation a due collection will collect, and what was vetoed on the way."""

    generation: int | None
    full_vetoed: bool


class GenerationalPolicy:
    """The state and rules of CPython's three-generation collector.

    Args:
        thresholds: ``(threshold0, threshold1, threshold2)``.
        long_lived_total: survivors of the last full collection (the start
            state after interpreter start-up).
        enabled: ``gc.isenabled()``.
    """

    name = "generational"

    def __init__(self, thresholds: tuple[int, int, int], long_lived_total: int = 0, enabled: bool = True):
        self.thresholds = check_thresholds(thresholds)
        self.count = [0, 0, 0]
        self.enabled = enabled
        self.long_lived_pending = 0
        self.long_lived_total = int(long_lived_total)

    # -- automatic collections -------------------------------------------------
    @property
    def auto_threshold(self) -> int | None:
        """threshold0 if automatic collection can happen at all, else None."""
        t0 = self.thresholds[0]
        return t0 if (self.enabled and t0 != 0) else None

    def select(self) -> Decision:
        """Choose the generation for a due collection, oldest first.

        Returns a :class:`Decision` whose generation is None when no generation's
        count exceeds its threshold (possible in 3.12+ when frees between the
        scheduling allocation and the eval-breaker check brought count0 down).
        """
        vetoed = False
        for g in (2, 1, 0):
            if self.count[g] > self.thresholds[g]:
                if g == 2 and self.long_lived_pending < self.long_lived_total // 4:
                    vetoed = True
                    continue
                return Decision(g, vetoed)
        return Decision(None, vetoed)

    # -- bookkeeping of one collection of generation g -------------------------
    def begin(self, g: int) -> None:
        """Counter updates done when a collection of generation ``g`` starts."""
        if g < 2:
            self.count[g + 1] += 1
        for i in range(g + 1):
            self.count[i] = 0

    def end(self, g: int, survivors: int) -> None:
        """Long-lived bookkeeping with the tracked survivors of the collection."""
        if g == 1:
            self.long_lived_pending += survivors
        elif g == 2:
            self.long_lived_pending = 0
            self.long_lived_total = survivors

    # -- explicit calls --------------------------------------------------------
    def freeze(self) -> None:
        """``gc.freeze()``: counts to zero; long-lived state is kept."""
        self.count = [0, 0, 0]

    def set_threshold(self, thresholds: tuple[int, ...]) -> None:
        """``gc.set_threshold(t0[, t1[, t2]])``: the thresholds not given keep their values."""
        given = check_threshold_values(thresholds)
        self.thresholds = (*given, *self.thresholds[len(given):])  # type: ignore[assignment]

    def snapshot(self) -> dict[str, int]:
        """The counters, for records and debugging."""
        return {
            "count1": self.count[1],
            "count2": self.count[2],
            "long_lived_pending": self.long_lived_pending,
            "long_lived_total": self.long_lived_total,
        }


FT_FLUSH = 512
"""``LOCAL_ALLOC_COUNT_THRESHOLD`` of the free-threaded build: a thread's buffered count is
added to the global one when it reaches +512 or -512 (CPYTHON_GC.md §4)."""


class FreeThreadedPolicy(GenerationalPolicy):
    """The free-threaded build's collector (3.13t, 3.14t; ``Python/gc_free_threading.c``).

    One mutator thread is modelled. Every GC allocation adds 1 to the thread's buffer
    (:attr:`local`) and every GC deallocation takes 1 from it; at +512 the buffer is added to
    the global count (``count[0]``, what ``gc.get_count()[0]`` shows) and the collector asks
    :meth:`should_collect`; at -512 it is subtracted (3.14t: never below 0). A yes schedules
    a collection for the next eval-breaker check, where the question is asked again. Every
    collection is of the whole heap; it is reported as the generation it was asked for (0 when
    automatic) and moves the counts as the default build does. ``long_lived_total`` is the
    number of live objects the collection left (3.14.3t+: untracked and frozen ones too).

    Args:
        thresholds: as for :class:`GenerationalPolicy` (threshold1 = 0 turns the live-objects
            and memory gates off, as CPython's test hook does; threshold2 is unused).
        long_lived_total: live objects at the start.
        enabled: ``gc.isenabled()``.
        count_floor: a -512 flush stops at 0 (3.14t).
        live_ge: the live gate is ``count >= long_lived_total // 4`` (3.14t), else ``>`` (3.13t).
        memory_gate: 3.14t's process-memory gate; :attr:`memory_kib` must then be set to a
            function returning resident KiB now (None: memory unknown, the gate says yes, as
            CPython does where it cannot read the process's memory).
    """

    name = "free-threaded"

    def __init__(self, thresholds: tuple[int, int, int], long_lived_total: int = 0, enabled: bool = True,
                 count_floor: bool = False, live_ge: bool = False, memory_gate: bool = False):
        super().__init__(thresholds, long_lived_total, enabled)
        self.local = 0
        self.count_floor = count_floor
        self.live_ge = live_ge
        self.memory_gate = memory_gate
        self.deferred_count = 0
        self.last_mem_kib = 0
        self.memory_kib: Callable[[], int] | None = None
        self.deferrals = 0  # times the memory gate moved the count to deferred_count

    # -- the counters ------------------------------------------------------------
    def live_need(self) -> int:
        """The smallest global count the live-objects gate lets through (with ``count > t0``)."""
        t0, t1 = self.thresholds[0], self.thresholds[1]
        need = t0 + 1
        if t1 != 0:
            q = self.long_lived_total // 4
            need = max(need, q if self.live_ge else q + 1)
        return need

    def flush_down(self, n: int) -> None:
        """``n`` flushes of -512 into the global count."""
        c = self.count[0] - FT_FLUSH * n
        if self.count_floor and c < 0:
            c = 0
        self.count[0] = c

    def allocate(self) -> bool:
        """One GC allocation; True when it flushed the buffer and the collector said yes."""
        self.local += 1
        if self.local < FT_FLUSH:
            return False
        self.count[0] += self.local
        self.local = 0
        return self.should_collect()

    def deallocate(self, n: int) -> None:
        """``n`` GC deallocations."""
        x = self.local - n
        if x > -FT_FLUSH:
            self.local = x
            return
        first = self.local + FT_FLUSH  # frees until the first flush
        rest = n - first
        self.flush_down(1 + rest // FT_FLUSH)
        self.local = -(rest % FT_FLUSH)

    def should_collect(self) -> bool:
        """``gc_should_collect``: may move the count to ``deferred_count`` (3.14t's memory gate)."""
        c = self.count[0]
        t0 = self.thresholds[0]
        if c <= t0 or t0 == 0 or not self.enabled:
            return False
        if self.thresholds[1] == 0:
            return True
        if c < self.live_need():
            return False
        if not self.memory_gate:
            return True
        if self.deferred_count > 40 * t0:
            return True
        mem = self.memory_kib() if self.memory_kib is not None else -1
        if mem < 0:
            return True
        if mem - self.last_mem_kib > max(self.last_mem_kib // 10, 128):
            return True
        self.deferred_count += c
        self.count[0] = 0
        self.deferrals += 1
        return False

    def select(self) -> Decision:
        """The check at the eval breaker (``gc_collect_main`` with reason HEAP): generation 0 if
        the collector still says yes."""
        return Decision(0 if self.should_collect() else None, False)

    def begin(self, g: int) -> None:
        super().begin(g)
        self.deferred_count = 0

    def end(self, g: int, survivors: int) -> None:
        """``survivors``: the live objects the whole-heap collection counted (see the class)."""
        self.long_lived_total = survivors
        if self.memory_gate and self.memory_kib is not None:
            self.last_mem_kib = max(int(self.memory_kib()), 0)

    def flush_local(self) -> None:
        """``gc.get_count()``: the caller's buffer goes into the global count (a plain add)."""
        self.count[0] += self.local
        self.local = 0

    def snapshot(self) -> dict[str, int]:
        return {**super().snapshot(), "local": self.local, "deferred_count": self.deferred_count,
                "last_mem_kib": self.last_mem_kib}


C_INT_MAX = 2**31 - 1
"""The largest threshold ``gc.set_threshold`` accepts: it parses its arguments as C ints ("i")."""


class PatternPolicy(GenerationalPolicy):
    """The generational collector with threshold0 stepping through a repeating pattern.

    ``gcperf record`` runs a program this way (``recording/child.py``): threshold0 starts at
    ``pattern[0]`` and, after every collection, takes the next entry (cyclically). Calibration
    replays the same pattern to compare a fitted workload with the recording.

    Args:
        pattern: threshold0 of successive windows.
        thresholds: the other thresholds (threshold0 is taken from the pattern).
        long_lived_total: as for :class:`GenerationalPolicy`.
        enabled: as for :class:`GenerationalPolicy`.
    """

    def __init__(self, pattern: tuple[int, ...], thresholds: tuple[int, int, int], long_lived_total: int = 0,
                 enabled: bool = True):
        if not pattern:
            raise GcperfError("a threshold pattern needs at least one entry")
        self.pattern = tuple(int(x) for x in pattern)
        super().__init__((self.pattern[0], thresholds[1], thresholds[2]), long_lived_total, enabled)
        self._next = 1

    def end(self, g: int, survivors: int) -> None:
        super().end(g, survivors)
        t0 = self.pattern[self._next % len(self.pattern)]
        self._next += 1
        self.thresholds = (t0, self.thresholds[1], self.thresholds[2])


def check_threshold_values(values: object) -> tuple[int, ...]:
    """Validate the one to three values of a ``gc.set_threshold`` call (threshold0 first).

    Raises:
        GcperfError: not one to three integers, or one of them out of range
            (as :func:`check_thresholds`).
    """
    try:
        items: tuple = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        raise GcperfError(f"set_threshold takes one to three integers, got {values!r}") from None
    if not 1 <= len(items) <= 3:
        raise GcperfError(f"set_threshold takes one to three integers, got {values!r}")
    return check_thresholds((*items, *(0,) * (3 - len(items))))[: len(items)]


def check_thresholds(thresholds: object) -> tuple[int, int, int]:
    """Validate a thresholds triple and return it as a tuple of ints.

    Each value must be an integer in ``0 .. C_INT_MAX``: ``gc.set_threshold``
    raises ``OverflowError`` above a C int (checked on the real interpreter by
    tests/test_input_errors.py); it also takes negative values, which gcperf refuses
    (a negative threshold0 collects at every allocation: never a setting to
    recommend).

    Raises:
        GcperfError: not three integers (booleans and floats are not integers), or
            one of them out of range.
    """
    try:
        items: tuple = tuple(thresholds)  # type: ignore[arg-type]
    except TypeError:
        raise GcperfError(f"thresholds must be three integers, got {thresholds!r}") from None
    if len(items) != 3:
        raise GcperfError(f"thresholds must be three integers, got {thresholds!r}")
    out = []
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise GcperfError(f"threshold{i} must be an integer in 0..{C_INT_MAX}, got {v!r}")
        if not 0 <= v <= C_INT_MAX:
            raise GcperfError(f"threshold{i} must be in 0..{C_INT_MAX} (gc.set_threshold takes a C int), got {v}")
        out.append(int(v))
    return (out[0], out[1], out[2])
