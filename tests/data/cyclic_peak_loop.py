"""The published-figures loop of tests/test_incremental.py (_growing_heap_with_cycles), run for real.

Per iteration 19 objects kept to the end, then one object in a reference cycle dropped; 100 000
iterations. Prints, as JSON, the peak of uncollected cyclic garbage: the cycles dropped so far less
the objects the collector has freed, taken when each collection starts and at the end
(gc.callbacks). Standard library only; any CPython 3.8+.
"""

import gc
import json
import sys


class A:
    __slots__ = ()


class C:
    __slots__ = ("r",)


keep = []
dropped = 0
collected = 0
peak = 0


def cb(phase, info):
    global collected, peak
    if phase == "start":
        peak = max(peak, dropped - collected)
    else:
        collected += info["collected"]


gc.collect()
gc.callbacks.append(cb)
for _ in range(100_000):
    for _ in range(19):
        keep.append(A())
    c = C()
    c.r = c
    c = None
    dropped += 1
peak = max(peak, dropped - collected)
gc.callbacks.remove(cb)
print(json.dumps({"version": sys.version.split()[0], "peak": peak, "dropped": dropped, "collected": collected}))
