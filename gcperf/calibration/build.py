"""Turn a fitted population into a workload: one phase per stretch of the recorded run.

Each recorded window (the mutator time between two collections) becomes a phase with the
window's rates, unless it is shorter than ``min_phase_s``: short neighbours are merged, their
rates averaged by duration. The lifetime mixture and cyclic shares are the same in every phase;
the rates of lasting objects, of count0-only increments (free lists) and of cyclic garbage made
within a window vary, and so does the share of objects that never reach generation 1 (tuples
of atomic values and containers created untracked). So the workload follows the program's own changes of pace
(start-up, bursts, a heap that fills), and any GC setting can be simulated on it.
"""

from __future__ import annotations

import math

import numpy as np

from ..workload.model import Lifetime, Phase, SizeMix, Workload
from .population import PopulationFit, alive_share

#: Components that carry less than this share of lasting objects are dropped (and the rest
#: renormalised): they change no observable and only lengthen the workload file.
MIN_WEIGHT = 1e-3


def _segments(dur: np.ndarray, min_phase_s: float, cut_after: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Index ranges [a, b) of windows merged so that every segment lasts at least ``min_phase_s``
    (or ends with a window of ``cut_after``)."""
    out: list[tuple[int, int]] = []
    a = 0
    acc = 0.0
    for k, d in enumerate(dur):
        acc += float(d)
        if acc >= min_phase_s or (cut_after is not None and cut_after[k]):
            out.append((a, k + 1))
            a = k + 1
            acc = 0.0
    if a < len(dur):
        if out and not (cut_after is not None and cut_after[out[-1][1] - 1]):
            out[-1] = (out[-1][0], len(dur))
        else:
            out.append((a, len(dur)))
    return out


def lifetimes_of(fit: PopulationFit) -> tuple[list[Lifetime], np.ndarray]:
    """The mixture components kept (as lifetimes with share 1 placeholder) and their weights."""
    keep = fit.weights >= MIN_WEIGHT
    w = fit.weights[keep] / fit.weights[keep].sum()
    comps = []
    for med, sg, q in zip(fit.medians[keep], fit.sigma[keep], fit.cyclic[keep], strict=True):
        if math.isinf(med):
            comps.append(Lifetime("forever", 1.0, "forever", 0.0, 1.0, float(q)))
        else:
            comps.append(Lifetime(f"median_{med:.3g}s", 1.0, "lognormal", float(med), float(sg), float(q)))
    return comps, w


def build_workload(fit: PopulationFit, *, name: str, description: str, tail_s: float, baseline_objects: int,
                   min_phase_s: float = 0.0, sizes: SizeMix | None = None, payload_per_object: float = 0.0,
                   payload_sizes: SizeMix | None = None, tail_count0: float | None = None, **extra) -> Workload:
    """A workload with the fitted population, one phase per (merged) window.

    Args:
        fit: the population fit.
        name, description: the workload's.
        tail_s: mutator time after the last collection (the program's end), seconds.
        tail_count0: count0 when the program ended: what the tail added without reaching a
            collection. None: the tail goes on at the last window's pace.
        baseline_objects: tracked objects alive when the program starts.
        min_phase_s: merge windows shorter than this.
        sizes, payload_per_object, payload_sizes: object sizes for the memory model.
        extra: other :class:`Workload` fields (pause model, baseline RSS, provenance).
    """
    comps, w = lifetimes_of(fit)
    dur = fit.dur.copy()
    rates = fit.rates.copy()
    cnow = np.broadcast_to(np.asarray(fit.cyclic_now, dtype=float), dur.shape).copy()
    atom = fit.atomic_k.copy()
    burst = fit.burst_share.copy()
    if tail_s > 0:
        if tail_count0 is None:
            # after the last collection the program goes on at its last pace until it ends
            tail_rate = rates[-1]
            tail_now = cnow[-1] / max(float(fit.dur[-1]), 1e-12) * tail_s
        else:
            # the tail reached no collection: it made the lasting objects (or garbage, which
            # counts the same until a collection) that count0 says, at whatever pace the last
            # windows had (a program that ends with a long stretch of work that keeps nothing, such
            # as rendering or a solver's loop, must not go on building its last window's heap)
            own = sum(float(wc) * alive_share(tail_s, 0.0, tail_s, float(m), float(sg))
                      for wc, m, sg in zip(fit.weights, fit.medians, fit.sigma, strict=True))
            tail_rate = max(float(tail_count0), 0.0) / max(own, 1e-3) / tail_s
            tail_now = 0.0
        dur = np.append(dur, tail_s)
        rates = np.append(rates, tail_rate)
        cnow = np.append(cnow, tail_now)
        atom = np.append(atom, atom[-1])
        burst = np.append(burst, 0.0)  # (the tail ends with the program, not with a call)
    kw = {}
    if sizes is not None:
        kw["sizes"] = sizes
    if payload_sizes is not None:
        kw["payload_sizes"] = payload_sizes

    # of the lasting objects that never reach generation 1 alive, those created untracked are in
    # no generation at all; only the tuples sit in the young generation (and are examined)
    # until a collection untracks them
    untracked = float(min(max(fit.untracked, 0.0), 1.0))

    def phase(pname: str, d: float, n_lasting: float, n_now: float, atomic: float,
              in_one_call: bool = False) -> Phase:
        """A phase of ``d`` mutator seconds that makes these numbers of objects; ``atomic`` is the
        share of them that never reach generation 1 alive (tuples and created-untracked)."""
        lam, now = n_lasting / d, n_now / d
        # objects freed at once: enough to carry the window's cyclic garbage (only the share of
        # objects that are not atomic tuples can be cyclic, as in the stream)
        tracked = max(1.0 - atomic, 1e-6)
        imm = now / tracked
        total = lam + imm
        if total * d < 0.5:  # nothing happens here: keep the time, one harmless object
            total = max(0.5 / d, 1e-9)
            lam_share, now_share = 0.0, 0.0
        else:
            lam_share, now_share = lam / total, now / total
        lts: list[Lifetime] = []
        imm_share = 1.0 - lam_share
        if imm_share > 1e-12:
            c_imm = now_share / (imm_share * tracked) if imm_share > 0 else 0.0
            lts.append(Lifetime("at_once", imm_share, "immediate", cyclic_share=min(max(c_imm, 0.0), 1.0)))
        if lam_share > 0:
            shares = lam_share * w
            for comp, sh in zip(comps, shares, strict=True):
                lts.append(Lifetime(comp.name, float(sh), comp.kind, comp.scale_s, comp.sigma, comp.cyclic_share))
        # exact normalisation (shares must sum to 1 within 1e-9)
        total_share = sum(lt.share for lt in lts)
        if lts and abs(total_share - 1.0) > 0:
            last = lts[-1]
            lts[-1] = Lifetime(last.name, last.share + (1.0 - total_share), last.kind, last.scale_s, last.sigma,
                               last.cyclic_share)
        calls = max(int(round(total * d)), 1) if in_one_call else 1
        return Phase(name=pname, duration_s=d, alloc_rate_per_s=total, lifetimes=tuple(lts), cyclic_share=0.0,
                     atomic_tuple_share=atomic - min(untracked, atomic), untracked_share=min(untracked, atomic),
                     payload_per_object=payload_per_object, call_allocations=calls, **kw)

    phases = []
    for i, (a, b) in enumerate(_segments(dur, min_phase_s, cut_after=burst > 0)):
        d = float(dur[a:b].sum())
        if d <= 0:
            continue
        nb = rates[a:b] * dur[a:b]
        atomic = float((nb * atom[a:b]).sum() / nb.sum()) if nb.sum() > 0 else float(atom[a:b].mean())
        n_lasting, n_now = float(nb.sum()), float(cnow[a:b].sum())
        # a collection that waited for the end of a C call (3.12+): that call's share of the
        # segment's last window is made in one call at the segment's end
        s = float(min(max(burst[b - 1], 0.0), 1.0))
        if s > 0:
            k = b - 1
            d_call = s * float(dur[k])
            parts = (s * rates[k] * dur[k], s * cnow[k])
            if d - d_call > 0:
                phases.append(phase(f"w{i:05d}", d - d_call, n_lasting - parts[0], n_now - parts[1], atomic))
            phases.append(phase(f"w{i:05d}_call", max(d_call, 1e-9), *parts, atomic, in_one_call=True))
        else:
            phases.append(phase(f"w{i:05d}", d, n_lasting, n_now, atomic))
    return Workload(name=name, description=description, phases=tuple(phases), refs_per_object=0.0,
                    baseline_objects=int(baseline_objects), **extra)
