"""The ``gcperf`` command line: subcommands with a dispatch table.

Every user error ends as one line on stderr and exit status 2; an interrupt
ends with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .calibration.cli import add_calibrate_costs_parser, add_calibrate_parser, add_validate_parser
from .errors import GcperfError
from .recording.cli import add_record_parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints the usage too)
        self.exit(2, f"gcperf: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


MAX_WORKERS = 256  # more local processes than this is a typo, not a machine


def _workers(text: str) -> int:
    v = _nonneg_int(text)
    if not 1 <= v <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected an integer in 1..{MAX_WORKERS}, got {text!r}")
    return v


# ---------------------------------------------------------------- gcperf run


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="simulate one scenario and print its summary",
                       description="Simulate one scenario (default: the built-in web workload on CPython 3.13).")
    p.add_argument("-w", "--workload", default="web",
                   help="built-in workload name (see `gcperf workloads`) or a JSON workload file (default: web)")
    p.add_argument("-V", "--version", dest="py_version", default=None,
                   help="CPython version whose collector to simulate, e.g. 3.12 or 3.12.1 (default: 3.13)")
    p.add_argument("-t", "--thresholds", nargs="+", type=_nonneg_int, metavar="N",
                   help="gc.set_threshold values: threshold0 [threshold1 [threshold2]]")
    p.add_argument("--disable", action="store_true", help="simulate gc.disable() at start-up")
    p.add_argument("--freeze-after", metavar="PHASE", help="call gc.freeze() when this phase ends")
    p.add_argument("--collect-every", type=_positive_float, metavar="SECONDS",
                   help="a timer thread calls gc.collect() every SECONDS of wall time")
    p.add_argument("-d", "--duration", type=_positive_float, metavar="SECONDS",
                   help="stretch or shrink the workload to this many mutator seconds")
    p.add_argument("--quick", action="store_true", help="a tenth of the workload's duration (a fast look)")
    p.add_argument("--no-memory", action="store_true", help="do not simulate the memory footprint (faster)")
    p.add_argument("-s", "--seed", type=_nonneg_int, default=0, help="root seed (default: 0)")
    p.add_argument("-o", "--output", metavar="DIR", help="write collections/timeline/summary CSVs and meta.json here")
    p.add_argument("--force", action="store_true",
                   help="replace the results of an earlier `gcperf run -o` in DIR (only gcperf's files)")
    p.add_argument("--trace-out", metavar="FILE",
                   help="also write the run as Chrome/Perfetto trace events (JSON: collections as slices per "
                        "generation, heap and memory as counters; open in ui.perfetto.dev); never over a file")
    p.add_argument("--json", action="store_true", help="print the summary as strict JSON (NaN as null)")
    p.add_argument("--yes", action="store_true",
                   help="run even when the run is estimated to take more than 30 minutes")
    p.set_defaults(func=_cmd_run)


def _scenario_from_args(args):
    from .cpython.versions import DEFAULT_VERSION
    from .engine.scenario import GCSettings, Scenario
    from .workload.builtin import BUILTIN_WORKLOADS
    from .workload.specs import load_workload

    wl = args.workload
    if wl not in BUILTIN_WORKLOADS and (wl.endswith(".json") or "/" in wl):
        wl = load_workload(wl)
    th = None
    if args.thresholds:
        if len(args.thresholds) > 3:
            raise GcperfError(f"--thresholds takes at most 3 values, got {len(args.thresholds)}")
        from .cpython.versions import preset

        version = args.py_version if args.py_version is not None else DEFAULT_VERSION
        default = preset(version).thresholds
        th = tuple(args.thresholds) + default[len(args.thresholds):]
    gc = GCSettings(
        version=args.py_version if args.py_version is not None else DEFAULT_VERSION,
        thresholds=th,
        enabled=not args.disable,
        freeze_after=args.freeze_after,
        collect_every_s=args.collect_every,
    )
    duration = args.duration
    mem = not args.no_memory
    sc = Scenario(wl, gc, seed=args.seed, duration_s=duration, memory=mem)
    if args.quick:
        sc = Scenario(wl, gc, seed=args.seed, duration_s=(duration or sc.resolved_workload().duration_s) / 10,
                      memory=mem)
    return sc


def format_summary(s: dict, elapsed_s: float | None = None, recorded_s: float | None = None) -> str:
    """A readable multi-line rendering of a summary row (``elapsed_s``: the simulation's wall time;
    ``recorded_s``: the run time of the recorded program the model was calibrated from)."""

    def ms(v: float) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f} ms"

    th = (s["threshold0"], s["threshold1"], s["threshold2"])
    lines = [
        f"gcperf {s['gcperf_version']}: workload {s['workload']!r} on CPython {s['version']} collector, "
        f"thresholds {th}{'' if s['enabled'] else ', gc disabled'}, seed {s['seed']}",
        f"  simulated       {s['duration_s']:.3f} s of mutator time, {s['allocations']:,} GC allocations, "
        f"wall time {s['wall_time_s']:.3f} s",
        f"  collections     {s['collections']:,} (gen0 {s['collections_gen0']:,}, gen1 {s['collections_gen1']:,}, "
        f"gen2 {s['collections_gen2']:,}); {s['pauses_per_s']:.2f} per second"
        + (f"; {s['full_vetoed']:,} full collections vetoed by the 25 % rule" if s["full_vetoed"] else ""),
        f"  pauses          total {ms(s['pause_total_ms'])}, mean {ms(s['pause_mean_ms'])}, "
        f"p50 {ms(s['pause_p50_ms'])}, p99 {ms(s['pause_p99_ms'])}, max {ms(s['pause_max_ms'])}",
        f"  GC share        {100 * s['gc_share']:.2f} % of wall time",
        f"  cyclic garbage  peak {s['peak_garbage_objects']:,} objects, mean {s['mean_garbage_objects']:,.0f} objects "
        "waiting for a collection",
        f"  live objects    {s['final_live_objects']:,} tracked at the end",
    ]
    if s.get("memory"):
        lines += [
            f"  memory          peak {s['peak_footprint_mb']:.1f} MiB, mean {s['mean_footprint_mb']:.1f} MiB, "
            f"end {s['final_footprint_mb']:.1f} MiB resident; peak {s['peak_arenas']:.0f} pymalloc arenas",
            f"  garbage bytes   peak {s['peak_garbage_mb']:.2f} MiB of cyclic garbage; "
            f"fragmentation at the end {s['final_fragmentation_mb']:.1f} MiB",
        ]
    from .cpython.versions import preset

    pre = preset(str(s["version"]))  # (the version the summary's run simulated)
    if not pre.checked_here:
        lines.append(f"  collector       {s['version']}: {pre.evidence}")
    if elapsed_s is not None:
        rate = s["allocations"] / elapsed_s / 1e6 if elapsed_s > 0 else float("nan")
        vs = ""
        if recorded_s is not None and elapsed_s > 0:
            vs = f"; the recorded program ran {recorded_s:.2f} s: {recorded_s / elapsed_s:.1f}x faster"
        lines.append(f"  (simulated in {elapsed_s:.2f} s: {rate:.1f} M allocations per second{vs})")
    return "\n".join(lines)


def recorded_wall_s(sc) -> float | None:
    """The run time of the program a calibrated model was recorded from (its first statement to its
    end, ``provenance.program.wall_s``), when the scenario simulates the whole recorded run (no
    ``duration_s`` of its own); else None."""
    if sc.duration_s is not None:
        return None
    prov = sc.resolved_workload().provenance
    program = prov.get("program") if isinstance(prov, dict) else None
    wall = program.get("wall_s") if isinstance(program, dict) else None
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not wall > 0 or wall == float("inf"):
        return None
    return float(wall)


def _cmd_run(args) -> int:
    from .engine.kernels import ensure_kernels
    from .engine.runner import simulate
    from .store.output import check_run_output, json_text, write_run
    from .studies.budget import check_run, estimate
    from .studies.progress import SHOW_AFTER_S, RunProgress

    sc = _scenario_from_args(args)
    if args.output is not None:
        check_run_output(args.output, force=args.force)  # before the work, not after
    if args.trace_out is not None:
        from .recording.recorder import check_output

        check_output(args.trace_out)
    est = estimate(sc)
    check_run(est, args.yes)
    warm = ensure_kernels(sc.gc.version) if sc.memory else 0.0  # outside the timed simulation
    bar = RunProgress(f"simulating {sc.resolved_workload().name} on {sc.gc.version}")
    t0 = time.perf_counter()
    try:
        result = simulate(sc, progress=bar if est.seconds > SHOW_AFTER_S else None)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    summary = result.summary_dict()
    if args.output is not None:
        write_run(result, args.output, force=args.force, command=["gcperf", *sys.argv[1:]])
    if args.trace_out is not None:
        from .store.export import write_trace

        write_trace(result, args.trace_out)
    from .calibration.selfcheck import warning_of

    distrust = warning_of(sc.resolved_workload().provenance)
    if args.json:
        print(json_text(summary), end="")  # strict JSON: NaN is null
        if distrust:
            print(f"gcperf: warning: {distrust}", file=sys.stderr)
    else:
        print(format_summary(summary, elapsed, recorded_wall_s(sc)))
        if distrust:
            print(f"  warning: {distrust}")
        if warm > 1.0:
            print(f"  (and {warm:.1f} s compiling the allocator kernels, once: later runs load them from the cache)")
        if args.output is not None:
            print(f"  tables written to {args.output}/")
        if args.trace_out is not None:
            print(f"  trace events written to {args.trace_out} (open it in ui.perfetto.dev)")
    return 0


# ------------------------------------------------------------ info commands


def _add_workloads(sub) -> None:
    p = sub.add_parser("workloads", help="list the built-in workloads (or export one as a JSON template)")
    p.add_argument("--export", metavar="NAME", help="write built-in workload NAME as JSON, a template to edit")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="with --export: write to FILE (never over an existing file; default: stdout)")
    p.set_defaults(func=_cmd_workloads)


def _cmd_workloads(args) -> int:
    from .workload.builtin import BUILTIN_WORKLOADS

    if args.output is not None and args.export is None:
        raise GcperfError("-o goes with --export NAME")
    if args.export is not None:
        from .recording.recorder import check_output
        from .safeio import atomic_write_text
        from .workload.specs import workload_to_dict

        if args.export not in BUILTIN_WORKLOADS:
            raise GcperfError(f"unknown workload {args.export!r}; built-in: {', '.join(BUILTIN_WORKLOADS)}")
        text = json.dumps(workload_to_dict(BUILTIN_WORKLOADS[args.export]), indent=1) + "\n"
        if args.output is None:
            print(text, end="")
            return 0
        atomic_write_text(check_output(args.output), text)
        print(f"workload {args.export!r} written to {args.output} (gcperf run -w {args.output})")
        return 0
    for name, wl in BUILTIN_WORKLOADS.items():
        phases = ", ".join(f"{p.name} {p.duration_s:g} s at {p.alloc_rate_per_s / 1e6:g} M/s" for p in wl.phases)
        print(f"{name:8s} {wl.description}\n         phases: {phases}")
    return 0


def _add_experiments(sub) -> None:
    p = sub.add_parser("experiments", help="list the experiments (shipped with gcperf, and ./experiments/)")
    p.add_argument("--experiments-dir", default="experiments", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_experiments)


def _cmd_experiments(args) -> int:
    from .studies.experiment import packaged_experiments

    found: dict[str, tuple[str, str]] = {}  # name -> (where, text)
    for name, res in packaged_experiments().items():
        found[name] = ("shipped", res.read_text(encoding="utf-8"))
    local = Path(args.experiments_dir)
    if local.is_dir():
        for f in sorted(local.glob("*.toml")):
            try:
                found[f.stem] = (str(f), f.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    for name, (where, text) in sorted(found.items()):
        # the question: the comment lines of the paragraph that opens the file
        first = text.split("\n\n")[0] if text.startswith("#") else ""
        question = " ".join(x.lstrip("# ").strip() for x in first.splitlines() if x.startswith("#"))
        print(f"{name}  ({where})" + (f"\n    {question}" if question else ""))
    print("run one with: gcperf sweep NAME [--quick]")
    return 0


def _add_versions(sub) -> None:
    p = sub.add_parser("versions", help="list the modelled CPython versions")
    p.set_defaults(func=_cmd_versions)


def _cmd_versions(args) -> int:
    from .cpython.versions import SUPPORTED_VERSIONS, preset

    for v in SUPPORTED_VERSIONS:
        pre = preset(v)
        where = "at the next eval-breaker check" if pre.deferred_trigger else "inside the allocation"
        counts = "tracked objects" if pre.counts_tracked_only else "GC allocations"
        print(f"{v:5s} releases {pre.releases}\n      thresholds {pre.thresholds}, count0 counts {counts}, "
              f"collection runs {where}\n      evidence: {pre.evidence}")
        if pre.free_threaded:
            gates = [f"count0 > threshold0 and count0 {'>=' if pre.ft_live_ge else '>'} long_lived_total/4"]
            if pre.ft_memory_gate:
                gates.append("resident memory grew by max(10 %, 128 KiB) or 40 x threshold0 deferred")
            print("      free-threaded: count0 moves in steps of 512 (a per-thread buffer); a collection needs "
                  + " and ".join(gates) + "; every collection is of the whole heap (reported as generation 0 "
                  "when automatic); footprint from pymalloc's model (the build uses mimalloc)")
        if pre.incremental:
            later = pre.incremental != "3.14.0"
            print("      incremental: count0 is young.count; each automatic collection is an increment (reported "
                  "as generation 1): the budget grows by new + min(heap/100 at threshold1 10, "
                  f"{'2' if later else '1.5'} x new){', and while it is negative nothing is collected' if later else ''}; "
                  "the first increment of a scavenge marks what the roots reach (every live object but "
                  f"{pre.interpreter_unmarked} of the interpreter's, gcperf assumes; nothing while objects are "
                  "frozen) and collects nothing; the others collect the young objects and the oldest "
                  "pending ones up to the budget; threshold2 does not exist (reported as 0)")
    return 0


# ------------------------------------------------------------ sweep / plot / recommend


def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="run an experiment's grid x replicates, write results/<experiment>/",
                       description="Run an experiment (experiments/<NAME>.toml, a TOML path, or 'all').")
    p.add_argument("experiment", help="experiment name, TOML file, or 'all' for every file in experiments/")
    p.add_argument("--quick", action="store_true", help="the experiment's quick mode (small grid, short runs)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="results folder (default: results/<experiment>, results/<experiment>-quick with --quick)")
    p.add_argument("--force", action="store_true",
                   help="discard gcperf's earlier results in the folder and start again (other files are kept)")
    p.add_argument("-j", "--workers", type=_workers, default=None,
                   help=f"local worker processes, 1..{MAX_WORKERS} (default: all cores; 1: in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster (e.g. tcp://host:8786)")
    p.add_argument("--yes", action="store_true",
                   help="run even when a run is estimated beyond 30 minutes or the sweep beyond 24 hours")
    p.add_argument("--repair", action="store_true",
                   help="drop corrupt lines of runs.jsonl (each is named) and redo their runs")
    p.add_argument("--no-plots", action="store_true", help="skip the charts")
    p.add_argument("--experiments-dir", default="experiments", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args) -> int:
    from .studies.budget import check_sweep
    from .studies.charts import plot_results
    from .studies.experiment import load_experiment, packaged_experiments
    from .studies.sweep import check_sweep_output, default_output, plan_sweep, print_progress, sweep

    if args.experiment == "all":
        names = sorted(x.stem for x in Path(args.experiments_dir).glob("*.toml")) or sorted(packaged_experiments())
        if not names:
            raise GcperfError(f"no experiments in {args.experiments_dir}/")
        if args.output is not None:
            raise GcperfError("-o cannot be used with 'all' (each experiment goes to results/<name>)")
    else:
        names = [args.experiment]
    if args.scheduler:
        from .studies.executors import check_scheduler

        check_scheduler(args.scheduler)
    exps = [load_experiment(n, args.experiments_dir) for n in names]  # all valid before any runs
    outs = [Path(args.output) if args.output is not None else default_output(exp, args.quick) for exp in exps]
    for exp, out in zip(exps, outs, strict=True):  # every folder checked before any run
        check_sweep_output(exp.with_quick() if args.quick else exp, out, force=args.force)
    plans = [plan_sweep(exp.with_quick() if args.quick else exp, args.workers, args.scheduler) for exp in exps]
    for plan in plans:  # every sweep's size checked before any runs
        check_sweep(plan.seconds, plan.longest_s, args.yes)
    for exp, out, plan in zip(exps, outs, plans, strict=True):
        t0 = time.perf_counter()
        print(f"gcperf sweep {exp.name}{' (quick)' if args.quick else ''}: {plan.describe()} -> {out}/",
              file=sys.stderr)
        sweep(exp, out, quick=args.quick, force=args.force, workers=args.workers, scheduler=args.scheduler,
              command=["gcperf", *sys.argv[1:]], progress=print_progress, repair=args.repair)
        if not args.no_plots:
            for path in plot_results(out):
                print(f"  chart: {path}", file=sys.stderr)
        print(f"{exp.name}: done in {time.perf_counter() - t0:.1f} s; tables in {out}/")
    return 0


def _add_plot(sub) -> None:
    p = sub.add_parser("plot", help="draw the charts of a results folder",
                       description="Draw tradeoff, heatmap, pause-distribution and timeline charts into "
                                   "RESULTS/charts/. With constraints or an objective (as for recommend) the "
                                   "recommendation they give is marked; without, none is.")
    p.add_argument("results", help="results folder written by `gcperf sweep`")
    _add_constraints(p)
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args) -> int:
    from .studies.charts import plot_results
    from .studies.recommend import Constraints

    c = Constraints(args.max_p99_pause_ms, args.max_pause_ms, args.max_footprint_mb, args.max_footprint_increase,
                    args.objective, args.py_version, dict(args.trait))
    for path in plot_results(args.results, constraints=c):
        print(path)
    return 0


def _add_recommend(sub) -> None:
    p = sub.add_parser("recommend", help="recommend a GC setting from sweep results and your constraints")
    p.add_argument("results", help="results folder written by `gcperf sweep`")
    _add_constraints(p)
    p.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    p.set_defaults(func=_cmd_recommend)


def _add_constraints(p) -> None:
    """The constraint and objective options of recommend (and report)."""
    from .studies.recommend import OBJECTIVES

    p.add_argument("--max-p99-pause-ms", type=_positive_float, metavar="MS", help="bound on the 99th-percentile pause")
    p.add_argument("--max-pause-ms", type=_positive_float, metavar="MS", help="bound on the longest pause")
    p.add_argument("--max-footprint-mb", type=_positive_float, metavar="MIB", help="bound on the peak footprint")
    p.add_argument("--max-footprint-increase", type=float, metavar="PERCENT",
                   help="bound on the peak-footprint increase over the default, in percent")
    p.add_argument("--objective", choices=list(OBJECTIVES), default="gc-time",
                   help="what to minimise among acceptable settings (default: gc-time)")
    p.add_argument("-V", "--version", dest="py_version", help="CPython version (when the sweep varied it)")
    p.add_argument("--trait", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
                   help="the workload trait value to recommend for, when the sweep varied it "
                        "(e.g. serve.cyclic_share=0.05; repeatable)")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _cmd_recommend(args) -> int:
    from .studies.recommend import Constraints, format_recommendation, recommend

    c = Constraints(args.max_p99_pause_ms, args.max_pause_ms, args.max_footprint_mb, args.max_footprint_increase,
                    args.objective, args.py_version, dict(args.trait))
    r = recommend(args.results, c)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2, default=str, allow_nan=False))
    else:
        print(format_recommendation(r))
    return 0


def _add_compare(sub) -> None:
    from .studies.compare import add_compare_parser

    add_compare_parser(sub, _positive_float, _nonneg_int)


def _add_report(sub) -> None:
    from .studies.report import add_report_parser

    add_report_parser(sub, _add_constraints)


def _add_diff(sub) -> None:
    from .studies.diff import add_diff_parser

    add_diff_parser(sub)


COMMANDS = (_add_run, _add_sweep, _add_plot, _add_recommend, _add_report, _add_compare, _add_diff, add_record_parser, add_calibrate_parser,
            add_calibrate_costs_parser, add_validate_parser, _add_workloads, _add_experiments, _add_versions)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from . import __version__

    parser = _Parser(prog="gcperf", description="Simulate CPython's garbage collector under a workload.")
    parser.add_argument("--version", action="version", version=f"gcperf {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    for p in sub.choices.values():  # `gcperf run --debug` as well as `gcperf --debug run`
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that cleanup (worker processes, the folder lock) runs."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _quiet_broken_pipe() -> int:
    # the reader went away (`gcperf ... | head`): stop without a word; point stdout at /dev/null so
    # that the interpreter's final flush does not complain either
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gcperf`` command.

    Returns the exit status: 0 success, 2 bad input (one line on stderr), 130 Ctrl-C,
    143 SIGTERM, 141 a closed pipe (quietly), 1 an unexpected error (one line and a
    hint to re-run with ``--debug``, which shows the traceback).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a usage error (already one line on stderr), --help or --version
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False))
    old = None
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.func(args))
    except GcperfError as e:
        print(f"gcperf: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gcperf: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("gcperf: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as e:  # a bug, not the user's mistake: one line, the traceback on request
        stop = _stopped_by(e)
        if stop is not None:  # an interrupt that reached us wrapped (numba's SystemError, for one)
            print(f"gcperf: {'terminated' if isinstance(stop, Terminated) else 'interrupted'}", file=sys.stderr)
            return 143 if isinstance(stop, Terminated) else 130
        if debug:
            raise
        where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
        print(f"gcperf: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}{at}; "
              "re-run with --debug for the traceback", file=sys.stderr)
        return 1
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _stopped_by(e: BaseException) -> BaseException | None:
    """The interrupt (Ctrl-C or SIGTERM) behind ``e``, if one is in its chain of causes: a signal
    that lands inside a compiled kernel comes back as numba's "returned a result with an exception
    set" SystemError, the KeyboardInterrupt as its cause."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, (KeyboardInterrupt, Terminated)):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
