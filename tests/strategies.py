"""Hypothesis strategies for random exact traces."""

from __future__ import annotations

from hypothesis import strategies as st

from gcperf.cpython.versions import SUPPORTED_VERSIONS, preset
from gcperf.workload.trace import TraceBuilder

# the generational presets (the per-event reference in reference_gc.py has both collectors, but a
# free-threaded build needs traces of thousands of allocations to flush its count: ft_traces)
VERSIONS = tuple(v for v in SUPPORTED_VERSIONS if not v.endswith("t") and not preset(v).incremental) + ("3.12.1",)
# the incremental collector of 3.14.0-3.14.4 (its own reference: reference_run_inc)
INC_VERSIONS = tuple(v for v in SUPPORTED_VERSIONS if preset(v).incremental) + ("3.14.2",)
FT_VERSIONS = tuple(v for v in SUPPORTED_VERSIONS if v.endswith("t")) + ("3.14.2t",)


def _gc_call(draw, b: TraceBuilder, op: str) -> None:
    """The gc calls and checkpoints both trace strategies draw alike (others are ignored: an op
    whose precondition failed, such as a free with nothing alive)."""
    if op == "checkpoint":
        b.checkpoint()
    elif op == "collect":
        b.collect(draw(st.integers(0, 2)))
    elif op in ("disable", "enable", "freeze", "unfreeze"):
        getattr(b, op)()


@st.composite
def traces(draw, max_ops: int = 120, unfreeze: bool = True):
    """A random program: allocations of every kind, frees, cycles, gc calls (``gc.unfreeze()``
    left out when ``unfreeze`` is False)."""
    calls = ["ccall", "checkpoint", "collect", "disable", "enable", "freeze", "set_threshold"]
    calls += ["unfreeze"] if unfreeze else []
    b = TraceBuilder()
    alive: list[int] = []  # tracked, not in a cycle, not yet dead
    other_alive: list[int] = []  # atomic / untracked, not yet dead
    n_ops = draw(st.integers(1, max_ops))
    first = draw(st.sampled_from(["tracked", "atomic", "untracked"]))
    (alive if first == "tracked" else other_alive).append(b.alloc(first))
    for _ in range(n_ops):
        op = draw(
            st.sampled_from(
                ["alloc"] * 6 + ["free"] * 4 + ["cycle"] * 2 + calls
            )
        )
        if op == "alloc":
            kind = draw(st.sampled_from(["tracked"] * 4 + ["atomic", "untracked"]))
            i = b.alloc(kind)
            (alive if kind == "tracked" else other_alive).append(i)
            if draw(st.booleans()):
                b.free(i)
                (alive if kind == "tracked" else other_alive).remove(i)
        elif op == "free":
            pool = alive + other_alive
            if pool:
                i = draw(st.sampled_from(pool))
                b.free(i)
                (alive if i in alive else other_alive).remove(i)
        elif op == "cycle" and alive:
            k = draw(st.integers(1, min(4, len(alive))))
            members = draw(st.lists(st.sampled_from(alive), min_size=k, max_size=k, unique=True))
            b.unreachable(members)
            for m in members:
                alive.remove(m)
        elif op == "ccall":
            with b.c_call():
                for _ in range(draw(st.integers(1, 8))):
                    i = b.alloc()
                    alive.append(i)
                    if draw(st.booleans()):
                        b.free(i)
                        alive.remove(i)
        elif op == "set_threshold":
            given = draw(st.integers(1, 3))  # gc.set_threshold(t0[, t1[, t2]])
            vals = (draw(st.integers(0, 12)), draw(st.integers(0, 4)), draw(st.integers(0, 4)))[:given]
            b.set_threshold(*vals)
        else:
            _gc_call(draw, b, op)
    return b.build()


small_thresholds = st.tuples(st.integers(1, 12), st.integers(0, 4), st.integers(0, 4))


@st.composite
def ft_traces(draw, max_ops: int = 60):
    """A random program in blocks of up to 1500 allocations (the free-threaded count moves in
    steps of 512): kept, freed at once, freed later in bulk, cycles, C calls and gc calls."""
    b = TraceBuilder()
    alive: list[int] = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["alloc"] * 6 + ["free"] * 3 + ["cycle"] * 3 + ["ccall", "checkpoint",
                                   "collect", "disable", "enable", "freeze", "unfreeze", "set_threshold"]))
        if op == "alloc":
            n = draw(st.integers(1, 3000))
            kind = draw(st.sampled_from(["tracked"] * 3 + ["atomic", "untracked"]))
            temp = draw(st.booleans())
            for _ in range(n):
                i = b.alloc(kind)
                if temp:
                    b.free(i)
                elif kind == "tracked":
                    alive.append(i)
        elif op == "free" and alive:
            k = draw(st.integers(1, len(alive)))
            start = draw(st.integers(0, len(alive) - k))
            b.free_many(alive[start:start + k])
            del alive[start:start + k]
        elif op == "cycle" and alive:
            k = draw(st.integers(1, min(2500, len(alive))))
            size = draw(st.integers(1, 4))
            group = alive[-k:]
            del alive[-k:]
            for j in range(0, len(group), size):
                b.unreachable(group[j:j + size])
        elif op == "ccall":
            with b.c_call():
                for _ in range(draw(st.integers(1, 700))):
                    alive.append(b.alloc())
        elif op == "set_threshold":
            given = draw(st.integers(1, 2))
            vals = (draw(st.integers(0, 3000)), draw(st.sampled_from([0, 10, 1])))[:given]
            b.set_threshold(*vals)
        else:
            _gc_call(draw, b, op)
    return b.build()


@st.composite
def block_traces(draw, max_ops: int = 40):
    """A random program in blocks of up to 400 allocations (kept, freed at once, freed later in
    bulk, cycles of 1-4 members, C calls, gc calls but gc.unfreeze()): heaps of thousands of
    objects, so the incremental collector's budgets reach into its old spaces."""
    b = TraceBuilder()
    alive: list[int] = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["alloc"] * 6 + ["free"] * 3 + ["cycle"] * 4 + ["ccall", "checkpoint",
                                   "collect", "disable", "enable", "freeze", "set_threshold"]))
        if op == "alloc":
            n = draw(st.integers(1, 400))
            kind = draw(st.sampled_from(["tracked"] * 3 + ["atomic", "untracked"]))
            temp = draw(st.booleans())
            for _ in range(n):
                i = b.alloc(kind)
                if temp:
                    b.free(i)
                elif kind == "tracked":
                    alive.append(i)
            if draw(st.booleans()):
                b.checkpoint()
        elif op == "free" and alive:
            k = draw(st.integers(1, len(alive)))
            start = draw(st.integers(0, len(alive) - k))
            b.free_many(alive[start:start + k])
            del alive[start:start + k]
        elif op == "cycle" and alive:
            k = draw(st.integers(1, min(300, len(alive))))
            size = draw(st.integers(1, 4))
            start = draw(st.integers(0, len(alive) - k))
            group = alive[start:start + k]
            del alive[start:start + k]
            for j in range(0, len(group), size):
                b.unreachable(group[j:j + size])
        elif op == "ccall":
            with b.c_call():
                for _ in range(draw(st.integers(1, 300))):
                    alive.append(b.alloc())
        elif op == "set_threshold":
            given = draw(st.integers(1, 3))
            vals = (draw(st.sampled_from([1, 5, 50, 200])), draw(st.sampled_from([0, 1, 2, 10])),
                    draw(st.integers(0, 4)))[:given]
            b.set_threshold(*vals)
        elif op in ("checkpoint", "collect", "disable", "enable", "freeze"):
            _gc_call(draw, b, op)
    return b.build()
