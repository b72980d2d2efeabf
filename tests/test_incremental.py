"""The incremental collector of CPython 3.14.0-3.14.4 (cpython/incremental.py).

No such interpreter exists on this machine (CPYTHON_GC.md §11), so the presets are derived from the
source: the batched engine is checked against an object-by-object reference of the same rules
(tests/reference_gc.py), the schedule against the arithmetic of the source, and the published
measurements of the period against what the presets predict.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference_gc import engine_log, reference_run_inc
from strategies import INC_VERSIONS, block_traces, traces

from gcperf import GCSettings, Scenario, simulate, simulate_trace
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
)
def test_random_traces_match_reference(trace, version, thresholds, baseline, enabled, chunk, work, marking):
    # gc.unfreeze() puts live objects back into the pending space, where the engine takes a share
    # of a cohort spread over its objects and the reference takes them in list order
    assume(not any(op[1] == "unfreeze" for op in trace.ops))
    end: dict = {}
    expected = reference_run_inc(trace, version, thresholds, baseline, enabled, end, work, marking)
    r = simulate_trace(trace, version, thresholds, baseline, enabled, chunk_slots=chunk, work_to_do=work,
                       marking=marking)
    assert (engine_log(r), r.end_state["count"]) == (expected, end["count"])


@pytest.mark.long  # ~12 s; each of these rules changed alone fails it (checked): the double subtraction
# of the marked objects, 3.14.0's add-back and 1.5x cap, the increment's size taken off the budget, a
# cycle held by a member in the visited space
@settings(max_examples=150, deadline=None)
@given(
    trace=block_traces(),
    version=st.sampled_from(INC_VERSIONS),
    thresholds=st.tuples(st.sampled_from([1, 5, 50, 200]), st.sampled_from([0, 1, 2, 10]), st.just(0)),
    baseline=st.integers(0, 2000),
    chunk=st.sampled_from([7, 500, 1 << 18]),
    work=st.one_of(st.just(-5000), st.integers(-300, 300)),
    marking=st.booleans(),
)
def test_block_traces_match_reference(trace, version, thresholds, baseline, chunk, work, marking):
    """Heaps of thousands of objects: budgets that reach the old spaces, scavenges that complete."""
    end: dict = {}
    expected = reference_run_inc(trace, version, thresholds, baseline, True, end, work, marking)
    r = simulate_trace(trace, version, thresholds, baseline, True, chunk_slots=chunk, work_to_do=work,
                       marking=marking)
    assert (engine_log(r), r.end_state["count"]) == (expected, end["count"])
