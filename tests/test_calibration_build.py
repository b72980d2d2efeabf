"""From a fitted population to a workload (gcperf/calibration/build.py), without a recording."""

from __future__ import annotations

import numpy as np
import pytest

from gcperf import GCSettings, Scenario
from gcperf.calibration.build import build_workload
from gcperf.calibration.population import PopulationFit
from gcperf.engine.runner import simulate


def _fit(atomic: float, untracked: float, windows: int = 60) -> PopulationFit:
    """Every lasting object lives forever; 700 of them per 10 ms window."""
    dur = np.full(windows, 0.01)
    return PopulationFit(medians=np.array([np.inf]), sigma=np.array([1.0]), weights=np.array([1.0]),
                         cyclic=np.zeros(1), cyclic_now=np.zeros(windows), atomic=atomic,
                         rates=np.full(windows, 70000.0), dur=dur, atomic_k=np.full(windows, atomic),
                         burst_share=np.zeros(windows), untracked=untracked)


@pytest.mark.parametrize(("atomic", "untracked", "tuples"), [(0.5, 0.5, 0.0), (0.75, 0.5, 0.25), (0.4, 0.0, 0.4)])
def test_objects_created_untracked_are_in_no_generation(atomic, untracked, tuples):
    """Of the lasting objects that never reach generation 1, the ones created untracked (dicts
    of atomic values up to 3.13: counted by count0, never in a generation) are not examined by
    a young collection; only the tuples of atomic values sit in it until it untracks them."""
    wl = build_workload(_fit(atomic, untracked), name="t", description="", tail_s=0.0, baseline_objects=0)
    phase = wl.phases[0]
    assert phase.untracked_share == pytest.approx(untracked)
    assert phase.atomic_tuple_share == pytest.approx(tuples)
    res = simulate(Scenario(wl, GCSettings(version="3.11", thresholds=(700, 10, 10)), seed=3, memory=False))
    young = res.collections[res.collections.generation == 0]
    assert len(young) > 20
    # at count0 = 701 the young generation holds the tracked share of 701 births; the
    # collection untracks the tuples among them and keeps the rest
    expect_examined = 701 * (1.0 - untracked)
    expect_untracked = 701 * tuples
    assert young.examined.median() == pytest.approx(expect_examined, rel=0.05)
    assert young.untracked.median() == pytest.approx(expect_untracked, rel=0.1, abs=3)
