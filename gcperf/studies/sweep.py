"""Running an experiment: grid x replicates on an executor, resumable, with provenance.

A results folder ``results/<experiment>/`` holds:

* ``runs.jsonl``: one line per finished run (its id, inputs, seed and summary),
  appended and fsync'ed as runs finish; an interrupted sweep resumes from it
  (``runlog.py``);
* ``runs/<run id>.timeline.csv.gz`` and ``.pauses.csv.gz``: per-run detail for charts;
* ``summary.csv``: one row per run with all its inputs, sorted by run order;
* ``aggregate.csv``: one row per grid point, mean and 95 % confidence interval
  (Student t over replicates) of every metric;
* ``meta.json``: the experiment's configuration and hash, versions, command, date,
  the number of runs and the SHA-256 of ``summary.csv`` and ``aggregate.csv``;
* ``.gcperf-folder.json``: gcperf's marker (``safeio.py``), and while a sweep runs,
  ``.gcperf-lock.json`` naming it (``lockfile.py``).

Results are identical whichever executor ran them: every run is a pure function
of its parameters and seed, and tables are sorted by run order before writing.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine.schema import SCHEMA_VERSION, SUMMARY_COLUMNS
from ..errors import GcperfError
from ..provenance import collect_metadata
from ..safeio import atomic_write_bytes, claim, clear_owned, inspect_output
from ..store.lockfile import FolderLock
from ..store.output import sha256_file, write_csv, write_json
from ..store.runlog import append_run, read_runs
from .budget import estimate, human_duration
from .executors import choose
from .experiment import Experiment, RunSpec, mean_ci95, scenario_for

RUNS_FILE = "runs.jsonl"
DETAIL_DIR = "runs"
CHART_NAMES = ("tradeoff.png", "heatmap.png", "pauses.png", "timeline.png")
SWEEP_FILES = ("meta.json", RUNS_FILE, "summary.csv", "aggregate.csv", "summary.parquet", "aggregate.parquet",
               f"{DETAIL_DIR}/[0-9a-f]*.timeline.csv.gz", f"{DETAIL_DIR}/[0-9a-f]*.pauses.csv.gz",
               *(f"charts/{c}" for c in CHART_NAMES))
"""The files a sweep writes into its folder: all that ``--force`` ever removes."""
TABLES = ("summary.csv", "aggregate.csv")
"""The tables whose SHA-256 ``meta.json`` records (checked before ``recommend`` and ``plot`` read them)."""
# summary metrics aggregated across replicates (inputs are the grouping keys)
METRICS = (
    "collections", "collections_gen0", "collections_gen1", "collections_gen2", "full_vetoed", "pauses_per_s",
    "pause_total_ms", "pause_mean_ms", "pause_p50_ms", "pause_p99_ms", "pause_max_ms", "gc_share",
    "wall_time_s", "peak_garbage_objects", "mean_garbage_objects", "final_live_objects", "peak_footprint_mb",
    "mean_footprint_mb", "final_footprint_mb", "peak_garbage_mb", "peak_arenas", "final_arenas",
    "final_fragmentation_mb",
)


#: At most this many runs share one task (one draw of the program): a task is what a worker
#: process or a Dask worker gets, so larger groups save more draws and spread less, and a group
#: holds every run's heap and memory model at once (21 runs of the web-service experiment peaked
#: at 703 MiB against 277 MiB for one; runs of larger heaps hold more each).
GROUP_MAX = 8


def run_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Simulate one run; return its summary and the detail the charts need (picklable)."""
    from ..engine.runner import simulate

    t0 = time.perf_counter()
    r = simulate(scenario_for(params, seed))
    return _task_result(r, time.perf_counter() - t0)


def run_group(params: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Simulate runs of one seed that draw the same program, over one draw of it
    (:func:`~gcperf.simulate_many`); per run what :func:`run_task` returns (the same tables; its
    ``elapsed_s`` is the group's time shared out equally)."""
    from ..engine.runner import simulate_many

    t0 = time.perf_counter()
    results = simulate_many([scenario_for(p, seed) for p in params], memory_thread=None)
    each = (time.perf_counter() - t0) / len(results)
    return [_task_result(r, each) for r in results]


def _task_result(r, elapsed_s: float) -> dict[str, Any]:
    summary = r.summary_dict()
    timeline = r.timeline.to_dict(orient="list")
    c = r.collections
    pauses = {"time_s": c["time_s"].tolist(), "generation": c["generation"].tolist(), "pause_ms": c["pause_ms"].tolist()}
    return {"summary": summary, "timeline": timeline, "pauses": pauses, "elapsed_s": elapsed_s}


@dataclass(frozen=True)
class RunGroup:
    """Runs of one seed whose scenarios draw the same program: one task for an executor."""

    specs: tuple[RunSpec, ...]

    @property
    def params(self) -> list[dict[str, Any]]:
        return [s.params for s in self.specs]

    @property
    def seed(self) -> int:
        return self.specs[0].seed


def group_runs(specs: list[RunSpec], tasks_wanted: int = 1) -> list[RunGroup]:
    """Runs grouped by the draw of the program they share (seed, workload, ... : ``draw_key``),
    in order of their first run; a group is split into near-equal parts of at most
    :data:`GROUP_MAX` runs, and into more while there are fewer than ``tasks_wanted`` tasks
    (so that every worker has work)."""
    from ..engine.runner import group_by_draw

    groups = [[specs[i] for i in idx] for idx in group_by_draw([scenario_for(s.params, s.seed) for s in specs])]
    parts = max(1, -(-tasks_wanted // max(len(groups), 1)))
    out: list[RunGroup] = []
    for members in groups:
        n = max(parts, -(-len(members) // GROUP_MAX))
        n = min(n, len(members))
        for i in range(n):
            out.append(RunGroup(tuple(members[i::n])))
    return out


# ------------------------------------------------------------------ storage


def read_detail(folder: str | Path, run_id: str, kind: str) -> pd.DataFrame:
    """Read a run's detail table (``kind``: ``"timeline"`` or ``"pauses"``).

    Raises:
        GcperfError: the file is missing or corrupt (named, with what to do).
    """
    import zlib

    p = Path(folder) / DETAIL_DIR / f"{run_id}.{kind}.csv.gz"
    try:
        return pd.read_csv(p)
    except FileNotFoundError:
        raise GcperfError(f"{p} is missing; re-run the sweep with --force to rewrite the detail files") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise GcperfError(f"{p} is corrupt ({type(e).__name__}: {e}); re-run the sweep with --force to rewrite "
                          "the detail files") from None


def _write_detail(folder: Path, run_id: str, result: dict) -> None:
    d = folder / DETAIL_DIR
    try:
        d.mkdir(exist_ok=True)
    except OSError as e:
        raise GcperfError(f"cannot create {str(d)!r}: {e.strerror}") from None
    for kind in ("timeline", "pauses"):
        # no time stamp in the gzip header: the same run writes the same bytes
        atomic_write_bytes(d / f"{run_id}.{kind}.csv.gz",
                           gzip.compress(pd.DataFrame(result[kind]).to_csv(index=False).encode(), mtime=0))


# ------------------------------------------------------------------ the sweep


def sweep(
    exp: Experiment,
    out: str | Path,
    *,
    quick: bool = False,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    command: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    task: Callable = run_task,
    repair: bool = False,
) -> Path:
    """Run an experiment into ``out``; resume if an earlier attempt of the same configuration stopped.

    Args:
        exp: the experiment.
        out: results folder.
        quick: apply the experiment's ``[quick]`` overrides.
        force: discard the results gcperf wrote into ``out`` and start again (only
            gcperf's own files are removed, and only from a folder it made).
        workers: local processes (None: all cores; 1: in this process).
        scheduler: address of a Dask scheduler (overrides ``workers``).
        command: the command line, for provenance.
        progress: callback receiving one line per finished run (and notes: resuming, lines dropped).
        task: the function of one run (tests replace it).
        repair: drop corrupt lines of ``runs.jsonl`` (each named through ``progress``) and redo their runs.

    Raises:
        GcperfError: as :func:`check_sweep_output` (checked before any run); another
            process is sweeping into ``out`` (named); ``runs.jsonl`` has a corrupt line
            and ``repair`` is false; a file cannot be written.
    """
    if quick:
        exp = exp.with_quick()
    out = check_sweep_output(exp, out, force=force)
    say = progress or (lambda line: None)
    claim(out, "sweep")
    with FolderLock(out, command, say) as lock:
        check_sweep_output(exp, out, force=force, lock_held=True)  # again: another sweep may have changed it before we locked
        if force:
            clear_owned(out, SWEEP_FILES)
        return _run_locked(exp, out, quick, workers, scheduler, command, say, task, repair, lock.fd)


def _calibrated_models(exp) -> dict[str, dict]:
    """Where each calibrated workload file of the sweep came from and its calibration's self-check
    (gcperf/calibration/selfcheck.py), by the file as the experiment names it: what a recommendation
    from the sweep must repeat, kept with the sweep (the file may change after it)."""
    from .experiment import scenario_for

    out: dict[str, dict] = {}
    for params in exp.points():
        name = params.get("workload")
        if not isinstance(name, str) or not name.endswith(".json") or name in out:
            continue
        prov = scenario_for(params, 0).resolved_workload().provenance or {}
        report = prov.get("calibration_report")
        report = report if isinstance(report, dict) else {}  # (provenance is free-form)
        if "calibrated_from" in prov or report:
            out[name] = {"calibration_report": {"self_check": report.get("self_check")}}
            if "calibrated_from" in prov:
                out[name]["calibrated_from"] = prov["calibrated_from"]
    return out


def _run_locked(exp, out: Path, quick, workers, scheduler, command, say, task, repair, lock_fd) -> Path:
    meta_path = out / "meta.json"
    runs_path = out / RUNS_FILE
    meta = collect_metadata(command)
    meta.update({"schema_version": SCHEMA_VERSION, "experiment": exp.name, "config": exp.config(),
                 "config_hash": exp.config_hash(), "quick": quick,
                 "executor": f"dask {scheduler}" if scheduler else f"processes x{workers or os.cpu_count()}"
                 if (workers or os.cpu_count() or 1) > 1 else "in-process"})
    models = _calibrated_models(exp)
    if models:
        meta["models"] = models
    if not meta_path.exists():
        write_json(meta_path, meta)
    done = read_runs(runs_path, repair=repair, say=say).runs
    specs = exp.runs()
    todo = [s for s in specs if s.run_id not in done]
    if done:
        say(f"resuming: {len(done)} of {len(specs)} runs already done")
    t0 = time.perf_counter()
    finished = len(done)
    width = len(str(len(specs)))
    # runs that draw the same program share one draw (simulate_many); a replaced task runs alone
    grouped = task is run_task
    n_workers = workers if workers is not None else os.cpu_count() or 1
    units = group_runs(todo, 2 * n_workers if not scheduler and n_workers > 1 else 1) if grouped else todo
    fn = run_group if grouped else task
    for unit, unit_result in choose(units, fn, workers, scheduler, lock_fd):
        for spec, result in (zip(unit.specs, unit_result, strict=True) if grouped else ((unit, unit_result),)):
            finished = _record(out, exp, spec, result, done, runs_path, finished, len(specs), len(todo), t0, width,
                               say)
    write_tables(out, exp, done)
    meta["elapsed_s"] = time.perf_counter() - t0
    meta["runs"] = len(specs)
    meta["tables"] = {name: sha256_file(out / name) for name in TABLES}
    write_json(meta_path, meta)
    return out


def _record(out: Path, exp: Experiment, spec: RunSpec, result: dict, done: dict, runs_path: Path, finished: int,
            total: int, todo: int, t0: float, width: int, say: Callable[[str], None]) -> int:
    """Write a finished run (detail files, then its line in runs.jsonl) and say so; returns the runs done."""
    _write_detail(out, spec.run_id, result)
    rec = {"run_id": spec.run_id, "index": spec.index, "point": spec.point, "replicate": spec.replicate,
           "seed": spec.seed, "params": spec.params, "summary": result["summary"],
           "elapsed_s": result["elapsed_s"]}
    append_run(runs_path, rec)
    done[spec.run_id] = rec
    finished += 1
    elapsed = time.perf_counter() - t0
    rate = (finished - (total - todo)) / elapsed if elapsed > 0 else 0
    eta = (total - finished) / rate if rate > 0 else math.nan
    say(f"[{finished:>{width}}/{total}] point {spec.point} ({exp.setting_text(spec.params)}) "
        f"replicate {spec.replicate}: {result['elapsed_s']:.1f} s; eta {eta:.0f} s")
    return finished


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will do, told before it starts.

    Attributes:
        points: grid points.
        replicates: runs per point.
        workers: runs in parallel (local processes; None on a Dask cluster).
        seconds: estimated wall time (``budget.estimate`` of every run, over the workers).
        longest_s: estimated wall time of the longest run.
    """

    points: int
    replicates: int
    workers: int | None
    seconds: float
    longest_s: float

    def describe(self) -> str:
        """``"105 runs (21 points x 5 replicates), about 4 min on 2 processes"``."""
        where = "on the Dask cluster (estimate for one process)" if self.workers is None else \
            f"on {self.workers} process{'es' if self.workers > 1 else ''}"
        return (f"{self.points * self.replicates} runs ({self.points} points x {self.replicates} replicates), "
                f"about {human_duration(self.seconds)} {where}")


def plan_sweep(exp: Experiment, workers: int | None = None, scheduler: str | None = None) -> SweepPlan:
    """Size and estimated time of a sweep (quick overrides already applied), without running it.

    Grids of more than 1000 points are estimated from their first 1000.
    """
    points = exp.points()
    sample = points[:1000]
    per_run = [estimate(scenario_for(p, 0)).seconds for p in sample]
    total = sum(per_run) * len(points) / len(sample) * exp.replicates
    runs = len(points) * exp.replicates
    n = None if scheduler else min(workers or os.cpu_count() or 1, runs)
    return SweepPlan(len(points), exp.replicates, n, total / (n or 1), max(per_run))


def default_output(exp: Experiment, quick: bool = False) -> Path:
    """``results/<name>``, or ``results/<name>-quick`` for a quick sweep (never mixed with the full results)."""
    return Path("results") / (exp.name + ("-quick" if quick else ""))


def check_sweep_output(exp: Experiment, out: str | Path, *, force: bool = False, lock_held: bool = False) -> Path:
    """Check a sweep's results folder before any run; return it resolved.

    A folder gcperf made for a sweep (it carries the marker) is resumed when it
    holds this configuration's runs, and replaced with ``force``; a folder that
    gcperf did not mark is used only when it is empty, or when its ``meta.json``
    is this very sweep's (a folder of a gcperf from before the marker: resumed,
    never deleted).

    Args:
        exp: the experiment as it will run (quick overrides applied).
        out: the results folder.
        force: the user asked to discard gcperf's earlier results there.
        lock_held: the caller holds the folder's lock (else a live holder is an error).

    Raises:
        GcperfError: a forbidden or unwritable location or a file; a non-empty
            folder gcperf did not make; gcperf's folder of another kind; or, without
            ``force``, results of another configuration or schema, or a corrupt folder;
            another live process holds the folder's lock (named).
    """
    info = inspect_output(out, "results folder")
    if not info.nonempty:
        return info.path
    if not lock_held:
        FolderLock(info.path).check_free()  # a sweep running there now is named, whatever else the folder holds
    meta_path = info.path / "meta.json"
    if info.owned:
        if info.kind != "sweep":
            raise GcperfError(f"{info.path} holds gcperf {info.kind} results, not a sweep's; choose another folder")
        if force:
            return info.path
        if not meta_path.exists():
            if not (info.path / RUNS_FILE).exists():
                return info.path  # marked, nothing run yet: as good as empty
            raise GcperfError(f"{info.path} holds an unfinished sweep without meta.json; use --force to start again "
                              "(only gcperf's files are removed)")
    elif not meta_path.is_file():
        raise GcperfError(f"results folder {str(info.path)!r} is not empty and was not made by gcperf; gcperf neither "
                          "writes into it nor deletes anything in it: choose a new folder")
    elif force:
        raise GcperfError(f"{info.path} was not marked by gcperf (an older gcperf, or not gcperf at all), so --force "
                          "will not delete anything in it: remove it yourself or choose a new folder")
    meta = _read_meta(meta_path)
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise GcperfError(f"{info.path} holds results of schema version {meta.get('schema_version')}, "
                          f"this gcperf writes {SCHEMA_VERSION}; use --force to redo them")
    if meta.get("config_hash") != exp.config_hash():
        what = "a --quick sweep" if meta.get("quick") else "another configuration"
        raise GcperfError(f"{info.path} holds results of {what} of {meta.get('experiment', '?')!r}; "
                          "use another folder, or --force to replace them (only gcperf's files are removed)")
    return info.path


def _read_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise GcperfError(f"{path} is unreadable or corrupt ({e}); use --force to start again") from None
    except UnicodeDecodeError:
        raise GcperfError(f"{path} is not UTF-8 text; use --force to start again") from None


def write_tables(out: Path, exp: Experiment, done: dict[str, dict]) -> None:
    """Write ``summary.csv`` and ``aggregate.csv`` from the finished runs (sorted by run order)."""
    specs = exp.runs()
    rows = []
    param_keys = sorted({k for s in specs for k in s.params})
    for s in specs:
        rec = done.get(s.run_id)
        if rec is None:
            continue
        row = {"run_id": s.run_id, "point": s.point, "replicate": s.replicate, "seed": s.seed}
        row.update({f"param_{k}": _cell(s.params.get(k)) for k in param_keys})
        # fixed column order, whether the run finished now or was read back from runs.jsonl
        row.update({k: rec["summary"].get(k) for k in SUMMARY_COLUMNS})
        rows.append(row)
    summary = pd.DataFrame(rows)
    agg = aggregate(summary)
    write_csv(summary, out / "summary.csv")
    write_csv(agg, out / "aggregate.csv")
    from ..store.export import write_parquet

    if not write_parquet({"summary": summary, "aggregate": agg}, out):
        for name in ("summary.parquet", "aggregate.parquet"):  # an earlier sweep's, written with pyarrow
            try:
                (out / name).unlink(missing_ok=True)
            except OSError as e:
                raise GcperfError(f"cannot remove the earlier {out / name}: {e.strerror}") from None


def _cell(v):
    return "" if v is None else v


def aggregate(summary: pd.DataFrame) -> pd.DataFrame:
    """Per grid point: the inputs, the number of replicates, mean and 95 % CI half-width per metric."""
    if summary.empty:
        return summary
    # the effective inputs (from the summary) and the declared ones (param_*)
    inputs = ["workload", "version", "threshold0", "threshold1", "threshold2", "enabled", "freeze_after",
              "collect_every_s", "duration_s", "memory"]
    keys = ["point"] + [c for c in summary.columns if c.startswith("param_")] + [c for c in inputs if c in summary]
    out = []
    for _, g in summary.groupby("point", sort=True):
        row = {k: g[k].iloc[0] for k in keys}
        row["replicates"] = len(g)
        for m in METRICS:
            if m not in g:
                continue
            row[f"{m}_mean"], row[f"{m}_ci95"] = mean_ci95(g[m].to_numpy(dtype=float))
        out.append(row)
    return pd.DataFrame(out)


def print_progress(line: str) -> None:
    """Progress to stderr (one line per finished run)."""
    print(line, file=sys.stderr, flush=True)
