"""Wall time of the standard experiments' sweeps (quick mode by default).

    python benchmarks/bench_sweeps.py            # every experiment in quick mode, all cores
    python benchmarks/bench_sweeps.py --full -j 2 web-service

Each sweep runs into a fresh temporary folder (charts included, as `gcperf sweep` does).
As a yardstick measured in the same run, the script first times one quick run of the web
workload in this process: on a slower or busier machine both figures grow together.
The budget of issue 4 is 60 s per quick sweep on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from gcperf import Scenario, simulate
from gcperf.studies.charts import plot_results
from gcperf.studies.experiment import load_experiment
from gcperf.studies.sweep import sweep

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
BUDGET_S = 60.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="experiments (default: every file in experiments/)")
    ap.add_argument("--full", action="store_true", help="the full grid instead of the quick mode")
    ap.add_argument("-j", "--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = ap.parse_args()
    names = args.names or sorted(p.stem for p in EXPERIMENTS.glob("*.toml"))

    simulate(Scenario("web", duration_s=0.2))  # load the compiled kernels
    t = time.perf_counter()
    r = simulate(Scenario("web", duration_s=2.0, seed=1))
    yard = time.perf_counter() - t
    print(f"yardstick: one 2 s web run in this process: {yard:.2f} s "
          f"({r.summary_dict()['allocations'] / yard / 1e6:.1f} M allocations/s)")
    print(f"{'experiment':<24} {'mode':<6} {'runs':>5} {'workers':>7} {'wall s':>8}  budget")
    over = 0
    for name in names:
        exp = load_experiment(name, EXPERIMENTS)
        runs = len((exp if args.full else exp.with_quick()).runs())
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            out = sweep(exp, Path(tmp) / name, quick=not args.full, workers=args.workers, progress=lambda line: None)
            plot_results(out)
            dt = time.perf_counter() - t
        verdict = "" if args.full else ("ok" if dt < BUDGET_S else f"OVER {BUDGET_S:.0f} s")
        over += verdict.startswith("OVER")
        print(f"{name:<24} {'full' if args.full else 'quick':<6} {runs:>5} {args.workers:>7} {dt:>8.1f}  {verdict}")
    if over:
        raise SystemExit(f"{over} quick sweep(s) over the {BUDGET_S:.0f} s budget")


if __name__ == "__main__":
    main()
