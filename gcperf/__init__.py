"""gcperf: a discrete-event simulator of CPython's garbage collector.

The public API is listed in ``__all__``; everything else is internal.
"""

__version__ = "0.1.0"

from .errors import GcperfError  # noqa: E402
from .runner import RunResult, simulate, simulate_trace  # noqa: E402
from .scenario import GCSettings, Scenario  # noqa: E402
from .trace import Trace, TraceBuilder  # noqa: E402
from .versions import SUPPORTED_VERSIONS, preset  # noqa: E402
from .workload import Lifetime, Phase, SizeMix, Workload  # noqa: E402
from .workloads import BUILTIN_WORKLOADS, get_workload  # noqa: E402

__all__ = [
    "BUILTIN_WORKLOADS",
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
    "get_workload",
    "preset",
    "simulate",
    "simulate_trace",
]
