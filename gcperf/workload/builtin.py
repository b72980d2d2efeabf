"""Built-in workloads that resemble real programs.

The figures are order-of-magnitude descriptions, not measurements of a specific
program (calibrating workloads from a recorded run is planned work). What they
encode, and why:

* ``web``: a request/response service (Django/Flask-like). Start-up imports
  modules and fills caches: a few hundred thousand long-lived objects. Serving,
  most containers are temporaries freed at once; about 30 % live for the
  request (a few ms of CPU); a small share enters caches with a TTL of a minute
  or leaks for good. A little cyclic garbage (exceptions with tracebacks, objects
  with back-references).
* ``batch``: a tool that builds a big long-lived heap, such as a type checker or
  a documentation builder: millions of objects kept until exit, so full
  collections get expensive and the 25 % rule decides how often they run.
Every container also holds about one non-GC allocation that lives and dies with
it (its ints and strings, its item array or table): ``payload_per_object``.

* ``cycles``: a workload heavy in reference cycles (trees with parent pointers,
  graphs, closures referencing themselves): a third of the objects that die
  die as cyclic garbage, which waits for the collector.
"""

from __future__ import annotations

from ..errors import GcperfError
from .model import Lifetime, Phase, SizeMix, Workload

_WEB = Workload(
    name="web",
    description="request handler service: start-up heap, then requests with temporaries, request-scoped objects and a cache",
    refs_per_object=3.0,
    phases=(
        Phase(
            name="startup",
            duration_s=1.0,
            alloc_rate_per_s=1.5e6,
            lifetimes=(
                Lifetime("temporary", 0.70, "immediate"),
                Lifetime("import-time", 0.10, "exponential", 0.05),
                Lifetime("module-level", 0.20, "forever"),
            ),
            cyclic_share=0.02,
            atomic_tuple_share=0.10,
            untracked_share=0.05,
            payload_per_object=1.5,
        ),
        Phase(
            name="serve",
            duration_s=30.0,
            alloc_rate_per_s=2e6,
            lifetimes=(
                Lifetime("temporary", 0.70, "immediate"),
                Lifetime("request", 0.2975, "lognormal", 0.005, 1.0),
                Lifetime("cache", 0.002, "exponential", 60.0),
                Lifetime("leak", 0.0005, "forever"),
            ),
            cyclic_share=0.005,
            atomic_tuple_share=0.10,
            untracked_share=0.05,
            sizes=SizeMix((48, 56, 64, 72, 88, 104, 232, 640), (0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.07, 0.03)),
            payload_per_object=1.0,
        ),
    ),
)

_BATCH = Workload(
    name="batch",
    description="batch job growing a large long-lived heap (type checker, doc builder)",
    refs_per_object=4.0,
    phases=(
        Phase(
            name="load",
            duration_s=20.0,
            alloc_rate_per_s=2.5e6,
            lifetimes=(
                Lifetime("temporary", 0.72, "immediate"),
                Lifetime("pass-local", 0.20, "exponential", 0.002),
                Lifetime("heap", 0.08, "forever"),
            ),
            cyclic_share=0.01,
            atomic_tuple_share=0.15,
            untracked_share=0.05,
            payload_per_object=1.2,
        ),
        Phase(
            name="check",
            duration_s=10.0,
            alloc_rate_per_s=2.5e6,
            lifetimes=(
                Lifetime("temporary", 0.75, "immediate"),
                Lifetime("pass-local", 0.23, "exponential", 0.005),
                Lifetime("heap", 0.02, "forever"),
            ),
            cyclic_share=0.01,
            atomic_tuple_share=0.15,
            untracked_share=0.05,
            payload_per_object=1.2,
        ),
    ),
)

_CYCLES = Workload(
    name="cycles",
    description="churn of reference cycles: a third of dying objects are cyclic garbage",
    refs_per_object=3.0,
    phases=(
        Phase(
            name="main",
            duration_s=10.0,
            alloc_rate_per_s=3e6,
            lifetimes=(
                Lifetime("temporary", 0.50, "immediate"),
                Lifetime("short", 0.49, "exponential", 0.002),
                Lifetime("kept", 0.01, "forever"),
            ),
            cyclic_share=0.30,
            atomic_tuple_share=0.05,
            payload_per_object=1.0,
        ),
    ),
)

BUILTIN_WORKLOADS: dict[str, Workload] = {w.name: w for w in (_WEB, _BATCH, _CYCLES)}
DEFAULT_WORKLOAD = "web"


def get_workload(name: str) -> Workload:
    """Return the built-in workload called ``name``.

    Raises:
        GcperfError: no such workload.
    """
    try:
        return BUILTIN_WORKLOADS[name]
    except KeyError:
        raise GcperfError(
            f"unknown workload {name!r}; built-in workloads: {', '.join(sorted(BUILTIN_WORKLOADS))}"
        ) from None
