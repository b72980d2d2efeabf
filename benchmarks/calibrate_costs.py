"""Measure the collector's cost constants on real CPython interpreters and write costs.json.

Usage::

    python benchmarks/calibrate_costs.py [--quick] [--versions 3.11 3.12 ...]
                                         [-o gcperf/data/costs.json] [--force] [--runs N]
                                         [--raw-dir DIR | --refit-from DIR]

For every requested minor version the script finds an interpreter (pyenv first, then
``python3.X`` on PATH; a missing one is skipped with a message), runs
``gcperf/calibration/probe.py`` under it in a subprocess, one version at a time, fits a
:class:`gcperf.cpython.costs.CostModel` to the timings and stores the constants together with their
provenance: interpreter, machine (CPU model, cache sizes, kernel), date, this command line,
probe parameters and repetitions, and the fit's residuals. A table of the fitted constants is
printed at the end. An existing output file is only replaced with ``--force``; its entries for
versions not measured in this run are kept, each with its own provenance. ``--runs N`` probes
every version N times, taking turns between versions, and fits the per-timing minimum;
``--raw-dir`` keeps the raw probe outputs so that ``--refit-from`` can fit them again later.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from gcperf.calibration.machine_costs import (  # noqa: E402
    costs_document,
    format_table,
    machine_info,
    make_entry,
)
from gcperf.calibration.machine_costs import measure as _measure  # noqa: E402
from gcperf.cpython.costs import COSTS_SCHEMA_VERSION as SCHEMA_VERSION  # noqa: E402
from gcperf.errors import GcperfError  # noqa: E402
from gcperf.interpreters import find as find_interpreter  # noqa: E402

PROBE = ROOT / "gcperf" / "calibration" / "probe.py"
DEFAULT_OUTPUT = ROOT / "gcperf" / "data" / "costs.json"
DEFAULT_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

WRITTEN_BY = "benchmarks/calibrate_costs.py"


class CalibrationError(Exception):
    """A problem reported to the user as one line, with exit status 2."""


def measure(minor: str, exe: Path, quick: bool, command: str) -> dict[str, Any]:
    """Run the probe under ``exe``, echoing its progress; its output with the run's circumstances."""
    try:
        return _measure(exe, quick, command, lambda line: print(f"  [{minor}] {line}", file=sys.stderr, flush=True))
    except GcperfError as exc:
        raise CalibrationError(str(exc)) from None


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
        found = find_interpreter(minor)  # (the newest pyenv release build, else python3.X on PATH)
        exe = Path(found.path) if found is not None else None
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
    document = costs_document(versions, WRITTEN_BY, "Cost constants of CPython's cyclic GC per minor version, "
                                                    "measured by benchmarks/calibrate_costs.py; see docs/costs.md.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n")
    print(format_table(entries))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
