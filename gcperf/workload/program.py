"""Small programs that are both a gcperf trace and a real Python script.

A :class:`Program` is a list of blocks (loops over a fixed body, straight-line
statements, gc calls, an allocation burst inside one C call). :meth:`Program.trace`
turns it into the exact event sequence the simulator replays;
:meth:`Program.python` renders the same behaviour as a script that runs on a
real interpreter and prints ``gc.get_stats()`` collection counts as JSON. The
fidelity tests run both and compare; users can do the same to check a claim on
their own interpreter.

The script is written so that the measured region allocates nothing but what
the trace says: objects are instances of ``__slots__`` classes (GC-tracked, no
free list), iterators and ranges are built before measuring, and the start state
is the one the simulator assumes (counts zero right after a full collection,
``long_lived_total`` = the objects left in generation 2, reported by the script).

Statement semantics (one loop iteration, in order; "check" = eval-breaker check):

* ``Keep("tracked")``: ``keep.append(A())`` - allocation, check; kept for ever.
  ``Keep("atomic")``: ``keep.append(divmod(i, 7))`` (a tuple of ints);
  ``Keep("untracked")``: ``keep.append(dict())`` (an empty dict: counted, not tracked).
* ``Temp()``: ``A()`` - allocation, check, freed.
* ``Assign(v)``: ``v = A()`` - allocation, check, the previous value is freed.
* ``AssignCycle(v)``: ``v = C(); v.r = v`` - the previous value becomes cyclic garbage.
* ``AssignPair(p, q)``: ``p = C(); q = C(); p.r = q; q.r = p`` - the previous pair
  becomes one garbage cycle when ``q`` is rebound.
* ``Ring(k)``: ``ring[i % k] = A()`` - the object of k iterations ago is freed.
* ``CollectEvery(n, g)``: ``if i % n == n - 1: gc.collect(g)``.

Every iteration ends with a check (the loop's back edge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cpython.heap import FLAG_CYCLIC, NEVER
from ..errors import GcperfError
from .trace import KINDS, Trace, TraceBuilder

# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Keep:
    kind: str = "tracked"
    payload: int = 0  # > 0: a C instance holding bytes(payload) (tracked kind only)


@dataclass(frozen=True)
class Temp:
    payload: int = 0


@dataclass(frozen=True)
class Assign:
    var: str
    payload: int = 0


@dataclass(frozen=True)
class AssignCycle:
    var: str
    payload: int = 0


@dataclass(frozen=True)
class AssignPair:
    first: str
    second: str


@dataclass(frozen=True)
class Ring:
    size: int
    payload: int = 0


@dataclass(frozen=True)
class CollectEvery:
    period: int
    generation: int = 0


Stmt = Keep | Temp | Assign | AssignCycle | AssignPair | Ring | CollectEvery

# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Loop:
    """``for i in range(iterations): <body>``."""

    iterations: int
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Call:
    """A gc module call: ``collect`` (args: generation), ``disable``, ``enable``,
    ``freeze``, ``unfreeze``, ``set_threshold`` (args: one to three thresholds)."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class Burst:
    """``keep.extend(starmap(A, repeat((), n)))``: n kept objects allocated inside one C call."""

    n: int


@dataclass(frozen=True)
class Thin:
    """Free every kept object except every ``keep_every``-th (by position in ``keep``).

    ``for j in range(len(keep)): if j % k: keep[j] = None`` (needs ``preallocate``).
    """

    keep_every: int


Block = Loop | Call | Burst | Thin


@dataclass(frozen=True)
class Program:
    """A program: blocks run in order after the harness's set-up.

    Args:
        blocks: the blocks.
        thresholds: ``gc.set_threshold`` applied before measuring (None: default).
        name: label.
    """

    blocks: tuple[Block, ...]
    thresholds: tuple[int, int, int] | None = None
    name: str = "program"
    preallocate: bool = False  # kept objects go to a list made beforehand (no list growth)
    # the start state: gc.freeze() after the harness's last collection (the interpreter's objects
    # become frozen; long_lived_total stays), then this many objects made and kept (count0 and
    # generation 0 start there); simulate with :meth:`start_state`
    start_frozen: bool = False
    start_young: int = 0

    def start_state(self, long_lived_total: int, free_threaded: bool = False) -> dict:
        """``simulate_trace`` keyword arguments for the start state the script sets up, given the
        ``long_lived_total`` it reports (on the free-threaded build the ``start_young``
        allocations are in the thread's buffer, not in the global count)."""
        n = int(long_lived_total)
        young = self.start_young
        return {"baseline_objects": 0 if self.start_frozen else n, "frozen_objects": n if self.start_frozen else 0,
                "long_lived_total": n, "young_objects": (young, 0),
                "counts": (0 if free_threaded else young, 0, 0),
                **({"local_count": young} if free_threaded else {})}

    # ----------------------------------------------------------------- trace
    def trace(self, sizes: dict[str, int] | None = None, dicts_tracked: bool = False) -> Trace:
        """The exact events of the measured region.

        Args:
            sizes: allocation sizes measured on the target interpreter (the
                ``sizes`` of the script's JSON); with them the trace carries
                per-allocation sizes and the memory model runs.
            dicts_tracked: the target tracks every dict (3.14+, ``VersionPreset.atomic_dicts_tracked``):
                ``Keep("untracked")``'s empty dicts are then plain tracked objects.
        """
        b = TraceBuilder(name=self.name)
        kept: list[np.ndarray] = []  # ids of kept objects, in keep-list order
        for k, block in enumerate(self.blocks):
            if isinstance(block, Loop):
                kept.append(_loop_events(b, block, k, sizes, dicts_tracked))
            elif isinstance(block, Thin):
                if not self.preallocate or block.keep_every < 1:
                    raise GcperfError("Thin needs preallocate=True and keep_every >= 1")
                ids = np.concatenate(kept) if kept else np.empty(0, dtype=np.int64)
                idx = np.arange(len(ids))
                gone = idx % block.keep_every != 0
                b.free_many(ids[gone & (ids >= 0)])
                # freed slots stay in the list as None (-1 here): positions do not move
                kept = [np.where(gone, -1, ids)]
            elif isinstance(block, Call):
                _call(b, block)
            elif isinstance(block, Burst):
                with b.c_call():
                    b.alloc_many(block.n, sizes=None if sizes is None else (sizes["A"],))
            else:  # pragma: no cover
                raise GcperfError(f"unknown block {block!r}")
        return b.build()

    def _keeps(self) -> int:
        n = 0
        for block in self.blocks:
            if isinstance(block, Loop):
                n += block.iterations * sum(isinstance(st, Keep) for st in block.body)
            elif isinstance(block, Burst):
                n += block.n
        return n

    # ----------------------------------------------------------------- python
    def python(self, memory_report: bool = False, free_threaded: bool = False) -> str:
        """A script that runs the program on a real interpreter and prints JSON.

        The JSON has, for the measured region only, ``collections`` and
        ``collected`` (objects found unreachable) per generation from
        ``gc.get_stats()``, plus ``long_lived_total`` (the start state),
        ``version`` and ``thresholds`` (at the end), and ``end``: ``gc.get_count()``, the
        generation sizes and ``gc.get_freeze_count()`` when the region ends (the
        simulation's ``end_state``). Nothing is hooked into the collector:
        a ``gc.callbacks`` hook would itself allocate (its info dict is a counted
        allocation right after a full collection empties the free lists).

        With ``memory_report`` it also prints the allocation ``sizes`` of the
        objects it makes, resident memory (``rss_kib_before``/``after``) and calls
        ``sys._debugmallocstats()`` before and after the region (on stderr).

        With ``free_threaded`` (a 3.13t/3.14t interpreter) the thread's buffered count is
        emptied before the region: ``gc.get_count()`` adds it to the global count and one more
        full collection zeroes that (its tuple is allocated after the flush and released by the
        collection's free-list clearing, so the buffer ends at 0); the start objects of
        ``start_young`` then sit in the buffer (:meth:`start_state`).
        """
        pre: list[str] = []
        body: list[str] = []
        base = 0
        for k, block in enumerate(self.blocks):
            if isinstance(block, Loop):
                p, code = _loop_python(block, k, base if self.preallocate else None)
                base += block.iterations * sum(isinstance(st, Keep) for st in block.body)
                pre += p
                body += code
            elif isinstance(block, Call):
                if block.name == "set_threshold":
                    # a METH_VARARGS call builds an args tuple, a counted allocation whenever the
                    # tuple free list is empty (after a full collection); a prebuilt exact tuple
                    # passed as *args is used as it is
                    pre.append(f"args_{k} = {tuple(int(a) for a in block.args)!r}")
                    body.append(f"gc.set_threshold(*args_{k})")
                else:
                    args = ", ".join(str(a) for a in block.args)
                    body.append(f"gc.{block.name}({args})")
            elif isinstance(block, Thin):
                total = self._keeps()
                body += [f"for j in range({total}):", f"    if j % {block.keep_every}:", "        keep[j] = None"]
            elif isinstance(block, Burst):
                if self.preallocate:
                    raise GcperfError("Burst cannot be used with preallocate")
                pre.append(f"bulk_{k} = starmap(A, repeat((), {block.n}))")
                body.append(f"keep.extend(bulk_{k})")
        th = f"gc.set_threshold{tuple(self.thresholds)}" if self.thresholds is not None else "pass"
        lines = [
            "import gc, json, sys",
            "from itertools import repeat, starmap",
            "class A:",
            "    __slots__ = ()",
            "class C:",
            "    __slots__ = ('r', 'b')",
            f"keep = [None] * {self._keeps()}" if self.preallocate else "keep = []",
            f"young = []; young_range = range({int(self.start_young)})",
            *pre,
            *(_MEMORY_SETUP if memory_report else []),
            "gc.disable()",
            th,
            "gc.collect()",
            "gc.collect()",
            # plain ints only: nothing tracked may survive into the measured region
            "c0, x0, c1, x1, c2, x2 = [v for s in gc.get_stats() for v in (s['collections'], s['collected'])]",
            "n_old = len(gc.get_objects(2))",
            # this last collection leaves counts at zero and n_old survivors in gen 2
            "gc.collect()",
            *(["gc.get_count()", "gc.collect()"] if free_threaded else []),
            *(["gc.freeze()"] if self.start_frozen else []),
            *(["for _ in young_range:", "    young.append(A())"] if self.start_young else []),
            *(["sys._debugmallocstats()", "rss_before = rss()"] if memory_report else []),
            "gc.enable()",
            *body,
            "gc.disable()",
            # the end state: the counts first (read before their tuple is made; unpacked, the
            # tuple is gone before any generation is listed), then each generation's list made,
            # measured and freed before the next (they move count0, not the generations)
            "ec0, ec1, ec2 = gc.get_count()",
            "e0 = len(gc.get_objects(0))",
            "e1 = len(gc.get_objects(1))",
            "e2 = len(gc.get_objects(2))",
            "ef = gc.get_freeze_count()",
            # VmHWM: the peak of this process image (ru_maxrss can carry the parent's over fork/exec)
            *(["rss_after = rss()",
               "rss_peak = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]",
               "sys._debugmallocstats()"] if memory_report else []),
            "after = [(s['collections'], s['collected']) for s in gc.get_stats()]",
            "print(json.dumps({",
            f"    'collections': [after[0][0] - c0, after[1][0] - c1, after[2][0] - c2 - {2 if free_threaded else 1}],",
            "    'collected': [after[0][1] - x0, after[1][1] - x1, after[2][1] - x2],",
            "    'long_lived_total': n_old, 'version': sys.version.split()[0],",
            "    'end': {'count': [ec0, ec1, ec2], 'generation_sizes': [e0, e1, e2], 'freeze_count': ef},",
            "    'thresholds': list(gc.get_threshold()),",
            "    " + ("'sizes': sizes, 'rss_kib_before': rss_before, 'rss_kib_after': rss_after, 'rss_kib_peak': rss_peak,"
                      if memory_report else "") + "}))",
        ]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- helpers



_MEMORY_SETUP = [
    "sizes = {'A': sys.getsizeof(A()), 'C': sys.getsizeof(C()), 'bytes0': sys.getsizeof(b''),",
    "         'tuple2': sys.getsizeof((1, 2)), 'dict0': sys.getsizeof(dict())}",
    "statm = open('/proc/self/statm')",
    "import os",
    "page_kib = os.sysconf('SC_PAGE_SIZE') // 1024",
    "def rss():",
    "    statm.seek(0)",
    "    return int(statm.read().split()[1]) * page_kib",
]


def _stmt_sizes(st, sizes: dict[str, int] | None, kind: str = "tracked") -> tuple[int, ...] | None:
    """Allocation sizes of one object made by statement ``st`` (object, then payload)."""
    if sizes is None:
        return None
    if kind == "atomic":
        return (sizes["tuple2"],)
    if kind == "untracked":
        return (sizes["dict0"],)
    payload = getattr(st, "payload", 0)
    if isinstance(st, (AssignCycle, AssignPair)) or payload:
        return (sizes["C"], sizes["bytes0"] + payload) if payload else (sizes["C"],)
    return (sizes["A"],)


def _call(b: TraceBuilder, c: Call) -> None:
    if c.name == "collect":
        b.collect(*c.args)
    elif c.name in ("disable", "enable", "freeze", "unfreeze"):
        getattr(b, c.name)()
    elif c.name == "set_threshold":
        b.set_threshold(*c.args)
    else:
        raise GcperfError(f"unknown gc call {c.name!r}")


@dataclass
class _Layout:
    """Per-iteration positions of a loop body's events (relative seqs)."""

    width: int = 0
    allocs: list[tuple[int, int, str]] = field(default_factory=list)  # (rel seq, stmt index, kind)
    checkpoints: list[int] = field(default_factory=list)
    deaths: list[tuple[int, int, int]] = field(default_factory=list)  # (rel seq, stmt index, alloc #)

    def take(self) -> int:
        self.width += 1
        return self.width - 1


def _loop_events(b: TraceBuilder, loop: Loop, k: int, sizes: dict[str, int] | None = None,
                 dicts_tracked: bool = False) -> np.ndarray:
    """Vectorised events of a loop: every iteration has the same layout.

    Returns the ids of the objects it keeps, in ``keep``-list order.
    """
    n = loop.iterations
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    lay = _Layout()
    # per statement: list of allocation indexes within the iteration
    stmt_allocs: list[list[int]] = []
    death_rules: list[tuple[str, int, int, int]] = []  # (rule, stmt, alloc#, rel seq of the death)
    collect_rules: list[tuple[int, int, int]] = []  # (rel seq, period, generation)
    na = 0
    for si, st in enumerate(loop.body):
        mine: list[int] = []
        if isinstance(st, Keep):
            if st.kind not in KINDS:
                raise GcperfError(f"Keep kind must be one of {', '.join(KINDS)}, got {st.kind!r}")
            lay.allocs.append((lay.take(), si, st.kind))
            mine.append(na)
            na += 1
            lay.checkpoints.append(lay.take())
        elif isinstance(st, (Temp, Assign, AssignCycle, Ring)):
            lay.allocs.append((lay.take(), si, "tracked"))
            mine.append(na)
            na += 1
            lay.checkpoints.append(lay.take())
            rel = lay.take()
            if isinstance(st, Temp):
                death_rules.append(("same", si, mine[0], rel))
            elif isinstance(st, Assign):
                death_rules.append(("next", si, mine[0], rel))
            elif isinstance(st, AssignCycle):
                death_rules.append(("next-cycle", si, mine[0], rel))
            else:
                if st.size < 1:
                    raise GcperfError(f"Ring size must be >= 1, got {st.size}")
                death_rules.append((f"ring:{st.size}", si, mine[0], rel))
        elif isinstance(st, AssignPair):
            lay.allocs.append((lay.take(), si, "tracked"))
            lay.checkpoints.append(lay.take())
            lay.allocs.append((lay.take(), si, "tracked"))
            lay.checkpoints.append(lay.take())
            mine += [na, na + 1]
            na += 2
            death_rules.append(("next-pair", si, mine[0], lay.take()))
        elif isinstance(st, CollectEvery):
            if st.period < 1 or st.generation not in (0, 1, 2):
                raise GcperfError(f"CollectEvery needs period >= 1 and generation 0-2, got {st}")
            collect_rules.append((lay.take(), st.period, st.generation))
            lay.take()  # the check after the call
        else:  # pragma: no cover
            raise GcperfError(f"unknown statement {st!r}")
        stmt_allocs.append(mine)
    lay.checkpoints.append(lay.take())  # back edge
    row_sizes = None
    if sizes is not None:
        per = [_stmt_sizes(loop.body[si], sizes, kind) or (0,) for _, si, kind in lay.allocs]
        width = max(len(x) for x in per) if per else 1
        row_sizes = np.zeros((len(per), width), dtype=np.int32)
        for r, x in enumerate(per):
            row_sizes[r, : len(x)] = x
    W = lay.width
    base_seq = b.seq
    it = np.arange(n, dtype=np.int64)
    # allocations: n iterations x na objects, in program order
    rel_alloc = np.array([a[0] for a in lay.allocs], dtype=np.int64)
    alloc_seq = (base_seq + it[:, None] * W + rel_alloc[None, :]).ravel()
    kinds = dict(KINDS, untracked=KINDS["tracked"]) if dicts_tracked else KINDS
    flags_row = np.array([kinds[a[2]] for a in lay.allocs], dtype=np.uint8)
    flags = np.tile(flags_row, n)
    first_id = b.n
    ids = first_id + np.arange(n * na, dtype=np.int64).reshape(n, na) if na else np.empty((n, 0), dtype=np.int64)
    death = np.full(n * na, NEVER, dtype=np.int64)
    head = np.full(n * na, NEVER, dtype=np.int64)
    for rule, _si, ai, rel in death_rules:
        col = ids[:, ai] - first_id
        if rule == "same":
            death[col] = base_seq + it * W + rel
        elif rule in ("next", "next-cycle"):
            death[col[:-1]] = base_seq + it[1:] * W + rel
            if rule == "next-cycle":
                flags[col[:-1]] |= FLAG_CYCLIC
                head[col[:-1]] = ids[:-1, ai]
        elif rule == "next-pair":
            col2 = ids[:, ai + 1] - first_id
            s = base_seq + it[1:] * W + rel
            death[col[:-1]] = s
            death[col2[:-1]] = s
            flags[col[:-1]] |= FLAG_CYCLIC
            flags[col2[:-1]] |= FLAG_CYCLIC
            head[col[:-1]] = ids[:-1, ai]
            head[col2[:-1]] = ids[:-1, ai]
        elif rule.startswith("ring:"):
            size = int(rule.split(":")[1])
            death[col[:-size] if size < n else col[:0]] = base_seq + it[size:] * W + rel
    cks = (base_seq + it[:, None] * W + np.array(lay.checkpoints, dtype=np.int64)[None, :]).ravel()
    ops = []
    for rel, period, g in collect_rules:
        hit = it[it % period == period - 1]
        ops += [(int(base_seq + i * W + rel), "collect", (g,)) for i in hit]
        cks = np.concatenate([cks, base_seq + hit * W + rel + 1])
    all_sizes = None if row_sizes is None else np.tile(row_sizes, (n, 1))
    b.append_arrays(alloc_seq, flags, death, head, cks, ops, n * W, all_sizes)
    keep_cols = [ai for ai, (_, si, _) in enumerate(lay.allocs) if isinstance(loop.body[si], Keep)]
    return ids[:, keep_cols].ravel()


def _new(payload: int, var: str) -> list[str]:
    """Lines that bind ``var`` to a new object (a C with a bytes payload when asked)."""
    if not payload:
        return [f"    {var} = A()"]
    return [f"    {var} = C()", f"    {var}.b = bytes({payload})"]


def _loop_python(loop: Loop, k: int, keep_base: int | None) -> tuple[list[str], list[str]]:
    pre = [f"r_{k} = range({loop.iterations})"]
    lines = [f"for i in r_{k}:"]
    n_keep = sum(isinstance(st, Keep) for st in loop.body)
    keep_no = 0
    for si, st in enumerate(loop.body):
        if isinstance(st, Keep):
            # each object comes from a call, whose end is an eval-breaker check on
            # every version (a BUILD_TUPLE/BUILD_MAP followed by the specialised
            # list.append of 3.12 would leave the check to the next statement)
            if st.payload and st.kind != "tracked":
                raise GcperfError("a payload needs Keep('tracked')")
            expr = {"tracked": "A()", "atomic": "divmod(i, 7)", "untracked": "dict()"}[st.kind]
            if st.payload:
                lines += ["    o = C()", f"    o.b = bytes({st.payload})"]
                expr = "o"
            if keep_base is None:
                lines.append(f"    keep.append({expr})")
            else:
                lines.append(f"    keep[{keep_base + keep_no} + i * {n_keep}] = {expr}")
            if st.payload:
                # the list is the only reference: a later Thin really frees the object
                lines.append("    o = None")
            keep_no += 1
        elif isinstance(st, Temp):
            if st.payload:
                lines += ["    o = C()", f"    o.b = bytes({st.payload})", "    o = None"]
            else:
                lines.append("    A()")
        elif isinstance(st, Assign):
            pre.append(f"{st.var}_{k} = None")
            lines += _new(st.payload, f"{st.var}_{k}")
        elif isinstance(st, AssignCycle):
            pre.append(f"{st.var}_{k} = None")
            lines.append(f"    {st.var}_{k} = C()")
            lines.append(f"    {st.var}_{k}.r = {st.var}_{k}")
            if st.payload:
                lines.append(f"    {st.var}_{k}.b = bytes({st.payload})")
        elif isinstance(st, AssignPair):
            p, q = f"{st.first}_{k}", f"{st.second}_{k}"
            pre += [f"{p} = None", f"{q} = None"]
            lines += [f"    {p} = C()", f"    {q} = C()", f"    {p}.r = {q}", f"    {q}.r = {p}"]
        elif isinstance(st, Ring):
            pre.append(f"ring_{k}_{si} = [None] * {st.size}")
            if st.payload:
                lines += ["    o = C()", f"    o.b = bytes({st.payload})", f"    ring_{k}_{si}[i % {st.size}] = o",
                          "    o = None"]
            else:
                lines.append(f"    ring_{k}_{si}[i % {st.size}] = A()")
        elif isinstance(st, CollectEvery):
            lines.append(f"    if i % {st.period} == {st.period - 1}:")
            lines.append(f"        gc.collect({st.generation})")
    if len(lines) == 1:
        lines.append("    pass")
    return pre, lines


__all__ = [
    "Assign",
    "AssignCycle",
    "AssignPair",
    "Burst",
    "Call",
    "CollectEvery",
    "Keep",
    "Loop",
    "Program",
    "Ring",
    "Temp",
    "Thin",
]
