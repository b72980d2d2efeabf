"""One draw for many settings (`gcperf.simulate_many`) against one `simulate` per setting.

    python benchmarks/bench_shared_draw.py                 # web, 3.13, 8 settings, 5 s, both modes
    python benchmarks/bench_shared_draw.py --duration 20 --rounds 5

The settings are the web-service experiment's kind: threshold0 700 ... 20 000 x threshold1 10/50,
one seed. Each round times the separate runs and the shared ones back to back (interleaved, so
a noisy neighbour hits both), with the memory model in line in both (the shared runs take
turns in one process; a memory model on a thread of its own would make the separate runs use
the second core and hide what the draw costs), and checks that the tables are identical. The
figure is the median ratio over the rounds; the load and the CPU used by other processes are
printed with it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_yardsticks import Conditions  # noqa: E402

from gcperf import GCSettings, Scenario, simulate, simulate_many  # noqa: E402


def _same(a, b) -> bool:
    return a.collections.equals(b.collections) and a.timeline.equals(b.timeline) and a.summary.equals(b.summary)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="mutator seconds per run (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = ap.parse_args()
    if args.duration <= 0 or args.rounds < 1:
        print("bench_shared_draw: --duration must be above 0 and --rounds at least 1", file=sys.stderr)
        raise SystemExit(2)
    simulate(Scenario("web", duration_s=0.2))  # load the compiled kernels
    for memory in (False, True):
        scs = [Scenario("web", GCSettings(version="3.13", thresholds=(t0, t1, 10)), seed=3, duration_s=args.duration,
                        memory=memory) for t0 in (700, 2000, 7000, 20_000) for t1 in (10, 50)]
        ratios = []
        for _ in range(args.rounds):
            with Conditions() as c:
                t = time.perf_counter()
                apart = [simulate(sc, memory_thread=False) for sc in scs]
                t_apart = time.perf_counter() - t
                t = time.perf_counter()
                shared = simulate_many(scs, memory_thread=False)
                t_shared = time.perf_counter() - t
            if not all(_same(a, b) for a, b in zip(apart, shared, strict=True)):
                print("bench_shared_draw: the shared runs differ from the separate ones", file=sys.stderr)
                raise SystemExit(1)
            ratios.append(t_apart / t_shared)
            print(f"  memory model {'on ' if memory else 'off'}: {len(scs)} separate runs {t_apart:6.2f} s, over one "
                  f"draw {t_shared:6.2f} s (x{t_apart / t_shared:.2f}); {c.text()}")
        print(f"memory model {'on' if memory else 'off'}: one draw for {len(scs)} settings is x"
              f"{statistics.median(ratios):.2f} faster (median of {args.rounds} rounds), tables identical")


if __name__ == "__main__":
    main()
