"""Time CPython's cyclic collector on controlled heaps and print the raw timings as JSON.

This file is a standalone script: the calibration driver copies nothing and imports nothing
from it, it runs ``python3.X probe.py [--quick]`` under the *target* interpreter, which
prints one JSON object on stdout (progress goes to stderr). It uses the standard library only
and keeps to Python 3.8 syntax so that every interpreter from 3.8 on can run it.

What is measured (all times are wall-clock nanoseconds from ``time.perf_counter_ns``, with the
automatic collector disabled, and the interpreter's own objects hidden by ``gc.freeze()`` so
that an explicit collection examines only the objects built here):

* ``fixed``: ``gc.collect(g)`` for g = 0, 1, 2 with the collectable generations (almost) empty.
* ``examined``: ``gc.collect(2)`` repeated over a set of ``n`` live objects of a ``__slots__``
  class with ``r`` slots, each slot holding a uniformly random member of the set. The set is kept
  alive by a frozen list, so every object is reachable from outside the collected generations.
* ``garbage``: ``n`` self-referencing objects are timed alive, then dropped, and the collection
  that frees them is timed; the difference is the cost of finding and freeing garbage.
* ``diagnostics``: variants that the cost model does not distinguish (fresh generation-0 sets,
  neighbouring instead of random referents, cold caches, objects reachable only through the
  set, a collector list in scrambled order), recorded so that the write-up can say how far
  they move the per-object cost.

Every timing is summarised by the minimum, the 10 % quantile and the median over its
repetitions; the fit uses the minimum because the machine's noise only ever adds time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import time
from array import array
from collections.abc import Callable

PROBE_VERSION = 1

# Set sizes are log-spaced; 1e6 objects (32-96 MB) is where the per-object cost stops rising on
# a 32 MiB L3. The reference counts span leaf objects (0) to small containers (8).
FULL = {
    "sizes": [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000,
              100000, 200000, 500000, 1000000],
    "refs": [0, 1, 2, 4, 8],
    # (n, r) sets beyond the grid: 2e6 one-reference objects show where the rise levels off.
    "extra_sets": [[2000000, 1]],
    "garbage_sizes": [1000, 10000, 100000, 200000],
    "fixed_reps": 3000,
    "budget_s": 0.12,
    "min_reps": 3,
    "max_reps": 400,
    "garbage_budget_s": 0.4,
    "garbage_min_rounds": 3,
    "garbage_max_rounds": 40,
    "gen0_sizes": [700, 2000],
    "gen0_rounds": 200,
    "locality_sizes": [10000, 100000, 1000000],
    "cold_sizes": [1000, 10000, 100000],
    "cold_max_reps": 30,
    "internal_sizes": [10000, 100000, 500000],
    "warmup_s": 1.0,
    "seed": 20261125,
}
QUICK = {
    "sizes": [100, 1000, 10000, 100000],
    "refs": [0, 1, 4],
    "extra_sets": [],
    "garbage_sizes": [1000, 10000, 100000],
    "fixed_reps": 1000,
    "budget_s": 0.05,
    "min_reps": 3,
    "max_reps": 200,
    "garbage_budget_s": 0.15,
    "garbage_min_rounds": 3,
    "garbage_max_rounds": 15,
    "gen0_sizes": [700],
    "gen0_rounds": 50,
    "locality_sizes": [100000],
    "cold_sizes": [10000],
    "cold_max_reps": 10,
    "internal_sizes": [100000],
    "warmup_s": 0.5,
    "seed": 20261125,
}

# Writing one byte of every cache line of this buffer evicts a 32 MiB L3 (and anything smaller)
# before a "cold" timing.
FLUSH_BYTES = 96 << 20

_pc = time.perf_counter_ns


def _log(msg: str) -> None:
    """Write one progress line to stderr (stdout carries only the JSON result)."""
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _summary(samples: array, reps: int) -> dict:
    """Summarise ``reps`` timings (ns) by their minimum, 10 % quantile and median."""
    ordered = sorted(samples[:reps])
    return {
        "reps": reps,
        "min_ns": ordered[0],
        "p10_ns": ordered[(reps - 1) // 10],
        "median_ns": ordered[(reps - 1) // 2],
    }


def _time_collect(generation: int, reps: int, evict: Callable[[], None] | None = None) -> dict:
    """Time ``reps`` explicit collections of ``generation``; optionally evict caches before each.

    Samples go into a preallocated ``array`` because an array is not tracked by the collector,
    whereas a growing list of results would itself be examined by the collections it times.
    """
    samples = array("q", bytes(8 * reps))
    collect = gc.collect
    pc = _pc
    for i in range(reps):
        if evict is not None:
            evict()
        t0 = pc()
        collect(generation)
        t1 = pc()
        samples[i] = t1 - t0
    return _summary(samples, reps)


def _adaptive_reps(first_ns: int, cfg: dict) -> int:
    """Choose a repetition count so that one configuration costs about ``budget_s``."""
    reps = int(cfg["budget_s"] * 1e9 / max(first_ns, 1))
    return max(cfg["min_reps"], min(cfg["max_reps"], reps))


def _timer_overhead_ns() -> int:
    """Return the smallest difference between two back-to-back ``perf_counter_ns`` calls."""
    best = 1 << 62
    pc = _pc
    for _ in range(2000):
        t0 = pc()
        t1 = pc()
        best = min(best, t1 - t0)
    return best


def _cache_evictor() -> Callable[[], None]:
    """Return a function that dirties every cache line of a buffer three times the L3 size."""
    buf = bytearray(FLUSH_BYTES)
    marks = [b"\x01" * len(range(0, FLUSH_BYTES, 64)), b"\x02" * len(range(0, FLUSH_BYTES, 64))]
    state = [0]

    def evict() -> None:
        state[0] ^= 1
        buf[::64] = marks[state[0]]

    return evict


def _make_classes(refs: list) -> dict:
    """Create one ``__slots__`` class per reference count, named ``Probe<r>``."""
    return {r: type(f"Probe{r}", (), {"__slots__": tuple(f"s{i}" for i in range(r))})
            for r in refs}


class _Heap:
    """Owner of the frozen holders that keep measured sets alive.

    Each measured set lives in a fresh list that is frozen before the set is built, so the
    list is never examined while its members are. Finished sets are not freed: freeing a
    million objects costs more than the measurement, and frozen sets are never examined again.
    """

    def __init__(self) -> None:
        self.graveyard: list = []

    def new_holder(self) -> list:
        """Return an empty list that has been moved to the permanent generation."""
        holder: list = []
        self.graveyard.append(holder)
        gc.freeze()
        return holder


def _link(objs: list, r: int, pattern: str, rng: random.Random) -> None:
    """Fill the ``r`` slots of every object with members of ``objs``.

    ``random``: each slot holds a uniformly random member of the set (the access pattern of a
    heap whose objects were created far apart in time). ``local``: slot j of object i holds
    object i + j + 1 (modulo n), the pattern of a freshly built nested structure.
    """
    n = len(objs)
    for j in range(r):
        name = f"s{j}"
        if pattern == "random":
            _link_slot(objs, name, rng)
        else:
            shift = j + 1
            for i, o in enumerate(objs):
                setattr(o, name, objs[(i + shift) % n])


def _link_slot(objs: list, name: str, rng: random.Random) -> None:
    """Point slot ``name`` of every object at a uniformly random member of ``objs``."""
    n = len(objs)
    rand = rng.random
    for o in objs:
        setattr(o, name, objs[int(rand() * n)])


def _examined_count() -> int:
    """Return how many objects an explicit full collection would examine right now."""
    objs = gc.get_objects()
    count = len(objs)
    del objs
    return count  # get_objects leaves its own result list out


def measure_fixed(cfg: dict) -> list:
    """Time explicit collections of each generation with nothing to examine."""
    gc.collect()
    gc.freeze()
    rows = []
    for gen in (0, 1, 2):
        row = _time_collect(gen, cfg["fixed_reps"])
        row["generation"] = gen
        row["examined_objects"] = _examined_count()
        rows.append(row)
    return rows


def measure_set(heap: _Heap, cls: type, n: int, r: int, pattern: str, rng: random.Random,
                cfg: dict, evict: Callable[[], None] | None = None) -> dict:
    """Build ``n`` linked objects, then time repeated full collections that all survive."""
    holder = heap.new_holder()
    t0 = time.perf_counter()
    holder.extend([cls() for _ in range(n)])
    _link(holder, r, pattern, rng)
    build_s = time.perf_counter() - t0
    examined = _examined_count()
    first = _time_collect(2, 1, evict)["min_ns"]
    row = _time_collect(2, _adaptive_reps(first, cfg), evict)
    row.update({"n": n, "refs": r, "pattern": pattern, "examined_objects": examined,
                "first_ns": first, "build_s": round(build_s, 4)})
    return row


def measure_internal(heap: _Heap, cls: type, n: int, rng: random.Random,
                     cfg: dict) -> tuple[dict, dict]:
    """Time a set reachable only through itself, then the same set held from outside.

    Slot 0 chains the objects in a random order and slot 1 holds a random member; one frozen
    list holds the head of the chain. Every other object has no reference from outside the
    collected generations, so the collector tentatively moves many of them to its unreachable
    list and back, which the main sweep (every object held by a frozen list) never does; those
    moves also leave the collector's list in chain order, which is random with respect to the
    objects' addresses. ``first_ns`` is the first collection (list in allocation order).

    The second row (pattern ``scrambled``) times the same objects after every one of them has
    been put into a frozen list: no more tentative moves, but the list order stays scrambled.

    Returns:
        The ``internal`` row and the ``scrambled`` row.
    """
    holder = heap.new_holder()
    objs = [cls() for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    for k in range(n - 1):
        objs[order[k]].s0 = objs[order[k + 1]]
    _link_slot(objs, "s1", rng)
    holder.append(objs[order[0]])
    del objs, order
    examined = _examined_count()
    first = _time_collect(2, 1)["min_ns"]
    internal = _time_collect(2, _adaptive_reps(first, cfg))
    internal.update({"n": n, "refs": 2, "pattern": "internal", "examined_objects": examined,
                     "first_ns": first})
    everything = gc.get_objects()  # in the collector's (scrambled) list order
    holder.extend(everything)
    del everything
    first = _time_collect(2, 1)["min_ns"]
    scrambled = _time_collect(2, _adaptive_reps(first, cfg))
    scrambled.update({"n": n, "refs": 2, "pattern": "scrambled",
                      "examined_objects": _examined_count(), "first_ns": first})
    return internal, scrambled


def measure_garbage(cls: type, n: int, cfg: dict) -> dict:
    """Time the collection that frees ``n`` self-referencing objects, and the same set alive.

    Each round builds a fresh set, times full collections while it is alive (``alive``), drops
    the only outside reference and times the one collection that frees it (``garbage``).
    """
    holder: list = []
    gc.freeze()
    alive_samples = array("q")
    garbage_samples = array("q")
    collected = -1
    rounds = 0
    t_start = time.perf_counter()
    while rounds < cfg["garbage_max_rounds"]:
        objs = [cls() for _ in range(n)]
        for o in objs:
            o.s0 = o
        holder.extend(objs)
        del objs, o
        gc.collect(2)  # moves the set into the oldest generation, as in a long-lived heap
        alive = _time_collect(2, 3)["min_ns"]
        holder.clear()
        t0 = _pc()
        collected = gc.collect(2)
        t1 = _pc()
        alive_samples.append(alive)
        garbage_samples.append(t1 - t0)
        rounds += 1
        if (rounds >= cfg["garbage_min_rounds"]
                and time.perf_counter() - t_start > cfg["garbage_budget_s"]):
            break
    alive_row = _summary(alive_samples, rounds)
    garbage_row = _summary(garbage_samples, rounds)
    return {
        "n": n,
        "refs": 1,
        "rounds": rounds,
        "collected": collected,
        "alive_min_ns": alive_row["min_ns"],
        "alive_median_ns": alive_row["median_ns"],
        "garbage_min_ns": garbage_row["min_ns"],
        "garbage_p10_ns": garbage_row["p10_ns"],
        "garbage_median_ns": garbage_row["median_ns"],
    }


def measure_gen0(cls: type, n: int, r: int, rng: random.Random, rounds: int) -> dict:
    """Time ``gc.collect(0)`` on ``n`` just-allocated objects, as an automatic collection sees them."""
    holder: list = []
    gc.freeze()
    samples = array("q", bytes(8 * rounds))
    for i in range(rounds):
        holder.extend([cls() for _ in range(n)])
        _link(holder, r, "random", rng)
        t0 = _pc()
        gc.collect(0)
        t1 = _pc()
        samples[i] = t1 - t0
        holder.clear()
        gc.collect(1)  # frees the set (it may hold cycles) outside the timed region
    row = _summary(samples, rounds)
    row.update({"n": n, "refs": r, "generation": 0})
    return row


def _interpreter_info() -> dict:
    """Describe the running interpreter."""
    info = {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "compiler": platform.python_compiler(),
        "build": list(platform.python_build()),
        "gc_threshold": list(gc.get_threshold()),
        "pointer_bits": 64 if sys.maxsize > 2 ** 32 else 32,
    }
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    info["gil_enabled"] = bool(is_gil_enabled()) if is_gil_enabled is not None else True
    return info


def _warm_up(seconds: float) -> None:
    """Spin the CPU so that the host raises its clock before anything is timed.

    On the calibration VM the first ~0.5 s of a process ran collections 1.6x slower than
    later ones; a busy wait before measuring removes that step.
    """
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def run(cfg: dict, mode: str) -> dict:
    """Run every measurement of one probe and return the JSON-ready result."""
    started = time.perf_counter()
    rng = random.Random(cfg["seed"])
    classes = _make_classes(sorted(set(cfg["refs"]) | {0, 1, 2, 4}))
    heap = _Heap()
    gc.disable()
    _warm_up(cfg["warmup_s"])
    result = {
        "probe_version": PROBE_VERSION,
        "mode": mode,
        "python": _interpreter_info(),
        "params": dict(cfg, flush_bytes=FLUSH_BYTES),
        "timer_overhead_ns": _timer_overhead_ns(),
    }
    _log("fixed cost")
    result["fixed"] = measure_fixed(cfg)

    examined = []
    sets = [(n, r) for r in cfg["refs"] for n in cfg["sizes"]]
    sets += [(n, r) for n, r in cfg["extra_sets"]]
    for n, r in sets:
        row = measure_set(heap, classes[r], n, r, "random", rng, cfg)
        _log(f"examined r={r} n={n}: {row['min_ns'] / n:.1f} ns/object ({row['reps']} reps)")
        examined.append(row)
    result["examined"] = examined

    garbage = []
    for n in cfg["garbage_sizes"]:
        row = measure_garbage(classes[1], n, cfg)
        per_object = (row["garbage_min_ns"] - row["alive_min_ns"]) / n
        _log(f"garbage n={n}: {per_object:.1f} ns/object freed ({row['rounds']} rounds)")
        garbage.append(row)
    result["garbage"] = garbage

    diag: dict = {"gen0_fresh": [], "locality": [], "cold": [], "internal": [], "scrambled": []}
    for n in cfg["gen0_sizes"]:
        for r in (0, 2):
            diag["gen0_fresh"].append(measure_gen0(classes[r], n, r, rng, cfg["gen0_rounds"]))
    for n in cfg["locality_sizes"]:
        diag["locality"].append(measure_set(heap, classes[4], n, 4, "local", rng, cfg))
    evict = _cache_evictor()
    cold_cfg = dict(cfg, max_reps=cfg["cold_max_reps"])  # each eviction takes milliseconds
    for n in cfg["cold_sizes"]:
        row = measure_set(heap, classes[2], n, 2, "random", rng, cold_cfg, evict=evict)
        row["cache"] = "cold"
        diag["cold"].append(row)
    for n in cfg["internal_sizes"]:
        internal, scrambled = measure_internal(heap, classes[2], n, rng, cfg)
        diag["internal"].append(internal)
        diag["scrambled"].append(scrambled)
    _log("diagnostics done")
    result["diagnostics"] = diag
    result["elapsed_s"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list | None = None) -> int:
    """Parse the command line, run the probe and print its JSON result on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sets and fewer repetitions (under 10 s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the referent choice")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.seed is not None:
        cfg["seed"] = args.seed
    result = run(cfg, "quick" if args.quick else "full")
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    # Tearing down millions of frozen objects takes longer than measuring them; nothing is
    # left to flush, so leave without the interpreter's finalisation.
    os._exit(0)


if __name__ == "__main__":
    main()
