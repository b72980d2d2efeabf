#!/usr/bin/env python3
"""Create one virtual environment per CPython (3.8+) for the validation suite.

Interpreters are found in pyenv's versions folder (``$PYENV_ROOT/versions`` or
``~/.pyenv/versions``) and as ``python3`` on PATH; explicit ones can be given
with ``--python``.  For each CPython X.Y.Z a venv is made under
``<envs-dir>/<X.Y.Z>/`` (default ``~/.cache/gcperf/validation-envs``, outside
the repository), and the pinned third-party packages of
``requirements-<X.Y>.txt`` (beside this script) are installed into it with pip.
An existing env whose installed packages already match is left alone, so the
script can be rerun cheaply; ``--recreate`` rebuilds every env.

At the end the interpreter path of every env is printed, one line each
(``<version> <path>``), and an ``envs.json`` index is written in the envs dir.
Standard library only.

    python3 validation/setup_envs.py                 # all interpreters found
    python3 validation/setup_envs.py --envs-dir /tmp/envs --python /usr/bin/python3.12
    python3 validation/setup_envs.py --versions 3.8,3.13 --recreate
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ENVS_DIR = os.path.join("~", ".cache", "gcperf", "validation-envs")
MIN_VERSION = (3, 8)

PROBE = (
    "import json, platform, sys; "
    "print(json.dumps({'impl': platform.python_implementation(), "
    "'version': platform.python_version(), 'info': list(sys.version_info[:3]), "
    "'executable': sys.executable}))"
)


def probe(python):
    """Return a dict describing the interpreter, or None if it cannot run."""
    try:
        out = subprocess.run([python, "-c", PROBE], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        info = json.loads(out.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    info["path"] = python
    return info


def candidate_pythons(extra):
    cands = list(extra)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for d in sorted(glob.glob(os.path.join(pyenv_root, "versions", "*"))):
        exe = os.path.join(d, "bin", "python3")
        if os.path.isfile(exe) and os.access(exe, os.X_OK):
            cands.append(exe)
    py3 = shutil.which("python3")
    if py3:
        cands.append(py3)
    return cands


def find_interpreters(extra):
    """CPython >= 3.8 interpreters, one per full version (first found wins)."""
    found = {}
    for path in candidate_pythons(extra):
        info = probe(path)
        if info is None:
            print("skip %s: does not run" % path, file=sys.stderr)
            continue
        if info["impl"] != "CPython" or tuple(info["info"][:2]) < MIN_VERSION:
            continue
        found.setdefault(info["version"], info)
    return [found[v] for v in sorted(found, key=lambda s: tuple(int(x) for x in s.split(".")[:3] if x.isdigit()))]


def requirements_for(info):
    xy = "%d.%d" % tuple(info["info"][:2])
    path = os.path.join(HERE, "requirements-%s.txt" % xy)
    if not os.path.exists(path):
        # A newer CPython than the suite knows: use the newest file there is.
        files = sorted(glob.glob(os.path.join(HERE, "requirements-3.*.txt")),
                       key=lambda p: int(p.rsplit(".", 2)[-2]))
        path = files[-1]
    return path


def read_pins(req_path):
    pins = {}
    with open(req_path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, ver = line.split("==", 1)
                pins[name.strip().lower().replace("_", "-")] = ver.strip()
    return pins


def installed_versions(env_python):
    try:
        out = subprocess.run([env_python, "-m", "pip", "list", "--format=json"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=120, check=True)
        pkgs = json.loads(out.stdout.decode())
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return {p["name"].lower().replace("_", "-"): p["version"] for p in pkgs}


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def make_env(info, envs_dir, recreate):
    env_dir = os.path.join(envs_dir, info["version"])
    env_python = os.path.join(env_dir, "bin", "python")
    req = requirements_for(info)
    pins = read_pins(req)
    if recreate and os.path.isdir(env_dir):
        shutil.rmtree(env_dir)
    if os.path.exists(env_python):
        have = installed_versions(env_python)
        if have is not None and all(have.get(k) == v for k, v in pins.items()):
            print("%s: up to date (%s)" % (info["version"], env_dir), flush=True)
            return env_python, have
        print("%s: packages differ from %s, reinstalling" % (info["version"], os.path.basename(req)))
    else:
        if os.path.isdir(env_dir):
            shutil.rmtree(env_dir)
        run([info["path"], "-m", "venv", env_dir])
    run([env_python, "-m", "pip", "install", "--quiet", "-r", req])
    have = installed_versions(env_python) or {}
    missing = [k for k, v in pins.items() if have.get(k) != v]
    if missing:
        raise RuntimeError("%s: pins not satisfied: %s" % (info["version"], ", ".join(missing)))
    return env_python, have


def check_env(env_python):
    """Import every third-party package once, as the programs will."""
    code = "import networkx, docutils.core, jinja2, markupsafe, pyflakes.api; print('ok')"
    out = subprocess.run([env_python, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=120)
    return out.returncode == 0, out.stdout.decode().strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs-dir", default=DEFAULT_ENVS_DIR,
                    help="where the venvs go (default: %(default)s)")
    ap.add_argument("--python", action="append", default=[],
                    help="an extra interpreter to use (may be repeated)")
    ap.add_argument("--recreate", action="store_true",
                    help="delete and rebuild envs that exist")
    ap.add_argument("--versions", default="",
                    help="only these versions, comma-separated prefixes (e.g. 3.8,3.13)")
    args = ap.parse_args(argv)

    envs_dir = os.path.abspath(os.path.expanduser(args.envs_dir))
    if os.path.commonpath([envs_dir, os.path.dirname(HERE)]) == os.path.dirname(HERE):
        ap.error("--envs-dir must be outside the repository")
    os.makedirs(envs_dir, exist_ok=True)

    interpreters = find_interpreters(args.python)
    if args.versions:
        wanted = [w.strip() for w in args.versions.split(",") if w.strip()]
        interpreters = [i for i in interpreters
                        if any(i["version"] == w or i["version"].startswith(w + ".") for w in wanted)]
    if not interpreters:
        print("no CPython >= 3.8 found", file=sys.stderr)
        return 1
    index, failures = {}, []
    for info in interpreters:
        try:
            env_python, pkgs = make_env(info, envs_dir, args.recreate)
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            failures.append("%s: %s" % (info["version"], exc))
            continue
        ok, msg = check_env(env_python)
        if not ok:
            failures.append("%s: import check failed: %s" % (info["version"], msg))
            continue
        index[info["version"]] = {"python": env_python, "base_python": info["path"],
                                  "requirements": os.path.basename(requirements_for(info)),
                                  "packages": {k: pkgs[k] for k in sorted(pkgs)
                                               if k not in ("pip", "setuptools", "wheel")}}
    index_path = os.path.join(envs_dir, "envs.json")
    if os.path.exists(index_path):
        # keep entries of envs made earlier (e.g. by a run with --versions)
        with open(index_path) as f:
            old = json.load(f)
        for version, entry in old.items():
            if version not in index and os.path.exists(entry.get("python", "")):
                index[version] = entry
    with open(index_path, "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)

    print()
    for version, entry in sorted(index.items(), key=lambda kv: [int(x) for x in kv[0].split(".")]):
        print("%-8s %s" % (version, entry["python"]))
    for msg in failures:
        print("FAILED " + msg, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
