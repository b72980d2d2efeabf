"""The machine constants of the pause model, measured on this machine: ``gcperf calibrate-costs``.

``probe.py`` times CPython's collector on controlled heaps under the target interpreter (in a
subprocess, standard library only); :func:`gcperf.calibration.fit.fit_cost_model` turns its
timings into a :class:`~gcperf.costs.CostModel`. This module runs the probe, fits it, and keeps
the result with its provenance (interpreter, machine, load, date, command) in a costs file of
the same layout as the package's ``gcperf/data/costs.json``:

* ``gcperf calibrate-costs`` writes the user's file (:func:`gcperf.costs.user_costs_path`:
  ``$GCPERF_COSTS``, else ``$XDG_DATA_HOME/gcperf/costs.json``, never inside the installed
  package), where every later run, sweep and ``calibrate`` of that minor version finds it;
* ``benchmarks/calibrate_costs.py`` writes the package's table (the constants shipped).

A costs file is only ever replaced when gcperf wrote it (its ``written_by`` field says so);
entries of versions not measured now are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cpython.costs import COSTS_SCHEMA_VERSION, CostModel, read_costs_file
from ..errors import GcperfError
from .fit import fit_cost_model, merge_runs

PROBE = Path(__file__).with_name("probe.py")
#: What a costs file written by gcperf says in ``written_by`` (the package's table says
#: ``benchmarks/calibrate_costs.py``).
WRITTEN_BY = "gcperf calibrate-costs"


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """Describe the CPU, caches, kernel and clock of this machine."""
    cpu = _lscpu()
    model = cpu.get("Model name")
    if model is None:  # no lscpu: fall back to /proc/cpuinfo
        for line in (_read("/proc/cpuinfo") or "").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpu_model": model or platform.processor() or "unknown",
        "cpus": os.cpu_count(),
        "l1d_cache": cpu.get("L1d cache") or cpu.get("L1d"),
        "l2_cache": cpu.get("L2 cache") or cpu.get("L2"),
        "l3_cache": cpu.get("L3 cache") or cpu.get("L3"),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "kernel": platform.release(),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "transparent_hugepage": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
    }


def short_machine(machine: dict[str, Any]) -> str:
    """``"<cpu model> <n>-core [hypervisor]"``."""
    hv = f" {machine['hypervisor']}" if machine.get("hypervisor") else ""
    return f"{machine['cpu_model']} {machine['cpus']}-core{hv}"


def run_probe(exe: str | os.PathLike[str], quick: bool, say: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the probe under ``exe`` (isolated mode) and return its JSON output.

    Raises:
        GcperfError: the probe failed or printed no JSON.
    """
    cmd = [str(exe), "-I", str(PROBE)] + (["--quick"] if quick else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    progress = []
    for line in proc.stderr:
        progress.append(line.rstrip())
        say(line.rstrip())
    out = proc.stdout.read()
    if proc.wait() != 0:
        tail = progress[-1] if progress else "no output"
        raise GcperfError(f"the cost probe failed under {exe} (exit {proc.returncode}): {tail}")
    try:
        result: dict[str, Any] = json.loads(out)
    except json.JSONDecodeError as exc:
        raise GcperfError(f"the cost probe under {exe} printed no valid JSON: {exc}") from exc
    return result


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def measure(exe: str | os.PathLike[str], quick: bool, command: str,
            say: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the probe under ``exe``; return its output with the circumstances of the run."""
    load_before = loadavg()
    started = time.perf_counter()
    probe = run_probe(exe, quick, say)
    run = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "probe_wall_s": round(time.perf_counter() - started, 1),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
    }
    return {"probe": probe, "run": run, "path": str(exe)}


def make_entry(raws: list[dict[str, Any]], machine: dict[str, Any], command: str) -> dict[str, Any]:
    """Merge the probe runs of one interpreter, fit its constants, return its costs-file entry."""
    probe = merge_runs([raw["probe"] for raw in raws])
    runs = [raw["run"] for raw in raws]
    quick = probe["mode"] == "quick"
    source = (f"measured: CPython {probe['python']['version']}{' (quick probe)' if quick else ''}"
              f", {short_machine(machine)}, {runs[-1]['date'][:10]}")
    model, fit = fit_cost_model(probe, source)
    reps = [row["reps"] for row in probe["examined"]]
    return {
        "model": model.to_dict(),
        "interpreter": dict(probe["python"], path=raws[0]["path"]),
        "machine": machine,
        "command": runs[0].get("command", command),
        "fit_command": command,
        "runs": runs,
        "probe": {
            "probe_version": probe["probe_version"],
            "mode": probe["mode"],
            "params": probe["params"],
            "runs": len(runs),
            "elapsed_s": probe["run_elapsed_s"],
            "statistic": "minimum over repetitions and runs",
            "examined_sets": len(reps),
            "repetitions_per_set": {"min": min(reps), "max": max(reps), "total": sum(reps)},
            "garbage_rounds": [row["rounds"] for row in probe["garbage"]],
            "fixed_reps": [row["reps"] for row in probe["fixed"]],
        },
        "fit": fit,
    }


def version_key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def format_table(entries: dict[str, dict[str, Any]]) -> str:
    """A plain-text table of the fitted constants and residuals per version."""
    head = (f"{'version':<9}{'fixed_us':>9}{'obj_ns':>8}{'ref_ns':>8}{'cache_x':>8}"
            f"{'half_obj':>10}{'exp_p':>7}{'garb_ns':>8}{'rms_res':>8}{'max_res':>8}"
            f"{'r0_max':>8}{'probe_s':>8}")
    lines = [head, "-" * len(head)]
    for minor in sorted(entries, key=version_key):
        e = entries[minor]
        m, fit = e["model"], e["fit"]
        r0 = fit["unfitted_max_abs_rel_residual"]
        lines.append(
            f"{e['interpreter']['version']:<9}{m['fixed_us']:>9.3f}{m['per_object_ns']:>8.1f}"
            f"{m['per_ref_ns']:>8.2f}{m['cache_factor']:>8.2f}{m['cache_half_objects']:>10.3g}"
            f"{m['cache_exponent']:>7.2f}{m['per_garbage_ns']:>8.1f}"
            f"{fit['examined_rms_rel_residual']:>8.1%}{fit['examined_max_abs_rel_residual']:>8.1%}"
            f"{'-' if r0 is None else format(r0, '.0%'):>8}{sum(e['probe']['elapsed_s']):>8.1f}")
    return "\n".join(lines)


def costs_document(versions: dict[str, Any], written_by: str, description: str) -> dict[str, Any]:
    """A costs file's content: the entries oldest version first."""
    return {"schema_version": COSTS_SCHEMA_VERSION, "written_by": written_by, "description": description,
            "versions": {k: versions[k] for k in sorted(versions, key=version_key)}}


def existing_entries(path: Path, written_by: str) -> dict[str, Any]:
    """The entries of a costs file that gcperf may replace (``{}`` when there is none).

    Raises:
        GcperfError: the file is not one gcperf wrote with ``written_by`` (it is left alone), or
            it cannot be read.
    """
    if not path.exists():
        return {}
    doc = read_costs_file(path)
    if doc.get("written_by") != written_by:
        raise GcperfError(f"{path} exists and was not written by {written_by}; it is left alone "
                          "(move it away, or write elsewhere with -o)")
    return dict(doc["versions"])


def calibrate_costs(exe: str, *, runs: int = 1, quick: bool = False, command: str = "",
                    say: Callable[[str], None] = lambda s: None) -> tuple[str, dict[str, Any], CostModel]:
    """Probe ``exe`` ``runs`` times and fit its constants: (minor version, costs-file entry, model).

    Raises:
        GcperfError: a probe failed.
    """
    machine = machine_info()
    raws = []
    for k in range(runs):
        say(f"probing {exe} (run {k + 1}/{runs}{', quick' if quick else ''})")
        raws.append(dict(measure(exe, quick, command, say), machine=machine))
    entry = make_entry(raws, machine, command)
    version = str(entry["interpreter"]["version"])
    minor = ".".join(version.split(".")[:2])
    return minor, entry, CostModel(**entry["model"])


def provenance_note(entry: dict[str, Any]) -> str:
    """One line: what was measured, where and when."""
    runs = entry["runs"]
    load = runs[0].get("load_average_before")
    return (f"CPython {entry['interpreter']['version']} ({entry['interpreter']['path']}), "
            f"{short_machine(entry['machine'])}, {runs[-1]['date']}, {len(runs)} run(s), "
            f"load before {load[0] if load else '?'}; python {sys.version.split()[0]} ran gcperf")
