"""Statistical workloads: the batched engine against the per-event reference.

The stream is drawn once with ``record_dense`` (every object's death and kind),
turned into an exact trace, and replayed by ``reference_gc``; the engine's own
run of the same scenario must log the very same collections.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_gc import engine_log, reference_run

from gcperf import GCSettings, Lifetime, Phase, Scenario, Workload, simulate
from gcperf.cpython.heap import FLAG_ATOMIC, FLAG_CYCLIC, FLAG_UNTRACKED, NEVER
from gcperf.cpython.versions import preset
from gcperf.workload.stream import StatisticalStream
from gcperf.workload.trace import Trace


def realised_trace(sc: Scenario) -> Trace:
    wl = sc.resolved_workload()
    pre = preset(sc.gc.version)
    phase_ops = {}
    for name in sc.gc.collect_after:
        phase_ops.setdefault(name, []).append(("collect", (2,)))
    if sc.gc.freeze_after:
        phase_ops.setdefault(sc.gc.freeze_after, []).append(("freeze", ()))
    stream = StatisticalStream(wl, np.random.default_rng(np.random.SeedSequence(sc.seed).spawn(2)[0]), phase_ops,
                               pre.atomic_tuples_tracked, pre.atomic_dicts_tracked, sc.chunk_slots)
    stream.record_dense = True
    deaths, flags, ops = [], [], []
    for ch in stream.chunks():
        deaths.append(ch.dense[0])
        flags.append(ch.dense[1])
        ops += ch.ops
    death = np.concatenate(deaths)
    fl = np.concatenate(flags)
    n = len(death)
    j = np.arange(n, dtype=np.int64)
    head = np.where((fl & FLAG_CYCLIC) != 0, j, NEVER)
    # an eval-breaker check follows an allocation unless a phase makes several in one C call
    checked = np.array([stream.next_checkpoint(4 * int(k)) == 4 * int(k) + 1 for k in j], dtype=bool)
    return Trace(4 * j, death, fl, head, 4 * j[checked] + 1, ops)


def _workload(draw_shares, rate, cyc, atomic, untracked, phases, calls=(1,)):
    lts = (
        Lifetime("temp", draw_shares[0], "immediate"),
        Lifetime("short", draw_shares[1], "exponential", 20 / rate),
        Lifetime("mid", draw_shares[2], "lognormal", 200 / rate, 1.0),
        Lifetime("fixed", draw_shares[3], "fixed", 50 / rate),
        Lifetime("kept", draw_shares[4], "forever"),
        Lifetime("step", draw_shares[5], "batch", 150 / rate),
    )
    ph = tuple(
        Phase(f"p{i}", duration_s=3000 / rate, alloc_rate_per_s=rate * (1 + i), lifetimes=lts, cyclic_share=cyc,
              atomic_tuple_share=atomic, untracked_share=untracked, call_allocations=calls[i % len(calls)])
        for i in range(phases)
    )
    return Workload("random", phases=ph, baseline_objects=50)


shares = st.lists(st.integers(0, 10), min_size=6, max_size=6).filter(lambda x: sum(x) > 0).map(
    lambda x: tuple(v / sum(x) for v in x)
)


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
@settings()
@given(
    sh=shares,
    cyc=st.sampled_from([0.0, 0.1, 0.5]),
    atomic=st.sampled_from([0.0, 0.2]),
    untracked=st.sampled_from([0.0, 0.1]),
    phases=st.integers(1, 3),
    version=st.sampled_from(["3.8", "3.11", "3.12", "3.13", "3.14", "3.15"]),
    thresholds=st.tuples(st.integers(5, 60), st.integers(1, 5), st.integers(1, 5)),
    seed=st.integers(0, 2**31),
    chunk=st.sampled_from([97, 1000, 1 << 18]),
    freeze=st.booleans(),
    calls=st.lists(st.sampled_from([1, 1, 7, 150]), min_size=1, max_size=3),
)
def test_statistical_runs_match_reference(sh, cyc, atomic, untracked, phases, version, thresholds, seed, chunk, freeze,
                                          calls):
    wl = _workload(sh, 1e5, cyc, atomic, untracked, phases, tuple(calls))
    gc = GCSettings(version=version, thresholds=thresholds, freeze_after="p0" if freeze else None,
                    collect_after=("p0",) if phases > 1 else ())
    sc = Scenario(wl, gc, seed=seed, chunk_slots=chunk, timeline_points=17, memory=False)
    got = engine_log(simulate(sc))
    expected = reference_run(realised_trace(sc), version, thresholds, 50, True)
    assert got == expected


@pytest.mark.parametrize("version", ["3.11", "3.13"])  # atomic tuples and dicts tracked / dicts untracked
def test_an_objects_kind_bits_are_exclusive(version):
    """The heap sorts a segment's candidates into kinds by comparing their kind bits with each
    flag (``make_cohort``): a drawn object is plain, cyclic, atomic or never tracked, never two."""
    sh = (0.2, 0.2, 0.2, 0.1, 0.2, 0.1)
    sc = Scenario(_workload(sh, 1e5, 0.5, 0.2, 0.1, 2), GCSettings(version=version), seed=5, memory=False)
    fl = realised_trace(sc).flags
    assert set(np.unique(fl).tolist()) <= {0, int(FLAG_CYCLIC), int(FLAG_ATOMIC), int(FLAG_UNTRACKED)}
    # every kind occurs, so the check above could fail
    assert {0, int(FLAG_CYCLIC), int(FLAG_UNTRACKED)} <= set(np.unique(fl).tolist())


@pytest.mark.parametrize("name", ["web", "batch", "cycles"])
def test_builtin_workloads_match_reference(name):
    sc = Scenario(name, GCSettings(version="3.12"), seed=3, duration_s=0.02, timeline_points=5, memory=False)
    wl = sc.resolved_workload()
    expected = reference_run(realised_trace(sc), "3.12", None, preset("3.12").interpreter_objects, True)
    got = engine_log(simulate(sc))
    assert wl.baseline_objects is None
    assert got == expected and len(got) > 3


@pytest.mark.parametrize("version, expect_overshoot", [("3.11", False), ("3.12", True), ("3.13", True)])
def test_allocations_inside_one_call_defer_the_collection_from_312(version, expect_overshoot):
    """A phase that makes 5000 lasting objects per C call: from 3.12 the collection that
    threshold0 triggers waits for the call's end (count0 ~5000 at every collection); 3.8-3.11
    collect inside the allocation (count0 = threshold0 + 1)."""
    ph = Phase("parse", duration_s=0.05, alloc_rate_per_s=1e6, lifetimes=(Lifetime("kept", 1.0, "forever"),),
               call_allocations=5000)
    sc = Scenario(Workload("calls", phases=(ph,), baseline_objects=0), GCSettings(version=version, thresholds=(700, 10, 10)),
                  seed=1, memory=False)
    res = simulate(sc)
    young = res.collections[res.collections.generation == 0]
    expected = realised_trace(sc)
    assert engine_log(res) == reference_run(expected, version, (700, 10, 10), 0, True)
    if expect_overshoot:
        assert len(res.collections) == 10  # one per call of 5000
        assert (young["count0"] >= 4999).all()
    else:
        assert len(res.collections) == 50000 // 701
        assert (young["count0"] == 701).all()


def test_a_batch_dies_together_at_the_end_of_the_next_period():
    """kind "batch": objects made in one period of scale_s all die at the end of the next
    period, in one slot, across phase boundaries too."""
    rate, period = 1e5, 0.01  # 1000 allocations per period
    ph = (Phase("a", 0.035, rate, (Lifetime("step", 1.0, "batch", period),)),
          Phase("b", 0.02, 2 * rate, (Lifetime("step", 1.0, "batch", period),)))
    sc = Scenario(Workload("steps", phases=ph, baseline_objects=0), GCSettings(version="3.11"), seed=2,
                  memory=False)
    tr = realised_trace(sc)
    stream = StatisticalStream(sc.resolved_workload(), np.random.default_rng(0))
    born = stream.alloc_time(np.arange(tr.n))
    per = np.floor(born / period + 1e-9).astype(int)
    dead = tr.death != NEVER
    for p in np.unique(per):
        d = tr.death[(per == p) & dead]
        if len(d):
            assert len(np.unique(d)) == 1  # the whole batch in one slot
            t_death = stream.alloc_time(int(d[0]) // 4)
            assert abs(t_death - (p + 2) * period) < 2 / rate
    # the batches of the last period and a half outlive the workload (0.055 s)
    assert not dead[per >= 4].any() and dead[per <= 3].all()


@pytest.mark.parametrize("chunk", [97, 1 << 18])
def test_315_counts_tracked_objects_only(chunk):
    """3.15 counts tracked objects only (CPYTHON_GC.md §1): tuples of atomic values, created
    untracked from 3.14 on, neither raise count0 nor lower it when freed. With half the objects
    such tuples, 3.15 collects about half as often as 3.14, which counts every GC allocation; the
    engine agrees with the per-event reference on every collection."""
    lts = (Lifetime("temp", 0.5, "immediate"), Lifetime("short", 0.3, "exponential", 2e-4),
           Lifetime("kept", 0.2, "forever"))
    ph = Phase("p", duration_s=0.2, alloc_rate_per_s=1e6, lifetimes=lts, atomic_tuple_share=0.5, cyclic_share=0.1)
    wl = Workload("tuples", phases=(ph,), baseline_objects=0)
    young = {}
    for version in ("3.14", "3.15"):
        sc = Scenario(wl, GCSettings(version=version, thresholds=(700, 10, 10)), seed=4, chunk_slots=chunk,
                      memory=False)
        res = simulate(sc)
        assert engine_log(res) == reference_run(realised_trace(sc), version, (700, 10, 10), 0, True)
        young[version] = int((res.collections.generation == 0).sum())
    assert young["3.14"] > 50
    assert young["3.15"] / young["3.14"] == pytest.approx(0.5, abs=0.08)
