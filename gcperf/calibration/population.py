"""Fit a program's population of container objects to what its recording measured.

The model (all times on the mutator clock, ``observe.py``):

* window k is the mutator time between collection k-1 and collection k. In it the program
  makes ``B[k]`` *lasting* container objects (objects that live past the statement that made
  them). Objects freed at once by reference counting add and remove one count0 each and sit in
  no generation when a collection looks: no collection can see them and the model leaves them
  out (``build.py`` adds them back as a share that dies at once).
* a lasting object's lifetime is drawn from one mixture, the same for the whole run: narrow
  lognormal components on a grid of medians (``GRID_SIGMA`` wide, ``PER_DECADE`` per decade)
  from ``LO_WINDOWS`` median windows to ten times the run, plus "forever". Narrow components can
  follow any survival curve, including the sharp ones of caches and queues (every object lives
  about as long as the cache takes to turn over), which a sum of exponentials cannot.
* a share ``atomic`` of lasting objects are tuples of atomic values, untracked by the first
  collection that sees them, and a further share is created untracked (containers such as
  dicts of atomic values: counted by count0, in no generation); ``cyclic[c]`` of the deaths of
  component c are cyclic garbage, which waits in its generation for a collection of it (and
  lowers no count0: the collection resets count0 first); ``cyclic_now[k]`` is the cyclic
  garbage made and dropped within window k (objects). Free lists move count0 only
  while they fill or drain, a bounded amount, so the fit has no term for them.

Every window measures count0 when its collection starts (``P[k]``): births, less the deaths of
GC objects in the window that reference counting frees (old objects' too: a free lowers
count0 whatever its generation), plus the window's cyclic garbage (a young collection's
collected objects). Within the recorder's budget it also measures the young generation
(``Y[k]``), generation 1 and generation 2. So, per measured window,

    alpha * Y[k] = P[k] - C[k] + old_deaths[k]

with ``alpha`` the counted young per tracked young. For each ``alpha`` of a grid, the fit
alternates a non-negative least-squares step for the mixture weights (the balances and the
generation 1 and 2 sizes, each kind weighing the same) with a forward pass for the births
(from the measured young where there is one, else from the balance; at most
``MAX_BIRTHS_PER_COUNT`` times what count0 or the young saw), keeps the best-scoring iterate,
and the ``alpha`` whose fit scores best wins. The cyclic shares of old deaths come from what the
older collections free (bounded least squares).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import GcperfError
from .observe import Windows

#: Medians of the lifetime components per decade.
PER_DECADE = 12
#: Width of each lognormal component (standard deviation of the log lifetime). Narrow: a real
#: program frees its lasting objects interleaved with its allocations (a cache evicts one entry
#: per insert; a request's objects go when the next request's come), so count0 barely moves
#: while old objects die. The model's count0 saturates at zero as CPython's does, and deaths
#: drawn from wide components (0.3 was used) or all at once (the batch components this fit had)
#: arrive in clusters that saturate it: the decrements lost shortened the model's windows 4x
#: (a test program with a 3000-entry cache; json_window made 667 young collections over the
#: recording's 35 windows). The fit, a linear balance, cannot see that; narrow components give
#: no clusters. With 0.05 and twelve per decade json_window's model makes its 35.
GRID_SIGMA = 0.05
#: Windows beyond this many are merged pairwise before the fit (its cost grows as windows^2).
MAX_WINDOWS = 600
#: The shortest lifetime component, in median windows. Shorter ones are not identifiable (they
#: die within the window that made them, like objects freed at once) and, worse, make the
#: forward solution for the births unstable: births that die in the next window raise that
#: window's births through count0's balance.
LO_WINDOWS = 1.0
#: Counted young objects per tracked one tried (untracked-from-birth share 0 to 80 %).
MAX_BIRTHS_PER_COUNT = 4.0
#: The largest share of atomic tuples believed (a phase that makes nothing but tuples of atomic
#: values, such as a graph library's edge tuples, untracks 99.7 % of its young generation).
MAX_ATOMIC = 0.995
#: count0 past threshold0 at a collection's start below this is the ordinary distance to the
#: next eval-breaker check (a function entry, a loop's jump back), not a C call's burst.
BURST_MIN = 32
ALPHAS = (1.0, 1.25, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0)


@dataclass
class PopulationFit:
    """The fitted population (see the module docstring).

    Attributes:
        medians: median lifetimes of the components (seconds; ``inf``: forever).
        sigma: per component, the width of its lognormal.
        weights: share of lasting objects per component (sums to 1).
        cyclic: per component, the share of its deaths that are cyclic garbage.
        cyclic_now: cyclic garbage made and dropped within each window (objects).
        atomic: share of lasting objects that never reach generation 1 alive: tuples of
            atomic values (untracked by the first collection that sees them) and objects
            created untracked, together (over the run).
        atomic_k: the same, per window (programs change what they make: a phase that builds
            records of tuples, one that renders text).
        untracked: of those, the share of lasting objects created untracked (counted by count0,
            never in a generation: dicts of atomic values up to 3.13), ``1 - 1/alpha``; the
            rest of ``atomic_k`` are tuples, which sit in the young generation until a
            collection untracks them.
        burst_share: per window, the share of its objects made inside the one C call that
            ended it (count0 past threshold0 when the collection started, 3.12+).
        rates: lasting objects per mutator second, per window.
        dur: window lengths (mutator seconds).
        diagnostics: fit quality (relative errors per kind of observation).
    """

    medians: np.ndarray
    sigma: np.ndarray
    weights: np.ndarray
    cyclic: np.ndarray
    cyclic_now: np.ndarray
    atomic: float
    rates: np.ndarray
    dur: np.ndarray
    atomic_k: np.ndarray
    burst_share: np.ndarray
    untracked: float = 0.0
    diagnostics: dict = field(default_factory=dict)


@njit(cache=True)
def _integral(x, med, sigma):  # pragma: no cover - compiled
    """Integral of the survival function from 0 to x (mean alive time up to x)."""
    if x <= 0.0:
        return 0.0
    if math.isinf(med):
        return x
    mu = math.log(med)
    z = (math.log(x) - mu) / sigma
    surv = 0.5 * math.erfc(z / math.sqrt(2.0))
    part = math.exp(mu + 0.5 * sigma * sigma) * 0.5 * math.erfc(-(z - sigma) / math.sqrt(2.0))
    return x * surv + part


@njit(cache=True)
def alive_share(t_end, t0, t1, med, sigma):  # pragma: no cover - compiled
    """Share alive at t_end of objects born uniformly in [t0, t1] (lognormal lifetimes)."""
    d = t1 - t0
    if d <= 1e-12:
        a = t_end - t1
        if a <= 0.0 or math.isinf(med):
            return 1.0
        return 0.5 * math.erfc((math.log(a) - math.log(med)) / sigma / math.sqrt(2.0))
    return (_integral(t_end - t0, med, sigma) - _integral(t_end - t1, med, sigma)) / d


@njit(cache=True)
def _tables(ends, gen, births, meds, sigmas, atomic):  # pragma: no cover - compiled
    """Per window k and component c, per unit weight, with ``births`` per window.

    Returns (K, C) arrays: alive share at the end of the own window (per birth), old deaths in
    the window (all cohorts born before it), gen1 and gen2 tracked alive at collection k,
    deaths in the window of objects then in generation 1 and in generation 2.
    """
    K = ends.shape[0]
    C = meds.shape[0]
    own = np.zeros((K, C))
    oldd = np.zeros((K, C))
    g1 = np.zeros((K, C))
    g2 = np.zeros((K, C))
    d1 = np.zeros((K, C))
    d2 = np.zeros((K, C))
    # where each cohort sits after its own collection: generation 1 until the next collection
    # of generation >= 1 (index promo[j]), then generation 2
    promo = np.full(K, K, dtype=np.int64)
    nxt = K
    for j in range(K - 1, -1, -1):
        promo[j] = nxt if gen[j] == 0 else j
        if gen[j] >= 1:
            nxt = j
    starts = np.empty(K)
    starts[0] = 0.0
    for j in range(1, K):
        starts[j] = ends[j - 1]
    for c in range(C):
        med = meds[c]
        sigma = sigmas[c]
        horizon = np.inf if math.isinf(med) else med * math.exp(6.0 * sigma)
        for j in range(K):
            b = births[j]
            a_prev = alive_share(ends[j], starts[j], ends[j], med, sigma)
            own[j, c] = a_prev
            if b <= 0.0:
                continue
            tr = 1.0 - atomic[j]
            for k in range(j + 1, K):
                if ends[k - 1] - ends[j] > horizon:
                    break
                a = alive_share(ends[k], starts[j], ends[j], med, sigma)
                dd = b * (a_prev - a)
                oldd[k, c] += dd
                if k <= promo[j]:
                    # in generation 1 during window k (it moves at collection promo[j], after the window)
                    d1[k, c] += tr * dd
                    g1[k, c] += tr * b * a
                else:
                    d2[k, c] += tr * dd
                    g2[k, c] += tr * b * a
                a_prev = a
    return own, oldd, g1, g2, d1, d2


def lifetime_grid(dur: np.ndarray, total_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The mixture's components: lognormal medians from LO_WINDOWS median windows to ten times
    the run, PER_DECADE per decade, plus forever, and their widths (GRID_SIGMA)."""
    pos = dur[dur > 0]
    # objects that die well within a typical window are never seen by a collection: they are
    # left to the share that dies at once
    med_w = float(np.median(pos)) if len(pos) else 1e-4
    lo = max(med_w * LO_WINDOWS, 1e-6)
    hi = max(total_s * 10.0, lo * 10.0)
    n = max(2, int(math.ceil(math.log10(hi / lo) * PER_DECADE)) + 1)
    meds = np.concatenate([np.geomspace(lo, hi, n), [np.inf]])
    return meds, np.full(len(meds), GRID_SIGMA)


def _merge(win: Windows) -> tuple:
    """Arrays of the windows, adjacent young windows merged pairwise until at most MAX_WINDOWS."""
    t = win.table
    dur = t["dur_s"].to_numpy(dtype=float, copy=True)
    gen = t["generation"].to_numpy().astype(np.int64)
    cnt = t["count0"].to_numpy(dtype=float, copy=True)
    young = t["young"].to_numpy(dtype=float, copy=True)
    coll = t["collected"].to_numpy(dtype=float, copy=True)
    g1 = t["gen1"].to_numpy(dtype=float, copy=True)
    g2 = t["gen2"].to_numpy(dtype=float, copy=True)
    g1a = t["gen1_after"].to_numpy(dtype=float, copy=True)
    auto = ~t["explicit"].to_numpy().astype(bool)
    # count0 past threshold0 when an automatic collection started: from 3.12 a collection waits
    # for the next eval-breaker check, and a C call (ast.parse, compile, json.loads) that makes
    # many objects runs past the threshold before it ends
    cut = t["cut"].to_numpy().astype(bool) if "cut" in t else np.zeros(len(t), dtype=bool)
    over = np.where(auto & ~cut, t["count0"].to_numpy(dtype=float) - t["threshold0"].to_numpy(dtype=float) - 1.0, 0.0)
    over = np.where(over > BURST_MIN, over, 0.0)
    while len(dur) > MAX_WINDOWS:
        # merge window 2i into 2i+1 when both are automatic young collections: the pair is one
        # window whose count0 is the sum (approximately: the first collection's survivors
        # moved on) and whose young size is unknown
        K = len(dur)
        keep = np.ones(K, dtype=bool)
        i = np.arange(0, K - 1, 2)
        # (keep the windows whose young generation was measured, where it can be helped)
        ok = (gen[i] == 0) & (gen[i + 1] == 0) & auto[i] & auto[i + 1] & ((young[i] < 0) | (young[i + 1] < 0))
        a = i[ok]
        dur[a + 1] += dur[a]
        cnt[a + 1] += cnt[a]
        coll[a + 1] += coll[a]
        over[a + 1] += over[a]
        young[a + 1] = np.where(young[a] < 0, young[a + 1], -1)  # born in the later half (mostly)
        g1a[a + 1] = np.where(young[a] < 0, g1a[a + 1], -1)
        keep[a] = False
        if keep.all():
            break
        dur, gen, cnt, young, coll, g1, g2, g1a, auto, over = (
            x[keep] for x in (dur, gen, cnt, young, coll, g1, g2, g1a, auto, over))
    return dur, gen, cnt, young, coll, g1, g2, g1a, auto, over


def _lsq(A, b, upper):
    from scipy.optimize import lsq_linear

    return lsq_linear(A, b, bounds=(0.0, upper)).x


def _atomic_per_window(young, coll, g1, g1a, surv_ok, ends, pooled):
    """Share of the young generation's live objects that a young collection untracks (tuples
    of atomic values), per window.

    It is measured exactly where a young collection's sizes were: what was alive and not
    collected, less what reached generation 1, was untracked by the collection itself. Windows
    in between take it from their neighbours in time; with no measurement, the pooled share.
    """
    alive = young - coll
    ok = surv_ok & (alive >= 20)
    if not ok.any():
        return np.full(len(ends), pooled)
    share = np.clip(1.0 - np.maximum(g1a - g1, 0.0)[ok] / alive[ok], 0.0, MAX_ATOMIC)
    return np.interp(ends, ends[ok], share)


def _young_cyclic(gen, auto, coll, dur, ends):
    """Cyclic garbage made and dropped within each window (objects).

    A young collection frees exactly the young cyclic garbage of its window, so it is measured
    in every young window. An older collection also frees old garbage: its window's young
    garbage is taken as the neighbouring young windows' *rate* (per mutator second) over its own
    length, and never more than it freed. (A rate, not a ratio to the window's fitted births:
    a window that made almost no lasting objects can still make garbage, and its ratio must not
    be carried to a neighbour with many births.)
    """
    young_coll = (gen == 0) & auto
    out = np.where(young_coll, coll, 0.0).astype(float)
    if not young_coll.any():
        return out
    rate = coll[young_coll] / np.maximum(dur[young_coll], 1e-12)
    est = np.interp(ends, ends[young_coll], rate) * dur
    other = ~young_coll
    out[other] = np.minimum(est[other], np.maximum(coll[other], 0.0))
    return out


def _old_cyclic(gen, auto, coll, dur, ends, w, d1, d2, C):
    """Per component, the share of its deaths in generations 1 and 2 that is cyclic garbage:
    what older collections free beyond the young garbage (bounded least squares)."""
    q = np.zeros(C)
    old = (gen >= 1) & auto
    if not old.any():
        return q
    cyc_now = _young_cyclic(gen, auto, coll, dur, ends)
    av = _available(gen, np.zeros_like(d1), d1, d2)
    A = av[old] * w[None, :]
    if not np.any(A > 0):
        return q
    rhs = np.maximum(coll[old] - cyc_now[old], 0.0)
    s = 1.0 / np.sqrt(np.maximum(rhs, 10.0))
    return _lsq(A * s[:, None], rhs * s, np.ones(C))


def fit_population(win: Windows, iterations: int = 5, alphas: tuple[float, ...] = ALPHAS) -> PopulationFit:
    """Fit the population model to a recording's windows (``alphas``: the counted young per tracked
    young tried; the one whose fit scores best is kept).

    Raises:
        GcperfError: too little was measured to fit anything.
    """
    from scipy.optimize import nnls

    dur, gen, cnt, young, coll, g1, g2, g1a, auto, over = _merge(win)
    burst_share = np.clip(over / np.maximum(cnt, 1.0), 0.0, 1.0)
    dur = np.maximum(dur, 1e-9)
    K = len(dur)
    ends = np.cumsum(dur)
    is0 = gen == 0
    meas_y = (young >= 0) & is0 & auto
    if meas_y.sum() < 2:
        raise GcperfError("fewer than two young collections of the recording have measured sizes; "
                          "record a longer run or with a larger --budget")
    y_alive = np.maximum(young - coll, 0.0)
    # atomic tuples: alive young objects that did not reach generation 1
    surv_ok = meas_y & (g1 >= 0) & (g1a >= 0)
    atomic = 0.0
    if surv_ok.any():
        tot = y_alive[surv_ok].sum()
        if tot > 0:
            atomic = float(np.clip(1.0 - (g1a - g1)[surv_ok].clip(min=0).sum() / tot, 0.0, MAX_ATOMIC))
    atomic_k = _atomic_per_window(young, coll, g1, g1a, surv_ok, ends, atomic)
    meds, sigmas = lifetime_grid(dur[meas_y], float(ends[-1]))
    C = len(meds)
    base = float(win.baseline_objects)
    meas_g1 = (g1 >= 0) & auto
    meas_g2 = (g2 >= 0) & auto
    ym = np.flatnonzero(meas_y & auto)
    # count0 also counts the window's cyclic garbage until a collection frees it: a young
    # collection's collected objects are exactly that; what is left is the lasting objects'
    # balance
    cnt = np.where(gen == 0, np.maximum(cnt - coll, 0.0), cnt)

    # relative errors, but not against an empty generation 1 (just after an older collection)
    floor1 = max(0.2 * float(np.median(g1[meas_g1])) if meas_g1.any() else 10.0, 10.0)

    def score(alpha, w, q, births, untracked):
        """Mean squared relative error of every kind of observation (each kind weighs the same)."""
        own, oldd, G1, G2, D1, D2 = _tables(ends, gen, births, meds, sigmas, untracked)
        G1, G2 = _sizes(gen, G1, G2, D1, D2, q)
        err = [((alpha * y_alive[ym] - oldd[ym] @ (w * (1.0 - q)) - cnt[ym]) / np.maximum(cnt[ym], 10.0)) ** 2]
        if meas_g1.any():
            err.append(((G1[meas_g1] @ w - g1[meas_g1]) / np.maximum(g1[meas_g1], floor1)) ** 2)
        if meas_g2.any():
            obs = np.maximum(g2[meas_g2] - base, 0.0)
            err.append(((G2[meas_g2] @ w - obs) / np.maximum(obs, 10.0)) ** 2)
        return float(np.mean([e.mean() for e in err if len(e)]))

    def solve(alpha: float):
        """The mixture and the births with ``alpha`` (counted young per tracked young) held.

        Alternating least squares is not a descent method here (the births move with the
        weights), so every iterate is scored and the best one kept; the start is a heap that
        keeps everything (the weights all on "forever").
        """
        untracked = 1.0 - (1.0 - atomic_k) / alpha  # of all births, not in generation 1 after a collection
        # a window's births are at most MAX_BIRTHS_PER_COUNT times what count0 or the young
        # generation saw: short lifetimes feed the forward balance (their deaths raise the next
        # window's births, whose deaths raise the next), which must not run away
        cap = MAX_BIRTHS_PER_COUNT * np.maximum(np.maximum(cnt, alpha * y_alive), 1.0)
        w = np.zeros(C)
        w[-1] = 1.0
        q = np.zeros(C)
        births = _forward_births(ends, cnt, meds, w, w, sigmas, alpha * y_alive, meas_y, cap)
        best = (score(alpha, w, q, births, untracked), w, q, births)
        for _ in range(iterations):
            own, oldd, G1, G2, D1, D2 = _tables(ends, gen, births, meds, sigmas, untracked)
            # (the generation sizes count the cyclic garbage not yet collected, with the
            # cyclic shares of the previous iterate held)
            G1, G2 = _sizes(gen, G1, G2, D1, D2, q)
            # mixture weights (births held), relative errors: count0's balance in the measured
            # windows (alpha Y = P + old deaths), the generation 1 and 2 sizes (each kind of
            # observation weighs the same in total, however many rows it has: the few
            # generation 2 sizes carry the long lifetimes, the many balances the short ones)
            rows, rhs = [], []
            sc = 1.0 / np.maximum(cnt[ym], 10.0) / math.sqrt(max(len(ym), 1))
            rows.append(-oldd[ym] * (1.0 - q)[None, :] * sc[:, None])
            rhs.append((cnt[ym] - alpha * y_alive[ym]) * sc)
            if meas_g1.any():
                ii = np.flatnonzero(meas_g1)
                s1 = 1.0 / np.maximum(g1[ii], floor1) / math.sqrt(len(ii))
                rows.append(G1[ii] * s1[:, None])
                rhs.append(g1[ii] * s1)
            if meas_g2.any():
                ii = np.flatnonzero(meas_g2)
                obs = np.maximum(g2[ii] - base, 0.0)
                s2 = 1.0 / np.maximum(obs, 10.0) / math.sqrt(len(ii))
                rows.append(G2[ii] * s2[:, None])
                rhs.append(obs * s2)
            # the weights sum to one: a heavily weighted row says so
            rows.append(np.full((1, C), 3.0))
            rhs.append(np.array([3.0]))
            wn, _ = nnls(np.vstack(rows), np.concatenate(rhs), maxiter=50 * C)
            if wn.sum() <= 0:
                break
            w = wn / wn.sum()
            q = _old_cyclic(gen, auto, coll, dur, ends, w, D1, D2, C)
            # births: from the measured young where there is one (anchors), else from count0's
            # balance, forward in time (old deaths depend on earlier births)
            births = _forward_births(ends, cnt, meds, w, w * (1.0 - q), sigmas, alpha * y_alive, meas_y,
                                     cap)
            e = score(alpha, w, q, births, untracked)
            if e < best[0]:
                best = (e, w, q, births)
        return best

    # objects counted by count0 but never in a generation (containers created untracked, such
    # as dicts of atomic values) against old objects dying: both make count0 lag the young
    # generation, and only the older generations' sizes tell them apart: the best of a grid
    best = None
    for a in alphas:
        res = solve(a)
        if best is None or res[0] < best[1][0]:
            best = (a, res)
    alpha, (_, w, q, births) = best
    atomic_k = 1.0 - (1.0 - atomic_k) / alpha
    atomic = float((births * atomic_k).sum() / births.sum()) if births.sum() > 0 else float(atomic_k.mean())
    own, oldd, G1, G2, D1, D2 = _tables(ends, gen, births, meds, sigmas, atomic_k)
    cyc_now = _young_cyclic(gen, auto, coll, dur, ends)
    q = _old_cyclic(gen, auto, coll, dur, ends, w, D1, D2, C)
    G1, G2 = _sizes(gen, G1, G2, D1, D2, q)
    diag = _diagnostics(births, own, oldd, G1, G2, w, q, cnt, y_alive, meas_y, g1, g2, meas_g1, meas_g2,
                        base, alpha)
    diag["untracked_from_birth"] = 1.0 - 1.0 / alpha
    diag["alpha"] = float(alpha)
    diag["fit_mean_sq_rel_error"] = best[1][0]
    diag["windows"] = int(K)
    diag["windows_recorded"] = int(len(win.table))
    return PopulationFit(meds, sigmas, w, q, cyc_now, atomic, births / dur, dur, atomic_k, burst_share,
                         1.0 - 1.0 / alpha, diag)


@njit(cache=True)
def _forward_births(ends, cnt, meds, w, wd, sigmas, y_alive, meas_y, cap):  # pragma: no cover - compiled
    """Births per window with the weights held: from the measured young where there is one,
    else from count0's balance ``alive = P + old deaths``, walking forward in time.
    ``wd`` weighs the deaths that lower count0 (the cyclic ones wait for a collection, whose
    frees find count0 just reset to zero)."""
    K = ends.shape[0]
    C = meds.shape[0]
    births = np.zeros(K)
    oldd = np.zeros(K)  # deaths in window k of cohorts born before it (weighted)
    starts = np.empty(K)
    starts[0] = 0.0
    for j in range(1, K):
        starts[j] = ends[j - 1]
    for k in range(K):
        own = 0.0
        for c in range(C):
            own += w[c] * alive_share(ends[k], starts[k], ends[k], meds[c], sigmas[c])
        alive = y_alive[k] if meas_y[k] else max(cnt[k] + oldd[k], 0.0)
        b = min(alive / max(own, 1e-12), cap[k])
        births[k] = b
        if b <= 0.0:
            continue
        # this cohort's deaths in the later windows
        for c in range(C):
            if wd[c] <= 0.0:
                continue
            med = meds[c]
            if math.isinf(med):
                continue
            sigma = sigmas[c]
            horizon = med * math.exp(6.0 * sigma)
            a_prev = alive_share(ends[k], starts[k], ends[k], med, sigma)
            for m in range(k + 1, K):
                if ends[m - 1] - ends[k] > horizon:
                    break
                a = alive_share(ends[m], starts[k], ends[k], med, sigma)
                oldd[m] += wd[c] * b * (a_prev - a)
                a_prev = a
    return births


def _sizes(gen, G1, G2, D1, D2, q):
    """Generation 1 and 2 sizes per unit weight as a collection sees them: the live objects and
    the cyclic garbage (share ``q`` of each component's deaths there) not yet collected."""
    P1, P2 = _pending(gen, D1, D2)
    return G1 + P1 * q[None, :], G2 + P2 * q[None, :]


def _pending(gen, d1, d2):
    """Per window and component, the cyclic-eligible deaths still in generations 1 and 2 when
    collection k starts: an unreachable object stays in its generation's list, and so in the
    generation's measured size, until a collection of that generation frees it (a collection of
    generation >= 1 frees what died in generation 1, one of generation 2 what died there)."""
    K, C = d1.shape
    p1 = np.zeros((K, C))
    p2 = np.zeros((K, C))
    a1 = np.zeros(C)
    a2 = np.zeros(C)
    for k in range(K):
        a1 = a1 + d1[k]
        a2 = a2 + d2[k]
        p1[k] = a1
        p2[k] = a2
        if gen[k] >= 1:
            a1 = np.zeros(C)
        if gen[k] >= 2:
            a2 = np.zeros(C)
    return p1, p2


def _available(gen, dy, d1, d2):
    """Per window and component, the garbage a collection there can see (deaths since last seen)."""
    K, C = dy.shape
    av = np.zeros((K, C))
    p1 = np.zeros(C)
    p2 = np.zeros(C)
    for k in range(K):
        p1 += d1[k]
        p2 += d2[k]
        a = dy[k].copy()
        if gen[k] >= 1:
            a += p1
            p1[:] = 0.0
        if gen[k] >= 2:
            a += p2
            p2[:] = 0.0
        av[k] = a
    return av


def _diagnostics(births, own, oldd, G1, G2, w, q, cnt, y_alive, meas_y, g1, g2, meas_g1, meas_g2, base,
                 alpha=1.0) -> dict:
    out: dict = {}
    pred_y = births * (own @ w) / alpha
    out["young_rel_err_median"] = float(np.median(np.abs(pred_y[meas_y] / np.maximum(y_alive[meas_y], 1) - 1)))
    # (cyclic deaths lower no count0: the collection that frees them resets it first)
    pred_c = births * (own @ w) - oldd @ (w * (1.0 - q))
    ok = cnt > 0
    out["count0_rel_err_median"] = float(np.median(np.abs(pred_c[ok] / cnt[ok] - 1))) if ok.any() else float("nan")
    if meas_g1.any():
        pred = G1[meas_g1] @ w
        out["gen1_rel_err_median"] = float(np.median(np.abs(pred / np.maximum(g1[meas_g1], 1) - 1)))
    if meas_g2.any():
        pred = G2[meas_g2] @ w + base
        out["gen2_rel_err_median"] = float(np.median(np.abs(pred / np.maximum(g2[meas_g2], 1) - 1)))
    return out
