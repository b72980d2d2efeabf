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

from dataclasses import dataclass

import numpy as np

from .errors import GcperfError

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


def first_trigger(inc: np.ndarray, start: int, stop: int, y0: int, threshold: int) -> tuple[int, int]:
    """Find the first slot whose allocation sees ``count0 > threshold``.

    The allocation of slot k is checked against the counter left by slot k-1
    (``y[k-1] + 1 > threshold``, i.e. ``y[k-1] >= threshold``).

    Args:
        inc: per-slot net change (``1 - frees``) of the current chunk.
        start: first slot (index into ``inc``) still to allocate.
        stop: slots ``[start, stop)`` are searched.
        y0: counter before slot ``start``.
        threshold: threshold0 (> 0).

    Returns:
        ``(k, y)``: the triggering slot and the counter before it (``y >= threshold``),
        or ``(stop, counter after slot stop-1)`` when no slot triggers.
    """
    if y0 >= threshold:
        return start, y0
    pos, y = start, y0
    # No slot can trigger before y has climbed to threshold, one step at a time.
    window = max(2 * (threshold - y), _SEARCH_MIN_WINDOW)
    while pos < stop:
        end = min(stop, pos + window)
        ys = lindley(inc[pos:end], y)
        hit = ys >= threshold
        k = int(hit.argmax())
        if hit[k]:
            # slot pos+k leaves y >= threshold, so slot pos+k+1 triggers
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

    def set_threshold(self, thresholds: tuple[int, int, int]) -> None:
        """``gc.set_threshold(t0, t1, t2)``."""
        self.thresholds = check_thresholds(thresholds)

    def snapshot(self) -> dict[str, int]:
        """The counters, for records and debugging."""
        return {
            "count1": self.count[1],
            "count2": self.count[2],
            "long_lived_pending": self.long_lived_pending,
            "long_lived_total": self.long_lived_total,
        }


def check_thresholds(thresholds: object) -> tuple[int, int, int]:
    """Validate a thresholds triple and return it as a tuple of ints.

    Raises:
        GcperfError: not three integers, or one of them negative.
    """
    try:
        items = tuple(thresholds)  # type: ignore[arg-type]
    except TypeError:
        raise GcperfError(f"thresholds must be three integers, got {thresholds!r}") from None
    if len(items) != 3:
        raise GcperfError(f"thresholds must be three integers, got {thresholds!r}")
    out = []
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise GcperfError(f"threshold{i} must be an integer, got {v!r}")
        if v < 0:
            raise GcperfError(f"threshold{i} must be >= 0, got {v}")
        out.append(int(v))
    return (out[0], out[1], out[2])
