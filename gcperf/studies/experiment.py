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

Base and grid keys: ``workload`` (a built-in name, or a JSON workload file such as a
calibrated model, relative to the experiment's file), ``duration_s``, ``timeline_points``, ``memory``,
the GC settings ``version``, ``threshold0``/``threshold1``/``threshold2``,
``enabled``, ``freeze_after``, ``collect_every_s``, ``collect_generation``, and
workload traits ``<phase>.<field>``. Replicate seeds are the same at every grid
point (common random numbers): two settings are compared on the same programs,
which makes their differences much less noisy than their absolute values.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.scenario import GCSettings, Scenario
from ..errors import GcperfError
from ..safeio import check_name
from ..workload.builtin import get_workload
from ..workload.model import Phase, Workload

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


MAX_REPLICATES = 10_000
MAX_RUNS = 1_000_000
"""Largest grid x replicates an experiment may declare (beyond it, a typo is likelier than a plan)."""


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    # TOML integers only: a boolean, a float or a string is refused, not converted
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GcperfError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


def _table(data: dict, key: str, source: str) -> dict:
    v = data.get(key, {})
    if not isinstance(v, dict):
        raise GcperfError(f"{source}: [{key}] must be a table (key = value lines), got {v!r}")
    return dict(v)


def _grid_lists(grid: dict, where: str) -> None:
    for k, v in grid.items():
        _check_key(k, where)
        if not isinstance(v, list) or not v:
            raise GcperfError(f"{where}: {k!r} must be a non-empty list of values, got {v!r}")


def parse_experiment(data: dict, source: str = "") -> Experiment:
    """Validate plain data (a parsed TOML file) as an experiment.

    Values are never converted: ``enabled = "no"`` or ``threshold0 = 700.9`` is an
    error naming the parameter, the value and what is valid.

    Raises:
        GcperfError: unknown keys or parameters, wrong types, empty grids, values
            out of range, more than :data:`MAX_RUNS` runs.
    """
    if not isinstance(data, dict):
        raise GcperfError(f"{source}: an experiment must be a table, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise GcperfError(f"{source}: unknown key {unknown[0]!r}")
    try:
        name = check_name(data.get("name"), "'name'")  # it becomes a folder name: never a path
        reps = _int_in(data.get("replicates", 3), "replicates", 1, MAX_REPLICATES)
        seed = _int_in(data.get("root_seed", 0), "root_seed", 0, 2**63 - 1)
        description = data.get("description", "")
        if not isinstance(description, str):
            raise GcperfError(f"description must be a string, got {description!r}")
    except GcperfError as err:
        raise GcperfError(f"{source}: {err}") from None
    base = _table(data, "base", source)
    grid = _table(data, "grid", source)
    quick = _table(data, "quick", source)
    for k in base:
        _check_key(k, f"{source} [base]")
    _grid_lists(grid, f"{source} [grid]")
    for k, v in quick.items():
        if k == "grid":
            if not isinstance(v, dict):
                raise GcperfError(f"{source} [quick]: grid must be a table, got {v!r}")
            _grid_lists(v, f"{source} [quick.grid]")
        elif k == "replicates":
            try:
                _int_in(v, "replicates", 1, MAX_REPLICATES)
            except GcperfError as err:
                raise GcperfError(f"{source} [quick]: {err}") from None
        else:
            _check_key(k, f"{source} [quick]")
    # a workload file (a calibrated model, say) is named relative to the experiment's file
    here = Path(source).parent if source else Path(".")
    if isinstance(base.get("workload"), str) and base["workload"].endswith(".json"):
        base = {**base, "workload": str((here / base["workload"]).resolve())}
    if "workload" in grid:
        grid = {**grid, "workload": [str((here / w).resolve()) if isinstance(w, str) and w.endswith(".json") else w
                                     for w in grid["workload"]]}
    exp = Experiment(name, description, reps, seed, base, grid, quick, source)
    for e, where in ((exp, ""), (exp.with_quick(), " (quick mode)")):
        n_points = math.prod(len(v) for v in e.grid.values())
        if n_points * e.replicates > MAX_RUNS:
            raise GcperfError(f"{source}{where}: {n_points} grid points x {e.replicates} replicates = "
                              f"{n_points * e.replicates} runs; at most {MAX_RUNS} are allowed")
        _check_points(e, f"{source}{where}")
    return exp


def _check_points(e: Experiment, where: str) -> None:
    """Build scenarios now, so that a bad value fails before any run, with its parameter named."""
    n_points = math.prod(len(v) for v in e.grid.values())
    if n_points <= 10_000:
        candidates = e.points()
    else:  # a huge grid: every value of every key once (each on the base), and the first combination
        candidates = [{**e.base, k: v} for k, vs in e.grid.items() for v in vs] + e.points()[:1]
    # the base on its own too: a base value the grid overrides everywhere is still checked (found by
    # the fault-injection tests: `threshold0 = true` in [base] passed when the grid set threshold0)
    base = {**e.base, **({"workload": e.grid["workload"][0]} if "workload" in e.grid else {})}
    try:
        scenario_for(base, 0)
    except GcperfError as err:
        raise GcperfError(f"{where} [base]: {err}") from None
    for params in candidates:
        try:
            scenario_for(params, 0)
        except GcperfError as err:
            grid_part = {k: params[k] for k in e.grid if k in params}
            raise GcperfError(f"{where}: {err}" + (f" (grid point {grid_part})" if grid_part else "")) from None


def packaged_experiments() -> dict[str, Any]:
    """The experiments shipped with gcperf (``experiments/`` of the source tree, installed as
    ``gcperf.experiments``): name -> a readable resource (``read_text``)."""
    from importlib import resources

    try:
        root: Any = resources.files("gcperf.experiments")
    except ModuleNotFoundError:
        # run from a source checkout (not installed): the package sits beside experiments/
        root = Path(__file__).resolve().parents[2] / "experiments"  # gcperf/studies/ -> the checkout
    try:
        return {x.name[:-5]: x for x in sorted(root.iterdir(), key=lambda t: t.name) if x.name.endswith(".toml")}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def load_experiment(name_or_path: str, search_dir: str | Path = "experiments") -> Experiment:
    """Load ``experiments/<name>.toml`` (of the current folder, else the one shipped with gcperf)
    or a TOML file path.

    Raises:
        GcperfError: no such experiment, unreadable or invalid file.
    """
    p = Path(name_or_path)
    packaged = packaged_experiments()
    if not p.suffix:
        p = Path(search_dir) / f"{name_or_path}.toml"
        if not p.is_file() and name_or_path in packaged:
            return _parse_toml(packaged[name_or_path].read_text(encoding="utf-8"),
                               f"gcperf.experiments/{name_or_path}.toml")
    if not p.is_file():
        known = set(packaged) if not Path(name_or_path).suffix else set()
        if Path(search_dir).is_dir():
            known |= {x.stem for x in Path(search_dir).glob("*.toml")}
        hint = f" (known: {', '.join(sorted(known))})" if known else ""
        raise GcperfError(f"no experiment {name_or_path!r}{hint}")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GcperfError(f"cannot read {p}: {e}") from None
    return _parse_toml(text, str(p))


def _parse_toml(text: str, where: str) -> Experiment:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise GcperfError(f"{where}: invalid TOML: {e}") from None
    return parse_experiment(data, where)


@functools.lru_cache(maxsize=8)
def _workload_file(path: str) -> Workload:
    """A JSON workload file, read once per process (every run of a sweep uses it)."""
    from ..workload.specs import load_workload

    return load_workload(path)


def scenario_for(params: dict[str, Any], seed: int) -> Scenario:
    """Build the scenario of one run from its parameters.

    Raises:
        GcperfError: a value is invalid for its parameter.
    """
    wl_name = params.get("workload", "web")
    if not isinstance(wl_name, (str, Workload)):
        raise GcperfError(f"workload must be the name of a built-in workload or a JSON workload file, got {wl_name!r}")
    if isinstance(wl_name, str) and wl_name.endswith(".json"):
        wl = _workload_file(wl_name)
    else:
        wl = get_workload(wl_name) if isinstance(wl_name, str) else wl_name
    traits = {k: v for k, v in params.items() if "." in k}
    if traits:
        wl = _with_traits(wl, traits)
    version = params.get("version", GCSettings().version)
    th = None
    if any(k in params for k in ("threshold0", "threshold1", "threshold2")):
        from ..cpython.versions import preset

        default = preset(version).thresholds
        th = tuple(params.get(f"threshold{i}", default[i]) for i in range(3))  # checked, not converted
    freeze = params.get("freeze_after", "")
    if not isinstance(freeze, str):
        raise GcperfError(f"freeze_after must be a phase name, or \"\" for none, got {freeze!r}")
    every = params.get("collect_every_s")
    if every in ("", "none") or (isinstance(every, (int, float)) and not isinstance(every, bool) and every == 0):
        every = None  # no timer
    gen = params.get("collect_generation", 2)
    if isinstance(gen, bool):
        raise GcperfError(f"collect_generation must be 0, 1 or 2, got {gen!r}")
    gc = GCSettings(
        version=version,
        thresholds=th,
        enabled=params.get("enabled", True),
        freeze_after=freeze or None,
        collect_every_s=every,
        collect_generation=gen,
    )
    return Scenario(
        wl,
        gc,
        seed=seed,
        duration_s=params.get("duration_s"),
        timeline_points=params.get("timeline_points", 200),
        memory=params.get("memory", True),
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


def mean_ci95(values) -> tuple[float, float]:
    """Mean and 95 % confidence half-width (Student's t) of ``values``, NaNs dropped: (nan, nan)
    when none is left, (mean, nan) for a single value."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan
    return float(v.mean()), float(t975(n - 1) * v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (NaN for df < 1)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    # beyond the table t(0.975, df) ~ 1.95996 + 2.3722/df (error < 0.004 for df > 30)
    return 1.959964 + 2.3722 / df
