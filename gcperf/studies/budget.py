"""How long a simulation will take, and how much work is too much without a confirmation.

The estimate is deliberately simple and errs long: allocations at the measured
speed of the engine, plus a fixed cost per collection and per timer call (each
is a stop of the engine with Python work). Measured on the 2-core VM
(2026-12): 20 M allocations/s with the memory model, 35 M without; about 250 us
per collection of a small heap (``-t 1`` runs). Collections are estimated as the
allocations that outlive their slot divided by ``threshold0 + 1`` (an upper
bound: short-lived objects die and lower count0 first). The web workload's 31 s
is estimated at about 5 s and takes 2-3 s.

Runs beyond :data:`RUN_LIMIT_S` (30 minutes) and sweeps beyond
:data:`SWEEP_LIMIT_S` (24 hours) need ``--yes`` on the command line: ``-d 1e12``,
``--collect-every 1e-9`` or ``-t 1`` over a long run are typos more often than plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.scenario import Scenario
from ..errors import GcperfError

ALLOCATIONS_PER_S = {True: 20e6, False: 35e6}  # memory model on / off
COLLECTION_S = 250e-6
SAMPLE_S = 20e-6
RUN_LIMIT_S = 1800.0
SWEEP_LIMIT_S = 86400.0


@dataclass(frozen=True)
class Estimate:
    """The expected size of a simulation.

    Attributes:
        allocations: counted GC allocations.
        collections: expected automatic collections (an upper estimate).
        timer_calls: ``gc.collect()`` calls of the ``--collect-every`` timer.
        seconds: expected wall time of the simulation on this kind of machine.
    """

    allocations: int
    collections: float
    timer_calls: float
    seconds: float


def estimate(sc: Scenario) -> Estimate:
    """Estimate the work of one scenario (nothing is simulated)."""
    wl = sc.resolved_workload()
    t0 = sc.gc.effective_thresholds[0]
    outliving = sum(p.allocations * (1.0 - sum(lt.share for lt in p.lifetimes if lt.kind == "immediate"))
                    for p in wl.phases)
    collections = 0.0 if not sc.gc.enabled or t0 == 0 else outliving / (t0 + 1)
    timer = wl.duration_s / sc.gc.collect_every_s if sc.gc.collect_every_s else 0.0
    seconds = (wl.allocations / ALLOCATIONS_PER_S[sc.memory] + (collections + timer) * COLLECTION_S
               + sc.timeline_points * SAMPLE_S)
    return Estimate(wl.allocations, collections, timer, seconds)


def human_duration(seconds: float) -> str:
    """``"40 s"``, ``"12 min"``, ``"3.5 h"``, ``"2e+07 years"``."""
    if not math.isfinite(seconds):
        return "for ever"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 3:
        return f"{seconds / 3600:.1f} h"
    if seconds < 86400 * 730:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / (86400 * 365):.2g} years"


def check_run(est: Estimate, yes: bool) -> None:
    """Refuse a run estimated beyond :data:`RUN_LIMIT_S` unless ``yes``.

    Raises:
        GcperfError: the run is too large and ``yes`` is false (the message gives the estimate).
    """
    if est.seconds > RUN_LIMIT_S and not yes:
        raise GcperfError(
            f"this run would take about {human_duration(est.seconds)} ({est.allocations:.3g} allocations, "
            f"about {est.collections:.3g} collections, {est.timer_calls:.3g} timer calls; the limit without --yes "
            f"is {human_duration(RUN_LIMIT_S)}); check -d, -t and --collect-every, or add --yes")


def check_sweep(total_s: float, longest_s: float, yes: bool) -> None:
    """Refuse a sweep whose total estimate exceeds :data:`SWEEP_LIMIT_S`, or one of whose runs exceeds
    :data:`RUN_LIMIT_S`, unless ``yes``.

    Raises:
        GcperfError: too large and ``yes`` is false.
    """
    if yes:
        return
    if longest_s > RUN_LIMIT_S:
        raise GcperfError(f"a run of this sweep would take about {human_duration(longest_s)} (the limit without "
                          f"--yes is {human_duration(RUN_LIMIT_S)} a run); check its durations and thresholds, "
                          "or add --yes")
    if total_s > SWEEP_LIMIT_S:
        raise GcperfError(f"this sweep would take about {human_duration(total_s)} (the limit without --yes is "
                          f"{human_duration(SWEEP_LIMIT_S)}); shrink its grid or replicates, or add --yes")
