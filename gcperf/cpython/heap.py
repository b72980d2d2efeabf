"""The population of GC-tracked objects, held as cohorts in generations.

CPython appends a newly tracked object to generation 0 and moves whole
generations at once, so the objects allocated between two consecutive collection
boundaries (collections, ``gc.freeze()``) stay together for life: a *cohort*.
Each generation is a list of cohorts, oldest first, and every question the
collector asks ("how many objects are in generations 0..g?", "which of them are
unreachable cyclic garbage?") is answered per cohort with binary searches on
sorted death positions. Objects are never materialised one by one.

Positions ("seq") order every event of a run: allocations, frees, moments when
a cyclic group becomes unreachable, eval-breaker checkpoints and explicit calls.
An object allocated at seq ``a`` is part of a collection at ``tau`` iff
``a < tau``; it is still present iff it was not freed before ``tau``.

Object kinds (per allocation):

* tracked: stays in the generations until freed by reference counting or, if it
  dies as cyclic garbage, until a collection frees its cycle;
* untrack-at-first-collection: a tuple of atomic values; examined by the first
  collection that sees it, then untracked (``untrack_tuples``) and forgotten;
* never tracked: counted by ``count0`` but never in a generation.

A cycle is freed only when all of its members are in the generations being
collected (CPYTHON_GC.md §10.3). Members of a cycle are allocated in order, so the
test is whether the cycle's oldest member (``head``) lies at or after the first
allocation index of the oldest generation collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEVER = np.iinfo(np.int64).max
_EMPTY = np.empty(0, dtype=np.int64)

FLAG_CYCLIC = np.uint8(1)
FLAG_ATOMIC = np.uint8(2)  # untracked by the first collection that sees it
FLAG_UNTRACKED = np.uint8(4)  # counted, never tracked


@dataclass
class Cohort:
    """Objects that entered the heap between two collection boundaries.

    Attributes:
        start: allocation index of the first slot of the cohort's segment.
        rc: sorted death positions of tracked objects freed by reference counting.
        immortal: tracked objects that are never freed during the run.
        cyc: sorted positions at which tracked cyclic objects became (or will
            become) unreachable; present until a collection frees them.
        head: allocation index of the oldest member of each ``cyc`` entry's cycle.
        urc: sorted death positions of untrack-at-first-collection objects.
        uimm: untrack-at-first-collection objects never freed.
        row: per ``cyc`` entry, its row in the memory model (None when memory is
            not simulated); a collection that frees the object frees that row.
        nbytes: per ``cyc`` entry, its bytes (object and payload), or None.
    """

    start: int
    rc: np.ndarray
    immortal: int
    cyc: np.ndarray
    head: np.ndarray
    urc: np.ndarray
    uimm: int
    row: np.ndarray | None = None
    nbytes: np.ndarray | None = None
    # running total of ``nbytes``, made at the first bytes question (a cohort's arrays are never
    # changed in place: a collection builds new cohorts), so that every later one costs a search
    _cum: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def tracked(self, tau: int) -> int:
        """Tracked objects present at ``tau`` (alive or uncollected garbage)."""
        n = self.immortal + len(self.cyc) + self.uimm
        if len(self.rc):  # (an empty array needs no search: this is asked of every cohort often)
            n += len(self.rc) - int(self.rc.searchsorted(tau))
        if len(self.urc):
            n += len(self.urc) - int(self.urc.searchsorted(tau))
        return n

    def garbage(self, tau: int) -> int:
        """Cyclic objects that are unreachable at ``tau``."""
        return int(self.cyc.searchsorted(tau)) if len(self.cyc) else 0

    def garbage_bytes(self, tau: int) -> int:
        """Bytes of the cyclic objects unreachable at ``tau`` (0 without memory)."""
        if self.nbytes is None or not len(self.cyc):
            return 0
        k = int(self.cyc.searchsorted(tau))
        if k == 0:
            return 0
        if self._cum is None:
            self._cum = np.cumsum(self.nbytes, dtype=np.int64)
        return int(self._cum[k - 1])

    def size_hint(self) -> int:
        """Stored entries (for merge decisions), dead ones included."""
        return len(self.rc) + len(self.cyc) + len(self.urc)


def make_cohort(start: int, death: np.ndarray, flags: np.ndarray | None, head: np.ndarray | None,
                tau: int, row: np.ndarray | None = None, nbytes: np.ndarray | None = None) -> Cohort:
    """Build a cohort from the candidates of a segment, as present at ``tau``.

    Args:
        start: allocation index of the segment's first slot.
        death: per candidate, its death position (freed by refcount), its
            unreachability position if cyclic, or NEVER.
        flags: per candidate kind bits (None: all plain tracked).
        head: per candidate cycle head (None: every cycle is the object alone).
        tau: the boundary position; objects freed before it are dropped.
        row, nbytes: per candidate memory-model row and bytes (None: no memory model).
    """
    mem = row is not None
    if flags is None:
        alive = death[death > tau]
        fin = alive[alive != NEVER]
        fin.sort()
        return Cohort(start, fin, len(alive) - len(fin), _EMPTY, _EMPTY, _EMPTY, 0,
                      _EMPTY if mem else None, _EMPTY if mem else None)
    # An object's kind bits are exclusive (the stream and the trace builder only make a plain
    # tracked object cyclic), so each kind is one comparison; NEVER sorts last, so the objects
    # that live to the end are what follows the sorted finite deaths. (A segment holds ~10^3
    # candidates: the cost here is the number of numpy calls, not their length.)
    alive = death > tau
    rc = death[alive & (flags == 0)]
    rc.sort()
    k = int(rc.searchsorted(NEVER))
    # the cyclic candidates, by unreachability position (stable: ties keep allocation order)
    cidx = np.flatnonzero(flags == FLAG_CYCLIC)
    cyc = death[cidx]
    if len(cidx) > 1:
        order = np.argsort(cyc, kind="stable")
        cidx = cidx[order]
        cyc = cyc[order]
    # without heads every cycle is a lone self-referencing object: always collectable
    hd = np.full(len(cyc), NEVER, dtype=np.int64) if head is None else head[cidx]
    urc = death[alive & (flags == FLAG_ATOMIC)]
    urc.sort()
    ku = int(urc.searchsorted(NEVER))
    crow = None if row is None else row[cidx]
    cbytes = None if nbytes is None else nbytes[cidx]
    return Cohort(start, rc[:k], len(rc) - k, cyc, hd, urc[:ku], len(urc) - ku, crow, cbytes)


def merge_cohorts(cohorts: list[Cohort], tau: int) -> Cohort:
    """Merge cohorts (oldest first) into one, dropping objects freed before ``tau``."""
    if len(cohorts) == 1:
        return _compact(cohorts[0], tau)
    rc = np.concatenate([c.rc[c.rc.searchsorted(tau):] for c in cohorts])
    rc.sort(kind="stable")  # concatenated sorted runs: timsort merges them in linear time
    cyc = np.concatenate([c.cyc for c in cohorts])
    head = np.concatenate([c.head for c in cohorts])
    order = np.argsort(cyc, kind="stable")
    urc = np.concatenate([c.urc[c.urc.searchsorted(tau):] for c in cohorts])
    urc.sort(kind="stable")
    row = nbytes = None
    if all(c.row is not None and c.nbytes is not None for c in cohorts):
        row = np.concatenate([c.row for c in cohorts if c.row is not None])[order]
        nbytes = np.concatenate([c.nbytes for c in cohorts if c.nbytes is not None])[order]
    return Cohort(
        cohorts[0].start,
        rc,
        sum(c.immortal for c in cohorts),
        cyc[order],
        head[order],
        urc,
        sum(c.uimm for c in cohorts),
        row,
        nbytes,
    )


def _compact(c: Cohort, tau: int) -> Cohort:
    k = int(c.rc.searchsorted(tau))
    ku = int(c.urc.searchsorted(tau))
    if k == 0 and ku == 0:
        return c
    rc = c.rc[k:]
    urc = c.urc[ku:]
    # copy once the dead prefix dominates, so freed memory is actually released
    if k > len(rc):
        rc = rc.copy()
    if ku > len(urc):
        urc = urc.copy()
    return Cohort(c.start, rc, c.immortal, c.cyc, c.head, urc, c.uimm, c.row, c.nbytes)


class LiveTally:
    """How many objects of a growing set are alive at a position: their death positions (NEVER for
    those that live to the end), kept as sorted arrays and merged, the dead dropped, once they pile
    up, and a count of objects known to live to the end. Positions asked must not decrease."""

    def __init__(self, forever: int = 0):
        self._deaths: list[np.ndarray] = []
        self.forever = int(forever)

    def add(self, deaths: np.ndarray, forever: int = 0) -> None:
        if len(deaths):
            self._deaths.append(np.sort(deaths))
        self.forever += int(forever)

    def alive(self, tau: int) -> int:
        if len(self._deaths) > 32:
            u = np.sort(np.concatenate(self._deaths))
            self._deaths = [u[int(u.searchsorted(tau, "right")):]]
        return self.forever + sum(len(u) - int(u.searchsorted(tau, "right")) for u in self._deaths)


@dataclass
class CollectionResult:
    """What one collection found."""

    examined: int  # tracked objects in the collected generations
    freed: int  # cyclic garbage freed
    survivors: int  # tracked objects left in the collected generations (after untracking)
    untracked: int  # tuples untracked by this collection
    stuck: int  # unreachable objects kept because their cycle reaches an older generation
    freed_unreach: np.ndarray  # unreachability positions of the freed objects
    freed_rows: np.ndarray  # their memory-model rows (empty without a memory model)
    freed_bytes: int  # their bytes (0 without a memory model)
    untracked_deaths: np.ndarray = field(default_factory=lambda: _EMPTY)  # death positions of the objects this collection untracked
    untracked_immortal: int = 0  # and how many of them live to the end
    examined_old: int = 0  # of ``examined``, those that were in generation 2
    examined_mid: int = 0  # of ``examined``, those that were in generation 1


class CohortSpaces:
    """What both heaps (this one and ``incremental.IncrementalHeap``) answer alike from their lists
    of cohorts: ``gens`` (three lists) and ``permanent``; ``memory`` says whether cohorts carry bytes."""

    gens: list[list[Cohort]]
    permanent: list[Cohort]
    memory: bool

    def garbage(self, tau: int) -> int:
        """Uncollected cyclic garbage at ``tau`` in all generations."""
        return sum(c.garbage(tau) for gen in (*self.gens, self.permanent) for c in gen)

    def garbage_bytes(self, tau: int) -> int:
        """Bytes of uncollected cyclic garbage at ``tau`` (0 without a memory model)."""
        if not self.memory:
            return 0
        return sum(c.garbage_bytes(tau) for gen in (*self.gens, self.permanent) for c in gen)


class Heap(CohortSpaces):
    """Generations 0-2 and the permanent generation, as lists of cohorts.

    Args:
        baseline_objects: tracked, never-freed objects already in generation 2 at
            the start (the interpreter's own objects after start-up).
        frozen_objects: tracked, never-freed objects in the permanent generation at the start
            (a ``gc.freeze()`` before the simulated part).
        young_objects: tracked, never-freed objects already in generations 0 and 1.
        immortal_objects: the interpreter's tracked immortal objects, which 3.12 keeps in the
            permanent generation (CPYTHON_GC.md §10.4): ``gc.unfreeze()`` moves them into
            generation 2 with the rest, and the next full collection moves them back, so they
            are never survivors (nor in ``long_lived_total``); they count in the generation
            sizes and the freeze count. 0 for every other version (3.13+ untracks them).
    """

    def __init__(self, baseline_objects: int = 0, memory: bool = False, frozen_objects: int = 0,
                 immortal_objects: int = 0, young_objects: tuple[int, int] = (0, 0)):
        self.gens: list[list[Cohort]] = [[], [], []]
        self.permanent: list[Cohort] = []
        self.memory = memory
        m = _EMPTY if memory else None
        for where, n in ((self.gens[0], young_objects[0]), (self.gens[1], young_objects[1]),
                         (self.gens[2], baseline_objects), (self.permanent, frozen_objects)):
            if n:  # never freed, never garbage: only their number matters
                where.append(Cohort(-1, _EMPTY, int(n), _EMPTY, _EMPTY, _EMPTY, 0, m, m))
        # where the immortal objects are: the permanent generation, or generation 2 after an unfreeze
        self.immortal_objects = int(immortal_objects)
        self.immortal_in_gen2 = False

    def sizes(self, tau: int) -> tuple[int, int, int, int]:
        """Tracked objects present at ``tau`` in generations 0, 1, 2 and permanent.

        The open segment (not yet a cohort) is not included: see the engine.
        """
        g0, g1, g2 = (sum(c.tracked(tau) for c in gen) for gen in self.gens)
        perm = sum(c.tracked(tau) for c in self.permanent)
        if self.immortal_in_gen2:
            return g0, g1, g2 + self.immortal_objects, perm
        return g0, g1, g2, perm + self.immortal_objects

    def collect(self, g: int, segment: Cohort, tau: int) -> CollectionResult:
        """Collect generations ``0..g`` at ``tau``; ``segment`` is the open generation 0 part.

        Survivors move to generation ``g + 1`` (generation 2 survivors stay).
        """
        # oldest first: generation g's cohorts, ..., generation 0's, the open segment
        parts = [c for gen in reversed(self.gens[: g + 1]) for c in gen]
        parts.append(segment)
        boundary = parts[0].start
        examined = freed = untracked = stuck = freed_bytes = 0
        freed_unreach: list[np.ndarray] = []
        freed_rows: list[np.ndarray] = []
        untracked_deaths: list[np.ndarray] = []
        untracked_immortal = 0
        kept: list[Cohort] = []
        n_old = len(self.gens[2]) if g == 2 else 0  # generation 2's cohorts come first
        n_mid = n_old + (len(self.gens[1]) if g >= 1 else 0)  # then generation 1's
        examined_old = examined_mid = 0
        for i, c in enumerate(parts):
            n = c.tracked(tau)
            examined += n
            if i < n_old:
                examined_old += n
            elif i < n_mid:
                examined_mid += n
            ku = int(c.urc.searchsorted(tau))
            untracked += len(c.urc) - ku + c.uimm
            if len(c.urc) > ku:
                untracked_deaths.append(c.urc[ku:])
            untracked_immortal += c.uimm
            kg = c.garbage(tau)
            cyc, head, row, nb = c.cyc, c.head, c.row, c.nbytes
            if kg:
                # heads of lone cycles are stored as NEVER, i.e. always >= boundary
                collectable = head[:kg] >= boundary
                nfree = int(collectable.sum())
                if nfree == kg:
                    freed_unreach.append(cyc[:kg])
                    if row is not None and nb is not None:
                        freed_rows.append(row[:kg])
                        freed_bytes += int(nb[:kg].sum())
                        row, nb = row[kg:], nb[kg:]
                    cyc, head = cyc[kg:], head[kg:]
                else:
                    freed_unreach.append(cyc[:kg][collectable])
                    keep_mask = np.ones(len(cyc), dtype=bool)
                    keep_mask[:kg] = ~collectable
                    if row is not None and nb is not None:
                        freed_rows.append(row[:kg][collectable])
                        freed_bytes += int(nb[:kg][collectable].sum())
                        row, nb = row[keep_mask], nb[keep_mask]
                    cyc, head = cyc[keep_mask], head[keep_mask]
                    stuck += kg - nfree
                freed += nfree
            k = int(c.rc.searchsorted(tau))
            kept.append(Cohort(c.start, c.rc[k:], c.immortal, cyc, head, _EMPTY, 0, row, nb))
        survivors = examined - freed - untracked
        if g == 2:
            # 3.12's update_refs moves the immortal objects it meets back into the permanent
            # generation before anything is counted (no-op unless an unfreeze brought them here)
            self.immortal_in_gen2 = False
        merged = merge_cohorts(kept, tau)
        for i in range(g + 1):
            self.gens[i] = []
        target = min(g + 1, 2)
        self.gens[target].append(merged)
        if target == 2:
            self._balance(tau)
        fu = np.concatenate(freed_unreach) if freed_unreach else _EMPTY
        fr = np.concatenate(freed_rows) if freed_rows else _EMPTY
        ud = np.concatenate(untracked_deaths) if untracked_deaths else _EMPTY
        return CollectionResult(examined, freed, survivors, untracked, stuck, fu, fr, freed_bytes, ud,
                                untracked_immortal, examined_old, examined_mid)

    def freeze(self, segment: Cohort) -> None:
        """``gc.freeze()``: every generation, and the open segment, becomes permanent."""
        self.permanent.extend(c for gen in reversed(self.gens) for c in gen)  # oldest first
        self.permanent.append(segment)
        self.gens = [[], [], []]
        self.immortal_in_gen2 = False

    def unfreeze(self) -> None:
        """``gc.unfreeze()``: the permanent generation joins generation 2 (as its oldest part)."""
        self.gens[2] = self.permanent + self.gens[2]
        self.permanent = []
        self.immortal_in_gen2 = self.immortal_objects > 0

    def _balance(self, tau: int) -> None:
        # Keep generation 2 at O(log n) cohorts: merge the newest two while the
        # older is not much larger (a log-structured merge, amortised O(log n)).
        g2 = self.gens[2]
        while len(g2) >= 2 and g2[-2].size_hint() <= 2 * g2[-1].size_hint():
            b = g2.pop()
            a = g2.pop()
            g2.append(merge_cohorts([a, b], tau))
