"""The incremental collector of CPython 3.14.0-3.14.4: its counters, its spaces, its increments.

Derived from the source: ``Python/gc.c`` of the 3.14 branch before the 3.14.5 revert, as summarised
in ../shared/CPYTHON_GC.md §3 and §11, and checked against interpreters of the period built here
from that file (tests/record_real_traces.py; no released 3.14.0-3.14.4 exists on this machine).

State. New tracked objects go to the *young* list. Every older object is in one of two *old
spaces*, the *visited* one and the *pending* one (``gcstate->visited_space`` says which is which).
A fresh interpreter's objects are pending; the collector is in its MARK phase with a work budget
``work_to_do`` of -5000.

Automatic collections. ``young.count > young.threshold`` schedules one (deferred to the next
eval-breaker check, as 3.12+); it is an *increment* (reported as generation 1):

1. ``work_to_do += new + min(heap_size / 10 / scale, cap * new)`` with ``new`` = young.count
   (then 0), ``scale = max(threshold1, 2)``, ``cap`` 1.5 (3.14.0) or 2 (3.14.1+), ``heap_size``
   the tracked objects of the whole heap;
2. 3.14.1+: while ``work_to_do < 0`` the increment stops here and collects nothing, not even the
   young objects;
3. in the MARK phase: every object reachable from the interpreter's roots (modules, builtins,
   live frames) moves to the visited space; ``work_to_do`` loses twice their number (once in
   ``mark_at_start``, once in its caller); nothing is collected; phase COLLECT;
4. otherwise the increment is the young list plus pending objects, oldest first, each with the
   pending objects it reaches, until it holds ``work_to_do`` objects or pending is empty; the
   cycle finder runs on it, its survivors go to the visited space, ``work_to_do`` loses its size
   (3.14.0 adds ``heap_size / 10 / scale`` back); when pending is empty the scavenge is complete:
   the spaces swap (with an empty permanent generation), ``work_to_do = 0``, phase MARK.

Explicit calls. ``gc.collect(0)`` collects the young list into the visited space and bumps the
visited space's count; ``gc.collect(1)`` is one increment; ``gc.collect(2)`` collects everything
and completes the scavenge. ``gc.get_count()`` is ``(young.count, old[visited].count,
old[pending].count)``; ``gc.get_threshold()`` is ``(threshold0, threshold1, 0)``. ``gc.freeze()``
moves everything to the permanent generation, marked visited; ``gc.unfreeze()`` puts it at the end
of the visited space, still marked, until the next completed scavenge. ``gc.get_stats()`` counts
every increment as a collection of generation 1 on 3.14.1+, only the collecting ones on 3.14.0
(not its marking steps).

What gcperf assumes where the source leaves the program's shape open:

* every live object of the program is reachable from the roots (a Python program reaches what it
  keeps through modules and frames), so the MARK step moves every live young and pending object to
  the visited space and leaves pending with the cyclic garbage, except the interpreter's own objects
  it does not reach (``VersionPreset.interpreter_unmarked``, measured on an interpreter of the
  period built here): they stay pending, oldest first, so a scavenge ends only after increments have
  worked through them (this decided every figure of 6 more of 21 exact-trace programs);
* the marking walk neither moves nor traverses objects already marked visited, so while the
  permanent generation holds objects, or unfrozen ones are still marked, a marking step reaches
  none of the program's objects: its module globals were frozen with it (on the built interpreter
  such a step marked 1 object of a program keeping 35 000);
* the marking step costs one traversal of what it marks, priced as half a collection of as many
  objects (a collection traverses each object twice and also copies and tests reference counts);
* pending objects are taken in order of the moment they became garbage (pending holds garbage
  only between a MARK step and the next swap, see above; after a step that reached nothing, the
  live ones follow the garbage), and a cycle is freed when none of its members is in the visited
  space (members still pending are reached through the cycle).
"""

from __future__ import annotations

import numpy as np

from ..errors import GcperfError
from .heap import _EMPTY, NEVER, Cohort, CohortSpaces, CollectionResult, LiveTally, merge_cohorts
from .policy import Decision, GenerationalPolicy, check_threshold_values, check_thresholds

WORK_TO_DO_START = -5000
"""``work_to_do`` of a fresh interpreter (``.work_to_do=-5000`` in the 3.14 initialiser)."""

SCAN_RATE_DIVISOR = 10
"""``heap_size / SCAN_RATE_DIVISOR / threshold1`` objects of the old spaces per increment: 1 % of
the heap at the default threshold1 of 10."""

ROOTLESS = -2
"""``Cohort.start`` of the live objects the marking step does not reach (see IncrementalHeap)."""

MARK_COST_FRACTION = 0.5
"""A marked object's cost as a fraction of an object examined by a collection (an estimate)."""


class IncrementalPolicy(GenerationalPolicy):
    """The counters and the schedule of the 3.14.0-3.14.4 collector (see the module).

    Args:
        thresholds: ``(threshold0, threshold1, threshold2)``; threshold2 must be 0 (the incremental
            collector has none: ``gc.get_threshold()`` reports 0).
        enabled: ``gc.isenabled()``.
        early_return: 3.14.1+: an increment with a negative budget collects nothing.
        cap_halves: the cap on the heap's share of the budget in halves of ``new``: 3 (3.14.0:
            1.5 new) or 4 (3.14.1+: 2 new).
        add_back: 3.14.0 adds ``heap_size / 10 / scale`` back after each collecting increment.
        marks_in_stats: whether ``gc.get_stats()`` counts a marking step as a collection of
            generation 1: 3.14.1+ counts every call (``_PyGC_Collect``), 3.14.0 only the increments
            that collect (``add_stats`` sits at the end of ``gc_collect_increment``; checked on the
            built interpreters). Callbacks see both.
    """

    name = "incremental"

    def __init__(self, thresholds: tuple[int, int, int], enabled: bool = True, *, early_return: bool,
                 cap_halves: int, add_back: bool, marks_in_stats: bool = True):
        super().__init__(_two_thresholds(thresholds), 0, enabled)
        self.early_return = early_return
        self.cap_halves = cap_halves
        self.add_back = add_back
        self.marks_in_stats = marks_in_stats
        self.work_to_do = WORK_TO_DO_START
        self.marking = True  # phase MARK
        self.visited_space = 0
        self.old_count = [0, 0]  # old[0].count, old[1].count
        self.scavenges = 0  # completed scavenges (swaps of the spaces)
        self.marks = 0

    @property
    def scale(self) -> int:
        return max(self.thresholds[1], 2)

    def select(self) -> Decision:
        """Every automatic collection is an increment, reported as generation 1."""
        return Decision(1, False)

    def assess(self, heap_size: int) -> None:
        """``assess_work_to_do``: the young count goes into the budget and to 0."""
        new = self.count[0]
        fraction = min(heap_size // SCAN_RATE_DIVISOR // self.scale, new * self.cap_halves // 2)
        self.work_to_do += new + fraction
        self.count[0] = 0

    def completed_scavenge(self, flip: bool) -> None:
        """The spaces swap (``flip``: the permanent generation is empty), the budget is 0, MARK."""
        if flip:
            self.visited_space ^= 1
        self.work_to_do = 0
        self.marking = True
        self.scavenges += 1
        self._sync_counts()

    def young_collected(self) -> None:
        """``gc.collect(0)``: young count 0, the visited space's count + 1."""
        self.count[0] = 0
        self.old_count[self.visited_space] += 1
        self._sync_counts()

    def full_collected(self) -> None:
        """``gc.collect(2)``: every count 0 (the scavenge completes separately)."""
        self.count[0] = 0
        self.old_count = [0, 0]
        self._sync_counts()

    def _sync_counts(self) -> None:
        self.count[1] = self.old_count[self.visited_space]
        self.count[2] = self.old_count[self.visited_space ^ 1]

    def freeze(self) -> None:
        """``gc.freeze()``: every count 0."""
        self.count[0] = 0
        self.old_count = [0, 0]
        self._sync_counts()

    def set_threshold(self, thresholds: tuple[int, ...]) -> None:
        """``gc.set_threshold``: threshold0 and threshold1; a third value is ignored, as CPython does."""
        given = check_threshold_values(thresholds)[:2]
        self.thresholds = (*given, *self.thresholds[len(given):2], 0)  # type: ignore[assignment]

    def begin(self, g: int) -> None:  # pragma: no cover - the engine calls the methods above
        raise NotImplementedError("the incremental collector's bookkeeping is done by the engine's increments")

    def snapshot(self) -> dict[str, int]:
        return {"count1": self.count[1], "count2": self.count[2], "work_to_do": self.work_to_do,
                "marking": int(self.marking), "visited_space": self.visited_space}


def _two_thresholds(thresholds: tuple[int, int, int]) -> tuple[int, int, int]:
    t = check_thresholds(thresholds)
    if t[2] != 0:
        raise GcperfError(f"the incremental collector (3.14.0-3.14.4) has no threshold2 (gc.get_threshold() "
                          f"reports 0): give two thresholds or a third of 0, got {t[2]}")
    return t


def _present(c: Cohort, tau: int) -> Cohort:
    """``c`` without the objects freed by reference counting before ``tau``."""
    k = int(c.rc.searchsorted(tau)) if len(c.rc) else 0
    ku = int(c.urc.searchsorted(tau)) if len(c.urc) else 0
    if not k and not ku:
        return c
    return Cohort(c.start, c.rc[k:], c.immortal, c.cyc, c.head, c.urc[ku:], c.uimm, c.row, c.nbytes)


def _split_live(c: Cohort, tau: int) -> tuple[Cohort | None, Cohort | None]:
    """(the live objects of ``c`` at ``tau``, its cyclic garbage), either None when empty."""
    c = _present(c, tau)
    kg = c.garbage(tau)
    mem = c.row is not None
    live = Cohort(c.start, c.rc, c.immortal, c.cyc[kg:], c.head[kg:], c.urc, c.uimm,
                  c.row[kg:] if mem else None, c.nbytes[kg:] if mem else None)  # type: ignore[index]
    dead = Cohort(c.start, _EMPTY, 0, c.cyc[:kg], c.head[:kg], _EMPTY, 0,
                  c.row[:kg] if mem else None, c.nbytes[:kg] if mem else None)  # type: ignore[index]
    return (live if live.tracked(tau) else None), (dead if kg else None)


def _never_freed(start: int, n: int, memory: bool) -> Cohort:
    """A cohort of ``n`` tracked objects that live to the end."""
    e = _EMPTY if memory else None
    return Cohort(start, _EMPTY, int(n), _EMPTY, _EMPTY, _EMPTY, 0, e, e)


def _rootless_first(cohorts: list[Cohort]) -> tuple[list[Cohort], list[Cohort]]:
    """(the cohorts of objects the marking step does not reach, the others), in their order."""
    return [c for c in cohorts if c.start == ROOTLESS], [c for c in cohorts if c.start != ROOTLESS]


def _take(c: Cohort, k: int, tau: int) -> tuple[Cohort, Cohort]:
    """Split ``c`` into ``k`` of its objects present at ``tau`` and the rest: its cyclic garbage
    first, in the order it became garbage, then live objects, longest-lived first."""
    c = _present(c, tau)
    mem = c.row is not None
    kg = c.garbage(tau)
    if k <= kg:  # garbage only, in order
        a = Cohort(c.start, _EMPTY, 0, c.cyc[:k], c.head[:k], _EMPTY, 0,
                   c.row[:k] if mem else None, c.nbytes[:k] if mem else None)  # type: ignore[index]
        b = Cohort(c.start, c.rc, c.immortal, c.cyc[k:], c.head[k:], c.urc, c.uimm,
                   c.row[k:] if mem else None, c.nbytes[k:] if mem else None)  # type: ignore[index]
        return a, b
    rest = k - kg
    # then the live objects, those that live longest first (the pending list is oldest first, and the
    # oldest survivors tend to live longest): never freed (tracked, then atomic tuples), then by death
    n_imm = min(c.immortal, rest)
    n_uimm = min(c.uimm, rest - n_imm)
    n = rest - n_imm - n_uimm
    live_cyc = c.cyc[kg:]
    deaths = np.concatenate([c.rc, c.urc, live_cyc])
    kinds = np.concatenate([np.zeros(len(c.rc), np.int8), np.ones(len(c.urc), np.int8),
                            np.full(len(live_cyc), 2, np.int8)])
    order = np.lexsort((kinds, -deaths))[:n]  # latest death first (deaths are distinct positions)
    chosen = np.zeros(len(deaths), dtype=bool)
    chosen[order] = True
    m_rc = chosen[: len(c.rc)]
    m_urc = chosen[len(c.rc): len(c.rc) + len(c.urc)]
    m_cyc = np.concatenate([np.ones(kg, dtype=bool), chosen[len(c.rc) + len(c.urc):]])
    a = Cohort(c.start, c.rc[m_rc], n_imm, c.cyc[m_cyc], c.head[m_cyc], c.urc[m_urc], n_uimm,
               c.row[m_cyc] if mem else None, c.nbytes[m_cyc] if mem else None)  # type: ignore[index]
    b = Cohort(c.start, c.rc[~m_rc], c.immortal - n_imm, c.cyc[~m_cyc], c.head[~m_cyc], c.urc[~m_urc],
               c.uimm - n_uimm, c.row[~m_cyc] if mem else None, c.nbytes[~m_cyc] if mem else None)  # type: ignore[index]
    return a, b


class IncrementalHeap(CohortSpaces):
    """The young list, the two old spaces and the permanent generation, as lists of cohorts.

    ``gens`` is ``[young, visited, pending]`` (what :meth:`sizes` reports as generations 0, 1
    and 2).

    Args:
        baseline_objects: tracked, never-freed objects in the pending space at the start (a fresh
            interpreter after start-up: its last full collection swapped them to pending).
        memory: whether cohorts carry memory-model rows.
        untracked_in_heap_size: whether ``heap_size`` counts untracked GC objects too (3.14.0).
        untracked_objects: untracked GC objects alive throughout (the interpreter's and the
            program's at the start), counted in ``heap_size`` where it counts them.
        frozen_objects: tracked, never-freed objects in the permanent generation.
        young_objects: tracked, never-freed objects in the young list and the visited space.
    """

    immortal_objects = 0  # 3.12's immortal objects in the permanent generation: not in 3.14

    def __init__(self, baseline_objects: int = 0, memory: bool = False, frozen_objects: int = 0,
                 young_objects: tuple[int, int] = (0, 0), rootless_objects: int = 0,
                 untracked_in_heap_size: bool = False, untracked_objects: int = 0):
        self.young: list[Cohort] = []
        self.visited: list[Cohort] = []
        self.pending: list[Cohort] = []
        self.permanent: list[Cohort] = []
        # unfrozen objects sit in the visited space with the visited mark until the next
        # completed scavenge (``_PyGC_Unfreeze``); see ``roots_blocked``
        self.unfrozen: list[Cohort] = []
        # 3.14.0 counts every GC allocation in heap_size (``_PyObject_GC_Link``) until it is freed
        # (``PyObject_GC_Del``), so the objects its collections untracked still count
        self.untracked_in_heap_size = untracked_in_heap_size
        self._untracked = LiveTally(untracked_objects if untracked_in_heap_size else 0)
        self.memory = memory
        rootless = min(int(rootless_objects), int(baseline_objects))
        if rootless:  # the oldest objects of all: first in the pending space
            self.pending.append(_never_freed(ROOTLESS, rootless, memory))
        for where, n in ((self.young, young_objects[0]), (self.visited, young_objects[1]),
                         (self.pending, baseline_objects - rootless), (self.permanent, frozen_objects)):
            if n:
                where.append(_never_freed(-1, n, memory))

    @property
    def gens(self) -> list[list[Cohort]]:
        return [self.young, self.visited, self.pending]

    # -- questions -----------------------------------------------------------------
    def sizes(self, tau: int) -> tuple[int, int, int, int]:
        """Tracked objects present at ``tau``: young, visited, pending, permanent (the open segment
        excluded)."""
        y, v, p, f = (sum(c.tracked(tau) for c in part) for part in (*self.gens, self.permanent))
        return y, v, p, f

    def roots_blocked(self, tau: int) -> bool:
        """Whether a marking step reaches none of the program's objects: the marking walk
        (``mark_global_roots``, ``mark_stacks``) moves only objects not yet marked visited and
        does not traverse past marked ones, and permanent objects carry the visited mark, as
        unfrozen ones do until the next completed scavenge. gcperf assumes a program's objects
        are reached through its module globals, which ``gc.freeze()`` makes permanent (on the
        built 3.14.1-3.14.4 interpreter such a step marked 1 object of 35 000 live ones)."""
        return any(c.tracked(tau) for c in (*self.permanent, *self.unfrozen))

    def heap_size(self, tau: int) -> int:
        """``gcstate->heap_size``: every tracked object (the open segment excluded), and on 3.14.0
        the objects its collections untracked that are still alive."""
        return sum(self.sizes(tau)) + (self._untracked.alive(tau) if self.untracked_in_heap_size else 0)

    def _note_untracked(self, deaths: np.ndarray, immortal: int) -> None:
        if self.untracked_in_heap_size:
            self._untracked.add(deaths, immortal)

    # -- the collector's steps -----------------------------------------------------------
    def add_young(self, segment: Cohort, tau: int) -> None:
        """An increment that collects nothing: the open segment joins the young list."""
        self.young.append(segment)
        if len(self.young) > 16:
            self.young = [merge_cohorts(self.young, tau)]

    def mark(self, segment: Cohort, tau: int) -> tuple[int, int]:
        """The MARK step: the young tuples of atomic values are untracked first (``untrack_tuples``
        runs before the phase test), then every live young and pending object moves to the visited
        space; returns (how many moved, how many were untracked)."""
        untracked = self._untrack_young(segment, tau)
        if self.roots_blocked(tau):
            # the marking walk does not enter visited (or frozen) objects, and the program's objects
            # hang off its module globals, which gc.freeze() made permanent: nothing is reached
            return 0, untracked
        moved: list[Cohort] = []
        n = 0
        for part in (self.pending, self.young):
            kept: list[Cohort] = []
            rootless: list[Cohort] = []
            for c in part:
                if c.start == ROOTLESS:  # live, and out of the roots' reach: it stays pending
                    rootless.append(c)
                    continue
                live, dead = _split_live(c, tau)
                if live is not None:
                    n += live.tracked(tau)
                    moved.append(live)
                if dead is not None:
                    kept.append(dead)
            # pending keeps its garbage in the order it became garbage (the increments take it so)
            part[:] = rootless + ([merge_cohorts(kept, tau)] if (kept and part is self.pending) else kept)
        if moved:
            self.visited.append(merge_cohorts(moved, tau))
            self._balance(tau)
        return n, untracked

    def _untrack_young(self, segment: Cohort, tau: int) -> int:
        """``untrack_tuples(young)``, which every increment runs first: the open segment joins the
        young list and its tuples of atomic values are untracked; returns how many."""
        self.young.append(segment)
        untracked = 0
        for i, c in enumerate(self.young):
            c = _present(c, tau)
            untracked += len(c.urc) + c.uimm
            self._note_untracked(c.urc, c.uimm)
            self.young[i] = Cohort(c.start, c.rc, c.immortal, c.cyc, c.head, _EMPTY, 0, c.row, c.nbytes)
        return untracked

    def increment(self, segment: Cohort, tau: int, budget: int) -> tuple[CollectionResult, bool]:
        """One collecting increment with ``budget`` = ``work_to_do``: the young tuples of atomic
        values are untracked first (they are neither in the increment nor off the budget), then the
        young list and the open segment, then pending objects until the increment holds ``budget``
        objects. Returns the result and whether the pending space is now empty."""
        pre_untracked = self._untrack_young(segment, tau)
        region = self.young
        size = sum(c.tracked(tau) for c in region)
        young_n = size
        self.young = []
        if size < budget:
            self._garbage_first(tau)
        while size < budget and self.pending:
            c = self.pending[0]
            n = c.tracked(tau)
            if n == 0:
                self.pending.pop(0)
                continue
            if size + n <= budget:
                region.append(self.pending.pop(0))
                size += n
            else:
                a, b = _take(c, budget - size, tau)
                region.append(a)
                self.pending[0] = b
                size = budget
        res = self._collect(region, tau, self.visited + self.permanent)
        res.examined_old = res.examined - young_n
        res.untracked += pre_untracked
        return res, not any(c.tracked(tau) for c in self.pending)

    def _garbage_first(self, tau: int) -> None:
        """Order pending as the increments take it: the unreached interpreter objects, then one
        cohort of everything else, which ``_take`` takes cyclic garbage first, in the order it became
        garbage, then live objects (only a marking step that reached nothing leaves any), longest-
        lived first."""
        rootless, rest = _rootless_first(self.pending)
        if len(rest) > 1:
            self.pending = rootless + [merge_cohorts(rest, tau)]

    def collect_young(self, segment: Cohort, tau: int) -> CollectionResult:
        """``gc.collect(0)``: the young list and the open segment."""
        region = [*self.young, segment]
        self.young = []
        return self._collect(region, tau, self.visited + self.pending + self.permanent)

    def collect_full(self, segment: Cohort, tau: int) -> CollectionResult:
        """``gc.collect(2)``: everything but the permanent generation."""
        region = [*self.pending, *self.visited, *self.young, segment]
        old = sum(c.tracked(tau) for c in (*self.pending, *self.visited))
        self.young, self.visited, self.pending = [], [], []
        res = self._collect(region, tau, self.permanent)
        res.examined_old = old
        return res

    def complete_scavenge(self, tau: int) -> bool:
        """The visited space becomes the pending one; True when the spaces swap (an empty
        permanent generation), False when the objects are moved instead (same contents)."""
        rootless, rest = _rootless_first(self.pending + self.visited)
        self.pending = rootless + rest
        self.visited = []
        self.unfrozen = []
        return not any(c.tracked(tau) for c in self.permanent)

    def freeze(self, segment: Cohort) -> None:
        """``gc.freeze()``: everything, the open segment included, becomes permanent."""
        self.permanent.extend([*self.pending, *self.visited, *self.young, segment])
        self.young, self.visited, self.pending = [], [], []

    def unfreeze(self) -> None:
        """``gc.unfreeze()``: the permanent generation joins the visited space (after what it holds),
        its objects still marked visited (``_PyGC_Unfreeze``)."""
        self.visited.extend(self.permanent)
        self.unfrozen.extend(self.permanent)
        self.permanent = []

    # -- the cycle finder on a region ------------------------------------------------------
    def _collect(self, region: list[Cohort], tau: int, outside: list[Cohort]) -> CollectionResult:
        """Collect ``region``; survivors go to the visited space. A garbage cycle is freed unless
        one of its members is garbage in ``outside`` (cycles are told apart by their head)."""
        held = [c.head[: c.garbage(tau)] for c in outside if len(c.cyc)]
        held_heads = np.concatenate(held) if held else _EMPTY
        held_heads = held_heads[held_heads != NEVER]
        examined = freed = untracked = stuck = freed_bytes = 0
        freed_unreach: list[np.ndarray] = []
        freed_rows: list[np.ndarray] = []
        untracked_deaths: list[np.ndarray] = []
        untracked_immortal = 0
        kept: list[Cohort] = []
        mem = self.memory
        for c in region:
            c = _present(c, tau)
            examined += c.tracked(tau)
            untracked += len(c.urc) + c.uimm
            if len(c.urc):
                untracked_deaths.append(c.urc)
            untracked_immortal += c.uimm
            kg = c.garbage(tau)
            cyc, head, row, nb = c.cyc, c.head, c.row, c.nbytes
            if kg:
                collectable = np.ones(kg, dtype=bool) if not len(held_heads) else ~np.isin(head[:kg], held_heads)
                nfree = int(collectable.sum())
                freed_unreach.append(cyc[:kg][collectable])
                keep = np.ones(len(cyc), dtype=bool)
                keep[:kg] = ~collectable
                if mem and row is not None and nb is not None:
                    freed_rows.append(row[:kg][collectable])
                    freed_bytes += int(nb[:kg][collectable].sum())
                    row, nb = row[keep], nb[keep]
                cyc, head = cyc[keep], head[keep]
                stuck += kg - nfree
                freed += nfree
            kept.append(Cohort(c.start, c.rc, c.immortal, cyc, head, _EMPTY, 0, row, nb))
        survivors = examined - freed - untracked
        rootless = sum(c.immortal for c in kept if c.start == ROOTLESS)
        if rootless:  # they stay a cohort of their own (never freed)
            self.visited.insert(0, _never_freed(ROOTLESS, rootless, mem))
        merged = merge_cohorts([c for c in kept if c.start != ROOTLESS] or [_never_freed(0, 0, mem)], tau)
        if merged.tracked(tau):
            self.visited.append(merged)
            self._balance(tau)
        fu = np.concatenate(freed_unreach) if freed_unreach else _EMPTY
        fr = np.concatenate(freed_rows) if freed_rows else _EMPTY
        ud = np.concatenate(untracked_deaths) if untracked_deaths else _EMPTY
        self._note_untracked(ud, untracked_immortal)
        return CollectionResult(examined, freed, survivors, untracked, stuck, fu, fr, freed_bytes, ud,
                                untracked_immortal, 0)

    def _balance(self, tau: int) -> None:
        # keep the visited space at O(log n) cohorts, as the generational heap keeps generation 2
        v = self.visited
        while (len(v) >= 2 and v[-2].size_hint() <= 2 * v[-1].size_hint()
               and v[-2].start != ROOTLESS and v[-1].start != ROOTLESS):
            b = v.pop()
            a = v.pop()
            v.append(merge_cohorts([a, b], tau))
