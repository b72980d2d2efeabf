"""CPython's memory allocators, simulated allocation by allocation: the driver.

The allocators themselves are ``pymalloc.py`` and ``glibc.py``; this module keeps the
objects whose free is pending (a timing wheel and a heap), walks a batch of allocations and
frees in program order through them, and is the Python face of it all (:class:`MemoryModel`).

Two allocators serve a CPython object (../shared/CPYTHON_GC.md section 7;
docs/allocator.md describes the model and its measured agreement):

* **pymalloc** (``Objects/obmalloc.c``) for requests of 1..512 bytes: 32 size
  classes of 16 bytes, pools of one size class, arenas of pools mapped with
  mmap. The pool and arena bookkeeping below follows obmalloc.c step by step:
  ``usedpools`` lists (a pool that was full and gets a block back goes to the
  front), per-arena ``freepools`` (LIFO; a pool reused for its old size class
  keeps its free list), ``usable_arenas`` sorted by free pools with the
  ``nfp2lasta`` fingers, new arenas only when ``usable_arenas`` is empty, and
  the release rule (3.8: every wholly free arena; 3.9+: not the last one of
  ``usable_arenas``, bpo-37257). Which block *inside* a pool a request gets
  does not change any pool, arena or page count (those depend only on how many
  blocks a pool has in use and how far it has been carved), so a pool is kept
  as counters, not as a free list of addresses; the pure-Python reference in
  tests/test_allocator.py keeps real free lists and must agree.
* **glibc malloc** for 0 bytes and more than 512 bytes: requests at or above
  the (dynamic) mmap threshold that the heap cannot serve are mmapped and
  unmapped at free, with glibc's threshold adaptation; smaller ones come from a
  model of the brk heap: chunks of ``max(32, align16(n + 8))`` bytes, a
  per-size cache of 7 freed chunks up to 1040 bytes (tcache), best fit among
  free chunks, immediate coalescing, carving from the top chunk, growth by
  ``nb + 128 KiB + 32`` rounded to pages and glibc's trimming rule.

Everything runs in numba kernels over numpy arrays grown by doubling; per-pool
state exists only for mapped arenas and per-object state only for objects
whose free is pending, so memory follows the live population.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from ..errors import GcperfError
from .glibc import (
    _glibc_free,
    _glibc_malloc,
    _heap_resident,
)
from .layout import (
    _KERNEL,
    A_COLS,
    A_NEXT,
    A_PAGES,
    A_PREV,
    ALIGNMENT_SHIFT,
    ARENA_OBJECT_BYTES,
    B_SIZE,
    B_TC_COUNT,
    BAD_ROW,
    C_BNEXT,
    C_COLS,
    C_STATE,
    CS_RECORD_FREE,
    E_CHUNK,
    G_ARENA_VECTOR,
    G_BLOCKS,
    G_BRK_END,
    G_CCOUNT,
    G_CFREE_COUNT,
    G_CFREE_HEAD,
    G_COUNTER,
    G_CUR_BASE,
    G_CUR_END,
    G_CUR_POS,
    G_EFREE_COUNT,
    G_EFREE_HEAD,
    G_FCOUNT,
    G_FNEXT,
    G_HEAP_INUSE,
    G_HEAP_N,
    G_LAST_CHUNK,
    G_MMAP_THRESHOLD,
    G_MMAPPED,
    G_N_CURRENT,
    G_N_HIGHWATER,
    G_N_MMAPPED,
    G_N_RECLAIMED,
    G_N_TOTAL,
    G_PEAK,
    G_POOLS_IN_USE,
    G_POOLS_TOUCHED,
    G_PYM_BYTES,
    G_PYM_PAGES,
    G_REAL_MAXARENAS,
    G_REAL_UNUSED,
    G_REQ_BYTES,
    G_RNEXT,
    G_ROW_FREE_TOP,
    G_ROWS_LIVE,
    G_RUN_CHUNKS,
    G_RUN_HEAD,
    G_RUN_TAIL,
    G_SIZE,
    G_STATUS,
    G_TOUCHED,
    G_TRIM_THRESHOLD,
    G_UNUSED_COUNT,
    G_UNUSED_HEAD,
    G_UNUSED_TAIL,
    G_USABLE_HEAD,
    G_WBASE,
    GEO_MAX_POOLS,
    GEO_POOL_PAGES,
    GEO_REC_SHIFT,
    GEO_SMALL,
    GEO_WHEEL_BITS,
    H_CNT,
    H_KEY,
    H_ROW,
    MAX_SEQ,
    MMAP_THRESHOLD_MAX,
    MMAP_THRESHOLD_START,
    NEED_ARENAS,
    NEED_CHUNKS,
    NEED_ENTRIES,
    NEED_HEAP,
    NEED_NOTHING,
    NEED_ROWS,
    NEVER,
    NUM_CLASSES,
    P_CARVED,
    P_COLS,
    P_COUNT,
    P_NEXT,
    P_PAGES,
    P_PREV,
    P_SHIFT,
    P_SZIDX,
    POOL_OVERHEAD,
    ROW_FREE,
    ROW_PENDING,
    ROW_USER,
    SYSTEM_PAGE,
    TRIM_THRESHOLD_START,
    W_FH,
    W_FT,
    W_RC,
    W_RH,
    W_RT,
    WHEEL_BITS,
    X_H,
    X_NB,
    X_REQ_HI,
    X_REQ_LO,
    X_TAG,
    U,
)
from .pymalloc import (
    AllocatorGeometry,
    _allocate_from_new_pool,
    _insert_to_freepool,
)


@njit(**_KERNEL)
def _footprint(G):
    return G[G_PYM_PAGES] * SYSTEM_PAGE + G[G_MMAPPED] + _heap_resident(G)


@njit(**_KERNEL)
def _heap_push(G, H, key, row):
    # 4-ary min-heap on (free_seq, registration counter)
    i = G[G_HEAP_N]
    G[G_HEAP_N] = i + 1
    cnt = G[G_COUNTER]
    G[G_COUNTER] = cnt + 1
    while i > 0:
        p = (i - 1) >> 2
        if H[p, H_KEY] < key or (H[p, H_KEY] == key and H[p, H_CNT] < cnt):
            break
        H[i, H_KEY] = H[p, H_KEY]
        H[i, H_CNT] = H[p, H_CNT]
        H[i, H_ROW] = H[p, H_ROW]
        i = p
    H[i, H_KEY] = key
    H[i, H_CNT] = cnt
    H[i, H_ROW] = row


@njit(**_KERNEL)
def _heap_pop(G, H):
    top_row = H[0, H_ROW]
    n = G[G_HEAP_N] - 1
    G[G_HEAP_N] = n
    if n == 0:
        return top_row
    key = H[n, H_KEY]
    cnt = H[n, H_CNT]
    row = H[n, H_ROW]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= n:
            break
        best = first
        last = first + 4 if first + 4 < n else n
        for ch in range(first + 1, last):
            if H[ch, H_KEY] < H[best, H_KEY] or (H[ch, H_KEY] == H[best, H_KEY] and H[ch, H_CNT] < H[best, H_CNT]):
                best = ch
        if key < H[best, H_KEY] or (key == H[best, H_KEY] and cnt < H[best, H_CNT]):
            break
        H[i, H_KEY] = H[best, H_KEY]
        H[i, H_CNT] = H[best, H_CNT]
        H[i, H_ROW] = H[best, H_ROW]
        i = best
    H[i, H_KEY] = key
    H[i, H_CNT] = cnt
    H[i, H_ROW] = row
    return top_row


@njit(**_KERNEL)
def _next_bit(WB, off, nw, s):
    # first set bit at or after bit s of the bitmap WB[off:off + nw], or -1
    wi = s >> 6
    if wi >= nw:
        return -1
    word = WB[U(off + wi)] & (np.int64(-1) << (s & 63))
    while word == 0:
        wi += 1
        if wi == nw:
            return -1
        word = WB[U(off + wi)]
    return (wi << 6) + trailing_zeros(word)


@njit(**_KERNEL)
def _ring_next(ccount, WB, nw, bucket, wbits):
    # start position of the first non-empty ring bucket from ``bucket`` on (ring entries all lie
    # within 2**wbits - 1 buckets of the current one), NEVER if the ring (ccount entries) is empty
    if ccount == 0:
        return NEVER
    rmask = (1 << wbits) - 1
    s0 = bucket & rmask
    s = _next_bit(WB, nw, nw, s0)
    if s == -1:
        s = _next_bit(WB, nw, nw, 0)
    return (bucket + ((s - s0) & rmask)) << wbits


@njit(**_KERNEL)
def _activate(bucket, G, W, WB, E, EN, CUR, TMP, CNT, wbits, xshift):
    """The ring bucket ``bucket`` becomes current: its records, in registration order, are sorted
    stably by position into CUR, as int64 keys ``offset << 32 | record`` (LSD radix sort on the
    offset, two digits). Its chunks stay until the next bucket comes (CUR points into them); the
    previous run's go back to the stack. Returns the number of records."""
    if G[G_RUN_HEAD] != -1:
        EN[U(G[G_RUN_TAIL])] = G[G_EFREE_HEAD]
        G[G_EFREE_HEAD] = G[G_RUN_HEAD]
        G[G_EFREE_COUNT] += G[G_RUN_CHUNKS]
    ns = 1 << wbits
    nw = (ns + 63) >> 6
    mask = ns - 1
    slot = bucket & mask
    n = W[U(W_RC * ns + slot)]
    head = W[U(W_RH * ns + slot)]
    G[G_RUN_HEAD] = head
    G[G_RUN_TAIL] = W[U(W_RT * ns + slot)]
    G[G_RUN_CHUNKS] = (n + E_CHUNK - 1) // E_CHUNK
    W[U(W_RC * ns + slot)] = 0
    W[U(W_RH * ns + slot)] = -1
    W[U(W_RT * ns + slot)] = -1
    WB[U(nw + (slot >> 6))] &= ~(np.int64(1) << (slot & 63))
    if n <= 16:
        # insertion sort (stable: a record goes after every record of the same position)
        ch = head
        m = 0
        while m < n:
            e = np.int64(ch) * E_CHUNK + (m & (E_CHUNK - 1))
            off = np.int64(E[U((e << xshift) + X_TAG)])
            t = m
            while t > 0 and (CUR[U(t - 1)] >> 32) > off:
                CUR[U(t)] = CUR[U(t - 1)]
                t -= 1
            CUR[U(t)] = (off << 32) | e
            m += 1
            if (m & (E_CHUNK - 1)) == 0:
                ch = EN[U(ch)]
    else:
        lo_bits = wbits >> 1
        nlo = 1 << lo_bits
        lo_mask = nlo - 1
        nhi = 1 << (wbits - lo_bits)
        for d in range(nlo + nhi):
            CNT[U(d)] = 0
        # the keys, in registration order, go to CUR first (a chunk at a time)
        ch = head
        m = 0
        while m < n:
            e0 = np.int64(ch) * E_CHUNK
            top = min(n - m, E_CHUNK)
            for q in range(top):
                off = np.int64(E[U(((e0 + q) << xshift) + X_TAG)])
                CNT[U(off & lo_mask)] += 1
                CNT[U(nlo + (off >> lo_bits))] += 1
                CUR[U(m + q)] = (off << 32) | (e0 + q)
            m += top
            ch = EN[U(ch)]
        acc = 0
        for d in range(nlo):
            c = CNT[U(d)]
            CNT[U(d)] = acc
            acc += c
        acc = 0
        for d in range(nlo, nlo + nhi):
            c = CNT[U(d)]
            CNT[U(d)] = acc
            acc += c
        for m in range(n):
            key = CUR[U(m)]
            d = (key >> 32) & lo_mask
            t = CNT[U(d)]
            CNT[U(d)] = t + 1
            TMP[U(t)] = key
        for m in range(n):
            key = TMP[U(m)]
            d = nlo + (key >> (32 + lo_bits))
            t = CNT[U(d)]
            CNT[U(d)] = t + 1
            CUR[U(t)] = key
    G[G_CUR_POS] = 0
    G[G_CUR_END] = n
    G[G_CUR_BASE] = bucket << wbits
    return n


@njit(inline="always", **_KERNEL)
def _free_blocks(X, xb, G, A, P, L, C, B, caps, geo):
    """Free, in order, the blocks of the record at ``X[xb:]``; returns (blocks, block bytes, requested bytes).

    Inlined into the kernel (a call per freed object would cost more than the work itself)."""
    nb = X[U(xb + X_NB)]
    pym = 0
    for j in range(nb):
        h = np.int64(X[U(xb + X_H + j)])
        if h >= 0:
            ph = h << P_SHIFT
            c = P[U(ph + P_SZIDX)]
            pym += (c + 1) << ALIGNMENT_SHIFT
            cnt = P[U(ph + P_COUNT)]
            P[U(ph + P_COUNT)] = cnt - 1
            if cnt == caps[U(c)]:
                # it was full: back to the front of usedpools
                first = L[U(c)]
                P[U(ph + P_NEXT)] = first
                P[U(ph + P_PREV)] = -1
                if first != -1:
                    P[U((first << P_SHIFT) + P_PREV)] = h
                L[U(c)] = h
            elif cnt == 1:
                _insert_to_freepool(h, G, A, P, L, geo)
        else:
            _glibc_free(-1 - h, G, C, B)
    req = (np.int64(X[U(xb + X_REQ_HI)]) << 32) | (np.int64(X[U(xb + X_REQ_LO)]) & 0xFFFFFFFF)
    return np.int64(nb), pym, req


@njit(inline="always", **_KERNEL)
def _alloc_slot(nbytes, nb, oreq, pym_bytes, peak, X, xb, small, maxp, pool_pages, G, A, P, L, C, B, caps, geo, share):
    """Allocate one slot of an object (nothing if unused: ``nbytes`` 0), its handle going to the
    record at ``X[xb:]``; returns the updated (blocks, requested bytes, block bytes, peak)."""
    if nbytes <= 0:
        return nb, oreq, pym_bytes, peak
    if nbytes <= small:
        c = (nbytes - 1) >> ALIGNMENT_SHIFT
        bsize = (c + 1) << ALIGNMENT_SHIFT
        pym_bytes += bsize
        h = L[U(c)]
        if h == -1:
            h = _allocate_from_new_pool(c, G, A, P, L, C, B, geo, share)
            peak = max(peak, _footprint(G))
        else:
            ph = h << P_SHIFT
            cnt = P[U(ph + P_COUNT)] + 1
            P[U(ph + P_COUNT)] = cnt
            if cnt > P[U(ph + P_CARVED)]:
                # free list empty: carve the next virgin block (all terms are positive: a shift
                # divides by the page)
                P[U(ph + P_CARVED)] = cnt
                pages = min((POOL_OVERHEAD + cnt * bsize + 8 + SYSTEM_PAGE - 1) >> 12, pool_pages)
                old = P[U(ph + P_PAGES)]
                if pages > old:
                    A[U(h // maxp), A_PAGES] += pages - old
                    G[G_PYM_PAGES] += pages - old
                    P[U(ph + P_PAGES)] = pages
                    peak = max(peak, _footprint(G))
            if cnt == caps[U(c)]:
                # full: leaves usedpools (it is the head)
                after = P[U(ph + P_NEXT)]
                L[U(c)] = after
                if after != -1:
                    P[U((after << P_SHIFT) + P_PREV)] = -1
                P[U(ph + P_NEXT)] = -1
    else:
        h = -1 - _glibc_malloc(nbytes, G, C, B)
        peak = max(peak, _footprint(G))
    X[U(xb + X_H + nb)] = h
    return nb + 1, oreq + nbytes, pym_bytes, peak


@njit(inline="always", **_KERNEL)
def _run_body(seqs, free_seqs, sizes, want_rows, start, until, out, free_list, G, A, P, L, C, B, R, RN, FS, H,
              W, WB, E, EN, CUR, TMP, CNT, caps, geo, share, kk):
    """Free the rows of ``free_list``, carry out objects ``start..n-1`` of a batch, then the frees due before ``until``.

    Pending frees due at position p are carried out in registration order; they live in one
    of four places, chosen at registration by how far ahead p is of the current position
    ``base`` (in buckets of 2**wheel_bits positions): beyond the ring's horizon in a heap on
    (p, registration counter); in a later bucket of the ring, as a record appended to the
    bucket's chunks; in the current bucket, in the fine wheel (a FIFO list of rows per
    position, and a bitmap of the non-empty positions). When the walk reaches a ring bucket,
    its records are sorted stably by position into the current run CUR. An entry that went to
    a farther structure was registered before every entry of the same position in a nearer
    one, so at each position the heap goes first, then the current run, then the fine wheel:
    (position, registration) order is kept without comparing counters.
    ``kk`` is the number of columns of ``sizes`` (max_blocks_per_object). This body is inlined
    into _run (any kk) and _run4 (kk = 4, gcperf's case, compiled in as a constant: the loops over
    an object's slots and the record arithmetic cost fewer instructions).
    Returns the index of the next object; ``G[G_STATUS]`` says which table must grow when it
    is less than n.
    """
    n = seqs.shape[0]
    xshift = geo[GEO_REC_SHIFT]
    if kk <= 4:
        xshift = 3  # (a constant for the specialisations of 1..4 slots: 8 words)
    small = geo[GEO_SMALL]
    maxp = geo[GEO_MAX_POOLS]
    pool_pages = geo[GEO_POOL_PAGES]
    wbits = geo[GEO_WHEEL_BITS]
    ns = 1 << wbits
    wmask = ns - 1
    nw = (ns + 63) >> 6
    nfl = free_list.shape[0]
    nrows = FS.shape[0]
    # an object whose free is not registered writes its record here (E's spare last record),
    # so that the allocation loop needs no test
    spare = np.int64(E.shape[0]) - (1 << xshift)
    # hot counters live in registers; written back at the single exit below
    blocks = G[G_BLOCKS]
    req = G[G_REQ_BYTES]
    pym_bytes = G[G_PYM_BYTES]
    peak = G[G_PEAK]
    ftop = G[G_ROW_FREE_TOP]
    rows_live = G[G_ROWS_LIVE]
    base = G[G_WBASE]
    fcount = G[G_FCOUNT]
    fnext = G[G_FNEXT]
    cp = G[G_CUR_POS]
    cn = G[G_CUR_END]
    cbase = G[G_CUR_BASE]
    ccount = G[G_CCOUNT]
    rnext = G[G_RNEXT]
    hkey = H[0, H_KEY] if G[G_HEAP_N] > 0 else NEVER
    status = NEED_NOTHING
    fi = 0
    i = start
    cur = -1
    # ``due``: no pending free lies before this position (a lower bound of the next one: the
    # walk below runs only for objects beyond it)
    due = -1
    while True:
        target = seqs[U(i)] if i < n else until
        if due < target or fi < nfl:
            # ---- the frees due before this position, in (position, registration) order
            while True:
                if cur == -1 and fi == nfl:
                    # fast path: the records of the current run due before the target, the
                    # heap's first entry (the heap goes first at a tie) and the fine wheel's first
                    # position (the run goes first at a tie). Offsets in the run are relative to
                    # cbase; after a batch's last object the target is -2**63: nothing is due
                    lim = target
                    if fnext < lim:
                        lim = fnext + 1
                    if hkey < lim:
                        lim = hkey
                    lim = lim - cbase if lim > cbase else 0
                    while cp < cn:
                        key = CUR[U(cp)]
                        if (key >> 32) >= lim:
                            break
                        cp += 1
                        nb, fpym, freq = _free_blocks(E, (key & 0xFFFFFFFF) << xshift, G, A, P, L, C, B, caps, geo)
                        blocks -= nb
                        pym_bytes -= fpym
                        req -= freq
                # slow path: one row (explicit, fine wheel or heap), or the next ring bucket
                if fi < nfl:
                    # rows freed explicitly (free_rows): only live user rows
                    row = free_list[U(fi)]
                    if row < 0 or row >= nrows or R[U((row << xshift) + X_TAG)] != ROW_USER:
                        status = BAD_ROW
                        break
                    fi += 1
                elif cur != -1:
                    # the rest of a fine-wheel list
                    row = cur
                    cur = RN[U(row)]
                    fcount -= 1
                else:
                    # the fast path stopped at the heap's or the fine wheel's next position or at
                    # the target: no run record comes before either of them
                    pw = fnext
                    if cp < cn and cbase + (CUR[U(cp)] >> 32) < pw:
                        pw = cbase + (CUR[U(cp)] >> 32)
                    if pw == NEVER and rnext <= target:
                        # the current bucket is done: the next ring bucket becomes current
                        rb = rnext >> wbits
                        ccount -= _activate(rb, G, W, WB, E, EN, CUR, TMP, CNT, wbits, xshift)
                        cp = 0
                        cn = G[G_CUR_END]
                        cbase = G[G_CUR_BASE]
                        rnext = _ring_next(ccount, WB, nw, rb + 1, wbits)
                        continue
                    if hkey <= pw and hkey < target:
                        row = _heap_pop(G, H)
                        hkey = H[0, H_KEY] if G[G_HEAP_N] > 0 else NEVER
                    elif fnext < target:
                        # the fine wheel's next position: its list becomes current
                        slot = fnext & wmask
                        cur = W[U(W_FH * ns + slot)]
                        W[U(W_FH * ns + slot)] = -1
                        WB[U(slot >> 6)] &= ~(np.int64(1) << (slot & 63))
                        s = _next_bit(WB, 0, nw, slot + 1)
                        fnext = NEVER if s == -1 else fnext - slot + s
                        continue
                    else:
                        # nothing is due before the target: the next free is at ``due`` or later
                        # (a ring bucket must become current as soon as the target reaches its
                        # start, before the fine wheel takes entries of its positions: rnext - 1)
                        due = rnext - 1 if cp == cn else cbase + (CUR[U(cp)] >> 32)
                        due = min(due, fnext, hkey)
                        break
                xb = row << xshift
                R[U(xb + X_TAG)] = ROW_FREE
                FS[U(ftop)] = row
                ftop += 1
                rows_live -= 1
                nb, fpym, freq = _free_blocks(R, xb, G, A, P, L, C, B, caps, geo)
                blocks -= nb
                pym_bytes -= fpym
                req -= freq
            if status != NEED_NOTHING:
                i = fi
                break
        if base < target:
            base = target
        if i >= n:
            break
        # ---- room for the object, else the caller grows a table and resumes here (rows, heap
        # slots and ring chunks are tested where they are taken)
        if G[G_UNUSED_COUNT] < kk:
            status = NEED_ARENAS
            break
        if G[G_CFREE_COUNT] < 2 * kk + 2:  # a chunk, or a split, or the arena vector's realloc
            status = NEED_CHUNKS
            break
        # ---- where its free is registered: a record in a later bucket of the ring (the common
        # case), or a row (fine wheel, heap, or kept for free_rows), or nowhere
        fs = free_seqs[U(i)]
        d = (fs >> wbits) - (base >> wbits)
        X = E
        xb = spare
        row = -1
        slot = 0
        rcnt = 0
        ring = 0 < d <= wmask
        if ring:
            # a record at the end of the bucket's chunks
            slot = (fs >> wbits) & wmask
            rcnt = W[U(W_RC * ns + slot)]
            if (rcnt & (E_CHUNK - 1)) == 0:
                # the bucket needs a new chunk
                if G[G_EFREE_COUNT] == 0:
                    status = NEED_ENTRIES
                    break
                chn = G[G_EFREE_HEAD]
                G[G_EFREE_HEAD] = EN[U(chn)]
                G[G_EFREE_COUNT] -= 1
                EN[U(chn)] = -1
                if rcnt == 0:
                    W[U(W_RH * ns + slot)] = chn
                    WB[U(nw + (slot >> 6))] |= np.int64(1) << (slot & 63)
                else:
                    EN[U(W[U(W_RT * ns + slot)])] = chn
                W[U(W_RT * ns + slot)] = chn
            xb = (np.int64(W[U(W_RT * ns + slot)]) * E_CHUNK + (rcnt & (E_CHUNK - 1))) << xshift
        elif fs != NEVER or want_rows[U(i)]:
            if ftop == 0:
                status = NEED_ROWS
                break
            if fs != NEVER and d > wmask and G[G_HEAP_N] == H.shape[0]:
                status = NEED_HEAP
                break
            ftop -= 1
            row = FS[U(ftop)]
            X = R
            xb = row << xshift
            rows_live += 1
        # ---- its allocations, in order
        nb = 0
        oreq = 0
        for j in range(kk):
            nb, oreq, pym_bytes, peak = _alloc_slot(np.int64(sizes[U(i), U(j)]), nb, oreq, pym_bytes, peak, X, xb,
                                                    small, maxp, pool_pages, G, A, P, L, C, B, caps, geo, share)
        blocks += nb
        req += oreq
        # ---- its free: registered in the ring, the fine wheel or the heap, or kept under a row id
        X[U(xb + X_NB)] = nb
        X[U(xb + X_REQ_LO)] = oreq & 0xFFFFFFFF
        X[U(xb + X_REQ_HI)] = oreq >> 32
        if ring:
            X[U(xb + X_TAG)] = fs & wmask
            W[U(W_RC * ns + slot)] = rcnt + 1
            ccount += 1
            bstart = (fs >> wbits) << wbits
            rnext = min(rnext, bstart)
            due = min(due, bstart - 1)
        elif row != -1:
            if fs == NEVER:
                R[U(xb + X_TAG)] = ROW_USER
                out[U(i)] = row
            else:
                R[U(xb + X_TAG)] = ROW_PENDING
                if d == 0:
                    slot = fs & wmask
                    RN[U(row)] = -1
                    if W[U(W_FH * ns + slot)] == -1:
                        W[U(W_FH * ns + slot)] = row
                        WB[U(slot >> 6)] |= np.int64(1) << (slot & 63)
                    else:
                        RN[U(W[U(W_FT * ns + slot)])] = row
                    W[U(W_FT * ns + slot)] = row
                    fcount += 1
                    fnext = min(fnext, fs)
                else:
                    _heap_push(G, H, fs, row)
                    hkey = H[0, H_KEY]
                due = min(due, fs)
        i += 1
    G[G_BLOCKS] = blocks
    G[G_REQ_BYTES] = req
    G[G_PYM_BYTES] = pym_bytes
    G[G_PEAK] = peak
    G[G_ROW_FREE_TOP] = ftop
    G[G_ROWS_LIVE] = rows_live
    G[G_WBASE] = base
    G[G_FCOUNT] = fcount
    G[G_FNEXT] = fnext
    G[G_CUR_POS] = cp
    G[G_CUR_END] = cn
    G[G_CUR_BASE] = cbase
    G[G_CCOUNT] = ccount
    G[G_RNEXT] = rnext
    G[G_STATUS] = status
    return i


@njit(**_KERNEL)
def _run(seqs, free_seqs, sizes, want_rows, start, until, out, free_list, G, A, P, L, C, B, R, RN, FS, H, W, WB, E,
         EN, CUR, TMP, CNT, caps, geo, share, kk):
    return _run_body(seqs, free_seqs, sizes, want_rows, start, until, out, free_list, G, A, P, L, C, B, R, RN, FS, H,
                     W, WB, E, EN, CUR, TMP, CNT, caps, geo, share, kk)


@njit(**_KERNEL)
def _run4(seqs, free_seqs, sizes, want_rows, start, until, out, free_list, G, A, P, L, C, B, R, RN, FS, H, W, WB, E,
          EN, CUR, TMP, CNT, caps, geo, share):
    return _run_body(seqs, free_seqs, sizes, want_rows, start, until, out, free_list, G, A, P, L, C, B, R, RN, FS, H,
                     W, WB, E, EN, CUR, TMP, CNT, caps, geo, share, 4)


@njit(**_KERNEL)
def _check(seqs, free_seqs, sizes, want_rows, last_seq):
    # the input rules of MemoryModel.allocate: a bit per rule broken (0 = fine). Branch-free
    # loops (each rule or-ed over the batch) that LLVM vectorizes: ~1 ns per object
    n = seqs.shape[0]
    b1 = n > 0 and seqs[0] < last_seq
    for i in range(n):
        b1 |= seqs[U(i)] >= MAX_SEQ
    for i in range(1, n):
        b1 |= seqs[U(i)] < seqs[U(i - 1)]
    b2 = False
    b4 = False
    for i in range(n):
        f = free_seqs[U(i)]
        fin = f != NEVER
        b2 |= fin & ((f < seqs[U(i)]) | (f >= MAX_SEQ))
        b4 |= fin & want_rows[U(i)]
    flat = sizes.reshape(-1)
    b8 = False
    for i in range(flat.shape[0]):
        b8 |= flat[U(i)] < 0
    return int(b1) | (int(b2) << 1) | (int(b4) << 2) | (int(b8) << 3)


def _grow_rows(a: np.ndarray, n: int, fill: int) -> np.ndarray:
    out = np.full((n,) + a.shape[1:], fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


def _aligned_empty(shape: tuple[int, ...], dtype: Any, align: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts at a multiple of ``align`` bytes."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buf = np.empty(nbytes + align, dtype=np.uint8)
    off = (-buf.ctypes.data) % align
    return buf[off: off + nbytes].view(dtype).reshape(shape)


_CHECK_MESSAGES = (
    (8, "sizes must be >= 0 (0 marks an unused slot)"),
    (1, "seqs must be non-decreasing (also across calls and after advance()) and < 2**62"),
    (2, "free_seqs must be >= seqs (an object is freed after it is allocated) and < 2**62"),
    (4, "an object cannot have both a finite free_seq and want_rows"),
)


class MemoryModel:
    """pymalloc + system malloc, advanced in seq order.

    Objects are allocated at non-decreasing positions (``seq``) of one program
    order; the frees registered with them are carried out when the position
    passes them. Nothing depends on time or randomness: the same calls give the
    same state.

    Args:
        geometry: the pymalloc constants (:func:`geometry_for`).
        max_blocks_per_object: the most allocations one object may consist of
            (the largest width of ``sizes`` in :meth:`allocate`).
        interpreter_arenas: arenas the interpreter has mapped already (not
            modelled otherwise): they decide when pymalloc's ``arena_object`` array,
            a glibc heap chunk, is next reallocated (when the arenas outgrow
            ``arena_slots``, by default the smallest 16 * 2**j holding them).
        arena_slots: slots of that array now (16, 32, ...), if known.
        wheel_bits: log2 of the positions per bucket of the pending-free queue, and of
            its buckets (frees up to ``4**wheel_bits`` positions ahead avoid the heap). A
            tuning knob with no effect on results; tests make it tiny.

    Raises:
        GcperfError: a negative or inconsistent count.
    """

    def __init__(self, geometry: AllocatorGeometry, max_blocks_per_object: int = 4, *, interpreter_arenas: int = 0,
                 arena_slots: int | None = None, wheel_bits: int = WHEEL_BITS) -> None:
        if max_blocks_per_object < 1:
            raise GcperfError(f"max_blocks_per_object must be >= 1, got {max_blocks_per_object}")
        if interpreter_arenas < 0:
            raise GcperfError(f"interpreter_arenas must be >= 0, got {interpreter_arenas}")
        slots = 0 if interpreter_arenas == 0 and arena_slots is None else 16
        while slots < interpreter_arenas:
            slots *= 2
        if arena_slots is not None:
            if arena_slots < max(interpreter_arenas, 16) or arena_slots & (arena_slots - 1):
                raise GcperfError(f"arena_slots must be 16 * 2**j and >= interpreter_arenas, got {arena_slots}")
            slots = arena_slots
        if not 1 <= wheel_bits <= 20:
            raise GcperfError(f"wheel_bits must be in 1..20, got {wheel_bits}")
        self.geometry = geometry
        self.k = k = int(max_blocks_per_object)
        # a record: blocks, requested bytes (2 words), tag, k handles; 2**rec_shift int32 words
        rec_shift = (k + 3).bit_length()
        self._caps = np.array([geometry.blocks_per_pool(c) for c in range(NUM_CLASSES)], dtype=np.int64)
        self._geo = np.array(
            [geometry.pool_size, geometry.max_pools, geometry.usable_pools, int(geometry.keep_one_empty_arena),
             geometry.small_threshold, (geometry.pool_size + SYSTEM_PAGE - 1) // SYSTEM_PAGE, wheel_bits,
             rec_shift],
            dtype=np.int64,
        )
        self._share = float(geometry.aligned_arena_share)
        G = np.zeros(G_SIZE, dtype=np.int64)
        for idx in (G_USABLE_HEAD, G_UNUSED_HEAD, G_UNUSED_TAIL, G_LAST_CHUNK, G_CFREE_HEAD, G_ARENA_VECTOR,
                    G_EFREE_HEAD, G_RUN_HEAD, G_RUN_TAIL):
            G[idx] = -1
        G[G_MMAP_THRESHOLD] = MMAP_THRESHOLD_START
        G[G_TRIM_THRESHOLD] = TRIM_THRESHOLD_START
        G[G_WBASE] = np.iinfo(np.int64).min
        G[G_FNEXT] = NEVER
        G[G_RNEXT] = NEVER
        # an arena_object array the interpreter already has lies outside the modelled heap
        G[G_REAL_MAXARENAS] = slots
        G[G_REAL_UNUSED] = slots - interpreter_arenas
        self._G = G
        self._A = np.zeros((0, A_COLS), dtype=np.int64)
        self._P = np.zeros((0, P_COLS), dtype=np.int32)
        self._Pf = self._P.reshape(-1)
        self._L = np.full(NUM_CLASSES + geometry.max_pools + 1, -1, dtype=np.int64)
        self._C = np.zeros((0, C_COLS), dtype=np.int64)
        self._B = np.full(B_SIZE, -1, dtype=np.int64)
        self._B[B_TC_COUNT:] = 0
        self._R = np.zeros((0, 1 << rec_shift), dtype=np.int32)
        self._Rf = self._R.reshape(-1)
        self._RN = np.zeros(0, dtype=np.int32)
        self._FS = np.zeros(0, dtype=np.int64)
        self._H = np.zeros((0, 3), dtype=np.int64)
        ns = 1 << wheel_bits
        self._W = np.full(5 * ns, -1, dtype=np.int32)
        self._W[W_RC * ns:] = 0
        self._WB = np.zeros(2 * ((ns + 63) >> 6), dtype=np.int64)
        self._E = np.zeros(0, dtype=np.int32)
        self._EN = np.zeros(0, dtype=np.int32)
        self._CUR = np.zeros(0, dtype=np.int64)
        self._TMP = np.zeros(0, dtype=np.int64)
        self._CNT = np.zeros(2 << ((wheel_bits + 1) >> 1), dtype=np.int64)
        self._last_seq = np.iinfo(np.int64).min
        self._grow_arenas(16)
        self._grow_chunks(64)
        self._grow_row_table(64)
        self._grow_heap()
        self._grow_entries()

    # ---------------------------------------------------------------- growth
    def _grow_arenas(self, need: int) -> None:
        old = self._A.shape[0]
        new = max(2 * old, old + need, 16)
        self._A = _grow_rows(self._A, new, 0)
        self._P = _grow_rows(self._P, new * self.geometry.max_pools, 0)
        self._Pf = self._P.reshape(-1)
        # new arena_object slots go to the end of the unused list, in index order
        G, A = self._G, self._A
        A[old:new, A_NEXT] = np.arange(old + 1, new + 1)
        A[new - 1, A_NEXT] = -1
        A[old:new, A_PREV] = -1
        if G[G_UNUSED_TAIL] == -1:
            G[G_UNUSED_HEAD] = old
        else:
            A[G[G_UNUSED_TAIL], A_NEXT] = old
        G[G_UNUSED_TAIL] = new - 1
        G[G_UNUSED_COUNT] += new - old

    def _grow_chunks(self, need: int) -> None:
        old = self._C.shape[0]
        new = max(2 * old, old + need, 64)
        self._C = _grow_rows(self._C, new, 0)
        # spare records form a stack linked through C_BNEXT, lowest index on top
        G, C = self._G, self._C
        C[old:new, C_STATE] = CS_RECORD_FREE
        C[old:new, C_BNEXT] = np.arange(old + 1, new + 1)
        C[new - 1, C_BNEXT] = G[G_CFREE_HEAD]
        G[G_CFREE_HEAD] = old
        G[G_CFREE_COUNT] += new - old

    def _grow_row_table(self, need: int) -> None:
        old = self._R.shape[0]
        new = max(2 * old, old + need, 64)
        R = _aligned_empty((new, self._R.shape[1]), np.int32)
        R[:old] = self._R
        R[old:] = 0  # ROW_FREE
        self._R = R
        self._Rf = R.reshape(-1)
        self._RN = _grow_rows(self._RN, new, -1)
        # the free-row stack keeps its rows and gets the new ones, lowest index on top
        top = int(self._G[G_ROW_FREE_TOP])
        FS = np.zeros(new, dtype=np.int64)
        FS[:top] = self._FS[:top]
        FS[top: top + new - old] = np.arange(new - 1, old - 1, -1, dtype=np.int64)
        self._FS = FS
        self._G[G_ROW_FREE_TOP] = top + new - old

    def _grow_heap(self) -> None:
        self._H = _grow_rows(self._H, max(2 * self._H.shape[0], 64), 0)

    def _grow_entries(self) -> None:
        # chunks of E_CHUNK records for the ring buckets; the current run and the sort buffer
        # can hold a (position, record) pair for every record
        old = self._EN.shape[0]
        new = max(2 * old, 64)
        # (and one spare record at the end, which _run writes for objects whose free is not registered)
        E = _aligned_empty(((E_CHUNK * new + 1) * self._R.shape[1],), np.int32)
        E[: self._E.shape[0]] = self._E
        self._E = E
        EN = np.zeros(new, dtype=np.int32)
        EN[:old] = self._EN
        # the new chunks go on the free stack, lowest index on top
        EN[old:new] = np.arange(old + 1, new + 1, dtype=np.int32)
        EN[new - 1] = self._G[G_EFREE_HEAD]
        self._EN = EN
        self._G[G_EFREE_HEAD] = old
        self._G[G_EFREE_COUNT] += new - old
        CUR = np.zeros(E_CHUNK * new, dtype=np.int64)
        CUR[: self._CUR.shape[0]] = self._CUR
        self._CUR = CUR
        self._TMP = np.zeros(E_CHUNK * new, dtype=np.int64)

    def _drive(self, seqs, free_seqs, sizes, want_rows, until: int, out: np.ndarray, free_list: np.ndarray) -> None:
        i = 0
        G = self._G
        while True:
            args = (seqs, free_seqs, sizes, want_rows, i, until, out, free_list, G, self._A, self._Pf, self._L, self._C,
                    self._B, self._Rf, self._RN, self._FS, self._H, self._W, self._WB, self._E, self._EN, self._CUR,
                    self._TMP, self._CNT, self._caps, self._geo, self._share)
            i = _run4(*args) if self.k == 4 else _run(*args, self.k)
            status = int(G[G_STATUS])
            if status == NEED_NOTHING:
                return
            if status == BAD_ROW:
                raise GcperfError(f"row {int(free_list[i])} is not a live row (freed twice, or never handed out)")
            free_list = free_list[:0]
            if status == NEED_ARENAS:
                self._grow_arenas(self.k)
            elif status == NEED_CHUNKS:
                self._grow_chunks(self.k + 1)
            elif status == NEED_ROWS:
                self._grow_row_table(1)
            elif status == NEED_HEAP:
                self._grow_heap()
            elif status == NEED_ENTRIES:
                self._grow_entries()
            else:  # pragma: no cover - the kernel only stops early to grow a table
                raise AssertionError(f"kernel stopped at {i} of {seqs.shape[0]} with status {status}")

    def set_malloc_thresholds(self, mmap_threshold: int, trim_threshold: int | None = None) -> None:
        """Start glibc's dynamic thresholds elsewhere than 128 KiB, as a process that already freed
        an mmapped chunk of ``mmap_threshold`` bytes would (trim threshold twice that by default).

        Raises:
            GcperfError: a threshold outside 128 KiB .. 32 MiB (mmap) or below 0 (trim).
        """
        if not MMAP_THRESHOLD_START <= mmap_threshold <= MMAP_THRESHOLD_MAX:
            raise GcperfError(f"mmap_threshold must be in 128 KiB .. 32 MiB, got {mmap_threshold}")
        trim = 2 * mmap_threshold if trim_threshold is None else trim_threshold
        if trim < 0:
            raise GcperfError(f"trim_threshold must be >= 0, got {trim}")
        self._G[G_MMAP_THRESHOLD] = mmap_threshold
        self._G[G_TRIM_THRESHOLD] = trim

    # ---------------------------------------------------------------- events
    def allocate(self, seqs: np.ndarray, free_seqs: np.ndarray, sizes: np.ndarray, want_rows: np.ndarray) -> np.ndarray:
        """Allocate n objects in order.

        Object i is allocated at position ``seqs[i]`` (non-decreasing, and not
        before an earlier call's positions) and consists of up to k allocations
        ``sizes[i, j] > 0`` (0 = unused) made in order j = 0, 1, ... Before
        object i, every pending free with ``free_seq < seqs[i]`` is carried out
        in free_seq order (ties: in registration order). A finite ``free_seqs[i]``
        (``>= seqs[i]``) registers all of the object's allocations to be freed,
        in order j, at that position; ``want_rows[i]`` keeps them under a row id
        for :meth:`free_rows` instead (the free time is decided later).

        Returns:
            int64[n]: the row id of objects with ``want_rows``, else -1.

        Raises:
            GcperfError: arrays whose shapes do not fit, positions out of order,
                a free before its allocation, an object with both a finite
                free_seq and want_rows, or a negative size.
        """
        seqs = np.ascontiguousarray(seqs, dtype=np.int64)
        free_seqs = np.ascontiguousarray(free_seqs, dtype=np.int64)
        want_rows = np.ascontiguousarray(want_rows, dtype=np.bool_)
        sizes = np.asarray(sizes)
        if sizes.ndim == 1:
            sizes = sizes[:, None]
        # int32 sizes (the stream's; half the memory traffic of int64). Other integer sizes are
        # narrowed when they fit, so that the kernel is compiled for one type: each further
        # specialisation of _run4 costs ~10 s of compilation on the first run of a machine
        if sizes.dtype != np.int32 and (sizes.size == 0 or (sizes.max() <= _INT32_MAX and sizes.min() >= 0)):
            sizes = sizes.astype(np.int32)
        sizes = np.ascontiguousarray(sizes, dtype=np.int32 if sizes.dtype == np.int32 else np.int64)
        n = seqs.shape[0]
        if seqs.ndim != 1 or free_seqs.shape != (n,) or want_rows.shape != (n,) or sizes.shape[0] != n:
            raise GcperfError(
                f"seqs, free_seqs, want_rows and sizes must have the same length, got {seqs.shape}, "
                f"{free_seqs.shape}, {want_rows.shape}, {sizes.shape}"
            )
        if sizes.shape[1] > self.k:
            raise GcperfError(f"sizes has {sizes.shape[1]} columns, more than max_blocks_per_object={self.k}")
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if sizes.shape[1] < self.k:
            # the kernel is compiled for k columns: unused slots are zeros
            sizes = np.concatenate([sizes, np.zeros((n, self.k - sizes.shape[1]), dtype=sizes.dtype)], axis=1)
        bad = _check(seqs, free_seqs, sizes, want_rows, self._last_seq)
        if bad:
            raise GcperfError(next(msg for bit, msg in _CHECK_MESSAGES if bad & bit))
        self._last_seq = int(seqs[-1])
        out = np.full(n, -1, dtype=np.int64)
        self._drive(seqs, free_seqs, sizes, want_rows, np.iinfo(np.int64).min, out, out[:0])
        return out

    def advance(self, seq: int) -> None:
        """Carry out every pending free with ``free_seq < seq`` (nothing if ``seq`` is behind the model)."""
        seq = min(int(seq), MAX_SEQ)  # every pending position is below MAX_SEQ: clamping changes nothing
        if seq <= self._last_seq:
            return
        self._last_seq = seq
        self._drive(_EMPTY, _EMPTY, _EMPTY_SIZES, _EMPTY_BOOL, seq, _EMPTY, _EMPTY)

    def free_rows(self, rows: np.ndarray) -> None:
        """Free the blocks of these rows now (after :meth:`advance` to the current position), in order.

        Raises:
            GcperfError: a row that is not a live ``want_rows`` row (freed already,
                or never handed out); the rows before it have been freed.
        """
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if rows.ndim != 1:
            raise GcperfError(f"rows must be one-dimensional, got shape {rows.shape}")
        if rows.shape[0]:
            self._drive(_EMPTY, _EMPTY, _EMPTY_SIZES, _EMPTY_BOOL, np.iinfo(np.int64).min, _EMPTY, rows)

    # ---------------------------------------------------------------- results
    def stats(self) -> dict:
        """Counters of the allocators now; sizes in bytes.

        Keys: ``arenas_mapped``, ``arenas_allocated_total``, ``arenas_reclaimed_total``,
        ``arenas_highwater`` (= ``peak_arenas``), ``pools_in_use``, ``pools_touched``
        (pools ever carved in mapped arenas), ``pymalloc_pages_touched``,
        ``pymalloc_resident_bytes`` (those pages), ``blocks_in_use`` (pymalloc and
        malloc), ``pymalloc_bytes_in_use`` (block sizes), ``requested_bytes_in_use``,
        ``large_mmapped_bytes``, ``large_mmapped_chunks``, ``large_heap_bytes``
        (resident part of the brk heap), ``large_heap_brk_bytes``,
        ``large_heap_in_use_bytes`` (chunk sizes in use), ``mmap_threshold``,
        ``trim_threshold``, ``arena_objects_bytes``, ``footprint_bytes``,
        ``peak_footprint_bytes`` (maximum after every allocation so far),
        ``pending_frees`` (objects), ``live_rows`` (``want_rows`` rows not freed).
        """
        g = self._G.tolist()
        pages = g[G_PYM_PAGES]
        pending = g[G_HEAP_N] + g[G_FCOUNT] + g[G_CCOUNT] + g[G_CUR_END] - g[G_CUR_POS]
        heap = (g[G_TOUCHED] + SYSTEM_PAGE - 1) // SYSTEM_PAGE * SYSTEM_PAGE
        return {
            "arenas_mapped": g[G_N_CURRENT],
            "arenas_allocated_total": g[G_N_TOTAL],
            "arenas_reclaimed_total": g[G_N_RECLAIMED],
            "arenas_highwater": g[G_N_HIGHWATER],
            "peak_arenas": g[G_N_HIGHWATER],
            "pools_in_use": g[G_POOLS_IN_USE],
            "pools_touched": g[G_POOLS_TOUCHED],
            "pymalloc_pages_touched": pages,
            "pymalloc_resident_bytes": pages * SYSTEM_PAGE,
            "blocks_in_use": g[G_BLOCKS],
            "pymalloc_bytes_in_use": g[G_PYM_BYTES],
            "requested_bytes_in_use": g[G_REQ_BYTES],
            "large_mmapped_bytes": g[G_MMAPPED],
            "large_mmapped_chunks": g[G_N_MMAPPED],
            "large_heap_bytes": heap,
            "large_heap_brk_bytes": g[G_BRK_END],
            "large_heap_in_use_bytes": g[G_HEAP_INUSE],
            "mmap_threshold": g[G_MMAP_THRESHOLD],
            "trim_threshold": g[G_TRIM_THRESHOLD],
            "arena_objects_bytes": g[G_REAL_MAXARENAS] * ARENA_OBJECT_BYTES,
            "footprint_bytes": pages * SYSTEM_PAGE + g[G_MMAPPED] + heap,
            "peak_footprint_bytes": g[G_PEAK],
            "pending_frees": pending,
            "live_rows": g[G_ROWS_LIVE] - g[G_HEAP_N] - g[G_FCOUNT],
        }

    def state_nbytes(self) -> int:
        """Bytes held by the model's own tables (to check that memory follows the live population)."""
        return sum(a.nbytes for a in (self._G, self._A, self._P, self._L, self._C, self._B, self._R, self._RN,
                                      self._FS, self._H, self._W, self._WB, self._E, self._EN, self._CUR, self._TMP, self._CNT))


_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY_SIZES = np.zeros((0, 1), dtype=np.int32)  # the type the stream's sizes have: no second compilation
_INT32_MAX = np.iinfo(np.int32).max
_EMPTY_BOOL = np.zeros(0, dtype=np.bool_)
