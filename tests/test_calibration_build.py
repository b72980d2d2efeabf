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


def test_the_pause_fit_tells_the_old_heap_from_the_young_objects():
    """``fit_pauses`` prices the objects a full collection examines in generation 2 with their own
    rise out of cache (``old_cache_factor``): on exact pauses made with a young rise of x3 and an
    old one of x9 it finds both, and without full collections the old rise stays at its prior,
    the machine's (there is nothing to see it in)."""
    from pathlib import Path

    import pandas as pd

    from gcperf.calibration.calibrate import fit_pauses
    from gcperf.cpython.costs import CostModel, cost_model_for
    from gcperf.recording.format import Recording

    machine = cost_model_for("3.11")
    truth = CostModel(fixed_us=20.0, per_object_ns=30.0, per_ref_ns=0.0, cache_factor=3.0, old_cache_factor=9.0,
                      cache_half_objects=machine.cache_half_objects, cache_exponent=machine.cache_exponent,
                      per_garbage_ns=machine.per_garbage_ns)
    rows = []
    for young in np.geomspace(200, 5e6, 40):  # young collections of every size
        rows.append((0, young, 0.0, 0.0, float(truth.pause_s(young, 0, 0.0))))
    for old in np.geomspace(5e4, 5e6, 12):  # full collections: a few young objects and a big old heap
        n = 700 + old
        rows.append((2, 700.0, 0.0, old, float(truth.pause_s(n, 0, 0.0, old=old))))

    def recording(rows) -> Recording:
        c = pd.DataFrame(rows, columns=["generation", "gen0_objects", "gen1_objects", "gen2_objects", "pause_s"])
        c["next_gen_objects_after"] = -1.0
        c["collected"] = 0
        c["explicit"] = 0
        doc = {"interpreter": {"version": "3.11.7", "thresholds": [700, 10, 10]}, "program": {"argv": ["t.py"]}}
        return Recording(Path("t.gcrec.json.gz"), doc, c, pd.DataFrame())

    costs, _, _, _ = fit_pauses(recording(rows))
    assert costs.cache_factor == pytest.approx(3.0, rel=0.1)
    assert costs.old_cache_factor == pytest.approx(9.0, rel=0.1)
    young_only, _, _, _ = fit_pauses(recording([r for r in rows if r[0] == 0]))
    assert young_only.old_cache_factor == pytest.approx(machine.cache_factor, rel=0.05)


def test_a_simulation_prices_generation_2_objects_as_old_ones():
    """The engine hands each collection's generation-2 objects to the cost model as old ones: with
    an old rise far above the young one, full collections pause longer and young ones not at all."""
    from dataclasses import replace

    from gcperf.cpython.costs import CostModel
    from gcperf.workload.builtin import get_workload

    base = CostModel(cache_half_objects=2e3)
    runs = []
    for costs in (base, replace(base, old_cache_factor=base.cache_factor * 4)):
        wl = replace(get_workload("web"), pause_costs=costs)
        settings = GCSettings(version="3.11", thresholds=(700, 3, 3))
        runs.append(simulate(Scenario(wl, settings, seed=2, memory=False, duration_s=1.0)).collections)
    same, old = runs
    assert (same.generation == old.generation).all() and (same.generation == 2).any()
    young = same.generation == 0
    np.testing.assert_allclose(old.pause_ms[young], same.pause_ms[young])
    full = same.generation == 2
    assert (old.pause_ms[full] > 2 * same.pause_ms[full]).all()
