"""``gcperf record``: the command line of the recorder (registered by ``gcperf/cli.py``).

    gcperf record [--python INTERPRETER] [-o FILE] [--no-pattern] [--timeout S] -- script.py [args ...]
    gcperf record [options] -m module [args ...]
    gcperf record --show FILE

Every failure (no such script or interpreter, a program that fails, is killed or never
collects, an output file that exists) is one line on stderr and exit status 2, through the
global handler of ``gcperf.cli.main``; nothing is written then.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import GcperfError
from .format import Recording, load_recording
from .recorder import RecordOptions, check_output, record

SUFFIX = ".gcrec.json.gz"


def seconds(text: str) -> float:
    """argparse type of a time limit: a finite number of seconds > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return v


def add_record_parser(sub) -> None:
    """Register ``gcperf record`` on the subcommand table ``sub``."""
    p = sub.add_parser(
        "record", help="run a real Python program and record its garbage collections",
        usage="gcperf record [options] -- script.py [args ...]\n"
              "       gcperf record [options] -m module [args ...]\n"
              "       gcperf record --show FILE",
        description="Run a Python program under a real CPython (3.8+) with light instrumentation of its "
                    "collector, and write one recording file: every collection (time, pause, generation, "
                    "objects collected, generation sizes), the resident memory over time and the provenance.")
    p.add_argument("--python", metavar="INTERPRETER",
                   help="the CPython to run it with: a path, a command on PATH or a version such as 3.12 "
                        "(default: the interpreter running gcperf)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"the recording file (default: <script name>{SUFFIX} in this folder); "
                        "an existing file is never overwritten")
    p.add_argument("--no-pattern", action="store_true",
                   help="keep the interpreter's GC thresholds (default: threshold0 varies in a known pattern, "
                        "which shows how the program answers other settings)")
    p.add_argument("--timeout", type=seconds, metavar="S", help="stop the program after S seconds (nothing is written)")
    p.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script, as python -m does")
    p.add_argument("--show", metavar="FILE", help="print the summary of an existing recording and exit")
    p.add_argument("program", nargs=argparse.REMAINDER, help="the script and its arguments (after --)")
    p.set_defaults(func=_cmd_record)


def default_output(program: list[str]) -> Path:
    """``prog.gcrec.json.gz`` for ``prog.py``, ``http.server.gcrec.json.gz`` for ``-m http.server``."""
    name = program[1] if program[0] == "-m" else Path(program[0]).stem
    return Path(f"{name or 'program'}{SUFFIX}")


def _cmd_record(args) -> int:
    program = list(args.program)
    if program and program[0] == "--":
        program = program[1:]
    if args.show is not None:
        if program or args.module:
            raise GcperfError("--show prints the summary of an existing recording; give it no program")
        rec = load_recording(args.show)
        print(format_summary(summarize(rec)))
        return 0
    if args.module is not None:
        program = ["-m", args.module, *program]
    if not program:
        raise GcperfError("no program given: gcperf record [options] -- script.py [args ...]")
    out = Path(args.output) if args.output else default_output(program)
    check_output(out)  # also checked by record(); here so that a bad -o fails before the interpreter is probed
    opts = RecordOptions(python=args.python, pattern="none" if args.no_pattern else "default",
                         timeout_s=args.timeout, show_traceback=bool(getattr(args, "debug", False)))

    def say(line: str) -> None:  # stdout: stderr holds nothing but the program's own and one error line
        print(line, flush=True)

    path = record(program, out, opts, command=["gcperf", *sys.argv[1:]], say=say)
    print(format_summary(summarize(load_recording(path))))
    return 0


# ------------------------------------------------------------------ summary


def summarize(rec: Recording) -> dict:
    """The figures ``gcperf record`` prints after a run (a plain dict: units in the names)."""
    coll = rec.collections
    gens = coll["generation"].value_counts()
    wall_s = rec.wall_s
    pause_s = float(coll["pause_s"].sum())
    measure_s = float(rec.doc.get("measure_s", 0.0))
    hwm = rec.memory["hwm_kib"]
    peak_kib = float(hwm.max()) if len(hwm) and hwm.max() > 0 else float(rec.doc.get("end", {}).get("rss_kib", -1))
    settings = rec.doc["settings"]
    interp = rec.doc["interpreter"]
    try:
        size = rec.path.stat().st_size
    except OSError:
        size = -1
    return {
        "path": str(rec.path),
        "file_bytes": size,
        "argv": list(rec.doc["program"]["argv"]),
        "version": rec.version,
        "executable": str(interp.get("executable", "")),
        "thresholds": list(rec.default_thresholds),
        "wall_s": wall_s,
        "startup_s": float(rec.doc["program"].get("startup_s", float("nan"))),
        "collections": int(len(coll)),
        "collections_gen": [int(gens.get(g, 0)) for g in range(3)],
        "explicit": int(coll["explicit"].sum()),
        "pause_total_s": pause_s,
        "pause_max_s": float(coll["pause_s"].max()),
        "gc_share": pause_s / wall_s if wall_s > 0 else float("nan"),
        "pattern_name": str(settings.get("pattern_name", "")),
        "pattern_stopped_by_program": bool(settings.get("pattern_stopped_by_program", False)),
        "peak_rss_mb": peak_kib / 1024.0 if peak_kib > 0 else float("nan"),
        "memory_samples": int(len(rec.memory)),
        "measure_s": measure_s,
        "overhead": measure_s / wall_s if wall_s > 0 else float("nan"),
        "budget": float(settings.get("budget", float("nan"))),
    }


def format_summary(s: dict) -> str:
    """The summary of ``summarize`` as a few readable lines."""
    g = s["collections_gen"]
    if s["pattern_name"] == "default":
        pattern = "threshold0 varied in gcperf's pattern" + (
            " until the program set thresholds itself" if s["pattern_stopped_by_program"] else "")
    else:
        pattern = f"default thresholds {tuple(s['thresholds'])}"
    rss = "-" if math.isnan(s["peak_rss_mb"]) else f"{s['peak_rss_mb']:.1f} MiB"
    size = f" ({s['file_bytes'] / 1024:.1f} KiB)" if s["file_bytes"] >= 0 else ""
    return "\n".join([
        f"recorded {' '.join(s['argv'])} on CPython {s['version']} ({s['executable']})",
        f"  run time        {s['wall_s']:.3f} s (first statement to exit; {s['startup_s']:.3f} s start-up before it)",
        f"  collections     {s['collections']:,} (gen0 {g[0]:,}, gen1 {g[1]:,}, gen2 {g[2]:,}; "
        f"{s['explicit']:,} by gc.collect()); {pattern}",
        f"  pauses          total {1e3 * s['pause_total_s']:.1f} ms = {100 * s['gc_share']:.1f} % of run time, "
        f"longest {1e3 * s['pause_max_s']:.2f} ms",
        f"  peak RSS        {rss} ({s['memory_samples']:,} memory samples)",
        f"  recorder        {1e3 * s['measure_s']:.1f} ms measuring generations = {100 * s['overhead']:.1f} % "
        f"of run time (budget {100 * s['budget']:.0f} % + 2 ms), outside the pauses",
        f"  written to      {s['path']}{size}",
    ])
