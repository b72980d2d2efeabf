"""The compiled kernels (the memory model's, and the workload's size and lifetime draws): compiled (or
loaded from numba's cache) once per process, and said so.

The first run on a machine compiles the allocator's kernels: 11.4 s in a fresh install on the
2-core VM with the other core idle (2026-12-04), 18-22 s with it busy; later runs load them
from numba's on-disk cache in about a second. The package ships those cache files, built ahead of
time for one machine type (``_kernel_cache/manifest.json``): :func:`seed_cache` puts them where
numba looks, so that on such a machine even the first run loads them (3.7 s to the first result
of ``gcperf run`` in a fresh venv on 2026-12-05, against about 16 s compiling).
:func:`ensure_kernels` does that work up front, and when it takes longer than
:data:`ANNOUNCE_AFTER_S` it says so through the ``gcperf`` logger (a WARNING, which
Python prints to stderr even when the caller configured no logging), so a run
from the Python API is not silent for half a minute either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger("gcperf")

PACKAGE = Path(__file__).resolve().parent.parent
SHIPPED = PACKAGE / "_kernel_cache"  # numba's cache files of the kernels, built ahead of time

ANNOUNCE_AFTER_S = 2.0
_ready = False
_lock = threading.Lock()


def _warm_up(version: str) -> None:
    import numpy as np

    from ..memory import MemoryModel, geometry_for
    from ..workload.model import Phase
    from ..workload.stream import _SizeTable

    m = MemoryModel(geometry_for(version.rstrip("t")))  # a free-threaded build: its minor's geometry
    one = np.zeros(1, dtype=np.int64)
    m.allocate(one, one + 1, np.array([[64, 0, 0, 0]], dtype=np.int32), np.zeros(1, dtype=bool))  # the stream's sizes
    m.advance(2)
    m.stats()
    _SizeTable(Phase()).draw(np.random.default_rng(0), 1)  # the size draw kernel
    # the lifetime draw kernel (drawkernel.py; every statistical run uses it)
    from ..workload.model import Lifetime, Workload
    from ..workload.stream import StatisticalStream

    lts = (Lifetime("now", 0.5, "immediate"), Lifetime("later", 0.5, "exponential", 0.01))
    wl = Workload("warm-up", phases=(Phase("p", duration_s=0.01, alloc_rate_per_s=1000.0, lifetimes=lts),))
    next(iter(StatisticalStream(wl, np.random.default_rng(0)).chunks()))


def _groups(folder: Path) -> dict[str, list[Path]]:
    """numba's cache files in ``folder`` by function: ``model._run4-676.py311`` -> its index and data files."""
    out: dict[str, list[Path]] = {}
    for f in folder.glob("*.nb[ic]"):
        stem = f.name[:-4]
        base = stem if f.suffix == ".nbi" else stem.rsplit(".", 1)[0]
        out.setdefault(base, []).append(f)
    return out


def seed_cache() -> int:
    """Put the kernel caches shipped with the package where numba looks for them; return how many
    functions were seeded.

    numba keeps a ``cache=True`` function's compiled code next to its source (``__pycache__``),
    keyed by the source's content, the numba version and the CPU; the package ships those files for
    the machine they were built on (``_kernel_cache/manifest.json``). A function is seeded only when
    numba has none of its files there yet, each file created (never replaced) from a temporary
    one, so nothing numba or anyone else wrote is overwritten. Where they do not apply (another CPU,
    another numba, a changed source) numba ignores them and compiles as before; where the package is
    read-only, or ``NUMBA_CACHE_DIR`` sends numba's caches elsewhere, nothing is seeded.
    """
    if os.environ.get("NUMBA_CACHE_DIR") or not SHIPPED.is_dir():
        return 0
    seeded = 0
    for shipped_dir in sorted(p for p in SHIPPED.iterdir() if p.is_dir()):
        target = PACKAGE / shipped_dir.name / "__pycache__"
        present = _groups(target) if target.is_dir() else {}
        for base, files in sorted(_groups(shipped_dir).items()):
            if base in present:
                continue
            try:
                target.mkdir(exist_ok=True)
                for f in files:
                    tmp = target / f".{f.name}.{os.getpid()}.tmp"
                    try:  # (the temporary file goes even when interrupted)
                        tmp.write_bytes(f.read_bytes())
                        os.link(tmp, target / f.name)  # fails rather than replace a file that appeared
                    finally:
                        tmp.unlink(missing_ok=True)
            except OSError:
                return seeded
            seeded += 1
    return seeded


_seeded = False


def seed_once() -> None:
    """:func:`seed_cache`, once per process, for every run (:func:`ensure_kernels` calls it too): a
    run without the memory model still draws its workload with a compiled kernel
    (``workload/drawkernel.py``), which loads from the shipped files where they apply (~0.4 s)
    instead of compiling (~3 s)."""
    global _seeded
    if not _seeded:
        _seeded = True
        seed_cache()


def build_cache(version: str = "3.13") -> Path:
    """Compile the kernels a default run needs into a fresh numba cache (a subprocess) and put its
    files in the package's ``_kernel_cache`` with a manifest (numba, Python, CPU, the sources'
    SHA-256). For the developers, after a
    change to a kernel's module: ``python -c "from gcperf.engine.kernels import build_cache; build_cache()"``
    (tests/test_kernel_cache.py says when the shipped files are stale)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    import llvmlite.binding as ll
    import numba

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": tmp}
        code = f"from gcperf.engine.kernels import _warm_up; _warm_up({version!r})"
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=str(PACKAGE.parent))
        built: dict[str, Path] = {}
        for sub in sorted(p for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            # numba's user-provided cache layout: <folder name>_<sha1 of the folder's absolute path>
            cached = Path(tmp) / f"{sub.name}_{hashlib.sha1(str(sub).encode()).hexdigest()}"
            if cached.is_dir() and any(cached.glob("*.nbi")):
                built[sub.name] = cached
        if SHIPPED.is_dir():
            shutil.rmtree(SHIPPED)  # (the files this function wrote the last time)
        SHIPPED.mkdir()
        sources: set[str] = set()
        for name, cached in built.items():
            (SHIPPED / name).mkdir()
            for f in sorted(cached.glob("*.nb[ic]")):
                shutil.copyfile(f, SHIPPED / name / f.name)
                sources.add(f"{name}/{f.name.split('.', 1)[0]}.py")
    manifest = {"numba": numba.__version__, "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
                "cpu": ll.get_host_cpu_name(), "version_warmed": version,
                "sources": {rel: hashlib.sha256((PACKAGE / rel).read_bytes()).hexdigest() for rel in sorted(sources)}}
    (SHIPPED / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return SHIPPED


def ensure_kernels(version: str = "3.13") -> float:
    """Compile or load the memory model's kernels if this process has not yet; return the seconds it took.

    Logs a warning naming the compilation when it takes more than
    :data:`ANNOUNCE_AFTER_S` (the first run on a machine), before it ends.

    Raises:
        Exception: whatever the compilation raised (a broken numba installation).
    """
    global _ready
    with _lock:
        if _ready:
            return 0.0
        errors: list[BaseException] = []

        def work() -> None:
            try:
                _warm_up(version)
            except BaseException as e:  # handed to the caller's thread
                errors.append(e)

        t0 = time.perf_counter()
        seed_once()
        worker = threading.Thread(target=work, name="gcperf-kernels", daemon=True)
        worker.start()
        worker.join(ANNOUNCE_AFTER_S)
        if worker.is_alive():
            log.warning("gcperf: compiling the memory model's kernels (10-25 s, once: later runs load them from "
                        "numba's cache)")
            worker.join()
        if errors:
            raise errors[0]
        _ready = True
        elapsed = time.perf_counter() - t0
        if elapsed > ANNOUNCE_AFTER_S:
            log.info("kernels ready after %.1f s", elapsed)
        return elapsed

