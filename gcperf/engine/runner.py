"""Run a scenario or an exact trace and return tidy tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import __version__
from ..cpython.costs import CostModel, cost_model_for
from ..cpython.heap import Heap
from ..cpython.incremental import IncrementalHeap, IncrementalPolicy
from ..cpython.policy import FT_FLUSH, FreeThreadedPolicy, GenerationalPolicy, PatternPolicy
from ..cpython.versions import VersionPreset, preset
from ..errors import GcperfError
from ..workload.model import Workload
from ..workload.stream import CHUNK_SLOTS, StatisticalStream, TraceStream
from ..workload.trace import Trace
from .kernels import ensure_kernels, seed_once
from .loop import run_machine
from .machine import COLLECTION_FIELDS, TIMELINE_FIELDS, Machine
from .metrics import memory_stats, summarize
from .scenario import GCSettings, Scenario
from .schema import SCHEMA_VERSION, SUMMARY_COLUMNS


@dataclass
class RunResult:
    """The tables of one run.

    Attributes:
        collections: one row per collection (see ``schema.COLLECTIONS_COLUMNS``).
        timeline: heap samples over time (``schema.TIMELINE_COLUMNS``).
        summary: one row with the inputs and the outcome (``schema.SUMMARY_COLUMNS``).
        inputs: the inputs as plain data (workload spec included), for provenance.
        end_state: what the ``gc`` module would report when the run ends: ``count``
            (``gc.get_count()``), ``generation_sizes`` (``len(gc.get_objects(g))``),
            ``freeze_count`` (``gc.get_freeze_count()``), ``thresholds``, ``enabled``, and the
            full-collection rule's ``long_lived_pending`` and ``long_lived_total``.
    """

    collections: pd.DataFrame
    timeline: pd.DataFrame
    summary: pd.DataFrame
    inputs: dict = field(default_factory=dict)
    end_state: dict = field(default_factory=dict)

    def summary_dict(self) -> dict:
        """The summary row as a plain dict (JSON-friendly values)."""
        row = self.summary.iloc[0].to_dict()
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}

    def generation_counts(self) -> list[int]:
        """Collections per generation, like ``gc.get_stats()[g]["collections"]``: the rows of
        :attr:`collections`, less the marking steps that 3.14.0's ``gc.get_stats()`` leaves out
        (``end_state["marks_not_in_stats"]``; they are pauses, and callbacks see them)."""
        g = self.collections["generation"].to_numpy()
        counts = [int((g == i).sum()) for i in range(3)]
        counts[1] -= int(self.end_state.get("marks_not_in_stats", 0))
        return counts


def _pause_fn(cost: CostModel, refs: float, noise: tuple[float, ...] = (), rng: np.random.Generator | None = None,
              scale: tuple[float, float, float] = (1.0, 1.0, 1.0), by: str = "collection",
              sink: list | None = None):
    """``f(generation, examined, freed, examined_old, examined_mid) -> seconds``: the cost model's
    pause (the examined objects of generation 2 priced as old ones where the model tells them
    apart), times ``scale``: the collected generation's (``by="collection"``), or each examined
    object's walk times the factor of the generation it was in, the fixed cost and the freeing
    times the collected generation's (``by="object"``); then times a draw from ``noise``.
    ``sink``, a list, gets ``(examined_mid, examined_old)`` per call."""
    if by == "object":
        def priced(generation: int, examined: int, freed: int, old: int = 0, mid: int = 0) -> float:
            rest, young, m, o = cost.pause_parts(examined, freed, refs, old, mid)
            return rest * scale[generation] + young * scale[0] + m * scale[1] + o * scale[2]
    elif scale == (1.0, 1.0, 1.0):
        def priced(generation: int, examined: int, freed: int, old: int = 0, mid: int = 0) -> float:
            return float(cost.pause_s(examined, freed, refs, old))
    else:
        def priced(generation: int, examined: int, freed: int, old: int = 0, mid: int = 0) -> float:
            return float(cost.pause_s(examined, freed, refs, old)) * scale[generation]
    base = priced
    if sink is not None:
        def base(generation: int, examined: int, freed: int, old: int = 0, mid: int = 0) -> float:
            sink.append((mid, old))
            return priced(generation, examined, freed, old, mid)
    if not noise or rng is None:
        return base
    # a real pause scatters around the model: multiply by a draw from the measured factors
    levels = np.linspace(0.0, 1.0, len(noise))
    factors = np.asarray(noise, dtype=float)

    def noisy(generation: int, examined: int, freed: int, old: int = 0, mid: int = 0) -> float:
        return base(generation, examined, freed, old, mid) * float(np.interp(rng.random(), levels, factors))

    return noisy


def _memory_model(version: str):
    """The allocator model of ``version``. The free-threaded builds allocate objects with mimalloc,
    which gcperf does not model: their footprint is taken from the GIL build's pymalloc of the
    same minor version (an approximation, said in ``gcperf versions``)."""
    from ..memory import MemoryModel, geometry_for

    pre = preset(version)
    return MemoryModel(geometry_for(pre.minor if pre.free_threaded else version))


def _tables(m: Machine, wall: float, inputs: dict, summary_inputs: dict) -> RunResult:
    coll = pd.DataFrame.from_records(m.records, columns=list(COLLECTION_FIELDS))
    coll["pause_ms"] = coll.pop("pause_s") * 1000.0
    coll = coll[[c if c != "pause_s" else "pause_ms" for c in COLLECTION_FIELDS]]
    coll["reason"] = coll["reason"].astype("string")
    coll["full_vetoed"] = coll["full_vetoed"].astype(bool)
    tl = pd.DataFrame.from_records(m.timeline, columns=list(TIMELINE_FIELDS))
    outcome = summarize(coll, tl, wall, m.garbage_seconds, m.peak_garbage)
    if m.memory is not None:
        ms = m.memory.stats()
        outcome.update(memory_stats(tl, ms["peak_footprint_bytes"] + m.baseline_bytes, m.peak_garbage_bytes,
                                    ms["arenas_highwater"]))
    else:
        outcome.update(memory_stats(tl, None, None, None))
    row = {**summary_inputs, **outcome, "gcperf_version": __version__, "schema_version": SCHEMA_VERSION}
    summary = pd.DataFrame([row], columns=list(SUMMARY_COLUMNS))
    return RunResult(coll, tl, summary, inputs, dict(m.end_state))


def simulate(scenario: Scenario | str | Workload | None = None, *, memory_thread: bool | None = None,
             threshold_pattern: tuple[int, ...] | None = None,
             progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Simulate a scenario (the built-in default when None; a workload name or a
    :class:`~gcperf.Workload` alone runs it with the default settings).

    The first run with the memory model in a process compiles (or loads) its kernels
    first; when that takes more than a moment, a warning on the ``gcperf`` logger
    says so (``kernels.ensure_kernels``).

    Args:
        memory_thread: run the memory model on a thread of its own (the results are the same);
            None: on two or more CPUs, on its thread while its batches are large and in line while
            they are small (``memory.queued.QueuedMemory``).
        threshold_pattern: threshold0 of successive collection windows, repeated (what
            ``gcperf record`` does to a program); None: the scenario's fixed thresholds.
        progress: called with (allocation slots done, total slots) at every stop of the engine
            (often: keep it cheap); it does not change the results.

    Raises:
        GcperfError: invalid scenario.
    """
    return _simulate(_as_scenario(scenario), memory_thread, threshold_pattern, progress)


def examined_by_generation(scenario: Scenario, *, threshold_pattern: tuple[int, ...] | None = None) -> pd.DataFrame:
    """The collections table of a run (as :func:`simulate`'s) with, of each collection's examined
    objects, those that were in generation 1 and 2 before it (``examined_gen1``,
    ``examined_gen2``): what ``pause_scale_by="object"`` prices apart (calibration sets its factors
    from them). Generational collectors only (the incremental and free-threaded ones are priced
    otherwise).

    Raises:
        GcperfError: invalid scenario, or a collector that is not generational.
    """
    sc = _as_scenario(scenario)
    pre = preset(sc.gc.version)
    if pre.free_threaded or pre.incremental:
        raise GcperfError(f"examined objects by generation are the generational collector's, not {pre.name}'s")
    sink: list = []
    c = _simulate(sc, False, threshold_pattern, None, pause_sink=sink).collections
    return pd.concat([c, pd.DataFrame.from_records(sink, columns=["examined_gen1", "examined_gen2"])], axis=1)


def _as_scenario(scenario: Scenario | str | Workload | None) -> Scenario:
    if scenario is None:
        return Scenario()
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Workload)):
        return Scenario(scenario)  # simulate("web"), simulate(my_workload): the defaults for the rest
    raise GcperfError(f"simulate takes a Scenario, a workload name or a Workload, got {scenario!r}")


def simulate_many(scenarios: list[Scenario], *, memory_thread: bool | None = False) -> list[RunResult]:
    """Simulate several scenarios, drawing each realisation of a program once.

    Scenarios that differ only in what the program's realisation does not depend on (thresholds,
    ``gc.disable()`` with a timer, the pause costs; not the workload, seed, chunk size, memory
    model, ``freeze_after``/``collect_after`` or the version's tracking rules) run side by side
    over one draw, in threads, each with its own collector, heap and memory model
    (:class:`~gcperf.engine.shared.SharedDraw`), taking turns a chunk each. Each result is the very
    table :func:`simulate` gives for its scenario; the draws not repeated are the gain (x2.4 for 8
    settings of the web workload without the memory model, x1.4 with it:
    ``benchmarks/bench_shared_draw.py``). The runs of a group are all in memory at once: group
    what fits (the sweep puts at most ``sweep.GROUP_MAX`` runs in a task).

    Args:
        scenarios: what to run (built-in names and workloads as :func:`simulate` takes them).
        memory_thread: as :func:`simulate`; by default in line (the runs already share the
            interpreter lock among themselves).

    Returns:
        One result per scenario, in their order.

    Raises:
        GcperfError: an invalid scenario (the first, in order).
    """
    import threading

    from .shared import SharedDraw

    scs = [_as_scenario(sc) for sc in scenarios]
    results: list[RunResult | None] = [None] * len(scs)
    errors: dict[int, BaseException] = {}
    for members in group_by_draw(scs):
        if len(members) == 1:
            i = members[0]
            results[i] = _simulate(scs[i], memory_thread, None, None)
            continue
        shared = SharedDraw(_make_stream(scs[members[0]]), len(members))

        def run(shared: SharedDraw, slot: int, i: int) -> None:
            try:
                results[i] = _simulate(scs[i], memory_thread, None, None, shared.consumer(slot))
            except BaseException as e:  # handed to the caller's thread
                errors[i] = e
            finally:
                shared.leave(slot)

        threads = [threading.Thread(target=run, args=(shared, slot, i), name=f"gcperf-run-{i}", daemon=True)
                   for slot, i in enumerate(members)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[min(errors)]
    return results  # type: ignore[return-value]


def group_by_draw(scenarios: list[Scenario]) -> list[list[int]]:
    """The indices of the scenarios, grouped by the draw of the program they share
    (:func:`draw_key`): groups in the order of their first member, members in order."""
    groups: list[tuple[tuple, list[int]]] = []
    for i, sc in enumerate(scenarios):
        key = draw_key(sc)
        for k, members in groups:
            if k == key:
                members.append(i)
                break
        else:
            groups.append((key, [i]))
    return [members for _, members in groups]


def draw_key(sc: Scenario) -> tuple:
    """What the realisation of a scenario's program depends on (``_make_stream``'s inputs): two
    scenarios with equal keys draw the very same chunks."""
    pre = preset(sc.gc.version)
    return (sc.resolved_workload(), sc.seed, sc.chunk_slots, sc.memory, _phase_ops(sc.gc), pre.atomic_tuples_tracked,
            pre.atomic_dicts_tracked, pre.counts_tracked_only)


def _phase_ops(gc: GCSettings) -> dict[str, list[tuple[str, tuple]]]:
    phase_ops: dict[str, list[tuple[str, tuple]]] = {}
    for name in gc.collect_after:
        phase_ops.setdefault(name, []).append(("collect", (2,)))
    if gc.freeze_after:
        phase_ops.setdefault(gc.freeze_after, []).append(("freeze", ()))
    return phase_ops


def _make_stream(sc: Scenario) -> StatisticalStream:
    pre = preset(sc.gc.version)
    # one stream of random numbers for the program's behaviour, one for object sizes, one for
    # the scatter of pauses (spawned children do not depend on how many are spawned)
    life_seq, size_seq, _ = np.random.SeedSequence(sc.seed).spawn(3)
    return StatisticalStream(
        sc.resolved_workload(),
        np.random.default_rng(life_seq),
        _phase_ops(sc.gc),
        atomic_tuples_tracked=pre.atomic_tuples_tracked,
        atomic_dicts_tracked=pre.atomic_dicts_tracked,
        chunk_slots=sc.chunk_slots,
        size_rng=np.random.default_rng(size_seq) if sc.memory else None,
        counts_tracked_only=pre.counts_tracked_only,
    )


def _simulate(sc: Scenario, memory_thread: bool | None, threshold_pattern: tuple[int, ...] | None,
              progress: Callable[[int, int], None] | None, stream=None, pause_sink: list | None = None) -> RunResult:
    """``simulate`` of a scenario; ``stream``: its program's realisation if already drawn
    elsewhere (a :class:`~gcperf.engine.shared.SharedDraw` consumer), else drawn here;
    ``pause_sink``: see :func:`examined_by_generation`."""
    wl = sc.resolved_workload()
    gc = sc.gc
    pre = preset(gc.version)
    noise_seq = np.random.SeedSequence(sc.seed).spawn(3)[2]
    if stream is None:
        stream = _make_stream(sc)
    baseline = wl.baseline_objects if wl.baseline_objects is not None else pre.interpreter_objects
    if threshold_pattern and (pre.free_threaded or pre.incremental):
        kind = "the free-threaded" if pre.free_threaded else "the incremental collector of"
        raise GcperfError(f"a threshold pattern (a recording's replay) is not modelled for {kind} {pre.name}")
    if threshold_pattern:
        policy: GenerationalPolicy = PatternPolicy(tuple(threshold_pattern), gc.effective_thresholds,
                                                   long_lived_total=baseline, enabled=gc.enabled)
    else:
        live0 = baseline + (pre.interpreter_untracked if pre.ft_live_counts_all else 0)
        policy = make_policy(pre, gc.effective_thresholds, live0, gc.enabled)
    cost = wl.pause_costs if wl.pause_costs is not None else cost_model_for(pre.minor)
    if sc.memory:
        ensure_kernels(pre.minor)
    else:
        seed_once()
    memory = _memory_model(gc.version) if sc.memory else None
    pause = _pause_fn(cost, wl.refs_per_object, wl.pause_noise, np.random.default_rng(noise_seq), wl.pause_scale,
                      wl.pause_scale_by, pause_sink)
    base_rss = wl.baseline_rss_mb * 2**20 if wl.baseline_rss_mb is not None else pre.interpreter_rss_kib * 1024
    m = Machine(stream, policy, make_heap(pre, baseline, sc.memory), pre, pause,
                memory, int(base_rss) if sc.memory else 0, memory_thread)
    m.on_progress = progress
    period = wl.duration_s / sc.timeline_points if sc.timeline_points else None
    wall = run_machine(m, period, gc.collect_every_s, gc.collect_generation)
    inputs = sc.describe()
    inputs["cost_model"] = cost.source
    summary_inputs = {
        "workload": wl.name,
        "version": gc.version,
        "threshold0": gc.effective_thresholds[0],
        "threshold1": gc.effective_thresholds[1],
        "threshold2": gc.effective_thresholds[2],
        "enabled": gc.enabled,
        "freeze_after": gc.freeze_after or "",
        "collect_every_s": gc.collect_every_s if gc.collect_every_s is not None else float("nan"),
        "seed": sc.seed,
        "memory": sc.memory,
        "duration_s": wl.duration_s,
    }
    return _tables(m, wall, inputs, summary_inputs)


def make_policy(pre: VersionPreset, thresholds: tuple[int, int, int], long_lived_total: int,
                enabled: bool) -> GenerationalPolicy:
    """The collector policy of a version: generational, the free-threaded build's, or the
    incremental one of 3.14.0-3.14.4."""
    if pre.incremental:
        later = pre.incremental != "3.14.0"  # 3.14.1-3.14.4 (CPYTHON_GC.md §11)
        return IncrementalPolicy(thresholds, enabled, early_return=later, cap_halves=4 if later else 3,
                                 add_back=not later, marks_in_stats=later)
    if pre.free_threaded:
        return FreeThreadedPolicy(thresholds, long_lived_total, enabled, count_floor=pre.ft_count_floor,
                                  live_ge=pre.ft_live_ge, memory_gate=pre.ft_memory_gate)
    return GenerationalPolicy(thresholds, long_lived_total=long_lived_total, enabled=enabled)


def make_heap(pre: VersionPreset, baseline_objects: int, memory: bool, frozen_objects: int = 0,
              young_objects: tuple[int, int] = (0, 0), rootless: int | None = None,
              untracked: int | None = None) -> Heap | IncrementalHeap:
    """The heap of a version at the start: generations (with 3.12's immortal objects in the
    permanent one), or the incremental collector's young list and old spaces."""
    if pre.incremental:
        return IncrementalHeap(baseline_objects, memory=memory, frozen_objects=frozen_objects,
                               young_objects=young_objects,
                               rootless_objects=pre.interpreter_unmarked if rootless is None else rootless,
                               untracked_in_heap_size=not pre.counts_tracked_only,
                               untracked_objects=pre.interpreter_untracked if untracked is None else untracked)
    return Heap(baseline_objects, memory=memory, frozen_objects=frozen_objects, immortal_objects=pre.startup_frozen,
                young_objects=young_objects)


def _start_counts(counts: object) -> tuple[int, int, int]:
    try:
        items = tuple(counts)  # type: ignore[arg-type]
    except TypeError:
        items = ()
    if len(items) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in items):
        raise GcperfError(f"counts must be three non-negative integers (gc.get_count()), got {counts!r}")
    return tuple(int(v) for v in items)  # type: ignore[return-value]


def simulate_trace(
    trace: Trace,
    version: str = "3.13",
    thresholds: tuple[int, int, int] | None = None,
    baseline_objects: int = 0,
    enabled: bool = True,
    refs_per_object: float = 1.0,
    chunk_slots: int = CHUNK_SLOTS,
    cost: CostModel | None = None,
    baseline_rss_bytes: int = 0,
    memory_thread: bool | None = None,
    *,
    counts: tuple[int, int, int] = (0, 0, 0),
    long_lived_total: int | None = None,
    frozen_objects: int = 0,
    young_objects: tuple[int, int] = (0, 0),
    local_count: int = 0,
    work_to_do: int | None = None,
    marking: bool = True,
    unmarked_objects: int | None = None,
    untracked_objects: int = 0,
) -> RunResult:
    """Replay an exact trace under a version's collector.

    The start state is any a real process can be in: ``gc.get_count()`` (``counts``),
    objects in generations 0 and 1 (``young_objects``), 2 (``baseline_objects``) and frozen
    (``frozen_objects``), all of which live to the end, the
    full-collection rule's ``long_lived_total``, thresholds and ``gc.isenabled()``. On 3.12 the
    interpreter's start-up immortal objects are in the permanent generation too
    (``VersionPreset.startup_frozen``, CPYTHON_GC.md §10.4). What the ``gc`` module would
    report at the end is in the result's ``end_state``.

    Args:
        trace: the events.
        version: CPython version.
        thresholds: thresholds at the start (None: the version default).
        baseline_objects: tracked objects in generation 2 at the start.
        enabled: whether automatic collection is on at the start.
        refs_per_object: references per object, for the cost model.
        chunk_slots: slots per batch (results do not depend on it).
        cost: cost model (None: the version's measured constants).
        baseline_rss_bytes: resident memory before the trace starts (added to the
            footprint; the memory model runs when the trace has sizes).
        memory_thread: as for :func:`simulate`.
        counts: ``gc.get_count()`` at the start.
        long_lived_total: survivors of the last full collection (None: ``baseline_objects``,
            as right after one).
        frozen_objects: tracked objects in the permanent generation at the start (frozen by
            the program; 3.12's immortal objects come on top).
        young_objects: tracked objects in generations 0 and 1 at the start.
        local_count: the free-threaded builds' per-thread buffered count (-511..511) at the start,
            not yet added to ``gc.get_count()[0]``; must be 0 for the other builds.
        work_to_do: the incremental collector's (3.14.0-3.14.4) work budget at the start (None: a
            fresh interpreter's -5000); the other collectors have none.
        marking: whether the incremental collector's next increment is the marking step that
            starts a scavenge (a fresh interpreter's is), else the baseline objects are pending
            garbage-free objects it will work through.
        unmarked_objects: of ``baseline_objects``, those the incremental collector's marking step
            does not reach (None: the preset's ``interpreter_unmarked``, at most ``baseline_objects``).
        untracked_objects: untracked GC objects alive throughout (the interpreter's and the program's
            at the start): 3.14.0's collector counts them in its heap size (a fresh interpreter has
            the preset's ``interpreter_untracked``); the others leave them out of every rule.

    Raises:
        GcperfError: a start state no interpreter can be in (negative numbers, not three counts).
    """
    pre = preset(version)
    settings = GCSettings(version=version, thresholds=thresholds, enabled=enabled)
    counts = _start_counts(counts)
    try:
        y0, y1 = young_objects
    except (TypeError, ValueError):
        raise GcperfError(f"young_objects must be two non-negative integers, got {young_objects!r}") from None
    for name, value in (("baseline_objects", baseline_objects), ("frozen_objects", frozen_objects),
                        ("long_lived_total", long_lived_total), ("young_objects", y0), ("young_objects", y1),
                        ("unmarked_objects", unmarked_objects), ("untracked_objects", untracked_objects)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise GcperfError(f"{name} must be a non-negative integer, got {value!r}")
    llt = baseline_objects if long_lived_total is None else int(long_lived_total)
    policy = make_policy(pre, settings.effective_thresholds, llt, enabled)
    policy.count = list(counts)
    if isinstance(local_count, bool) or not isinstance(local_count, (int, np.integer)):
        raise GcperfError(f"local_count must be an integer, got {local_count!r}")
    if isinstance(policy, FreeThreadedPolicy):
        if not -FT_FLUSH < local_count < FT_FLUSH:
            raise GcperfError(f"local_count must be in -511..511 (it is flushed at +-512), got {local_count}")
        policy.local = int(local_count)
    elif local_count:
        raise GcperfError(f"local_count is the free-threaded builds' buffered count; {version} has none")
    if isinstance(policy, IncrementalPolicy):
        if work_to_do is not None:
            if isinstance(work_to_do, bool) or not isinstance(work_to_do, (int, np.integer)):
                raise GcperfError(f"work_to_do must be an integer, got {work_to_do!r}")
            policy.work_to_do = int(work_to_do)
        policy.marking = bool(marking)
    elif work_to_do is not None or not marking:
        raise GcperfError(f"work_to_do and marking are the incremental collector's (3.14.0-3.14.4); {version} has neither")
    cm = cost if cost is not None else cost_model_for(pre.minor)
    mem = trace.sizes is not None
    if mem:
        ensure_kernels(pre.minor)
    for name, given in (("unmarked_objects", unmarked_objects is not None), ("untracked_objects", untracked_objects)):
        if given and not pre.incremental:
            raise GcperfError(f"{name} is the incremental collector's (3.14.0-3.14.4); {version} has none")
    heap = make_heap(pre, baseline_objects, mem, int(frozen_objects), (int(y0), int(y1)),
                     None if unmarked_objects is None else int(unmarked_objects), int(untracked_objects))
    m = Machine(TraceStream(trace, chunk_slots, pre.counts_tracked_only, keep_untracked=pre.ft_live_counts_all),
                policy, heap, pre,
                _pause_fn(cm, refs_per_object), _memory_model(version) if mem else None, baseline_rss_bytes,
                memory_thread)
    wall = run_machine(m, None, None, 2)
    summary_inputs = {
        "workload": trace.name,
        "version": version,
        "threshold0": settings.effective_thresholds[0],
        "threshold1": settings.effective_thresholds[1],
        "threshold2": settings.effective_thresholds[2],
        "enabled": enabled,
        "freeze_after": "",
        "collect_every_s": float("nan"),
        "seed": 0,
        "memory": mem,
        "duration_s": trace.n * trace.alloc_interval_s,
    }
    inputs = {"trace": trace.name, "version": version, "thresholds": list(settings.effective_thresholds),
              "baseline_objects": baseline_objects, "counts": list(counts), "local_count": int(local_count), "long_lived_total": llt,
              "frozen_objects": int(frozen_objects), "young_objects": [int(y0), int(y1)], "cost_model": cm.source}
    return _tables(m, wall, inputs, summary_inputs)
