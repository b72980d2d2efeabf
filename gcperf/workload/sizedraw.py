"""The memory model's per-object size draw, compiled.

One uniform number per object picks a row of a joint table (object size, payload
sizes) by inverse CDF; the kernel does the table lookup, the rare search, the
copy of the row and its total in one pass, where numpy would need four passes
and three temporaries. Imported only when memory is simulated (numba is a
heavy import).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

U = np.uint64
# cached on disk, no reference counting (arrays only come in), no zero-division checks, and the
# GIL released (the memory model's thread runs meanwhile)
_OPTS: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy", "nogil": True}


@njit(**_OPTS)
def draw_rows(u, table, cdf, m, words, totals, out, nbytes, off):  # pragma: no cover - compiled
    """Rows ``off:off + len(u)`` of ``out`` and ``nbytes``: for each ``u[i]``, the outcome
    ``o = min(searchsorted(cdf, u[i], side="right"), len(cdf) - 1)``, its row ``words[o]`` (the
    int32 row table seen as int64 words) and its total ``totals[o]``.

    ``table`` has a bin of width ``1/m`` per entry: the outcome when the bin lies inside one
    outcome's CDF interval, else ``-1 - o0`` with ``o0`` the outcome at the bin's left edge
    (the search starts there: the answer is at least ``o0`` and usually ``o0`` or the next)."""
    last = cdf.shape[0] - 1
    k = words.shape[1]
    for i in range(u.shape[0]):
        x = u[U(i)]
        o = np.int64(table[U(np.int64(x * m))])
        if o < 0:
            o = -1 - o
            while o < last and cdf[U(o)] <= x:
                o += 1
        r = U(off + i)
        for c in range(k):
            out[r, U(c)] = words[U(o), U(c)]
        nbytes[r] = totals[U(o)]
