"""glibc malloc (2.36, x86-64) for 0 bytes and requests over 512 bytes: mmap at or above the
dynamic mmap threshold (with glibc's adaptation), else the brk heap: chunks of
``max(32, align16(n + 8))`` bytes, a per-size cache of 7 freed chunks up to 1040 bytes
(tcache), best fit among free chunks, immediate coalescing, carving from the top chunk, growth
by ``nb + 128 KiB + 32`` rounded to pages and glibc's trimming rule.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from .layout import (
    _KERNEL,
    B_MAP,
    B_TC_COUNT,
    B_TC_HEAD,
    C_ADDR,
    C_BIN,
    C_BNEXT,
    C_BPREV,
    C_NEXTA,
    C_PREVA,
    C_SIZE,
    C_STATE,
    CONSOLIDATION_THRESHOLD,
    CS_BINNED,
    CS_INUSE,
    CS_MMAPPED,
    CS_RECORD_FREE,
    CS_TCACHE,
    G_BRK_END,
    G_CFREE_COUNT,
    G_CFREE_HEAD,
    G_HEAP_INUSE,
    G_LAST_CHUNK,
    G_MMAP_THRESHOLD,
    G_MMAPPED,
    G_N_MMAPPED,
    G_NBINNED,
    G_TOP_START,
    G_TOUCHED,
    G_TRIM_THRESHOLD,
    MINSIZE,
    MMAP_THRESHOLD_MAX,
    NBINS,
    SYSTEM_PAGE,
    TCACHE_COUNT,
    TCACHE_MAX_CHUNK,
    TOP_PAD,
)


def chunk_size(nbytes: int) -> int:
    """glibc chunk size of a malloc request (``request2size``, 64-bit)."""
    return max(MINSIZE, (nbytes + 8 + 15) & ~15)


def mmapped_size(nbytes: int) -> int:
    """Bytes glibc maps for a request served by mmap (chunk plus header, whole pages)."""
    return (chunk_size(nbytes) + 8 + SYSTEM_PAGE - 1) // SYSTEM_PAGE * SYSTEM_PAGE





@njit(**_KERNEL)
def _bin_index(sz):
    # glibc bin_index for 64-bit: exact 16-byte small bins below 1024, then
    # logarithmically spaced large bins (largebin_index_64)
    if sz < 1024:
        return sz >> 4
    if (sz >> 6) <= 48:
        return 48 + (sz >> 6)
    if (sz >> 9) <= 20:
        return 91 + (sz >> 9)
    if (sz >> 12) <= 10:
        return 110 + (sz >> 12)
    if (sz >> 15) <= 4:
        return 119 + (sz >> 15)
    if (sz >> 18) <= 2:
        return 124 + (sz >> 18)
    return 126


@njit(**_KERNEL)
def _new_record(G, C):
    r = G[G_CFREE_HEAD]
    G[G_CFREE_HEAD] = C[r, C_BNEXT]
    G[G_CFREE_COUNT] -= 1
    C[r, C_BNEXT] = -1
    C[r, C_BPREV] = -1
    C[r, C_BIN] = -1
    return r


@njit(**_KERNEL)
def _drop_record(G, C, r):
    C[r, C_STATE] = CS_RECORD_FREE
    C[r, C_BNEXT] = G[G_CFREE_HEAD]
    G[G_CFREE_HEAD] = r
    G[G_CFREE_COUNT] += 1


@njit(**_KERNEL)
def _bin_insert(G, C, B, r):
    # a bin is kept sorted by size, the most recently binned first among equal sizes: its first
    # chunk of at least n bytes is then glibc's best fit (the smallest; ties: the most recent)
    G[G_NBINNED] += 1
    size = C[r, C_SIZE]
    b = _bin_index(size)
    prv = -1
    nxt = B[b]
    while nxt != -1 and C[nxt, C_SIZE] < size:
        prv = nxt
        nxt = C[nxt, C_BNEXT]
    C[r, C_BIN] = b
    C[r, C_BNEXT] = nxt
    C[r, C_BPREV] = prv
    if nxt != -1:
        C[nxt, C_BPREV] = r
    if prv != -1:
        C[prv, C_BNEXT] = r
    else:
        B[b] = r
    B[B_MAP + (b >> 6)] |= np.int64(1) << (b & 63)
    C[r, C_STATE] = CS_BINNED


@njit(**_KERNEL)
def _bin_remove(G, C, B, r):
    G[G_NBINNED] -= 1
    nxt = C[r, C_BNEXT]
    prv = C[r, C_BPREV]
    if prv != -1:
        C[prv, C_BNEXT] = nxt
    else:
        b = C[r, C_BIN]
        B[b] = nxt
        if nxt == -1:
            B[B_MAP + (b >> 6)] &= ~(np.int64(1) << (b & 63))
    if nxt != -1:
        C[nxt, C_BPREV] = prv
    C[r, C_BNEXT] = -1
    C[r, C_BPREV] = -1
    C[r, C_BIN] = -1


@njit(**_KERNEL)
def _best_fit(C, B, nb):
    # smallest free chunk of at least nb bytes (ties: most recently binned): in nb's own bin, the
    # first chunk that is large enough; else the first chunk of the next non-empty bin (found in
    # the bitmap of non-empty bins, as glibc's binmap), all of whose chunks are larger
    b = _bin_index(nb)
    r = B[b]
    while r != -1 and C[r, C_SIZE] < nb:
        r = C[r, C_BNEXT]
    if r != -1:
        return r
    b += 1
    if b == NBINS:
        return -1
    w = b >> 6
    word = B[B_MAP + w] & (np.int64(-1) << (b & 63))
    while word == 0:
        w += 1
        if w == NBINS >> 6:
            return -1
        word = B[B_MAP + w]
    return B[(w << 6) + trailing_zeros(word)]


@njit(**_KERNEL)
def _glibc_malloc(nbytes, G, C, B):
    if nbytes == 0:
        nbytes = 1  # _PyMem_RawMalloc asks malloc for 1 byte
    nb = nbytes + 8 + 15
    nb -= nb & 15
    if nb < MINSIZE:
        nb = MINSIZE
    if nb <= TCACHE_MAX_CHUNK:
        t = (nb - MINSIZE) >> 4
        r = B[B_TC_HEAD + t]
        if r != -1:
            B[B_TC_HEAD + t] = C[r, C_BNEXT]
            B[B_TC_COUNT + t] -= 1
            C[r, C_BNEXT] = -1
            C[r, C_STATE] = CS_INUSE
            G[G_HEAP_INUSE] += nb
            return r
    r = _best_fit(C, B, nb) if G[G_NBINNED] > 0 else -1
    if r != -1:
        _bin_remove(G, C, B, r)
        C[r, C_STATE] = CS_INUSE
        rest = C[r, C_SIZE] - nb
        if rest >= MINSIZE:
            # split: the front is returned, the remainder stays free
            q = _new_record(G, C)
            C[q, C_ADDR] = C[r, C_ADDR] + nb
            C[q, C_SIZE] = rest
            C[r, C_SIZE] = nb
            nxt = C[r, C_NEXTA]
            C[q, C_PREVA] = r
            C[q, C_NEXTA] = nxt
            C[r, C_NEXTA] = q
            if nxt != -1:
                C[nxt, C_PREVA] = q
            else:
                G[G_LAST_CHUNK] = q
            _bin_insert(G, C, B, q)
        G[G_HEAP_INUSE] += C[r, C_SIZE]
        return r
    top = G[G_BRK_END] - G[G_TOP_START]
    if top < nb + MINSIZE:
        if nb >= G[G_MMAP_THRESHOLD]:
            size = nb + 8 + SYSTEM_PAGE - 1
            size -= size % SYSTEM_PAGE
            r = _new_record(G, C)
            C[r, C_ADDR] = -1
            C[r, C_SIZE] = size
            C[r, C_STATE] = CS_MMAPPED
            C[r, C_PREVA] = -1
            C[r, C_NEXTA] = -1
            G[G_MMAPPED] += size
            G[G_N_MMAPPED] += 1
            return r
        # sbrk enough for the request, the top pad and a minimal top chunk
        grow = nb + TOP_PAD + MINSIZE - top + SYSTEM_PAGE - 1
        grow -= grow % SYSTEM_PAGE
        G[G_BRK_END] += grow
    r = _new_record(G, C)
    C[r, C_ADDR] = G[G_TOP_START]
    C[r, C_SIZE] = nb
    C[r, C_STATE] = CS_INUSE
    last = G[G_LAST_CHUNK]
    C[r, C_PREVA] = last
    C[r, C_NEXTA] = -1
    if last != -1:
        C[last, C_NEXTA] = r
    G[G_LAST_CHUNK] = r
    G[G_TOP_START] += nb
    # the chunk is written by its user, and the new top's header after it
    if G[G_TOP_START] + 16 > G[G_TOUCHED]:
        G[G_TOUCHED] = G[G_TOP_START] + 16
    G[G_HEAP_INUSE] += nb
    return r


@njit(**_KERNEL)
def _glibc_free(r, G, C, B):
    size = C[r, C_SIZE]
    if C[r, C_STATE] == CS_MMAPPED:
        if size > G[G_MMAP_THRESHOLD] and size <= MMAP_THRESHOLD_MAX:
            G[G_MMAP_THRESHOLD] = size
            G[G_TRIM_THRESHOLD] = 2 * size
        G[G_MMAPPED] -= size
        G[G_N_MMAPPED] -= 1
        _drop_record(G, C, r)
        return
    G[G_HEAP_INUSE] -= size
    if size <= TCACHE_MAX_CHUNK:
        t = (size - MINSIZE) >> 4
        if B[B_TC_COUNT + t] < TCACHE_COUNT:
            # cached without coalescing; looks in use to its neighbours
            C[r, C_STATE] = CS_TCACHE
            C[r, C_BNEXT] = B[B_TC_HEAD + t]
            B[B_TC_HEAD + t] = r
            B[B_TC_COUNT + t] += 1
            return
    prv = C[r, C_PREVA]
    if prv != -1 and C[prv, C_STATE] == CS_BINNED:
        _bin_remove(G, C, B, prv)
        C[prv, C_SIZE] += C[r, C_SIZE]
        nxt = C[r, C_NEXTA]
        C[prv, C_NEXTA] = nxt
        if nxt != -1:
            C[nxt, C_PREVA] = prv
        else:
            G[G_LAST_CHUNK] = prv
        _drop_record(G, C, r)
        r = prv
    nxt = C[r, C_NEXTA]
    if nxt == -1:
        # borders the top chunk: merged into it
        merged = C[r, C_SIZE] + G[G_BRK_END] - G[G_TOP_START]
        G[G_TOP_START] = C[r, C_ADDR]
        prv = C[r, C_PREVA]
        G[G_LAST_CHUNK] = prv
        if prv != -1:
            C[prv, C_NEXTA] = -1
        _drop_record(G, C, r)
    else:
        if C[nxt, C_STATE] == CS_BINNED:
            _bin_remove(G, C, B, nxt)
            C[r, C_SIZE] += C[nxt, C_SIZE]
            after = C[nxt, C_NEXTA]
            C[r, C_NEXTA] = after
            if after != -1:
                C[after, C_PREVA] = r
            else:
                G[G_LAST_CHUNK] = r
            _drop_record(G, C, nxt)
        merged = C[r, C_SIZE]
        _bin_insert(G, C, B, r)
    top = G[G_BRK_END] - G[G_TOP_START]
    if merged >= CONSOLIDATION_THRESHOLD and top >= G[G_TRIM_THRESHOLD]:
        # systrim(): give back whole pages above the top pad
        extra = top - MINSIZE - 1 - TOP_PAD
        if extra > 0:
            extra -= extra % SYSTEM_PAGE
            G[G_BRK_END] -= extra
            if G[G_TOUCHED] > G[G_BRK_END]:
                G[G_TOUCHED] = G[G_BRK_END]


@njit(**_KERNEL)
def _glibc_realloc(r, nbytes, G, C, B):
    # realloc() growing a chunk (r = -1: malloc): into the top chunk or a free
    # neighbour when they border it, else malloc, copy and free the old chunk
    if r == -1:
        return _glibc_malloc(nbytes, G, C, B)
    nb = nbytes + 8 + 15
    nb -= nb & 15
    if nb < MINSIZE:
        nb = MINSIZE
    old = C[r, C_SIZE]
    if C[r, C_STATE] == CS_MMAPPED:
        # mremap: the mapping follows, no threshold change
        size = nb + 8 + SYSTEM_PAGE - 1
        size -= size % SYSTEM_PAGE
        G[G_MMAPPED] += size - old
        C[r, C_SIZE] = size
        return r
    if old >= nb:
        return r
    nxt = C[r, C_NEXTA]
    if nxt == -1 and old + G[G_BRK_END] - G[G_TOP_START] >= nb + MINSIZE:
        C[r, C_SIZE] = nb
        G[G_TOP_START] = C[r, C_ADDR] + nb
        if G[G_TOP_START] + 16 > G[G_TOUCHED]:
            G[G_TOUCHED] = G[G_TOP_START] + 16
        G[G_HEAP_INUSE] += nb - old
        return r
    if nxt != -1 and C[nxt, C_STATE] == CS_BINNED and old + C[nxt, C_SIZE] >= nb:
        _bin_remove(G, C, B, nxt)
        C[r, C_SIZE] = old + C[nxt, C_SIZE]
        after = C[nxt, C_NEXTA]
        C[r, C_NEXTA] = after
        if after != -1:
            C[after, C_PREVA] = r
        else:
            G[G_LAST_CHUNK] = r
        _drop_record(G, C, nxt)
        rest = C[r, C_SIZE] - nb
        if rest >= MINSIZE:
            q = _new_record(G, C)
            C[q, C_ADDR] = C[r, C_ADDR] + nb
            C[q, C_SIZE] = rest
            C[r, C_SIZE] = nb
            after = C[r, C_NEXTA]
            C[q, C_PREVA] = r
            C[q, C_NEXTA] = after
            C[r, C_NEXTA] = q
            if after != -1:
                C[after, C_PREVA] = q
            else:
                G[G_LAST_CHUNK] = q
            _bin_insert(G, C, B, q)
        G[G_HEAP_INUSE] += C[r, C_SIZE] - old
        return r
    q = _glibc_malloc(nbytes, G, C, B)
    _glibc_free(r, G, C, B)
    return q

@njit(**_KERNEL)
def _heap_resident(G):
    t = G[G_TOUCHED]
    return (t + SYSTEM_PAGE - 1) // SYSTEM_PAGE * SYSTEM_PAGE
