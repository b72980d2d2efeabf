"""Simulation speed: the batched engine against a one-SimPy-event-per-allocation model.

All run the built-in web workload with the same seed in the same process, one
after the other, so the ratios are meaningful on a noisy machine:

* the core engine (collector only, ``memory=False``);
* the same with the memory model (pymalloc arenas/pools/blocks and system malloc),
  once with the model on a thread of its own (the default on two or more CPUs)
  and once in line on the engine's thread: the second figure is the model's
  whole cost, the first what a user waits for. CPU seconds (all threads) are
  printed beside the wall seconds;
* a naive model that uses the very same machine (same draws, same collections -
  the script checks that the collection logs agree) but spends one SimPy timeout
  and one Python-level step per allocation.

    python benchmarks/bench_engine.py [--duration S] [--naive-duration S] [--repeat N]

Prints simulated GC allocations per wall-second for each, the ratios, and the
peak RSS of a long run measured in a fresh subprocess (--rss-allocations).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import simpy

from gcperf import GCSettings, Scenario, simulate
from gcperf.cpython.costs import cost_model_for
from gcperf.cpython.heap import Heap
from gcperf.cpython.policy import GenerationalPolicy
from gcperf.cpython.versions import preset
from gcperf.engine.machine import Machine
from gcperf.engine.runner import _pause_fn
from gcperf.workload.stream import StatisticalStream


def batched(sc: Scenario, memory_thread: bool | None = None) -> tuple[float, int, list[int], float]:
    c = time.process_time()
    t = time.perf_counter()
    r = simulate(sc, memory_thread=memory_thread)
    dt = time.perf_counter() - t
    return dt, int(r.summary_dict()["allocations"]), r.generation_counts(), time.process_time() - c


def naive(sc: Scenario) -> tuple[float, int, list[int]]:
    """One SimPy event per allocation: the straightforward way to write the simulator.

    It draws the same workload and runs collections through the same heap and
    policy, but advances the clock allocation by allocation and updates the
    counter in Python. (It handles the default scenario: no gc calls in the stream.)
    """
    wl = sc.resolved_workload()
    pre = preset(sc.gc.version)
    stream = StatisticalStream(wl, np.random.default_rng(np.random.SeedSequence(sc.seed).spawn(2)[0]), None,
                               pre.atomic_tuples_tracked, pre.atomic_dicts_tracked, sc.chunk_slots)
    base = wl.baseline_objects if wl.baseline_objects is not None else pre.interpreter_objects
    m = Machine(stream, GenerationalPolicy(sc.gc.effective_thresholds, base), Heap(base), pre,
                _pause_fn(cost_model_for(pre.minor), wl.refs_per_object))
    env = simpy.Environment()
    pol = m.policy
    deferred = pre.deferred_trigger

    def mutator(env):
        while True:
            m._next_chunk_if_done()
            ch = m.chunk
            times = stream.alloc_time(np.arange(ch.j0, ch.j0 + ch.n)).tolist()
            frees = ch.d.tolist()
            for k in range(ch.n):
                yield env.timeout(times[k] - m.mut_time)
                m.mut_time = times[k]
                m.wall = env.now
                j = ch.j0 + k
                pol.count[0] += 1
                t0 = pol.auto_threshold
                if t0 is not None and pol.count[0] > t0:
                    if deferred:
                        m.pos = j + 1
                        m._auto_collect(4 * j + 1, pol.count[0])  # the check at the end of the call
                    else:
                        m.pos = j
                        m._auto_collect(4 * j, pol.count[0])  # inside the allocation
                m.pos = j + 1
                c = pol.count[0] - frees[k]
                pol.count[0] = c if c > 0 else 0
                for p in m._take_pauses():
                    yield env.timeout(p)
            if m.pos >= m.total:
                return

    t = time.perf_counter()
    env.run(until=env.process(mutator(env)))
    dt = time.perf_counter() - t
    g = [r[5] for r in m.records]
    return dt, m.total, [g.count(i) for i in range(3)]


def rss_run(allocations: float, memory: bool) -> dict:
    """Simulate ``allocations`` GC allocations of the web workload in a fresh process; report peak RSS."""
    code = (
        "import resource, time, json\n"
        "from gcperf import Scenario, simulate, get_workload\n"
        f"wl = get_workload('web'); d = {allocations} / (wl.allocations / wl.duration_s)\n"
        f"t = time.perf_counter(); r = simulate(Scenario('web', duration_s=d, timeline_points=200, memory={memory}))\n"
        "dt = time.perf_counter() - t\n"
        "print(json.dumps({'allocations': int(r.summary_dict()['allocations']), 'seconds': dt,\n"
        "  'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0, help="mutator seconds for the batched run")
    ap.add_argument("--naive-duration", type=float, default=0.5, help="mutator seconds for the naive run")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for each")
    ap.add_argument("--rss-allocations", type=float, default=0, help="also measure peak RSS of a run this long")
    args = ap.parse_args()
    gc = GCSettings(version="3.13")
    sc_fast = Scenario("web", gc, seed=1, duration_s=args.duration, memory=False)
    sc_mem = Scenario("web", gc, seed=1, duration_s=args.duration, memory=True)
    sc_naive = Scenario("web", gc, seed=1, duration_s=args.naive_duration, memory=False)
    # same scenario through both: the logs must agree
    g_fast_small = batched(sc_naive)[2]
    batched(sc_mem)  # warm-up (numba kernel compile/load)
    # interleaved (core, memory on its thread, memory in line) triples: a slow spell of the
    # machine hits all alike
    triples = [(batched(sc_fast), batched(sc_mem, True), batched(sc_mem, False)) for _ in range(args.repeat)]
    fast, mem, inline = (min((t[k] for t in triples), key=lambda r: r[0]) for k in range(3))
    paired = sorted(t[0][0] / t[1][0] for t in triples)  # speed ratio within each triple
    paired_inline = sorted(t[0][0] / t[2][0] for t in triples)
    slow = min((naive(sc_naive) for _ in range(args.repeat)), key=lambda r: r[0])
    if slow[2] != g_fast_small:
        raise SystemExit(f"naive and batched disagree: {slow[2]} vs {g_fast_small}")
    if not mem[2] == inline[2] == fast[2]:
        raise SystemExit(f"memory model changed the collections: {mem[2]}, {inline[2]} vs {fast[2]}")
    fast_rate = fast[1] / fast[0]
    mem_rate = mem[1] / mem[0]
    inline_rate = inline[1] / inline[0]
    slow_rate = slow[1] / slow[0]
    print(f"web workload, CPython 3.13 collector, seed 1 (best of {args.repeat})")
    print(f"  core engine           : {fast[1]:>12,} allocations in {fast[0]:7.2f} s = {fast_rate / 1e6:7.2f} M allocations/s"
          f" (CPU {fast[3]:.2f} s)")
    print(f"  with the memory model : {mem[1]:>12,} allocations in {mem[0]:7.2f} s = {mem_rate / 1e6:7.2f} M allocations/s"
          f" ({mem_rate / fast_rate:.2f} of the core speed; CPU {mem[3]:.2f} s; model on its own thread)")
    print(f"    same, in line       : {inline[1]:>12,} allocations in {inline[0]:7.2f} s = {inline_rate / 1e6:7.2f} M allocations/s"
          f" ({inline_rate / fast_rate:.2f} of the core speed; CPU {inline[3]:.2f} s; one thread)")
    print(f"  memory/core speed ratio per interleaved run: own thread {', '.join(f'{r:.2f}' for r in paired)}"
          f" (median {statistics.median(paired):.2f}); in line {', '.join(f'{r:.2f}' for r in paired_inline)}"
          f" (median {statistics.median(paired_inline):.2f})")
    print(f"  naive (1 event/alloc) : {slow[1]:>12,} allocations in {slow[0]:7.2f} s = {slow_rate / 1e6:7.3f} M allocations/s")
    print(f"  core speed-up over naive: {fast_rate / slow_rate:7.1f} x")
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.rss_allocations:
        for memory in (False, True):
            r = rss_run(args.rss_allocations, memory)
            print(f"  long run{' with memory model' if memory else ''}: {r['allocations']:,} allocations in "
                  f"{r['seconds']:.1f} s ({r['allocations'] / r['seconds'] / 1e6:.1f} M/s), "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
