"""Scenarios: a workload, the GC settings to try on it, and a seed."""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..cpython.policy import check_thresholds
from ..cpython.versions import DEFAULT_VERSION, preset
from ..errors import GcperfError
from ..workload.model import Workload

MAX_TIMELINE_POINTS = 1_000_000  # one row each in memory: beyond this a timeline is a mistake


@dataclass(frozen=True)
class GCSettings:
    """How the program sets up its garbage collector.

    Args:
        version: CPython version whose collector is simulated (``"3.13"``, ``"3.12.1"``).
        thresholds: ``gc.set_threshold(...)`` values; None keeps the version default.
        enabled: False simulates ``gc.disable()`` at start-up.
        freeze_after: name of a phase after which the program calls ``gc.freeze()``.
        collect_after: names of phases after which the program calls ``gc.collect()``.
        collect_every_s: a timer thread calls ``gc.collect(collect_generation)``
            every this many wall seconds (None: no timer).
        collect_generation: the generation the timer collects.
    """

    version: str = DEFAULT_VERSION
    thresholds: tuple[int, int, int] | None = None
    enabled: bool = True
    freeze_after: str | None = None
    collect_after: tuple[str, ...] = ()
    collect_every_s: float | None = None
    collect_generation: int = 2

    def __post_init__(self) -> None:
        pre = preset(self.version)  # raises on a bad version
        if self.thresholds is not None:
            t = check_thresholds(self.thresholds)
            if pre.incremental and t[2] != 0:
                raise GcperfError(f"{self.version} runs the incremental collector, which has no threshold2 "
                                  f"(gc.get_threshold() reports 0): give two thresholds or a third of 0, got {t[2]}")
            object.__setattr__(self, "thresholds", t)
        if not isinstance(self.enabled, bool):
            raise GcperfError(f"enabled must be true or false, got {self.enabled!r}")
        if self.collect_every_s is not None:
            v = self.collect_every_s
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise GcperfError(f"collect_every_s must be a number > 0, got {v!r}")
        g = self.collect_generation
        # 0.0 == 0 and True == 1: only a real int counts (found by the fault-injection tests)
        if isinstance(g, bool) or not isinstance(g, int) or g not in (0, 1, 2):
            raise GcperfError(f"collect_generation must be 0, 1 or 2, got {self.collect_generation!r}")
        object.__setattr__(self, "collect_after", tuple(self.collect_after))

    @property
    def effective_thresholds(self) -> tuple[int, int, int]:
        """The thresholds in force: the explicit ones or the version default."""
        return self.thresholds if self.thresholds is not None else preset(self.version).thresholds

    def apply_code(self) -> str:
        """The Python lines that put these settings into a program."""
        lines = ["import gc"]
        if self.thresholds is not None:
            # the incremental collector (3.14.0-3.14.4) takes two; its third is ignored
            given = self.thresholds[:2] if preset(self.version).incremental else self.thresholds
            lines.append(f"gc.set_threshold{tuple(given)}")
        if not self.enabled:
            lines.append("gc.disable()")
        if self.freeze_after:
            lines.append(f"gc.freeze()  # once {self.freeze_after!r} is done (e.g. after imports and warm-up)")
        return "\n".join(lines)


@dataclass(frozen=True)
class Scenario:
    """One simulation: a workload under GC settings, with a seed.

    Args:
        workload: a :class:`Workload` or the name of a built-in one.
        gc: GC settings.
        seed: root seed of every random draw.
        duration_s: stretch or shrink the workload to this many mutator seconds
            (None keeps its own duration).
        timeline_points: about how many timeline samples to take.
        memory: simulate the memory footprint (pymalloc arenas, pools and blocks,
            and the system malloc for larger requests).
        chunk_slots: allocation slots drawn per numpy batch. It is part of the
            realisation: another value draws another sample of the same workload
            (the collector logic itself does not depend on it; exact traces give
            identical results for any value).
    """

    workload: Workload | str = "web"
    gc: GCSettings = field(default_factory=GCSettings)
    seed: int = 0
    duration_s: float | None = None
    timeline_points: int = 200
    memory: bool = True
    chunk_slots: int = 1 << 18

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise GcperfError(f"seed must be an integer >= 0, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))  # numpy integers as plain ints (provenance, JSON)
        if self.duration_s is not None:
            v = self.duration_s
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
                    or v <= 0:
                raise GcperfError(f"duration_s must be a number > 0, got {v!r}")
            if isinstance(v, (np.integer, np.floating)):
                object.__setattr__(self, "duration_s", v.item())
        tp = self.timeline_points
        if isinstance(tp, bool) or not isinstance(tp, int) or not 0 <= tp <= MAX_TIMELINE_POINTS:
            raise GcperfError(f"timeline_points must be an integer in 0..{MAX_TIMELINE_POINTS}, got {tp!r}")
        if not isinstance(self.memory, bool):
            raise GcperfError(f"memory must be true or false, got {self.memory!r}")
        if isinstance(self.chunk_slots, bool) or not isinstance(self.chunk_slots, int) or self.chunk_slots < 1:
            raise GcperfError(f"chunk_slots must be an integer >= 1, got {self.chunk_slots!r}")
        wl = self.resolved_workload()
        names = {p.name for p in wl.phases}
        for ph in (self.gc.freeze_after, *self.gc.collect_after):
            if ph is not None and ph not in names:
                raise GcperfError(f"phase {ph!r} is not in workload {wl.name!r} (phases: {', '.join(sorted(names))})")

    def resolved_workload(self) -> Workload:
        """The workload object, with the duration override applied."""
        from ..workload.builtin import get_workload

        wl = get_workload(self.workload) if isinstance(self.workload, str) else self.workload
        if not isinstance(wl, Workload):
            raise GcperfError(f"workload must be a Workload or a built-in name, got {wl!r}")
        if self.duration_s is not None:
            wl = wl.with_duration(self.duration_s)
        return wl

    def describe(self) -> dict:
        """The inputs as plain data (for summaries and provenance)."""
        wl = self.resolved_workload()
        return {
            "workload": wl.name,
            "version": self.gc.version,
            "thresholds": list(self.gc.effective_thresholds),
            "enabled": self.gc.enabled,
            "freeze_after": self.gc.freeze_after,
            "collect_after": list(self.gc.collect_after),
            "collect_every_s": self.gc.collect_every_s,
            "collect_generation": self.gc.collect_generation,
            "seed": self.seed,
            "memory": self.memory,
            "duration_s": wl.duration_s,
            "workload_spec": _workload_spec(wl),
        }


@functools.lru_cache(maxsize=32)
def _workload_json(wl: Workload) -> str:
    return json.dumps(asdict(wl))


def _workload_spec(wl: Workload) -> dict:
    """``asdict(wl)``, a fresh copy each time; the conversion is done once per workload (a
    calibrated model has ~100 phases: ~0.1 s per run of a sweep or a validation otherwise)."""
    try:
        return json.loads(_workload_json(wl))
    except TypeError:  # a workload that does not hash or does not serialise: convert it each time
        return asdict(wl)
