"""A statistical stream's draw of one phase piece, compiled: the same random numbers, the same results.

``StatisticalStream._draw_piece`` (numpy) makes 15-20 passes over a piece's slots and ~200 numpy and
built-in calls per piece (counted with cProfile on a calibrated model); a calibrated model has ~150 phases of a few thousand slots each, where the calls
cost more than the passes. This kernel does the same work in one pass per step and draws its random
numbers from the same ``numpy.random.Generator`` in the same order (numba's generator methods
are numpy's algorithms and advance the same bit generator):

1. one float32 uniform per slot (``Generator.random(dtype=float32)``), in slot order;
2. the dominant lifetime component's numbers for every object that outlives its slot and is not a
   cyclic immediate (the others' are drawn and overwritten, as numpy draws them for the whole array);
3. each other component's numbers for its own objects, component by component.

The comparisons are made at the precision numpy makes them (NEP 50): a Python float against the
float32 uniforms compares in float32, a float64 array's element in float64. The caller passes
each bound already rounded the way numpy would round it (``_kernel_params`` in ``stream.py``); a
phase whose parameters are numpy scalars, or that has a ``batch`` component, stays on the numpy
path, and so do pieces longer than ``COMPILED_PIECE_MAX``. tests/test_drawkernel.py compares the two paths slot by slot.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

U = np.uint64
NEVER = np.iinfo(np.int64).max
INT32_MAX_F = float(2**31 - 1)
FLAG_CYCLIC = np.uint8(1)

# lifetime kinds the kernel draws (anything else stays on the numpy path)
K_IMMEDIATE, K_FIXED, K_EXPONENTIAL, K_LOGNORMAL, K_FOREVER = 0, 1, 2, 3, 4
KIND_CODES = {"immediate": K_IMMEDIATE, "fixed": K_FIXED, "exponential": K_EXPONENTIAL, "lognormal": K_LOGNORMAL,
              "forever": K_FOREVER}

# cached on disk, no reference counting (arrays and the generator only come in), no zero-division
# checks (numpy's float semantics), the GIL released
_OPTS: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy", "nogil": True}


@njit(**_OPTS)
def _slot_at(t, q, first_slot, start_time, rates):  # pragma: no cover - compiled
    """The slot after whose allocation mutator time ``t`` falls (NEVER: after the workload's end);
    ``StatisticalStream._slots_at`` for one time ``t`` not before phase ``q``'s start."""
    nq = start_time.shape[0]
    if t >= start_time[nq - 1]:
        return NEVER
    # searchsorted(start_time, t, side="right") - 1, which is q or later: gallop from q (most
    # deaths fall a few phases on), then bisect the last step
    lo = q
    step = 1
    hi = q + 1
    while hi < nq and start_time[U(hi)] <= t:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > nq:
        hi = nq
    lo += 1  # start_time[lo - 1] <= t: the first index whose start is after t lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) >> 1
        if start_time[U(mid)] <= t:
            lo = mid + 1
        else:
            hi = mid
    qq = lo - 1
    sl = first_slot[U(qq)] + np.int64(math.floor((t - start_time[U(qq)]) * rates[U(qq)]))
    cap = first_slot[U(qq + 1)] - 1
    return sl if sl < cap else cap


@njit(**_OPTS)
def _number(rng, kind):  # pragma: no cover - compiled
    """The random number one object of a component of ``kind`` takes from the generator (none: 0)."""
    if kind == K_EXPONENTIAL:
        return rng.standard_exponential()
    if kind == K_LOGNORMAL:
        return rng.standard_normal()
    return 0.0


@njit(**_OPTS)
def _death(kind, x, pa, pb, own, q, first_slot, start_time, rates):  # pragma: no cover - compiled
    """Death slot of an object allocated at slot ``own`` of phase ``q`` whose component is of
    ``kind`` with parameters ``pa``, ``pb`` and random number ``x`` (``_lifetime_slots`` and
    ``_death_slots`` for one object)."""
    if kind == K_IMMEDIATE:
        return own
    if kind == K_FOREVER:
        return NEVER
    if kind == K_FIXED:
        span = pa
    elif kind == K_EXPONENTIAL:
        span = x * pa
    else:
        span = math.exp(x * pa + pb)
    if span > INT32_MAX_F:
        span = INT32_MAX_F
    slot = own + np.int64(span)
    if slot >= first_slot[U(q + 1)] or span >= INT32_MAX_F:
        rate = rates[U(q)]
        t = (start_time[U(q)] + np.float64(own - first_slot[U(q)]) / rate) + span / rate
        slot = _slot_at(t, q, first_slot, start_time, rates)
    return slot


@njit(**_OPTS)
def draw_piece(rng, u, own_dead, g0, q, low_eff, imm_band, imm_eff, p_imm32, den32, kinds, pa, pb, dom, cum, cum_lo,
               width, first_slot, start_time, rates, has_kinds, comp_mode, a_on, a_lo, t_on, at_hi, cyc_on, cyc_bound,
               any_c, atomic_flag, untracked_flag, sel, dslot, flags, comp, v, ridx):  # pragma: no cover - compiled
    """Draw the ``len(u)`` slots of a piece of phase ``q`` that starts at global slot ``g0``.

    Fills ``u`` (the uniforms) and ``own_dead`` (freed in its own slot) for every slot, and for the
    ``m`` others (returned) their local slot ``sel[:m]``, death slot ``dslot[:m]`` and kind bits
    ``flags[:m]``; ``comp``, ``v`` and ``ridx`` are work arrays of the piece's length.
    """
    n = u.shape[0]
    for i in range(n):
        u[U(i)] = rng.random(dtype=np.float32)
    m = 0
    for i in range(n):
        dead = np.float64(u[U(i)]) < low_eff
        own_dead[U(i)] = dead
        if not dead:
            sel[U(m)] = i
            m += 1
    K = kinds.shape[0]
    nb = cum.shape[0]
    r = 0
    for j in range(m):
        us = u[U(sel[U(j)])]
        flags[U(j)] = 0
        if imm_band and np.float64(us) < imm_eff:
            # a cyclic immediate: unreachable within its own slot
            dslot[U(j)] = g0 + sel[U(j)]
            flags[U(j)] = FLAG_CYCLIC
            continue
        vv = (us - p_imm32) / den32  # float32 arithmetic, as numpy does it with a Python float
        c = 0
        for b in range(nb):
            if np.float64(vv) >= cum[U(b)]:
                c += 1
        v[U(r)] = vv
        comp[U(r)] = c
        ridx[U(r)] = j
        r += 1
    if r == 0:
        return m
    # the dominant component for every such object (the draws of the others are overwritten)
    kd = kinds[U(dom)]
    for k in range(r):
        x = _number(rng, kd)
        if K == 1 or comp[U(k)] == dom:
            j = ridx[U(k)]
            dslot[U(j)] = _death(kd, x, pa[U(dom)], pb[U(dom)], g0 + sel[U(j)], q, first_slot, start_time, rates)
    for c in range(K):
        if c == dom:
            continue
        kc = kinds[U(c)]
        for k in range(r):
            if comp[U(k)] != c:
                continue
            x = _number(rng, kc)
            j = ridx[U(k)]
            dslot[U(j)] = _death(kc, x, pa[U(c)], pb[U(c)], g0 + sel[U(j)], q, first_slot, start_time, rates)
    if has_kinds:
        for k in range(r):
            c = comp[U(k)]
            # one component: the float32 number itself; several: rescaled within its component
            w = (np.float64(v[U(k)]) - cum_lo[U(c)]) / width[U(c)] if comp_mode else np.float64(v[U(k)])
            fl = np.uint8(0)
            if a_on and w < a_lo:
                fl = atomic_flag
            if t_on and w >= a_lo and w < at_hi:
                fl = untracked_flag
            if cyc_on and w >= cyc_bound[U(c)]:
                fl = FLAG_CYCLIC
            j = ridx[U(k)]
            if any_c and fl == FLAG_CYCLIC and dslot[U(j)] == NEVER:
                fl = np.uint8(0)
            flags[U(j)] = fl
    return m
