"""The free-threaded builds' collector rules (policy.FreeThreadedPolicy, ftcount.ft_walk).

Exactness against a real 3.14.7t is in test_real_interpreter.py (live where one is installed,
replayed from tests/data/real_traces/ everywhere); the event-by-event reference comparison is in
test_engine_vs_reference.py. Here: the arithmetic of the buffer, the memory gate that those tests
cannot reach (it reads the process's resident memory), and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcperf import GCSettings, Scenario, simulate, simulate_trace
from gcperf.cpython.ftcount import NO_STOP, ft_walk
from gcperf.cpython.policy import FreeThreadedPolicy
from gcperf.errors import GcperfError
from gcperf.workload.trace import TraceBuilder


def _naive(d, local, count, floor):
    """One event at a time, as record_allocation / record_deallocation do."""
    for n in d:
        local += 1
        if local >= 512:
            count += local
            local = 0
        for _ in range(int(n)):
            local -= 1
            if local <= -512:
                count = max(count + local, 0) if floor else count + local
                local = 0
    return local, count


@given(d=st.lists(st.integers(0, 1500), max_size=300), local=st.integers(-511, 511),
       count=st.integers(-3000, 5000), floor=st.booleans())
def test_walk_matches_one_event_at_a_time(d, local, count, floor):
    if floor:
        count = max(count, 0)
    arr = np.array(d, dtype=np.int64)
    k, lo, c = ft_walk(arr, 0, len(arr), local, count, NO_STOP, floor)
    assert (k, lo, c) == (len(arr), *_naive(arr, local, count, floor))
    p = FreeThreadedPolicy((2000, 10, 10), count_floor=floor)
    p.local, p.count[0] = local, count
    p.enabled = False  # arithmetic only
    for n in arr:
        p.allocate()
        p.deallocate(int(n))
    assert (p.local, p.count[0]) == _naive(arr, local, count, floor)


def test_walk_stops_before_the_qualifying_flush():
    d = np.zeros(5000, dtype=np.int64)
    k, lo, c = ft_walk(d, 0, len(d), 0, 0, 2048, False)
    # flushes at slots 511, 1023, 1535, 2047: the fourth brings the count to 2048
    assert (k, lo, c) == (2047, 511, 1536)


def _gate(mem):
    p = FreeThreadedPolicy((2000, 10, 10), long_lived_total=0, memory_gate=True, live_ge=True, count_floor=True)
    p.memory_kib = lambda: mem[0]
    p.last_mem_kib = 10_000
    return p


def test_memory_gate_defers_until_memory_grows():
    mem = [10_500]  # grew 500 KiB: less than last/10 = 1000
    p = _gate(mem)
    p.count[0] = 2048
    assert p.should_collect() is False
    assert (p.count[0], p.deferred_count, p.deferrals) == (0, 2048, 1)
    mem[0] = 11_001  # now more than 1000 KiB above the last collection
    p.count[0] = 2048
    assert p.should_collect() is True
    assert p.count[0] == 2048  # a yes leaves the count for the collection to zero


def test_memory_gate_gives_way_after_40_thresholds_deferred():
    p = _gate([10_000])
    p.deferred_count = 40 * 2000
    p.count[0] = 2048
    assert p.should_collect() is False  # 80 000 is not more than 40 x 2000
    p.count[0] = 2048
    assert p.deferred_count == 82_048
    assert p.should_collect() is True
    p.begin(0)
    assert (p.count[0], p.count[1], p.deferred_count) == (0, 1, 0)


def test_memory_gate_minimum_step_is_128_kib():
    p = _gate([10_000])
    p.last_mem_kib = 500  # a tenth is 50 KiB: the floor of 128 KiB applies
    p.memory_kib = lambda: 600
    p.count[0] = 2048
    assert p.should_collect() is False
    p.memory_kib = lambda: 629
    p.count[0] = 2048
    assert p.should_collect() is True


def test_unknown_memory_opens_the_gate():
    p = FreeThreadedPolicy((2000, 10, 10), memory_gate=True)
    p.count[0] = 2048
    assert p.should_collect() is True


def test_live_gate_and_the_test_hook():
    p = FreeThreadedPolicy((2000, 10, 10), long_lived_total=40_000, live_ge=True)
    p.count[0] = 9_728  # < 40 000 / 4
    assert p.should_collect() is False
    p.count[0] = 10_000
    assert p.should_collect() is True
    p13 = FreeThreadedPolicy((2000, 10, 10), long_lived_total=40_000, live_ge=False)
    p13.count[0] = 10_000  # 3.13t wants more than a quarter
    assert p13.should_collect() is False
    hook = FreeThreadedPolicy((2000, 0, 10), long_lived_total=40_000)
    hook.count[0] = 2048  # threshold1 == 0: only count > threshold0
    assert hook.should_collect() is True


def test_memory_gate_spaces_collections_in_a_run():
    """The same 3.14t run with and without a resident-memory figure: with the memory model the
    gate holds collections back until memory grew by a tenth (or 80 000 objects were deferred);
    without one it opens at every qualifying flush, as CPython does where it cannot read RSS."""
    runs = {mem: simulate(Scenario("cycles", gc=GCSettings(version="3.14t"), duration_s=3.0, memory=mem))
            for mem in (True, False)}
    gated, open_ = (runs[m].collections for m in (True, False))
    assert len(gated) < len(open_) / 3
    assert np.median(np.diff(gated.allocations.to_numpy())) > 3 * np.median(np.diff(open_.allocations.to_numpy()))


def test_collections_are_whole_heap_and_reported_as_asked():
    b = TraceBuilder()
    kept = [b.alloc() for _ in range(3000)]
    b.collect(1)
    kept += [b.alloc() for _ in range(100)]
    b.collect(0)
    r = simulate_trace(b.build(), "3.13t", baseline_objects=50, enabled=False)
    c = r.collections
    assert list(c.generation) == [1, 0]
    assert list(c.examined) == [3050, 3150]  # everything, not generation 0 alone
    assert r.end_state["count"][1:] == [1, 1]
    assert r.end_state["generation_sizes"] == [3150, 3150, 3150]


def test_freed_garbage_lowers_the_buffer():
    """The garbage a collection frees is deallocated after the counts were zeroed: on the
    free-threaded build that shows (the default build's saturating count hides it)."""
    b = TraceBuilder()
    objs = [b.alloc() for _ in range(1000)]
    b.unreachable(objs)
    b.collect(2)
    r = simulate_trace(b.build(), "3.14t")
    # 1000 allocations: one flush of +512, 488 left in the buffer; the collection zeroes the count;
    # its 1000 frees take the buffer from 488 to -512: one flush of -512 (3.14t stops at 0; 3.13t
    # goes below). Without those frees the buffer would still hold 488.
    assert r.end_state["count"][0] == 0
    r13 = simulate_trace(b.build(), "3.13t")
    assert r13.end_state["count"][0] == -512


def test_bad_input():
    with pytest.raises(GcperfError, match="free-threaded"):
        simulate_trace(TraceBuilder().build(), "3.13", local_count=5)
    with pytest.raises(GcperfError, match="-511..511"):
        simulate_trace(TraceBuilder().build(), "3.14t", local_count=512)
    for bad in ("3.14.99t", "3.11t", "3.14tt"):
        with pytest.raises(GcperfError):
            GCSettings(version=bad)


def test_frozen_objects_still_cost_a_free_threaded_collection():
    """3.14t's collection walks the whole GC heap, frozen objects included (measured: 32-43 % of a
    tracked object's cost); the default build's never looks at the permanent generation."""
    b = TraceBuilder()
    for _ in range(100_000):
        b.alloc()
    b.freeze()
    b.collect(2)
    trace = b.build()
    pauses = {v: float(simulate_trace(trace, v, enabled=False).collections.pause_ms.iloc[0]) for v in ("3.14", "3.14t")}
    empty = float(simulate_trace(_one_collect(), "3.14t",
                                 enabled=False).collections.pause_ms.iloc[0])
    assert pauses["3.14t"] > 5 * empty  # the frozen 100 000 are visited
    assert pauses["3.14"] < 2 * empty  # the default build skips them


def _one_collect():
    b = TraceBuilder()
    b.collect(2)
    return b.build()
