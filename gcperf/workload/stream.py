"""Event streams: a workload realised as chunks of allocation slots.

The engine never sees objects one by one. A stream hands it chunks of
consecutive allocation *slots* (slot k = the k-th counted GC allocation) with,
per slot, when the object dies and how, and per chunk the number of reference
count frees that happen after each slot's allocation (``d``) - all the saturating
``count0`` needs. Two kinds of stream share this interface:

* :class:`StatisticalStream` draws a :class:`~gcperf.Workload` with numpy
  (lifetimes, cyclic deaths, untracked kinds), seeded;
* :class:`TraceStream` replays an exact :class:`~gcperf.trace.Trace`.

Positions ("seq", see ``heap.py``) of a statistical stream are ``4k`` for the
allocation of slot k, ``4k+1`` for the eval-breaker check right after it (the end
of the CALL that allocated), ``4k+2`` for the frees and deaths of slot k and
``4k+3`` for explicit calls made before slot k+1.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cpython.heap import FLAG_ATOMIC, FLAG_CYCLIC, FLAG_UNTRACKED, NEVER
from ..cpython.policy import CounterScan
from .model import MAX_PAYLOAD, Phase, SizeMix, Workload

CHUNK_SLOTS = 1 << 18
COMPILED_PIECE_MAX = 1 << 15  # pieces of at most this many slots are drawn by the kernel

# event kinds inside a slot (after its allocation)
EV_CHECKPOINT = 0
EV_FREES = 1
EV_OP = 2


@dataclass
class Chunk:
    """A run of allocation slots ``[j0, j0 + n)`` and everything that happens in it.

    Only objects that can still be present after their own slot (*candidates*:
    tracked or atomic objects not freed within their own slot, and every cyclic
    object) are stored one by one; the rest only shows in ``d``.

    Attributes:
        j0: global index of the first slot.
        n: number of slots.
        cand: sorted local slots of the candidates (never-tracked objects may be
            among them, flagged ``FLAG_UNTRACKED``; the heap ignores them).
        cand_death: per candidate, the seq of its free by reference counting, of
            its loss of reachability (cyclic objects), or NEVER.
        cand_flags: per candidate kind bits (``heap.FLAG_*``), None when all plain.
        cand_head: per candidate the slot of the oldest member of its cycle, None
            when every cycle is a lone self-referencing object.
        d: per slot, the number of refcount frees (of objects from any chunk) in it.
        own_slot_object: ``f(local) -> (death_seq, flags) | None``: the object of
            slot ``local`` if it is tracked or atomic but freed inside its own
            slot (it can be present at a 3.12+ checkpoint of that slot).
        ops: explicit calls, ``(seq, name, args)`` sorted by seq.
        op_slots: sorted local slots whose range contains an op.
        start_seq: seq of the chunk's first allocation.
        end_seq: seq of the next chunk's first allocation (NEVER for the last chunk).
    """

    j0: int
    n: int
    cand: np.ndarray
    cand_death: np.ndarray
    cand_flags: np.ndarray | None
    cand_head: np.ndarray | None
    d: np.ndarray
    own_slot_object: Callable[[int], tuple[int, int] | None]
    ops: list[tuple[int, str, tuple]] = field(default_factory=list)
    op_slots: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    start_seq: int = 0
    end_seq: int = NEVER
    _scan: CounterScan | None = None
    dense: tuple[np.ndarray, np.ndarray] | None = None  # (death, flags) of every slot, tests only
    # memory model: per candidate its allocation sizes (object, then payload; 0 =
    # unused), their total, and the row the memory model keeps it under (cyclic
    # objects, -1 otherwise); ``fed`` candidates have been handed to the model
    cand_sizes: np.ndarray | None = None
    cand_nbytes: np.ndarray | None = None
    cand_row: np.ndarray | None = None
    fed: int = 0
    # per slot whether its allocation moves count0 (None: every one does). Versions that count
    # tracked objects only (3.15) do not count the objects created untracked, nor their frees.
    counted: np.ndarray | None = None

    @property
    def scan(self) -> CounterScan:
        """count0 queries over this chunk (built on first use)."""
        if self._scan is None:
            inc = 1 - self.d if self.counted is None else self.counted.astype(np.int64) - self.d
            self._scan = CounterScan(inc)
        return self._scan


class Stream:
    """Interface shared by the two stream kinds."""

    def cand_seqs(self, chunk: Chunk, a: int, b: int) -> np.ndarray:
        """Allocation seqs of the chunk's candidates ``a:b``."""
        raise NotImplementedError

    total_slots: int
    deferred_checkpoint_after_alloc: bool = True

    def chunks(self):  # pragma: no cover - interface
        raise NotImplementedError

    def alloc_seq(self, k: int) -> int:
        """Seq of slot k's allocation."""
        raise NotImplementedError

    def alloc_time(self, k):
        """Mutator time (s) of slot k's allocation; vectorised over arrays."""
        raise NotImplementedError

    def slots_done_by(self, m: float) -> int:
        """Number of allocations done by mutator time ``m``."""
        raise NotImplementedError

    def seq_time(self, seqs: np.ndarray) -> np.ndarray:
        """Mutator time (s) at which the events at ``seqs`` happen."""
        raise NotImplementedError

    def slot_events(self, chunk: Chunk, k: int) -> list[tuple[int, int, object]]:
        """Events of local slot k after its allocation, in order: ``(seq, kind, payload)``."""
        raise NotImplementedError

    def next_checkpoint(self, seq: int) -> int:
        """First eval-breaker check at or after ``seq`` (NEVER if none)."""
        raise NotImplementedError

    def slot_of_seq(self, seq: int) -> int:
        """Slot whose range (its allocation up to the next one) contains ``seq``."""
        raise NotImplementedError

    @property
    def end_time_s(self) -> float:
        raise NotImplementedError


# --------------------------------------------------------------------------
# statistical workloads
# --------------------------------------------------------------------------


class StatisticalStream(Stream):
    """Draw a workload's allocations chunk by chunk.

    Args:
        workload: the workload.
        rng: the only source of randomness.
        phase_ops: explicit calls to make when a phase ends, ``{phase name: [(name, args), ...]}``.
        atomic_tuples_tracked / atomic_dicts_tracked: the version's tracking rules
            (``versions.VersionPreset``); they decide what the workload's atomic
            tuples and untracked dicts become.
        chunk_slots: slots per chunk (results do not depend on it).
        counts_tracked_only: count0 counts tracked objects only (3.15): objects created
            untracked neither raise it nor lower it when freed.
    """

    # draw with the compiled kernel (drawkernel.py) where it applies; False: numpy only (the
    # reference the kernel is tested and benchmarked against; the results are the same)
    compiled_draw = True

    def __init__(
        self,
        workload: Workload,
        rng: np.random.Generator,
        phase_ops: dict[str, list[tuple[str, tuple]]] | None = None,
        atomic_tuples_tracked: bool = True,
        atomic_dicts_tracked: bool = False,
        chunk_slots: int = CHUNK_SLOTS,
        size_rng: np.random.Generator | None = None,
        counts_tracked_only: bool = False,
    ):
        self.counts_tracked_only = counts_tracked_only
        self.workload = workload
        self.rng = rng
        # sizes come from their own generator, so the lifetimes drawn for a seed
        # are the same whether or not memory is simulated
        self.size_rng = size_rng
        self._size_tables: dict[str, _SizeTable] = {}
        self.chunk_slots = int(chunk_slots)
        self.atomic_tuples_tracked = atomic_tuples_tracked
        self.atomic_dicts_tracked = atomic_dicts_tracked
        phases = workload.phases
        self.phases = phases
        self.first_slot = np.cumsum([0] + [p.allocations for p in phases])
        self.start_time = np.cumsum([0.0] + [p.duration_s for p in phases])
        self.rates = np.array([p.alloc_rate_per_s for p in phases])
        self.total_slots = int(self.first_slot[-1])
        self._first_list = [int(x) for x in self.first_slot]
        self._start_list = [float(x) for x in self.start_time]
        self._rate_list = [float(x) for x in self.rates]
        # allocations between eval-breaker checks, per phase (1: a check after every one)
        self._every_list = [int(p.call_allocations) for p in phases]
        self._all_checks = all(m == 1 for m in self._every_list)
        self._calendar: dict[int, list[np.ndarray]] = {}
        self._layouts: dict[str, _Layout] = {}
        # tests set this to get every object's death and kind (Chunk.dense)
        self.record_dense = False
        self._flip = 0
        self._ubuf = [np.empty(0, dtype=np.float32), np.empty(0, dtype=np.float32)]
        self._mbuf = [np.empty(0, dtype=bool), np.empty(0, dtype=bool)]
        # the compiled draw's parameters per phase (None: the phase stays on the numpy path) and its
        # work arrays, which nothing holds once a chunk is built
        self._kparams: dict[int, tuple | None] = {}
        self._kbuf: tuple[np.ndarray, ...] = ()
        self._ops_by_slot: dict[int, list[tuple[int, str, tuple]]] = {}
        for name, ops in (phase_ops or {}).items():
            idx = [p.name for p in phases].index(name)
            last = int(self.first_slot[idx + 1]) - 1
            if last < 0:
                continue
            self._ops_by_slot.setdefault(last, []).extend((4 * last + 3, op, args) for op, args in ops)

    # -- time ------------------------------------------------------------------
    @property
    def end_time_s(self) -> float:
        return float(self.start_time[-1])

    def alloc_seq(self, k: int) -> int:
        return 4 * int(k)

    def cand_seqs(self, chunk: Chunk, a: int, b: int) -> np.ndarray:
        return 4 * (chunk.j0 + chunk.cand[a:b])

    def alloc_time(self, k):
        if isinstance(k, (int, np.integer)):
            # scalar fast path: called once per stop of the engine
            q = min(max(bisect.bisect_right(self._first_list, int(k)) - 1, 0), len(self.phases) - 1)
            return self._start_list[q] + (int(k) - self._first_list[q]) / self._rate_list[q]
        k = np.asarray(k)
        q = np.searchsorted(self.first_slot, k, side="right") - 1
        np.minimum(q, len(self.phases) - 1, out=q)
        np.maximum(q, 0, out=q)
        return self._time_in_phase(k, q)

    def _time_in_phase(self, k, q):
        """Mutator time of the allocations of slots ``k``, which are in phases ``q``."""
        return self.start_time[q] + (k - self.first_slot[q]) / self.rates[q]

    def slots_done_by(self, m: float) -> int:
        q = int(np.searchsorted(self.start_time, m, side="right")) - 1
        if q >= len(self.phases):
            return self.total_slots
        q = max(q, 0)
        k = int(self.first_slot[q]) + int(math.floor((m - self.start_time[q]) * self.rates[q] + 1e-9)) + 1
        return min(max(k, 0), int(self.first_slot[q + 1]), self.total_slots)

    def seq_time(self, seqs: np.ndarray) -> np.ndarray:
        return self.alloc_time(np.asarray(seqs) // 4)

    def slot_of_seq(self, seq: int) -> int:
        return int(seq) // 4

    def _check_slot(self, k: int) -> int:
        """The first slot at or after ``k`` that an eval-breaker check follows."""
        if self._all_checks or k >= self.total_slots:
            return k
        q = min(max(bisect.bisect_right(self._first_list, k) - 1, 0), len(self.phases) - 1)
        m = self._every_list[q]
        if m == 1:
            return k
        first = self._first_list[q]
        # checks end every m-th allocation of the phase, and its last one
        j = first + ((k - first) // m) * m + m - 1
        return min(j, self._first_list[q + 1] - 1)

    def next_checkpoint(self, seq: int) -> int:
        # an allocation is followed by the end of the CALL that made it, except inside a C call
        # that makes several (``Phase.call_allocations``)
        k = (int(seq) + 2) // 4
        return 4 * self._check_slot(k) + 1

    def slot_events(self, chunk: Chunk, k: int) -> list[tuple[int, int, object]]:
        j = chunk.j0 + k
        ev: list[tuple[int, int, object]] = []
        if self._all_checks or self._check_slot(j) == j:
            ev.append((4 * j + 1, EV_CHECKPOINT, None))
        dk = int(chunk.d[k])
        if dk:
            ev.append((4 * j + 2, EV_FREES, dk))
        for op in self._ops_by_slot.get(j, ()):
            ev.append((op[0], EV_OP, op))
        return ev

    # -- drawing -----------------------------------------------------------------
    def _death_slots(self, own: np.ndarray, span: np.ndarray, q: int, only: np.ndarray | None = None) -> np.ndarray:
        """Slot after whose allocation an object allocated at ``own`` dies.

        ``span`` is the lifetime in slots of phase ``q`` (lifetime seconds times the
        phase's rate); it is overwritten. ``only``: a mask of the objects whose slot is wanted
        (the others' are left unfinished: the caller overwrites them).
        """
        # float -> int32 conversion is vectorised, float -> int64 is not: go through
        # int32 and send the rare lifetimes beyond 2**31 slots down the slow path
        huge = float(span.max()) >= _INT32_MAX if len(span) else False
        np.minimum(span, _INT32_MAX, out=span)
        slot = own + span.astype(np.int32)
        end = int(self.first_slot[q + 1])
        late = slot >= end
        if huge:
            late |= span >= _INT32_MAX
        if only is not None:
            late &= only
        if late.any():
            # every ``own`` is in phase q: its time needs no search for the phase
            slot[late] = self._slots_at(self._time_in_phase(own[late], q) + span[late] / self.rates[q])
        return slot

    def _slots_at(self, t: np.ndarray) -> np.ndarray:
        """The slot after whose allocation mutator time ``t`` falls, in whatever phase (NEVER:
        after the workload's end)."""
        # a long lifetime often ends after the workload: those need no search for their phase
        beyond = t >= self.start_time[-1]
        n_beyond = int(np.count_nonzero(beyond))
        if n_beyond == len(t):
            return np.full(len(t), NEVER, dtype=np.int64)
        within = None if n_beyond == 0 else ~beyond
        inside = t if within is None else t[within]
        qq = np.searchsorted(self.start_time, inside, side="right") - 1
        sl = self.first_slot[qq] + np.floor((inside - self.start_time[qq]) * self.rates[qq]).astype(np.int64)
        np.minimum(sl, self.first_slot[qq + 1] - 1, out=sl)
        if within is None:
            return sl
        slot = np.full(len(t), NEVER, dtype=np.int64)
        slot[within] = sl
        return slot

    def _lifetime_slots(self, lt, own: np.ndarray, q: int, only: np.ndarray | None = None) -> np.ndarray:
        """Death slots of objects allocated at slots ``own`` whose lifetimes follow ``lt``.

        ``only``: a mask of the objects whose death slot is wanted; the others get one of no
        meaning, at the same cost in random numbers (the caller draws them again from their own
        component and overwrites them, and every object's draws stay where they were).
        """
        cnt = len(own)
        if lt.kind == "forever":
            return np.full(cnt, NEVER, dtype=np.int64)
        if lt.kind == "immediate":
            return own.copy()
        rng = self.rng
        rate = float(self.rates[q])
        # lifetimes go straight to slots of this phase (seconds x rate)
        if lt.kind == "batch":
            # every object of one period dies at the end of the next one: straight to the slot
            # of that moment (from the time itself, so that the whole batch dies after one
            # slot, whichever phase it was made in)
            period = lt.scale_s
            # (NEVER, the largest int64, stays NEVER)
            if only is not None:
                out = own.copy()
                out[only] = self._lifetime_slots(lt, own[only], q)
                return out
            return np.maximum(self._slots_at((np.floor(self.alloc_time(own) / period) + 2.0) * period), own)
        if lt.kind == "fixed":
            span = np.full(cnt, lt.scale_s * rate)
        elif lt.kind == "exponential":
            span = rng.standard_exponential(cnt)
            span *= lt.scale_s * rate
        else:
            span = rng.standard_normal(cnt)
            span *= lt.sigma
            span += math.log(lt.scale_s * rate)
            np.exp(span, out=span)
        return self._death_slots(own, span, q, only)

    def _layout(self, phase: Phase) -> _Layout:
        lay = self._layouts.get(phase.name)
        if lay is None:
            lay = _Layout(phase, self.atomic_tuples_tracked, self.atomic_dicts_tracked)
            self._layouts[phase.name] = lay
        return lay

    def _draw_piece(self, q: int, g0: int, ubuf: np.ndarray, mbuf: np.ndarray):
        """Draw ``len(ubuf)`` slots of phase ``q`` starting at global slot ``g0``.

        ``ubuf`` and ``mbuf`` are work arrays (float64, bool) of that length that
        receive the uniforms and the freed-in-own-slot mask.

        One uniform number per slot decides the object's lifetime component, its
        kind and whether it dies cyclic (see :class:`_Layout`); only the objects
        that outlive their own slot are then drawn one by one.

        Returns:
            (u, own_dead, sel_local, sel_dslot, sel_flags): the uniforms, a bool mask
            of objects freed in their own slot, and for the others their local
            slot, death slot (NEVER: never) and kind bits.
        """
        rng = self.rng
        lay = self._layout(self.phases[q])
        # the kernel saves numpy's per-call costs, which only short pieces (a calibrated model's phases)
        # feel; over a long piece numpy's vectorised passes are as fast (bench_draw.py)
        kp = self._kernel_params(q) if self.compiled_draw and len(ubuf) <= COMPILED_PIECE_MAX else None
        if kp is not None:
            return self._draw_piece_compiled(kp, q, g0, ubuf, mbuf)
        u = ubuf
        rng.random(out=u, dtype=u.dtype)
        own_dead = np.less(u, lay.low, out=mbuf)
        sel = np.flatnonzero(~own_dead)
        us = u[sel]
        dslot = np.empty(len(sel), dtype=np.int64)
        flags = np.zeros(len(sel), dtype=np.uint8)
        if lay.low < lay.p_imm:
            # cyclic immediates: unreachable within their own slot
            imm = us < lay.p_imm
            dslot[imm] = g0 + sel[imm]
            flags[imm] = FLAG_CYCLIC
            rest: np.ndarray | None = np.flatnonzero(~imm)
            v = (us[rest] - lay.p_imm) / (1.0 - lay.p_imm)
        else:
            rest = None  # every selected slot is of another component
            v = us - lay.p_imm
            v /= 1.0 - lay.p_imm
        n_rest = len(v)
        if n_rest:
            K = len(lay.others)
            if K == 1:
                comp = None
            else:
                # component index = number of cumulative bounds passed
                comp = (v >= lay.cum_other[0]).view(np.uint8).copy()
                for bound in lay.cum_other[1:]:
                    comp += v >= bound
            own_all = (sel if rest is None else sel[rest]) + g0
            # draw the most common component's lifetime for every object at once
            # (no gather), then overwrite the few objects of the other components
            dom = lay.dominant
            dr = self._lifetime_slots(lay.others[dom], own_all, q, None if comp is None else comp == dom)
            if comp is not None:
                for c, lt in enumerate(lay.others):
                    if c == dom:
                        continue
                    sub = np.flatnonzero(comp == c)
                    if len(sub):
                        dr[sub] = self._lifetime_slots(lt, own_all[sub], q)
            if rest is None:
                dslot = dr
            else:
                dslot[rest] = dr
            if lay.has_kinds:
                if comp is None:
                    w = v
                else:
                    w = v - lay.cum_other_lo[comp]
                    w /= lay.width_other[comp]  # uniform again, within the component
                fl = lay.kind_flags(w, comp)
                if lay.any_c:
                    fl[(fl == FLAG_CYCLIC) & (dslot[slice(None) if rest is None else rest] == NEVER)] = 0
                if rest is None:
                    flags = fl
                else:
                    flags[rest] = fl
        return u, own_dead, sel, dslot, flags

    def _kernel_params(self, q: int) -> tuple | None:
        """The compiled draw's parameters for phase ``q`` (None: the phase stays on the numpy path)."""
        if q not in self._kparams:
            self._kparams[q] = _kernel_params(self._layout(self.phases[q]), float(self.rates[q]), self.first_slot,
                                              self.start_time, self.rates)
        return self._kparams[q]

    def _draw_piece_compiled(self, kp: tuple, q: int, g0: int, ubuf: np.ndarray, mbuf: np.ndarray):
        """``_draw_piece`` in one compiled kernel (drawkernel.py): the same numbers, the same results."""
        from .drawkernel import draw_piece

        n = len(ubuf)
        # the piece's slice of each work array is where the piece lies in its chunk, so the pieces
        # of one chunk never share one (the chunk keeps their results until it is built)
        off = g0 % self.chunk_slots
        if len(self._kbuf) == 0 or len(self._kbuf[0]) < off + n:
            size = max(off + n, self.chunk_slots)
            self._kbuf = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.uint8),
                          np.empty(size, dtype=np.uint8), np.empty(size, dtype=np.float32), np.empty(size, dtype=np.int64))
        sel, dslot, flags, comp, v, ridx = (b[off: off + n] for b in self._kbuf)
        m = draw_piece(self.rng, ubuf, mbuf, g0, q, *kp, sel, dslot, flags, comp, v, ridx)
        return ubuf, mbuf, sel[:m], dslot[:m], flags[:m]

    def chunks(self):
        C = self.chunk_slots
        for c, j0 in enumerate(range(0, self.total_slots, C)):
            n = min(C, self.total_slots - j0)
            yield self._make_chunk(c, j0, n)

    def _make_chunk(self, c: int, j0: int, n: int) -> Chunk:
        C = self.chunk_slots
        # the per-slot arrays live in two alternating work buffers: allocating
        # megabyte-sized temporaries per chunk costs page faults (malloc hands
        # them back to the kernel), and the previous chunk must stay readable
        # while the next one is drawn
        self._flip ^= 1
        if len(self._ubuf[self._flip]) < n:
            # float32: 24 bits of resolution are plenty for shares and bands
            self._ubuf[self._flip] = np.empty(max(n, C), dtype=np.float32)
            self._mbuf[self._flip] = np.empty(max(n, C), dtype=bool)
        ubuf, mbuf = self._ubuf[self._flip], self._mbuf[self._flip]
        d = np.empty(n, dtype=np.int64)
        counted: np.ndarray | None = None
        cands, deaths, flag_parts = [], [], []
        us: list[tuple[int, int, np.ndarray, _Layout]] = []
        dense: list[tuple[np.ndarray, np.ndarray]] = []
        size_parts: list[tuple[int, int]] = []  # (phase, candidates) per piece
        rc_in: list[np.ndarray] = []
        q = int(np.searchsorted(self.first_slot, j0, side="right")) - 1
        pos = j0
        while pos < j0 + n:
            end = min(j0 + n, int(self.first_slot[q + 1]))
            if end > pos:
                off = pos - j0
                lay_q = self._layout(self.phases[q])
                u, own_dead, sel, dslot, flags = self._draw_piece(q, pos, ubuf[off : end - j0], mbuf[off : end - j0])
                if lay_q.uncounted > 0:
                    # freed into a free list: allocated (counted), never decremented
                    d[off : off + len(u)] = own_dead & (u >= lay_q.uncounted)
                else:
                    d[off : off + len(u)] = own_dead
                us.append((off, len(u), u, self._layout(self.phases[q])))
                rc = dslot != NEVER
                if lay_q.any_c:
                    rc &= flags != FLAG_CYCLIC
                if self.counts_tracked_only and (lay_q.a > 0 or lay_q.t > 0):
                    # objects created untracked: no count0 step when made, none when freed
                    untr = np.zeros(len(u), dtype=bool)
                    own_idx = np.flatnonzero(own_dead)
                    untr[own_idx] = (lay_q.own_flags(u[own_idx]) & FLAG_UNTRACKED) != 0
                    lasting_untr = (flags & FLAG_UNTRACKED) != 0
                    untr[sel] = lasting_untr
                    if counted is None:
                        counted = np.ones(n, dtype=bool)
                    counted[off : off + len(u)] = ~untr
                    d[off : off + len(u)] *= ~untr
                    rc &= ~lasting_untr
                rc_slots = dslot[rc]
                inside = rc_slots < j0 + n
                rc_in.append(rc_slots[inside] - j0)
                self._to_calendar(rc_slots[~inside])
                if self.record_dense:
                    lay = self._layout(self.phases[q])
                    dd = np.full(len(u), 0, dtype=np.int64)
                    ff = np.zeros(len(u), dtype=np.uint8)
                    own_idx = np.flatnonzero(own_dead)
                    dd[own_idx] = 4 * (pos + own_idx) + 2
                    ff[own_idx] = lay.own_flags(u[own_idx])
                    dd[sel] = np.where(dslot == NEVER, NEVER, 4 * dslot + 2)
                    ff[sel] = flags
                    dense.append((dd, ff))
                # never-tracked objects stay among the candidates, flagged: the
                # heap ignores them, and filtering them out here costs more
                size_parts.append((q, len(sel)))
                cands.append(sel + off if off else sel)
                never = dslot == NEVER
                with np.errstate(over="ignore"):
                    death = dslot * 4  # NEVER * 4 wraps; overwritten just below
                death += 2
                death[never] = NEVER
                deaths.append(death)
                flag_parts.append(flags)
            pos = end
            q += 1
        rc_in.extend(part - j0 for part in self._calendar.pop(c, ()))
        if rc_in:
            d += np.bincount(np.concatenate(rc_in), minlength=n)
        cand = np.concatenate(cands)
        cand_flags: np.ndarray | None = np.concatenate(flag_parts)
        if not cand_flags.any():  # type: ignore[union-attr]
            cand_flags = None
        ops = [op for k in sorted(s for s in self._ops_by_slot if j0 <= s < j0 + n) for op in self._ops_by_slot[k]]
        op_slots = np.array(sorted(s - j0 for s in self._ops_by_slot if j0 <= s < j0 + n), dtype=np.int64)
        end_seq = 4 * (j0 + n) if j0 + n < self.total_slots else NEVER

        def own_slot_object(local: int) -> tuple[int, int] | None:
            for off, ln, u, lay in us:
                if off <= local < off + ln:
                    # the float32 value itself: compared exactly as the vectorised draw did
                    return lay.own_slot_object(u[local - off], 4 * (j0 + local) + 2)
            return None  # pragma: no cover - local is always inside the chunk

        chunk = Chunk(j0, n, cand, np.concatenate(deaths), cand_flags, None, d, own_slot_object,
                      ops, op_slots, 4 * j0, end_seq)
        chunk.counted = counted
        if dense:
            chunk.dense = (np.concatenate([x[0] for x in dense]), np.concatenate([x[1] for x in dense]))
        if self.size_rng is not None:
            sizes = np.empty((len(cand), MAX_PAYLOAD + 1), dtype=np.int32)
            nbytes = np.empty(len(cand), dtype=np.int64)
            off = 0
            for q, k in size_parts:
                self._size_table(self.phases[q]).draw_into(self.size_rng, k, sizes, nbytes, off)
                off += k
            chunk.cand_sizes, chunk.cand_nbytes = sizes, nbytes
            chunk.cand_row = np.full(len(cand), -1, dtype=np.int64)
        return chunk

    def _size_table(self, phase: Phase) -> _SizeTable:
        t = self._size_tables.get(phase.name)
        if t is None:
            t = self._size_tables[phase.name] = _size_table_for(
                tuple(phase.sizes.sizes_bytes), tuple(phase.sizes.weights), float(phase.payload_per_object),
                tuple(phase.payload_sizes.sizes_bytes), tuple(phase.payload_sizes.weights))
        return t

    def _to_calendar(self, later: np.ndarray) -> None:
        if not len(later):
            return
        C = self.chunk_slots
        keys = later // C
        order = np.argsort(keys, kind="stable")
        later, keys = later[order], keys[order]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        for part in np.split(later, bounds):
            self._calendar.setdefault(int(part[0] // C), []).append(part)


_INT32_MAX = float(2**31 - 1)


def _f32(x: float) -> float:
    """``x`` rounded to float32, as numpy rounds a Python float compared with a float32 array (NEP 50)."""
    return float(np.float32(x))


def _kernel_params(lay: _Layout, rate: float, first_slot: np.ndarray, start_time: np.ndarray,
                   rates: np.ndarray) -> tuple | None:
    """The compiled draw's parameters of a phase (in the order of ``drawkernel.draw_piece``'s), or
    None where the numpy path must draw it: a ``batch`` component (its slots come from the period,
    not from random numbers), or a bound that is a numpy scalar (numpy compares one with the float32
    uniforms in float64; the kernel is written for Python floats, which compare in float32)."""
    from .drawkernel import KIND_CODES

    if not lay.others or any(lt.kind not in KIND_CODES for lt in lay.others):
        return None
    if any(type(x) not in (int, float) for x in (lay.low, lay.p_imm, lay.a, lay.t)):
        return None
    kinds = np.array([KIND_CODES[lt.kind] for lt in lay.others], dtype=np.int64)
    pa = np.zeros(len(lay.others))
    pb = np.zeros(len(lay.others))
    for i, lt in enumerate(lay.others):
        if lt.kind in ("fixed", "exponential"):
            pa[i] = lt.scale_s * rate
        elif lt.kind == "lognormal":
            pa[i] = lt.sigma
            pb[i] = math.log(lt.scale_s * rate)
    comp_mode = len(lay.others) > 1
    # with one component the kind is read from the float32 number itself (float32 comparisons with
    # the Python floats a and a + t); with several, from its rescaling, a float64 array
    a_lo = float(lay.a) if comp_mode else _f32(lay.a)
    at_hi = float(lay.a + lay.t) if comp_mode else _f32(lay.a + lay.t)
    cyc_c = lay.c_arr if lay.per_comp_c else np.full(len(lay.others), lay.c_arr[0])
    cyc_bound = np.array([1.0 - lay.plain * c for c in cyc_c], dtype=np.float64)
    f64 = np.float64
    return (_f32(lay.low), bool(lay.low < lay.p_imm), _f32(lay.p_imm), np.float32(lay.p_imm),
            np.float32(1.0 - lay.p_imm), kinds, pa, pb, int(lay.dominant),
            np.ascontiguousarray(lay.cum_other, dtype=f64), np.ascontiguousarray(lay.cum_other_lo, dtype=f64),
            np.ascontiguousarray(lay.width_other, dtype=f64), np.ascontiguousarray(first_slot, dtype=np.int64),
            np.ascontiguousarray(start_time, dtype=f64), np.ascontiguousarray(rates, dtype=f64), bool(lay.has_kinds),
            comp_mode, bool(lay.a > 0), a_lo, bool(lay.t > 0), at_hi, bool(lay.per_comp_c or lay.c_arr[0] > 0),
            cyc_bound, bool(lay.any_c), np.uint8(lay.atomic_flag), np.uint8(lay.untracked_flag))


def _row_sums(sizes: np.ndarray) -> np.ndarray:
    """Per-row totals of an (n, k) int32 size table as int64 (column adds: sum(axis=1) is slow here)."""
    total = sizes[:, 0].astype(np.int64)
    for j in range(1, sizes.shape[1]):
        total += sizes[:, j]
    return total


class _Sampler:
    """Exact draws from a discrete distribution by inverse CDF, with a lookup table.

    The unit interval is cut into ``2**15`` equal bins; a bin that lies inside one
    outcome's CDF interval maps straight to it, and the bins that straddle a
    boundary fall back to a search. The result is exactly
    ``searchsorted(cdf, u, side="right")``, mostly at the cost of one table lookup.
    The table is kept small (64 KiB of int16 for up to 2**15 outcomes): it is read
    at random, and a larger one misses the cache more than its fewer straddling
    bins save.
    """

    BITS = 15

    def __init__(self, probs: np.ndarray):
        p = np.asarray(probs, dtype=float)
        self.cdf = np.cumsum(p / p.sum())
        self.cdf[-1] = 1.0
        self.last = len(p) - 1
        m = 1 << self.BITS
        edges = np.arange(m + 1, dtype=float) / m
        at = np.minimum(np.searchsorted(self.cdf, edges, side="right"), self.last)
        # the outcome of u in [j/m, (j+1)/m) is at[j] when the right edge's outcome is the same;
        # else the bin straddles a boundary and its entry is -1 - at[j] (the outcome is at[j] or later)
        self.table: np.ndarray = np.where(at[:-1] == at[1:], at[:-1], -1 - at[:-1]).astype(
            np.int16 if len(p) <= 1 << 15 else np.int32)
        self.m = m

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Outcome indices for uniform numbers ``u`` in [0, 1)."""
        j = (u * self.m).astype(np.int32)
        out = self.table[j]
        odd = np.flatnonzero(out < 0)
        if len(odd):
            out[odd] = np.minimum(np.searchsorted(self.cdf, u[odd], side="right"), self.last)
        return out


@functools.lru_cache(maxsize=1024)
def _size_table_for(sizes: tuple, weights: tuple, payload_per_object: float, payload_sizes: tuple,
                    payload_weights: tuple) -> _SizeTable:
    """The size table of these distributions, built once per process: a calibrated model has
    ~100 phases, and a sweep or a validation runs it many times (the tables are read-only)."""
    return _SizeTable(Phase(sizes=SizeMix(sizes, weights), payload_per_object=payload_per_object,
                            payload_sizes=SizeMix(payload_sizes, payload_weights)))


class _SizeTable:
    """Draws, per object, its size and its payload allocations (count and sizes).

    The object size, the payload count (Poisson with mean ``payload_per_object``,
    its tail beyond ``MAX_PAYLOAD`` folded onto the cap) and each payload size are
    independent. When the joint table of (size, count, payload sizes) is small
    enough (at most 2**16 outcomes), one uniform number per object picks a whole
    row from it by inverse CDF (``_Sampler``); otherwise the pair (size, count) is drawn
    first and one more number per payload allocation picks its size.
    """

    MAX_JOINT = 1 << 16

    def __init__(self, phase: Phase):
        sizes = np.array(phase.sizes.sizes_bytes, dtype=np.int32)
        w = np.array(phase.sizes.weights, dtype=float)
        w /= w.sum()
        lam = phase.payload_per_object
        pk = np.array([math.exp(-lam) * lam**k / math.factorial(k) for k in range(MAX_PAYLOAD)])
        pk = np.append(pk, max(0.0, 1.0 - pk.sum()))
        self.k1 = MAX_PAYLOAD + 1
        self.has_payload = lam > 0
        psizes = np.array(phase.payload_sizes.sizes_bytes, dtype=np.int32)
        pw = np.array(phase.payload_sizes.weights, dtype=float)
        pw /= pw.sum()
        counts = range(self.k1) if self.has_payload else range(1)
        n_joint = len(sizes) * sum(len(psizes) ** c for c in counts)
        self.rows: np.ndarray | None = None
        if n_joint <= self.MAX_JOINT:
            # every outcome: (object size, payload sizes...) with its probability, ordered by
            # size, then payload count, then payload sizes lexicographically
            npay = len(psizes)
            blocks = []  # per payload count: (its probability, product of payload shares, payload columns)
            for c in counts:
                pc = float(pk[c]) if self.has_payload else 1.0
                if pc == 0:
                    continue
                # all c-tuples of payload size indices, in lexicographic order (c = 0: one empty tuple)
                combos = np.indices((npay,) * c).reshape(c, npay**c)
                prod = pw[combos[0]] if c else None
                for j in range(1, c):
                    prod = prod * pw[combos[j]]
                cols = np.zeros((npay**c, MAX_PAYLOAD), dtype=np.int32)
                cols[:, :c] = psizes[combos].T
                blocks.append((pc, prod, cols))
            prob_parts, row_parts = [], []
            for si, sz in enumerate(sizes):
                for pc, prod, cols in blocks:
                    prob_parts.append(np.array([w[si] * pc]) if prod is None else (w[si] * pc) * prod)
                    rows = np.empty((len(cols), self.k1), dtype=np.int32)
                    rows[:, 0] = sz
                    rows[:, 1:] = cols
                    row_parts.append(rows)
            table = np.concatenate(row_parts)
            self.rows = table
            self.alias = _Sampler(np.concatenate(prob_parts))
            # for the compiled draw: each row as int64 words (one load and store per two sizes), its total
            self.words = np.ascontiguousarray(table).view(np.int64)
            self.totals = table.sum(axis=1, dtype=np.int64)
        else:
            joint = np.outer(w, pk).ravel()  # index = size_index * (MAX_PAYLOAD + 1) + count
            self.joint = _Sampler(joint)
            self.size_of = np.repeat(sizes, self.k1)
            self.count_of = np.tile(np.arange(self.k1, dtype=np.int8), len(sizes))
            self.payload = _Sampler(pw)
            self.psizes = psizes

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """int32 array (n, 1 + MAX_PAYLOAD): object size, then payload sizes (0 = none)."""
        out = np.empty((n, self.k1), dtype=np.int32)
        self.draw_into(rng, n, out, np.empty(n, dtype=np.int64), 0)
        return out

    def draw_into(self, rng: np.random.Generator, n: int, out: np.ndarray, nbytes: np.ndarray, off: int) -> None:
        """Draw ``n`` objects into rows ``off:off + n`` of ``out`` and their totals into ``nbytes``."""
        if self.rows is not None:
            from .sizedraw import draw_rows

            a = self.alias
            draw_rows(rng.random(n), a.table, a.cdf, float(a.m), self.words, self.totals, out.view(np.int64), nbytes,
                      off)
            return
        part = out[off: off + n]
        part[:] = 0
        if n == 0:
            return
        idx = self.joint.sample(rng.random(n))
        part[:, 0] = self.size_of[idx]
        if self.has_payload:
            counts = self.count_of[idx]
            for j in range(1, self.k1):
                rows = np.flatnonzero(counts >= j)
                if not len(rows):
                    break
                part[rows, j] = self.psizes[self.payload.sample(rng.random(len(rows)))]
        nbytes[off: off + n] = _row_sums(part)


class _Layout:
    """How one uniform number per slot is split into the slot's random choices.

    ``[0, p_imm)`` are objects of the immediate component; inside it, by
    position: atomic tuples, never-tracked containers, plain objects, and at the
    top the plain objects that die as cyclic garbage. ``low`` is where that last
    band starts: every slot below it is an object freed by reference counting in
    its own slot. ``[p_imm, 1)`` holds the other components in order; rescaled to
    ``[0, 1)`` within its component, the same number picks the kind (atomic,
    never tracked, plain) and, within plain, whether the object dies cyclic.
    Reusing one draw this way keeps the choices independent (a uniform number
    restricted to a sub-interval and rescaled is uniform again).
    """

    def __init__(self, phase: Phase, atomic_tuples_tracked: bool, atomic_dicts_tracked: bool):
        lts = list(phase.lifetimes)
        first_imm = next((i for i, lt in enumerate(lts) if lt.kind == "immediate"), None)
        imm = lts.pop(first_imm) if first_imm is not None else None
        self.p_imm = imm.share if imm is not None else 0.0
        self.others = lts
        a, t, c = phase.atomic_tuple_share, phase.untracked_share, phase.cyclic_share
        # the cyclic share of each component (its own, else the phase's); c is the
        # immediate component's, which decides the band of cyclic immediates
        c_imm = c if imm is None or imm.cyclic_share is None else imm.cyclic_share
        c_other = [c if lt.cyclic_share is None else lt.cyclic_share for lt in lts]
        self.per_comp_c = any(lt.cyclic_share is not None for lt in lts)
        self.c_arr = np.array(c_other if c_other else [c], dtype=float)
        self.a, self.t, self.c = a, t, c_imm
        self.any_c = c_imm > 0 or any(x > 0 for x in c_other)
        self.plain = 1.0 - a - t
        self.low = self.p_imm * (1.0 - self.plain * c_imm)
        # slots below this are freed at once into a free list: no decrement of count0
        self.uncounted = phase.uncounted_free_share
        self.has_kinds = a > 0 or t > 0 or self.any_c
        self.atomic_flag = FLAG_ATOMIC if atomic_tuples_tracked else FLAG_UNTRACKED
        self.untracked_flag = np.uint8(0) if atomic_dicts_tracked else FLAG_UNTRACKED
        rest = 1.0 - self.p_imm
        self.dominant = max(range(len(self.others)), key=lambda i: self.others[i].share) if self.others else 0
        if self.others and rest > 0:
            shares = np.array([lt.share for lt in self.others]) / rest
            self.cum_other = np.cumsum(shares)[:-1]
            self.cum_other_lo = np.concatenate([[0.0], self.cum_other])
            self.width_other = np.maximum(shares, 1e-300)
        else:
            self.cum_other = np.empty(0)
            self.cum_other_lo = np.zeros(1)
            self.width_other = np.ones(1)

    def kind_flags(self, w: np.ndarray, comp: np.ndarray | None = None) -> np.ndarray:
        """Kind bits for objects whose rescaled uniform number is ``w`` (``comp``: their components)."""
        fl = np.zeros(len(w), dtype=np.uint8)
        if self.a > 0:
            fl[w < self.a] = self.atomic_flag
        if self.t > 0:
            fl[(w >= self.a) & (w < self.a + self.t)] = self.untracked_flag
        if self.per_comp_c:
            c = self.c_arr[comp] if comp is not None else self.c_arr[0]
            fl[w >= 1.0 - self.plain * c] = FLAG_CYCLIC
        elif self.c_arr[0] > 0:
            fl[w >= 1.0 - self.plain * self.c_arr[0]] = FLAG_CYCLIC
        return fl

    def own_flags(self, u: np.ndarray) -> np.ndarray:
        """Kind bits of objects freed within their own slot (``u < low``), vectorised."""
        v = u / self.p_imm if self.p_imm > 0 else u
        fl = np.zeros(len(u), dtype=np.uint8)
        fl[v < self.a] = self.atomic_flag
        fl[(v >= self.a) & (v < self.a + self.t)] = self.untracked_flag
        return fl

    def own_slot_object(self, u: np.float32, death_seq: int) -> tuple[int, int] | None:
        """The object of a slot that is not a candidate, if it is present before its own free.

        Non-candidates are objects freed within their own slot (``u < low``) and
        never-tracked objects (which are never present).
        """
        if u >= self.low:
            return None
        v = u / self.p_imm
        if v < self.a:
            flag = int(self.atomic_flag)
        elif v < self.a + self.t:
            flag = int(self.untracked_flag)
        else:
            flag = 0
        if flag & FLAG_UNTRACKED:
            return None
        return death_seq, flag


# --------------------------------------------------------------------------
# exact traces
# --------------------------------------------------------------------------


class TraceStream(Stream):
    """Replay an exact trace (see ``trace.py``) in chunks of ``chunk_slots``."""

    def __init__(self, trace, chunk_slots: int = CHUNK_SLOTS, counts_tracked_only: bool = False,
                 keep_untracked: bool = False):
        self.trace = trace
        # never-tracked objects stay candidates when their number matters (3.14.3t's long_lived_total)
        self.keep_untracked = keep_untracked
        self.chunk_slots = int(chunk_slots)
        self.total_slots = trace.n
        # 3.15 counts tracked objects only: objects created untracked move count0 neither way
        self._uncounted = ((trace.flags & FLAG_UNTRACKED) != 0) if counts_tracked_only else None
        decrements = (trace.death != NEVER) & ((trace.flags & FLAG_CYCLIC) == 0)
        if self._uncounted is not None:
            decrements &= ~self._uncounted
        self._rc_sorted = np.sort(trace.death[decrements])
        self._op_seqs = np.array([op[0] for op in trace.ops], dtype=np.int64)

    @property
    def end_time_s(self) -> float:
        return self.trace.n * self.trace.alloc_interval_s

    def alloc_seq(self, k: int) -> int:
        return int(self.trace.alloc_seq[k])

    def cand_seqs(self, chunk: Chunk, a: int, b: int) -> np.ndarray:
        return self.trace.alloc_seq[chunk.j0 + chunk.cand[a:b]]

    def alloc_time(self, k):
        k = np.asarray(k)
        t = k * self.trace.alloc_interval_s
        return t if t.ndim else float(t)

    def slots_done_by(self, m: float) -> int:
        return min(self.total_slots, int(math.floor(m / self.trace.alloc_interval_s + 1e-9)) + 1)

    def seq_time(self, seqs: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.trace.alloc_seq, np.asarray(seqs), side="right") - 1
        return np.maximum(k, 0) * self.trace.alloc_interval_s

    def slot_of_seq(self, seq: int) -> int:
        return int(np.searchsorted(self.trace.alloc_seq, seq, side="right")) - 1

    def next_checkpoint(self, seq: int) -> int:
        cks = self.trace.checkpoints
        i = int(np.searchsorted(cks, seq))
        return int(cks[i]) if i < len(cks) else NEVER

    def _range_events(self, lo: int, hi: int) -> list[tuple[int, int, object]]:
        tr = self.trace
        ev: list[tuple[int, int, object]] = []
        a, b = np.searchsorted(tr.checkpoints, [lo, hi])
        ev.extend((int(s), EV_CHECKPOINT, None) for s in tr.checkpoints[a:b])
        a, b = np.searchsorted(self._rc_sorted, [lo, hi])
        ev.extend((int(s), EV_FREES, 1) for s in self._rc_sorted[a:b])
        a, b = np.searchsorted(self._op_seqs, [lo, hi])
        ev.extend((tr.ops[i][0], EV_OP, tr.ops[i]) for i in range(a, b))
        ev.sort(key=lambda e: e[0])
        return ev

    def slot_events(self, chunk: Chunk, k: int) -> list[tuple[int, int, object]]:
        j = chunk.j0 + k
        tr = self.trace
        lo = int(tr.alloc_seq[j]) + 1
        hi = int(tr.alloc_seq[j + 1]) if j + 1 < tr.n else NEVER
        return self._range_events(lo, hi)

    def chunks(self):
        tr = self.trace
        C = self.chunk_slots
        slot_of_death = np.searchsorted(tr.alloc_seq, tr.death, side="right") - 1
        own = np.arange(tr.n, dtype=np.int64)
        cyc = (tr.flags & FLAG_CYCLIC) != 0
        finite = tr.death != NEVER
        dec = finite & ~cyc
        if self._uncounted is not None:
            dec &= ~self._uncounted
        rc_slots_all = np.sort(slot_of_death[dec])
        # never-tracked objects stay among the candidates when memory is simulated
        # (they occupy memory); the heap ignores them either way
        keep_kind = True if (tr.sizes is not None or self.keep_untracked) else (tr.flags & FLAG_UNTRACKED) == 0
        cand_all = np.flatnonzero(((slot_of_death != own) | cyc | ~finite) & keep_kind)
        op_slot_all = np.searchsorted(tr.alloc_seq, self._op_seqs, side="right") - 1
        has_flags = bool(tr.flags.any())
        has_heads = bool(cyc.any())

        def own_slot_object(j: int) -> tuple[int, int] | None:
            f = int(tr.flags[j])
            if f & FLAG_UNTRACKED:
                return None
            return int(tr.death[j]), f

        if tr.n == 0:  # an empty trace (gc calls only, or nothing): one empty chunk
            e = np.empty(0, dtype=np.int64)
            yield Chunk(0, 0, e, e, None, None, e, own_slot_object, [], e, NEVER, NEVER)
            return
        for j0 in range(0, tr.n, C):
            n = min(C, tr.n - j0)
            a, b = np.searchsorted(rc_slots_all, [j0, j0 + n])
            d = np.bincount(rc_slots_all[a:b] - j0, minlength=n).astype(np.int64)
            ca, cb = np.searchsorted(cand_all, [j0, j0 + n])
            cidx = cand_all[ca:cb]
            in_chunk = (op_slot_all >= j0) & (op_slot_all < j0 + n)
            op_slots = np.unique(op_slot_all[in_chunk] - j0)
            ops = [tr.ops[i] for i in np.flatnonzero(in_chunk)]
            ch = Chunk(
                j0,
                n,
                cidx - j0,
                tr.death[cidx],
                tr.flags[cidx] if has_flags else None,
                tr.head[cidx] if has_heads else None,
                d,
                (lambda local, j0=j0: own_slot_object(j0 + local)),
                ops,
                op_slots.astype(np.int64),
                int(tr.alloc_seq[j0]),
                int(tr.alloc_seq[j0 + n]) if j0 + n < tr.n else NEVER,
            )
            if self._uncounted is not None and self._uncounted[j0 : j0 + n].any():
                ch.counted = ~self._uncounted[j0 : j0 + n]
            if tr.sizes is not None:
                ch.cand_sizes = tr.sizes[cidx]
                ch.cand_nbytes = _row_sums(ch.cand_sizes)
                ch.cand_row = np.full(len(cidx), -1, dtype=np.int64)
            yield ch

    def pre_events(self) -> list[tuple[int, int, object]]:
        """Events before the first allocation (only ops and checkpoints can be there)."""
        first = int(self.trace.alloc_seq[0]) if self.trace.n else NEVER
        return [e for e in self._range_events(-1, first) if e[1] != EV_FREES]
