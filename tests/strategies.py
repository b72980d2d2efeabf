"""Hypothesis strategies for random exact traces."""

from __future__ import annotations

from hypothesis import strategies as st

from gcperf.trace import TraceBuilder
from gcperf.versions import SUPPORTED_VERSIONS

VERSIONS = SUPPORTED_VERSIONS + ("3.12.1",)


@st.composite
def traces(draw, max_ops: int = 120):
    """A random program: allocations of every kind, frees, cycles, gc calls."""
    b = TraceBuilder()
    alive: list[int] = []  # tracked, not in a cycle, not yet dead
    other_alive: list[int] = []  # atomic / untracked, not yet dead
    n_ops = draw(st.integers(1, max_ops))
    first = draw(st.sampled_from(["tracked", "atomic", "untracked"]))
    (alive if first == "tracked" else other_alive).append(b.alloc(first))
    for _ in range(n_ops):
        op = draw(
            st.sampled_from(
                ["alloc"] * 6 + ["free"] * 4 + ["cycle"] * 2 + ["ccall", "checkpoint", "collect", "disable",
                                                                 "enable", "freeze", "unfreeze", "set_threshold"]
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
        elif op == "checkpoint":
            b.checkpoint()
        elif op == "collect":
            b.collect(draw(st.integers(0, 2)))
        elif op == "disable":
            b.disable()
        elif op == "enable":
            b.enable()
        elif op == "freeze":
            b.freeze()
        elif op == "unfreeze":
            b.unfreeze()
        elif op == "set_threshold":
            given = draw(st.integers(1, 3))  # gc.set_threshold(t0[, t1[, t2]])
            vals = (draw(st.integers(0, 12)), draw(st.integers(0, 4)), draw(st.integers(0, 4)))[:given]
            b.set_threshold(*vals)
    return b.build()


small_thresholds = st.tuples(st.integers(1, 12), st.integers(0, 4), st.integers(0, 4))
