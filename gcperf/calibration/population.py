"""Fit a program's population of container objects to what its recording measured.

The model (all times on the mutator clock, ``observe.py``):

* in window k (between two collections) the program makes ``rate[k]`` *lasting* container
  objects per second: objects that live beyond the statement that made them. (Objects freed at
  once by reference counting move no counter and stay in no generation: they are invisible to
  the collector, so the recording cannot see them and the model does not need them.)
* a lasting object lives an exponentially distributed time whose mean is one of a fixed grid
  of time constants ``taus`` (``inf``: until the end), chosen with probability ``weights`` (the
  same mixture for the whole run): a sum of exponentials can follow any survival curve closely;
* a share ``atomic`` of them are tuples of atomic values (untracked by the first collection);
* of those of component c that die, a share ``cyclic[c]`` dies as cyclic garbage, which stays
  in its generation until a collection of that generation frees it; besides, ``cyclic_now``
  objects per lasting object become cyclic garbage within the statement that made them;
* ``drift[k]`` objects per second raise count0 without ever lowering it (allocations whose
  objects are freed into a type's free list, which skips the decrement).

What the recording gives, per collection: its window's length and threshold0, count0 when it
started, the objects it collected and, within the recorder's budget, the sizes of generations
0 and 1 (and 2) when it started and of generation 1 when a young collection ended. The fit
alternates three linear steps until they agree: the rates from the young generation's size
(``young - collected`` objects alive at a young collection were born in its window), the
mixture weights from every measured generation size (non-negative least squares on relative
errors), the cyclic shares from the collected counts (bounded least squares); the drift then
closes the count0 balance of every window. The pools follow cohorts exactly as the collector
moves them (young → generation 1 at a young collection, → generation 2 at an older one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import GcperfError
from .observe import Windows

#: Time constants of the lifetime mixture span this many decades around the windows' lengths.
TAUS_PER_DECADE = 2


@dataclass
class PopulationFit:
    """The fitted population (see the module docstring).

    Attributes:
        taus: time constants of the mixture components (seconds; ``inf``: forever).
        weights: share of lasting objects per component (sums to 1).
        cyclic: per component, the share of its deaths that are cyclic garbage.
        cyclic_now: cyclic garbage made and dropped at once, per lasting object.
        atomic: share of lasting objects that are tuples of atomic values.
        rates: lasting objects per mutator second, per window.
        drift: count0-only increments per mutator second, per window.
        dur: window lengths (mutator seconds).
        diagnostics: fit quality (relative errors per kind of observation).
    """

    taus: np.ndarray
    weights: np.ndarray
    cyclic: np.ndarray
    cyclic_now: float
    atomic: float
    rates: np.ndarray
    drift: np.ndarray
    dur: np.ndarray
    diagnostics: dict = field(default_factory=dict)


@njit(cache=True)
def _forward(dur, gen, rates, taus, atomic):  # pragma: no cover - compiled
    """Per window and component (unit weight): pools at the collection and flows in the window.

    Returns arrays (K, C): young alive, gen1 alive, gen2 alive at the collection's start,
    deaths during the window (all pools), garbage available to the collection (deaths in the
    collected generations since they were last collected), gen1 garbage, gen2 garbage.
    """
    K = dur.shape[0]
    C = taus.shape[0]
    young = np.zeros((K, C))
    g1 = np.zeros((K, C))
    g2 = np.zeros((K, C))
    deaths = np.zeros((K, C))
    avail = np.zeros((K, C))
    gar1_at = np.zeros((K, C))
    gar2_at = np.zeros((K, C))
    for c in range(C):
        tau = taus[c]
        p1 = 0.0
        p2 = 0.0
        u = 0.0
        ga0 = 0.0
        ga1 = 0.0
        ga2 = 0.0
        for k in range(K):
            d = dur[k]
            lam = rates[k]
            if math.isinf(tau):
                e = 1.0
                alive_new = lam * d
            else:
                e = math.exp(-d / tau)
                alive_new = lam * tau * (1.0 - e)
            born = lam * d
            dy = born - alive_new
            d1 = p1 * (1.0 - e)
            d2 = p2 * (1.0 - e)
            du = u * (1.0 - e)
            p1 *= e
            p2 *= e
            u *= e
            ga0 += dy
            ga1 += d1
            ga2 += d2
            young[k, c] = alive_new
            g1[k, c] = p1
            g2[k, c] = p2
            deaths[k, c] = dy + d1 + d2 + du
            gar1_at[k, c] = ga1
            gar2_at[k, c] = ga2
            g = gen[k]
            av = ga0
            ga0 = 0.0
            if g >= 1:
                av += ga1
                ga1 = 0.0
            if g >= 2:
                av += ga2
                ga2 = 0.0
            avail[k, c] = av
            tracked = (1.0 - atomic) * alive_new
            u += atomic * alive_new
            if g == 0:
                p1 += tracked
            else:
                p2 += tracked + p1
                p1 = 0.0
    return young, g1, g2, deaths, avail, gar1_at, gar2_at


def tau_grid(dur: np.ndarray, total_s: float) -> np.ndarray:
    """Time constants from a tenth of the shortest window to ten times the run, plus forever."""
    pos = dur[dur > 0]
    lo = max(float(pos.min()) / 10.0 if len(pos) else 1e-4, 1e-6)
    hi = max(total_s * 10.0, lo * 10.0)
    n = max(2, int(math.ceil(math.log10(hi / lo) * TAUS_PER_DECADE)) + 1)
    return np.concatenate([np.geomspace(lo, hi, n), [np.inf]])


def _interpolate(values: np.ndarray, known: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Fill unknown entries by linear interpolation in time between known ones (flat at the ends)."""
    out = values.astype(float).copy()
    if known.all():
        return out
    if not known.any():
        raise GcperfError("no young collection of the recording has a measured generation size; "
                          "record again with a larger --budget")
    out[~known] = np.interp(t[~known], t[known], values[known])
    return out


def _nnls(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    x, _ = nnls(A, b, maxiter=50 * A.shape[1])
    return x


def fit_population(win: Windows, iterations: int = 12) -> PopulationFit:
    """Fit the population model to a recording's windows.

    Raises:
        GcperfError: too little was measured to fit anything.
    """
    t = win.table
    auto = ~t["explicit"].to_numpy()
    dur = np.maximum(t["dur_s"].to_numpy(dtype=float), 1e-9)
    gen = t["generation"].to_numpy().astype(np.int64)
    young = t["young"].to_numpy(dtype=float)
    coll = t["collected"].to_numpy(dtype=float)
    g1 = t["gen1"].to_numpy(dtype=float)
    g2 = t["gen2"].to_numpy(dtype=float)
    g1_after = t["gen1_after"].to_numpy(dtype=float)
    m = t["m_s"].to_numpy(dtype=float)
    is0 = gen == 0
    meas_young = (young >= 0) & is0 & auto
    if meas_young.sum() < 2:
        raise GcperfError("fewer than two young collections have measured sizes; record a longer run or with a "
                          "larger --budget")
    alive_young = np.maximum(young - coll, 0.0)
    # untracked at the collection (atomic tuples): alive young objects that did not reach gen1
    surv_ok = meas_young & (g1 >= 0) & (g1_after >= 0)
    surv = g1_after - g1
    atomic = 0.0
    if surv_ok.any():
        tot = alive_young[surv_ok].sum()
        if tot > 0:
            atomic = float(np.clip(1.0 - surv[surv_ok].clip(min=0).sum() / tot, 0.0, 0.95))
    taus = tau_grid(dur[meas_young], win.mutator_s)
    C = len(taus)
    w = np.full(C, 1.0 / C)
    q = np.zeros(C)
    base = float(win.baseline_objects)
    meas_g1 = (g1 >= 0) & auto
    meas_g2 = (g2 >= 0) & auto
    rates = np.zeros(len(t))
    diag: dict = {}
    for _ in range(iterations):
        # rates from the young generation: alive young = rate * sum_c w_c tau_c (1 - e^(-d/tau_c))
        fin = np.isfinite(taus)
        unit = np.zeros(len(t))
        unit += (w[fin][None, :] * taus[fin][None, :] * -np.expm1(-dur[:, None] / taus[fin][None, :])).sum(axis=1)
        unit += w[~fin].sum() * dur
        r_known = np.where(meas_young, alive_young / np.maximum(unit, 1e-300), 0.0)
        rates = _interpolate(r_known, meas_young, m)
        Y, G1, G2, D, AV, GA1, GA2 = _forward(dur, gen, rates, taus, atomic)
        # mixture weights from every measured size, relative errors
        rows, rhs = [], []
        wy = 1.0 / np.maximum(alive_young[meas_young], 10.0)
        rows.append(Y[meas_young] * wy[:, None])
        rhs.append(alive_young[meas_young] * wy)
        if meas_g1.any():
            obs = np.maximum(g1[meas_g1] - (GA1[meas_g1] @ (q * w)), 0.0)
            wg = 1.0 / np.maximum(obs, 10.0)
            rows.append(G1[meas_g1] * wg[:, None])
            rhs.append(obs * wg)
        if meas_g2.any():
            obs = np.maximum(g2[meas_g2] - base - (GA2[meas_g2] @ (q * w)), 0.0)
            wg = 2.0 / np.maximum(obs, 10.0)  # few, but they carry the long lifetimes
            rows.append(G2[meas_g2] * wg[:, None])
            rhs.append(obs * wg)
        A = np.vstack(rows)
        b = np.concatenate(rhs)
        wn = _nnls(A, b)
        s = wn.sum()
        if s <= 0:
            raise GcperfError("the recording's generation sizes could not be fitted (no lasting objects found)")
        w = wn / s
        # cyclic shares from the collected counts (young collections: also cyclic garbage made at once)
        Y, G1, G2, D, AV, GA1, GA2 = _forward(dur, gen, rates, taus, atomic)
        sel = auto
        X = AV[sel] * w[None, :]
        now_col = (rates * dur)[sel]
        A = np.column_stack([X, now_col])
        scale = 1.0 / np.maximum(coll[sel], 10.0)
        from scipy.optimize import lsq_linear

        res = lsq_linear(A * scale[:, None], coll[sel] * scale, bounds=(0.0, np.append(np.ones(C), np.inf)))
        q = res.x[:C]
        cyc_now = float(res.x[C])
    Y, G1, G2, D, AV, GA1, GA2 = _forward(dur, gen, rates, taus, atomic)
    births = rates * dur
    rc_deaths = D @ (w * (1.0 - q))
    progress = t["count0"].to_numpy(dtype=float)
    counted = births * (1.0 + cyc_now) - rc_deaths
    drift = np.maximum(progress - counted, 0.0) / dur
    drift[~auto] = 0.0
    pred_young = Y @ w
    diag["young_rel_err_median"] = float(np.median(np.abs(pred_young[meas_young] / np.maximum(alive_young[meas_young], 1) - 1)))
    if meas_g1.any():
        pred = G1[meas_g1] @ w + GA1[meas_g1] @ (q * w)
        diag["gen1_rel_err_median"] = float(np.median(np.abs(pred / np.maximum(g1[meas_g1], 1) - 1)))
    if meas_g2.any():
        pred = G2[meas_g2] @ w + GA2[meas_g2] @ (q * w) + base
        diag["gen2_rel_err_median"] = float(np.median(np.abs(pred / np.maximum(g2[meas_g2], 1) - 1)))
    diag["count_deficit_windows"] = int(((counted - progress) > 0.05 * progress)[auto].sum())
    diag["windows"] = int(len(t))
    return PopulationFit(taus, w, q, cyc_now, atomic, rates, drift, dur, diag)
