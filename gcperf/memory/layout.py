"""The memory model's shared layout: the constants of pymalloc and glibc it models, the
columns of its state tables, and the options its numba kernels are compiled with.

Module constants are frozen into the kernels when numba compiles them, so the tables' column
numbers live here, once, for ``pymalloc.py``, ``glibc.py`` and ``model.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NEVER = np.iinfo(np.int64).max
"""``free_seq`` of an object that is never freed (or freed later through its row)."""

SYSTEM_PAGE = 4096
ALIGNMENT_SHIFT = 4
POOL_OVERHEAD = 48  # sizeof(struct pool_header) rounded to ALIGNMENT
NUM_CLASSES = 32
ARENA_OBJECT_BYTES = 48  # sizeof(struct arena_object) on 64-bit

# glibc (2.36, x86-64) constants
MINSIZE = 32
TOP_PAD = 128 * 1024  # DEFAULT_TOP_PAD from sysdeps/generic/malloc-machine.h
MMAP_THRESHOLD_START = 128 * 1024
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD_START = 128 * 1024
CONSOLIDATION_THRESHOLD = 65536  # FASTBIN_CONSOLIDATION_THRESHOLD
TCACHE_BINS = 64
TCACHE_COUNT = 7
TCACHE_MAX_CHUNK = 1040  # largest chunk size with a tcache bin
NBINS = 128

# ---- column layouts of the state tables (module constants are frozen by numba)
# globals
(G_N_CURRENT, G_N_TOTAL, G_N_RECLAIMED, G_N_HIGHWATER, G_USABLE_HEAD, G_UNUSED_HEAD, G_UNUSED_TAIL,
 G_UNUSED_COUNT, G_REAL_MAXARENAS, G_REAL_UNUSED, G_POOLS_IN_USE, G_POOLS_TOUCHED, G_PYM_PAGES,
 G_PYM_BYTES, G_REQ_BYTES, G_BLOCKS, G_MMAP_THRESHOLD, G_TRIM_THRESHOLD, G_MMAPPED, G_N_MMAPPED,
 G_TOP_START, G_BRK_END, G_TOUCHED, G_LAST_CHUNK, G_CFREE_HEAD, G_CFREE_COUNT, G_HEAP_INUSE,
 G_PEAK, G_ROW_FREE_TOP, G_ROWS_LIVE, G_HEAP_N, G_COUNTER, G_STATUS, G_WBASE, G_FCOUNT, G_CCOUNT, G_NBINNED,
 G_ARENA_VECTOR, G_FNEXT, G_RNEXT, G_CUR_POS, G_CUR_END, G_CUR_BASE, G_EFREE_HEAD, G_EFREE_COUNT, G_RUN_HEAD,
 G_RUN_TAIL, G_RUN_CHUNKS) = range(48)
G_SIZE = 48
# arena table, one row per arena_object slot
A_MAPPED, A_NFREE, A_NTOTAL, A_NCARVED, A_FREEPOOLS, A_NEXT, A_PREV, A_PAGES = range(8)
A_COLS = 8
# pool table (int32), max_pools rows per arena slot; the kernels see it flat, P_STRIDE values a pool
P_COUNT, P_SZIDX, P_CARVED, P_NEXT, P_PREV, P_PAGES = range(6)
P_COLS = 8
P_SHIFT = 3  # log2(P_COLS)
# chunk table of the glibc model (heap chunks and mmapped chunks)
C_ADDR, C_SIZE, C_STATE, C_PREVA, C_NEXTA, C_BNEXT, C_BPREV, C_BIN = range(8)
C_COLS = 8
CS_RECORD_FREE, CS_BINNED, CS_INUSE, CS_TCACHE, CS_MMAPPED = range(5)
# list heads: usedpools[32], then nfp2lasta[0..max_pools]
L_NFP = NUM_CLASSES
# glibc list heads: bins[128], tcache heads[64], tcache counts[64], a bitmap of the non-empty bins
B_TC_HEAD = NBINS
B_TC_COUNT = NBINS + TCACHE_BINS
B_MAP = NBINS + 2 * TCACHE_BINS
B_SIZE = B_MAP + NBINS // 64
# geometry vector handed to the kernels
(GEO_POOL_SIZE, GEO_MAX_POOLS, GEO_USABLE, GEO_KEEP_ONE, GEO_SMALL, GEO_POOL_PAGES, GEO_WHEEL_BITS,
 GEO_REC_SHIFT) = range(8)
# heap of pending frees: (free_seq, registration counter, row)
H_KEY, H_CNT, H_ROW = range(3)
# records (int32, 2**rec_shift words): an object's blocks, its requested bytes (low and high
# 32 bits), a tag (the position in its bucket for a ring entry, the state for a row), then the
# k block handles (pool index, or -1 - chunk record). Rows (the row table) are kept only for
# user rows and frees in the fine wheel or the heap; frees in the ring are records in chunks.
X_NB, X_REQ_LO, X_REQ_HI, X_TAG, X_H = range(5)
ROW_FREE, ROW_PENDING, ROW_USER = 0, 1, 2
# kernel status codes (G_STATUS) asking the Python side to grow a table
NEED_NOTHING, NEED_ARENAS, NEED_CHUNKS, NEED_ROWS, NEED_HEAP, BAD_ROW, NEED_ENTRIES = 0, 1, 2, 3, 4, 5, 6
# Pending frees (see _run): a ring of 2**wheel_bits buckets of 2**wheel_bits positions each
# (a horizon of 4**wheel_bits positions), beyond it a heap. A bucket's records are appended in
# registration order to chunks of E_CHUNK records; when the bucket comes, (position, record)
# pairs are sorted by position (stable radix sort) into the current run. Registrations for the
# current bucket go to a fine wheel (one FIFO list of rows per position) with a bitmap.
WHEEL_BITS = 12
E_CHUNK = 32
# int32 wheel array: fine heads, fine tails, ring head chunk, ring tail chunk, ring count (2**bits each)
W_FH, W_FT, W_RH, W_RT, W_RC = range(5)
# positions are kept below this, so bucket arithmetic cannot overflow
MAX_SEQ = 1 << 62

# Every kernel is cached on disk and compiled without the numba runtime's reference counting:
# the arrays all come from numpy, and incref/decref on each call of a helper taking a dozen
# arrays would cost more than the allocator's own work. error_model="numpy": no zero-division
# checks (no divisor is ever zero); nogil: the GIL is released while a kernel runs (the memory
# model may run on a thread of its own, see queued.py).
_KERNEL: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy", "nogil": True}
# Hot array accesses index with ``U(i)``, an unsigned integer: numba turns a negative signed index
# into ``i + len`` (Python's wraparound) on every access, and those extra instructions cost about a
# quarter of the kernel's time. No index in the kernels is ever negative.
U = np.uint64
