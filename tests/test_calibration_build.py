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
    from gcperf.calibration.calibrate import fit_pauses
    from gcperf.cpython.costs import CostModel, cost_model_for

    machine = cost_model_for("3.11")
    truth = CostModel(fixed_us=20.0, per_object_ns=30.0, per_ref_ns=0.0, cache_factor=3.0, old_cache_factor=9.0,
                      cache_half_objects=machine.cache_half_objects, cache_exponent=machine.cache_exponent,
                      per_garbage_ns=machine.per_garbage_ns)
    rows = []
    for young in np.geomspace(200, 5e6, 40):  # young collections of every size
        rows.append((0, 701, young, 0.0, 0.0, float(truth.pause_s(young, 0, 0.0))))
    for old in np.geomspace(5e4, 5e6, 12):  # full collections: a few young objects and a big old heap
        n = 700 + old
        rows.append((2, 701, 700.0, 0.0, old, float(truth.pause_s(n, 0, 0.0, old=old))))

    costs, _, _, _ = fit_pauses(_recording(rows))
    assert costs.cache_factor == pytest.approx(3.0, rel=0.1)
    assert costs.old_cache_factor == pytest.approx(9.0, rel=0.1)
    young_only, _, _, _ = fit_pauses(_recording([r for r in rows if r[0] == 0]))
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


def _recording(rows):
    """A recording of collections only: (generation, count0, young, gen1, gen2, pause_s) rows,
    -1 where the recorder did not measure."""
    from pathlib import Path

    import pandas as pd

    from gcperf.recording.format import Recording

    c = pd.DataFrame(rows, columns=["generation", "count0", "gen0_objects", "gen1_objects", "gen2_objects", "pause_s"])
    c["next_gen_objects_after"] = -1.0
    c["collected"] = 0
    c["explicit"] = 0
    doc = {"interpreter": {"version": "3.11.7", "thresholds": [700, 10, 10]}, "program": {"argv": ["t.py"]}}
    return Recording(Path("t.gcrec.json.gz"), doc, c, pd.DataFrame())


def test_the_pause_fit_sees_the_rise_in_the_long_windows_it_did_not_measure():
    """The recorder measures sizes mostly at the default windows; the pattern's long windows have
    their pauses and count0 only. ``fit_pauses`` counts their young generation as count0 times the
    measured young objects per count0 and finds the rise from them: here pauses made with a rise
    of x5 halfway at 2e4 objects (the machine's is at 4.8e5), young = 0.9 x count0, sizes measured
    at 700 only. Without those windows nothing shows the rise: the fit stays near the machine's
    and prices a 2e4-object young collection at a third of its cost."""
    from gcperf.calibration.calibrate import fit_pauses
    from gcperf.cpython.costs import CostModel, cost_model_for

    machine = cost_model_for("3.11")
    truth = CostModel(fixed_us=5.0, per_object_ns=40.0, per_ref_ns=0.0, cache_factor=5.0, cache_half_objects=2e4,
                      cache_exponent=machine.cache_exponent, per_garbage_ns=machine.per_garbage_ns)
    measured = [(0, 701, 0.9 * 701 + k, -1, -1, float(truth.pause_s(0.9 * 701 + k, 0, 0.0))) for k in range(12)]
    windows = [(0, c0, -1, -1, -1, float(truth.pause_s(0.9 * c0, 0, 0.0)))
               for c0 in (176, 351, 1401, 2801, 11201, 22401) for _ in range(4)]
    costs, _, _, report = fit_pauses(_recording(measured + windows))
    assert report["young_window_classes"] == 6
    for n in (700, 5e3, 1e4, 2e4):
        assert costs.pause_s(n, 0, 0.0) == pytest.approx(float(truth.pause_s(n, 0, 0.0)), rel=0.15), n
    alone, _, _, report = fit_pauses(_recording(measured))
    assert report["young_window_classes"] == 0
    assert alone.pause_s(2e4, 0, 0.0) < 0.5 * truth.pause_s(2e4, 0, 0.0)


def test_the_pause_fit_prices_older_objects_by_their_generation():
    """Objects that were in generation 1 cost ``k1`` times a young one in this program (its
    caches, its trees): on exact pauses made so (k1 = 5), ``fit_pauses`` finds it in the
    generation-1 collections, whatever the young objects in them."""
    from gcperf.calibration.calibrate import fit_pauses
    from gcperf.cpython.costs import CostModel

    truth = CostModel(fixed_us=5.0, per_object_ns=40.0, per_ref_ns=0.0, cache_factor=1.0)
    rows = [(0, 701, y, -1, -1, float(truth.pause_s(y, 0, 0.0))) for y in np.linspace(300, 3000, 20)]
    for y, m in zip(np.geomspace(500, 20000, 12), np.geomspace(4000, 1000, 12), strict=True):
        rest, young, mid, _ = truth.pause_parts(y + m, 0, 0.0, mid=m)
        rows.append((1, 701, y, m, -1, 5.0 * rest + young + 5.0 * mid))
    _, _, scale, _ = fit_pauses(_recording(rows))
    assert scale[1] == pytest.approx(5.0, rel=0.05)
    assert scale[0] == 1.0


def test_pause_parts_sum_to_the_pause():
    """``CostModel.pause_parts`` splits the pause (fixed + freeing, young, generation 1, generation
    2) without changing it, the old objects at their own rise; more old and mid objects than
    examined is an error."""
    from gcperf.cpython.costs import CostModel
    from gcperf.errors import GcperfError

    cm = CostModel(old_cache_factor=12.0, cache_half_objects=1e4)
    for n, freed, old, mid in ((700, 0, 0, 0), (5e4, 300, 2e4, 1e4), (3e5, 1e3, 2.5e5, 4e4)):
        parts = cm.pause_parts(n, freed, 1.5, old, mid)
        assert sum(parts) == pytest.approx(float(cm.pause_s(n, freed, 1.5, old)), rel=1e-12)
        assert parts[2] * (n - old - mid) == pytest.approx(mid * parts[1], rel=1e-12)  # same price per object
    with pytest.raises(GcperfError, match="exceed"):
        cm.pause_parts(100, 0, 0.0, old=60, mid=50)


@pytest.mark.parametrize("by", ["collection", "object"])
def test_a_simulation_prices_objects_by_the_generation_they_were_in(by):
    """With ``pause_scale_by="object"`` each examined object's walk takes the factor of the
    generation it was in, the fixed cost and the freeing the collected generation's; with
    "collection" the whole pause takes the collected generation's. ``examined_by_generation``
    gives the same run's examined objects by generation: priced by ``CostModel.pause_parts`` and
    combined with the factors they are its pauses, and under "object" a generation-1 collection
    costs less than its whole at generation 1's factor."""
    from dataclasses import replace

    from gcperf.cpython.costs import cost_model_for
    from gcperf.engine.runner import examined_by_generation
    from gcperf.workload.builtin import get_workload

    scale = (1.5, 6.0, 3.0)
    wl = replace(get_workload("web"), pause_scale=scale, pause_scale_by=by)
    sc = Scenario(wl, GCSettings(version="3.11", thresholds=(700, 3, 3)), seed=2, memory=False, duration_s=1.0)
    c = simulate(sc).collections
    p = examined_by_generation(sc)
    assert p[c.columns].equals(c) and (c.generation == 2).any()
    assert (p.examined_gen1[c.generation == 0] == 0).all() and (p.examined_gen2[c.generation < 2] == 0).all()
    assert (p.examined_gen1 + p.examined_gen2 <= c.examined).all()
    cost = cost_model_for("3.11")
    parts = np.array([cost.pause_parts(n, f, wl.refs_per_object, o, m) for n, f, o, m in
                      zip(c.examined, c.garbage_freed, p.examined_gen2, p.examined_gen1, strict=True)]) * 1e3
    rest, young, gen1, gen2 = parts.T
    f = np.asarray(scale)[c.generation.to_numpy()]
    whole = f * (rest + young + gen1 + gen2)
    if by == "object":
        expect = f * rest + scale[0] * young + scale[1] * gen1 + scale[2] * gen2
        older = (c.generation >= 1).to_numpy()
        assert (young[older] > 0).all() and (gen1[(c.generation == 1).to_numpy()] > 0).all()
        assert (c.pause_ms.to_numpy()[older] < whole[older]).all()
    else:
        expect = whole
    np.testing.assert_allclose(c.pause_ms, expect, rtol=1e-9)


def test_pause_scale_by_is_checked_and_kept_in_the_json_form():
    from dataclasses import replace

    from gcperf.errors import GcperfError
    from gcperf.workload.builtin import get_workload
    from gcperf.workload.specs import workload_from_dict, workload_to_dict

    wl = replace(get_workload("web"), pause_scale_by="object")
    import json

    assert workload_from_dict(json.loads(json.dumps(workload_to_dict(wl)))) == wl
    with pytest.raises(GcperfError, match="pause_scale_by"):
        replace(wl, pause_scale_by="objects")


def test_the_fit_counts_uncollected_cyclic_garbage_in_the_generation_sizes():
    """An unreachable object stays in its generation's list, so in the size a recording measures,
    until a collection of that generation frees it: generation 1's garbage until the next
    collection of generation >= 1, generation 2's until the next full one. The fit's generation
    sizes add that share (``q``) of each component's deaths there to the live objects."""
    from gcperf.calibration.population import _pending, _sizes

    gen = np.array([0, 0, 1, 0, 2, 0])
    d1 = np.array([[1.0], [2.0], [4.0], [8.0], [16.0], [32.0]])  # deaths in generation 1 per window
    d2 = 10.0 * d1  # and in generation 2
    p1, p2 = _pending(gen, d1, d2)
    # at collection k's start: everything that died there since the last collection that freed it,
    # the window's own deaths included
    assert p1[:, 0].tolist() == [1.0, 3.0, 7.0, 8.0, 24.0, 32.0]
    assert p2[:, 0].tolist() == [10.0, 30.0, 70.0, 150.0, 310.0, 320.0]
    live1 = np.full((6, 1), 100.0)
    live2 = np.full((6, 1), 1000.0)
    s1, s2 = _sizes(gen, live1, live2, d1, d2, np.array([0.5]))
    assert (s1[:, 0] == 100.0 + 0.5 * p1[:, 0]).all()
    assert (s2[:, 0] == 1000.0 + 0.5 * p2[:, 0]).all()
    # no cyclic deaths, no garbage: the live objects alone
    s1, s2 = _sizes(gen, live1, live2, d1, d2, np.array([0.0]))
    assert (s1 == live1).all() and (s2 == live2).all()
