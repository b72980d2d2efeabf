"""Invariants over many generated workloads (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_statistical_vs_reference import _workload, shares

from gcperf import GCSettings, Scenario, simulate


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
@given(
    sh=shares,
    cyc=st.sampled_from([0.0, 0.05, 0.4]),
    atomic=st.sampled_from([0.0, 0.3]),
    untracked=st.sampled_from([0.0, 0.1]),
    phases=st.integers(1, 2),
    version=st.sampled_from(["3.8", "3.11", "3.12", "3.13", "3.14"]),
    t0=st.integers(1, 3000),
    seed=st.integers(0, 1000),
    collect_every=st.sampled_from([None, 0.003]),
)
def test_conservation_and_signs(sh, cyc, atomic, untracked, phases, version, t0, seed, collect_every):
    wl = _workload(sh, 1e6, cyc, atomic, untracked, phases)
    r = simulate(Scenario(wl, GCSettings(version=version, thresholds=(t0, 10, 10), collect_every_s=collect_every),
                          seed=seed, timeline_points=25))
    c, tl = r.collections, r.timeline
    # every examined object is freed, untracked or survives
    assert (c.examined == c.garbage_freed + c.survivors + c.untracked).all()
    for col in ("examined", "garbage_freed", "survivors", "untracked", "count0", "garbage_stuck",
                "long_lived_pending", "long_lived_total", "heap_objects_after", "garbage_before"):
        assert (c[col] >= 0).all(), col
    assert (c.pause_ms > 0).all()
    assert (c.garbage_freed <= c.garbage_before).all()
    # automatic collections happen only above the threshold (count0 is read at the trigger)
    auto = c[c.reason == "auto"]
    assert (auto.count0 > t0).all()
    # timeline: sizes are non-negative and add up
    gens = tl[["gen0_objects", "gen1_objects", "gen2_objects", "permanent_objects"]].to_numpy()
    assert (gens >= 0).all() and (tl.garbage_objects >= 0).all() and (tl.live_objects >= 0).all()
    assert (gens.sum(axis=1) == tl.live_objects + tl.garbage_objects).all()
    assert (np.diff(tl.time_s) >= 0).all() and (np.diff(tl.allocations) >= 0).all()
    s = r.summary_dict()
    assert s["peak_garbage_objects"] >= tl.garbage_objects.max()
    assert s["allocations"] == wl.allocations
    if collect_every is not None:
        assert (c.reason == "timer").sum() >= int(s["wall_time_s"] / collect_every) - 1
