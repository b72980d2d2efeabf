"""Record what a real interpreter reports for the exact-trace programs of test_real_interpreter.py.

For interpreters that CI machines do not have (built from source here): the file it writes under
tests/data/real_traces/ is replayed against gcperf by ``test_collections_match_recorded_interpreter``.

    python tests/record_real_traces.py 3.14t      # a minor found through pyenv (tests/interpreters.py)

The 3.14.7 and 3.14.7t files come from CPython 3.14.7 built from the release source (the public
snapshot tcchen2026/cpython-3.14, commit b494531) with ``./configure [--disable-gil] && make``,
installed as pyenv versions 3.14.7 and 3.14.7t, on 2026-12-04 (README, "Versions").

An interpreter outside pyenv, standing for another preset, is recorded with

    python tests/record_real_traces.py --python EXE --model-version 3.14.4 [--build "how it was made"]

3.14.4-built.json comes from the 3.14.7 tree above with the incremental collector of
3.14.1-3.14.4 put back (2026-12-05): Python/gc.c replaced by the 3.14 branch's file at commit
0051397dcdbd80e9bf15250b8b369e67d2e2b713 (read from the public code index; one call renamed,
PyObject_Dump -> _PyObject_Dump); in Include/internal/pycore_interp_structs.h the GIL build's
``generations[3]`` became ``young`` and ``old[2]``, the three dummy fields ``work_to_do``,
``visited_space`` and ``phase`` again (with the MARK/COLLECT enum), ``GC_GENERATION_INIT`` young
threshold 2000, old thresholds 10 and 0, work_to_do -5000, phase MARK, and the collection stats gained
``candidates`` and ``duration``, the state a ``frame`` pointer; in Include/internal/pycore_gc.h the
old-space bit of ``_gc_next`` (``_PyGC_NEXT_MASK_OLD_SPACE_1``), masked by ``_PyGCHead_NEXT`` and kept
by ``_PyGCHead_SET_NEXT``, ``_PyObject_GC_TRACK`` appending to the young list with the not-visited
bit, ``young.count++``, ``heap_size++`` and ``_Py_TriggerGC`` past the threshold (exported),
``_PyObject_GC_UNTRACK`` with the saturating decrement; in Modules/gcmodule.c ``get_threshold``,
``set_threshold`` and ``get_count`` as the incremental collector reports them. It builds and runs
(3.14.7's test_gc: 4 failures, all tests of the generational rules or of how soon a cycle is
collected; test_finalization and test_io fail on weak references to resurrected objects, which this
gc.c clears after the finalizers).

3.14.0-built.json comes from the same tree with 3.14.0's collector (2026-12-05): Python/gc.c of the 3.14
branch at commit ca21a0a13924a73ecc8afbeb950367db60f2fc84 (3.14.0's scheduling: every GC allocation
counted, and added to heap_size, in ``_PyObject_GC_Link``; ``PyObject_GC_Del``'s saturating decrement),
the headers and gcmodule.c as above but with ``_PyObject_GC_TRACK``/``UNTRACK`` counting nothing, and
Objects/tupleobject.c's GH-140262 change undone (``PyTuple_Pack``, ``_PyTuple_FromArray`` and
``_PyTuple_FromStackRefStealOnSuccess`` track every new tuple, as 3.14.0 did). Those headers and
tupleobject.c of that commit could not be read from the code index: they are reconstructed from
ca21a0a1's gc.c and the descriptions of GH-140262 and its backport (#140447). The file's ``build``
entry lists every change; 3.14.7's test_gc: 4 failures (generational rules, 3.14.5+'s debug line,
a heap size of tracked objects). Its ``untracked_at_start`` (the untracked GC objects the harness's program
starts with, which 3.14.0 counts in its heap size) was measured by hand on a diagnostic copy of the
build: Python/gc.c patched only to add ``work``, ``heap`` (``heap_size``), ``marked`` and
``candidates`` to the gc.callbacks info; heap_size less len(gc.get_objects()) after the harness's
imports and gc.collect().
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


def record_built(exe: str, model_version: str, build: str) -> int:
    """Record an interpreter that is not found through pyenv, for the preset ``model_version``."""
    import subprocess

    preset(model_version)  # a preset it stands for
    programs = {}
    for name, prog in PROGRAMS.items():
        proc = subprocess.run([exe, "-I", "-c", prog.python()], capture_output=True, text=True, timeout=600)
        if proc.returncode:
            print(f"{exe} failed on {name}:\n{proc.stderr}", file=sys.stderr)
            return 1
        programs[name] = json.loads(proc.stdout)
    version = next(iter(programs.values()))["version"]
    out = Path(__file__).parent / "data" / "real_traces" / f"{model_version}-built.json"
    data = {"version": version, "model_version": model_version, "interpreter": exe, "build": build,
            "machine": platform.machine(), "date": date.today().isoformat(),
            "made_by": f"python tests/record_real_traces.py --python {exe} --model-version {model_version}",
            "memory_gate": False, "programs": programs}
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out} ({len(programs)} programs)")
    return 0


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
    if sys.argv[1] == "--python":
        import argparse

        ap = argparse.ArgumentParser()
        ap.add_argument("--python", required=True)
        ap.add_argument("--model-version", required=True)
        ap.add_argument("--build", default="")
        a = ap.parse_args()
        raise SystemExit(record_built(a.python, a.model_version, a.build))
    raise SystemExit(main(sys.argv[1]))
