"""A plain, per-event reference of CPython's generational collector (tests only).

Everything here is the obvious implementation: each object is a Python int in
a Python list per generation, every event is visited one by one, and the rules
are written exactly as CPYTHON_GC.md §1-2 states them. It is slow and has no
batching, cohorts or binary searches; the batched engine must agree with it on
every collection.
"""

from __future__ import annotations

from dataclasses import dataclass

from gcperf.cpython.heap import FLAG_ATOMIC, FLAG_CYCLIC, FLAG_UNTRACKED, NEVER
from gcperf.cpython.versions import preset
from gcperf.workload.trace import Trace


@dataclass
class RefCollection:
    seq: int
    generation: int
    reason: str
    examined: int
    freed: int
    survivors: int
    untracked: int
    full_vetoed: bool


def _events(trace: Trace) -> list[tuple]:
    """Every event of ``trace`` in program order: (seq, kind, payload) with kind 0 allocation,
    1 death, 2 eval-breaker check, 3 gc call (ties in that order)."""
    events = []
    for i in range(trace.n):
        events.append((int(trace.alloc_seq[i]), 0, i))
        if trace.death[i] != NEVER:
            events.append((int(trace.death[i]), 1, i))
    for s in trace.checkpoints:
        events.append((int(s), 2, None))
    for op in trace.ops:
        events.append((op[0], 3, op))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _groups(trace: Trace) -> dict[int, list[int]]:
    """The members of each cycle, by the slot of its oldest member."""
    groups: dict[int, list[int]] = {}
    for i in range(trace.n):
        if trace.flags[i] & FLAG_CYCLIC:
            groups.setdefault(int(trace.head[i]), []).append(i)
    return groups


def reference_run(trace: Trace, version: str, thresholds=None, baseline_objects: int = 0,
                  enabled: bool = True) -> list[RefCollection]:
    pre = preset(version)
    if pre.free_threaded:
        return reference_run_ft(trace, version, thresholds, baseline_objects, enabled)
    th = list(thresholds if thresholds is not None else pre.thresholds)
    count = [0, 0, 0]
    pending, total = 0, baseline_objects
    gens: list[list[int]] = [[], [], []]
    permanent: list[int] = []
    gens[2] = [-(i + 1) for i in range(baseline_objects)]  # immortal interpreter objects
    state: dict[int, str] = {}  # id -> "alive" | "garbage" | "dead"
    scheduled = False
    log: list[RefCollection] = []

    events = _events(trace)
    groups = _groups(trace)

    def present(o: int) -> bool:
        return o < 0 or state.get(o) in ("alive", "garbage")

    def collect(g: int, seq: int, reason: str, vetoed: bool) -> None:
        nonlocal pending, total
        if g < 2:
            count[g + 1] += 1
        for i in range(g + 1):
            count[i] = 0
        young = [o for gen in gens[: g + 1] for o in gen if present(o)]
        members = set(young)
        examined = len(young)
        freed = 0
        untracked = 0
        survivors = []
        for o in young:
            if o >= 0 and state[o] == "garbage":
                group = groups[int(trace.head[o])]
                if all(m in members for m in group):
                    freed += 1
                    continue
            if o >= 0 and trace.flags[o] & FLAG_ATOMIC and state[o] == "alive":
                untracked += 1
                state[o] = "untracked"
                continue
            survivors.append(o)
        for o in young:
            if o >= 0 and state[o] == "garbage" and o not in survivors:
                state[o] = "dead"
        if g == 1:
            pending += len(survivors)
        elif g == 2:
            pending = 0
            total = len(survivors)
        for i in range(g + 1):
            gens[i] = []
        gens[min(g + 1, 2)].extend(survivors)
        log.append(RefCollection(seq, g, reason, examined, freed, len(survivors), untracked, vetoed))

    def select():
        vetoed = False
        for g in (2, 1, 0):
            if count[g] > th[g]:
                if g == 2 and pending < total // 4:
                    vetoed = True
                    continue
                return g, vetoed
        return None, vetoed

    for seq, kind, payload in events:
        if kind == 0:  # allocation
            i = payload
            # 3.15 counts tracked objects only: one created untracked is not counted
            counted = not (pre.counts_tracked_only and trace.flags[i] & FLAG_UNTRACKED)
            if counted:
                count[0] += 1
            due = counted and enabled and th[0] != 0 and count[0] > th[0]
            if due and not pre.deferred_trigger:
                g, vetoed = select()
                collect(g, seq, "auto", vetoed)  # the new object is not linked yet
            elif due:
                scheduled = True
            flags = int(trace.flags[i])
            state[i] = "alive"
            if not flags & FLAG_UNTRACKED:
                gens[0].append(i)
        elif kind == 1:  # death
            i = payload
            if trace.flags[i] & FLAG_CYCLIC:
                state[i] = "garbage"
            else:
                if state[i] in ("alive", "untracked"):
                    state[i] = "dead"
                if not (pre.counts_tracked_only and trace.flags[i] & FLAG_UNTRACKED):
                    count[0] = max(0, count[0] - 1)
        elif kind == 2:  # eval-breaker check
            if scheduled:
                scheduled = False
                if enabled or not pre.deferred_run_checks_enabled:
                    g, vetoed = select()
                    if g is not None:
                        collect(g, seq, "auto", vetoed)
        else:
            _, name, args = payload
            if name == "collect":
                collect(int(args[0]), seq, "explicit", False)
            elif name == "disable":
                enabled = False
            elif name == "enable":
                enabled = True
            elif name == "freeze":
                permanent.extend(o for gen in gens for o in gen)
                gens[:] = [[], [], []]
                count[:] = [0, 0, 0]
            elif name == "unfreeze":
                gens[2] = permanent + gens[2]
                permanent = []
            elif name == "set_threshold":
                th = list(args) + th[len(args):]
    return log


def reference_run_ft(trace: Trace, version: str, thresholds=None, baseline_objects: int = 0,
                     enabled: bool = True, end: dict | None = None) -> list[RefCollection]:
    """The free-threaded build (CPYTHON_GC.md §4, ``Python/gc_free_threading.c``), event by event.

    The memory gate is not here: without a memory model the engine cannot read a resident size
    and, like CPython where the figure is missing, lets the gate say yes. ``end`` receives
    ``count``, what ``gc.get_count()`` would say after the trace.
    """
    pre = preset(version)
    th = list(thresholds if thresholds is not None else pre.thresholds)
    flush = 512
    local = 0
    count = [0, 0, 0]
    live_all = pre.ft_live_counts_all
    llt = baseline_objects + (pre.interpreter_untracked if live_all else 0)
    gens: list[list[int]] = [[], [], []]
    permanent: list[int] = []
    gens[2] = [-(i + 1) for i in range(baseline_objects)]
    state: dict[int, str] = {}
    scheduled = False
    log: list[RefCollection] = []

    events = _events(trace)
    groups = _groups(trace)

    def present(o: int) -> bool:
        return o < 0 or state.get(o) in ("alive", "garbage")

    def one_free() -> None:
        nonlocal local
        local -= 1
        if local <= -flush:
            c = count[0] + local
            count[0] = max(c, 0) if pre.ft_count_floor else c
            local = 0

    def should_collect() -> bool:
        c = count[0]
        if c <= th[0] or th[0] == 0 or not enabled:
            return False
        if th[1] == 0:
            return True
        return c >= llt // 4 if pre.ft_live_ge else c > llt // 4

    def collect(g: int, seq: int, reason: str) -> None:
        nonlocal llt
        if g < 2:
            count[g + 1] += 1
        for i in range(g + 1):
            count[i] = 0
        heap = [o for gen in gens for o in gen if present(o)]
        members = set(heap)
        freed = untracked = 0
        survivors = []
        for o in heap:
            if o >= 0 and state[o] == "garbage" and all(m in members for m in groups[int(trace.head[o])]):
                freed += 1
                continue
            if o >= 0 and trace.flags[o] & FLAG_ATOMIC and state[o] == "alive":
                untracked += 1
                state[o] = "untracked"
                continue
            survivors.append(o)
        for o in heap:
            if o >= 0 and state[o] == "garbage" and o not in survivors:
                state[o] = "dead"
        gens[:] = [[], [], survivors]
        llt = len(survivors)
        if live_all:
            untracked_live = sum(1 for o, st in state.items()
                                 if st == "untracked" or (st == "alive" and trace.flags[o] & FLAG_UNTRACKED))
            llt += sum(1 for o in permanent if present(o)) + untracked_live + pre.interpreter_untracked
        log.append(RefCollection(seq, g, reason, len(heap), freed, len(survivors), untracked, False))
        for _ in range(freed):  # the garbage is deallocated after the counts were zeroed
            one_free()

    for seq, kind, payload in events:
        if kind == 0:
            i = payload
            local += 1
            if local >= flush:
                count[0] += local
                local = 0
                if should_collect():
                    scheduled = True
            state[i] = "alive"
            if not trace.flags[i] & FLAG_UNTRACKED:
                gens[0].append(i)
        elif kind == 1:
            i = payload
            if trace.flags[i] & FLAG_CYCLIC:
                state[i] = "garbage"
            else:
                if state[i] in ("alive", "untracked"):
                    state[i] = "dead"
                one_free()
        elif kind == 2:
            if scheduled:
                scheduled = False
                if enabled and should_collect():
                    collect(0, seq, "auto")
        else:
            _, name, args = payload
            if name == "collect":
                collect(int(args[0]), seq, "explicit")
            elif name == "disable":
                enabled = False
            elif name == "enable":
                enabled = True
            elif name == "freeze":  # the counts stay
                permanent.extend(o for gen in gens for o in gen)
                gens[:] = [[], [], []]
            elif name == "unfreeze":
                gens[2] = permanent + gens[2]
                permanent = []
            elif name == "set_threshold":
                th = list(args) + th[len(args):]
    if end is not None:
        end["count"] = [count[0] + local, count[1], count[2]]
    return log


def reference_run_inc(trace: Trace, version: str, thresholds=None, baseline_objects: int = 0,
                      enabled: bool = True, end: dict | None = None, work_to_do: int = -5000,
                      marking: bool = True, unmarked: int = 0) -> list[RefCollection]:
    """The incremental collector of 3.14.0-3.14.4 (CPYTHON_GC.md §3, §11), object by object.

    Lists of object ids for the young list, the visited and pending spaces and the permanent
    generation; the rules in the order ``gc_collect_increment``, ``gc_collect_young`` and
    ``gc_collect_full`` apply them, with gcperf's stated assumptions (cpython/incremental.py):
    every live object is reachable from the roots, except while objects are frozen (or unfrozen
    ones still marked visited), when a marking step reaches none; pending is taken in the order
    its objects became garbage, then its live objects longest-lived first; a cycle is freed unless
    a member is in the visited space or the permanent generation; the oldest ``unmarked`` baseline
    objects are live but out of the roots' reach (a marking step leaves them pending). ``end`` receives ``count``, ``gc.get_count()`` after the trace.
    """
    pre = preset(version)
    later = pre.incremental != "3.14.0"
    th = list(thresholds if thresholds is not None else pre.thresholds)
    count0 = 0
    old_count = [0, 0]
    space = 0  # which old space is the visited one
    work = work_to_do
    young: list[int] = []
    visited: list[int] = []
    pending: list[int] = [-(i + 1) for i in range(baseline_objects)]  # the interpreter's own
    permanent: list[int] = []
    unfrozen: list[int] = []  # unfrozen objects in the visited space, still marked visited
    state: dict[int, str] = {}
    scheduled = False
    log: list[RefCollection] = []
    events = _events(trace)
    groups = _groups(trace)
    death_seq = {i: int(trace.death[i]) for i in range(trace.n)}

    def present(o: int) -> bool:
        return o < 0 or state.get(o) in ("alive", "garbage")

    def garbage(o: int) -> bool:
        return o >= 0 and state[o] == "garbage"

    def live_order(o: int) -> tuple:
        # live pending objects (only a marking step that reached nothing leaves any) are taken
        # longest-lived first: never freed (tracked, then atomic tuples), then latest death first
        d = NEVER if o < 0 else int(trace.death[o])
        atomic = o >= 0 and bool(trace.flags[o] & FLAG_ATOMIC)
        cyclic = o >= 0 and bool(trace.flags[o] & FLAG_CYCLIC)
        kind = 2 if cyclic else int(atomic)
        return (0, kind, o) if d == NEVER else (1, -d, o)

    def rootless(o: int) -> bool:
        return o < 0 and -o <= unmarked

    def heap_size() -> int:
        n = sum(present(o) for lst in (young, visited, pending, permanent) for o in lst)
        if not later:  # 3.14.0 counts every GC object until it is freed, the untracked tuples too
            n += sum(s == "untracked" for s in state.values())
        return n

    def run_region(region: list[int], outside: list[int]) -> tuple[int, int, int, list[int]]:
        held = {o for o in outside if present(o) and garbage(o)}
        examined = freed = untracked = 0
        survivors = []
        for o in region:
            if not present(o):
                continue
            examined += 1
            if garbage(o) and not any(m in held for m in groups[int(trace.head[o])]):
                freed += 1
                state[o] = "dead"
                continue
            if o >= 0 and trace.flags[o] & FLAG_ATOMIC and state[o] == "alive":
                untracked += 1
                state[o] = "untracked"
                continue
            survivors.append(o)
        return examined, freed, untracked, survivors

    def complete() -> None:
        nonlocal space, work, marking, pending, visited, unfrozen
        unfrozen = []
        if not any(present(o) for o in permanent):
            space ^= 1
        pending = [o for o in visited if present(o) and rootless(o)] + [o for o in visited
                                                                        if present(o) and not rootless(o)]
        visited = []
        work = 0
        marking = True

    def increment(seq: int, reason: str) -> None:
        nonlocal count0, work, marking, young, pending
        scale = max(th[1], 2)
        new = count0
        work += new + min(heap_size() // 10 // scale, new * (4 if later else 3) // 2)
        count0 = 0
        if later and work < 0:
            log.append(RefCollection(seq, 1, reason, 0, 0, 0, 0, False))
            return
        # untrack_tuples(young) runs before the phase test: those tuples are in no increment
        untracked = 0
        for o in young:
            if o >= 0 and trace.flags[o] & FLAG_ATOMIC and state[o] == "alive":
                state[o] = "untracked"
                untracked += 1
        young = [o for o in young if present(o)]
        if marking:
            if any(present(o) for o in permanent + unfrozen):
                # the walk from the roots stops at objects marked visited (frozen or unfrozen ones),
                # and the program's objects hang off its frozen module globals: nothing is marked
                marking = False
                log.append(RefCollection(seq, 1, reason, 0, 0, 0, untracked, False))
                return
            live = [o for o in pending + young if present(o) and not garbage(o) and not rootless(o)]
            pending = [o for o in pending if rootless(o)] + sorted(
                (o for o in pending if present(o) and garbage(o)), key=lambda o: (death_seq[o], o))
            young = [o for o in young if present(o) and garbage(o)]
            visited.extend(live)
            work -= 2 * len(live)
            marking = False
            log.append(RefCollection(seq, 1, reason, len(live), 0, len(live), untracked, False))
            return
        region = [o for o in young if present(o)]
        young = []
        size = len(region)
        # pending is taken the interpreter's unmarked objects first, then garbage in the order it became
        # garbage (after a marking step it holds nothing else, but one that marked nothing leaves the
        # program's live objects in it), then those
        pending = [o for o in pending if present(o) and rootless(o)] + sorted(
            (o for o in pending if present(o) and garbage(o)), key=lambda o: (death_seq[o], o)) + sorted(
            (o for o in pending if present(o) and not garbage(o) and not rootless(o)), key=live_order)
        while size < work and pending:
            o = pending.pop(0)
            if present(o):
                region.append(o)
                size += 1
        examined, freed, in_region, survivors = run_region(region, visited + permanent)
        visited.extend(survivors)
        work -= examined
        if not later:
            work += heap_size() // 10 // scale
        if not any(present(o) for o in pending):
            complete()
        log.append(RefCollection(seq, 1, reason, examined, freed, len(survivors), untracked + in_region, False))

    def collect(g: int, seq: int, reason: str) -> None:
        nonlocal count0, young, visited, pending, old_count
        if g == 1:
            increment(seq, reason)
            return
        if g == 0:
            region, young = young, []
            examined, freed, untracked, survivors = run_region(region, visited + pending + permanent)
            visited.extend(survivors)
            count0 = 0
            old_count[space] += 1
        else:
            region = pending + visited + young
            young, visited, pending = [], [], []
            examined, freed, untracked, survivors = run_region(region, permanent)
            visited.extend(survivors)
            count0 = 0
            old_count = [0, 0]
            complete()
        log.append(RefCollection(seq, g, reason, examined, freed, len(survivors), untracked, False))

    for seq, kind, payload in events:
        if kind == 0:  # allocation
            i = payload
            counted = not (pre.counts_tracked_only and trace.flags[i] & FLAG_UNTRACKED)
            if counted:
                count0 += 1
                if enabled and th[0] != 0 and count0 > th[0]:
                    scheduled = True
            state[i] = "alive"
            if not trace.flags[i] & FLAG_UNTRACKED:
                young.append(i)
        elif kind == 1:  # death
            i = payload
            if trace.flags[i] & FLAG_CYCLIC:
                state[i] = "garbage"
            else:
                if state[i] in ("alive", "untracked"):
                    state[i] = "dead"
                if not (pre.counts_tracked_only and trace.flags[i] & FLAG_UNTRACKED):
                    count0 = max(0, count0 - 1)
        elif kind == 2:  # eval-breaker check: _Py_RunGC runs an increment if enabled, no re-check
            if scheduled:
                scheduled = False
                if enabled:
                    increment(seq, "auto")
        else:
            _, name, args = payload
            if name == "collect":
                collect(int(args[0]), seq, "explicit")
            elif name == "disable":
                enabled = False
            elif name == "enable":
                enabled = True
            elif name == "freeze":
                permanent.extend(pending + visited + young)
                young, visited, pending = [], [], []
                count0 = 0
                old_count = [0, 0]
            elif name == "unfreeze":
                visited = visited + permanent
                unfrozen = unfrozen + permanent
                permanent = []
            elif name == "set_threshold":
                th = (list(args[:2]) + th[len(args[:2]):2]) + [0]
    if end is not None:
        end["count"] = [count0, old_count[space], old_count[space ^ 1]]
    return log


def engine_log(result) -> list[RefCollection]:
    """The batched engine's collections in the reference's shape."""
    c = result.collections
    return [
        RefCollection(int(r.seq), int(r.generation), str(r.reason), int(r.examined), int(r.garbage_freed),
                      int(r.survivors), int(r.untracked), bool(r.full_vetoed))
        for r in c.itertuples()
    ]
