"""The compiled draw (gcperf/workload/drawkernel.py) against the numpy draw it replaces.

Both draw from one seeded generator; every chunk must come out the same, slot by slot (deaths,
kinds, the count0 steps, the objects freed in their own slot), and the generator must be left at
the same place. Phases the kernel does not take (a ``batch`` component, numpy-scalar shares) stay
on the numpy path and are checked too.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcperf import GCSettings, Lifetime, Phase, Scenario, Workload
from gcperf.engine.runner import _make_stream
from gcperf.workload.builtin import BUILTIN_WORKLOADS
from gcperf.workload.stream import StatisticalStream


def _draw(wl: Workload, version: str, seed: int, chunk_slots: int, compiled: bool, memory: bool = True):
    sc = Scenario(wl, GCSettings(version=version), seed=seed, memory=memory, chunk_slots=chunk_slots)
    stream = _make_stream(sc)
    stream.compiled_draw = compiled
    stream.record_dense = True
    out = []
    for ch in stream.chunks():
        out.append({
            "cand": ch.cand, "death": ch.cand_death, "flags": ch.cand_flags, "d": ch.d, "counted": ch.counted,
            "dense_death": ch.dense[0], "dense_flags": ch.dense[1], "sizes": ch.cand_sizes,
            "own": [ch.own_slot_object(k) for k in range(0, ch.n, 1 if ch.n < 5000 else 37)],
        })
        # the work buffers are reused: keep copies
        out[-1] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in out[-1].items()}
    return out, stream.rng.random(), stream


def _assert_same(a, b):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        for key in x:
            p, q = x[key], y[key]
            if isinstance(p, np.ndarray) or isinstance(q, np.ndarray):
                assert p is not None and q is not None, (i, key)
                np.testing.assert_array_equal(p, q, err_msg=f"chunk {i}, {key}")
            else:
                assert p == q, (i, key)


def _compare(wl: Workload, version: str, seed: int, chunk_slots: int, memory: bool = True):
    a, ra, _ = _draw(wl, version, seed, chunk_slots, compiled=False, memory=memory)
    b, rb, stream = _draw(wl, version, seed, chunk_slots, compiled=True, memory=memory)
    _assert_same(a, b)
    assert ra == rb  # the generator was advanced exactly as far
    return stream


def _lone_immediate(phase: Phase) -> bool:
    return len(phase.lifetimes) == 1 and phase.lifetimes[0].kind == "immediate"


_KINDS = st.sampled_from(["immediate", "exponential", "lognormal", "fixed", "forever"])


@st.composite
def workloads(draw, batch: bool = False):
    n_phases = draw(st.integers(1, 4))
    phases = []
    for i in range(n_phases):
        k = draw(st.integers(1, 5))
        weights = draw(st.lists(st.integers(0, 9), min_size=k, max_size=k).filter(lambda w: sum(w) > 0))
        kinds = draw(st.lists(_KINDS, min_size=k, max_size=k))
        if batch and draw(st.booleans()):
            kinds[-1] = "batch"
        rate = draw(st.sampled_from([1000, 2500.0, 40000.0]))
        lts = []
        for j, (w, kind) in enumerate(zip(weights, kinds, strict=True)):
            scale = draw(st.sampled_from([0.0005, 0.02, 0.3, 5.0]))
            cyc = draw(st.sampled_from([None, None, 0.0, 0.3, 1.0]))
            lts.append(Lifetime(f"c{j}", w / sum(weights), kind, scale if kind != "immediate" else 0.0,
                                draw(st.sampled_from([0.05, 1.0, 2.5])), cyc))
        phases.append(Phase(
            f"p{i}", duration_s=draw(st.sampled_from([0.01, 0.05, 0.2])), alloc_rate_per_s=rate, lifetimes=tuple(lts),
            cyclic_share=draw(st.sampled_from([0.0, 0.1, 0.6])), atomic_tuple_share=draw(st.sampled_from([0.0, 0.15])),
            untracked_share=draw(st.sampled_from([0.0, 0.1])), call_allocations=draw(st.sampled_from([1, 1, 7]))))
    return Workload("random", phases=tuple(phases), baseline_objects=10)


@settings(max_examples=60, deadline=None)
@given(wl=workloads(), version=st.sampled_from(["3.11", "3.12", "3.13", "3.15"]), seed=st.integers(0, 2**16),
       chunk_slots=st.sampled_from([300, 4096, 1 << 18]))
def test_the_compiled_draw_is_the_numpy_draw(wl, version, seed, chunk_slots):
    stream = _compare(wl, version, seed, chunk_slots)
    # every phase went through the kernel, but one whose only component is the first "immediate"
    # (nothing to draw beyond the uniform numbers: the numpy path takes it)
    for q, kp in stream._kparams.items():
        assert (kp is None) == _lone_immediate(wl.phases[q])


@settings(max_examples=20, deadline=None)
@given(wl=workloads(batch=True), seed=st.integers(0, 2**16))
def test_phases_with_a_batch_component_stay_on_the_numpy_path_and_mix_with_the_others(wl, seed):
    stream = _compare(wl, "3.12", seed, 1000)
    for q, kp in stream._kparams.items():
        has_batch = any(lt.kind == "batch" for lt in wl.phases[q].lifetimes)
        assert (kp is None) == (has_batch or _lone_immediate(wl.phases[q]))


def test_numpy_scalar_shares_stay_on_the_numpy_path():
    # numpy compares a numpy float64 with float32 numbers in float64, a Python float in float32:
    # the kernel is written for the second, so the first keeps numpy's draw (and its results)
    lts = (Lifetime("now", np.float64(0.4), "immediate"), Lifetime("later", np.float64(0.6), "exponential", 0.01))
    wl = Workload("np", phases=(Phase("p", duration_s=0.1, alloc_rate_per_s=50000.0, lifetimes=lts,
                                      cyclic_share=np.float64(0.3), atomic_tuple_share=np.float64(0.1)),))
    stream = _compare(wl, "3.11", 5, 2048)
    assert stream._kparams == {0: None}


@pytest.mark.parametrize("name", sorted(BUILTIN_WORKLOADS))
def test_the_builtin_workloads_draw_the_same(name):
    wl = BUILTIN_WORKLOADS[name]
    short = replace(wl, phases=tuple(replace(p, duration_s=min(p.duration_s, 0.15)) for p in wl.phases))
    for version in ("3.11", "3.13"):
        # chunks of 4096 slots: every piece is short enough for the kernel
        stream = _compare(short, version, 11, 4096)
        assert stream._kparams and all(v is not None for v in stream._kparams.values())


def test_long_pieces_are_drawn_with_numpy_and_the_same():
    # over a long piece numpy is as fast as the kernel: it keeps them (the results are the same)
    from gcperf.workload.stream import COMPILED_PIECE_MAX

    wl = BUILTIN_WORKLOADS["web"]
    short = replace(wl, phases=tuple(replace(p, duration_s=min(p.duration_s, 0.1)) for p in wl.phases))
    assert short.phases[0].alloc_rate_per_s * 0.1 > 2 * COMPILED_PIECE_MAX
    stream = _compare(short, "3.12", 4, 1 << 18)
    assert stream._kparams == {}  # no piece went to the kernel


def test_a_stream_can_be_told_to_draw_with_numpy():
    assert StatisticalStream.compiled_draw is True
    wl = BUILTIN_WORKLOADS["web"]
    stream = _make_stream(Scenario(wl, GCSettings(version="3.12"), seed=0, duration_s=0.05))
    stream.compiled_draw = False
    next(iter(stream.chunks()))
    assert stream._kparams == {}


def _neighbours(x: float) -> np.ndarray:
    """float32 numbers around ``x``: where numpy's float32 comparison and a float64 one disagree."""
    c = np.float32(x)
    out = [c]
    for _ in range(3):
        out += [np.nextafter(out[-1], np.float32(2)), np.nextafter(out[0], np.float32(-1))]
    return np.clip(np.array(out, dtype=np.float32), np.float32(0), np.float32(0.99999994))


def test_the_kernels_bounds_compare_as_numpy_compares_them():
    # the rounding of a bound to float32 decides one slot in ~10^8: random draws do not find it, so
    # the bounds are checked at the float32 numbers next to them, for many phases (a bound rounds
    # up or down, and only one of the two can show a wrong rounding)
    from gcperf.workload.stream import _kernel_params, _Layout

    rng = np.random.default_rng(7)
    for _ in range(300):
        share, cyc = float(rng.uniform(0, 0.9)), float(rng.uniform(0, 1))
        atomic, untracked = float(rng.uniform(0, 0.4)), float(rng.uniform(0, 0.4))
        others = int(rng.integers(1, 4))
        rest = [Lifetime(f"l{i}", (1 - share) / others, "exponential", 0.01) for i in range(others)]
        phase = Phase("p", lifetimes=(Lifetime("now", share, "immediate"), *rest), cyclic_share=cyc,
                      atomic_tuple_share=atomic, untracked_share=untracked)
        lay = _Layout(phase, True, False)
        kp = _kernel_params(lay, 1000.0, np.array([0, 10]), np.array([0.0, 0.01]), np.array([1000.0]))
        low_eff, imm_band, imm_eff, p32, den32 = kp[:5]
        a_lo, at_hi = kp[18], kp[20]
        assert imm_band == (lay.low < lay.p_imm)
        for bound in (lay.low, lay.p_imm, lay.a, lay.a + lay.t):
            u = _neighbours(bound)
            np.testing.assert_array_equal(u.astype(np.float64) < low_eff, np.less(u, lay.low))
            np.testing.assert_array_equal(u.astype(np.float64) < imm_eff, u < lay.p_imm)
            v = (u - lay.p_imm) / (1.0 - lay.p_imm)  # numpy's float32 rescaling
            np.testing.assert_array_equal((u - p32) / den32, v)
            # one component: the kind is read from the float32 numbers themselves; several: from
            # their rescaling within the component, in float64
            w = u if others == 1 else u.astype(np.float64)
            np.testing.assert_array_equal(w.astype(np.float64) < a_lo, w < lay.a)
            np.testing.assert_array_equal(w.astype(np.float64) < at_hi, w < lay.a + lay.t)


def _many_phases() -> Workload:
    """A calibrated model's shape: many short phases, several lognormal components with cyclic shares."""
    phases = []
    for i in range(24):
        lts = (Lifetime("now", 0.3, "immediate", cyclic_share=0.2),
               Lifetime("short", 0.3, "lognormal", 0.004 * (1 + i % 3), 0.5, 0.1),
               Lifetime("mid", 0.25, "lognormal", 0.08, 0.05, 0.3),
               Lifetime("long", 0.15, "lognormal", 2.0, 0.05, 1.0))
        phases.append(Phase(f"w{i}", duration_s=0.02, alloc_rate_per_s=150000.0 + 5000.0 * i, lifetimes=lts,
                            atomic_tuple_share=0.2, untracked_share=0.05))
    return Workload("many", phases=tuple(phases), baseline_objects=1000)


def test_runs_over_the_compiled_draw_are_the_runs_over_numpys(monkeypatch):
    """Whole runs, alone and side by side over one draw (simulate_many), memory model on: the same tables."""
    from gcperf import simulate, simulate_many
    from gcperf.workload.stream import COMPILED_PIECE_MAX

    wl = _many_phases()
    assert max(p.duration_s * p.alloc_rate_per_s for p in wl.phases) <= COMPILED_PIECE_MAX  # the kernel draws them
    scs = [Scenario(wl, GCSettings(version=v, thresholds=(t0, 10, 10)), seed=3, memory=True)
           for v in ("3.11", "3.12") for t0 in (100, 700, 5000)]
    tables = {}
    for compiled in (False, True):
        monkeypatch.setattr(StatisticalStream, "compiled_draw", compiled)
        alone = [simulate(sc, memory_thread=False) for sc in scs]
        together = simulate_many(scs)
        tables[compiled] = [(r.collections, r.timeline, r.summary) for r in alone + together]
    for (c0, t0, s0), (c1, t1, s1) in zip(tables[False], tables[True], strict=True):
        assert len(c0) >= 5  # every run collects (46-323 times but at threshold0 5000)
        assert c0.equals(c1) and t0.equals(t1) and s0.equals(s1)
