"""Where the memory model runs: in line, on its own thread, or left to decide (the default).

The memory model (pymalloc arenas/pools/blocks, system malloc) can run on a worker thread
fed through a queue (gcperf/memory/queued.py). Whether that pays depends on how much work
each call carries: the engine calls it once per collection and once per chunk, so a program
that collects every few thousand allocations hands over small batches, and the hand-over
costs more than the thread saves. Left to decide, the queue switches between the two by the
size of the allocation batches.

For each workload the three modes run interleaved, round after round, in this process
(so a slow spell of the machine hits all alike); the script checks that the three give the
same tables and prints the median wall seconds of each, the ratios within each round, the
load average before and after, and how many CPUs this process may use.

    python benchmarks/bench_memory_thread.py [-w WORKLOAD ...] [--version V] [--repeat N]

WORKLOAD is a built-in name or a workload JSON file (a calibrated model, for example);
default: web (large batches) and cycles at threshold0 700 on 3.11 (small ones).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pandas as pd

from gcperf import GCSettings, Scenario, simulate
from gcperf.workload.specs import load_workload

MODES = (("in line", False), ("own thread", True), ("left to decide", None))


def _run(sc: Scenario, mode: bool | None) -> tuple[float, object]:
    t = time.perf_counter()
    r = simulate(sc, memory_thread=mode)
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-w", "--workload", action="append", help="built-in name or workload JSON (repeatable)")
    ap.add_argument("--version", default="3.11", help="CPython preset (default 3.11)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    args = ap.parse_args()
    os.environ.pop("GCPERF_MEMORY_THREAD", None)  # the modes are chosen per run here
    names = args.workload or ["web", "cycles"]
    print(f"CPUs this process may use: {len(os.sched_getaffinity(0))}; load average before: "
          f"{os.getloadavg()[0]:.2f}")
    for name in names:
        wl = load_workload(name) if name.endswith(".json") else name
        gc = GCSettings(version=args.version, thresholds=(700, 10, 10) if name == "cycles" else None)
        sc = Scenario(wl, gc, seed=1, memory=True)
        _run(sc, False)  # warm-up: kernels compiled or loaded
        times: dict[str, list[float]] = {m: [] for m, _ in MODES}
        ref = None
        for _ in range(args.repeat):
            for label, mode in MODES:
                dt, r = _run(sc, mode)
                times[label].append(dt)
                if ref is None:
                    ref = r
                else:
                    for a, b in ((ref.collections, r.collections), (ref.timeline, r.timeline)):
                        pd.testing.assert_frame_equal(a, b)
        base = times["in line"]
        print(f"{name} ({args.version}, memory model on, {ref.summary_dict()['allocations']:,} allocations, "
              f"{ref.summary_dict()['collections']:,} collections; median of {args.repeat} interleaved rounds)")
        for label, _ in MODES:
            ratio = [b / t for b, t in zip(base, times[label], strict=True)]
            print(f"  {label:15s}: {statistics.median(times[label]):6.2f} s   speed vs in line per round: "
                  f"{', '.join(f'{x:.2f}' for x in ratio)} (median {statistics.median(ratio):.2f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
