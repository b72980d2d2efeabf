"""The batched engine against the plain per-event reference (tests/reference_gc.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from reference_gc import engine_log, reference_run
from strategies import VERSIONS, small_thresholds, traces

from gcperf import simulate_trace


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
