"""``gcperf calibrate`` and ``gcperf validate`` (registered by ``gcperf/cli.py``).

    gcperf calibrate RECORDING [-o MODEL.json] [--name NAME]
    gcperf validate [--python INTERPRETER] [--reps N] [--settings T0,T1,T2;...] [--json] [-o OUT.json] -- script.py [args]
    gcperf calibrate-costs [--python INTERPRETER] [--quick] [--runs N] [-o COSTS.json]

Failures are one line on stderr and exit 2 (the global handler of ``gcperf.cli.main``); an
existing output file is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from ..errors import GcperfError
from ..recording.cli import seconds
from ..recording.recorder import check_output
from ..safeio import atomic_write_text


def add_calibrate_parser(sub) -> None:
    """Register ``gcperf calibrate``."""
    p = sub.add_parser("calibrate", help="fit a workload model and pause costs to a recording",
                       description="Fit a workload model (phases, births, lifetimes, cyclic and atomic shares, "
                                   "C-call bursts, baseline objects and RSS, object sizes) and the pause model of "
                                   "this program's heap to one recording (gcperf record). The model is a workload "
                                   "JSON file that gcperf run -w, sweeps and recommend accept.")
    p.add_argument("recording", help="the recording file (gcperf record)")
    p.add_argument("-o", "--output", metavar="MODEL", help="the model file (default: <program>.model.json here)")
    p.add_argument("--name", help="the workload's name (default: the program's)")
    p.set_defaults(func=_cmd_calibrate)


def _cmd_calibrate(args) -> int:
    from ..recording.format import load_recording
    from ..workload.specs import workload_to_dict
    from .calibrate import calibrate

    rec = load_recording(args.recording)
    out = check_output(Path(args.output) if args.output else Path(f"{rec.program_name}.model.json"))
    cal = calibrate(rec, name=args.name)
    doc = workload_to_dict(cal.workload)
    doc["provenance"] = dict(doc.get("provenance") or {}, calibration_report=cal.report)
    atomic_write_text(out, json.dumps(_clean(doc), indent=1, allow_nan=False) + "\n")
    r = cal.report
    pop = r["population"]
    print(f"model of {rec.program_name} (CPython {rec.version}): {r['phases']} phases, "
          f"{r['allocations']:,} lasting allocations over {r['mutator_s']:.2f} s of program time")
    print(f"  fit: young generation {100 * pop['young_rel_err_median']:.1f} %, "
          f"generation 1 {100 * pop.get('gen1_rel_err_median', math.nan):.1f} % median error; "
          f"pauses {100 * r['pauses']['median_abs_rel_error']:.0f} % median error over {r['pauses']['collections_used']} collections "
          f"({r['pauses'].get('fit_points', r['pauses']['collections_used'])} points: the unmeasured young windows one per size)")
    c = cal.costs
    old_heap = f", x{c.old_cache_factor:.2f} in the old heap" if c.old_cache_factor is not None else ""
    print(f"  pause model: {c.fixed_us:.2f} us + {c.per_object_ns:.1f} ns per examined object "
          f"(x{c.cache_factor:.2f} beyond the caches{old_heap}) + {c.per_garbage_ns:.0f} ns per freed object")
    lv = r["pauses"].get("levels") or {}
    if lv.get("applied"):
        sc = r["pauses"]["pause_scale"]
        print(f"  cost factors of the examined objects by their generation, set on the recording's windows: "
              f"young x{sc[0]:.2f}, generation 1 x{sc[1]:.2f}, generation 2 x{sc[2]:.2f}")
    elif lv.get("reason"):
        print(f"  pause levels left at the cost fit's: {lv['reason']}")
    searched = alpha_search_line(pop.get("alpha_search") or {})
    if searched:
        print(f"  {searched}")
    ck = r["self_check"]
    if ck.get("reproduces") is not None:
        print("  self-check, collections over the recording's own windows (model / program): "
              + ", ".join(f"{name} {ck[f'generation_{g}']['modelled']:.0f} / {ck[f'generation_{g}']['recorded']}"
                          for g, name in ((0, "young"), (1, "generation 1"), (2, "full"))))
    if not ck.get("reproduces"):
        print(f"  warning: {ck['message']}")
    print(f"wrote {out}; try: gcperf run -w {out} -V {rec.version}")
    return 0


def alpha_search_line(search: dict) -> str | None:
    """What the search of the population's alpha did (calibrate._match_collections), or None when
    the balance's alpha was kept without one."""
    tried = search.get("tried") or []
    if len(tried) < 2:
        return None
    a0, r0 = tried[0]
    chosen = next((r for a, r in tried if a == search.get("alpha")), None)
    if chosen is None:
        return None
    return (f"population: at the count0 balance's alpha {a0:.2f} (counted per tracked young object) the model made "
            f"{100 * r0:.0f} % of the recording's young collections; {len(tried) - 1} more tried, kept alpha "
            f"{search['alpha']:.2f} ({100 * chosen:.0f} %)")


def add_calibrate_costs_parser(sub) -> None:
    """Register ``gcperf calibrate-costs``."""
    p = sub.add_parser("calibrate-costs", help="measure the pause model's machine constants on this machine",
                       description="Time the cyclic collector on controlled heaps under an interpreter (in a "
                                   "subprocess), fit the pause model's machine constants and save them, with their "
                                   "provenance, where later runs of that minor version find them: $GCPERF_COSTS, "
                                   "else $XDG_DATA_HOME/gcperf/costs.json (~/.local/share/gcperf/costs.json). "
                                   "Entries of other versions are kept.")
    p.add_argument("--python", metavar="INTERPRETER", help="the CPython to measure (default: this one)")
    p.add_argument("--quick", action="store_true", help="the probe's quick mode (seconds, not a minute; coarser)")
    p.add_argument("--runs", type=_positive_int, default=1, help="probe runs, merged by their minimum (default 1)")
    p.add_argument("-o", "--output", metavar="FILE", help="the costs file to write instead of the user's")
    p.add_argument("--json", action="store_true", help="print the new entry as JSON")
    p.set_defaults(func=_cmd_calibrate_costs)


def _cmd_calibrate_costs(args) -> int:
    import shlex

    from ..cpython.costs import user_costs_path
    from ..interpreters import resolve
    from .machine_costs import WRITTEN_BY, calibrate_costs, costs_document, existing_entries, format_table

    python = resolve(args.python)
    if python.free_threaded:
        raise GcperfError(f"{python.path} is a free-threaded build; its collector is not the one this model "
                          "describes")
    path = Path(args.output) if args.output else user_costs_path()
    # everything that can refuse the output is checked before the probe runs: a file gcperf did
    # not write, a folder that is missing (-o) or not writable; gcperf's own data folder is made
    entries = existing_entries(path, WRITTEN_BY)
    if args.output is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GcperfError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    elif not path.parent.is_dir():
        raise GcperfError(f"cannot write {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise GcperfError(f"cannot write {path}: folder {path.parent} is not writable")
    say = (lambda s: None) if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    command = shlex.join(["gcperf", *sys.argv[1:]])
    minor, entry, model = calibrate_costs(python.path, runs=args.runs, quick=args.quick, command=command, say=say)
    entries[minor] = entry
    doc = costs_document(entries, WRITTEN_BY, "Cost constants of CPython's cyclic GC measured on this machine by "
                                              "gcperf calibrate-costs; see docs/costs.md.")
    atomic_write_text(path, json.dumps(_clean(doc), indent=1, allow_nan=False) + "\n")
    if args.json:
        print(json.dumps(_clean({"version": minor, "path": str(path), **entry}), indent=1, allow_nan=False))
        return 0
    print(format_table({minor: entry}))
    print(f"wrote CPython {minor}'s constants to {path}; runs of {minor} use them from now on"
          + ("" if args.output is None or Path(args.output) == user_costs_path()
             else f" when GCPERF_COSTS={path}"))
    return 0


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= v <= 100:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..100, got {text!r}")
    return v


def add_validate_parser(sub) -> None:
    """Register ``gcperf validate``."""
    p = sub.add_parser("validate", help="record, calibrate, predict held-out settings and run them for real",
                       usage="gcperf validate [options] -- script.py [args ...]",
                       description="Record the program at the default, calibrate a model, predict held-out GC "
                                   "settings (0.3x, 3x, 10x, 50x threshold0, threshold1 and threshold2 raised, "
                                   "gc.freeze() after start-up where it has one) and run the real program at each; "
                                   "print predicted against measured.")
    p.add_argument("--python", metavar="INTERPRETER", help="the CPython to run it with (default: this one)")
    p.add_argument("--reps", type=_positive_int, default=3, help="real runs per setting (medians; default 3)")
    p.add_argument("--settings", help="settings to check instead of the held-out set: 'T0,T1,T2;T0,T1,T2'")
    p.add_argument("--timeout", type=seconds, metavar="S", help="stop any run of the program after S seconds")
    p.add_argument("--freeze-at", type=seconds, metavar="S",
                   help="the program's start-up ends S seconds after its start: the held-out settings include "
                        "gc.freeze() there (default: found from when it stops importing modules, if it does)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the JSON result to FILE (never overwritten)")
    p.add_argument("program", nargs=argparse.REMAINDER, help="the script and its arguments (after --)")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args) -> int:
    from ..interpreters import resolve
    from .validate import format_result, parse_settings, validate

    program = list(args.program)
    if program and program[0] == "--":
        program = program[1:]
    if not program:
        raise GcperfError("no program given: gcperf validate [options] -- script.py [args]")
    if not Path(program[0]).is_file():
        raise GcperfError(f"no such script: {program[0]}")
    out = check_output(Path(args.output)) if args.output else None
    python = resolve(args.python)
    settings = parse_settings(args.settings, python.thresholds) if args.settings else None
    say = (lambda s: None) if args.json else (lambda s: print(s, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="gcperf-validate-") as tmp:
        res = validate(program, python, reps=args.reps, settings=settings, workdir=tmp, timeout_s=args.timeout,
                       freeze_at_s=args.freeze_at, say=say)
    res.pop("recording", None)
    text = json.dumps(_clean(res), indent=1, default=_plain, allow_nan=False)
    if out is not None:
        atomic_write_text(out, text + "\n")
    print(text if args.json else format_result(res))
    return 0


def _clean(x):
    """JSON-able copy: numpy scalars to Python, non-finite floats to None (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _plain(x):
    try:
        return x.item()
    except AttributeError:
        return str(x)
