"""Experiments: declared sweeps over GC settings and workload traits.

An experiment is a TOML file in ``experiments/``::

    name = "web-service"
    description = "..."
    replicates = 5          # seeded replicates per grid point
    root_seed = 1           # replicate r uses the r-th seed spawned from it

    [base]                  # the scenario every run starts from
    workload = "web"
    version = "3.13"

    [grid]                  # every combination of these values is run
    threshold0 = [700, 2000, 10000]
    freeze_after = ["", "startup"]
    "serve.cyclic_share" = [0.005, 0.02]     # a workload trait: phase.field ("*" = every phase)

    [quick]                 # overrides for --quick (each must stay under a minute)
    duration_s = 3.0
    replicates = 2
    grid.threshold0 = [700, 10000]

Base and grid keys: ``workload``, ``duration_s``, ``timeline_points``, ``memory``,
the GC settings ``version``, ``threshold0``/``threshold1``/``threshold2``,
``enabled``, ``freeze_after``, ``collect_every_s``, ``collect_generation``, and
workload traits ``<phase>.<field>``. Replicate seeds are the same at every grid
point (common random numbers): two settings are compared on the same programs,
which makes their differences much less noisy than their absolute values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GcperfError
from .safeio import check_name
from .scenario import GCSettings, Scenario
from .workload import Phase, Workload
from .workloads import get_workload

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GC_KEYS = ("version", "threshold0", "threshold1", "threshold2", "enabled", "freeze_after", "collect_every_s",
           "collect_generation")
RUN_KEYS = ("workload", "duration_s", "timeline_points", "memory")
_TOP_KEYS = {"name", "description", "replicates", "root_seed", "base", "grid", "quick"}


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a grid point, a replicate and its seed."""

    index: int
    point: int
    replicate: int
    seed: int
    params: dict[str, Any]

    @property
    def run_id(self) -> str:
        """Stable identifier: the parameters and the seed, hashed."""
        key = json.dumps({"params": self.params, "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Experiment:
    """A parsed, validated experiment declaration."""

    name: str
    description: str
    replicates: int
    root_seed: int
    base: dict[str, Any]
    grid: dict[str, list]
    quick: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def with_quick(self) -> Experiment:
        """The experiment with its ``[quick]`` overrides applied."""
        q = dict(self.quick)
        grid = dict(self.grid)
        grid.update(q.pop("grid", {}) or {})
        reps = q.pop("replicates", self.replicates)
        base = {**self.base, **q}
        return dataclasses.replace(self, replicates=reps, base=base, grid=grid, quick={})

    def points(self) -> list[dict[str, Any]]:
        """Every grid point: base values overridden by one combination of the grid."""
        keys = list(self.grid)
        combos = itertools.product(*(self.grid[k] for k in keys)) if keys else [()]
        return [{**self.base, **dict(zip(keys, values, strict=True))} for values in combos]

    def seeds(self) -> list[int]:
        """The replicate seeds, spawned from the root seed."""
        children = np.random.SeedSequence(self.root_seed).spawn(self.replicates)
        return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]

    def runs(self) -> list[RunSpec]:
        """Grid points x replicates, in a fixed order."""
        seeds = self.seeds()
        out: list[RunSpec] = []
        for p, params in enumerate(self.points()):
            for r, seed in enumerate(seeds):
                out.append(RunSpec(len(out), p, r, seed, params))
        return out

    def setting_text(self, params: dict[str, Any]) -> str:
        """The grid values of one point, for progress lines: ``threshold0=700, version=3.11``."""
        return ", ".join(f"{k}={params[k]!r}" if isinstance(params[k], str) else f"{k}={params[k]}"
                         for k in self.grid) or "base"

    def config(self) -> dict[str, Any]:
        """The declaration as plain data (stored in meta.json; its hash identifies the sweep)."""
        return {"name": self.name, "description": self.description, "replicates": self.replicates,
                "root_seed": self.root_seed, "base": self.base, "grid": self.grid}

    def config_hash(self) -> str:
        """Hash of :meth:`config`: a results folder belongs to exactly one configuration."""
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:16]


def _check_key(key: str, where: str) -> None:
    if key in GC_KEYS or key in RUN_KEYS:
        return
    if "." in key:
        phase, attr = key.split(".", 1)
        if attr in {f.name for f in dataclasses.fields(Phase)} and attr not in ("name", "lifetimes", "sizes",
                                                                                  "payload_sizes"):
            return
        raise GcperfError(f"{where}: {key!r} is not a phase field that can be varied")
    raise GcperfError(
        f"{where}: unknown parameter {key!r} (known: {', '.join(GC_KEYS + RUN_KEYS)}, or <phase>.<field>)"
    )


def parse_experiment(data: dict, source: str = "") -> Experiment:
    """Validate plain data (a parsed TOML file) as an experiment.

    Raises:
        GcperfError: unknown keys or parameters, empty grids, bad values.
    """
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise GcperfError(f"{source}: unknown key {unknown[0]!r}")
    try:
        name = check_name(data.get("name"), "'name'")  # it becomes a folder name: never a path
    except GcperfError as err:
        raise GcperfError(f"{source}: {err}") from None
    reps = data.get("replicates", 3)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise GcperfError(f"{source}: replicates must be an integer >= 1, got {reps!r}")
    seed = data.get("root_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GcperfError(f"{source}: root_seed must be an integer >= 0, got {seed!r}")
    base = dict(data.get("base", {}))
    grid = dict(data.get("grid", {}))
    quick = dict(data.get("quick", {}))
    for k in base:
        _check_key(k, f"{source} [base]")
    for k, v in grid.items():
        _check_key(k, f"{source} [grid]")
        if not isinstance(v, list) or not v:
            raise GcperfError(f"{source} [grid]: {k!r} must be a non-empty list of values")
    for k, v in quick.items():
        if k == "grid":
            for gk, gv in v.items():
                _check_key(gk, f"{source} [quick.grid]")
                if not isinstance(gv, list) or not gv:
                    raise GcperfError(f"{source} [quick.grid]: {gk!r} must be a non-empty list of values")
        elif k != "replicates":
            _check_key(k, f"{source} [quick]")
    exp = Experiment(name, str(data.get("description", "")), reps, seed, base, grid, quick, source)
    # build every scenario once: bad values fail now, with the grid point named
    for e in (exp, exp.with_quick()):
        for params in e.points():
            scenario_for(params, 0)
    return exp


def load_experiment(name_or_path: str, search_dir: str | Path = "experiments") -> Experiment:
    """Load ``experiments/<name>.toml`` or a TOML file path.

    Raises:
        GcperfError: no such experiment, unreadable or invalid file.
    """
    p = Path(name_or_path)
    if not p.suffix:
        p = Path(search_dir) / f"{name_or_path}.toml"
    if not p.is_file():
        known = sorted(x.stem for x in Path(search_dir).glob("*.toml")) if Path(search_dir).is_dir() else []
        hint = f" (known: {', '.join(known)})" if known else ""
        raise GcperfError(f"no experiment {name_or_path!r}{hint}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise GcperfError(f"cannot read {p}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise GcperfError(f"{p}: invalid TOML: {e}") from None
    return parse_experiment(data, str(p))


def scenario_for(params: dict[str, Any], seed: int) -> Scenario:
    """Build the scenario of one run from its parameters.

    Raises:
        GcperfError: a value is invalid for its parameter.
    """
    wl_name = params.get("workload", "web")
    wl = get_workload(wl_name) if isinstance(wl_name, str) else wl_name
    traits = {k: v for k, v in params.items() if "." in k}
    if traits:
        wl = _with_traits(wl, traits)
    th = None
    if any(k in params for k in ("threshold0", "threshold1", "threshold2")):
        from .versions import preset

        default = preset(params.get("version", GCSettings().version)).thresholds
        th = tuple(int(params.get(f"threshold{i}", default[i])) for i in range(3))
    freeze = params.get("freeze_after") or None
    every = params.get("collect_every_s")
    every = None if every in (None, 0, "", "none") else float(every)
    gc = GCSettings(
        version=str(params.get("version", GCSettings().version)),
        thresholds=th,  # type: ignore[arg-type]
        enabled=bool(params.get("enabled", True)),
        freeze_after=freeze,
        collect_every_s=every,
        collect_generation=int(params.get("collect_generation", 2)),
    )
    return Scenario(
        wl,
        gc,
        seed=seed,
        duration_s=params.get("duration_s"),
        timeline_points=int(params.get("timeline_points", 200)),
        memory=bool(params.get("memory", True)),
    )


def _with_traits(wl: Workload, traits: dict[str, Any]) -> Workload:
    phases = list(wl.phases)
    names = [p.name for p in phases]
    for key, value in traits.items():
        phase, attr = key.split(".", 1)
        targets = range(len(phases)) if phase == "*" else [names.index(phase)] if phase in names else None
        if targets is None:
            raise GcperfError(f"trait {key!r}: workload {wl.name!r} has no phase {phase!r} (phases: {', '.join(names)})")
        for i in targets:
            phases[i] = dataclasses.replace(phases[i], **{attr: value})
    return dataclasses.replace(wl, phases=tuple(phases))


# ------------------------------------------------------------------ statistics

# two-sided 95 % Student t quantiles t(0.975, df) for df = 1..30
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    # beyond the table t(0.975, df) ~ 1.95996 + 2.3722/df (error < 0.004 for df > 30)
    return 1.959964 + 2.3722 / df
