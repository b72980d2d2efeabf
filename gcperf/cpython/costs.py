"""How long a stop-the-world collection takes, from constants measured on real interpreters.

A collection's pause is a fixed cost, plus a cost for every object examined in the collected
generations, plus a cost for every cyclic-garbage object freed. The per-examined-object cost
grows with the references an object holds and rises several-fold once the examined set no
longer fits the CPU's caches and TLB. The constants per CPython minor version live in
``gcperf/data/costs.json``, written by ``benchmarks/calibrate_costs.py``; docs/costs.md
describes how they were measured and what the model leaves out. Constants measured on the
user's own machine by ``gcperf calibrate-costs`` (in :func:`user_costs_path`, outside the
package) take precedence for the versions they hold.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import GcperfError

__all__ = ["CostModel", "cost_model_for", "measured_versions", "user_costs_path"]

#: Layout of a costs file (the package's table and the user's): 1 = versions -> {model,
#: interpreter, machine, command, fit_command, runs, probe, fit}.
COSTS_SCHEMA_VERSION = 1

#: Scalars or arrays accepted by the vectorised methods of :class:`CostModel`.
Counts = npt.ArrayLike

_REAL_TYPES = (int, float, np.integer, np.floating)
_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.\d+)?(?:[a-z]+\d*)?\+?\s*$")


@dataclass(frozen=True)
class CostModel:
    """Pause of one collection: fixed + per examined object + per garbage object freed.

    The defaults are CPython 3.11.7's constants measured on the calibration machine, rounded
    (see docs/costs.md); :func:`cost_model_for` returns the exact figures for any version.

    Attributes:
        fixed_us: Cost of a collection that examines nothing (µs).
        per_object_ns: In-cache cost per examined object that holds no references to other
            tracked objects (ns).
        per_ref_ns: Extra in-cache cost per reference an examined object holds to another
            tracked object (ns).
        cache_factor: Multiplier (>= 1) on the per-object cost once the examined set is far
            larger than the CPU caches.
        cache_half_objects: Examined-set size (objects) at which half of that rise has
            happened.
        cache_exponent: Steepness ``p`` of the rise ``s(n) = n**p / (n**p + half**p)``.
        per_garbage_ns: Cost per cyclic-garbage object freed, on top of examining it (ns).
        old_cache_factor: None (the default), or the ``cache_factor`` of the examined objects that
            sit in the oldest generation, when they differ from the others' (a program's old heap
            is not its young objects: other types, other sizes, freed into and allocated from
            for longer). ``gcperf calibrate`` fits it from the program's full collections and
            ``cache_factor`` from its young ones; docs/costs.md.
        source: Where the constants come from (interpreter, machine, date, or "fallback").

    Raises:
        GcperfError: (a ``ValueError``) a field is not a finite number in its range.
    """

    fixed_us: float = 0.03
    per_object_ns: float = 22.0
    per_ref_ns: float = 8.5
    cache_factor: float = 7.4
    cache_half_objects: float = 4.8e5
    cache_exponent: float = 1.5
    per_garbage_ns: float = 43.0
    source: str = "default: CPython 3.11.7 measured on an AMD EPYC 2-core KVM VM, rounded"
    old_cache_factor: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source":
                if not isinstance(value, str):
                    raise GcperfError(f"source must be a str, got {value!r}")
                continue
            if f.name == "old_cache_factor" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, _REAL_TYPES):
                raise GcperfError(f"{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise GcperfError(f"{f.name} must be finite, got {value!r}")
        self._check_at_least("fixed_us", 0.0)
        self._check_at_least("per_object_ns", 0.0)
        self._check_at_least("per_ref_ns", 0.0)
        self._check_at_least("cache_factor", 1.0)
        self._check_positive("cache_half_objects")
        self._check_positive("cache_exponent")
        self._check_at_least("per_garbage_ns", 0.0)
        if self.old_cache_factor is not None:
            self._check_at_least("old_cache_factor", 1.0)

    def _check_at_least(self, name: str, low: float) -> None:
        value = getattr(self, name)
        if value < low:
            raise GcperfError(f"{name} must be >= {low:g}, got {value!r}")

    def _check_positive(self, name: str) -> None:
        value = getattr(self, name)
        if value <= 0:
            raise GcperfError(f"{name} must be > 0, got {value!r}")

    def cache_share(self, examined: Counts) -> float | np.ndarray:
        """Return how much of the out-of-cache rise applies to a set of ``examined`` objects.

        Args:
            examined: Objects in the collected generations (scalar or array, >= 0).

        Returns:
            ``s(n) = n**p / (n**p + half**p)``, between 0 (tiny set) and 1 (far beyond the
            caches); a float for scalar input, else an array.

        Raises:
            GcperfError: ``examined`` is negative or not finite.
        """
        if _is_scalar(examined):
            n = _checked_scalar("examined", examined)
            if n == 0.0:
                return 0.0
            # 1 / (1 + (half/n)**p) through exp/log, so that no power of n can overflow.
            z = self.cache_exponent * math.log(self.cache_half_objects / n)
            return 0.0 if z > 700.0 else 1.0 / (1.0 + math.exp(z))
        arr = _checked_array("examined", examined)
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            ratio = np.power(self.cache_half_objects / arr, self.cache_exponent)
        return 1.0 / (1.0 + ratio)

    def per_examined_ns(self, examined: Counts, refs_per_object: Counts) -> float | np.ndarray:
        """Return the cost of examining one object, in nanoseconds.

        ``(per_object_ns + per_ref_ns * refs) * (1 + (cache_factor - 1) * s(examined))``.

        Args:
            examined: Objects in the collected generations (scalar or array, >= 0).
            refs_per_object: Mean references each examined object holds to other tracked
                objects (scalar or array, >= 0).

        Returns:
            Nanoseconds per examined object; a float when both inputs are scalars, else an
            array of their broadcast shape.

        Raises:
            GcperfError: an input is negative or not finite.
        """
        refs: float | np.ndarray
        share: float | np.ndarray
        if _is_scalar(examined) and _is_scalar(refs_per_object):
            refs = _checked_scalar("refs_per_object", refs_per_object)
            share = float(self.cache_share(examined))
        else:
            refs = _checked_array("refs_per_object", refs_per_object)
            share = self.cache_share(np.asarray(examined, dtype=float))
        in_cache = self.per_object_ns + self.per_ref_ns * refs
        return in_cache * (1.0 + (self.cache_factor - 1.0) * share)

    def pause_s(self, examined: Counts, freed: Counts, refs_per_object: Counts,
                old: Counts = 0) -> float | np.ndarray:
        """Return the stop-the-world pause of one collection, in seconds.

        Args:
            examined: Objects in the collected generations, garbage included (scalar or
                array, >= 0).
            freed: Cyclic-garbage objects the collection frees (scalar or array, >= 0).
            refs_per_object: Mean references each examined object holds to other tracked
                objects (scalar or array, >= 0).
            old: Of ``examined``, those in the oldest generation; they rise with
                ``old_cache_factor`` out of cache where it is set (ignored otherwise).

        Returns:
            Seconds; a float when every input is a scalar, else an array of their broadcast
            shape.

        Raises:
            GcperfError: an input is negative or not finite.
        """
        n: float | np.ndarray
        garbage: float | np.ndarray
        if _is_scalar(examined) and _is_scalar(freed) and _is_scalar(refs_per_object) and _is_scalar(old):
            n = _checked_scalar("examined", examined)
            garbage = _checked_scalar("freed", freed)
        else:
            n = _checked_array("examined", examined)
            garbage = _checked_array("freed", freed)
        per_object = self.per_examined_ns(n, refs_per_object)
        walked = n * per_object
        if self.old_cache_factor is not None and self.old_cache_factor != self.cache_factor:
            # the old objects' share of the walk rises with their own factor out of cache
            o = (_checked_scalar("old", old) if _is_scalar(old) else _checked_array("old", old))
            share = self.cache_share(n)
            young_rise = 1.0 + (self.cache_factor - 1.0) * share
            old_rise = 1.0 + (self.old_cache_factor - 1.0) * share
            walked = walked + o * per_object * (old_rise / young_rise - 1.0)
        return self.fixed_us * 1e-6 + (walked + garbage * self.per_garbage_ns) * 1e-9

    def pause_parts(self, examined: float, freed: float, refs_per_object: float, old: float = 0.0,
                    mid: float = 0.0) -> tuple[float, float, float, float]:
        """The pause of one collection (scalars) split by what it is spent on, in seconds: the
        fixed cost with the freeing of the garbage, and walking the examined objects that were in
        generation 0, 1 and 2 before it (``mid`` and ``old`` of ``examined``). The four sum to
        :meth:`pause_s` (``mid`` only splits). The cache rise is the whole examined set's."""
        n = _checked_scalar("examined", examined)
        o = _checked_scalar("old", old)
        m = _checked_scalar("mid", mid)
        if o + m > n:
            raise GcperfError(f"old ({o:g}) and mid ({m:g}) objects exceed the examined ones ({n:g})")
        per_object = float(self.per_examined_ns(n, refs_per_object))
        per_old = per_object
        if self.old_cache_factor is not None and self.old_cache_factor != self.cache_factor:
            share = float(self.cache_share(n))
            per_old = per_object * (1.0 + (self.old_cache_factor - 1.0) * share) / (1.0 + (self.cache_factor - 1.0) * share)
        rest = self.fixed_us * 1e-6 + _checked_scalar("freed", freed) * self.per_garbage_ns * 1e-9
        return rest, (n - m - o) * per_object * 1e-9, m * per_object * 1e-9, o * per_old * 1e-9

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict (the inverse of ``CostModel(**d)``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _REAL_TYPES) and not isinstance(value, bool)


def _checked_scalar(name: str, value: Any) -> float:
    number = float(value)
    if not (number >= 0.0 and math.isfinite(number)):
        raise GcperfError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _checked_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr) & (arr >= 0.0)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0.0))].flat[0]
        raise GcperfError(f"{name} must be finite and >= 0 everywhere, got {bad!r}")
    return arr


def user_costs_path() -> Path:
    """Where ``gcperf calibrate-costs`` keeps the constants measured on this machine.

    ``$GCPERF_COSTS`` when set (a file path), else ``$XDG_DATA_HOME/gcperf/costs.json``
    (``~/.local/share/gcperf/costs.json`` without XDG_DATA_HOME): never inside the package.
    """
    env = os.environ.get("GCPERF_COSTS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "gcperf" / "costs.json"


def read_costs_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a costs file (the package's layout).

    Raises:
        GcperfError: unreadable, not JSON, another schema version, or an entry whose model is
            not a valid :class:`CostModel`.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GcperfError(f"cannot read the costs file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GcperfError(f"the costs file {path} is not valid JSON ({exc}); run gcperf calibrate-costs "
                          "again or remove it") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != COSTS_SCHEMA_VERSION \
            or not isinstance(doc.get("versions"), dict):
        raise GcperfError(f"the costs file {path} is not a costs file of schema version {COSTS_SCHEMA_VERSION}")
    for key, entry in doc["versions"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), dict):
            raise GcperfError(f"the costs file {path}: entry {key!r} has no model")
        try:
            CostModel(**entry["model"])
        except (TypeError, ValueError) as exc:
            raise GcperfError(f"the costs file {path}: entry {key!r}: {exc}") from None
    return doc


@lru_cache(maxsize=8)
def _user_table(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    return read_costs_file(path)["versions"]


def user_cost_model(version: str) -> CostModel | None:
    """The constants ``gcperf calibrate-costs`` measured for this minor version on this machine,
    or None (no user costs file, or no entry for the version).

    Raises:
        GcperfError: the user costs file exists but is corrupt.
    """
    path = user_costs_path()
    try:
        st = path.stat()
    except OSError:
        return None
    major, minor = _minor_key(version)
    entry = _user_table(str(path), st.st_mtime_ns, st.st_size).get(f"{major}.{minor}")
    if entry is None:
        return None
    model = CostModel(**entry["model"])
    return CostModel(**dict(model.to_dict(), source=f"{model.source} (this machine, {path})"))


@lru_cache(maxsize=1)
def _load_table() -> dict[str, Any]:
    """Read gcperf/data/costs.json from the installed package."""
    path = resources.files("gcperf").joinpath("data").joinpath("costs.json")
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


def _minor_key(version: str) -> tuple[int, int]:
    m = _VERSION_RE.match(str(version))
    if not m:
        raise GcperfError(f"version must look like 3.11 or 3.11.7, got {version!r}")
    return int(m.group(1)), int(m.group(2))


def measured_versions() -> tuple[str, ...]:
    """Return the CPython minor versions with measured constants, oldest first (e.g. "3.8")."""
    keys = sorted(_minor_key(v) for v in _load_table()["versions"])
    return tuple(f"{major}.{minor}" for major, minor in keys)


def cost_model_for(version: str) -> CostModel:
    """Return the cost constants measured for a CPython minor version.

    Constants measured on this machine (``gcperf calibrate-costs``, :func:`user_costs_path`)
    come first; then the package's table. A version without a measurement gets the constants
    of the nearest measured minor version (the newer one on a tie), with ``source`` saying so.

    Args:
        version: ``"3.11"`` or a full version such as ``"3.11.7"`` or ``"3.14.0rc1"``.

    Returns:
        The version's :class:`CostModel`.

    Raises:
        GcperfError: ``version`` is malformed or not a CPython 3 version.
    """
    major, minor = _minor_key(version)
    if major != 3:
        raise GcperfError(f"only CPython 3 is modelled, got version {version!r}")
    mine = user_cost_model(version)
    if mine is not None:
        return mine
    table = _load_table()["versions"]
    key = f"{major}.{minor}"
    if key in table:
        return CostModel(**table[key]["model"])
    nearest = min(measured_versions(), key=lambda v: (abs(_minor_key(v)[1] - minor),
                                                      -_minor_key(v)[1]))
    model = CostModel(**table[nearest]["model"])
    return CostModel(**dict(model.to_dict(), source=(
        f"fallback: CPython {key} not measured, constants of {nearest} ({model.source})")))
