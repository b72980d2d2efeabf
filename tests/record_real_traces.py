"""Record what a real interpreter reports for the exact-trace programs of test_real_interpreter.py.

For interpreters that CI machines do not have (built from source here): the file it writes under
tests/data/real_traces/ is replayed against gcperf by ``test_collections_match_recorded_interpreter``.

    python tests/record_real_traces.py 3.14t      # a minor found through pyenv (tests/interpreters.py)

The 3.14.7 and 3.14.7t files come from CPython 3.14.7 built from the release source (the public
snapshot tcchen2026/cpython-3.14, commit b494531) with ``./configure [--disable-gil] && make``,
installed as pyenv versions 3.14.7 and 3.14.7t, on 2026-12-04 (README, "Versions").
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from interpreters import find_interpreter  # noqa: E402
from test_real_interpreter import PROGRAMS, run_real, run_real_memory  # noqa: E402

from gcperf.cpython.versions import preset  # noqa: E402


def main(minor: str) -> int:
    found = find_interpreter(minor)
    if found is None:
        print(f"no CPython {minor} here (pyenv, PATH)", file=sys.stderr)
        return 2
    exe, version = found
    runs = [("", run_real, False)]
    if preset(minor).ft_memory_gate:
        # a second file: the memory gate live (/proc visible), with sizes and resident memory
        runs.append(("-memory", run_real_memory, True))
    for suffix, run, gate in runs:
        programs = {name: run(minor, name) for name in PROGRAMS}
        out = Path(__file__).parent / "data" / "real_traces" / f"{version}{suffix}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": version, "interpreter": exe, "machine": platform.machine(),
                "date": date.today().isoformat(), "made_by": f"python tests/record_real_traces.py {minor}",
                "memory_gate": gate, "programs": programs}
        out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {out} ({len(programs)} programs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
