"""The batched engine against the plain per-event reference (tests/reference_gc.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_gc import engine_log, reference_run, reference_run_ft
from strategies import FT_VERSIONS, VERSIONS, ft_traces, small_thresholds, traces

from gcperf import simulate_trace
from gcperf.cpython.versions import preset


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
@settings()
@given(
    trace=traces(),
    version=st.sampled_from(VERSIONS),
    thresholds=small_thresholds,
    baseline=st.integers(0, 40),
    enabled=st.booleans(),
    chunk=st.sampled_from([1, 2, 3, 7, 64, 1 << 18]),
)
def test_random_traces_match_reference(trace, version, thresholds, baseline, enabled, chunk):
    expected = reference_run(trace, version, thresholds, baseline, enabled)
    got = engine_log(simulate_trace(trace, version, thresholds, baseline, enabled, chunk_slots=chunk))
    assert got == expected


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
@settings(max_examples=30, deadline=None)
@given(
    trace=ft_traces(),
    version=st.sampled_from(FT_VERSIONS),
    thresholds=st.tuples(st.sampled_from([0, 1, 700, 2000, 2900]), st.sampled_from([0, 10]), st.just(10)),
    baseline=st.integers(0, 12000),
    enabled=st.booleans(),
    chunk=st.sampled_from([1, 7, 500, 4096, 1 << 18]),
)
def test_free_threaded_traces_match_reference(trace, version, thresholds, baseline, enabled, chunk):
    """The free-threaded count (compiled walk over chunks) against the event-by-event reference."""
    end: dict = {}
    expected = reference_run_ft(trace, version, thresholds, baseline, enabled, end)
    pre = preset(version)
    r = simulate_trace(trace, version, thresholds, baseline, enabled, chunk_slots=chunk,
                       long_lived_total=baseline + pre.interpreter_untracked if pre.ft_live_counts_all else None)
    assert (engine_log(r), r.end_state["count"]) == (expected, end["count"])
