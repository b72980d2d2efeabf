"""The incremental collector of CPython 3.14.0-3.14.4 (cpython/incremental.py).

No released interpreter of the period exists on this machine (CPYTHON_GC.md §11), so the presets are
derived from the source: the batched engine is checked against an object-by-object reference of the
same rules (tests/reference_gc.py), the schedule against the arithmetic of the source, the published
measurements of the period against what the presets predict, and a loop of those against the
interpreters of the period built here (test_real_interpreter.py replays the exact traces on them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interpreters import find_interpreter, run_program
from reference_gc import engine_log, reference_run_inc
from strategies import INC_VERSIONS, block_traces, traces

from gcperf import GCSettings, Scenario, simulate, simulate_trace
from gcperf.cpython.heap import FLAG_CYCLIC, NEVER
from gcperf.cpython.versions import preset
from gcperf.errors import GcperfError
from gcperf.workload.trace import TraceBuilder


@pytest.mark.long  # ~15 s: .ci/run runs it after the README's test command
@settings(max_examples=150, deadline=None)
@given(
    trace=traces(),
    version=st.sampled_from(INC_VERSIONS),
    thresholds=st.tuples(st.integers(1, 12), st.integers(0, 4), st.just(0)),
    baseline=st.integers(0, 40),
    enabled=st.booleans(),
    chunk=st.sampled_from([1, 3, 64, 1 << 18]),
    work=st.one_of(st.just(-5000), st.integers(-60, 60)),
    marking=st.booleans(),
    unmarked=st.integers(0, 50),
)
def test_random_traces_match_reference(trace, version, thresholds, baseline, enabled, chunk, work, marking, unmarked):
    end: dict = {}
    expected = reference_run_inc(trace, version, thresholds, baseline, enabled, end, work, marking,
                                 min(unmarked, baseline))
    r = simulate_trace(trace, version, thresholds, baseline, enabled, chunk_slots=chunk, work_to_do=work,
                       marking=marking, unmarked_objects=unmarked)
    assert (engine_log(r), r.end_state["count"]) == (expected, end["count"])


@pytest.mark.long  # ~12 s; each of these rules changed alone fails it (checked): the double subtraction
# of the marked objects, 3.14.0's add-back and 1.5x cap, the increment's size taken off the budget, a
# cycle held by a member in the visited space; and (2026-12-05) a marking step that reaches nothing
# while objects are frozen, unfrozen objects joining the visited space, the young tuples untracked
# before an increment, 3.14.0's heap size counting the untracked ones (the last three also fail the
# test above)
@settings(max_examples=150, deadline=None)
@given(
    trace=block_traces(),
    version=st.sampled_from(INC_VERSIONS),
    thresholds=st.tuples(st.sampled_from([1, 5, 50, 200]), st.sampled_from([0, 1, 2, 10]), st.just(0)),
    baseline=st.integers(0, 2000),
    chunk=st.sampled_from([7, 500, 1 << 18]),
    work=st.one_of(st.just(-5000), st.integers(-300, 300)),
    marking=st.booleans(),
    unmarked=st.sampled_from([0, 315, 1500]),
)
def test_block_traces_match_reference(trace, version, thresholds, baseline, chunk, work, marking, unmarked):
    """Heaps of thousands of objects: budgets that reach the old spaces, scavenges that complete."""
    end: dict = {}
    expected = reference_run_inc(trace, version, thresholds, baseline, True, end, work, marking, min(unmarked, baseline))
    r = simulate_trace(trace, version, thresholds, baseline, True, chunk_slots=chunk, work_to_do=work,
                       marking=marking, unmarked_objects=unmarked)
    assert (engine_log(r), r.end_state["count"]) == (expected, end["count"])


def _garbage_loop(n: int) -> TraceBuilder:
    """``n`` iterations of a Python loop, each allocating an object that is a lone cycle dropped at
    once (cyclic garbage only a collection frees, so every allocation moves the young count by +1);
    the iteration's eval-breaker check comes between the allocation and the drop, as
    ``TraceBuilder.alloc`` then ``unreachable`` place them."""
    b = TraceBuilder()
    k = np.arange(n, dtype=np.int64)
    base, first = b.seq, b.n
    b.append_arrays(alloc_seq=base + 3 * k, flags=np.full(n, FLAG_CYCLIC, dtype=np.uint8), death=base + 3 * k + 2,
                    head=first + k, checkpoints=base + 3 * k + 1, ops=[], width=3 * n)
    return b


def test_first_increments_follow_the_budget():
    """Both schedules worked by hand from the rules (CPYTHON_GC.md §3, §11) for 6003 allocations
    of cyclic garbage over 300 live objects: a trigger at every 2001st, the heap's share
    ``heap_size // 10 // 10`` (23, 43, 63: every tracked object, garbage included)."""
    trace = _garbage_loop(6003).build()
    c0 = simulate_trace(trace, "3.14.0", baseline_objects=300, unmarked_objects=0).collections
    # 3.14.0: budget -5000 + 2001 + 23; the marking step moves the 300 and the loop's current object
    # (still live at the check) and frees nothing; the next increment collects the young list whatever
    # the budget (2000 garbage from before the mark + 2001 new, of which the current one survives),
    # finds pending empty and completes the scavenge; the third marks again
    assert list(c0.generation) == [1, 1, 1]
    assert list(c0.examined) == [301, 4001, 301]
    assert list(c0.garbage_freed) == [0, 4000, 0]
    c4 = simulate_trace(trace, "3.14.4", baseline_objects=300, unmarked_objects=0).collections
    # 3.14.1+: -5000 + 2001 + 23 = -2976 and -2976 + 2001 + 43 = -932 return at once; -932 + 2001 + 63
    # = 1132 reaches the marking step
    assert list(c4.generation) == [1, 1, 1]
    assert list(c4.examined) == [0, 0, 301]
    assert c4.garbage_freed.sum() == 0


def test_no_collection_for_two_thirds_of_the_marked_objects_on_3_14_1():
    """CPYTHON_GC.md §11: after a marking step over M objects, 3.14.1-3.14.4 collect nothing for
    about 0.67 M allocations (the budget loses 2 M and regains 3 new per trigger on a big heap),
    while 3.14.0 collects the young objects at every increment."""
    m = 600_000  # heap/100 >= 2 x 2001: the heap's share is capped at 2 new
    trace = _garbage_loop(900_000).build()
    c4 = simulate_trace(trace, "3.14.4", baseline_objects=m, work_to_do=0, unmarked_objects=0).collections
    mark = c4.index[c4.examined >= m][0]  # the marking step (the first increment: budget 0 + 3 new)
    after = c4.loc[mark + 1:]
    first_work = after.index[after.examined > 0][0]
    gap = int(c4.loc[first_work, "allocations"] - c4.loc[mark, "allocations"])
    assert gap == pytest.approx(2 * m / 3, rel=0.02)
    assert (c4.loc[mark + 1:first_work - 1, "examined"] == 0).all()
    c0 = simulate_trace(trace, "3.14.0", baseline_objects=m, work_to_do=0, unmarked_objects=0).collections
    assert (c0.examined.iloc[1:] > 0).all()  # after its mark, 3.14.0 collects the young every time


def test_counts_thresholds_and_generation_sizes_as_the_gc_module_reports_them():
    b = TraceBuilder()
    b.alloc_many(50)  # kept to the end
    b.collect(0)
    b.collect(0)
    b.set_threshold(700, 5, 99)  # the third value is ignored
    b.collect(1)  # the marking step
    b.collect(1)  # an increment: pending is empty at its end, so the scavenge completes and the spaces swap
    r = simulate_trace(b.build(), "3.14.0")
    end = r.end_state
    # get_count() is (young, old[visited], old[pending]): the two gc.collect(0) counted in old[0],
    # which is the pending space after the swap
    assert end["count"] == [0, 0, 2]
    assert end["thresholds"] == [700, 5, 0]
    assert end["generation_sizes"] == [0, 0, 50]  # get_objects(1) is always empty
    assert end["scavenges"] == 1
    assert list(r.collections.generation) == [0, 0, 1, 1]


def test_full_collection_frees_everything_and_starts_a_new_scavenge():
    b = _garbage_loop(500)
    b.collect(2)
    r = simulate_trace(b.build(), "3.14.4", baseline_objects=10)
    last = r.collections.iloc[-1]
    assert (last.generation, last.garbage_freed, last.survivors) == (2, 500, 10)
    assert r.end_state["count"] == [0, 0, 0]
    assert r.end_state["work_to_do"] == 0


def test_thresholds_a_version_does_not_have_are_refused():
    with pytest.raises(GcperfError, match="no threshold2"):
        GCSettings(version="3.14.0", thresholds=(700, 10, 10))
    with pytest.raises(GcperfError, match="no threshold2"):
        simulate_trace(TraceBuilder().build(), "3.14.3", thresholds=(700, 10, 1))
    with pytest.raises(GcperfError, match="work_to_do and marking"):
        simulate_trace(TraceBuilder().build(), "3.13", work_to_do=0)
    with pytest.raises(GcperfError, match="untracked_objects is the incremental"):
        simulate_trace(TraceBuilder().build(), "3.13", untracked_objects=5)
    with pytest.raises(GcperfError, match="untracked_objects must be a non-negative integer"):
        simulate_trace(TraceBuilder().build(), "3.14.0", untracked_objects=-1)


def test_3_14_0_counts_untracked_objects_in_its_heap_size():
    """3.14.0's heap size, and so the share of the heap its increments add, counts the untracked
    GC objects (``_PyObject_GC_Link`` at allocation); 3.14.1+ counts tracked objects only."""
    b = TraceBuilder()
    for _ in range(300):  # 30 000 objects kept, an eval-breaker check every 100
        b.alloc_many(100)
        b.checkpoint()
    trace = b.build()
    for version, moves in (("3.14.0", True), ("3.14.4", False)):
        a, z = (simulate_trace(trace, version, baseline_objects=5_000, untracked_objects=u).end_state["work_to_do"]
                for u in (0, 100_000))
        assert (a != z) == moves, version
    assert GCSettings(version="3.14.0", thresholds=(700, 10, 0)).apply_code() == "import gc\ngc.set_threshold(700, 10)"
    from gcperf.studies.recommend import apply_code

    assert apply_code({"threshold0": 700, "threshold1": 10, "threshold2": 0, "version": "3.14.2"}) == (
        "import gc\ngc.set_threshold(700, 10)")


def test_presets_name_their_releases_and_evidence():
    for v, incremental in (("3.14.0", "3.14.0"), ("3.14.1", "3.14.1"), ("3.14.4", "3.14.1"), ("3.14.5", "")):
        pre = preset(v)
        assert pre.incremental == incremental
        if incremental:
            assert pre.thresholds == (2000, 10, 0)
            # derived from the source, checked on the interpreters built here (test_real_interpreter.py)
            assert pre.evidence.startswith("derived from the source") and "built here" in pre.evidence
            assert not pre.checked_here  # no released interpreter of the period here
    assert preset("3.14.0").atomic_tuples_tracked and not preset("3.14.2").atomic_tuples_tracked
    assert not preset("3.14.0").counts_tracked_only and preset("3.14.2").counts_tracked_only


# -- the published measurements of the period (CPYTHON_GC.md §11) ------------------------------------
# "Of the order of" is read as within half an order of magnitude (a factor of 10**0.5 either way).


def _order_of(value: float, published: float) -> bool:
    return published / 10**0.5 <= value <= published * 10**0.5


def _growing_heap_with_cycles(iterations: int, kept: int = 19) -> TraceBuilder:
    """A Python loop that builds a heap: per iteration ``kept`` objects kept to the end, then one
    object in a reference cycle dropped before the iteration ends (every allocation and drop
    followed by the loop's eval-breaker check). Written down before any preset was run on it; the
    script behind the published figures is not known here."""
    b = TraceBuilder(name="growing-heap-with-cycles")
    per = kept + 1
    k = np.arange(iterations * per, dtype=np.int64)
    it, j = k // per, k % per
    width = 2 * per + 1  # per iteration: an allocation and a check per object, then the drop
    alloc = it * width + 2 * j
    cyclic = j == kept
    death = np.where(cyclic, it * width + 2 * per, NEVER)
    head = np.where(cyclic, b.n + k, NEVER)
    b.append_arrays(alloc, np.where(cyclic, FLAG_CYCLIC, 0).astype(np.uint8), death, head, alloc + 1, [],
                    iterations * width)
    return b


@pytest.fixture(scope="module")
def cyclic_peaks() -> dict[str, int]:
    trace = _growing_heap_with_cycles(100_000).build()
    return {v: int(simulate_trace(trace, v, baseline_objects=preset(v).interpreter_objects,
                                  untracked_objects=preset(v).interpreter_untracked)
                   .summary.iloc[0].peak_garbage_objects) for v in ("3.13", "3.14.0", "3.14.4")}


DATA = Path(__file__).parent / "data"


def test_cyclic_loop_peak_matches_real_3_13(cyclic_peaks):
    """The loop itself, run on the real 3.13 (tests/data/cyclic_peak_loop.py): the same peak."""
    if find_interpreter("3.13") is None:
        pytest.skip("no CPython 3.13 on this machine (pyenv, PATH)")
    real = run_program("3.13", (DATA / "cyclic_peak_loop.py").read_text())
    assert real["dropped"] == 100_000
    assert cyclic_peaks["3.13"] == real["peak"]


@pytest.mark.parametrize("version", ["3.14.0", "3.14.4"])
def test_cyclic_loop_peak_matches_built_interpreters(version, cyclic_peaks):
    """The loop run on the interpreters of the period built here (tests/data/cyclic_peak_built.json:
    208 on 3.14.0, 34 518 on 3.14.4): gcperf's 3.14.0 gives the same, its 3.14.4 36 318 (+5 %; the
    script's loops check the eval breaker at its back-edges, the trace after every allocation). So the
    published ~2 000 and ~10 000 (strict xfails below) come from another script, not from the rules."""
    real = json.loads((DATA / "cyclic_peak_built.json").read_text())["peaks"][version]
    assert real["dropped"] == 100_000
    assert abs(cyclic_peaks[version] / real["peak"] - 1) <= 0.10


def test_peak_cyclic_garbage_on_3_13(cyclic_peaks):
    """Published (PR #142001): about 100 uncollected cyclic objects at the peak on 3.13 for the
    cyclic script. gcperf, on the loop above: 103; and more on each incremental release."""
    assert _order_of(cyclic_peaks["3.13"], 100)
    assert cyclic_peaks["3.13"] < cyclic_peaks["3.14.0"] < cyclic_peaks["3.14.4"]


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="gcperf predicts 36 318 on this loop (the built "
                   "3.14.4-like interpreter: 34 518), published ~10 000: above half an order of magnitude; the "
                   "published script is not known here")
def test_peak_cyclic_garbage_on_3_14_1(cyclic_peaks):
    """Published: about 10 000 on the 3.14 branch (3.14.1-3.14.4) for the same script."""
    assert _order_of(cyclic_peaks["3.14.4"], 10_000)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="gcperf predicts 208 on this loop (so does the built 3.14.0-like interpreter), published ~2 000: here every cycle dies "
                   "in the iteration that made it, and 3.14.0 frees young garbage at every increment (it only "
                   "waits through the marking steps); thousands need cycles that outlive a young collection, "
                   "which the unknown published script may have had")
def test_peak_cyclic_garbage_on_3_14_0(cyclic_peaks):
    """Published: about 2 000 on 3.14.0 for the same script."""
    assert _order_of(cyclic_peaks["3.14.0"], 2_000)


@pytest.mark.long  # two 30 s batch runs with the memory model (~12 s)
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="the built-in batch heap (type-checker-like) peaks 6 % higher on 3.14.4 than "
                   "on 3.13, not 2x: its cyclic garbage is a small share of its memory; what mypy's heap "
                   "churns on 3.14.1-3.14.4 is not described here")
def test_type_checker_like_heap_needs_twice_the_memory_on_3_14_1():
    """Published: mypy used about twice the memory on 3.14.1-3.14.4 (CI jobs killed)."""
    peak = {v: float(simulate(Scenario(workload="batch", gc=GCSettings(version=v), memory=True, seed=0))
                     .summary.iloc[0].peak_footprint_mb) for v in ("3.13", "3.14.4")}
    assert _order_of(peak["3.14.4"] / peak["3.13"], 2.0) and peak["3.14.4"] / peak["3.13"] > 1.5
