"""Measure the collector's cost constants on real CPython interpreters and write costs.json.

Usage::

    python benchmarks/calibrate_costs.py [--quick] [--versions 3.11 3.12 ...]
                                         [-o gcperf/data/costs.json] [--force] [--runs N]
                                         [--raw-dir DIR | --refit-from DIR]

For every requested minor version the script finds an interpreter (pyenv first, then
``python3.X`` on PATH; a missing one is skipped with a message), runs
``gcperf/calibration/probe.py`` under it in a subprocess, one version at a time, fits a
:class:`gcperf.costs.CostModel` to the timings and stores the constants together with their
provenance: interpreter, machine (CPU model, cache sizes, kernel), date, this command line,
probe parameters and repetitions, and the fit's residuals. A table of the fitted constants is
printed at the end. An existing output file is only replaced with ``--force``; its entries for
versions not measured in this run are kept, each with its own provenance. ``--runs N`` probes
every version N times, taking turns between versions, and fits the per-timing minimum;
``--raw-dir`` keeps the raw probe outputs so that ``--refit-from`` can fit them again later.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from gcperf.calibration.fit import fit_cost_model, merge_runs  # noqa: E402

PROBE = ROOT / "gcperf" / "calibration" / "probe.py"
DEFAULT_OUTPUT = ROOT / "gcperf" / "data" / "costs.json"
DEFAULT_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

# History: 1 = first layout (versions -> model, interpreter, machine, command, fit_command,
# runs, probe, fit).
SCHEMA_VERSION = 1


class CalibrationError(Exception):
    """A problem reported to the user as one line, with exit status 2."""


def find_interpreter(minor: str) -> Path | None:
    """Return the newest pyenv build of ``minor`` (e.g. "3.11"), else ``python3.X`` on PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pattern = re.compile(rf"^{re.escape(minor)}\.(\d+)$")  # release builds only, not 3.13.0t
    builds = []
    versions_dir = pyenv_root / "versions"
    if versions_dir.is_dir():
        for entry in versions_dir.iterdir():
            m = pattern.match(entry.name)
            exe = entry / "bin" / "python"
            if m and exe.exists():
                builds.append((int(m.group(1)), exe))
    if builds:
        return max(builds)[1]
    found = shutil.which(f"python{minor}")
    return Path(found) if found else None


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
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    return {
        "cpu_model": model or platform.processor() or "unknown",
        "cpus": os.cpu_count(),
        "l1d_cache": cpu.get("L1d cache") or cpu.get("L1d"),
        "l2_cache": cpu.get("L2 cache") or cpu.get("L2"),
        "l3_cache": cpu.get("L3 cache") or cpu.get("L3"),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "kernel": platform.release(),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "transparent_hugepage": thp,
    }


def _short_machine(machine: dict[str, Any]) -> str:
    hv = f" {machine['hypervisor']}" if machine.get("hypervisor") else ""
    return f"{machine['cpu_model']} {machine['cpus']}-core{hv}"


def run_probe(exe: Path, quick: bool, minor: str) -> dict[str, Any]:
    """Run the probe under ``exe`` and return its JSON output, echoing its progress lines."""
    cmd = [str(exe), "-I", str(PROBE)] + (["--quick"] if quick else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    progress = []
    for line in proc.stderr:
        progress.append(line.rstrip())
        print(f"  [{minor}] {line.rstrip()}", file=sys.stderr, flush=True)
    out = proc.stdout.read()
    if proc.wait() != 0:
        tail = progress[-1] if progress else "no output"
        raise CalibrationError(f"probe failed under {exe} (exit {proc.returncode}): {tail}")
    try:
        result: dict[str, Any] = json.loads(out)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"probe under {exe} printed no valid JSON: {exc}") from exc
    return result


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def measure(minor: str, exe: Path, quick: bool, command: str) -> dict[str, Any]:
    """Run the probe under ``exe``; return its output with the circumstances of the run."""
    load_before = _loadavg()
    started = time.perf_counter()
    probe = run_probe(exe, quick, minor)
    run = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "probe_wall_s": round(time.perf_counter() - started, 1),
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
    }
    return {"probe": probe, "run": run, "path": str(exe)}


def make_entry(raws: list[dict[str, Any]], machine: dict[str, Any],
               command: str) -> dict[str, Any]:
    """Merge the probe runs of one interpreter, fit its constants, return its costs.json entry."""
    probe = merge_runs([raw["probe"] for raw in raws])
    runs = [raw["run"] for raw in raws]
    quick = probe["mode"] == "quick"
    source = (f"measured: CPython {probe['python']['version']}{' (quick probe)' if quick else ''}"
              f", {_short_machine(machine)}, {runs[-1]['date'][:10]}")
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


def collect_raw(args: argparse.Namespace, machine: dict[str, Any],
                command: str) -> dict[str, list]:
    """Return the raw probe runs per minor version: measured now, or read from --refit-from."""
    raws: dict[str, list] = {}
    if args.refit_from is not None:
        for minor in args.versions:
            paths = sorted(args.refit_from.glob(f"probe-{minor}-*.json"))
            if not paths:
                print(f"skip {minor}: no {args.refit_from}/probe-{minor}-*.json", file=sys.stderr)
                continue
            raws[minor] = [json.loads(path.read_text()) for path in paths]
        return raws
    interpreters = {}
    for minor in args.versions:
        exe = find_interpreter(minor)
        if exe is None:
            print(f"skip {minor}: no interpreter found (pyenv or python{minor} on PATH)",
                  file=sys.stderr)
        else:
            interpreters[minor] = exe
    # Runs go round the versions, so that each version's runs fall in different noise bursts.
    for k in range(1, args.runs + 1):
        for minor, exe in interpreters.items():
            print(f"calibrating {minor} with {exe} (run {k}/{args.runs})", file=sys.stderr,
                  flush=True)
            raw = dict(measure(minor, exe, args.quick, command), machine=machine)
            raws.setdefault(minor, []).append(raw)
            if args.raw_dir is not None:
                args.raw_dir.mkdir(parents=True, exist_ok=True)
                (args.raw_dir / f"probe-{minor}-{k}.json").write_text(json.dumps(raw) + "\n")
    return raws


def _version_key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def format_table(entries: dict[str, dict[str, Any]]) -> str:
    """Return a plain-text table of the fitted constants and residuals per version."""
    head = (f"{'version':<9}{'fixed_us':>9}{'obj_ns':>8}{'ref_ns':>8}{'cache_x':>8}"
            f"{'half_obj':>10}{'exp_p':>7}{'garb_ns':>8}{'rms_res':>8}{'max_res':>8}"
            f"{'r0_max':>8}{'probe_s':>8}")
    lines = [head, "-" * len(head)]
    for minor in sorted(entries, key=_version_key):
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


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="run the probe's quick mode (seconds per interpreter, not a minute)")
    parser.add_argument("--versions", nargs="+", default=list(DEFAULT_VERSIONS),
                        metavar="X.Y", help="minor versions to calibrate (default: 3.8-3.13)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"costs file to write (default: {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--force", action="store_true",
                        help="replace the entries of the measured versions in an existing file")
    parser.add_argument("--runs", type=int, default=1,
                        help="probe runs per version, taken in turns and merged (default 1)")
    parser.add_argument("--raw-dir", type=Path, default=None,
                        help="also save each probe run's raw output as RAW_DIR/probe-X.Y-K.json")
    parser.add_argument("--refit-from", type=Path, default=None, metavar="RAW_DIR",
                        help="fit the raw outputs saved by --raw-dir instead of probing again")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Calibrate the requested versions; return the process exit status."""
    args = _parse_args(argv)
    command = shlex.join(["python"] + (sys.argv if argv is None else [__file__] + argv))
    try:
        for v in args.versions:
            if not re.fullmatch(r"3\.\d+", v):
                raise CalibrationError(f"--versions takes minor versions like 3.11, got {v!r}")
        existing: dict[str, Any] = {}
        if args.output.exists():
            if not args.force:
                raise CalibrationError(f"{args.output} exists; pass --force to replace the "
                                       "entries of the versions measured now")
            existing = json.loads(args.output.read_text())
            if existing.get("schema_version") != SCHEMA_VERSION:
                raise CalibrationError(f"{args.output} has schema_version "
                                       f"{existing.get('schema_version')!r}, expected "
                                       f"{SCHEMA_VERSION}; move it away first")
        if args.runs < 1:
            raise CalibrationError(f"--runs must be >= 1, got {args.runs}")
        machine = machine_info()
        entries = {}
        for minor, raws in collect_raw(args, machine, command).items():
            # A refit keeps the machine the runs were measured on.
            entries[minor] = make_entry(raws, raws[0].get("machine", machine), command)
        if not entries:
            raise CalibrationError("nothing to fit: no interpreter or saved run for any "
                                   "requested version")
    except CalibrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    versions = dict(existing.get("versions", {}))
    versions.update(entries)
    document = {
        "schema_version": SCHEMA_VERSION,
        "description": ("Cost constants of CPython's cyclic GC per minor version, measured by "
                        "benchmarks/calibrate_costs.py; see docs/costs.md."),
        "versions": {k: versions[k] for k in sorted(versions, key=_version_key)},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n")
    print(format_table(entries))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
