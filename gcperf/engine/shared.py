"""One draw of a program's behaviour, handed to several runs at once (common random numbers).

A statistical stream's realisation depends on the workload, the seed and a few traits of the
version (which objects it tracks, what count0 counts), never on the thresholds: runs that
differ only in those simulate the same program. :class:`SharedDraw` draws each chunk once and
gives every run its own copy of it (the per-run bookkeeping: what was handed to the memory
model, under which rows), so the runs advance in lockstep over one realisation.

The stream keeps a chunk's work arrays in two alternating buffers: drawing chunk k overwrites
chunk k-2's; the runs' turns (below) keep every run within one chunk of the others. Runs in
threads of one process share the interpreter lock, so the gain is the draws not repeated, not
parallel work.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from ..workload.stream import Chunk, StatisticalStream

_GONE = 1 << 62  # the chunk index of a run that has ended: it holds nothing back


class SharedDraw:
    """The chunks of ``stream`` for ``runs`` consumers; :meth:`consumer` is what each run reads.

    The runs take turns, one chunk each, in a fixed order: a run that has taken chunk k goes on
    alone until it asks for chunk k + 1, then hands the turn on and waits for it. One run works
    at a time (the others wait on a condition, not for the interpreter lock: threads that all
    want the lock lose more to handing it over than they gain), and when chunk k + 1 is drawn,
    on the first turn that asks for it, every run still going has taken chunk k, so the buffer
    it overwrites (chunk k - 1's) is no one's.
    """

    def __init__(self, stream: StatisticalStream, runs: int):
        self.stream = stream
        self._source = iter(stream.chunks())
        self._cond = threading.Condition()
        self._drawn: dict[int, Chunk | None] = {}
        self._held = [-1] * runs  # per run, the index of the chunk it reads (-1: none yet)
        self._turn: int | None = 0
        self._failed: BaseException | None = None  # what the draw raised: every run raises it
        self.draws = 0  # chunks drawn (for tests and benchmarks: each once)

    def consumer(self, run: int) -> _Consumer:
        """The stream as run ``run`` sees it: the shared one, with chunks of its own."""
        return _Consumer(self, run)

    def leave(self, run: int) -> None:
        """Run ``run`` needs no more chunks (it ended, or failed): the turn goes on without it."""
        with self._cond:
            if self._held[run] == _GONE:
                return
            self._held[run] = _GONE
            if self._turn == run:
                self._pass_turn(run)
            self._forget()
            self._cond.notify_all()

    def _pass_turn(self, run: int) -> None:
        n = len(self._held)
        for step in range(1, n + 1):
            j = (run + step) % n
            if self._held[j] != _GONE:
                self._turn = j
                break
        else:
            self._turn = None
        self._cond.notify_all()

    def _forget(self) -> None:
        lo = min(self._held)
        for k in [k for k in self._drawn if k < lo]:
            del self._drawn[k]

    def chunks(self, run: int):
        k = 0
        try:
            while True:
                with self._cond:
                    if k > 0:
                        self._pass_turn(run)
                    while self._turn != run:
                        self._cond.wait()
                    if self._failed is not None:
                        raise self._failed
                    if k not in self._drawn:
                        try:
                            ch = next(self._source, None)
                        except BaseException as e:  # the stream is broken for every run
                            self._failed = e
                            raise
                        if ch is not None:
                            _ = ch.scan  # built once, read by every run
                            self.draws += 1
                        self._drawn[k] = ch
                    ch = self._drawn[k]
                    self._held[run] = k
                    self._forget()
                if ch is None:
                    return
                yield _own_copy(ch)
                k += 1
        finally:
            self.leave(run)


def _own_copy(ch: Chunk) -> Chunk:
    """The chunk with this run's own bookkeeping; the drawn arrays are shared (read only)."""
    row = None if ch.cand_row is None else np.full(len(ch.cand_row), -1, dtype=np.int64)
    return replace(ch, fed=0, cand_row=row, _scan=ch.scan)


class _Consumer:
    """A run's view of a shared stream: its chunks come from the shared draw; everything else
    (times, checkpoints, events of a slot) is the stream's, which the draw does not change."""

    def __init__(self, shared: SharedDraw, run: int):
        self._shared = shared
        self._run = run

    def chunks(self):
        return self._shared.chunks(self._run)

    def __getattr__(self, name: str):
        return getattr(self._shared.stream, name)
