"""Exactness against real interpreters: the same programs, run for real and simulated.

Each program is rendered as a Python script (``Program.python``) and as a trace
(``Program.trace``). The script runs on every CPython found on the machine (one
test per modelled version; missing versions are skipped with a reason) and
reports, from ``gc.get_stats()``, how many collections of each generation ran
in the measured region and how many objects they found unreachable, and the end
state (``gc.get_count()``, the generation sizes, ``gc.get_freeze_count()``,
``gc.get_threshold()``). gcperf must reproduce all of it exactly, starting from
the state the script sets up and reports.
"""

from __future__ import annotations

import pytest
from interpreters import find_interpreter, interpreter_params, run_program

from gcperf import simulate_trace
from gcperf.program import (
    Assign,
    AssignCycle,
    AssignPair,
    Burst,
    Call,
    CollectEvery,
    Keep,
    Loop,
    Program,
    Ring,
    Temp,
)
from gcperf.versions import preset

PROGRAMS = {
    "keep-1e4": Program((Loop(10_000, (Keep(),)),)),
    "keep-1e5": Program((Loop(100_000, (Keep(),)),)),
    "keep-1e6": Program((Loop(1_000_000, (Keep(),)),)),
    "churn-temporaries": Program((Loop(300_000, (Temp(), Assign("t"))),)),
    "keep-and-temporaries": Program((Loop(200_000, (Keep(), Assign("t"), Ring(40), Temp())),)),
    "cyclic-garbage": Program((Loop(200_000, (AssignCycle("a"), AssignPair("p", "q"), Temp(), Ring(50))),)),
    "explicit-collect": Program(
        (
            Loop(60_000, (Keep(), AssignCycle("a"), CollectEvery(7_919, 0), CollectEvery(15_013, 1))),
            Call("collect", (1,)),
            Loop(60_000, (Keep(), Ring(100), CollectEvery(40_009, 2))),
            Call("collect", (0,)),
            Loop(5_000, (Keep(),)),
        )
    ),
    "thresholds-small": Program((Loop(100_000, (Keep(), Ring(30), AssignCycle("a"))),), thresholds=(100, 5, 3)),
    "thresholds-large": Program((Loop(300_000, (Keep(), Ring(300), AssignPair("p", "q"))),), thresholds=(5_000, 20, 5)),
    # a big long-lived heap first, then steady promotion: full collections come due
    # every 121 triggers but stay vetoed until a quarter of the heap is pending
    "long-lived-rule-vetoes": Program(
        (Loop(1_200_000, (Keep(),)), Call("collect", (2,)), Loop(600_000, (Keep(), Temp())))
    ),
    "freeze-disable-enable": Program(
        (
            Loop(50_000, (Keep(), AssignCycle("a"))),
            Call("freeze"),
            Loop(80_000, (Keep(), Temp(), AssignCycle("b"))),
            Call("disable"),
            Loop(5_000, (Keep(), AssignCycle("c"))),
            Call("enable"),
            Loop(20_000, (Keep(),)),
            Call("unfreeze"),
            Loop(20_000, (AssignCycle("d"), Keep())),
        )
    ),
    "burst-in-one-c-call": Program((Burst(100_000), Loop(20_000, (Keep(), Temp())))),
    "atomic-tuples": Program((Loop(300_000, (Keep("atomic"), Temp())),)),
    "untracked-dicts": Program((Loop(100_000, (Keep("untracked"), Keep())),)),
    # thresholds this small make every off-by-one in the event order visible
    "tiny-thresholds-everything": Program(
        (
            Loop(8_000, (Keep("atomic"), AssignPair("p", "q"), Temp(), Keep("untracked"), Ring(7), AssignCycle("a"))),
            Burst(300),
            Loop(2_000, (Keep(), CollectEvery(97, 1))),
        ),
        thresholds=(10, 3, 3),
    ),
    # gc.set_threshold with one or two values keeps the others
    "set-threshold-partial": Program(
        (
            Loop(30_000, (Keep(), Temp())),
            Call("set_threshold", (50,)),
            Loop(20_000, (Keep(), AssignCycle("a"))),
            Call("set_threshold", (300, 2)),
            Loop(30_000, (Keep(), Ring(20))),
            Call("set_threshold", (1000, 5, 2)),
            Loop(10_000, (Keep(),)),
        ),
        thresholds=(700, 4, 3),
    ),
    # 3.12: the start-up immortal objects are frozen; unfreeze puts them in generation 2 ...
    "unfreeze-leaves-immortals-in-gen2": Program(
        (Loop(20_000, (Keep(),)), Call("freeze"), Loop(20_000, (Keep(),)), Call("unfreeze"), Loop(3_000, (Keep(),)))
    ),
    # ... and the next full collection moves them back, not counting them as survivors
    "unfreeze-then-full-collections": Program(
        (
            Loop(20_000, (Keep(),)),
            Call("freeze"),
            Call("unfreeze"),
            Call("collect", (2,)),
            Loop(400_000, (Keep(), Temp(), Ring(50))),
        ),
        thresholds=(100, 10, 10),
    ),
    # a start state with objects frozen, long_lived_total from before the freeze, and count0
    # and generation 0 already at 300
    "start-frozen-and-young": Program(
        (Loop(100_000, (Keep(), Ring(10))), Call("unfreeze"), Loop(50_000, (Keep(), AssignCycle("a")))),
        start_frozen=True,
        start_young=300,
    ),
    # an empty trace is valid; so is one of gc calls only, from a start with count0 at 120
    "empty": Program(()),
    "gc-calls-only": Program(
        (Call("collect", (0,)), Call("freeze"), Call("collect", (1,)), Call("unfreeze"), Call("set_threshold", (5,))),
        start_young=120,
    ),
}


@pytest.fixture(scope="module")
def traces():
    return {name: p.trace() for name, p in PROGRAMS.items()}


@pytest.mark.parametrize("minor", interpreter_params())
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_collections_match_real_interpreter(minor, name, traces):
    prog = PROGRAMS[name]
    if name == "untracked-dicts" and preset(minor).atomic_dicts_tracked:
        pytest.skip("3.14+ tracks every dict; the program's premise does not hold")
    real = run_program(minor, prog.python())
    _, full_version = find_interpreter(minor)
    sim = simulate_trace(traces[name], full_version, thresholds=prog.thresholds,
                         **prog.start_state(real["long_lived_total"]))
    c = sim.collections
    collected = [int(c.garbage_freed[c.generation == g].sum()) for g in range(3)]
    assert (sim.generation_counts(), collected) == (real["collections"], real["collected"])
    e = sim.end_state
    end = {"count": e["count"], "generation_sizes": e["generation_sizes"], "freeze_count": e["freeze_count"]}
    assert (end, e["thresholds"]) == (real["end"], real["thresholds"])
    if name == "long-lived-rule-vetoes":
        # the case must really exercise the rule, or it proves nothing
        assert c.full_vetoed.any()


@pytest.mark.parametrize("minor", interpreter_params())
def test_default_thresholds_match(minor):
    real = run_program(minor, "import gc, json; print(json.dumps({'t': list(gc.get_threshold())}))")
    assert tuple(real["t"]) == preset(minor).thresholds
