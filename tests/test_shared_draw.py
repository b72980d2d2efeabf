"""simulate_many: several settings over one draw of the program give simulate's very tables."""

from __future__ import annotations

import pytest

from gcperf import GcperfError, GCSettings, Scenario, simulate, simulate_many
from gcperf.engine import runner
from gcperf.engine.shared import SharedDraw


def _same(a, b) -> bool:
    return a.collections.equals(b.collections) and a.timeline.equals(b.timeline) and a.summary.equals(b.summary) \
        and a.end_state == b.end_state


@pytest.mark.parametrize("memory", [False, True])
def test_runs_over_one_draw_are_those_of_separate_runs(memory):
    # small chunks: many turns; thresholds, a disabled collector with a timer: every run stops
    # at other places within the chunks they share
    scs = [Scenario("web", GCSettings(version="3.12", thresholds=t), seed=4, duration_s=0.4, memory=memory,
                    chunk_slots=4096)
           for t in ((700, 10, 10), (5000, 10, 10), (700, 50, 100), (50_000, 3, 3))]
    scs.append(Scenario("web", GCSettings(version="3.12", enabled=False, collect_every_s=0.05), seed=4,
                        duration_s=0.4, memory=memory, chunk_slots=4096))
    many = simulate_many(scs)
    for sc, got in zip(scs, many, strict=True):
        assert _same(got, simulate(sc)), sc.gc


def test_each_chunk_is_drawn_once_for_the_group(monkeypatch):
    draws = []
    real = SharedDraw.__init__

    def spy(self, stream, runs):
        real(self, stream, runs)
        draws.append(self)

    monkeypatch.setattr(SharedDraw, "__init__", spy)
    scs = [Scenario("cycles", GCSettings(version="3.13", thresholds=(t0, 10, 10)), seed=1, duration_s=0.2,
                    memory=False, chunk_slots=2048) for t0 in (100, 2000, 30_000)]
    simulate_many(scs)
    (shared,) = draws
    n_chunks = -(-runner._make_stream(scs[0]).total_slots // 2048)
    assert shared.draws == n_chunks > 3


def test_scenarios_whose_draws_differ_run_apart_and_keep_their_order():
    scs = [Scenario("web", GCSettings(version="3.11"), seed=s, duration_s=0.2, memory=False) for s in (1, 2)]
    scs.insert(1, Scenario("web", GCSettings(version="3.11", thresholds=(3000, 10, 10)), seed=1, duration_s=0.2,
                           memory=False))
    scs.append(Scenario("batch", GCSettings(version="3.11", freeze_after="load"), seed=1, duration_s=0.2,
                        memory=False))
    keys = [runner.draw_key(sc) for sc in scs]
    assert keys[0] == keys[1] and keys[0] != keys[2] and keys[0] != keys[3]
    for sc, got in zip(scs, simulate_many(scs), strict=True):
        assert _same(got, simulate(sc))


def test_a_failing_run_is_raised_and_does_not_hold_the_others(monkeypatch):
    calls = []
    real = runner._simulate

    def flaky(sc, *args, **kwargs):
        calls.append(sc.gc.thresholds)
        if sc.gc.thresholds == (900, 10, 10):
            raise GcperfError("boom")
        return real(sc, *args, **kwargs)

    monkeypatch.setattr(runner, "_simulate", flaky)
    scs = [Scenario("web", GCSettings(version="3.13", thresholds=(t0, 10, 10)), seed=2, duration_s=0.2, memory=False,
                    chunk_slots=4096) for t0 in (700, 900, 3000)]
    with pytest.raises(GcperfError, match="boom"):
        simulate_many(scs)  # returns (the test would hang otherwise)
    assert len(calls) == 3


def test_versions_that_track_alike_share_a_draw_and_keep_their_results():
    # a free-threaded build draws the program of its GIL build; 3.14 tracks other objects than
    # 3.13 (tuples of atomic values are created untracked, dicts of them tracked); 3.15 counts
    # tracked objects only
    scs = [Scenario("web", GCSettings(version=v), seed=6, duration_s=0.3, memory=True, chunk_slots=8192)
           for v in ("3.13", "3.13t", "3.14", "3.14t", "3.15")]
    keys = [runner.draw_key(sc) for sc in scs]
    assert keys[0] == keys[1] != keys[2] == keys[3] != keys[4]
    for sc, got in zip(scs, simulate_many(scs), strict=True):
        assert _same(got, simulate(sc)), sc.gc.version


def test_a_draw_that_fails_fails_every_run_with_its_own_error(monkeypatch):
    from gcperf.workload.stream import StatisticalStream

    real = StatisticalStream._make_chunk

    def broken(self, c, j0, n):
        if c == 3:
            raise GcperfError("the draw broke")
        return real(self, c, j0, n)

    monkeypatch.setattr(StatisticalStream, "_make_chunk", broken)
    scs = [Scenario("web", GCSettings(version="3.13", thresholds=(t0, 10, 10)), seed=2, duration_s=0.2, memory=False,
                    chunk_slots=4096) for t0 in (700, 3000)]
    with pytest.raises(GcperfError, match="the draw broke"):
        simulate_many(scs)
    # each run gets the draw's error: none takes the broken stream for its end
    import threading

    shared = SharedDraw(runner._make_stream(scs[0]), 2)
    seen = {}

    def consume(run):
        try:
            for _ in shared.chunks(run):
                pass
            seen[run] = "ended"
        except GcperfError as e:
            seen[run] = str(e)

    threads = [threading.Thread(target=consume, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == {0: "the draw broke", 1: "the draw broke"}
    with pytest.raises(GcperfError, match="simulate takes a Scenario"):
        simulate_many([scs[0], 42])
