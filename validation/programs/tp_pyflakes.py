"""Lint a source tree with pyflakes, as a CI lint step or an editor plugin would.

The "source tree" is a fixed list of modules of the running interpreter's
own standard library, read from disk at run time (nothing external is
needed).  Each file is parsed and checked with ``pyflakes.checker.Checker``;
the messages are formatted the way ``pyflakes`` prints them, grouped by
message type and by file, and the per-file results are kept in a cache keyed
by the content hash, as an editor integration would.  The tree is checked
twice: the second time as after an edit of a few files, so the unchanged
ones come from the cache and the edited ones are checked again.
"""

import ast
import hashlib
import os
import sys
import sysconfig

import pyflakes
import pyflakes.checker

MODULES = [
    "argparse.py", "ast.py", "calendar.py", "configparser.py", "csv.py",
    "dataclasses.py", "difflib.py", "fractions.py", "gettext.py", "heapq.py",
    "inspect.py", "ipaddress.py", "pathlib.py", "pprint.py", "shlex.py",
    "smtplib.py", "statistics.py", "string.py", "subprocess.py", "textwrap.py",
    "threading.py", "tokenize.py", "json/decoder.py", "json/encoder.py",
    "email/message.py", "email/utils.py", "http/client.py", "logging/__init__.py",
    "urllib/parse.py", "xml/dom/minidom.py",
]


def read_tree():
    stdlib = sysconfig.get_paths()["stdlib"]
    files = {}
    for rel in MODULES:
        path = os.path.join(stdlib, rel)
        if not os.path.exists(path):
            # pathlib became a package in 3.13
            alt = os.path.join(stdlib, rel[:-3], "__init__.py")
            if not os.path.exists(alt):
                continue
            path = alt
        with open(path, encoding="utf-8") as f:
            files[rel] = f.read()
    return files


def check_file(name, source):
    tree = ast.parse(source, filename=name)
    checker = pyflakes.checker.Checker(tree, filename=name)
    checker.messages.sort(key=lambda m: (m.lineno, m.col))
    return [(type(m).__name__, m.lineno, str(m)) for m in checker.messages]


def edit(source, n):
    """Simulate an edit: append a helper with an unused import and variable."""
    return source + ("\n\ndef _edited_%d(x):\n    import os.path\n    unused = x * %d\n"
                     "    return undefined_name_%d\n" % (n, n, n))


def lint(files, cache):
    results = {}
    checked = 0
    for name in sorted(files):
        src = files[name]
        key = hashlib.sha1(src.encode("utf-8")).hexdigest()
        res = cache.get(key)
        if res is None:
            res = cache[key] = check_file(name, src)
            checked += 1
        results[name] = res
    return results, checked


def summarize(results):
    by_type = {}
    for name, msgs in results.items():
        for kind, _, _ in msgs:
            by_type[kind] = by_type.get(kind, 0) + 1
    return by_type


def main():
    files = read_tree()
    cache = {}
    results, checked1 = lint(files, cache)
    # second run after editing every fifth file
    edited = dict(files)
    for i, name in enumerate(sorted(edited)):
        if i % 5 == 0:
            edited[name] = edit(edited[name], i)
    results2, checked2 = lint(edited, cache)
    # third run, as a full re-check (cache cleared, e.g. new pyflakes version)
    cache.clear()
    results3, checked3 = lint(edited, cache)

    digest = hashlib.sha1()
    lines = 0
    for name in sorted(results3):
        for kind, lineno, text in results3[name]:
            digest.update(text.encode("utf-8"))
            lines += 1
    by_type = summarize(results3)
    print("pyflakes %s files=%d source_lines=%d checked=%d+%d+%d messages=%d types=%d"
          % (pyflakes.__version__, len(files),
             sum(s.count("\n") for s in files.values()), checked1, checked2, checked3,
             lines, len(by_type)))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
