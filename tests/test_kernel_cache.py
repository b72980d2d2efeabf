"""The memory model's kernels ship compiled (numba's cache files, ``gcperf/_kernel_cache``): a fresh
install loads them instead of compiling for ~12 s, on the machine type they were built for."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from gcperf.engine import kernels

MANIFEST = kernels.SHIPPED / "manifest.json"


def _manifest() -> dict:
    if not MANIFEST.exists():
        pytest.fail("gcperf/_kernel_cache/manifest.json is missing: build_cache() was not run")
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_the_shipped_kernel_caches_are_built_from_the_current_sources():
    """numba keys a cache on its source's content: a kernel module changed without
    ``build_cache()`` ships files that every install ignores (and compiles again)."""
    sources = _manifest()["sources"]
    assert {"memory/model.py", "memory/pymalloc.py", "memory/glibc.py"} <= set(sources)
    for rel, digest in sources.items():
        assert hashlib.sha256((kernels.PACKAGE / rel).read_bytes()).hexdigest() == digest, (
            f"gcperf/{rel} changed since the kernel caches were built: run "
            "python -c 'from gcperf.engine.kernels import build_cache; build_cache()'")


def _same_machine_type() -> str | None:
    import llvmlite.binding as ll
    import numba

    m = _manifest()
    here = {"numba": numba.__version__, "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
            "cpu": ll.get_host_cpu_name()}
    diff = {k: (m[k], v) for k, v in here.items() if m[k] != v}
    return None if not diff else f"the shipped caches were built for another machine type: {diff}"


@pytest.mark.long  # a subprocess that loads the kernels (~3 s)
def test_a_fresh_copy_of_the_package_loads_the_shipped_kernels_without_compiling(tmp_path):
    """A copy of the package with no numba cache of its own seeds the shipped files and runs the
    warm-up with no cache miss in any kernel (numba's own count), where the CPU, numba and Python
    are those the files were built for."""
    reason = _same_machine_type()
    if reason:
        pytest.skip(reason)
    shutil.copytree(kernels.PACKAGE, tmp_path / "gcperf", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import json\n"
        "from gcperf.engine import kernels\n"
        "seeded = kernels.seed_cache()\n"
        "kernels.ensure_kernels('3.13')\n"
        "from gcperf.memory import glibc, model, pymalloc\n"
        "from gcperf.workload import sizedraw\n"
        "from numba.core.registry import CPUDispatcher\n"
        "ds = [v for mod in (glibc, model, pymalloc, sizedraw) for v in vars(mod).values()\n"
        "      if isinstance(v, CPUDispatcher) and v.signatures]\n"
        "print(json.dumps({'seeded': seeded, 'compiled': len(ds), 'from': kernels.PACKAGE.as_posix(),\n"
        "                  'misses': sum(sum(d.stats.cache_misses.values()) for d in ds),\n"
        "                  'hits': sum(sum(d.stats.cache_hits.values()) for d in ds)}))\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.splitlines()[-1])
    assert r["from"] == (tmp_path / "gcperf").resolve().as_posix()
    assert r["seeded"] >= 10, r
    assert r["misses"] == 0 and r["hits"] >= r["compiled"] >= 2, r


def test_seeding_creates_what_numba_lacks_and_replaces_nothing(tmp_path, monkeypatch):
    """A function numba already has files for (any of them) is left alone; the others are seeded;
    a second seeding finds nothing to do. Nothing happens where NUMBA_CACHE_DIR sends numba's
    caches elsewhere."""
    pkg = tmp_path / "gcperf"
    shutil.copytree(kernels.SHIPPED, pkg / "_kernel_cache")
    for d in (pkg / "_kernel_cache").iterdir():
        if d.is_dir():
            (pkg / d.name).mkdir()  # the package's folders (their __pycache__ is numba's)
    monkeypatch.setattr(kernels, "PACKAGE", pkg)
    monkeypatch.setattr(kernels, "SHIPPED", pkg / "_kernel_cache")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    groups = kernels._groups(pkg / "_kernel_cache" / "memory")
    mine = sorted(groups)[0]
    target = pkg / "memory" / "__pycache__"
    target.mkdir()
    theirs = target / f"{mine}.nbi"
    theirs.write_bytes(b"numba's own")
    total = sum(len(kernels._groups(d)) for d in (pkg / "_kernel_cache").iterdir() if d.is_dir())
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert kernels.seed_cache() == 0
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert kernels.seed_cache() == total - 1
    assert theirs.read_bytes() == b"numba's own"
    assert not any(f.name.startswith(mine) and f != theirs for f in target.iterdir())
    for base, files in groups.items():
        if base != mine:
            for f in files:
                assert (target / f.name).read_bytes() == f.read_bytes()
    assert not list(target.glob("*.tmp"))
    assert kernels.seed_cache() == 0
