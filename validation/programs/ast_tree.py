"""A source-to-source tool over standard-library modules, built on ``ast``.

Reads the source of a fixed list of standard-library modules at run time
(``inspect.getsource``), parses each with ``ast.parse`` and runs a small
pipeline of the kind found in linters, code-coverage instrumenters and
refactoring tools:

* a NodeVisitor collects per-module metrics (definitions, calls, names,
  nesting depth, import graph);
* the tree is copied with ``copy.deepcopy`` (the original is kept in the
  module cache for later passes) and NodeTransformers fold constants,
  rename private identifiers and insert a coverage probe at the start of
  every function and loop body;
* the result is compiled with ``compile()`` and turned back into source with
  ``ast.unparse`` (Python 3.9+; on 3.8 ``ast.dump`` is used instead).

Several passes run over the module set with different options, as a
refactoring tool would when re-run after edits; the parsed originals and
the outputs of the last pass stay cached.
"""

import ast
import copy
import hashlib
import importlib
import inspect
import sys

MODULES = [
    "argparse", "textwrap", "dataclasses", "string", "json.decoder",
    "json.encoder", "csv", "fractions", "heapq", "shlex", "pprint", "gettext",
    "difflib", "calendar", "configparser",
]
PASSES = 3


class Metrics(ast.NodeVisitor):
    def __init__(self):
        self.counts = {}
        self.calls = {}
        self.names = set()
        self.imports = set()
        self.max_depth = 0
        self._depth = 0

    def generic_visit(self, node):
        kind = type(node).__name__
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self._depth += 1
        if self._depth > self.max_depth:
            self.max_depth = self._depth
        ast.NodeVisitor.generic_visit(self, node)
        self._depth -= 1

    def visit_Call(self, node):
        f = node.func
        if isinstance(f, ast.Name):
            key = f.id
        elif isinstance(f, ast.Attribute):
            key = "." + f.attr
        else:
            key = "<expr>"
        self.calls[key] = self.calls.get(key, 0) + 1
        self.generic_visit(node)

    def visit_Name(self, node):
        self.names.add(node.id)
        self.generic_visit(node)

    def visit_Import(self, node):
        for a in node.names:
            self.imports.add(a.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.module:
            self.imports.add(node.module)
        self.generic_visit(node)


class ConstantFolder(ast.NodeTransformer):
    OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.BitOr: lambda a, b: a | b,
           ast.LShift: lambda a, b: a << b if 0 <= b < 64 else None}

    def __init__(self):
        self.folded = 0

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant):
            fn = self.OPS.get(type(node.op))
            a, b = node.left.value, node.right.value
            if fn is not None and type(a) in (int, float, str) and type(a) is type(b):
                try:
                    value = fn(a, b)
                except (TypeError, ValueError, OverflowError):
                    return node
                if value is None or (isinstance(value, str) and len(value) > 200):
                    return node
                self.folded += 1
                return ast.copy_location(ast.Constant(value=value), node)
        return node


class PrivateRenamer(ast.NodeTransformer):
    """Rename single-underscore names, as an obfuscator or minifier would."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.mapping = {}

    def _new(self, name):
        if name.startswith("_") and not name.startswith("__"):
            new = self.mapping.get(name)
            if new is None:
                new = self.mapping[name] = "%s%d" % (self.prefix, len(self.mapping))
            return new
        return name

    def visit_Name(self, node):
        node.id = self._new(node.id)
        return node

    def visit_FunctionDef(self, node):
        node.name = self._new(node.name)
        for a in node.args.args + node.args.kwonlyargs:
            a.arg = self._new(a.arg)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node):
        self.generic_visit(node)
        node.attr = self._new(node.attr)
        return node


class CoverageProbes(ast.NodeTransformer):
    """Insert ``__cov__((file, line))`` at the start of functions and loops."""

    def __init__(self, filename):
        self.filename = filename
        self.probes = []

    def _probe(self, node):
        self.probes.append(node.lineno)
        call = ast.Call(func=ast.Name(id="__cov__", ctx=ast.Load()),
                        args=[ast.Tuple(elts=[ast.Constant(value=self.filename),
                                              ast.Constant(value=node.lineno)],
                                        ctx=ast.Load())],
                        keywords=[])
        return ast.copy_location(ast.Expr(value=call), node)

    def _instrument(self, node):
        self.generic_visit(node)
        node.body.insert(0, self._probe(node))
        return node

    visit_FunctionDef = _instrument
    visit_AsyncFunctionDef = _instrument
    visit_For = _instrument
    visit_While = _instrument


def to_source(tree):
    if hasattr(ast, "unparse"):
        return ast.unparse(tree)
    return ast.dump(tree, include_attributes=False)


def process(name, source, original, pass_no):
    metrics = Metrics()
    metrics.visit(original)
    tree = copy.deepcopy(original)
    folder = ConstantFolder()
    tree = folder.visit(tree)
    if pass_no % 2 == 1:
        tree = PrivateRenamer("_p%d_" % pass_no).visit(tree)
    cov = CoverageProbes(name)
    tree = cov.visit(tree)
    ast.fix_missing_locations(tree)
    code = compile(tree, "<%s>" % name, "exec")
    out = to_source(tree)
    summary = (name, len(source), sum(metrics.counts.values()), metrics.max_depth,
               len(metrics.names), tuple(sorted(metrics.imports)), folder.folded,
               len(cov.probes), len(code.co_consts))
    return tree, out, summary


def main():
    sources = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        sources[name] = inspect.getsource(mod)
    originals = {name: ast.parse(src, filename=name) for name, src in sources.items()}

    cache = {}
    digest = hashlib.sha1()
    total_nodes = 0
    for pass_no in range(PASSES):
        for name in MODULES:
            tree, out, summary = process(name, sources[name], originals[name], pass_no)
            cache[name] = (tree, out)
            total_nodes += summary[2]
            digest.update(repr(summary).encode())
            digest.update(hashlib.md5(out.encode()).digest())
    print("modules=%d passes=%d nodes=%d unparse=%s" % (len(MODULES), PASSES, total_nodes,
                                                        hasattr(ast, "unparse")))
    print("checksum", digest.hexdigest()[:16])
    return 0


if __name__ == "__main__":
    sys.exit(main())
