"""Workloads: a program's allocation behaviour, described statistically.

A workload is a sequence of phases. In each phase the program allocates counted
GC containers (class instances, lists, dicts, tuples, closures, ...) at a
constant rate per second of *mutator* time (time the program runs, pauses
excluded), and every object draws a lifetime from the phase's mixture:

* ``immediate``: freed by reference counting before the next GC allocation
  (a temporary: ``f(g(x))``, a list built and consumed at once);
* ``fixed`` / ``exponential`` / ``lognormal``: freed after a drawn time in seconds
  (request-scoped objects, caches with a TTL, ...);
* ``forever``: alive until the program ends (module globals, caches, the heap of
  a batch job).

Of the objects that die, a share ``cyclic_share`` dies as unreachable cyclic
garbage that only the collector can free. A share of allocations are tuples of
atomic values (untracked by the first collection that sees them) and a share are
containers CPython counts but never tracks (dicts of atomic values, <= 3.13).

Lifetimes are measured in mutator time on purpose: a paused program makes no
progress, so its objects do not age. One consequence: the realisation of a
workload (which object dies when, in allocation order) does not depend on the GC
settings, so the same seed gives every setting of a sweep the same program.

Object sizes are part of the description too; they are used by the memory
footprint model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..cpython.costs import CostModel
from ..errors import GcperfError

LIFETIME_KINDS = ("immediate", "fixed", "exponential", "lognormal", "forever", "batch")
MAX_SIZE_BYTES = 2**31 - 1  # the memory model keeps sizes as int32


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise GcperfError(msg)


def _finite(name: str, value: float, *, low: float = 0.0, low_inclusive: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    _check(ok, f"{name} must be a finite number, got {value!r}")
    if low_inclusive:
        _check(value >= low, f"{name} must be >= {low:g}, got {value!r}")
    else:
        _check(value > low, f"{name} must be > {low:g}, got {value!r}")


@dataclass(frozen=True)
class Lifetime:
    """One component of a lifetime mixture.

    Args:
        name: label, e.g. ``"request"``.
        share: fraction of the phase's allocations drawing from this component.
        kind: one of ``immediate``, ``fixed``, ``exponential``, ``lognormal``, ``forever``,
            ``batch``.
        scale_s: seconds: the lifetime (fixed), the mean (exponential), the
            median (lognormal) or the period (batch: mutator time is cut into periods of
            ``scale_s`` from the workload's start, and every object dies at the end of the
            period after the one it was made in, together with all the others made then: a
            structure rebuilt every step, the objects of one request). Ignored for immediate
            and forever.
        sigma: shape of the lognormal (standard deviation of the log).
        cyclic_share: of this component's objects that die, the share that dies as
            unreachable cyclic garbage; None takes the phase's ``cyclic_share``.
    """

    name: str = "temporary"
    share: float = 1.0
    kind: str = "immediate"
    scale_s: float = 0.0
    sigma: float = 1.0
    cyclic_share: float | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str), f"lifetime name must be a string, got {self.name!r}")
        _finite(f"lifetime {self.name!r} share", self.share)
        _check(self.share <= 1.0, f"lifetime {self.name!r} share must be <= 1, got {self.share!r}")
        _check(
            self.kind in LIFETIME_KINDS,
            f"lifetime {self.name!r} kind must be one of {', '.join(LIFETIME_KINDS)}, got {self.kind!r}",
        )
        _finite(f"lifetime {self.name!r} scale_s", self.scale_s)
        if self.kind in ("fixed", "exponential", "lognormal", "batch"):
            _check(self.scale_s > 0, f"lifetime {self.name!r} scale_s must be > 0 for kind {self.kind}, got {self.scale_s!r}")
        _finite(f"lifetime {self.name!r} sigma", self.sigma)
        if self.cyclic_share is not None:
            _finite(f"lifetime {self.name!r} cyclic_share", self.cyclic_share)
            _check(self.cyclic_share <= 1.0,
                   f"lifetime {self.name!r} cyclic_share must be <= 1, got {self.cyclic_share!r}")

    def mean_s(self) -> float:
        """Mean lifetime in seconds (inf for forever, 0 for immediate)."""
        if self.kind == "immediate":
            return 0.0
        if self.kind == "forever":
            return math.inf
        if self.kind == "lognormal":
            return self.scale_s * math.exp(self.sigma**2 / 2)
        if self.kind == "batch":
            return 1.5 * self.scale_s
        return self.scale_s


@dataclass(frozen=True)
class SizeMix:
    """A discrete distribution of object sizes in bytes (GC header included).

    Args:
        sizes_bytes: the possible sizes, e.g. ``(56, 64, 72, 232)``.
        weights: their relative frequencies (normalised internally).
    """

    sizes_bytes: tuple[int, ...] = (48, 56, 64, 72, 88, 104, 232)
    weights: tuple[float, ...] = (0.25, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05)

    def __post_init__(self) -> None:
        _check(len(self.sizes_bytes) > 0, "sizes_bytes must not be empty")
        _check(
            len(self.sizes_bytes) == len(self.weights),
            f"sizes_bytes and weights must have the same length, got {len(self.sizes_bytes)} and {len(self.weights)}",
        )
        for s in self.sizes_bytes:
            _check(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_SIZE_BYTES,
                   f"sizes_bytes entries must be integers in 1..{MAX_SIZE_BYTES}, got {s!r}")
        for w in self.weights:
            _finite("weights entries", w)
        _check(sum(self.weights) > 0, f"weights must not all be zero, got {self.weights!r}")

    def mean_bytes(self) -> float:
        """Mean size in bytes."""
        total = sum(self.weights)
        return sum(s * w for s, w in zip(self.sizes_bytes, self.weights, strict=True)) / total


DEFAULT_LIFETIMES = (Lifetime("temporary", 1.0, "immediate"),)

# Non-GC companions of a container: ints (28-32 B), floats (24 B), short strings
# (50-110 B), medium strings and bytes, and now and then a buffer over 512 B that
# goes to the system malloc (a dict's table, a list's item array, a long string).
DEFAULT_PAYLOAD = SizeMix(
    (24, 32, 56, 72, 104, 168, 1048, 4120),
    (0.15, 0.30, 0.20, 0.12, 0.10, 0.08, 0.04, 0.01),
)
MAX_PAYLOAD = 3


@dataclass(frozen=True)
class Phase:
    """A stretch of a program with steady allocation behaviour.

    Args:
        name: label, unique within the workload.
        duration_s: mutator seconds the phase lasts.
        alloc_rate_per_s: counted GC allocations per mutator second.
        lifetimes: the lifetime mixture; shares must sum to 1.
        cyclic_share: of the objects that die, the share that becomes cyclic
            garbage instead of being freed by reference counting.
        atomic_tuple_share: share of allocations that are tuples of atomic values.
        untracked_share: share of allocations counted by the collector but never
            tracked (dicts of atomic values in <= 3.13).
        sizes: sizes of the GC objects themselves (``sys.getsizeof``: GC header included).
        payload_per_object: mean number of other allocations that belong to each GC
            object and die with it: its non-GC contents (ints, strings, bytes) and
            buffers (a list's items, a dict's table); capped at 3 per object.
        payload_sizes: sizes of those allocations (over 512 B goes to the system malloc).
        uncounted_free_share: share of allocations that are freed at once into a type's
            free list: counted when allocated, but their free does not lower ``count0``
            (CPython's list/dict/tuple free lists, CPYTHON_GC.md section 8.1), so each
            raises ``count0`` by one for good. They are taken from the ``immediate``
            component, which must be at least this large.
        call_allocations: allocations made inside one C call (``ast.parse``, ``json.loads``,
            ``compile``, a comprehension's C-level loop), between two eval-breaker checks.
            From 3.12 a collection that the threshold triggers waits for the next check, so
            count0 can run far past threshold0 inside such a call; 3.8-3.11 collect inside the
            allocation and are not affected. 1 (the default): a check after every allocation.
            The phase's last allocation is always followed by a check.
    """

    name: str = "main"
    duration_s: float = 10.0
    alloc_rate_per_s: float = 1e6
    lifetimes: tuple[Lifetime, ...] = DEFAULT_LIFETIMES
    cyclic_share: float = 0.0
    atomic_tuple_share: float = 0.0
    untracked_share: float = 0.0
    sizes: SizeMix = field(default_factory=SizeMix)
    payload_per_object: float = 0.0
    payload_sizes: SizeMix = DEFAULT_PAYLOAD
    uncounted_free_share: float = 0.0
    call_allocations: int = 1

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str) and self.name != "", f"phase name must be a non-empty string, got {self.name!r}")
        _finite(f"phase {self.name!r} duration_s", self.duration_s, low=0.0, low_inclusive=False)
        _finite(f"phase {self.name!r} alloc_rate_per_s", self.alloc_rate_per_s, low=0.0, low_inclusive=False)
        _check(len(self.lifetimes) > 0, f"phase {self.name!r} lifetimes must not be empty")
        for lt in self.lifetimes:
            _check(isinstance(lt, Lifetime), f"phase {self.name!r} lifetimes must be Lifetime objects, got {lt!r}")
        total = sum(lt.share for lt in self.lifetimes)
        _check(abs(total - 1.0) < 1e-9, f"phase {self.name!r} lifetime shares must sum to 1, got {total:g}")
        for attr in ("cyclic_share", "atomic_tuple_share", "untracked_share"):
            v = getattr(self, attr)
            _finite(f"phase {self.name!r} {attr}", v)
            _check(v <= 1.0, f"phase {self.name!r} {attr} must be <= 1, got {v!r}")
        _finite(f"phase {self.name!r} payload_per_object", self.payload_per_object)
        _check(self.payload_per_object <= MAX_PAYLOAD,
               f"phase {self.name!r} payload_per_object must be <= {MAX_PAYLOAD}, got {self.payload_per_object!r}")
        _check(isinstance(self.sizes, SizeMix), f"phase {self.name!r} sizes must be a SizeMix, got {self.sizes!r}")
        _check(isinstance(self.payload_sizes, SizeMix),
               f"phase {self.name!r} payload_sizes must be a SizeMix, got {self.payload_sizes!r}")
        _check(isinstance(self.call_allocations, int) and not isinstance(self.call_allocations, bool)
               and 1 <= self.call_allocations <= 2**40,
               f"phase {self.name!r} call_allocations must be an integer >= 1, got {self.call_allocations!r}")
        _finite(f"phase {self.name!r} uncounted_free_share", self.uncounted_free_share)
        if self.uncounted_free_share > 0:
            first = next((lt for lt in self.lifetimes if lt.kind == "immediate"), None)
            imm = first.share if first is not None else 0.0
            c = self.cyclic_share if first is None or first.cyclic_share is None else first.cyclic_share
            room = imm * (1.0 - (1.0 - self.atomic_tuple_share - self.untracked_share) * c)
            _check(first is not None and self.uncounted_free_share <= room + 1e-12,
                   f"phase {self.name!r} uncounted_free_share must be <= the immediate component's share "
                   f"of non-cyclic objects ({room:g}), got {self.uncounted_free_share!r}")
        _check(
            self.atomic_tuple_share + self.untracked_share <= 1.0,
            f"phase {self.name!r} atomic_tuple_share + untracked_share must be <= 1, "
            f"got {self.atomic_tuple_share + self.untracked_share:g}",
        )

    @property
    def allocations(self) -> int:
        """Number of allocation slots in this phase."""
        return int(round(self.duration_s * self.alloc_rate_per_s))


@dataclass(frozen=True)
class Workload:
    """A program's allocation behaviour as a sequence of phases.

    Args:
        name: short identifier.
        description: one line for humans.
        phases: the phases in order.
        refs_per_object: mean references a tracked object holds to other objects
            (drives the per-object cost of a collection).
        baseline_objects: tracked objects alive before the first phase (the
            interpreter and its imports), in generation 2; None takes the version
            preset's measured interpreter start-up figure.
        baseline_rss_mb: resident memory before the first phase (MiB), the base of the
            simulated footprint; None takes the version preset's bare interpreter.
        pause_costs: the pause model of this program's heap (``gcperf calibrate`` fits
            one); None takes the version's measured constants and ``refs_per_object``.
        pause_noise: quantiles (evenly spaced levels from 0 to 1) of the factor by which
            real pauses scatter around the model; each simulated pause is multiplied by a
            draw from it (seeded). Empty: no scatter.
        pause_scale: factor on the modelled pause of a collection of generation 0, 1, 2
            (calibration measures how much more an older generation's objects cost to
            examine in this program than its young ones: bigger containers, more references).
        pause_scale_by: what ``pause_scale`` multiplies: ``"collection"`` (the default), the
            whole pause of a collection of that generation; ``"object"``, the walk over each
            examined object by the generation the object was in (a generation-1 collection at a
            raised threshold0 is mostly young objects, priced as young ones), and the fixed cost
            and freeing of the garbage by the collected generation's. Calibration writes "object".
        provenance: where the description comes from (free-form; calibration writes the
            recording, its hash and the fit's diagnostics here). Not part of equality.
    """

    name: str = "custom"
    description: str = ""
    phases: tuple[Phase, ...] = (Phase(),)
    refs_per_object: float = 2.0
    baseline_objects: int | None = None
    baseline_rss_mb: float | None = None
    pause_costs: CostModel | None = None
    pause_noise: tuple[float, ...] = ()
    pause_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    pause_scale_by: str = "collection"
    provenance: dict | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check(isinstance(self.name, str), f"workload name must be a string, got {self.name!r}")
        _check(isinstance(self.description, str), f"workload description must be a string, got {self.description!r}")
        _check(len(self.phases) > 0, "workload phases must not be empty")
        names = [p.name for p in self.phases]
        _check(len(set(names)) == len(names), f"phase names must be unique, got {names}")
        _finite("refs_per_object", self.refs_per_object)
        if self.baseline_objects is not None:
            _check(
                isinstance(self.baseline_objects, int) and not isinstance(self.baseline_objects, bool)
                and self.baseline_objects >= 0,
                f"baseline_objects must be an integer >= 0, got {self.baseline_objects!r}",
            )
        _check(self.allocations > 0, "workload must allocate at least one object")
        if self.baseline_rss_mb is not None:
            _finite("baseline_rss_mb", self.baseline_rss_mb)
        if self.pause_costs is not None:
            _check(isinstance(self.pause_costs, CostModel),
                   f"pause_costs must be a CostModel, got {type(self.pause_costs).__name__}")
        object.__setattr__(self, "pause_noise", tuple(self.pause_noise))
        for v in self.pause_noise:
            _finite("pause_noise entries", v)
        _check(len(self.pause_noise) != 1, "pause_noise needs at least two quantiles (or none)")
        _check(all(a <= b for a, b in zip(self.pause_noise, self.pause_noise[1:], strict=False)),
               "pause_noise quantiles must be non-decreasing")
        object.__setattr__(self, "pause_scale", tuple(self.pause_scale))
        _check(len(self.pause_scale) == 3, f"pause_scale must have three factors (generations 0, 1, 2), got {self.pause_scale!r}")
        for v in self.pause_scale:
            _finite("pause_scale entries", v, low=0.0, low_inclusive=False)
        _check(self.pause_scale_by in ("collection", "object"),
               f"pause_scale_by must be \"collection\" or \"object\", got {self.pause_scale_by!r}")
        if self.provenance is not None:
            _check(isinstance(self.provenance, dict), f"provenance must be an object, got {self.provenance!r}")

    @property
    def duration_s(self) -> float:
        """Total mutator seconds."""
        return sum(p.duration_s for p in self.phases)

    @property
    def allocations(self) -> int:
        """Total allocation slots."""
        return sum(p.allocations for p in self.phases)

    def scaled(self, duration_factor: float) -> Workload:
        """The same workload with every phase's duration multiplied by ``duration_factor``."""
        _finite("duration factor", duration_factor, low=0.0, low_inclusive=False)
        from dataclasses import replace

        return replace(self, phases=tuple(replace(p, duration_s=p.duration_s * duration_factor) for p in self.phases))

    def with_duration(self, duration_s: float) -> Workload:
        """The same workload stretched or shrunk to ``duration_s`` mutator seconds in total."""
        _finite("duration_s", duration_s, low=0.0, low_inclusive=False)
        return self.scaled(duration_s / self.duration_s)
