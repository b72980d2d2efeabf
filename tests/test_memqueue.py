"""The memory model behind a queue (gcperf/memory/queued.py): on its own thread it gives the very same results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gcperf import GCSettings, Scenario, simulate
from gcperf.errors import GcperfError
from gcperf.memory import NEVER, MemoryModel, geometry_for
from gcperf.memory.queued import QueuedMemory, _IdPool, thread_default


def _tables(r):
    return r.collections, r.timeline, r.summary


@pytest.mark.parametrize("name,gc", [
    ("web", GCSettings(version="3.13")),
    ("batch", GCSettings(version="3.12", freeze_after="load")),
    ("cycles", GCSettings(version="3.9", thresholds=(20_000, 10, 10))),
])
def test_memory_thread_changes_nothing(name, gc):
    sc = Scenario(name, gc, seed=7, duration_s=3, memory=True)
    inline = simulate(sc, memory_thread=False)
    threaded = simulate(sc, memory_thread=True)
    assert inline.summary_dict()["collections"] > 0
    assert inline.timeline["footprint_mb"].notna().all()
    assert inline.collections["footprint_mb_before"].notna().all()
    for a, b in zip(_tables(inline), _tables(threaded), strict=True):
        pd.testing.assert_frame_equal(a, b)


def _random_calls(rng, n_calls=40):
    calls, seq = [], 0
    for _ in range(n_calls):
        kind = rng.choice(["allocate", "allocate", "advance", "stats", "free"])
        if kind == "allocate":
            n = int(rng.integers(1, 400))
            seqs = seq + np.sort(rng.integers(0, 5_000, n))
            seq = int(seqs[-1])
            want = rng.random(n) < 0.3
            frees = np.where(want, NEVER, seqs + rng.integers(0, 20_000, n))
            sizes = np.stack([rng.integers(1, 513, n), np.where(rng.random(n) < 0.2, rng.integers(0, 300_000, n), 0)], 1)
            calls.append(("allocate", (seqs, frees, sizes, want)))
        elif kind == "advance":
            seq += int(rng.integers(0, 10_000))
            calls.append(("advance", seq))
        else:
            calls.append((kind, None))
    return calls


@pytest.mark.parametrize("threaded", [False, True])
def test_queued_calls_are_the_model_calls(threaded):
    """Every call reaches the model in order; snapshots equal the model's stats at that point;
    objects freed by id are the ones allocated under that id."""
    rng = np.random.default_rng(3)
    calls = _random_calls(rng, 80)
    direct = MemoryModel(geometry_for("3.11"), 2)
    queued = QueuedMemory(MemoryModel(geometry_for("3.11"), 2), threaded)
    want_stats, tickets = [], []
    live_rows: list[int] = []  # direct model rows, in the order the queued ids were handed out
    live_ids: list[int] = []
    pick = np.random.default_rng(4)
    for kind, args in calls:
        if kind == "allocate":
            rows = direct.allocate(*args)
            ids = queued.allocate(*args)
            assert ((rows >= 0) == (ids >= 0)).all()
            live_rows += rows[rows >= 0].tolist()
            live_ids += ids[ids >= 0].tolist()
        elif kind == "advance":
            direct.advance(args)
            queued.advance(args)
        elif kind == "free" and live_ids:
            k = int(pick.integers(1, len(live_ids) + 1))
            idx = sorted(pick.choice(len(live_ids), k, replace=False).tolist())
            direct.free_rows(np.array([live_rows[i] for i in idx]))
            queued.free(np.array([live_ids[i] for i in idx]))
            live_rows = [r for i, r in enumerate(live_rows) if i not in set(idx)]
            live_ids = [r for i, r in enumerate(live_ids) if i not in set(idx)]
        elif kind == "stats":
            want_stats.append(direct.stats())
            tickets.append(queued.stats_later())
    assert len(set(live_ids)) == len(live_ids)  # ids of live objects are distinct
    assert queued.stats() == direct.stats()
    assert [queued.result(t) for t in tickets] == want_stats
    assert len(tickets) > 3


@pytest.mark.parametrize("threaded", [False, True])
def test_an_error_in_the_model_reaches_the_engine(threaded):
    class Broken:
        def allocate(self, *args):
            raise GcperfError("the model broke")

        def advance(self, seq):
            pass

    q = QueuedMemory(Broken(), threaded)
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(GcperfError, match="the model broke"):
        q.allocate(one, one + 1, np.array([[16]]), np.zeros(1, dtype=bool))
        q.close()
    with pytest.raises(GcperfError, match="the model broke"):
        q.close()


def test_freeing_an_unknown_id_is_an_error():
    q = QueuedMemory(MemoryModel(geometry_for("3.11"), 1), True)
    with pytest.raises(GcperfError, match="never handed out"):
        q.free(np.array([-1]))
    one = np.zeros(1, dtype=np.int64)
    ids = q.allocate(one, np.array([NEVER]), np.array([[16]]), np.ones(1, dtype=bool))
    with pytest.raises(GcperfError, match="never handed out"):
        q.free(ids + 1)
    q.free(ids)
    q.free(ids)  # twice: the model finds the row already freed
    with pytest.raises(GcperfError, match="not a live row"):
        q.close()


def test_id_pool_reuses_freed_ids():
    p = _IdPool()
    a = p.take(5)
    assert a.tolist() == [0, 1, 2, 3, 4]
    p.give(np.array([3, 1]))
    b = p.take(3)
    assert b.tolist() == [1, 3, 5]  # the last freed first, then a fresh one
    assert p.take(2994).tolist() == list(range(6, 3000))
    p.give(np.arange(3000))  # beyond the stack's first capacity
    assert sorted(p.take(3000).tolist()) == list(range(3000))
    assert p.issued == 3000


def test_thread_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv("GCPERF_MEMORY_THREAD", "0")
    assert thread_default() is False
    monkeypatch.setenv("GCPERF_MEMORY_THREAD", "1")
    assert thread_default() is True


def test_an_abandoned_queue_stops_its_worker():
    """A run that dies in the engine leaves no thread behind once its queue is collected."""
    import gc

    q = QueuedMemory(MemoryModel(geometry_for("3.11"), 1), True)
    one = np.zeros(1, dtype=np.int64)
    q.allocate(one, one + 1, np.array([[16]]), np.zeros(1, dtype=bool))
    thread = q._thread
    assert thread is not None and thread.is_alive()
    del q
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_left_to_decide_the_queue_follows_the_batch_size(monkeypatch):
    """With no explicit choice, small allocation batches move the calls in line and large ones
    back to the worker; the model sees the same calls either way."""
    from gcperf.memory import queued as qmod

    monkeypatch.delenv("GCPERF_MEMORY_THREAD", raising=False)
    monkeypatch.setattr(qmod, "thread_default", lambda: True)
    direct = MemoryModel(geometry_for("3.11"), 2)
    q = QueuedMemory(MemoryModel(geometry_for("3.11"), 2))
    rng = np.random.default_rng(5)
    modes, seq, tickets, want = [], 0, [], []
    for n in [200] * 48 + [40_000] * 48 + [200] * 48:
        seqs = seq + np.arange(n, dtype=np.int64)
        seq += n
        frees = seqs + rng.integers(1, 3 * n, n)
        sizes = np.stack([rng.integers(1, 513, n), np.zeros(n, dtype=np.int64)], 1)
        wantm = np.zeros(n, dtype=bool)
        direct.allocate(seqs, frees, sizes, wantm)
        q.allocate(seqs, frees, sizes, wantm)
        direct.advance(seq)
        q.advance(seq)
        want.append(direct.stats())
        tickets.append(q.stats_later())
        modes.append(q.threaded)
    q.close()
    assert not modes[0] and not modes[47] and modes[95] and not modes[-1]
    assert [q.result(t) for t in tickets] == want
