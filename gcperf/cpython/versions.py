"""CPython version presets: the collector facts that differ between releases.

Sources: ../shared/CPYTHON_GC.md sections 0-3 (defaults per version, where the
trigger fires) and 8 (tracking rules), each checked on real interpreters by the
tests in ``tests/test_real_interpreter.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import GcperfError


@dataclass(frozen=True)
class VersionPreset:
    """What a CPython minor version does, as far as the generational model cares.

    Attributes:
        name: the version, ``"3.11"`` or with a micro level such as ``"3.12.1"``.
        thresholds: ``gc.get_threshold()`` of a fresh interpreter.
        deferred_trigger: False for 3.8-3.11, where the collection runs inside the
            allocation that crossed threshold0 (that object is not part of it);
            True for 3.12+, where the allocation only schedules a collection that
            runs at the next eval-breaker check.
        deferred_run_checks_enabled: whether the deferred collection re-checks
            ``gc.isenabled()`` (3.12.6+ and 3.13+; 3.12.0-3.12.5 do not).
        atomic_tuples_tracked: tuples holding only atomic values are tracked at
            creation and untracked by the first collection that sees them
            (True before 3.14); 3.14 does not track them at all.
        atomic_dicts_tracked: dicts holding only atomic values are tracked (3.14+)
            rather than left untracked (3.8-3.13).
        interpreter_objects: tracked objects in generation 2 right after start-up
            and a full collection (``len(gc.get_objects(2))``, measured; used as
            the default start state of a simulation).
        interpreter_rss_kib: resident memory of a fresh interpreter (VmRSS), the
            baseline of the simulated footprint.
        counts_tracked_only: count0 counts tracked objects (raised when one is tracked, lowered
            when a tracked one is freed), not GC allocations: 3.15 (CPYTHON_GC.md §1, §11).
            Objects created untracked then move it neither way.
        releases: the releases the preset stands for, as ``gcperf versions`` prints them.
        evidence: where its rules come from (measured on real interpreters, or derived from
            the source only).
        startup_frozen: tracked immortal objects of a fresh interpreter that sit in the
            permanent generation (``gc.get_freeze_count()`` before any ``gc.freeze()``):
            375 on 3.12, whose ``update_refs`` moves immortal objects there (3.13+ untracks
            them; 0 before 3.12). CPYTHON_GC.md §10.4.
        free_threaded: the free-threaded build (3.13t, 3.14t; ``Python/gc_free_threading.c``,
            CPYTHON_GC.md §4): count0 moves in steps of 512 (a per-thread buffer flushed at
            +512 and -512), a collection needs ``count > threshold0`` and enough of them
            against ``long_lived_total / 4``, and every collection is of the whole heap
            (reported as the generation asked for: 0 when automatic).
        ft_count_floor: a -512 flush leaves the global count at 0 rather than below it (3.14t;
            3.13t's plain atomic add lets it go negative).
        ft_live_ge: the live-objects gate is ``count >= long_lived_total / 4`` (3.14t: it
            refuses when ``count < long_lived_total / 4``) rather than ``count > ...`` (3.13t).
        ft_memory_gate: 3.14t's process-memory gate (gh-132917): collect only when resident
            memory grew by more than ``max(last / 10, 128 KiB)`` since the last collection or
            more than ``40 * threshold0`` objects were deferred; otherwise the count is moved
            to the deferred total and zeroed.
        ft_live_counts_all: ``long_lived_total`` counts every object in the GC heap after a
            collection, untracked and frozen ones included (3.14.3t+, gh-142531), not only the
            tracked survivors.
        interpreter_untracked: objects in the GC heap of a fresh interpreter that are untracked or
            frozen (they count in 3.14.3t+'s ``long_lived_total`` and 3.14.0's heap size, not in
            ``interpreter_objects``).
        incremental: the incremental collector of 3.14.0 (``"3.14.0"``) or of 3.14.1-3.14.4
            (``"3.14.1"``), CPYTHON_GC.md §3 and §11 (``cpython/incremental.py``); "" for the
            generational and free-threaded collectors.
        interpreter_unmarked: of ``interpreter_objects``, those the incremental collector's marking
            step does not reach from the roots (they stay pending and must be worked through by
            increments before a scavenge can end).
    """

    name: str
    thresholds: tuple[int, int, int]
    deferred_trigger: bool
    deferred_run_checks_enabled: bool
    atomic_tuples_tracked: bool = True
    atomic_dicts_tracked: bool = False
    interpreter_objects: int = 6000
    interpreter_rss_kib: int = 9000
    startup_frozen: int = 0
    counts_tracked_only: bool = False
    releases: str = ""
    evidence: str = ""
    free_threaded: bool = False
    ft_count_floor: bool = False
    ft_live_ge: bool = False
    ft_memory_gate: bool = False
    ft_live_counts_all: bool = False
    interpreter_untracked: int = 0
    incremental: str = ""
    interpreter_unmarked: int = 0

    @property
    def checked_here(self) -> bool:
        """Whether the preset's rules were checked on a real interpreter on this machine (else
        they are derived from the source, or measured elsewhere, as ``evidence`` says)."""
        return self.evidence.startswith(_LIVE)

    @property
    def minor(self) -> str:
        """The ``major.minor`` part of :attr:`name` (without a free-threaded ``t``)."""
        return ".".join(self.name.rstrip("t").split(".")[:2])


# interpreter_objects: measured with `python3.X -I -c "import gc; gc.collect();
# gc.collect(); print(len(gc.get_objects(2)))"` on the pyenv builds of this
# machine (2026-11-25). 3.11.7's figure includes two .pth files of this machine's
# site-packages (with -S it is 3990). 3.14 has no interpreter here: 3.13's figure.
# interpreter_rss_kib: VmRSS of `python3.X -I -c "..."` reading /proc/self/status,
# same machine and day (3.11.7 again includes the .pth imports).
_LIVE = "exact traces on a real interpreter here (tests/test_real_interpreter.py)"
# The interpreter's objects the incremental collector's first marking step does not reach: on the
# 3.14.1-3.14.4 interpreter built here (tests/record_real_traces.py), a gc.callbacks hook saw the
# first marking step of each of the 19 exact-trace programs that have one mark exactly 315 fewer
# objects than the program's live tracked objects (its start state plus what it kept), 2026-12-05.
# (An earlier figure, 347, set a hooked script's marked objects against another script's heap.)
# Used for 3.14.0 too: its stats carry no candidates to check it with.
_UNMARKED = 315
_PRESETS: dict[str, VersionPreset] = {
    "3.8": VersionPreset("3.8", (700, 10, 10), False, False, interpreter_objects=4480, interpreter_rss_kib=7512,
                         releases="3.8.0-3.8.20", evidence=f"{_LIVE}: 3.8.18"),
    "3.9": VersionPreset("3.9", (700, 10, 10), False, False, interpreter_objects=4594, interpreter_rss_kib=7668,
                         releases="3.9.0-3.9.25", evidence=f"{_LIVE}: 3.9.18"),
    "3.10": VersionPreset("3.10", (700, 10, 10), False, False, interpreter_objects=4718, interpreter_rss_kib=7816,
                          releases="3.10.0-3.10.20", evidence=f"{_LIVE}: 3.10.13"),
    "3.11": VersionPreset("3.11", (700, 10, 10), False, False, interpreter_objects=11090, interpreter_rss_kib=13548,
                          releases="3.11.0-3.11.15", evidence=f"{_LIVE}: 3.11.7"),
    # startup_frozen: `gc.get_freeze_count()` of a fresh 3.12.1 (`python3.12 -I`), the same before
    # and after gc.collect() and after importing json, ast and collections (2026-12-03)
    "3.12": VersionPreset("3.12", (700, 10, 10), True, True, interpreter_objects=4973, interpreter_rss_kib=9648,
                          startup_frozen=375, releases="3.12.0-3.12.13 (3.12.0-3.12.5: a deferred collection "
                          "runs even while the collector is disabled)", evidence=f"{_LIVE}: 3.12.1"),
    "3.13": VersionPreset("3.13", (2000, 10, 10), True, True, interpreter_objects=5081, interpreter_rss_kib=9336,
                          releases="3.13.0-3.13.16", evidence=f"{_LIVE}: 3.13.0"),
    # 3.14.5 and later: the generational collector forward-ported from 3.13
    # (gh-142516); 3.14.0-3.14.4 shipped the incremental collector (presets "3.14.0", "3.14.4").
    "3.14": VersionPreset(
        "3.14",
        (2000, 10, 10),
        True,
        True,
        atomic_tuples_tracked=False,
        atomic_dicts_tracked=True,
        # measured on 3.14.7 built from the release source (see "3.14t" below), 2026-12-04
        interpreter_objects=5345,
        interpreter_rss_kib=10028,
        releases="3.14.5-3.14.9 (the generational collector restored; 3.14.0-3.14.4 ran an incremental "
                 "one: presets 3.14.0 and 3.14.4)",
        evidence=f"{_LIVE}: 3.14.7 built from the release source (its results are replayed everywhere from "
                 "tests/data/real_traces/3.14.7.json)",
    ),
    # 3.14.0-3.14.4: the incremental collector (CPYTHON_GC.md §3, §11; Python/gc.c of the 3.14 branch
    # at ca21a0a1 for 3.14.0's schedule and 0051397d for 3.14.1+'s). No such interpreter here: the
    # start-up figures are 3.14.7's. 3.14.0 counts every GC allocation and tracks tuples of atomic
    # values at creation (untracking them at their first collection); 3.14.1+ counts tracked objects
    # (PR #140447, backported as d1a434f7) and creates such tuples untracked.
    "3.14.0": VersionPreset(
        "3.14.0",
        (2000, 10, 0),
        True,
        True,
        atomic_tuples_tracked=True,
        atomic_dicts_tracked=True,
        interpreter_objects=5345,
        # untracked GC objects of a fresh interpreter, which 3.14.0's heap size counts: on a diagnostic
        # copy of the 3.14.0-like build whose gc.callbacks info also reports heap_size (2026-12-05),
        # `python -I` after gc.collect(): heap_size 7 312, tracked 5 347 (with gc, json, sys and
        # itertools imported, as the exact-trace harness: 3 216)
        interpreter_untracked=1965,
        interpreter_rss_kib=10028,
        incremental="3.14.0",
        interpreter_unmarked=_UNMARKED,
        releases="3.14.0 (incremental collector: every GC allocation counts; 1.5x new as the heap's share)",
        evidence="derived from the source (CPYTHON_GC.md §3, §11); checked on a 3.14.0-like interpreter built here "
                 "from that period's gc.c: every figure of 21 of 21 exact traces; no released 3.14.0 here",
    ),
    "3.14.4": VersionPreset(
        "3.14.4",
        (2000, 10, 0),
        True,
        True,
        atomic_tuples_tracked=False,
        atomic_dicts_tracked=True,
        counts_tracked_only=True,
        interpreter_objects=5345,
        interpreter_rss_kib=10028,
        incremental="3.14.1",
        interpreter_unmarked=_UNMARKED,
        releases="3.14.1-3.14.4 (incremental collector: tracked objects count; nothing is collected while "
                 "the work budget is negative)",
        evidence="derived from the source (CPYTHON_GC.md §3, §11); checked on a 3.14.1-3.14.4-like interpreter built "
                 "here from that period's gc.c: every figure of 21 of 21 exact traces; no released 3.14.1-3.14.4 here",
    ),
    # 3.15: generational, (2000,10,10), counting at track time (CPYTHON_GC.md §1, §11: the source
    # of main after the revert); no interpreter here, start-up figures are 3.13's
    "3.15": VersionPreset(
        "3.15",
        (2000, 10, 10),
        True,
        True,
        atomic_tuples_tracked=False,
        atomic_dicts_tracked=True,
        counts_tracked_only=True,
        interpreter_objects=5081,
        interpreter_rss_kib=9336,
        releases="3.15.0",
        evidence="derived from the source, not measured (CPYTHON_GC.md §1, §11; no 3.15 interpreter here)",
    ),
    # The free-threaded builds (CPYTHON_GC.md §4, Python/gc_free_threading.c). 3.13t per the 3.13
    # branch's source (no interpreter here; start-up figures are 3.13's); 3.14t per the 3.14.7
    # release source (tcchen2026/cpython-3.14, commit b494531), built here with --disable-gil and
    # checked live (tests/test_real_interpreter.py; recorded in tests/data/real_traces/3.14.7t.json).
    "3.13t": VersionPreset(
        "3.13t",
        (2000, 10, 10),
        True,
        True,
        interpreter_objects=5081,
        interpreter_rss_kib=9336,
        free_threaded=True,
        releases="3.13.0t-3.13.16t (free-threaded build)",
        evidence="derived from the source, not measured (CPYTHON_GC.md §4; no 3.13t interpreter here)",
    ),
    "3.14t": VersionPreset(
        "3.14t",
        (2000, 10, 10),
        True,
        True,
        atomic_tuples_tracked=False,
        atomic_dicts_tracked=True,
        # len(gc.get_objects(2)) and VmRSS of a fresh 3.14.7t after two gc.collect() (2026-12-04)
        interpreter_objects=5919,
        interpreter_rss_kib=11457,
        free_threaded=True,
        ft_count_floor=True,
        ft_live_ge=True,
        ft_memory_gate=True,
        ft_live_counts_all=True,
        # measured on a 3.14.7t built from the release source (2026-12-04) through behaviour, since
        # Python cannot list untracked objects: with the memory gate off (/proc hidden, so the RSS
        # read fails and the gate says yes) the first automatic collection comes at the first
        # +512 flush reaching long_lived_total // 4; adding kept objects before gc.collect() until
        # that flush moves by 512 gives long_lived_total = 12292 exactly where the tracked heap
        # was 9032 (`python -I` with gc, json and sys imported): 3260 untracked or frozen objects
        interpreter_untracked=3260,
        releases="3.14.3t-3.14.9t (free-threaded build; 3.14.0t-3.14.2t: give the release, their "
                 "long_lived_total counts tracked survivors only)",
        evidence=f"{_LIVE}: 3.14.7t built from the release source, with its memory gate opened by hiding "
                 "/proc; with the gate live, automatic collections within one of the real ones in 20 of 21 "
                 "programs, the footprint being pymalloc's model standing in for mimalloc's (results replayed "
                 "from tests/data/real_traces/3.14.7t*.json)",
    ),
}

DEFAULT_VERSION = "3.13"
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(_PRESETS)

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(0|[1-9]\d*))?(t?)")

# The patch releases of each minor version known to gcperf: a version string must name one of them
# (3.13.99 is no release). Closed branches have their final release here (3.8.20, 3.9.25); for
# the others the ceiling is an estimate from the release cadence of PEP 619/664/693/719/745 (bugfix
# releases about every two months, security releases a few times a year) as of 2026-12, because
# this table was written without network access to python.org. A newer release than the ceiling
# is refused until the table is extended; name the minor version alone (3.13) meanwhile.
KNOWN_PATCHES: dict[str, int] = {
    "3.8": 20,
    "3.9": 25,
    "3.10": 20,
    "3.11": 15,
    "3.12": 13,
    "3.13": 16,
    "3.14": 9,
    "3.15": 0,
    "3.13t": 16,
    "3.14t": 9,
}


def preset(version: str) -> VersionPreset:
    """Return the preset for ``version`` (``"3.11"`` or ``"3.12.1"``).

    Raises:
        GcperfError: the version is not a string, is malformed, names no release
            (a patch level beyond :data:`KNOWN_PATCHES`), or is not modelled
            (3.14.0-3.14.4 run the incremental collector, which this preset family
            does not cover).
    """
    if not isinstance(version, str):  # 3.1 (a number) is not "3.10"
        raise GcperfError(f"version must be a string such as \"3.11\" or \"3.12.1\", got {version!r}")
    m = _VERSION_RE.fullmatch(version.strip())
    if not m:
        raise GcperfError(f"version must look like 3.11, 3.12.1 or 3.14t (free-threaded), got {version!r}")
    minor = f"{m.group(1)}.{m.group(2)}{m.group(4)}"
    if minor not in _PRESETS:
        raise GcperfError(
            f"version {version} is not modelled; choose one of {', '.join(SUPPORTED_VERSIONS)}"
        )
    base = _PRESETS[minor]
    if m.group(3) is None:
        return base
    micro = int(m.group(3))
    t = m.group(4)
    plain = minor.rstrip("t")
    if micro > KNOWN_PATCHES[minor]:
        raise GcperfError(f"version {version} is not a CPython release ({minor} releases known to gcperf: "
                          f"{plain}.0{t} to {plain}.{KNOWN_PATCHES[minor]}{t}); for a newer one, give {minor}")
    if minor == "3.14t" and micro < 3:
        # before gh-142531 (3.14.3) long_lived_total counted the tracked survivors only
        return replace(base, name=version, ft_live_counts_all=False)
    if minor == "3.14" and micro < 5:
        # the incremental collector of 3.14.0 and of 3.14.1-3.14.4
        return replace(_PRESETS["3.14.0" if micro == 0 else "3.14.4"], name=version)
    if minor == "3.12" and micro < 6:
        # 3.12.0-3.12.5's _Py_RunGC does not test gc.isenabled() (CPYTHON_GC.md §1).
        return replace(base, name=version, deferred_run_checks_enabled=False)
    return replace(base, name=version)
