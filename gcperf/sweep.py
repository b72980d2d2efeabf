"""Running an experiment: grid x replicates on an executor, resumable, with provenance.

A results folder ``results/<experiment>/`` holds:

* ``runs.jsonl``: one line per finished run (its id, inputs, seed and summary),
  appended and flushed as runs finish; an interrupted sweep resumes from it;
* ``runs/<run id>.timeline.csv.gz`` and ``.pauses.csv.gz``: per-run detail for charts;
* ``summary.csv``: one row per run with all its inputs, sorted by run order;
* ``aggregate.csv``: one row per grid point, mean and 95 % confidence interval
  (Student t over replicates) of every metric;
* ``meta.json``: the experiment's configuration and hash, versions, command, date.

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import GcperfError
from .experiment import Experiment, RunSpec, scenario_for, t975
from .output import write_csv, write_json
from .provenance import collect_metadata
from .safeio import atomic_write_bytes, claim, clear_owned, inspect_output, read_marker
from .schema import SCHEMA_VERSION, SUMMARY_COLUMNS

RUNS_FILE = "runs.jsonl"
DETAIL_DIR = "runs"
CHART_NAMES = ("tradeoff.png", "heatmap.png", "pauses.png", "timeline.png")
SWEEP_FILES = ("meta.json", RUNS_FILE, "summary.csv", "aggregate.csv",
               f"{DETAIL_DIR}/[0-9a-f]*.timeline.csv.gz", f"{DETAIL_DIR}/[0-9a-f]*.pauses.csv.gz",
               *(f"charts/{c}" for c in CHART_NAMES))
"""The files a sweep writes into its folder: all that ``--force`` ever removes."""
# summary metrics aggregated across replicates (inputs are the grouping keys)
METRICS = (
    "collections", "collections_gen0", "collections_gen1", "collections_gen2", "full_vetoed", "pauses_per_s",
    "pause_total_ms", "pause_mean_ms", "pause_p50_ms", "pause_p99_ms", "pause_max_ms", "gc_share",
    "wall_time_s", "peak_garbage_objects", "mean_garbage_objects", "final_live_objects", "peak_footprint_mb",
    "mean_footprint_mb", "final_footprint_mb", "peak_garbage_mb", "peak_arenas", "final_arenas",
    "final_fragmentation_mb",
)


def run_task(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Simulate one run; return its summary and the detail the charts need (picklable)."""
    from .runner import simulate

    t0 = time.perf_counter()
    r = simulate(scenario_for(params, seed))
    summary = r.summary_dict()
    timeline = r.timeline.to_dict(orient="list")
    c = r.collections
    pauses = {"time_s": c["time_s"].tolist(), "generation": c["generation"].tolist(), "pause_ms": c["pause_ms"].tolist()}
    return {"summary": summary, "timeline": timeline, "pauses": pauses, "elapsed_s": time.perf_counter() - t0}


# ------------------------------------------------------------------ executors


def _serial(tasks: list[RunSpec], fn: Callable) -> Iterable[tuple[RunSpec, dict]]:
    for t in tasks:
        yield t, fn(t.params, t.seed)


def _memory_model_in_line() -> None:
    # a pool of worker processes already keeps the CPUs busy: a memory-model thread per run
    # would only make the runs contend (results are the same either way)
    os.environ["GCPERF_MEMORY_THREAD"] = "0"


def _processes(tasks: list[RunSpec], fn: Callable, workers: int) -> Iterable[tuple[RunSpec, dict]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # (only called with two or more workers: one runs in this process, _serial)
    with ProcessPoolExecutor(max_workers=workers, initializer=_memory_model_in_line) as ex:
        futs = {ex.submit(fn, t.params, t.seed): t for t in tasks}
        try:
            for f in as_completed(futs):
                yield futs[f], f.result()
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _dask(tasks: list[RunSpec], fn: Callable, address: str) -> Iterable[tuple[RunSpec, dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise GcperfError("--scheduler needs Dask: pip install 'gcperf[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except OSError as e:
        raise GcperfError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        futs = client.map(fn, [t.params for t in tasks], [t.seed for t in tasks], pure=False)
        index = {f.key: t for f, t in zip(futs, tasks, strict=True)}
        for f in as_completed(futs):
            yield index[f.key], f.result()


# ------------------------------------------------------------------ storage


def _read_runs(path: Path) -> dict[str, dict]:
    """Finished runs from ``runs.jsonl``; a truncated last line (an interrupted write) is dropped."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    lines = path.read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            done[rec["run_id"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            if i == len(lines):  # the very last line, cut short by an interruption
                break
            raise GcperfError(f"{path} line {i} is corrupt; use --force to start the sweep again") from None
    return done


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


def _append_run(path: Path, rec: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, sort_keys=True, default=_plain) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
        progress: callback receiving one line per finished run.

    Raises:
        GcperfError: as :func:`check_sweep_output` (checked before any run), or a
            file cannot be written.
    """
    if quick:
        exp = exp.with_quick()
    out = check_sweep_output(exp, out, force=force)
    meta_path = out / "meta.json"
    runs_path = out / RUNS_FILE
    if force and read_marker(out) is not None:
        clear_owned(out, SWEEP_FILES)
    claim(out, "sweep")
    meta = collect_metadata(command)
    meta.update({"schema_version": SCHEMA_VERSION, "experiment": exp.name, "config": exp.config(),
                 "config_hash": exp.config_hash(), "quick": quick,
                 "executor": f"dask {scheduler}" if scheduler else f"processes x{workers or os.cpu_count()}"
                 if (workers or os.cpu_count() or 1) > 1 else "in-process"})
    if not meta_path.exists():
        write_json(meta_path, meta)
    done = _read_runs(runs_path)
    specs = exp.runs()
    todo = [s for s in specs if s.run_id not in done]
    say = progress or (lambda line: None)
    if done:
        say(f"resuming: {len(done)} of {len(specs)} runs already done")
    t0 = time.perf_counter()
    if scheduler:
        stream = _dask(todo, task, scheduler)
    elif (workers if workers is not None else os.cpu_count() or 1) <= 1 or len(todo) <= 1:
        stream = _serial(todo, task)
    else:
        stream = _processes(todo, task, workers or os.cpu_count() or 1)
    finished = len(done)
    for spec, result in stream:
        _write_detail(out, spec.run_id, result)
        rec = {"run_id": spec.run_id, "index": spec.index, "point": spec.point, "replicate": spec.replicate,
               "seed": spec.seed, "params": spec.params, "summary": result["summary"],
               "elapsed_s": result["elapsed_s"]}
        _append_run(runs_path, rec)
        done[spec.run_id] = rec
        finished += 1
        elapsed = time.perf_counter() - t0
        rate = (finished - (len(specs) - len(todo))) / elapsed if elapsed > 0 else 0
        eta = (len(specs) - finished) / rate if rate > 0 else math.nan
        say(f"[{finished:>{len(str(len(specs)))}}/{len(specs)}] point {spec.point} replicate {spec.replicate} "
            f"({result['elapsed_s']:.1f} s); eta {eta:.0f} s")
    write_tables(out, exp, done)
    meta["elapsed_s"] = time.perf_counter() - t0
    meta["runs"] = len(specs)
    write_json(meta_path, meta)
    return out


def default_output(exp: Experiment, quick: bool = False) -> Path:
    """``results/<name>``, or ``results/<name>-quick`` for a quick sweep (never mixed with the full results)."""
    return Path("results") / (exp.name + ("-quick" if quick else ""))


def check_sweep_output(exp: Experiment, out: str | Path, *, force: bool = False) -> Path:
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

    Raises:
        GcperfError: a forbidden or unwritable location or a file; a non-empty
            folder gcperf did not make; gcperf's folder of another kind; or, without
            ``force``, results of another configuration or schema, or a corrupt folder.
    """
    info = inspect_output(out, "results folder")
    if not info.nonempty:
        return info.path
    meta_path = info.path / "meta.json"
    if info.owned:
        if info.kind != "sweep":
            raise GcperfError(f"{info.path} holds gcperf {info.kind} results, not a sweep's; choose another folder")
        if force:
            return info.path
        if not meta_path.exists():
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
    write_csv(summary, out / "summary.csv")
    write_csv(aggregate(summary), out / "aggregate.csv")


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
            v = g[m].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            n = len(v)
            row[f"{m}_mean"] = float(v.mean()) if n else math.nan
            row[f"{m}_ci95"] = float(t975(n - 1) * v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        out.append(row)
    return pd.DataFrame(out)


def print_progress(line: str) -> None:
    """Progress to stderr (one line per finished run)."""
    print(line, file=sys.stderr, flush=True)
