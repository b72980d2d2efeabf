"""The free-threaded build's count over a run of slots, compiled.

On 3.13t and 3.14t the collector's count moves in steps of 512: each thread buffers +1 per GC
allocation and -1 per GC deallocation and adds the buffer to the global count when it reaches
+512 or -512 (``LOCAL_ALLOC_COUNT_THRESHOLD``; CPYTHON_GC.md §4). Only a +512 flush asks whether
to collect. The walk is sequential (every flush resets the buffer), so it runs here as a numba
loop over the slots of a chunk rather than as the prefix-sum scans of ``policy.CounterScan``.

Order inside slot k, as in ``machine.py``: the allocation first, then the slot's ``d[k]`` frees.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FLUSH = 512


@njit(cache=True, nogil=True)
def ft_walk(d: np.ndarray, pos: int, stop: int, local: int, count: int, need: int, floor: bool):
    """Walk slots ``pos..stop-1`` from buffer ``local`` and global ``count``.

    Stops before the first slot whose allocation flushes the buffer into a global count of at
    least ``need`` (pass ``need`` above any reachable count for a walk that never stops).

    Returns:
        ``(k, local, count)``: the slot it stopped before (``stop`` when none qualified) and the
        buffer and global count before that slot.
    """
    for k in range(pos, stop):
        if local + 1 >= FLUSH:
            if count + local + 1 >= need:
                return k, local, count
            count += local + 1
            local = 0
        else:
            local += 1
        n = d[k]
        if n > 0:
            x = local - n
            if x > -FLUSH:
                local = x
            else:
                rest = n - (local + FLUSH)
                count -= FLUSH * (1 + rest // FLUSH)
                if floor and count < 0:
                    count = 0
                local = -(rest % FLUSH)
    return stop, local, count


NO_STOP = np.iinfo(np.int64).max
"""``need`` for a walk that only advances the counts."""
