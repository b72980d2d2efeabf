"""gcperf's speed against honest yardsticks, interleaved round by round in one process.

Every figure is simulated (or real) GC allocations per wall-second on the web workload
(CPython 3.13's collector, seed 1), and each comes with the conditions it was measured
under: the load average, and how much CPU the *other* processes of the machine used while
it ran (from /proc/stat minus this process's own CPU time), so one can tell whether the
second core was idle.

* gcperf, collector only (``memory=False``): what the yardsticks are compared with.
* lean naive SimPy model: one ``env.timeout`` per allocation, count0 against the
  thresholds (the policy's own rules), frees drawn beforehand; no heap, no pauses. The
  straightforward discrete-event model a performance engineer would write first.
* heavier naive model (``bench_engine.naive``): the same machine as gcperf (heap,
  collections, pauses), but one SimPy event and one Python step per allocation.
* the real interpreter's allocation loop: instances of an empty class, one in ten kept (the
  kept list emptied every 100 000), run by each interpreter named (default: ``python3``
  and the pyenv 3.12/3.13 found); one GC-tracked allocation per instance.
* the limit: a compiled (numba) loop that does nothing but count0 over the frees of the
  same chunks (+1 per allocation, reset at threshold0, minus the frees): no drawing, no
  collections, no SimPy. gcperf is reported as a fraction of it.

    python benchmarks/bench_yardsticks.py [--duration S] [--naive-duration S] [--repeat N]
                                           [--python EXE ...]

Targets (issue 13): gcperf >= 50x the lean naive model, >= 15x the real interpreter.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import naive  # noqa: E402

from gcperf import GCSettings, Scenario, simulate  # noqa: E402
from gcperf.cpython.policy import GenerationalPolicy  # noqa: E402
from gcperf.cpython.versions import preset  # noqa: E402
from gcperf.workload.stream import StatisticalStream  # noqa: E402

_HZ = os.sysconf("SC_CLK_TCK")

REAL_LOOP = r"""
import sys, time
class Item:
    pass
n = int(sys.argv[1])
keep = []
t = time.perf_counter()
for i in range(n):
    o = Item()
    if i % 10 == 0:
        keep.append(o)
        if len(keep) >= 100_000:
            keep = []
print(n / (time.perf_counter() - t))
"""


def _busy_jiffies() -> int:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return sum(vals[:8]) - idle


def _own_cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


class Conditions:
    """CPU used by other processes while a block ran (cores), and the load average."""

    def __enter__(self):
        self.j0, self.c0, self.w0 = _busy_jiffies(), _own_cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.w0
        own = _own_cpu() - self.c0
        busy = (_busy_jiffies() - self.j0) / _HZ
        self.others = max(busy - own, 0.0) / wall if wall > 0 else 0.0
        self.load = os.getloadavg()[0]
        return False

    def text(self) -> str:
        return f"load {self.load:.2f}, other processes {self.others:.2f} cores"


def _stream(sc: Scenario) -> StatisticalStream:
    wl = sc.resolved_workload()
    pre = preset(sc.gc.version)
    return StatisticalStream(wl, np.random.default_rng(np.random.SeedSequence(sc.seed).spawn(3)[0]), None,
                             pre.atomic_tuples_tracked, pre.atomic_dicts_tracked, sc.chunk_slots)


def lean_naive(sc: Scenario) -> tuple[float, int, list[int]]:
    """One SimPy timeout per allocation; count0 against the thresholds; frees drawn beforehand."""
    stream = _stream(sc)
    chunks = [(stream.alloc_time(np.arange(ch.j0, ch.j0 + ch.n)).tolist(), ch.d.tolist()) for ch in stream.chunks()]
    pre = preset(sc.gc.version)
    pol = GenerationalPolicy(sc.gc.effective_thresholds, pre.interpreter_objects)
    gens = [0, 0, 0]
    env = simpy.Environment()

    def mutator(env):
        now = 0.0
        t0 = pol.auto_threshold
        count = pol.count
        for times, frees in chunks:
            for k in range(len(times)):
                yield env.timeout(times[k] - now)
                now = times[k]
                count[0] += 1
                if count[0] > t0:
                    g = pol.select().generation
                    if g is not None:
                        pol.begin(g)
                        pol.end(g, 0)
                        gens[g] += 1
                c = count[0] - frees[k]
                count[0] = c if c > 0 else 0

    n = sum(len(t) for t, _ in chunks)
    t = time.perf_counter()
    env.run(until=env.process(mutator(env)))
    return time.perf_counter() - t, n, gens


@njit(cache=True, nogil=True)
def _count_only(d, t0, count0):
    coll = 0
    for k in range(d.shape[0]):
        count0 += 1
        if count0 > t0:
            coll += 1
            count0 = 0
        count0 -= d[k]
        if count0 < 0:
            count0 = 0
    return coll, count0


def limit(sc: Scenario) -> tuple[float, int, int]:
    """The compiled counter-only loop over the same chunks' frees (only the loop is timed)."""
    stream = _stream(sc)
    t0 = sc.gc.effective_thresholds[0]
    spent, n, coll, count0 = 0.0, 0, 0, 0
    for ch in stream.chunks():
        d = np.ascontiguousarray(ch.d)
        t = time.perf_counter()
        c, count0 = _count_only(d, t0, count0)
        spent += time.perf_counter() - t
        coll += c
        n += len(d)
    return spent, n, coll


def real_loop(python: str, n: int) -> float:
    out = subprocess.run([python, "-c", REAL_LOOP, str(n)], capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip())


def _interpreters(named: list[str] | None) -> list[tuple[str, str]]:
    found = []
    for exe in named or ["python3", *(str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.1[23].*/bin/python")))]:
        path = shutil.which(exe) or (exe if Path(exe).exists() else None)
        if path is None:
            print(f"(skipped {exe}: not found)")
            continue
        ver = subprocess.run([path, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                             text=True, check=True).stdout.strip()
        found.append((ver, path))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20.0, help="mutator seconds for gcperf and the limit")
    ap.add_argument("--naive-duration", type=float, default=0.5, help="mutator seconds for the naive models")
    ap.add_argument("--real-allocations", type=int, default=5_000_000, help="instances the real loop makes")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--python", action="append", help="interpreter for the real loop (repeatable)")
    args = ap.parse_args()
    gc = GCSettings(version="3.13")
    sc = Scenario("web", gc, seed=1, duration_s=args.duration, memory=False)
    sc_small = Scenario("web", gc, seed=1, duration_s=args.naive_duration, memory=False)
    pythons = _interpreters(args.python)
    simulate(sc_small)  # warm-up: imports, caches
    limit(sc_small)  # compile the counter loop
    rates: dict[str, list[float]] = {}
    conds: dict[str, list[Conditions]] = {}

    def record(name: str, n: int, seconds: float, c: Conditions) -> None:
        rates.setdefault(name, []).append(n / seconds)
        conds.setdefault(name, []).append(c)

    gens_core_small = simulate(sc_small).generation_counts()
    for rnd in range(args.repeat):
        with Conditions() as c:
            t = time.perf_counter()
            r = simulate(sc)
            dt = time.perf_counter() - t
        record("gcperf, collector only", int(r.summary_dict()["allocations"]), dt, c)
        with Conditions() as c:
            dt, n, gens = lean_naive(sc_small)
        record("lean naive SimPy model", n, dt, c)
        if gens[0] != gens_core_small[0]:
            print(f"(note: the lean model made {gens} collections where gcperf made {gens_core_small}: it has no "
                  "heap, so generation 2's long-lived rule and count0 inside collections differ)")
        with Conditions() as c:
            dt, n, gens = naive(sc_small)
        record("heavier naive model (same machine)", n, dt, c)
        if gens != gens_core_small:
            raise SystemExit(f"the heavier naive model disagrees with gcperf: {gens} vs {gens_core_small}")
        with Conditions() as c:
            dt, n, _ = limit(sc)
        record("limit: compiled counter-only loop", n, dt, c)
        for ver, exe in pythons:
            with Conditions() as c:
                rate = real_loop(exe, args.real_allocations)
            rates.setdefault(f"real CPython {ver} allocation loop", []).append(rate)
            conds.setdefault(f"real CPython {ver} allocation loop", []).append(c)
        print(f"(round {rnd + 1} of {args.repeat} done)", file=sys.stderr)

    core = statistics.median(rates["gcperf, collector only"])
    print(f"web workload, CPython 3.13 collector, seed 1; {args.repeat} interleaved rounds, medians; "
          f"CPUs: {os.cpu_count()}")
    print(f"{'':40s} {'M allocations/s':>16s}  {'gcperf is':>12s}  conditions (per round)")
    for name, rs in rates.items():
        m = statistics.median(rs)
        rel = "" if name.startswith("gcperf") else (f"{core / m:9.1f}x it" if not name.startswith("limit")
                                                   else f"{core / m:9.3f} of it")
        cs = "; ".join(c.text() for c in conds[name])
        print(f"{name:40s} {m / 1e6:16.2f}  {rel:>12s}  {cs}")


if __name__ == "__main__":
    main()
