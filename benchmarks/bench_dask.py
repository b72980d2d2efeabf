"""A sweep on a Dask LocalCluster against the same sweep in one process: speed-up and overhead per task.

    python benchmarks/bench_dask.py                       # web-service, quick mode, 2 worker processes
    python benchmarks/bench_dask.py --workers 4 --full cycles

What it measures, in one run (machines here are noisy: every figure comes with its baseline):

1. the sweep in this process (``workers=1``): wall time T1 and the runs' own compute time, once
   as ``gcperf sweep -j 1`` runs it (the memory model on a thread of its own where the machine
   has two cores or more, so it already uses a second core) and once with the memory model in
   line (one core, as in a worker of a local pool);
2. a ``distributed.LocalCluster`` of ``--workers`` processes, one thread each, started and warmed
   up (each worker loads gcperf and its compiled kernels once; timed apart, as a real cluster
   pays it once per worker, not per sweep);
3. the same sweep sent to that cluster through ``gcperf sweep --scheduler`` (the code path users
   take): wall time TW, the speed-ups T1 / TW against the ideal ``min(workers, cores)``, and the
   overhead per task, (TW x workers - the runs' compute time) / tasks (the runs of one seed that
   draw the same program go to a worker as one task, ``group_runs``), which holds the
   scheduling, the transfer of each run's summary, timeline and pauses, and the tail where fewer
   runs are left than workers;
4. a run's own compute time alone in this process against on the cluster with ``--workers`` at
   once: how much the machine's cores slow each other down (shared caches and memory bandwidth),
   which bounds what any number of workers on it can gain;
5. the round trip of an empty task through the same client (``--empty`` of them), which is what
   the scheduler alone costs per task.

The tables of both sweeps are compared: a run gives the same summary wherever it runs.
The load average before and after and the machine's cores are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from gcperf import Scenario, simulate
from gcperf.errors import GcperfError
from gcperf.studies.experiment import load_experiment
from gcperf.studies.sweep import group_runs, sweep

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def _warm() -> float:
    """Load gcperf and its kernels in a worker; return the seconds it took."""
    t = time.perf_counter()
    from gcperf import Scenario, simulate

    simulate(Scenario("web", duration_s=0.05))
    return time.perf_counter() - t


def _empty(x: int) -> int:
    return x


def _runs(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: r["index"])


def _summaries(rows: list[dict]) -> list[str]:
    # a run's summary holds nothing of where or when it ran (its compute time is beside it)
    return [json.dumps(r["summary"], sort_keys=True) for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?", default="web-service", help="experiment (default: web-service)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster (default 2)")
    ap.add_argument("--full", action="store_true", help="the full grid instead of the quick mode")
    ap.add_argument("--empty", type=int, default=500, help="empty tasks for the scheduler's round trip")
    args = ap.parse_args()
    if args.workers < 1 or args.empty < 1:
        ap.error(f"--workers and --empty must be at least 1, got {args.workers} and {args.empty}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        ap.error("this benchmark needs Dask: pip install 'gcperf[dask]'")
    try:
        exp = load_experiment(args.name, EXPERIMENTS)
    except GcperfError as e:
        ap.error(str(e))
    quick = not args.full
    cores = os.cpu_count() or 1
    load0 = os.getloadavg()
    print(f"machine: {cores} cores; load average before: {load0[0]:.2f} (1 min), {load0[1]:.2f} (5 min)")
    simulate(Scenario("web", duration_s=0.05))  # kernels loaded in this process too

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        local = sweep(exp, Path(tmp) / "local", quick=quick, workers=1, progress=lambda line: None)
        t1 = time.perf_counter() - t
        local_rows = _runs(local)
        n = len(local_rows)
        compute1 = sum(r["elapsed_s"] for r in local_rows)
        print(f"{args.name} ({'quick' if quick else 'full'}, {n} runs) in this process: {t1:.1f} s "
              f"(runs' own compute {compute1:.1f} s; memory model on its own thread where {cores} cores allow)")
        # one core's worth: the memory model in line, as in a worker of a local pool
        os.environ["GCPERF_MEMORY_THREAD"] = "0"
        try:
            t = time.perf_counter()
            inline = sweep(exp, Path(tmp) / "inline", quick=quick, workers=1, progress=lambda line: None)
            t1_inline = time.perf_counter() - t
            compute_inline = sum(r["elapsed_s"] for r in _runs(inline))
        finally:
            del os.environ["GCPERF_MEMORY_THREAD"]
        print(f"the same in this process, memory model in line (one core): {t1_inline:.1f} s")

        t = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            started = time.perf_counter() - t
            warm = client.run(_warm)
            print(f"LocalCluster of {args.workers} worker processes: started in {started:.1f} s; loading gcperf "
                  f"and its kernels took {max(warm.values()):.1f} s per worker (once per worker)")

            t = time.perf_counter()
            remote = sweep(exp, Path(tmp) / "cluster", quick=quick, scheduler=cluster.scheduler_address,
                           progress=lambda line: None)
            tw = time.perf_counter() - t
            remote_rows = _runs(remote)
            compute_w = sum(r["elapsed_s"] for r in remote_rows)
            ideal = min(args.workers, cores)
            # the runs that share a draw of the program go to a worker as one task (group_runs)
            tasks = len(group_runs((exp.with_quick() if quick else exp).runs()))
            overhead = (tw * args.workers - compute_w) / tasks
            print(f"the same sweep on the cluster: {tw:.1f} s: x{t1 / tw:.2f} the first, x{t1_inline / tw:.2f} the "
                  f"one-core run (ideal x{ideal}); runs' own compute {compute_w:.1f} s in {tasks} tasks (runs that "
                  f"share a draw go as one); overhead per task {1e3 * overhead:.0f} ms (scheduling, transfer, idle "
                  "tail)")

            print(f"a run's own compute: {compute_inline / n:.2f} s alone in this process (memory model in line), "
                  f"{compute_w / n:.2f} s on the cluster with {args.workers} at once: x{compute_w / compute_inline:.2f} "
                  f"(1.00 would mean the cores do not slow each other down)")
            t = time.perf_counter()
            client.gather(client.map(_empty, range(args.empty), pure=False))
            rt = (time.perf_counter() - t) / args.empty
            print(f"scheduler round trip of an empty task ({args.empty} submitted at once): {1e3 * rt:.2f} ms per task")

        same = _summaries(local_rows) == _summaries(remote_rows)
        print(f"tables: {'the same' if same else 'DIFFERENT'} summaries for all {n} runs in both sweeps")
    load1 = os.getloadavg()
    print(f"load average after: {load1[0]:.2f} (1 min); the second core was "
          f"{'idle apart from this benchmark' if max(load0[0], load1[0]) < cores - 0.5 else 'busy with other work'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
