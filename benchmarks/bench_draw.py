"""The compiled workload draw (gcperf/workload/drawkernel.py) against the numpy draw it replaces.

    python benchmarks/bench_draw.py [--rounds N] [--recording FILE] [--duration S]

Two workloads: a calibrated model (calibrated here from a recording kept with the validation
suite, by default tp_docutils on 3.12.1: ~150 phases of a few thousand allocations, four lifetime
components each) and the built-in ``web`` workload (two long phases). For each, every round times
the numpy draw and the compiled one back to back (interleaved, so a noisy neighbour hits both),
first the chunks alone, then whole runs (collector only, and with the memory model in line); it
checks that both draws give the same chunks and the same collections. Figures are medians over the
rounds, printed with the load and the CPU other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_yardsticks import Conditions  # noqa: E402

from gcperf import GCSettings, Scenario, simulate  # noqa: E402
from gcperf.engine.runner import _make_stream  # noqa: E402
from gcperf.workload.stream import StatisticalStream  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECORDING = ROOT / "results" / "validation" / "data" / "3.12.1" / "tp_docutils.gcrec.json.gz"


def _chunks(sc: Scenario, compiled: bool) -> tuple[float, list]:
    StatisticalStream.compiled_draw = compiled
    stream = _make_stream(sc)
    t = time.perf_counter()
    out = [(ch.cand_death.sum(), ch.d.sum(), len(ch.cand)) for ch in stream.chunks()]
    return time.perf_counter() - t, out


def _run(sc: Scenario, compiled: bool) -> tuple[float, object]:
    StatisticalStream.compiled_draw = compiled
    t = time.perf_counter()
    r = simulate(sc, memory_thread=False)
    return time.perf_counter() - t, r.collections


def _compare(label: str, sc: Scenario, rounds: int, fn) -> None:
    fn(sc, True), fn(sc, False)  # load the kernels, warm the caches
    times: dict[bool, list[float]] = {False: [], True: []}
    with Conditions() as cond:
        for _ in range(rounds):
            outs = {}
            for compiled in (False, True):
                dt, outs[compiled] = fn(sc, compiled)
                times[compiled].append(dt)
            same = outs[False].equals(outs[True]) if hasattr(outs[False], "equals") else outs[False] == outs[True]
            if not same:
                print(f"bench_draw: {label}: the two draws differ", file=sys.stderr)
                raise SystemExit(1)
    a, b = statistics.median(times[False]), statistics.median(times[True])
    print(f"  {label:44s} numpy {a:7.3f} s   compiled {b:7.3f} s   x{a / b:.2f}   ({cond.text()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--recording", default=str(DEFAULT_RECORDING), help="the recording to calibrate the model from")
    ap.add_argument("--duration", type=float, default=10.0, help="mutator seconds of the web runs (default 10)")
    args = ap.parse_args()
    if args.rounds < 1 or args.duration <= 0:
        print("bench_draw: --rounds must be at least 1 and --duration above 0", file=sys.stderr)
        raise SystemExit(2)
    from gcperf.calibration.calibrate import calibrate
    from gcperf.errors import GcperfError
    from gcperf.recording.format import load_recording

    try:
        rec = load_recording(args.recording)
        t = time.perf_counter()
        model = calibrate(rec).workload
    except GcperfError as e:
        print(f"bench_draw: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"calibrated {Path(args.recording).name} in {time.perf_counter() - t:.1f} s: {len(model.phases)} phases")
    minor = rec.minor
    cases = [
        (f"model ({len(model.phases)} phases)", Scenario(model, GCSettings(version=minor), seed=0, memory=False),
         Scenario(model, GCSettings(version=minor), seed=0, memory=True)),
        (f"web {args.duration:g} s", Scenario("web", GCSettings(version=minor), seed=0, duration_s=args.duration, memory=False),
         Scenario("web", GCSettings(version=minor), seed=0, duration_s=args.duration, memory=True)),
    ]
    for label, plain, mem in cases:
        print(label)
        _compare("chunks drawn", plain, args.rounds, _chunks)
        _compare("whole run, collector only", plain, args.rounds, _run)
        _compare("whole run, memory model in line", mem, args.rounds, _run)


if __name__ == "__main__":
    main()
