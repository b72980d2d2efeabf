"""pymalloc (``Objects/obmalloc.c``): requests of 1..512 bytes, 32 size classes of 16 bytes,
pools of one size class, arenas of pools.

The pool and arena bookkeeping follows obmalloc.c step by step (``usedpools``, per-arena
``freepools``, ``usable_arenas`` sorted by free pools with the ``nfp2lasta`` fingers, new arenas
only when ``usable_arenas`` is empty, the release rule of each version); see ``model.py`` for
how a pool is kept (counters, not a free list of addresses). The arena_object vector itself is
allocated through the glibc model, as obmalloc does with ``PyMem_RawRealloc``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import GcperfError
from .glibc import (
    _glibc_realloc,
)
from .layout import (
    _KERNEL,
    A_FREEPOOLS,
    A_MAPPED,
    A_NCARVED,
    A_NEXT,
    A_NFREE,
    A_NTOTAL,
    A_PAGES,
    A_PREV,
    ALIGNMENT_SHIFT,
    ARENA_OBJECT_BYTES,
    G_ARENA_VECTOR,
    G_N_CURRENT,
    G_N_HIGHWATER,
    G_N_RECLAIMED,
    G_N_TOTAL,
    G_POOLS_IN_USE,
    G_POOLS_TOUCHED,
    G_PYM_PAGES,
    G_REAL_MAXARENAS,
    G_REAL_UNUSED,
    G_UNUSED_COUNT,
    G_UNUSED_HEAD,
    G_UNUSED_TAIL,
    G_USABLE_HEAD,
    GEO_KEEP_ONE,
    GEO_MAX_POOLS,
    GEO_POOL_PAGES,
    GEO_USABLE,
    L_NFP,
    P_CARVED,
    P_COUNT,
    P_NEXT,
    P_PAGES,
    P_PREV,
    P_SHIFT,
    P_SZIDX,
    POOL_OVERHEAD,
    SYSTEM_PAGE,
)


@dataclass(frozen=True)
class AllocatorGeometry:
    """The constants of pymalloc that differ between builds and versions.

    Attributes:
        pool_size: bytes per pool (``POOL_SIZE``); 4096 up to 3.9, 16384 from 3.10.
        arena_size: bytes per arena (``ARENA_SIZE``); 256 KiB up to 3.9, 1 MiB from 3.10.
        usable_pools: pools of an arena whose mmap address is not pool-aligned
            (``ARENA_SIZE / POOL_SIZE``, minus one when the pool is larger than a
            page: 63 from 3.10).
        keep_one_empty_arena: False for 3.8 (every wholly free arena is unmapped),
            True from 3.9 (the last arena of ``usable_arenas`` is kept, bpo-37257).
        small_threshold: largest request served by pymalloc (``SMALL_REQUEST_THRESHOLD``).
        aligned_arena_share: share of new arenas whose address happens to be
            pool-aligned and which therefore get ``arena_size / pool_size`` pools,
            applied as a deterministic equidistributed sequence (arena k is aligned
            when ``floor((k+1)*share) > floor(k*share)``). 0 by default: from 3.10
            the arenas of about 3 processes in 4 all have 63 pools and those of the
            others all 64 (consecutive mmaps share an alignment); 0.25 models the
            average over processes. Irrelevant when ``usable_pools`` is the maximum.
    """

    pool_size: int = 16384
    arena_size: int = 1 << 20
    usable_pools: int = 63
    keep_one_empty_arena: bool = True
    small_threshold: int = 512
    aligned_arena_share: float = 0.0

    def __post_init__(self) -> None:
        if self.small_threshold < 16 or self.small_threshold > 512 or self.small_threshold % 16:
            raise GcperfError(f"small_threshold must be a multiple of 16 in 16..512, got {self.small_threshold}")
        if self.pool_size % 16 or self.pool_size < POOL_OVERHEAD + 2 * self.small_threshold:
            raise GcperfError(
                f"pool_size must be a multiple of 16 holding two blocks of the largest class "
                f"(>= {POOL_OVERHEAD + 2 * self.small_threshold}), got {self.pool_size}"
            )
        if self.arena_size % self.pool_size or self.arena_size < 2 * self.pool_size:
            raise GcperfError(
                f"arena_size must be a multiple of pool_size ({self.pool_size}) of at least two pools, "
                f"got {self.arena_size}"
            )
        if not 2 <= self.usable_pools <= self.max_pools:
            raise GcperfError(f"usable_pools must be in 2..{self.max_pools}, got {self.usable_pools}")
        if not 0.0 <= self.aligned_arena_share <= 1.0:
            raise GcperfError(f"aligned_arena_share must be in [0, 1], got {self.aligned_arena_share}")

    @property
    def max_pools(self) -> int:
        """Pools an arena holds when its address is pool-aligned (``MAX_POOLS_IN_ARENA``)."""
        return self.arena_size // self.pool_size

    def blocks_per_pool(self, size_class: int) -> int:
        """Blocks of size class ``size_class`` (0..31, block ``16*(c+1)`` bytes) in one pool."""
        return (self.pool_size - POOL_OVERHEAD) // (16 * (size_class + 1))


_VERSION_RE = re.compile(r"^3\.(\d+)(?:\.\d+)?$")


def geometry_for(version: str) -> AllocatorGeometry:
    """pymalloc geometry of 64-bit Linux CPython ``version`` ("3.8" .. "3.15", or "3.12.1").

    3.15 is taken to keep 3.10-3.14's geometry (derived, not measured: no 3.15 interpreter here).

    Raises:
        GcperfError: the version is malformed or outside 3.8-3.15.
    """
    m = _VERSION_RE.match(str(version).strip())
    if not m or not 8 <= int(m.group(1)) <= 15:
        raise GcperfError(f"version must be 3.8 .. 3.15 (optionally with a micro level), got {version!r}")
    minor = int(m.group(1))
    if minor <= 9:
        # 4 KiB pools are page-aligned whatever mmap returns: always 64 pools
        return AllocatorGeometry(pool_size=4096, arena_size=256 << 10, usable_pools=64,
                                 keep_one_empty_arena=minor >= 9)
    # 3.10+: 16 KiB pools (USE_LARGE_POOLS) in 1 MiB arenas (USE_LARGE_ARENAS); 63 usable, as in
    # about three processes out of four (an arena gets 64 only at a 16 KiB-aligned address, and the
    # arenas of one process mostly share one alignment: see docs/allocator.md)
    return AllocatorGeometry(pool_size=16384, arena_size=1 << 20, usable_pools=63, keep_one_empty_arena=True)


def size_class(nbytes: int) -> int:
    """pymalloc size class of a 1..512-byte request: ``(nbytes - 1) >> 4``."""
    return (nbytes - 1) >> ALIGNMENT_SHIFT





@njit(**_KERNEL)
def _new_arena(G, A, P, C, B, geo, share):
    # the arena_object array doubles when its unused list runs dry (16 slots first); it is
    # PyMem_RawRealloc'ed, a glibc heap chunk that often ends up above the program's chunks
    if G[G_REAL_UNUSED] == 0:
        grow = 16 if G[G_REAL_MAXARENAS] == 0 else G[G_REAL_MAXARENAS]
        G[G_REAL_MAXARENAS] += grow
        G[G_REAL_UNUSED] += grow
        G[G_ARENA_VECTOR] = _glibc_realloc(G[G_ARENA_VECTOR], G[G_REAL_MAXARENAS] * ARENA_OBJECT_BYTES, G, C, B)
    G[G_REAL_UNUSED] -= 1
    a = G[G_UNUSED_HEAD]
    G[G_UNUSED_HEAD] = A[a, A_NEXT]
    if G[G_UNUSED_HEAD] == -1:
        G[G_UNUSED_TAIL] = -1
    G[G_UNUSED_COUNT] -= 1
    # a pool-aligned address gives one more pool (deterministic equidistributed choice)
    k = G[G_N_TOTAL]
    ntotal = geo[GEO_USABLE]
    if ntotal < geo[GEO_MAX_POOLS] and share > 0.0 and np.floor((k + 1) * share) > np.floor(k * share):
        ntotal = geo[GEO_MAX_POOLS]
    G[G_N_CURRENT] += 1
    G[G_N_TOTAL] += 1
    if G[G_N_CURRENT] > G[G_N_HIGHWATER]:
        G[G_N_HIGHWATER] = G[G_N_CURRENT]
    A[a, A_MAPPED] = 1
    A[a, A_NFREE] = ntotal
    A[a, A_NTOTAL] = ntotal
    A[a, A_NCARVED] = 0
    A[a, A_FREEPOOLS] = -1
    A[a, A_NEXT] = -1
    A[a, A_PREV] = -1
    A[a, A_PAGES] = 0
    base = a * geo[GEO_MAX_POOLS]
    for q in range(base, base + geo[GEO_MAX_POOLS]):
        pq = q << P_SHIFT
        P[pq + P_COUNT] = 0
        P[pq + P_SZIDX] = -1
        P[pq + P_CARVED] = 0
        P[pq + P_NEXT] = -1
        P[pq + P_PREV] = -1
        P[pq + P_PAGES] = 0
    return a


@njit(**_KERNEL)
def _allocate_from_new_pool(c, G, A, P, L, C, B, geo, share):
    # obmalloc.c allocate_from_new_pool(): no used pool of class c
    if G[G_USABLE_HEAD] == -1:
        a = _new_arena(G, A, P, C, B, geo, share)
        G[G_USABLE_HEAD] = a
        L[L_NFP + A[a, A_NFREE]] = a
    a = G[G_USABLE_HEAD]
    nf = A[a, A_NFREE]
    # the head has the fewest free pools, so taking one keeps the list sorted
    if L[L_NFP + nf] == a:
        L[L_NFP + nf] = -1
    if nf > 1:
        L[L_NFP + nf - 1] = a
    pool = A[a, A_FREEPOOLS]
    if pool != -1:
        A[a, A_FREEPOOLS] = P[(pool << P_SHIFT) + P_NEXT]
        pp = pool << P_SHIFT
    else:
        pool = a * geo[GEO_MAX_POOLS] + A[a, A_NCARVED]
        A[a, A_NCARVED] += 1
        G[G_POOLS_TOUCHED] += 1
        pp = pool << P_SHIFT
        P[pp + P_SZIDX] = -1
    A[a, A_NFREE] = nf - 1
    if nf - 1 == 0:
        # wholly allocated: leaves usable_arenas (it is the head)
        after = A[a, A_NEXT]
        G[G_USABLE_HEAD] = after
        if after != -1:
            A[after, A_PREV] = -1
        A[a, A_NEXT] = -1
    G[G_POOLS_IN_USE] += 1
    # the class had no used pool, so the pool becomes the whole list
    L[c] = pool
    P[pp + P_NEXT] = -1
    P[pp + P_PREV] = -1
    P[pp + P_COUNT] = 1
    if P[pp + P_SZIDX] != c:
        # (re)initialise: block 0 handed out, block 1 becomes the free list
        P[pp + P_SZIDX] = c
        P[pp + P_CARVED] = 1
        # pages written: the header, block 0 and the free-list link at block 1
        pages = (POOL_OVERHEAD + ((c + 1) << ALIGNMENT_SHIFT) + 8 + SYSTEM_PAGE - 1) // SYSTEM_PAGE
        if pages > geo[GEO_POOL_PAGES]:
            pages = geo[GEO_POOL_PAGES]
        if pages > P[pp + P_PAGES]:
            A[a, A_PAGES] += pages - P[pp + P_PAGES]
            G[G_PYM_PAGES] += pages - P[pp + P_PAGES]
            P[pp + P_PAGES] = pages
    # else: same class as before, its free list (all its carved blocks) is kept
    return pool


@njit(**_KERNEL)
def _insert_to_freepool(pool, G, A, P, L, geo):
    # obmalloc.c insert_to_freepool(): the pool just became empty
    pp = pool << P_SHIFT
    c = P[pp + P_SZIDX]
    nxt = P[pp + P_NEXT]
    prv = P[pp + P_PREV]
    if prv != -1:
        P[(prv << P_SHIFT) + P_NEXT] = nxt
    else:
        L[c] = nxt
    if nxt != -1:
        P[(nxt << P_SHIFT) + P_PREV] = prv
    G[G_POOLS_IN_USE] -= 1
    a = pool // geo[GEO_MAX_POOLS]
    P[pp + P_NEXT] = A[a, A_FREEPOOLS]
    P[pp + P_PREV] = -1
    A[a, A_FREEPOOLS] = pool
    nf = A[a, A_NFREE]
    lastnf = L[L_NFP + nf] if nf > 0 else -1
    if lastnf == a:
        p = A[a, A_PREV]
        L[L_NFP + nf] = p if (p != -1 and A[p, A_NFREE] == nf) else -1
    nf += 1
    A[a, A_NFREE] = nf
    if nf == A[a, A_NTOTAL] and (geo[GEO_KEEP_ONE] == 0 or A[a, A_NEXT] != -1):
        # wholly free: unlink from usable_arenas and unmap
        prv = A[a, A_PREV]
        nxt = A[a, A_NEXT]
        if prv == -1:
            G[G_USABLE_HEAD] = nxt
        else:
            A[prv, A_NEXT] = nxt
        if nxt != -1:
            A[nxt, A_PREV] = prv
        A[a, A_MAPPED] = 0
        G[G_N_CURRENT] -= 1
        G[G_N_RECLAIMED] += 1
        G[G_PYM_PAGES] -= A[a, A_PAGES]
        G[G_POOLS_TOUCHED] -= A[a, A_NCARVED]
        A[a, A_PAGES] = 0
        A[a, A_NCARVED] = 0
        # the slot goes to the front of the unused list
        A[a, A_NEXT] = G[G_UNUSED_HEAD]
        A[a, A_PREV] = -1
        G[G_UNUSED_HEAD] = a
        if G[G_UNUSED_TAIL] == -1:
            G[G_UNUSED_TAIL] = a
        G[G_UNUSED_COUNT] += 1
        G[G_REAL_UNUSED] += 1
        return
    if nf == 1:
        # it was wholly allocated, hence not in usable_arenas: goes to the front
        h = G[G_USABLE_HEAD]
        A[a, A_NEXT] = h
        A[a, A_PREV] = -1
        if h != -1:
            A[h, A_PREV] = a
        G[G_USABLE_HEAD] = a
        if L[L_NFP + 1] == -1:
            L[L_NFP + 1] = a
        return
    if L[L_NFP + nf] == -1:
        L[L_NFP + nf] = a
    if a == lastnf:
        return
    # slide right, to just after the last arena that had the old count
    prv = A[a, A_PREV]
    nxt = A[a, A_NEXT]
    if prv != -1:
        A[prv, A_NEXT] = nxt
    else:
        G[G_USABLE_HEAD] = nxt
    A[nxt, A_PREV] = prv
    A[a, A_PREV] = lastnf
    after = A[lastnf, A_NEXT]
    A[a, A_NEXT] = after
    if after != -1:
        A[after, A_PREV] = a
    A[lastnf, A_NEXT] = a
