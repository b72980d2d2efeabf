"""Run a validation program and report gc.get_stats() when it ends.

    python gcstats_wrapper.py programs/etl_batch.py [args...]

The program runs as __main__ through runpy.run_path, exactly as
``python programs/etl_batch.py`` would run it.  At exit one line is written to
stderr: ``GCSTATS {"stats": [...], "seconds": ..., "exit": ...}``, where
"stats" is gc.get_stats() and "seconds" the program's own run time.
Standard library only; the wrapper itself does not change any GC setting.
"""
import gc
import json
import os
import runpy
import sys
import time


def main():
    path = os.path.abspath(sys.argv[1])
    sys.argv = [path] + sys.argv[2:]
    sys.path[0] = os.path.dirname(path)
    code = 0
    t0 = time.perf_counter()
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    seconds = time.perf_counter() - t0
    sys.stdout.flush()
    sys.stderr.write("GCSTATS " + json.dumps({"stats": gc.get_stats(), "seconds": round(seconds, 3),
                                               "exit": code}) + "\n")
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
