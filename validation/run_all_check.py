#!/usr/bin/env python3
"""Run every validation program once under every env and report GC statistics.

For each interpreter (the venvs made by setup_envs.py, found through
``<envs-dir>/envs.json`` or ``<envs-dir>/*/bin/python``; more with
``--python``) and each ``programs/*.py``, the program is run through
``gcstats_wrapper.py`` (runpy.run_path + gc.get_stats() at exit) at the
interpreter's default GC settings, and one line is printed with the exit
status, wall-clock time, CPU time (user+sys of the child), and the number of
collections of generations 0/1/2.  A summary table per program and version
follows.  The exit code is non-zero if any run failed.

    python3 validation/run_all_check.py
    python3 validation/run_all_check.py --programs etl_batch,tp_jinja2 --json out.json

Standard library only.  PYTHONHASHSEED is fixed (0) for the child processes
unless --hashseed random is given; the programs' output does not depend on
it, but fixing it makes the collection counts exactly reproducible.
"""

import argparse
import glob
import json
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS_DIR = os.path.join(HERE, "programs")
WRAPPER = os.path.join(HERE, "gcstats_wrapper.py")
DEFAULT_ENVS_DIR = os.path.join("~", ".cache", "gcperf", "validation-envs")


def version_key(v):
    return [int(x) if x.isdigit() else 0 for x in re.split(r"[.+]", v)]


def find_envs(envs_dir, extra):
    envs = {}
    index = os.path.join(envs_dir, "envs.json")
    if os.path.exists(index):
        with open(index) as f:
            for version, entry in json.load(f).items():
                if os.path.exists(entry["python"]):
                    envs[version] = entry["python"]
    else:
        for py in glob.glob(os.path.join(envs_dir, "*", "bin", "python")):
            envs[os.path.basename(os.path.dirname(os.path.dirname(py)))] = py
    for py in extra:
        out = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                             stdout=subprocess.PIPE, check=True)
        envs[out.stdout.decode().strip() + "+" + os.path.basename(py)] = py
    return envs


def run_one(python, program, timeout, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, WRAPPER, program], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, env=env)
        rc, out, err = proc.returncode, proc.stdout.decode(errors="replace"), \
            proc.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", (exc.stdout or b"").decode(errors="replace"), \
            (exc.stderr or b"").decode(errors="replace")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats = None
    program_seconds = None
    other_err = []
    for line in err.splitlines():
        if line.startswith("GCSTATS "):
            rec = json.loads(line[len("GCSTATS "):])
            stats = rec["stats"]
            program_seconds = rec["seconds"]
        else:
            other_err.append(line)
    return {"exit": rc, "wall": round(wall, 2), "cpu": round(cpu, 2),
            "program_seconds": program_seconds,
            "collections": [g["collections"] for g in stats] if stats else None,
            "collected": [g["collected"] for g in stats] if stats else None,
            "stdout": out.strip().splitlines()[:3], "stderr_tail": other_err[-10:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs-dir", default=DEFAULT_ENVS_DIR)
    ap.add_argument("--python", action="append", default=[],
                    help="an extra interpreter to run the programs with")
    ap.add_argument("--programs", default="",
                    help="comma-separated program names (default: all)")
    ap.add_argument("--versions", default="",
                    help="comma-separated version prefixes to run, e.g. 3.8,3.13")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--hashseed", default="0",
                    help="PYTHONHASHSEED for the programs ('random' to leave it unset)")
    ap.add_argument("--json", help="also write all results to this JSON file")
    args = ap.parse_args(argv)

    envs = find_envs(os.path.expanduser(args.envs_dir), args.python)
    if args.versions:
        wanted = [v.strip() for v in args.versions.split(",") if v.strip()]
        envs = {k: v for k, v in envs.items()
                if any(k == w or k.startswith(w + ".") for w in wanted)}
    if not envs:
        print("no environments found; run setup_envs.py first", file=sys.stderr)
        return 2
    programs = sorted(glob.glob(os.path.join(PROGRAMS_DIR, "*.py")))
    if args.programs:
        names = set(n.strip().replace(".py", "") for n in args.programs.split(","))
        programs = [p for p in programs if os.path.basename(p)[:-3] in names]

    child_env = dict(os.environ)
    if args.hashseed != "random":
        child_env["PYTHONHASHSEED"] = args.hashseed
    # the wrapper and programs must not inherit GC-affecting debug settings
    child_env.pop("PYTHONMALLOC", None)
    child_env.pop("PYTHONDEVMODE", None)

    results = []
    failures = 0
    print("%-8s %-16s %5s %7s %7s %18s" % ("python", "program", "exit", "wall_s", "cpu_s",
                                         "collections g0/g1/g2"))
    for version in sorted(envs, key=version_key):
        for prog in programs:
            name = os.path.basename(prog)[:-3]
            r = run_one(envs[version], prog, args.timeout, child_env)
            r.update(version=version, program=name, python=envs[version])
            results.append(r)
            ok = r["exit"] == 0 and r["collections"] is not None
            failures += not ok
            cols = "/".join(map(str, r["collections"])) if r["collections"] else "-"
            print("%-8s %-16s %5s %7.2f %7.2f %18s" % (version, name, r["exit"], r["wall"],
                                                     r["cpu"], cols), flush=True)
            if not ok:
                for line in r["stderr_tail"]:
                    print("    | " + line)

    # summary: one row per program, one column per version
    versions = sorted(envs, key=version_key)
    print()
    print("summary: wall seconds (CPU seconds) and gen0/gen1/gen2 collections at default GC settings")
    print("%-16s " % "program" + " ".join("%-24s" % v for v in versions))
    for prog in programs:
        name = os.path.basename(prog)[:-3]
        cells = []
        for v in versions:
            r = next(x for x in results if x["program"] == name and x["version"] == v)
            if r["exit"] == 0 and r["collections"]:
                cells.append("%-24s" % ("%.1f (%.1f) %s" % (r["wall"], r["cpu"],
                                                            "/".join(map(str, r["collections"])))))
            else:
                cells.append("%-24s" % ("FAILED(%s)" % r["exit"]))
        print("%-16s " % name + " ".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print()
    print("%d runs, %d failed" % (len(results), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
