"""The allocator model (gcperf/memory/: pymalloc.py, glibc.py, model.py): unit tests, a reference, real interpreters, speed.

* ``RefPymalloc``/``RefGlibc`` below are plain per-event transcriptions of the
  same rules, written for clarity: pymalloc keeps real block offsets, free lists
  threaded through the blocks, circular ``usedpools`` lists with header pools and
  the pages each write touches; the glibc model keeps an address-ordered chunk
  list and picks the best fit by scanning it. Hypothesis checks that the numba
  kernels give the same counters and the same lists (pools, arenas, chunks,
  bins) after every call, for any sequence of calls.
* Real interpreters (``real_interpreter``): bytes objects of chosen sizes are
  created and freed in patterns by every CPython 3.8-3.13 found; arenas and
  resident memory are read before and after each phase and compared with a
  replay of the same sequence (docs/allocator.md reports the figures).
* ``test_speed_report`` (``slow``) prints allocation and free events per second.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from interpreters import find_interpreter, interpreter_params

from gcperf.errors import GcperfError
from gcperf.memory import (
    NEVER,
    AllocatorGeometry,
    MemoryModel,
    chunk_size,
    geometry_for,
    mmapped_size,
    size_class,
)
from gcperf.memory import layout as al

PAGE = 4096
KiB = 1024
MiB = 1 << 20


def objects(model: MemoryModel, first_seq: int, sizes, free_after=None, rows: bool = False) -> np.ndarray:
    """Allocate one object per entry of ``sizes`` at consecutive positions from ``first_seq``."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.ndim == 1:
        sizes = sizes[:, None]
    n = sizes.shape[0]
    seqs = np.arange(first_seq, first_seq + n, dtype=np.int64)
    frees = np.full(n, NEVER, dtype=np.int64) if free_after is None else seqs + np.asarray(free_after, np.int64)
    want = np.full(n, rows, dtype=bool)
    return model.allocate(seqs, frees, sizes, want)


def pool_of(model: MemoryModel, row: int, j: int = 0) -> int:
    """The pool (a global pool index: arena slot * pools per arena + carve order) holding a row's block j."""
    return int(model._R[row, al.X_H + j])


# ============================================================================ reference


class _Pool:
    __slots__ = ("count", "freeblock", "nextpool", "prevpool", "arena", "szidx", "nextoffset", "maxnextoffset",
                 "links", "pages", "carved")

    def __init__(self, arena) -> None:
        self.arena = arena
        self.szidx = -1
        self.count = 0
        self.carved = 0  # blocks handed out at least once since the pool was (re)initialised
        self.freeblock = None
        self.nextpool = self.prevpool = self
        self.nextoffset = self.maxnextoffset = 0
        self.links: dict[int, int | None] = {}
        self.pages: set[int] = set()


class _Arena:
    __slots__ = ("index", "mapped", "pools", "nfreepools", "ntotalpools", "freepools", "nextarena", "prevarena")

    def __init__(self, index: int) -> None:
        self.index = index
        self.mapped = False
        self.pools: list[_Pool] = []
        self.nfreepools = self.ntotalpools = 0
        self.freepools = None
        self.nextarena = self.prevarena = None


class RefPymalloc:
    """obmalloc.c's pool and arena management, one block at a time, with real offsets."""

    def __init__(self, geo: AllocatorGeometry, glibc: RefGlibc) -> None:
        self.geo = geo
        self.glibc = glibc
        self.vector: _Chunk | None = None  # the arena_object array, a malloc'ed chunk
        self.headers = [_Pool(None) for _ in range(32)]
        self.arenas: list[_Arena] = []
        self.unused: _Arena | None = None
        self.usable: _Arena | None = None
        self.nfp2lasta: list[_Arena | None] = [None] * (geo.max_pools + 1)
        self.maxarenas = self.current = self.total = self.reclaimed = self.highwater = 0

    def _write(self, pool: _Pool, offset: int, length: int) -> None:
        pool.pages.update(range(offset // PAGE, (offset + length - 1) // PAGE + 1))

    def _hand_out(self, pool: _Pool, bp: int, bsize: int) -> None:
        self._write(pool, bp, bsize)
        pool.carved = max(pool.carved, (bp - 48) // bsize + 1)

    def _new_arena(self) -> _Arena:
        if self.unused is None:
            n = 16 if self.maxarenas == 0 else 2 * self.maxarenas
            new = [_Arena(i) for i in range(self.maxarenas, n)]
            for a, b in zip(new, new[1:], strict=False):
                a.nextarena = b
            self.arenas += new
            self.unused = new[0]
            self.maxarenas = n
            self.vector = self.glibc.realloc(self.vector, 48 * n)
        a = self.unused
        self.unused = a.nextarena
        share = self.geo.aligned_arena_share
        k = self.total
        aligned = share > 0 and math.floor((k + 1) * share) > math.floor(k * share)
        a.mapped = True
        a.pools = []
        a.freepools = None
        a.ntotalpools = a.nfreepools = self.geo.max_pools if aligned else self.geo.usable_pools
        self.current += 1
        self.total += 1
        self.highwater = max(self.highwater, self.current)
        return a

    def malloc(self, nbytes: int) -> tuple[_Pool, int]:
        size = (nbytes - 1) >> 4
        bsize = (size + 1) << 4
        header = self.headers[size]
        pool = header.nextpool
        if pool is not header:
            pool.count += 1
            bp = pool.freeblock
            pool.freeblock = pool.links[bp]
            if pool.freeblock is None:
                if pool.nextoffset <= pool.maxnextoffset:
                    pool.freeblock = pool.nextoffset
                    pool.nextoffset += bsize
                    pool.links[pool.freeblock] = None
                    self._write(pool, pool.freeblock, 8)
                else:
                    nxt, prv = pool.nextpool, pool.prevpool
                    nxt.prevpool = prv
                    prv.nextpool = nxt
            self._hand_out(pool, bp, bsize)
            return pool, bp
        if self.usable is None:
            self.usable = self._new_arena()
            self.usable.nextarena = self.usable.prevarena = None
            self.nfp2lasta[self.usable.nfreepools] = self.usable
        a = self.usable
        if self.nfp2lasta[a.nfreepools] is a:
            self.nfp2lasta[a.nfreepools] = None
        if a.nfreepools > 1:
            self.nfp2lasta[a.nfreepools - 1] = a
        pool = a.freepools
        if pool is not None:
            a.freepools = pool.nextpool
        else:
            pool = _Pool(a)
            a.pools.append(pool)
        a.nfreepools -= 1
        if a.nfreepools == 0:
            self.usable = a.nextarena
            if self.usable is not None:
                self.usable.prevarena = None
        # frontlink into the (empty) used list
        pool.nextpool = pool.prevpool = header
        header.nextpool = header.prevpool = pool
        pool.count = 1
        if pool.szidx == size:
            bp = pool.freeblock
            pool.freeblock = pool.links[bp]
            self._hand_out(pool, bp, bsize)
            return pool, bp
        pool.szidx = size
        pool.links = {}
        pool.carved = 0
        self._write(pool, 0, 48)
        bp = 48
        pool.nextoffset = 48 + 2 * bsize
        pool.maxnextoffset = self.geo.pool_size - bsize
        pool.freeblock = 48 + bsize
        pool.links[pool.freeblock] = None
        self._write(pool, pool.freeblock, 8)
        self._hand_out(pool, bp, bsize)
        return pool, bp

    def free(self, pool: _Pool, bp: int) -> None:
        lastfree = pool.freeblock
        pool.links[bp] = lastfree
        pool.freeblock = bp
        pool.count -= 1
        if lastfree is None:
            header = self.headers[pool.szidx]
            nxt = header.nextpool
            prv = nxt.prevpool
            pool.nextpool, pool.prevpool = nxt, prv
            nxt.prevpool = pool
            prv.nextpool = pool
            return
        if pool.count:
            return
        nxt, prv = pool.nextpool, pool.prevpool
        nxt.prevpool = prv
        prv.nextpool = nxt
        a = pool.arena
        pool.nextpool = a.freepools
        a.freepools = pool
        nf = a.nfreepools
        lastnf = self.nfp2lasta[nf]
        if lastnf is a:
            p = a.prevarena
            self.nfp2lasta[nf] = p if (p is not None and p.nfreepools == nf) else None
        nf += 1
        a.nfreepools = nf
        if nf == a.ntotalpools and (not self.geo.keep_one_empty_arena or a.nextarena is not None):
            if a.prevarena is None:
                self.usable = a.nextarena
            else:
                a.prevarena.nextarena = a.nextarena
            if a.nextarena is not None:
                a.nextarena.prevarena = a.prevarena
            a.nextarena = self.unused
            self.unused = a
            a.mapped = False
            a.pools = []
            self.current -= 1
            self.reclaimed += 1
            return
        if nf == 1:
            a.nextarena = self.usable
            a.prevarena = None
            if self.usable is not None:
                self.usable.prevarena = a
            self.usable = a
            if self.nfp2lasta[1] is None:
                self.nfp2lasta[1] = a
            return
        if self.nfp2lasta[nf] is None:
            self.nfp2lasta[nf] = a
        if a is lastnf:
            return
        if a.prevarena is not None:
            a.prevarena.nextarena = a.nextarena
        else:
            self.usable = a.nextarena
        a.nextarena.prevarena = a.prevarena
        a.prevarena = lastnf
        a.nextarena = lastnf.nextarena
        if a.nextarena is not None:
            a.nextarena.prevarena = a
        lastnf.nextarena = a

    def counters(self) -> dict:
        mapped = [a for a in self.arenas if a.mapped]
        return {
            "arenas_mapped": self.current,
            "arenas_allocated_total": self.total,
            "arenas_reclaimed_total": self.reclaimed,
            "arenas_highwater": self.highwater,
            "pools_in_use": sum(a.ntotalpools - a.nfreepools for a in mapped),
            "pools_touched": sum(len(a.pools) for a in mapped),
            "pymalloc_pages_touched": sum(len(p.pages) for a in mapped for p in a.pools),
            "arena_objects_bytes": 48 * self.maxarenas,
        }


class _Chunk:
    __slots__ = ("addr", "size", "state", "ins")

    def __init__(self, addr: int, size: int, state: str) -> None:
        self.addr, self.size, self.state, self.ins = addr, size, state, 0


class RefGlibc:
    """The brk-heap model in its plainest form: a sorted chunk list and a best-fit scan."""

    def __init__(self) -> None:
        self.chunks: list[_Chunk] = []  # address order, below the top chunk
        self.tcache: dict[int, list[_Chunk]] = {}
        self.top_start = self.brk = self.touched = 0
        self.mmap_threshold = 128 * KiB
        self.trim_threshold = 128 * KiB
        self.mmapped = self.n_mmapped = self.in_use = 0
        self.counter = 0

    def malloc(self, n: int) -> _Chunk:
        n = max(n, 1)
        nb = max(32, (n + 8 + 15) & ~15)
        cached = self.tcache.get(nb)
        if nb <= 1040 and cached:
            ch = cached.pop()
            ch.state = "inuse"
            self.in_use += nb
            return ch
        fits = [c for c in self.chunks if c.state == "free" and c.size >= nb]
        if fits:
            ch = min(fits, key=lambda c: (c.size, -c.ins))
            ch.state = "inuse"
            if ch.size - nb >= 32:
                rest = _Chunk(ch.addr + nb, ch.size - nb, "free")
                ch.size = nb
                self._binned(rest)
                self.chunks.insert(self.chunks.index(ch) + 1, rest)
            self.in_use += ch.size
            return ch
        top = self.brk - self.top_start
        if top < nb + 32:
            if nb >= self.mmap_threshold:
                size = -(-(nb + 8) // PAGE) * PAGE
                self.mmapped += size
                self.n_mmapped += 1
                return _Chunk(-1, size, "mmapped")
            self.brk += -(-(nb + 128 * KiB + 32 - top) // PAGE) * PAGE
        ch = _Chunk(self.top_start, nb, "inuse")
        self.chunks.append(ch)
        self.top_start += nb
        self.touched = max(self.touched, self.top_start + 16)
        self.in_use += nb
        return ch

    def realloc(self, ch: _Chunk | None, n: int) -> _Chunk:
        if ch is None:
            return self.malloc(n)
        nb = max(32, (n + 8 + 15) & ~15)
        if ch.state == "mmapped":
            size = -(-(nb + 8) // PAGE) * PAGE
            self.mmapped += size - ch.size
            ch.size = size
            return ch
        if ch.size >= nb:
            return ch
        i = self.chunks.index(ch)
        if i + 1 == len(self.chunks):
            if ch.size + self.brk - self.top_start >= nb + 32:
                self.in_use += nb - ch.size
                ch.size = nb
                self.top_start = ch.addr + nb
                self.touched = max(self.touched, self.top_start + 16)
                return ch
        elif self.chunks[i + 1].state == "free" and ch.size + self.chunks[i + 1].size >= nb:
            old = ch.size
            ch.size += self.chunks.pop(i + 1).size
            if ch.size - nb >= 32:
                rest = _Chunk(ch.addr + nb, ch.size - nb, "free")
                ch.size = nb
                self._binned(rest)
                self.chunks.insert(i + 1, rest)
            self.in_use += ch.size - old
            return ch
        new = self.malloc(n)
        self.free(ch)
        return new

    def _binned(self, ch: _Chunk) -> None:
        ch.state = "free"
        ch.ins = self.counter
        self.counter += 1

    def free(self, ch: _Chunk) -> None:
        if ch.state == "mmapped":
            if self.mmap_threshold < ch.size <= 32 * MiB:
                self.mmap_threshold = ch.size
                self.trim_threshold = 2 * ch.size
            self.mmapped -= ch.size
            self.n_mmapped -= 1
            return
        self.in_use -= ch.size
        if ch.size <= 1040 and len(self.tcache.setdefault(ch.size, [])) < 7:
            ch.state = "tcache"
            self.tcache[ch.size].append(ch)
            return
        i = self.chunks.index(ch)
        if i > 0 and self.chunks[i - 1].state == "free":
            prev = self.chunks.pop(i - 1)
            i -= 1
            ch.addr = prev.addr
            ch.size += prev.size
        if i + 1 == len(self.chunks):
            self.chunks.pop(i)
            merged = ch.size + self.brk - self.top_start
            self.top_start = ch.addr
        else:
            nxt = self.chunks[i + 1]
            if nxt.state == "free":
                self.chunks.pop(i + 1)
                ch.size += nxt.size
            merged = ch.size
            self._binned(ch)
        top = self.brk - self.top_start
        if merged >= 65536 and top >= self.trim_threshold:
            extra = top - 32 - 1 - 128 * KiB
            if extra > 0:
                self.brk -= extra - extra % PAGE
                self.touched = min(self.touched, self.brk)

    def counters(self) -> dict:
        return {
            "large_mmapped_bytes": self.mmapped,
            "large_mmapped_chunks": self.n_mmapped,
            "large_heap_bytes": -(-self.touched // PAGE) * PAGE,
            "large_heap_brk_bytes": self.brk,
            "large_heap_in_use_bytes": self.in_use,
            "mmap_threshold": self.mmap_threshold,
            "trim_threshold": self.trim_threshold,
        }


class RefModel:
    """MemoryModel's contract, event by event: the pending frees are a plain list."""

    def __init__(self, geo: AllocatorGeometry) -> None:
        self.geo = geo
        self.gl = RefGlibc()
        self.py = RefPymalloc(geo, self.gl)
        self.pending: list[tuple[int, int, list]] = []
        self.counter = 0
        self.blocks = self.pym_bytes = self.req_bytes = 0
        self.peak = 0

    def _due(self, seq: int) -> None:
        while True:
            due = [p for p in self.pending if p[0] < seq]
            if not due:
                return
            first = min(due, key=lambda p: (p[0], p[1]))
            self.pending.remove(first)
            self.free_blocks(first[2])

    def allocate_object(self, seq: int, free_seq: int, sizes) -> list:
        self._due(seq)
        blocks = []
        for nbytes in sizes:
            if nbytes <= 0:
                continue
            self.blocks += 1
            self.req_bytes += nbytes
            if nbytes <= self.geo.small_threshold:
                self.pym_bytes += ((nbytes - 1) >> 4 << 4) + 16
                blocks.append(("p", nbytes, self.py.malloc(nbytes)))
            else:
                blocks.append(("g", nbytes, self.gl.malloc(nbytes)))
            self.peak = max(self.peak, self.footprint())
        if free_seq != NEVER:
            self.pending.append((free_seq, self.counter, blocks))
            self.counter += 1
        return blocks

    def free_blocks(self, blocks: list) -> None:
        for kind, nbytes, handle in blocks:
            self.blocks -= 1
            self.req_bytes -= nbytes
            if kind == "p":
                self.pym_bytes -= ((nbytes - 1) >> 4 << 4) + 16
                self.py.free(*handle)
            else:
                self.gl.free(handle)

    def advance(self, seq: int) -> None:
        self._due(seq)

    def footprint(self) -> int:
        c = self.py.counters()
        g = self.gl.counters()
        return c["pymalloc_pages_touched"] * PAGE + g["large_mmapped_bytes"] + g["large_heap_bytes"]

    def stats(self) -> dict:
        out = self.py.counters() | self.gl.counters()
        out.update(blocks_in_use=self.blocks, pymalloc_bytes_in_use=self.pym_bytes, requested_bytes_in_use=self.req_bytes,
                   footprint_bytes=self.footprint(), peak_footprint_bytes=self.peak, pending_frees=len(self.pending))
        return out


def _chain(start: int, links: np.ndarray, col: int) -> list[int]:
    out = []
    while start != -1:
        out.append(int(start))
        start = links[start, col]
    return out


def model_snapshot(m: MemoryModel) -> dict:
    """Every list and counter of the model's allocators, in comparable form."""
    G, A, P, L, C, B = m._G, m._A, m._P, m._L, m._C, m._B
    maxp = m.geometry.max_pools
    arenas = {}
    for a in np.flatnonzero(A[:, al.A_MAPPED]):
        pools = [tuple(int(x) for x in P[a * maxp + q, [al.P_COUNT, al.P_SZIDX, al.P_CARVED, al.P_PAGES]])
                 for q in range(A[a, al.A_NCARVED])]
        arenas[int(a)] = (int(A[a, al.A_NFREE]), int(A[a, al.A_NTOTAL]),
                          _chain(A[a, al.A_FREEPOOLS], P, al.P_NEXT), pools)
    chunks = sorted((int(C[r, al.C_ADDR]), int(C[r, al.C_SIZE]), int(C[r, al.C_STATE]))
                    for r in range(C.shape[0]) if C[r, al.C_STATE] in (al.CS_BINNED, al.CS_INUSE, al.CS_TCACHE))
    return {
        "arenas": arenas,
        "usable": _chain(G[al.G_USABLE_HEAD], A, al.A_NEXT),
        "usedpools": [_chain(L[c], P, al.P_NEXT) for c in range(32)],
        "nfp2lasta": [int(x) for x in L[al.L_NFP:]],
        "chunks": chunks,
        "bins": [[int(C[r, al.C_ADDR]) for r in _chain(B[b], C, al.C_BNEXT)] for b in range(al.NBINS)],
        "tcache": [[int(C[r, al.C_ADDR]) for r in _chain(B[al.B_TC_HEAD + t], C, al.C_BNEXT)] for t in range(64)],
        "top": (int(G[al.G_TOP_START]), int(G[al.G_BRK_END]), int(G[al.G_TOUCHED])),
    }


def _bin_index(sz: int) -> int:
    # glibc's bin_index on 64-bit, spelled out
    if sz < 1024:
        return sz >> 4
    for shift, limit, offset in ((6, 48, 48), (9, 20, 91), (12, 10, 110), (15, 4, 119), (18, 2, 124)):
        if sz >> shift <= limit:
            return offset + (sz >> shift)
    return 126


def ref_snapshot(ref: RefModel) -> dict:
    py, gl = ref.py, ref.gl
    maxp = py.geo.max_pools

    def pid(pool: _Pool) -> int:
        return pool.arena.index * maxp + pool.arena.pools.index(pool)

    arenas = {}
    for a in py.arenas:
        if not a.mapped:
            continue
        free, q = [], a.freepools
        while q is not None:
            free.append(pid(q))
            q = q.nextpool
        arenas[a.index] = (a.nfreepools, a.ntotalpools, free,
                           [(p.count, p.szidx, p.carved, len(p.pages)) for p in a.pools])
    usable, a = [], py.usable
    while a is not None:
        usable.append(a.index)
        a = a.nextarena
    used = []
    for h in py.headers:
        chain, p = [], h.nextpool
        while p is not h:
            chain.append(pid(p))
            p = p.nextpool
        used.append(chain)
    states = {"free": al.CS_BINNED, "inuse": al.CS_INUSE, "tcache": al.CS_TCACHE}
    bins: list[list[int]] = [[] for _ in range(al.NBINS)]
    # the model keeps a bin sorted by size, the most recently freed first among equal sizes
    for ch in sorted((c for c in gl.chunks if c.state == "free"), key=lambda c: (c.size, -c.ins)):
        bins[_bin_index(ch.size)].append(ch.addr)
    tcache: list[list[int]] = [[] for _ in range(64)]
    for size, stack in gl.tcache.items():
        tcache[(size - 32) >> 4] = [c.addr for c in reversed(stack)]
    return {
        "arenas": arenas,
        "usable": usable,
        "usedpools": used,
        "nfp2lasta": [-1 if a is None else a.index for a in py.nfp2lasta],
        "chunks": sorted((c.addr, c.size, states[c.state]) for c in gl.chunks),
        "bins": bins,
        "tcache": tcache,
        "top": (gl.top_start, gl.brk, gl.touched),
    }


# ============================================================================ unit tests


def test_size_classes_and_chunk_sizes():
    assert [size_class(n) for n in (1, 16, 17, 32, 33, 511, 512)] == [0, 0, 1, 1, 2, 31, 31]
    assert chunk_size(0) == 32 and chunk_size(24) == 32 and chunk_size(25) == 48 and chunk_size(513) == 528
    assert mmapped_size(200_000) == 200_704
    m = MemoryModel(geometry_for("3.12"), 2)
    objects(m, 0, [[1, 512], [16, 17], [513, 100_000]])
    s = m.stats()
    assert s["pymalloc_bytes_in_use"] == 16 + 512 + 16 + 32
    assert s["requested_bytes_in_use"] == 1 + 512 + 16 + 17 + 513 + 100_000
    assert s["blocks_in_use"] == 6
    # and the arena_object array (16 slots of 48 bytes) pymalloc allocated with malloc
    assert s["large_heap_in_use_bytes"] == chunk_size(513) + chunk_size(100_000) + chunk_size(16 * 48)


def test_blocks_per_pool():
    small, large = geometry_for("3.9"), geometry_for("3.10")
    assert [small.blocks_per_pool(c) for c in (0, 1, 31)] == [253, 126, 7]
    assert [large.blocks_per_pool(c) for c in (0, 1, 31)] == [1021, 510, 31]
    # a pool takes exactly that many blocks before the next one is needed
    for geo in (small, large):
        m = MemoryModel(geo, 1)
        n = geo.blocks_per_pool(31)
        objects(m, 0, [512] * n)
        assert m.stats()["pools_in_use"] == 1
        objects(m, n, [512])
        assert m.stats()["pools_in_use"] == 2


def test_geometry_per_version():
    g38, g39, g313 = geometry_for("3.8"), geometry_for("3.9.18"), geometry_for("3.13")
    assert (g38.pool_size, g38.arena_size, g38.usable_pools, g38.keep_one_empty_arena) == (4096, 256 * KiB, 64, False)
    assert (g39.pool_size, g39.arena_size, g39.usable_pools, g39.keep_one_empty_arena) == (4096, 256 * KiB, 64, True)
    assert (g313.pool_size, g313.arena_size, g313.usable_pools, g313.max_pools) == (16384, MiB, 63, 64)
    assert geometry_for("3.12.1") == geometry_for("3.10") == geometry_for("3.14") == geometry_for("3.15")
    for bad in ("3.7", "3.16", "3", "python3.12", "3.12.x"):
        with pytest.raises(GcperfError, match="version"):
            geometry_for(bad)
    with pytest.raises(GcperfError, match="usable_pools"):
        AllocatorGeometry(usable_pools=65)
    with pytest.raises(GcperfError, match="pool_size"):
        AllocatorGeometry(pool_size=1024, arena_size=4096, usable_pools=4)
    with pytest.raises(GcperfError, match="arena_size"):
        AllocatorGeometry(pool_size=4096, arena_size=6000, usable_pools=1)


def test_freed_block_of_a_full_pool_is_used_next():
    """A full pool that gets a block back goes to the front of usedpools (LIFO reuse)."""
    geo = geometry_for("3.12")
    cap = geo.blocks_per_pool(0)
    m = MemoryModel(geo, 1)
    rows = objects(m, 0, [16] * (cap + 5), rows=True)
    first, second = pool_of(m, rows[0]), pool_of(m, rows[cap])
    assert first != second and all(pool_of(m, r) == first for r in rows[:cap])
    m.free_rows(rows[7:8])
    again = objects(m, cap + 5, [16, 16], rows=True)
    # the first goes into the hole of the (formerly full) first pool, the next back to the second
    assert [pool_of(m, r) for r in again] == [first, second]


def test_empty_pool_goes_to_the_arena_and_is_reused():
    geo = geometry_for("3.12")
    m = MemoryModel(geo, 1)
    rows = objects(m, 0, [100] * 300, rows=True)
    assert m.stats()["pools_in_use"] == 3
    m.free_rows(rows)
    s = m.stats()
    assert (s["pools_in_use"], s["pools_touched"], s["arenas_mapped"]) == (0, 3, 1)
    # the same class again, then another class: both reuse freed pools, nothing is carved
    again = objects(m, 300, [100, 300], rows=True)
    s = m.stats()
    assert (s["pools_in_use"], s["pools_touched"]) == (2, 3)
    # LIFO: the pool freed last is handed out first
    assert pool_of(m, again[0]) == pool_of(m, rows[-1])


def test_new_pools_come_from_the_fullest_arena():
    """usable_arenas is sorted by free pools: the most used arena serves new pools."""
    geo = geometry_for("3.10")
    m = MemoryModel(geo, 1)
    cap = geo.blocks_per_pool(31)
    # three arenas' worth of one-pool objects (each 31 blocks of 512 B)
    rows = objects(m, 0, [512] * (cap * 63 * 3), rows=True).reshape(-1, cap)
    arena = [pool_of(m, r[0]) // geo.max_pools for r in rows]
    assert len(set(arena)) == 3
    a0, a1 = arena[0], arena[63]
    # free 10 pools in arena 0 and 3 in arena 1: arena 1 has fewer free pools and serves first
    m.free_rows(rows[0:10].ravel())
    m.free_rows(rows[63:66].ravel())
    new = objects(m, 10**6, [512] * (cap * 4), rows=True).reshape(-1, cap)
    assert [pool_of(m, r[0]) // geo.max_pools for r in new] == [a1, a1, a1, a0]


@pytest.mark.parametrize(
    ("version", "kept"), [("3.8", 0), ("3.9", 1), ("3.10", 1), ("3.13", 1)]
)
def test_wholly_free_arenas_are_released(version, kept):
    geo = geometry_for(version)
    m = MemoryModel(geo, 1)
    n = geo.blocks_per_pool(31) * geo.usable_pools * 3
    rows = objects(m, 0, [512] * n, rows=True)
    assert m.stats()["arenas_mapped"] == 3
    m.free_rows(rows)
    s = m.stats()
    assert (s["arenas_mapped"], s["arenas_reclaimed_total"]) == (kept, 3 - kept)
    assert s["pools_touched"] == kept * geo.usable_pools


@pytest.mark.parametrize(("version", "total", "reclaimed"), [("3.8", 200, 200), ("3.9", 101, 100), ("3.12", 1, 0)])
def test_churn_of_300_kb_maps_and_releases_arenas(version, total, reclaimed):
    """CPYTHON_GC.md section 9, E10: 100 x (allocate and free ~300 KB of small blocks)."""
    m = MemoryModel(geometry_for(version), 1)
    seq = 0
    for _ in range(100):
        objects(m, seq, [64] * 4_700, free_after=np.full(4_700, 4_700))
        seq += 4_700
        m.advance(seq + 4_700)
        seq += 4_700
    s = m.stats()
    assert (s["arenas_allocated_total"], s["arenas_reclaimed_total"]) == (total, reclaimed)


def test_aligned_arena_share():
    geo = AllocatorGeometry(pool_size=16384, arena_size=MiB, usable_pools=63, aligned_arena_share=0.25)
    m = MemoryModel(geo, 1)
    cap = geo.blocks_per_pool(31)
    # 8 arenas: two of them (the 4th and 8th) hold 64 pools
    objects(m, 0, [512] * (cap * (6 * 63 + 2 * 64)))
    s = m.stats()
    assert (s["arenas_mapped"], s["pools_in_use"]) == (8, 6 * 63 + 2 * 64)
    objects(m, 10**6, [512])
    assert m.stats()["arenas_mapped"] == 9


def test_pages_touched_follow_carving():
    m = MemoryModel(geometry_for("3.12"), 1)
    objects(m, 0, [512])  # header, block 0, the link written at block 1: one page
    assert m.stats()["pymalloc_pages_touched"] == 1
    objects(m, 1, [512] * 7)  # blocks 0..7 end at 48 + 8 * 512 = 4144: two pages
    assert m.stats()["pymalloc_pages_touched"] == 2
    objects(m, 8, [512] * 23)  # the pool is full: all four pages
    s = m.stats()
    assert (s["pymalloc_pages_touched"], s["pools_touched"]) == (4, 1)
    # plus the arena_object array (16 slots of 48 bytes), a chunk of the glibc heap
    assert s["large_heap_in_use_bytes"] == chunk_size(16 * 48)
    assert s["footprint_bytes"] == 4 * PAGE + PAGE


def test_free_list_link_at_a_page_boundary_touches_the_next_page():
    """Handing out the block that ends at 4096 makes obmalloc write the next block's link on page 2."""
    for sizes, pages in (([16] * 252, 1), ([16] * 253, 2)):
        m, ref = MemoryModel(geometry_for("3.12"), 1), RefModel(geometry_for("3.12"))
        objects(m, 0, sizes)
        for i, n in enumerate(sizes):
            ref.allocate_object(i, NEVER, [n])
        assert m.stats()["pymalloc_pages_touched"] == ref.stats()["pymalloc_pages_touched"] == pages


def test_tcache_keeps_seven_chunks_per_size():
    m, ref = MemoryModel(geometry_for("3.12"), 1), RefModel(geometry_for("3.12"))
    sizes = [600, 2000] * 10
    rows = objects(m, 0, sizes, rows=True)
    blocks = [ref.allocate_object(i, NEVER, [n]) for i, n in enumerate(sizes)]
    m.free_rows(rows)
    for b in blocks:
        ref.free_blocks(b)
    snap = model_snapshot(m)
    assert snap == ref_snapshot(ref)
    assert [len(t) for t in snap["tcache"] if t] == [7]  # chunks of 624 bytes; 2016-byte chunks have no bin
    # the three other 600s and the 2000s between them coalesce; what borders the top went into it
    assert all(c[2] != al.CS_INUSE for c in snap["chunks"])


def test_arena_vector_is_a_heap_chunk_that_grows_with_the_arenas():
    """pymalloc reallocates its arena_object array (16, 32, 64 ... slots) with the system malloc."""
    geo = geometry_for("3.12")
    cap = geo.blocks_per_pool(31)
    m = MemoryModel(geo, 1, interpreter_arenas=5)  # 16 slots exist; the 12th new arena needs 32
    objects(m, 0, [512] * (cap * 63 * 11))
    assert (m.stats()["arenas_mapped"], m.stats()["large_heap_in_use_bytes"]) == (11, 0)
    objects(m, 10**6, [512])
    s = m.stats()
    assert (s["arenas_mapped"], s["large_heap_in_use_bytes"], s["arena_objects_bytes"]) == (12, chunk_size(32 * 48),
                                                                                             32 * 48)
    with pytest.raises(GcperfError, match="arena_slots"):
        MemoryModel(geo, interpreter_arenas=40, arena_slots=32)


@pytest.mark.parametrize("vector_above", [True, False])
def test_arena_vector_pins_the_heap_below_it(vector_above):
    """Chunks freed below a live chunk stay resident; above it the heap is trimmed."""
    m = MemoryModel(geometry_for("3.12"), 1, interpreter_arenas=16)  # the next arena reallocates the array
    if vector_above:
        rows = objects(m, 0, [10_000] * 100, rows=True)
    objects(m, 10**6, [512])
    if not vector_above:
        rows = objects(m, 2 * 10**6, [10_000] * 100, rows=True)
    m.free_rows(rows)
    brk = m.stats()["large_heap_brk_bytes"]
    if vector_above:
        assert brk > 100 * chunk_size(10_000)
    else:
        assert brk <= chunk_size(32 * 48) + 128 * KiB + 32 + PAGE


def test_mmap_threshold_adapts():
    m = MemoryModel(geometry_for("3.12"), 1)
    rows = objects(m, 0, [200_000, 40 * MiB], rows=True)
    s = m.stats()
    assert s["large_mmapped_bytes"] == mmapped_size(200_000) + mmapped_size(40 * MiB)
    assert s["large_heap_brk_bytes"] == 0
    m.free_rows(rows)
    s = m.stats()
    # the 200 KB chunk raised the threshold; the 40 MiB one is above the 32 MiB cap
    assert (s["mmap_threshold"], s["trim_threshold"]) == (mmapped_size(200_000), 2 * mmapped_size(200_000))
    assert s["large_mmapped_bytes"] == 0
    objects(m, 2, [200_000])
    s = m.stats()
    assert s["large_mmapped_bytes"] == 0 and s["large_heap_in_use_bytes"] == chunk_size(200_000)
    # below the new threshold but too big for the heap's top: the heap grows by request + 128 KiB pad
    assert s["large_heap_brk_bytes"] == -(-(chunk_size(200_000) + 128 * KiB + 32) // PAGE) * PAGE
    m.set_malloc_thresholds(MiB)
    assert (m.stats()["mmap_threshold"], m.stats()["trim_threshold"]) == (MiB, 2 * MiB)
    with pytest.raises(GcperfError, match="mmap_threshold"):
        m.set_malloc_thresholds(64 * MiB)


def test_heap_reuses_coalesces_and_trims():
    m = MemoryModel(geometry_for("3.12"), 1)
    rows = objects(m, 0, [10_000] * 100, rows=True)
    s = m.stats()
    brk, resident = s["large_heap_brk_bytes"], s["large_heap_bytes"]
    assert resident >= 100 * chunk_size(10_000)
    # free every other chunk: holes, nothing returned; same-size requests refill the holes
    m.free_rows(rows[::2])
    assert m.stats()["large_heap_bytes"] == s["large_heap_bytes"]
    refill = objects(m, 100, [10_000] * 50, rows=True)
    assert m.stats()["large_heap_brk_bytes"] == brk
    # everything freed: coalesced into the top chunk and trimmed down to the 128 KiB pad
    m.free_rows(rows[1::2])
    m.free_rows(refill)
    s = m.stats()
    assert s["large_heap_in_use_bytes"] == 0
    assert 128 * KiB < s["large_heap_brk_bytes"] <= 128 * KiB + 32 + PAGE
    assert s["large_heap_bytes"] <= s["large_heap_brk_bytes"]
    # a heap whose top is pinned by something else is never trimmed
    pinned = MemoryModel(geometry_for("3.12"), 1)
    pinned.set_malloc_thresholds(128 * KiB, trim_threshold=2**62)
    pinned.free_rows(objects(pinned, 0, [10_000] * 100, rows=True))
    assert (pinned.stats()["large_heap_bytes"], pinned.stats()["large_heap_brk_bytes"]) == (resident, brk)


def test_rows_and_pending_frees():
    m = MemoryModel(geometry_for("3.11"), 3)
    seqs = np.arange(6)
    frees = np.array([2, NEVER, NEVER, 10, NEVER, 7])
    want = np.array([False, True, False, False, True, False])
    sizes = np.array([[40, 0, 0], [40, 600, 0], [40, 0, 0], [40, 0, 0], [8, 8, 8], [40, 0, 0]])
    rows = m.allocate(seqs, frees, sizes, want)
    assert rows[0] == rows[2] == rows[3] == rows[5] == -1 and rows[1] >= 0 and rows[4] >= 0 and rows[1] != rows[4]
    s = m.stats()
    assert (s["blocks_in_use"], s["pending_frees"], s["live_rows"]) == (8, 2, 2)  # object 0 freed before object 3
    m.advance(7)
    assert m.stats()["pending_frees"] == 2  # due strictly before the position
    m.advance(8)
    assert m.stats()["pending_frees"] == 1
    m.free_rows(rows[[4, 1]])
    s = m.stats()
    assert (s["blocks_in_use"], s["live_rows"], s["large_heap_in_use_bytes"]) == (2, 0, chunk_size(16 * 48))
    with pytest.raises(GcperfError, match="not a live row"):
        m.free_rows(rows[[1]])
    with pytest.raises(GcperfError, match="not a live row"):
        m.free_rows(np.array([10**6]))
    m.advance(NEVER)
    assert m.stats()["blocks_in_use"] == 1


def test_ties_are_freed_in_registration_order():
    """Frees due at the same position run in registration order (observable through usedpools)."""
    geo = geometry_for("3.12")
    cap = geo.blocks_per_pool(0)
    m = MemoryModel(geo, 1)
    n = 2 * cap + 1  # pools 0 and 1 full, pool 2 holds one block
    frees = np.full(n, NEVER)
    frees[[3, cap + 3]] = 10**6  # a block of pool 0, then one of pool 1, freed at the same position
    m.allocate(np.arange(n), frees, np.full((n, 1), 16), np.zeros(n, bool))
    assert [pool_of(m, r) for r in objects(m, n, [16], rows=True)] == [2]
    m.advance(10**6 + 1)
    # pool 0 went to the front of usedpools, then pool 1 in front of it
    assert [pool_of(m, r) for r in objects(m, 10**6 + 1, [16, 16, 16], rows=True)] == [1, 0, 2]


@pytest.mark.parametrize("wheel_bits", [1, 2, 14])
def test_ties_across_the_wheel_and_the_heap(wheel_bits):
    """An early registration (gone to the heap or the coarse wheel) is freed before a later one due at the same position."""
    geo = AllocatorGeometry(pool_size=2048, arena_size=8192, usable_pools=4)
    m, ref = MemoryModel(geo, 1, wheel_bits=wheel_bits), RefModel(geo)
    far = 2**29 + 3
    seqs = np.array([0, 1, 2, far - 1, far - 1, far - 1, far - 1])
    frees = np.array([far, NEVER, NEVER, far, NEVER, NEVER, NEVER])
    m.allocate(seqs, frees, np.full((7, 1), 512), np.zeros(7, bool))
    for i in range(7):
        ref.allocate_object(int(seqs[i]), int(frees[i]), [512])
    m.advance(far + 1)
    ref.advance(far + 1)
    snap = model_snapshot(m)
    assert snap == ref_snapshot(ref)
    assert snap["usedpools"][31] == [1, 0, 2]


def test_bad_input_is_rejected():
    m = MemoryModel(geometry_for("3.12"), 2)
    one = np.ones(1, dtype=np.int64)
    with pytest.raises(GcperfError, match="non-decreasing"):
        m.allocate(np.array([3, 2]), np.full(2, NEVER), np.ones((2, 1)), np.zeros(2, bool))
    with pytest.raises(GcperfError, match=">= seqs"):
        m.allocate(np.array([5]), np.array([4]), np.ones((1, 1)), np.zeros(1, bool))
    with pytest.raises(GcperfError, match="both"):
        m.allocate(np.array([5]), np.array([9]), np.ones((1, 1)), np.ones(1, bool))
    with pytest.raises(GcperfError, match="columns"):
        m.allocate(np.array([5]), np.array([9]), np.ones((1, 3)), np.zeros(1, bool))
    with pytest.raises(GcperfError, match="same length"):
        m.allocate(np.array([5, 6]), np.array([9]), np.ones((2, 1)), np.zeros(2, bool))
    with pytest.raises(GcperfError, match=">= 0"):
        m.allocate(np.array([5]), np.array([9]), -one[:, None], np.zeros(1, bool))
    m.allocate(np.array([5]), np.array([9]), np.ones((1, 1)), np.zeros(1, bool))
    with pytest.raises(GcperfError, match="non-decreasing"):
        m.allocate(np.array([4]), np.array([9]), np.ones((1, 1)), np.zeros(1, bool))
    m.advance(3)  # behind the last position: nothing to do
    assert m.stats()["pending_frees"] == 1
    with pytest.raises(GcperfError, match="max_blocks_per_object"):
        MemoryModel(geometry_for("3.12"), 0)


def _churn(model: MemoryModel, rounds: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        seqs = np.arange(r * n, (r + 1) * n, dtype=np.int64)
        life = rng.geometric(0.001, n).astype(np.int64)
        sizes = np.stack([rng.integers(16, 400, n), np.where(rng.random(n) < 0.05, rng.integers(513, 5000, n), 0)], 1)
        model.allocate(seqs, seqs + life, sizes, np.zeros(n, bool))


def test_memory_stays_bounded_under_churn():
    short = MemoryModel(geometry_for("3.12"), 2)
    _churn(short, 3, 100_000, seed=1)
    long = MemoryModel(geometry_for("3.12"), 2)
    _churn(long, 30, 100_000, seed=1)
    # ten times the objects, the same live population: the tables do not grow with the history
    assert long.state_nbytes() <= 2 * short.state_nbytes()
    assert long.stats()["pending_frees"] < 20_000


def test_deterministic_and_independent_of_batching():
    rng = np.random.default_rng(5)
    n = 60_000
    seqs = np.sort(rng.integers(0, 10**9, n)).astype(np.int64)
    frees = seqs + rng.integers(0, 10**8, n)
    frees[rng.random(n) < 0.1] = NEVER
    sizes = np.stack([rng.integers(1, 513, n), np.where(rng.random(n) < 0.1, rng.integers(0, 300_000, n), 0)], 1)
    want = np.zeros(n, bool)
    whole = MemoryModel(geometry_for("3.9"), 2)
    whole.allocate(seqs, frees, sizes, want)
    again = MemoryModel(geometry_for("3.9"), 2)
    again.allocate(seqs, frees, sizes, want)
    parts = MemoryModel(geometry_for("3.9"), 2)
    for lo in range(0, n, 7_777):
        hi = min(n, lo + 7_777)
        parts.allocate(seqs[lo:hi], frees[lo:hi], sizes[lo:hi], want[lo:hi])
        parts.advance(int(seqs[hi - 1]))
    # the stream hands int32 sizes, which go in without conversion
    narrow = MemoryModel(geometry_for("3.9"), 2)
    narrow.allocate(seqs, frees, sizes.astype(np.int32), want)
    assert whole.stats() == again.stats() == parts.stats() == narrow.stats()
    for m in (whole, again, parts, narrow):
        m.advance(NEVER)
    assert whole.stats() == again.stats() == parts.stats() == narrow.stats()
    assert whole.stats()["blocks_in_use"] == int((sizes[frees == NEVER] > 0).sum())


# ============================================================================ against the reference

GEOMETRIES = [
    geometry_for("3.8"),
    geometry_for("3.12"),
    AllocatorGeometry(pool_size=2048, arena_size=4 * 2048, usable_pools=3, keep_one_empty_arena=False,
                      aligned_arena_share=0.5),
    AllocatorGeometry(pool_size=2048, arena_size=4 * 2048, usable_pools=4, keep_one_empty_arena=True),
    AllocatorGeometry(pool_size=1072, arena_size=3 * 1072, usable_pools=2, keep_one_empty_arena=True,
                      aligned_arena_share=0.3),
]

_sizes = st.one_of(
    st.integers(1, 512),
    st.integers(1, 64),
    st.sampled_from([16, 500, 512, 512]),  # few classes: pools fill up and empty often
    st.sampled_from([0, 0, 600, 600, 1040, 1041, 1041, 5000, 5000, 70_000, 200_000, 600_000]),
    st.sampled_from([600, 600, 600, 20_000]),  # runs of one size fill the tcache bin
    st.integers(513, 140_000),
)
# free positions: relative lifetimes (short ones stay in the fine wheel, long ones go to the coarse
# wheel or the heap) and a few shared absolute positions, which objects registered at very
# different times reach through different structures
SHARED_POSITIONS = (50, 2**14 + 3, 2**28 + 5, 2**29 + 2**14)
_lifetime = st.one_of(
    st.integers(0, 40), st.integers(0, 20_000), st.integers(0, 2**29), st.just(None), st.just("row"),
    st.tuples(st.just("at"), st.sampled_from(SHARED_POSITIONS)),
)
_object = st.tuples(st.one_of(st.integers(0, 3), st.integers(0, 2**20)), st.lists(_sizes, min_size=1, max_size=3),
                    _lifetime)
_call = st.one_of(
    st.tuples(st.just("allocate"), st.lists(_object, min_size=1, max_size=60)),
    st.tuples(st.just("advance"), st.one_of(st.integers(0, 100), st.integers(0, 2**30))),
    st.tuples(st.just("free_rows"), st.lists(st.integers(0, 10**6), max_size=8)),
)


@given(geo_index=st.integers(0, len(GEOMETRIES) - 1), calls=st.lists(_call, min_size=1, max_size=12),
       start=st.integers(0, 2**14), wheel_bits=st.sampled_from([1, 2, 3, 14]))
def test_kernels_match_the_reference(geo_index, calls, start, wheel_bits):
    """Same counters, same lists (pools, arenas, chunks, bins) as the reference after every call."""
    geo = GEOMETRIES[geo_index]
    model, ref = MemoryModel(geo, 3, wheel_bits=wheel_bits), RefModel(geo)
    seq = start
    live_rows: list[tuple[int, list]] = []
    for kind, arg in calls:
        if kind == "allocate":
            n = len(arg)
            seqs = np.zeros(n, np.int64)
            frees = np.full(n, NEVER, np.int64)
            want = np.zeros(n, bool)
            sizes = np.zeros((n, 3), np.int64)
            for i, (gap, sz, life) in enumerate(arg):
                seq += gap
                seqs[i] = seq
                sizes[i, : len(sz)] = sz
                if life == "row":
                    want[i] = True
                elif isinstance(life, tuple):
                    frees[i] = max(seq, start + life[1])
                elif life is not None:
                    frees[i] = seq + life
            rows = model.allocate(seqs, frees, sizes, want)
            for i in range(n):
                blocks = ref.allocate_object(int(seqs[i]), int(frees[i]), sizes[i].tolist())
                if want[i]:
                    live_rows.append((int(rows[i]), blocks))
        elif kind == "advance":
            seq += arg
            model.advance(seq)
            ref.advance(seq)
        else:
            picks = sorted({p % len(live_rows) for p in arg}) if live_rows else []
            chosen = [live_rows[p] for p in picks]
            live_rows = [r for p, r in enumerate(live_rows) if p not in picks]
            model.free_rows(np.array([r for r, _ in chosen], dtype=np.int64))
            for _, blocks in chosen:
                ref.free_blocks(blocks)
        got, want_stats = model.stats(), ref.stats()
        assert {k: got[k] for k in want_stats} == want_stats
        assert model_snapshot(model) == ref_snapshot(ref)
    model.advance(NEVER)
    ref.advance(NEVER)
    assert {k: v for k, v in model.stats().items() if k in ref.stats()} == ref.stats()


def test_a_ring_bucket_starting_at_an_object_is_taken_up_there():
    """A ring bucket reached exactly by an object's position becomes current there, before that
    object registers a free in the same bucket (the fine wheel): its records come first."""
    geo = GEOMETRIES[3]  # 3 blocks of 512 bytes per pool
    # A (freed at 1005, in the ring: bucket 251 of 4 positions) and two others fill pool 0; at
    # 1004, the start of bucket 251, B (freed at 1006, the fine wheel) and two others fill pool 1
    seqs = np.array([1000, 1000, 1000, 1004, 1004, 1004, 1006, 1007])
    frees = np.array([1005, NEVER, NEVER, 1006, NEVER, NEVER, NEVER, NEVER])
    sizes = np.full((8, 1), 512)
    want = np.zeros(8, bool)
    whole, single = MemoryModel(geo, 1, wheel_bits=2), MemoryModel(geo, 1, wheel_bits=2)
    ref = RefModel(geo)
    whole.allocate(seqs, frees, sizes, want)
    for i in range(8):
        single.allocate(seqs[i:i + 1], frees[i:i + 1], sizes[i:i + 1], want[i:i + 1])
        ref.allocate_object(int(seqs[i]), int(frees[i]), [512])
    # A is freed before the object at 1006, which takes its slot in pool 0, and B before the one
    # at 1007 (pool 1): no third pool
    assert model_snapshot(whole) == model_snapshot(single) == ref_snapshot(ref)
    assert whole.stats()["pools_in_use"] == 2


_batch_object = st.tuples(
    st.sampled_from([0, 1, 1, 2, 3, 4, 8]),  # gaps: with tiny wheels, objects land on bucket starts
    # mostly blocks of 512 bytes, whose pools (2 to 4 blocks) fill and empty all the time
    st.lists(st.sampled_from([512, 512, 512, 496, 16, 600, 1041, 5000, 0]), min_size=1, max_size=3),
    st.one_of(st.integers(0, 8), st.integers(0, 8), st.integers(0, 80), st.integers(0, 5000), st.just(None),
              st.just("row")),
)


@given(geo_index=st.integers(0, len(GEOMETRIES) - 1), objs=st.lists(_batch_object, min_size=1, max_size=150),
       wheel_bits=st.sampled_from([1, 2, 3]), split=st.integers(1, 7))
def test_batches_change_nothing(geo_index, objs, wheel_bits, split):
    """The kernel skips its walk of the pending frees while nothing can be due: feeding the same
    objects in one batch, object by object, or in batches of ``split`` gives the same lists."""
    geo = GEOMETRIES[geo_index]
    n = len(objs)
    seqs = np.cumsum([gap for gap, _, _ in objs]).astype(np.int64) + 1000
    frees = np.array([NEVER if life in (None, "row") else seqs[i] + life for i, (_, _, life) in enumerate(objs)],
                     dtype=np.int64)
    want = np.array([life == "row" for _, _, life in objs])
    sizes = np.zeros((n, 3), np.int64)
    for i, (_, sz, _) in enumerate(objs):
        sizes[i, : len(sz)] = sz
    models = [MemoryModel(geo, 3, wheel_bits=wheel_bits) for _ in range(3)]
    rows = [models[0].allocate(seqs, frees, sizes, want)]
    rows.append(np.concatenate([models[1].allocate(seqs[i:i + 1], frees[i:i + 1], sizes[i:i + 1], want[i:i + 1])
                                for i in range(n)]))
    rows.append(np.concatenate([models[2].allocate(seqs[i:i + split], frees[i:i + split], sizes[i:i + split],
                                                   want[i:i + split]) for i in range(0, n, split)]))
    assert (rows[0] == rows[1]).all() and (rows[0] == rows[2]).all()
    snaps = [(model_snapshot(m), m.stats()) for m in models]
    assert snaps[0] == snaps[1] == snaps[2]
    for m in models:
        m.advance(NEVER)
    snaps = [(model_snapshot(m), m.stats()) for m in models]
    assert snaps[0] == snaps[1] == snaps[2]


# ============================================================================ real interpreters

# Runs in the interpreter under test. stdin: lines "L <json lengths>", "P a|f", "I <json indices>".
# Phase "a" creates keep[i] = b"x" * lengths[i] for its indices in order, "f" sets keep[i] = None.
# Before the measured region every partly used pool and every free pool is filled (so the pattern,
# like the model, starts with nothing to reuse but possibly one wholly empty arena kept by 3.9+), and
# glibc's mmap threshold is set to 1 MiB. Inside it, nothing allocates but the pattern: containers
# exist beforehand, loops count with cached small ints, sys._debugmallocstats() writes to a file
# (fd 2) and /proc/self/statm is read into preallocated buffers by FileIO.readinto (os.readv would
# allocate its iovec array: with every pool full, that maps an arena).
HARNESS = r'''
import ctypes, gc, json, os, re, sys, tempfile

CLASS = re.compile(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
ARENAS = re.compile(r"^# arenas (allocated total|reclaimed|highwater mark|allocated current)\s+=\s+([\d,]+)")
UNUSED = re.compile(r"^(\d+) unused pools \* (\d+) bytes")
ALIGN = re.compile(r"^# bytes lost to arena alignment\s+=\s+([\d,]+)")


def read_dumps(fd):
    size = os.lseek(fd, 0, 2)
    os.lseek(fd, 0, 0)
    data = b""
    while len(data) < size:
        data += os.read(fd, size - len(data))
    return data.decode().split("Small block threshold")[1:]


def parse(dump):
    res = {"avail": [0] * 32, "pools": [0] * 32, "unused_pools": 0, "alignment_bytes": 0}
    for line in dump.splitlines():
        m = CLASS.match(line)
        if m:
            c, size, npools, used, avail = map(int, m.groups())
            res["avail"][c] = avail
            res["pools"][c] = npools
            continue
        m = ARENAS.match(line)
        if m:
            res[m.group(1).replace(" ", "_")] = int(m.group(2).replace(",", ""))
            continue
        m = UNUSED.match(line)
        if m:
            res["unused_pools"] = int(m.group(1))
            res["pool_size"] = int(m.group(2))
            continue
        m = ALIGN.match(line)
        if m:
            res["alignment_bytes"] = int(m.group(1).replace(",", ""))
    return res


def plan_fill(fd, plan):
    # plan[2c], plan[2c+1]: blocks of class c to allocate, as hi * 256 + lo (small ints only)
    d = parse(read_dumps(fd)[-1])
    need = d["avail"][:]
    if d["unused_pools"]:
        need[31] += d["unused_pools"] * ((d["pool_size"] - 48) // 512)
    for c in range(32):
        plan[2 * c] = need[c] // 256
        plan[2 * c + 1] = need[c] % 256
    plan[64] = 0 if any(need) else 1


def fill(plan, filler, pos, lens, thousand):
    c = 0
    while c < 32:
        hi = plan[2 * c]
        lo = plan[2 * c + 1]
        a = 0
        while a <= hi:
            stop = 256 if a < hi else lo
            b = 0
            while b < stop:
                if c == 0:
                    obj = object()
                elif c == 1:
                    obj = thousand + b  # a fresh one-digit int: 28 bytes
                else:
                    obj = b"y" * lens[c]
                filler[pos[0]][pos[1]] = obj
                obj = None
                pos[1] += 1
                if pos[1] == 256:
                    pos[1] = 0
                    pos[0] += 1
                b += 1
            a += 1
        c += 1


def set_mmap_threshold():
    # freeing an mmapped chunk of exactly 1 MiB sets glibc's threshold to 1 MiB unless it was
    # higher already (then the chunk comes from the heap: mallinfo2's mmapped bytes tell)
    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]
    try:
        info = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return False
    info.restype = MallInfo2
    before = info().hblkhd
    probe = bytes((1 << 20) - 24 - 33)
    mapped = info().hblkhd - before
    del probe
    return mapped == 1 << 20


def main():
    gc.disable()
    lengths, phases = [], []
    for line in sys.stdin:
        tag, _, data = line.partition(" ")
        if tag == "L":
            lengths.extend(json.loads(data))
        elif tag == "P":
            phases.append([data[0], []])
        else:
            phases[-1][1].extend(json.loads(data))
    threshold_set = set_mmap_threshold()
    pat = b"x"
    keep = [None] * len(lengths)
    kinds = [ph[0] == "a" for ph in phases]
    iters = [iter(ph[1]) for ph in phases]
    bufs = [bytearray(512) for _ in range(len(phases) + 1)]
    statm = open("/proc/self/statm", "rb", buffering=0)
    seek = statm.seek
    readinto = statm.readinto
    tmpf = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(tmpf.fileno(), 2)
    dumpfd = tmpf.fileno()
    plan = [0] * 65
    filler = [[None] * 256 for _ in range(256)]
    pos = [0, 0]
    lens = [16 * (c + 1) - 33 for c in range(32)]
    thousand = 1000
    stats = sys._debugmallocstats
    stats()
    plan_fill(dumpfd, plan)
    fill([0] * 65, filler, pos, lens, thousand)  # warm-up: caches, code paths
    gc.collect()
    rounds = 0
    while rounds < 10:
        stats()
        plan_fill(dumpfd, plan)
        if plan[64]:
            break
        fill(plan, filler, pos, lens, thousand)
        rounds += 1
    # ---- measured region
    stats()
    seek(0)
    readinto(bufs[0])
    p = 0
    nph = len(kinds)
    while p < nph:
        it = iters[p]
        if kinds[p]:
            for i in it:
                keep[i] = pat * lengths[i]
        else:
            for i in it:
                keep[i] = None
        stats()
        seek(0)
        p += 1
        readinto(bufs[p])
    # ---- end of measured region
    os.dup2(saved, 2)
    sizes = {str(n): sys.getsizeof(pat * n) for n in set(lengths)}
    dumps = read_dumps(dumpfd)
    print(json.dumps({
        "version": sys.version.split()[0],
        "getsizeof": sizes,
        "clean": plan[64],
        "mmap_threshold_1mib": threshold_set,
        "checkpoints": [parse(d) for d in dumps[-(nph + 1):]],
        "rss_pages": [int(bytes(b).split(b"\0")[0].split()[1]) for b in bufs],
        "page_size": os.sysconf("SC_PAGE_SIZE"),
    }))


main()
'''


def _pattern_survivors(rng, n: int, k: int):
    """(a) many small objects of mixed sizes, then all but every k-th freed."""
    lengths = rng.integers(2, 480, n).tolist()
    return lengths, [["a", list(range(n))], ["f", [i for i in range(n) if i % k]]]


def _pattern_waves(rng, waves: int, per_wave: int, keep: float, max_len: int = 200):
    """(b) allocation waves, each followed by freeing a random share of everything alive."""
    lengths = rng.integers(2, max_len, waves * per_wave).tolist()
    phases, live = [], []
    for w in range(waves):
        new = list(range(w * per_wave, (w + 1) * per_wave))
        phases.append(["a", new])
        live += new
        rng.shuffle(live)
        cut = int(len(live) * keep)
        phases.append(["f", live[cut:]])
        live = live[:cut]
    return lengths, phases


def _pattern_churn(rng, rounds: int, n: int):
    """(c) allocate n, free all, several times: arenas go back to the system."""
    lengths = rng.integers(2, 300, rounds * n).tolist()
    phases = []
    for r in range(rounds):
        idx = list(range(r * n, (r + 1) * n))
        phases += [["a", idx], ["f", idx]]
    return lengths, phases


def _pattern_large(rng, n: int):
    """(d) objects above 512 bytes: brk heap, mmap, and the threshold rising after frees."""
    choices = [600, 1000, 2000, 5000, 20_000, 100_000, 400_000, 1_500_000, 3_000_000]
    lengths = rng.choice(choices, n, p=[.35, .25, .15, .1, .08, .04, .02, .006, .004]).tolist()
    first, second = list(range(n // 2)), list(range(n // 2, n))
    rng.shuffle(first)
    rest = first[n // 4:] + second
    rng.shuffle(rest)
    return lengths, [["a", list(range(n // 2))], ["f", first[: n // 4]], ["a", second], ["f", rest[: n // 2]]]


def _pattern_heap_waves(rng, waves: int, per_wave: int):
    """(e) heap-sized objects (500 B .. 200 KB) in waves with random survivors, then all freed."""
    lengths, phases = _pattern_waves(rng, waves, per_wave, 1 / 3)
    lengths = np.exp(rng.uniform(np.log(500), np.log(200_000), len(lengths))).astype(int).tolist()
    alive = set()
    for kind, idx in phases:
        alive = alive | set(idx) if kind == "a" else alive - set(idx)
    return lengths, phases + [["f", sorted(alive)]]


PATTERNS = {
    "survivors-k2": lambda rng: _pattern_survivors(rng, 150_000, 2),
    "survivors-k10": lambda rng: _pattern_survivors(rng, 150_000, 10),
    "survivors-k100": lambda rng: _pattern_survivors(rng, 150_000, 100),
    "waves": lambda rng: _pattern_waves(rng, 8, 40_000, 0.2),
    "churn": lambda rng: _pattern_churn(rng, 3, 60_000),
    "large": lambda rng: _pattern_large(rng, 3_000),
    "heap-waves": lambda rng: _pattern_heap_waves(rng, 6, 2_000),
}


def _encode(lengths, phases) -> str:
    # short lines, so that the interpreter never frees a large temporary while reading
    # (that would raise glibc's mmap threshold before the measurement)
    lines = [f"L {json.dumps(lengths[i:i + 4000])}" for i in range(0, len(lengths), 4000)]
    for kind, idx in phases:
        lines.append(f"P {kind}")
        lines += [f"I {json.dumps(idx[i:i + 4000])}" for i in range(0, len(idx), 4000)]
    return "\n".join(lines) + "\n"


def run_pattern(minor: str, lengths, phases) -> dict:
    found = find_interpreter(minor)
    assert found is not None
    proc = subprocess.run([found[0], "-I", "-c", HARNESS], input=_encode(lengths, phases), capture_output=True,
                          text=True, timeout=600)
    if proc.returncode:
        raise AssertionError(f"{found[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def replay(geometry: AllocatorGeometry, real: dict, lengths, phases) -> list[dict]:
    """The model's stats after each phase of the same sequence, with the interpreter's object sizes."""
    sizeof = {int(k): v for k, v in real["getsizeof"].items()}
    before = real["checkpoints"][0]
    mine = before["allocated_current"] - (1 if before["unused_pools"] else 0)
    slots = 16
    while slots < max(before["allocated_current"], before["highwater_mark"]):
        slots *= 2
    model = MemoryModel(geometry, 1, interpreter_arenas=mine, arena_slots=slots)
    if real["mmap_threshold_1mib"]:
        model.set_malloc_thresholds(MiB)
    alloc_at, free_at, ends, pos = {}, {}, [], 0
    for kind, idx in phases:
        for i in idx:
            (alloc_at if kind == "a" else free_at)[i] = pos
            pos += 1
        ends.append(pos)
    out = []
    for (kind, idx), end in zip(phases, ends, strict=True):
        if kind == "a":
            model.allocate(np.array([alloc_at[i] for i in idx], np.int64),
                           np.array([free_at.get(i, NEVER) for i in idx], np.int64),
                           np.array([sizeof[lengths[i]] for i in idx], np.int64)[:, None], np.zeros(len(idx), bool))
        model.advance(end)
        out.append(model.stats())
    return out


def compare(minor: str, real: dict, lengths, phases) -> list[dict]:
    """One row per phase: arenas of the pattern (real, model) and resident growth (real, model).

    ``arenas_all_aligned`` is the model's count if every arena had all its pools (64 from 3.10,
    which a 16 KiB-aligned mmap address gives): the real count lies between the two.
    """
    geo = geometry_for(minor)
    sim = replay(geo, real, lengths, phases)
    aligned = replay(replace(geo, aligned_arena_share=1.0), real, lengths, phases)
    before = real["checkpoints"][0]
    # 3.9+ keeps the arena the harness's own temporaries used last: wholly empty, ready for the pattern
    kept = 1 if before["unused_pools"] else 0
    base = before["allocated_current"] - kept
    rows = []
    for j, s in enumerate(sim, start=1):
        cp = real["checkpoints"][j]
        rows.append({
            "phase": j,
            "arenas_real": cp["allocated_current"] - base,
            "arenas_model": max(s["arenas_mapped"], kept),
            "arenas_all_aligned": max(aligned[j - 1]["arenas_mapped"], kept),
            "rss_real": (real["rss_pages"][j] - real["rss_pages"][0]) * real["page_size"],
            "rss_model": s["footprint_bytes"],
        })
    return rows


@pytest.mark.parametrize("minor", interpreter_params(pymalloc=True))
@pytest.mark.parametrize("pattern", ["survivors-k10", "survivors-k100", "waves", "churn", "large", "heap-waves"])
def test_real_interpreter_arenas_and_rss(minor, pattern):
    rng = np.random.default_rng(7)
    lengths, phases = PATTERNS[pattern](rng)
    real = run_pattern(minor, lengths, phases)
    if minor == "3.14" and not real["clean"]:
        # found 2026-12-04 with a 3.14.7 built here: on 3.14 the filling rounds never leave every
        # pool full, so the phase-by-phase comparison has no clean start (the whole-program memory
        # tests in test_memory.py do pass on it); not investigated yet
        pytest.xfail("3.14: the harness cannot fill the interpreter's partly used pools (open)")
    assert real["clean"], "the harness could not fill the interpreter's partly used pools"
    rows = compare(minor, real, lengths, phases)
    for r in rows:
        print(f"{minor} {pattern} phase {r['phase']}: arenas {r['arenas_real']} real / {r['arenas_model']} model, "
              f"RSS +{r['rss_real'] / MiB:.2f} / +{r['rss_model'] / MiB:.2f} MiB")
    large_objects = max(lengths) > 512 - 33
    lottery = geometry_for(minor).usable_pools < geometry_for(minor).max_pools
    for r in rows:
        # exact, up to the alignment lottery of 3.10+: an arena has 64 pools, not 63, when mmap
        # happens to return a 16 KiB-aligned address (all arenas of about one process in four)
        assert r["arenas_all_aligned"] <= r["arenas_real"] <= r["arenas_model"], r
        assert r["arenas_real"] == r["arenas_model"] or (lottery and r["arenas_model"] - r["arenas_real"]
                                                         <= max(1, 0.05 * r["arenas_real"])), r
        if large_objects and not real["mmap_threshold_1mib"]:
            continue
        assert abs(r["rss_model"] - r["rss_real"]) <= max(0.10 * r["rss_real"], 256 * KiB), r


@pytest.mark.slow
@pytest.mark.parametrize("minor", interpreter_params(pymalloc=True))
def test_real_interpreter_all_patterns_summary(minor):
    """Every pattern, with a one-line summary per pattern (the figures of docs/allocator.md)."""
    for name, make in PATTERNS.items():
        rng = np.random.default_rng(7)
        lengths, phases = make(rng)
        real = run_pattern(minor, lengths, phases)
        rows = compare(minor, real, lengths, phases)
        exact = sum(r["arenas_real"] == r["arenas_model"] for r in rows)
        aligned = sum(r["arenas_real"] == r["arenas_all_aligned"] != r["arenas_model"] for r in rows)
        worst_arenas = max(abs(r["arenas_model"] - r["arenas_real"]) / max(r["arenas_real"], 1) for r in rows)
        worst_rss = max(abs(r["rss_model"] - r["rss_real"]) / max(r["rss_real"], 1) for r in rows
                        if r["rss_real"] > MiB)
        peak = max(rows, key=lambda r: r["arenas_real"])
        print(f"{minor} {name:15s} arenas exact {exact}/{len(rows)} (+{aligned} = all-64-pools model), worst "
              f"{worst_arenas:.1%}; peak arenas {peak['arenas_real']}/{peak['arenas_model']}; RSS worst {worst_rss:.2%} (phases > 1 MiB)")
        assert all(r["arenas_all_aligned"] <= r["arenas_real"] <= r["arenas_model"] for r in rows)


# ============================================================================ speed


def speed_report(n: int = 4_000_000, batch: int = 100_000, version: str = "3.12", seed: int = 0) -> dict:
    """Allocation and free events per second for a churn of ``n`` objects with mixed lifetimes."""
    rng = np.random.default_rng(seed)
    seqs = np.arange(n, dtype=np.int64)
    kind = rng.random(n)
    life = np.where(kind < 0.6, 0, np.where(kind < 0.9, rng.exponential(1_000, n), rng.exponential(200_000, n)))
    frees = seqs + life.astype(np.int64)
    frees[kind > 0.98] = NEVER
    sizes = np.zeros((n, 2), np.int64)
    sizes[:, 0] = rng.choice([32, 48, 56, 64, 72, 104, 120, 200, 232, 360], n)
    big = rng.random(n) < 0.05
    sizes[big, 1] = rng.choice([600, 1200, 5000, 40_000, 300_000], int(big.sum()), p=[.5, .3, .15, .049, .001])
    want = np.zeros(n, bool)
    t0 = time.perf_counter()
    model = MemoryModel(geometry_for(version), 2)
    model.allocate(seqs[:1], frees[:1], sizes[:1], want[:1])  # compile or load the kernels
    t1 = time.perf_counter()
    for lo in range(1, n, batch):
        model.allocate(seqs[lo:lo + batch], frees[lo:lo + batch], sizes[lo:lo + batch], want[lo:lo + batch])
    model.advance(NEVER)
    t2 = time.perf_counter()
    allocations = int((sizes > 0).sum())
    frees_done = int(((sizes > 0) & (frees[:, None] != NEVER)).sum())
    return {"objects": n, "events": allocations + frees_done, "seconds": t2 - t1, "first_call_s": t1 - t0,
            "events_per_s": (allocations + frees_done) / (t2 - t1), "objects_per_s": n / (t2 - t1),
            "peak_arenas": model.stats()["peak_arenas"]}


@pytest.mark.slow
def test_speed_report():
    for version in ("3.8", "3.12"):
        r = speed_report(version=version)
        print(f"{version}: {r['events'] / 1e6:.1f} M events ({r['objects'] / 1e6:.1f} M objects) in "
              f"{r['seconds']:.2f} s: {r['events_per_s'] / 1e6:.1f} M events/s; first call {r['first_call_s']:.2f} s")
        assert r["events_per_s"] > 0


if __name__ == "__main__":
    for v in ("3.8", "3.12"):
        print(v, speed_report(version=v))
