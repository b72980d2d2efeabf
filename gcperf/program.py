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

from .errors import GcperfError
from .heap import FLAG_CYCLIC, NEVER
from .trace import KINDS, Trace, TraceBuilder

# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Keep:
    kind: str = "tracked"


@dataclass(frozen=True)
class Temp:
    pass


@dataclass(frozen=True)
class Assign:
    var: str


@dataclass(frozen=True)
class AssignCycle:
    var: str


@dataclass(frozen=True)
class AssignPair:
    first: str
    second: str


@dataclass(frozen=True)
class Ring:
    size: int


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
    ``freeze``, ``unfreeze``."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class Burst:
    """``keep.extend(starmap(A, repeat((), n)))``: n kept objects allocated inside one C call."""

    n: int


Block = Loop | Call | Burst


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

    # ----------------------------------------------------------------- trace
    def trace(self) -> Trace:
        """The exact events of the measured region."""
        b = TraceBuilder(name=self.name)
        for k, block in enumerate(self.blocks):
            if isinstance(block, Loop):
                _loop_events(b, block, k)
            elif isinstance(block, Call):
                _call(b, block)
            elif isinstance(block, Burst):
                with b.c_call():
                    b.alloc_many(block.n)
            else:  # pragma: no cover
                raise GcperfError(f"unknown block {block!r}")
        return b.build()

    # ----------------------------------------------------------------- python
    def python(self) -> str:
        """A script that runs the program on a real interpreter and prints JSON.

        The JSON has, for the measured region only, ``collections`` and
        ``collected`` (objects found unreachable) per generation from
        ``gc.get_stats()``, plus ``long_lived_total`` (the start state),
        ``version`` and ``thresholds``. Nothing is hooked into the collector:
        a ``gc.callbacks`` hook would itself allocate (its info dict is a counted
        allocation right after a full collection empties the free lists).
        """
        pre: list[str] = []
        body: list[str] = []
        for k, block in enumerate(self.blocks):
            if isinstance(block, Loop):
                p, code = _loop_python(block, k)
                pre += p
                body += code
            elif isinstance(block, Call):
                args = ", ".join(str(a) for a in block.args)
                body.append(f"gc.{block.name}({args})")
            elif isinstance(block, Burst):
                pre.append(f"bulk_{k} = starmap(A, repeat((), {block.n}))")
                body.append(f"keep.extend(bulk_{k})")
        th = f"gc.set_threshold{tuple(self.thresholds)}" if self.thresholds is not None else "pass"
        lines = [
            "import gc, json, sys",
            "from itertools import repeat, starmap",
            "class A:",
            "    __slots__ = ()",
            "class C:",
            "    __slots__ = ('r',)",
            "keep = []",
            *pre,
            "gc.disable()",
            th,
            "gc.collect()",
            "gc.collect()",
            # plain ints only: nothing tracked may survive into the measured region
            "c0, x0, c1, x1, c2, x2 = [v for s in gc.get_stats() for v in (s['collections'], s['collected'])]",
            "n_old = len(gc.get_objects(2))",
            # this last collection leaves counts at zero and n_old survivors in gen 2
            "gc.collect()",
            "gc.enable()",
            *body,
            "gc.disable()",
            "after = [(s['collections'], s['collected']) for s in gc.get_stats()]",
            "print(json.dumps({",
            "    'collections': [after[0][0] - c0, after[1][0] - c1, after[2][0] - c2 - 1],",
            "    'collected': [after[0][1] - x0, after[1][1] - x1, after[2][1] - x2],",
            "    'long_lived_total': n_old, 'version': sys.version.split()[0],",
            "    'thresholds': list(gc.get_threshold())}))",
        ]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- helpers



def _call(b: TraceBuilder, c: Call) -> None:
    if c.name == "collect":
        b.collect(*c.args)
    elif c.name in ("disable", "enable", "freeze", "unfreeze"):
        getattr(b, c.name)()
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


def _loop_events(b: TraceBuilder, loop: Loop, k: int) -> None:
    """Vectorised events of a loop: every iteration has the same layout."""
    n = loop.iterations
    if n <= 0:
        return
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
    W = lay.width
    base_seq = b.seq
    it = np.arange(n, dtype=np.int64)
    # allocations: n iterations x na objects, in program order
    rel_alloc = np.array([a[0] for a in lay.allocs], dtype=np.int64)
    alloc_seq = (base_seq + it[:, None] * W + rel_alloc[None, :]).ravel()
    flags_row = np.array([KINDS[a[2]] for a in lay.allocs], dtype=np.uint8)
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
    b.append_arrays(alloc_seq, flags, death, head, cks, ops, n * W)


def _loop_python(loop: Loop, k: int) -> tuple[list[str], list[str]]:
    pre = [f"r_{k} = range({loop.iterations})"]
    lines = [f"for i in r_{k}:"]
    for si, st in enumerate(loop.body):
        if isinstance(st, Keep):
            # each object comes from a call, whose end is an eval-breaker check on
            # every version (a BUILD_TUPLE/BUILD_MAP followed by the specialised
            # list.append of 3.12 would leave the check to the next statement)
            expr = {"tracked": "A()", "atomic": "divmod(i, 7)", "untracked": "dict()"}[st.kind]
            lines.append(f"    keep.append({expr})")
        elif isinstance(st, Temp):
            lines.append("    A()")
        elif isinstance(st, Assign):
            pre.append(f"{st.var}_{k} = None")
            lines.append(f"    {st.var}_{k} = A()")
        elif isinstance(st, AssignCycle):
            pre.append(f"{st.var}_{k} = None")
            lines.append(f"    {st.var}_{k} = C()")
            lines.append(f"    {st.var}_{k}.r = {st.var}_{k}")
        elif isinstance(st, AssignPair):
            p, q = f"{st.first}_{k}", f"{st.second}_{k}"
            pre += [f"{p} = None", f"{q} = None"]
            lines += [f"    {p} = C()", f"    {q} = C()", f"    {p}.r = {q}", f"    {q}.r = {p}"]
        elif isinstance(st, Ring):
            pre.append(f"ring_{k}_{si} = [None] * {st.size}")
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
]
