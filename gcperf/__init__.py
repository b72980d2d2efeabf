"""gcperf: a discrete-event simulator of CPython's garbage collector.

The public API is listed in ``__all__``; everything else is internal. A worked example::

    import gcperf

    # one run: the built-in web service on 3.13's collector, then with threshold0 raised
    base = gcperf.simulate("web")
    big = gcperf.simulate(gcperf.Scenario("web", gcperf.GCSettings(version="3.13", thresholds=(20000, 10, 10))))
    print(base.summary_dict()["pause_total_ms"], big.summary_dict()["pause_total_ms"])

    # several thresholds over one draw of the program (the tables of separate runs, faster)
    runs = gcperf.simulate_many([gcperf.Scenario("web", gcperf.GCSettings(version="3.13", thresholds=(t0, 10, 10)))
                                 for t0 in (700, 2000, 20000)])

    # the same program on several versions, three seeds each (``gcperf compare``)
    table = gcperf.compare_versions("web", ["3.12", "3.13"], seeds=(0, 1, 2), memory=False)

    # a sweep over a grid of settings, then the recommendation under your constraints
    exp = gcperf.load_experiment("web-service")            # experiments/web-service.toml
    out = gcperf.sweep(exp, "results/web-service", quick=True)
    rec = gcperf.recommend(out, gcperf.Constraints(max_p99_pause_ms=5.0))
    gcperf.plot_results(out, rec)

    # your own program: a workload file, hand-written or made by ``gcperf calibrate``
    wl = gcperf.load_workload("model.json")
    gcperf.simulate(gcperf.Scenario(wl, gcperf.GCSettings(version="3.12"), seed=1))

    # an exact trace, replayed collection for collection
    b = gcperf.TraceBuilder()
    keep = b.alloc_many(5000)
    b.set_threshold(100)                                     # keeps threshold1 and threshold2
    r = gcperf.simulate_trace(b.build(), "3.12")
    r.generation_counts(), r.end_state["count"]
"""

__version__ = "0.1.0"

from .cpython.versions import SUPPORTED_VERSIONS, preset  # noqa: E402
from .engine.runner import RunResult, simulate, simulate_many, simulate_trace  # noqa: E402
from .engine.scenario import GCSettings, Scenario  # noqa: E402
from .errors import GcperfError  # noqa: E402
from .studies.charts import plot_results  # noqa: E402
from .studies.compare import compare_versions  # noqa: E402
from .studies.experiment import load_experiment  # noqa: E402
from .studies.recommend import Constraints, recommend  # noqa: E402
from .studies.sweep import sweep  # noqa: E402
from .workload.builtin import BUILTIN_WORKLOADS, get_workload  # noqa: E402
from .workload.model import Lifetime, Phase, SizeMix, Workload  # noqa: E402
from .workload.specs import load_workload  # noqa: E402
from .workload.trace import Trace, TraceBuilder  # noqa: E402

__all__ = [
    "BUILTIN_WORKLOADS",
    "Constraints",
    "GCSettings",
    "GcperfError",
    "Lifetime",
    "Phase",
    "RunResult",
    "SUPPORTED_VERSIONS",
    "Scenario",
    "SizeMix",
    "Trace",
    "TraceBuilder",
    "Workload",
    "__version__",
    "compare_versions",
    "get_workload",
    "load_experiment",
    "load_workload",
    "plot_results",
    "preset",
    "recommend",
    "simulate",
    "simulate_many",
    "simulate_trace",
    "sweep",
]
