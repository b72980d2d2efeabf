"""Run a program at one GC setting and report what its collector did (stdlib only, Python 3.8+).

    python measure.py OUT.json T0 T1 T2 [--freeze-at=S] [--imports] script.py [args...]

Used by ``gcperf validate`` to run the real program at the settings it predicts. Lighter than
the recorder: it sets the thresholds, times every collection with ``gc.callbacks`` (two clock
reads and a list append per collection) and, when the program ends, writes one JSON object:
collections per generation, every pause (seconds), the program's run time, its peak resident
memory (``VmHWM``) and its exit status. The program runs as ``__main__`` via ``runpy``.

``--freeze-at=S``: a timer thread calls ``gc.freeze()`` S seconds after the program's start
(the setting "freeze after start-up"); ``froze_at_s`` says when it did. ``--imports``: an audit
hook notes when each module is first imported (``import_times_s``; it costs a call per audit
event, so it is for the run that finds the start-up, not for the measured ones).
"""

import gc
import json
import os
import resource
import runpy
import sys
import time

#: 2: peak RSS from /proc/self/status VmHWM (ru_maxrss keeps the forking parent's peak across
#: exec on Linux: version 1 reported gcperf's own ~800 MiB for small programs); 3: --freeze-at,
#: --imports
MEASURE_VERSION = 3


def _peak_rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    out, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rest = sys.argv[5:]
    freeze_at = None
    imports = None
    while rest and rest[0].startswith("--"):
        opt = rest.pop(0)
        if opt.startswith("--freeze-at="):
            freeze_at = float(opt.split("=", 1)[1])
        elif opt == "--imports":
            imports = []
        else:
            raise SystemExit("measure.py: unknown option " + opt)
    path = os.path.abspath(rest[0])
    sys.argv = [path] + rest[1:]
    sys.path[0] = os.path.dirname(path)
    pauses = [[], [], []]
    clock = time.perf_counter
    started = [0.0]

    def callback(phase, info):
        if phase == "start":
            started[0] = clock()
        else:
            pauses[info["generation"]].append(clock() - started[0])

    gc.set_threshold(t0, t1, t2)
    gc.callbacks.append(callback)
    status = 0
    begin = clock()
    froze = {}  # when gc.freeze() ran (seconds after the start) and what it froze
    if imports is not None:
        def on_audit(event, args):
            if event == "import":
                imports.append(clock() - begin)
        sys.addaudithook(on_audit)
    if freeze_at is not None:
        import threading

        def freeze():
            gc.freeze()
            froze["at_s"] = clock() - begin
            froze["objects"] = gc.get_freeze_count()

        timer = threading.Timer(freeze_at, freeze)
        timer.daemon = True
        timer.start()
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    wall = clock() - begin
    gc.callbacks.remove(callback)
    sys.stdout.flush()
    doc = {"collections": [len(p) for p in pauses], "pauses_s": pauses, "wall_s": wall,
           "peak_rss_kib": _peak_rss_kib(), "measure_version": MEASURE_VERSION, "exit_status": status,
           "thresholds": [t0, t1, t2], "version": "%d.%d.%d" % sys.version_info[:3],  # noqa: UP031 - any 3.8+
           "froze_at_s": froze.get("at_s"),
           "frozen_objects": froze.get("objects")}
    if imports is not None:
        doc["import_times_s"] = imports
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, out)
    return status


if __name__ == "__main__":
    sys.exit(main())
