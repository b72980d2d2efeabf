"""The interpreter state a run advances: counters, heap, open segment, records.

This is the numpy side of the engine. ``engine.py`` drives it from SimPy
processes: it asks :meth:`Machine.plan` how much mutator work comes before the
next slot that needs attention (a slot whose allocation crosses threshold0, a
slot with explicit gc calls, a chunk boundary), lets that much simulated time
pass, then calls :meth:`Machine.arrive`, which handles the slot exactly and
returns the stop-the-world pauses it caused. Slots in between are evaluated in
bulk: they change nothing but ``count0``, which the Lindley recursion of
``policy.py`` computes for a whole run of slots at once.

Order of events inside slot k (allocation at seq ``a_k``):

1. the allocation: +1 to count0. On 3.8-3.11 a due collection runs right here,
   inside the allocator, before the new object is linked (it is not part of
   the collection and its +1 is wiped by the reset). On 3.12+ it is scheduled.
2. the slot's events in seq order: eval-breaker checks (a scheduled collection
   runs, the generation being chosen from the counts at that moment), frees
   (-1 each, saturating at 0), gc calls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..cpython.ftcount import NO_STOP, ft_walk
from ..cpython.heap import (
    _EMPTY,
    FLAG_CYCLIC,
    FLAG_UNTRACKED,
    NEVER,
    Cohort,
    CollectionResult,
    Heap,
    LiveTally,
    make_cohort,
    merge_cohorts,
)
from ..cpython.incremental import MARK_COST_FRACTION, IncrementalHeap, IncrementalPolicy
from ..cpython.policy import FreeThreadedPolicy, GenerationalPolicy
from ..cpython.versions import VersionPreset
from ..memory.queued import QueuedMemory
from ..workload.stream import EV_CHECKPOINT, EV_FREES, Chunk, Stream

FT_SKIPPED_VISIT = 0.4
"""Cost of a frozen or untracked object in a free-threaded collection, as a fraction of a tracked one's."""

COLLECTION_FIELDS = (
    "time_s",
    "mutator_time_s",
    "seq",
    "allocations",
    "reason",
    "generation",
    "count0",
    "examined",
    "garbage_freed",
    "survivors",
    "untracked",
    "garbage_stuck",
    "full_vetoed",
    "pause_s",
    "heap_objects_after",
    "garbage_before",
    "garbage_mb_before",
    "footprint_mb_before",
    "long_lived_pending",
    "long_lived_total",
)

TIMELINE_FIELDS = (
    "time_s",
    "mutator_time_s",
    "allocations",
    "gen0_objects",
    "gen1_objects",
    "gen2_objects",
    "permanent_objects",
    "live_objects",
    "garbage_objects",
    "footprint_mb",
    "arenas",
    "pools_in_use",
    "live_mb",
    "garbage_mb",
    "large_mb",
    "fragmentation_mb",
)

_MB = 1024.0 * 1024.0
_NAN = float("nan")
# where the memory model's figures go in a timeline row and a collection record
_TIMELINE_CORE = TIMELINE_FIELDS.index("footprint_mb")
_RECORD_FOOTPRINT = COLLECTION_FIELDS.index("footprint_mb_before")

_MAX_SEGMENT_PIECES = 16


class _Growable:
    """An append-only float/int64 buffer with amortised O(1) appends."""

    def __init__(self, dtype):
        self.a = np.empty(64, dtype=dtype)
        self.n = 0

    def append(self, v) -> None:
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty_like(self.a)])
        self.a[self.n] = v
        self.n += 1

    @property
    def view(self) -> np.ndarray:
        return self.a[: self.n]


class Machine:
    """State and exact rules of one simulated interpreter.

    Args:
        stream: the workload as chunks of allocation slots.
        policy: the collector's counters and rules.
        heap: the generations.
        preset: where the trigger fires and related version facts.
        pause_s: ``f(generation, examined, freed, examined_old) -> seconds`` of a collection
            (``examined_old``: of the examined objects, those that were in generation 2).
        memory: an ``allocator.MemoryModel`` (None: no memory model).
        baseline_bytes: resident bytes of the interpreter itself, added to the footprint.
        memory_thread: run the memory model on a thread of its own (same results); None: on two
            or more CPUs, on its thread while its batches are large (``memory.queued.QueuedMemory``).
    """

    def __init__(self, stream: Stream, policy: GenerationalPolicy, heap: Heap | IncrementalHeap, preset: VersionPreset,
                 pause_s,
                 memory=None, baseline_bytes: int = 0, memory_thread: bool | None = None):
        # the engine only tells the memory model what happens and reads its statistics at the
        # end (memory/queued.py): footprints are filled into the timeline and the collections then
        self.memory = QueuedMemory(memory, memory_thread) if memory is not None else None
        self._mem_timeline: list[tuple[int, int, int]] = []  # (timeline row, stats ticket, garbage bytes)
        self._mem_records: list[tuple[int, int]] = []  # (collection record, stats ticket)
        self.baseline_bytes = baseline_bytes
        self.peak_garbage_bytes = 0
        self.stream = stream
        self.policy = policy
        self.heap = heap
        self.deferred = preset.deferred_trigger
        # the free-threaded build: count0 in steps of 512, whole-heap collections (policy.py)
        self.ft: FreeThreadedPolicy | None = policy if isinstance(policy, FreeThreadedPolicy) else None
        # 3.14.0-3.14.4: increments over a young list and two old spaces (cpython/incremental.py)
        self.inc: IncrementalPolicy | None = policy if isinstance(policy, IncrementalPolicy) else None
        self._plan_l = 0
        self._ft_live_all = bool(preset.ft_live_counts_all) and self.ft is not None
        # 3.14.3t+: death positions of the untracked objects the heap does not hold (never tracked,
        # or untracked by a collection), for long_lived_total
        self._untracked = LiveTally()
        self._ft_base_untracked = preset.interpreter_untracked if self._ft_live_all else 0
        self._gate_seq = 0  # the position at which the memory gate reads resident memory
        if self.ft is not None and self.ft.memory_gate and memory is not None:
            self.ft.memory_kib = self._resident_kib
        self.deferred_checks_enabled = preset.deferred_run_checks_enabled
        self.pause_s = pause_s
        self._chunks = iter(stream.chunks())
        self.chunk: Chunk = next(self._chunks)
        self.total = stream.total_slots
        self.pos = 0  # slots allocated so far
        self.scheduled = False
        self.finished = False
        self.seg_start = 0
        self.seg_pieces: list[Cohort] = []
        self.mut_time = 0.0
        self.wall = 0.0  # set by the driver before arrive()/sync()
        self.total_pause = 0.0
        self.records: list[tuple] = []
        self.timeline: list[tuple] = []
        self._pauses: list[float] = []
        self._plan_k = 0
        self._plan_y = 0
        self._coll_seq = _Growable(np.int64)
        # the pause time before each collection's end, after a leading 0 (the wall clock of an
        # event is its mutator time plus the pauses of the collections before it)
        self._coll_cum_pause = _Growable(np.float64)
        self._coll_cum_pause.append(0.0)
        self.garbage_seconds = 0.0  # integral of uncollected garbage over wall time
        self.peak_garbage = 0
        for ev in getattr(stream, "pre_events", lambda: [])():
            self._event(ev)
        self.on_progress: Callable[[int, int], None] | None = None  # called with (slots done, total slots) at every stop (it must be cheap)

    # ------------------------------------------------------------------ driving
    def plan(self) -> float:
        """Decide the next stop; return the mutator seconds of work before it."""
        if self.on_progress is not None:
            self.on_progress(self.pos, self.total)
        self._next_chunk_if_done()
        if self.pos >= self.total:
            self._plan_k = self.total
            self._plan_y = self.policy.count[0]
            if self.ft is not None:
                self._plan_l = self.ft.local
            return max(self.stream.end_time_s - self.mut_time, 0.0)
        ch = self.chunk
        local = self.pos - ch.j0
        limit = ch.n
        if len(ch.op_slots):
            i = int(np.searchsorted(ch.op_slots, local))
            if i < len(ch.op_slots):
                limit = min(limit, int(ch.op_slots[i]))
        y = self.policy.count[0]
        t0 = self.policy.auto_threshold
        if self.scheduled:
            # a collection waits for the next eval-breaker check
            ck = self.stream.next_checkpoint(self.stream.alloc_seq(self.pos))
            if ck != NEVER:
                limit = min(limit, self.stream.slot_of_seq(ck) - ch.j0)
        if self.ft is not None:
            pol = self.ft
            need = pol.live_need() if (t0 is not None and not self.scheduled) else NO_STOP
            k, lo, y = ft_walk(ch.d, local, limit, pol.local, y, need, pol.count_floor)
            self._plan_l = int(lo)
            y = int(y)
            k = int(k)
        elif self.scheduled or t0 is None:
            k = limit
            y = ch.scan.value(local, y, k)
        else:
            k, y = ch.scan.first_trigger(local, limit, y, t0)
            if ch.counted is not None:
                # an allocation that count0 does not count (3.15: created untracked) cannot
                # trigger: go on after it
                while k < limit and not ch.counted[k]:
                    y = ch.scan.value(k, y, k + 1)
                    k, y = ch.scan.first_trigger(k + 1, limit, y, t0)
        self._plan_k = ch.j0 + k
        self._plan_y = y
        target = self._plan_k
        t = self.stream.alloc_time(target) if target < self.total else self.stream.end_time_s
        return max(float(t) - self.mut_time, 0.0)

    def arrive(self) -> list[float]:
        """Reach the planned stop and handle it; return the pauses it caused (seconds)."""
        k = self._plan_k
        self.policy.count[0] = self._plan_y
        if self.ft is not None:
            self.ft.local = self._plan_l
        self.pos = k
        if k >= self.total:
            self.mut_time = max(self.mut_time, self.stream.end_time_s)
            self.finished = True
            return self._take_pauses()
        self.mut_time = float(self.stream.alloc_time(k))
        ch = self.chunk
        if k < ch.j0 + ch.n:
            self._slot(k - ch.j0)
        return self._take_pauses()

    def sync(self, mut_time: float) -> None:
        """Bring the state to mutator time ``mut_time``, before the planned stop."""
        j = self.stream.slots_done_by(mut_time)
        j = max(self.pos, min(j, self._plan_k))
        if j > self.pos:
            ch = self.chunk
            if self.ft is not None:
                _, lo, y = ft_walk(ch.d, self.pos - ch.j0, j - ch.j0, self.ft.local, self.ft.count[0], NO_STOP,
                                   self.ft.count_floor)
                self.ft.local, self.ft.count[0] = int(lo), int(y)
            else:
                self.policy.count[0] = ch.scan.value(self.pos - ch.j0, self.policy.count[0], j - ch.j0)
            self.pos = j
        self.mut_time = max(self.mut_time, mut_time)

    # --------------------------------------------------------------- slot logic
    def _slot(self, local: int) -> None:
        ch = self.chunk
        j = ch.j0 + local
        pol = self.policy
        t0 = pol.auto_threshold
        if self.ft is not None:
            # a flush that the collector says yes to schedules a collection (3.13t+: deferred)
            self._gate_seq = self.stream.alloc_seq(j)
            if self.ft.allocate():
                self.scheduled = True
            self.pos = j + 1
            for ev in self.stream.slot_events(ch, local):
                self._event(ev)
            return
        # an allocation count0 does not count (3.15: created untracked) moves it not and triggers nothing
        counted = ch.counted is None or bool(ch.counted[local])
        if counted:
            pol.count[0] += 1
        if counted and t0 is not None and pol.count[0] > t0:
            if self.deferred:
                self.scheduled = True
            else:
                # 3.8-3.11: collect inside the allocator, before linking object j
                self._auto_collect(self.stream.alloc_seq(j), pol.count[0])
        self.pos = j + 1
        for ev in self.stream.slot_events(ch, local):
            self._event(ev)

    def _event(self, ev: tuple[int, int, object]) -> None:
        seq, kind, payload = ev
        pol = self.policy
        if kind == EV_FREES:
            if self.ft is not None:
                self.ft.deallocate(payload)  # type: ignore[arg-type]
            else:
                c = pol.count[0] - payload  # type: ignore[operator]
                pol.count[0] = c if c > 0 else 0
        elif kind == EV_CHECKPOINT:
            if self.scheduled:
                self.scheduled = False
                if pol.enabled or not self.deferred_checks_enabled:
                    self._auto_collect(seq, pol.count[0])
        else:
            op: tuple[int, str, tuple] = payload  # type: ignore[assignment]
            self._op(seq, op[1], op[2])

    def _auto_collect(self, seq: int, count0: int) -> None:
        self._gate_seq = seq
        decision = self.policy.select()
        if decision.generation is not None:
            self._collect(decision.generation, seq, "auto", count0, decision.full_vetoed)

    def _op(self, seq: int, name: str, args: tuple) -> None:
        pol = self.policy
        if name == "collect":
            self._collect(int(args[0]), seq, "explicit", pol.count[0], False)
        elif name == "disable":
            pol.enabled = False
        elif name == "enable":
            pol.enabled = True
        elif name == "freeze":
            self.heap.freeze(self._take_segment(seq))
            if self.ft is None:  # the free-threaded gc.freeze() leaves the counts alone
                pol.freeze()
        elif name == "unfreeze":
            self.heap.unfreeze()
        elif name == "set_threshold":
            pol.set_threshold(args)
        else:  # pragma: no cover - the builders only emit the names above
            raise ValueError(f"unknown gc call {name!r}")

    def external_collect(self, generation: int, reason: str) -> list[float]:
        """A collection requested from outside the mutator (a timer thread)."""
        self._next_chunk_if_done()
        seq = self._now_seq()
        self._collect(generation, seq, reason, self.policy.count[0], False)
        return self._take_pauses()

    # --------------------------------------------------------------- collection
    def _collect(self, g: int, seq: int, reason: str, count0: int, vetoed: bool) -> None:
        if self.inc is not None:
            self._collect_incremental(g, seq, reason, count0)
            return
        heap = self.heap
        segment, garbage_before, garbage_mb = self._open_collection(seq)
        footprint_mb = _NAN
        self.policy.begin(g)
        # the free-threaded build collects the whole heap whatever generation it reports
        heap_g = 2 if self.ft is not None else g
        res = heap.collect(heap_g, segment, seq)
        if self.memory is not None and len(res.freed_rows):
            self.memory.free(res.freed_rows)
        examined = res.examined
        old = res.examined_old
        mid = res.examined_mid
        if self.ft is not None:
            hidden = self._ft_hidden(res, seq)
            self._gate_seq = seq
            # long_lived_total: the tracked survivors; on 3.14.3t+ the rest of the GC heap too
            self.policy.end(g, res.survivors + (hidden if self._ft_live_all else 0))
            # the garbage it frees is deallocated after the counts were zeroed: the free-threaded
            # buffer takes those frees (the default build's count0 saturates at 0 and hides them)
            if res.freed:
                self.ft.deallocate(res.freed)
            # the collection walks every block of the GC heap: frozen and untracked objects are
            # visited and skipped, not free (measured on 3.14.7t, 2e5-1e6 objects: a frozen object
            # costs 32-43 % of a tracked one, an untracked tuple about half)
            skipped = int(round(FT_SKIPPED_VISIT * hidden))
            examined += skipped
            old += skipped
        else:
            self.policy.end(g, res.survivors)
        pause = float(self.pause_s(heap_g, examined, res.freed, old, mid))
        self._record(seq, reason, g, count0, res, vetoed, pause, garbage_before, garbage_mb, footprint_mb)

    def _open_collection(self, seq: int) -> tuple[Cohort, int, float]:
        """What every collection does first: the open segment becomes the youngest cohort (it is
        returned), and the uncollected garbage before it is counted (objects, MiB; NaN without
        memory); with memory, the model is brought to ``seq`` first and a footprint ticket taken."""
        garbage_mb = _NAN
        if self.memory is not None:
            self._mem_sync(seq)  # before the segment is taken: it gives the candidates their rows
        # the open segment becomes the newest young cohort now; what it holds is asked of it
        segment = self._take_segment(seq)
        garbage_before = self.heap.garbage(seq) + segment.garbage(seq)
        if self.memory is not None:
            gb = self.heap.garbage_bytes(seq) + segment.garbage_bytes(seq)
            self.peak_garbage_bytes = max(self.peak_garbage_bytes, gb)
            garbage_mb = gb / _MB
            self._mem_records.append((len(self.records), self.memory.stats_later()))
        return segment, garbage_before, garbage_mb

    def _record(self, seq: int, reason: str, g: int, count0: int, res: CollectionResult, vetoed: bool, pause: float,
                garbage_before: int, garbage_mb: float, footprint_mb: float) -> None:
        """Account a collection's pause and append its record."""
        start = self.wall + sum(self._pauses)
        if res.freed:
            self.garbage_seconds += res.freed * start - float(self._wall_of(res.freed_unreach).sum())
        if garbage_before > self.peak_garbage:
            self.peak_garbage = garbage_before
        self._coll_seq.append(seq)
        self._coll_cum_pause.append(self._coll_cum_pause.view[-1] + pause)
        self._pauses.append(pause)
        g0, g1, g2, _ = self.heap.sizes(seq)
        pol = self.policy
        self.records.append(
            (
                start,
                self.mut_time,
                seq,
                self.pos,
                reason,
                g,
                count0,
                res.examined,
                res.freed,
                res.survivors,
                res.untracked,
                res.stuck,
                vetoed,
                pause,
                g0 + g1 + g2,
                garbage_before,
                garbage_mb,
                footprint_mb,
                pol.long_lived_pending,
                pol.long_lived_total,
            )
        )

    def _collect_incremental(self, g: int, seq: int, reason: str, count0: int) -> None:
        """A collection of the 3.14.0-3.14.4 collector: ``g`` 1 is an increment (automatic or
        ``gc.collect(1)``), 0 the young list, 2 everything (cpython/incremental.py)."""
        heap, pol = self.heap, self.inc
        assert isinstance(heap, IncrementalHeap) and pol is not None
        segment, garbage_before, garbage_mb = self._open_collection(seq)
        footprint_mb = _NAN
        work = 1.0  # the share of a collection's cost per examined object
        if g == 1:
            pol.assess(heap.heap_size(seq) + segment.tracked(seq))
            if pol.early_return and pol.work_to_do < 0:
                heap.add_young(segment, seq)  # 3.14.1+: nothing at all while the budget is negative
                res = _nothing()
            elif pol.marking:
                marked, untracked = heap.mark(segment, seq)
                pol.work_to_do -= 2 * marked  # subtracted in mark_at_start and again by its caller
                pol.marking = False
                pol.marks += 1
                res = _nothing()
                res.examined = res.examined_old = marked
                res.survivors = marked
                res.untracked = untracked
                work = MARK_COST_FRACTION
            else:
                res, emptied = heap.increment(segment, seq, pol.work_to_do)
                pol.work_to_do -= res.examined
                if pol.add_back:
                    pol.work_to_do += heap.heap_size(seq) // 10 // pol.scale
                if emptied:
                    pol.completed_scavenge(heap.complete_scavenge(seq))
        elif g == 0:
            res = heap.collect_young(segment, seq)
            pol.young_collected()
        else:
            res = heap.collect_full(segment, seq)
            pol.full_collected()
            pol.completed_scavenge(heap.complete_scavenge(seq))
        if self.memory is not None and len(res.freed_rows):
            self.memory.free(res.freed_rows)
        pause = float(self.pause_s(g, int(round(work * res.examined)), res.freed, int(round(work * res.examined_old))))
        self._record(seq, reason, g, count0, res, False, pause, garbage_before, garbage_mb, footprint_mb)

    def _ft_hidden(self, res, seq: int) -> int:
        """Objects in the GC heap after a free-threaded collection that it does not examine: the
        frozen ones, and on 3.14.3t+ (which counts them) the untracked ones, the interpreter's own
        included. Brings the record of live untracked objects up to ``seq``."""
        hidden = self.heap.sizes(seq)[3]
        if not self._ft_live_all:
            return int(hidden)
        self._untracked.add(res.untracked_deaths, res.untracked_immortal)
        return int(hidden + self._untracked.alive(seq) + self._ft_base_untracked)

    def _resident_kib(self) -> int:
        """Resident memory in KiB at the event being handled (3.14t's memory gate): the memory
        model's footprint."""
        assert self.memory is not None
        self._mem_sync(self._gate_seq)
        return int((self.memory.stats_now()["footprint_bytes"] + self.baseline_bytes) // 1024)

    def _take_pauses(self) -> list[float]:
        p = self._pauses
        self._pauses = []
        self.total_pause += sum(p)
        return p

    def _wall_of(self, seqs: np.ndarray) -> np.ndarray:
        """Wall-clock time of the events at ``seqs`` (mutator time + pauses before them)."""
        mt = self.stream.seq_time(seqs)
        idx = np.searchsorted(self._coll_seq.view, seqs)
        return mt + self._coll_cum_pause.view[idx]

    # ----------------------------------------------------------------- segment
    def _now_seq(self) -> int:
        """Position just before the next allocation (after every event of the last slot)."""
        if self.pos < self.total:
            return self.stream.alloc_seq(self.pos)
        return NEVER - 1

    def _take_segment(self, seq: int) -> Cohort:
        """Close the open segment at ``seq``: it becomes a cohort of generation 0."""
        ch = self.chunk
        s = max(self.seg_start - ch.j0, 0)
        e = self.pos - ch.j0
        part = self._chunk_part(ch, s, e, seq, include_last=True)
        if self.seg_pieces:
            pieces = self.seg_pieces + ([part] if part is not None else [])
            cohort = merge_cohorts(pieces, seq)
        elif part is not None:
            cohort = part
        else:
            empty = np.empty(0, dtype=np.int64)
            mem = empty if self.memory is not None else None
            cohort = make_cohort(self.seg_start, empty, None, None, seq, mem, mem)
        cohort.start = self.seg_start
        self.seg_pieces = []
        self.seg_start = self.pos
        return cohort

    def _chunk_part(self, ch: Chunk, s: int, e: int, seq: int, include_last: bool) -> Cohort | None:
        if e <= s:
            return None
        a, b = np.searchsorted(ch.cand, [s, e])
        death = ch.cand_death[a:b]
        flags = None if ch.cand_flags is None else ch.cand_flags[a:b]
        head = None if ch.cand_head is None else ch.cand_head[a:b]
        row = nbytes = None
        if self.memory is not None:
            row, nbytes = ch.cand_row[a:b], ch.cand_nbytes[a:b]  # type: ignore[index]
        if include_last and (b == a or ch.cand[b - 1] != e - 1):
            # the object of the current slot can be present at seq yet freed
            # later in its own slot, so it is not among the candidates (nor in
            # the memory model: an allocation freed at once changes no pool)
            obj = ch.own_slot_object(e - 1)
            if obj is not None and obj[0] > seq:
                death = np.append(death, obj[0])
                if flags is not None or obj[1]:
                    fl = flags if flags is not None else np.zeros(b - a, dtype=np.uint8)
                    flags = np.append(fl, np.uint8(obj[1]))
                if head is not None:
                    head = np.append(head, NEVER)
                if row is not None and nbytes is not None:
                    row, nbytes = np.append(row, -1), np.append(nbytes, 0)
        if self._ft_live_all and flags is not None:
            u = death[((flags & FLAG_UNTRACKED) != 0) & (death > seq)]
            self._untracked.add(u)
        return make_cohort(ch.j0 + s, death, flags, head, seq, row, nbytes)

    def _segment_counts(self, seq: int) -> tuple[int, int, int]:
        """(tracked objects, cyclic garbage, its bytes) of the open segment at ``seq``."""
        tracked = sum(c.tracked(seq) for c in self.seg_pieces)
        garbage = sum(c.garbage(seq) for c in self.seg_pieces)
        gbytes = sum(c.garbage_bytes(seq) for c in self.seg_pieces)
        ch = self.chunk
        s = max(self.seg_start - ch.j0, 0)
        e = self.pos - ch.j0
        if e > s:
            a, b = np.searchsorted(ch.cand, [s, e])
            dth = ch.cand_death[a:b]
            if ch.cand_flags is None:
                tracked += int(np.count_nonzero(dth > seq))
            else:
                fl = ch.cand_flags[a:b]
                cyc = (fl & FLAG_CYCLIC) != 0
                present = (dth > seq) | cyc
                present &= (fl & FLAG_UNTRACKED) == 0
                tracked += int(np.count_nonzero(present))
                gmask = cyc & (dth < seq)
                garbage += int(np.count_nonzero(gmask))
                if ch.cand_nbytes is not None:
                    gbytes += int(ch.cand_nbytes[a:b][gmask].sum())
        return tracked, garbage, gbytes

    def _next_chunk_if_done(self) -> None:
        ch = self.chunk
        if self.pos < ch.j0 + ch.n or self.pos >= self.total:
            return
        if self.memory is not None:
            self._feed()  # every candidate of the chunk, before its arrays go
        # the open segment continues into the next chunk: keep what is still present
        s = max(self.seg_start - ch.j0, 0)
        part = self._chunk_part(ch, s, ch.n, ch.end_seq, include_last=False)
        if part is not None:
            self.seg_pieces.append(part)
            if len(self.seg_pieces) > _MAX_SEGMENT_PIECES:
                merged = merge_cohorts(self.seg_pieces, ch.end_seq)
                self.seg_pieces = [merged]
        self.chunk = next(self._chunks)

    # ----------------------------------------------------------------- sampling
    def sample(self) -> None:
        """Append a timeline row for the current position."""
        self._next_chunk_if_done()
        seq = self._now_seq()
        g0, g1, g2, perm = self.heap.sizes(seq)
        st, sg, sgb = self._segment_counts(seq)
        g0 += st
        garbage = self.heap.garbage(seq) + sg
        if self.memory is not None:
            self._mem_sync(seq)
            gb = self.heap.garbage_bytes(seq) + sgb
            self.peak_garbage_bytes = max(self.peak_garbage_bytes, gb)
            self._mem_timeline.append((len(self.timeline), self.memory.stats_later(), gb))
        self.timeline.append(
            (self.wall, self.mut_time, self.pos, g0, g1, g2, perm, g0 + g1 + g2 + perm - garbage, garbage,
             *(_NAN,) * 7)
        )

    def _fill_memory(self) -> None:
        """Wait for the memory model and put its statistics into the timeline and the collections."""
        assert self.memory is not None
        mem = self.memory
        mem.close()
        for k, ticket, gb in self._mem_timeline:
            ms = mem.result(ticket)
            foot = ms["footprint_bytes"]
            req = ms["requested_bytes_in_use"]
            self.timeline[k] = self.timeline[k][:_TIMELINE_CORE] + (
                (foot + self.baseline_bytes) / _MB,
                ms["arenas_mapped"],
                ms["pools_in_use"],
                (req - gb) / _MB,
                gb / _MB,
                (ms["large_mmapped_bytes"] + ms["large_heap_bytes"]) / _MB,
                (foot - req) / _MB,
            )
        for k, ticket in self._mem_records:
            rec = self.records[k]
            foot_mb = (mem.result(ticket)["footprint_bytes"] + self.baseline_bytes) / _MB
            self.records[k] = rec[:_RECORD_FOOTPRINT] + (foot_mb,) + rec[_RECORD_FOOTPRINT + 1:]

    # ------------------------------------------------------------------ memory
    def _feed(self) -> None:
        """Hand the memory model every candidate allocated so far in this chunk."""
        ch = self.chunk
        a = ch.fed
        b = int(ch.cand.searchsorted(self.pos - ch.j0))
        if b <= a:
            return
        death = ch.cand_death[a:b]
        if ch.cand_flags is not None:
            cyc = (ch.cand_flags[a:b] & FLAG_CYCLIC) != 0
            free_seq = np.where(cyc, NEVER, death)
        else:
            cyc = np.zeros(b - a, dtype=bool)
            free_seq = death
        assert self.memory is not None and ch.cand_sizes is not None and ch.cand_row is not None
        ch.cand_row[a:b] = self.memory.allocate(self.stream.cand_seqs(ch, a, b), free_seq, ch.cand_sizes[a:b], cyc)
        ch.fed = b

    def _mem_sync(self, seq: int) -> None:
        """Bring the memory model to ``seq`` (queued): allocations and frees before it are done."""
        assert self.memory is not None
        self._feed()
        self.memory.advance(seq)

    def finish(self) -> None:
        """Close the books at the end of the run: garbage still uncollected counts until the end;
        :attr:`end_state` holds what the ``gc`` module would report then."""
        seq = NEVER - 1
        g0, g1, g2, perm = self.heap.sizes(seq)
        seg_tracked, _, seg_garbage_bytes = self._segment_counts(seq)
        g0 += seg_tracked
        pol = self.policy
        count = [int(x) for x in pol.count]
        if self.ft is not None:
            # gc.get_count() adds the caller's buffer first; gc.get_objects(g) lists the whole heap
            count[0] += self.ft.local
            g0 = g1 = g2 = g0 + g1 + g2
        if self.inc is not None:
            # gc.get_objects(1) is empty on the incremental collector; 2 lists both old spaces
            g1, g2 = 0, g1 + g2
        self.end_state = {
            "count": count,  # gc.get_count()
            "generation_sizes": [int(g0), int(g1), int(g2)],  # len(gc.get_objects(g))
            "freeze_count": int(perm),  # gc.get_freeze_count()
            "thresholds": [int(x) for x in pol.thresholds],
            "enabled": bool(pol.enabled),
            "long_lived_pending": int(pol.long_lived_pending),
            "long_lived_total": int(pol.long_lived_total),
            **({"work_to_do": int(self.inc.work_to_do), "scavenges": int(self.inc.scavenges),
                "marks_not_in_stats": 0 if self.inc.marks_in_stats else int(self.inc.marks)}
               if self.inc is not None else {}),
        }
        if self.memory is not None:
            self.peak_garbage_bytes = max(self.peak_garbage_bytes, self.heap.garbage_bytes(seq) + seg_garbage_bytes)
        end_wall = self.wall
        left = [c.cyc[: c.garbage(seq)] for gen in (*self.heap.gens, self.heap.permanent) for c in gen]
        left += [c.cyc[: c.garbage(seq)] for c in self.seg_pieces]
        ch = self.chunk
        if ch.cand_flags is not None:
            s = max(self.seg_start - ch.j0, 0)
            a, b = np.searchsorted(ch.cand, [s, ch.n])
            left.append(ch.cand_death[a:b][(ch.cand_flags[a:b] & FLAG_CYCLIC) != 0])
        u = np.concatenate(left) if left else np.empty(0, dtype=np.int64)
        u = u[u != NEVER]
        if len(u):
            self.garbage_seconds += len(u) * end_wall - float(self._wall_of(u).sum())
            self.peak_garbage = max(self.peak_garbage, len(u))
        if self.memory is not None:
            self._fill_memory()


def _nothing() -> CollectionResult:
    """The result of a step that collects nothing."""
    return CollectionResult(0, 0, 0, 0, 0, _EMPTY, _EMPTY, 0)
