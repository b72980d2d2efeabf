"""The SimPy engine: mutator, collector pauses and timers on one clock.

This is the only module that imports SimPy. The interpreter (the GIL, "the
world") is a :class:`simpy.PreemptiveResource` of capacity one:

* the **mutator** process holds it and runs the workload: it asks the
  :class:`~gcperf.machine.Machine` how much work comes before the next slot that
  matters, lets that much simulated time pass, then handles the slot. A
  collection triggered by its own allocation runs on its own thread, so the
  mutator stays in the world for the pause and makes no progress;
* **timer** processes (a thread calling ``gc.collect()`` every N seconds, the
  timeline sampler) preempt the mutator, like the repairman in SimPy's machine
  shop example: the mutator is interrupted mid-batch, keeps the work it has not
  done, and resumes once the timer releases the world. A timer never breaks into
  a collection in progress (collections are atomic under the GIL): it waits for
  the pause to end.

Wall time is mutator time plus pauses; the run ends when the workload is done.
"""

from __future__ import annotations

import simpy

from .machine import Machine


def _mutator(env: simpy.Environment, m: Machine, world: simpy.PreemptiveResource, state: dict):
    req = world.request(priority=1)
    yield req
    while True:
        work = m.plan()
        if work > 0:
            started = env.now
            try:
                yield env.timeout(work)
            except simpy.Interrupt:
                m.wall = env.now
                m.sync(m.mut_time + (env.now - started))
                req = world.request(priority=1)
                yield req
                continue
        m.wall = env.now
        pauses = m.arrive()
        if pauses:
            state["pause_done"] = env.event()
            for p in pauses:
                yield env.timeout(p)
            state["pause_done"].succeed()
            state["pause_done"] = None
        if m.finished:
            break
    m.wall = env.now
    world.release(req)


def _timer(env: simpy.Environment, m: Machine, world: simpy.PreemptiveResource, state: dict,
           period_s: float, action):
    while True:
        yield env.timeout(period_s)
        if m.finished:
            return
        while state.get("pause_done") is not None:
            yield state["pause_done"]
        with world.request(priority=0, preempt=True) as req:
            yield req
            if m.finished:
                return
            m.wall = env.now
            pauses = action()
            for p in pauses or ():
                yield env.timeout(p)


def run_machine(m: Machine, timeline_period_s: float | None, collect_every_s: float | None,
                collect_generation: int) -> float:
    """Run a machine to the end of its workload; return the wall time it took."""
    env = simpy.Environment()
    world = simpy.PreemptiveResource(env, capacity=1)
    state: dict = {"pause_done": None}
    m.sample()
    mut = env.process(_mutator(env, m, world, state))
    if timeline_period_s:
        env.process(_timer(env, m, world, state, timeline_period_s, lambda: m.sample()))
    if collect_every_s:
        env.process(
            _timer(env, m, world, state, collect_every_s,
                   lambda: m.external_collect(collect_generation, "timer"))
        )
    env.run(until=mut)
    m.wall = env.now
    m.sample()
    m.finish()
    return env.now
