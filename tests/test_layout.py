"""The package's folders follow the data flow: each layer imports only from the layers before it.

cpython -> memory -> workload -> engine -> recording -> calibration -> store -> studies -> cli,
with errors, interpreters, safeio and provenance shared by all (README, "Design").
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "gcperf"
ORDER = ["cpython", "memory", "workload", "engine", "recording", "calibration", "store", "studies"]
SHARED = {"errors", "interpreters", "safeio", "provenance", "__init__"}  # __init__: __version__ only


def _layer(module: str) -> str | None:
    """The layer of a dotted module name inside gcperf (None for a shared module)."""
    parts = module.split(".")
    if parts[0] != "gcperf" or len(parts) == 1:
        return None
    return None if parts[1] in SHARED else parts[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    # the package a relative import starts from: the module's folder (an __init__ is its own package)
    here = list(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # from . import x: x may be a module
                    out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
                    continue
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
    return out


def test_no_module_imports_a_later_layer():
    back = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if own not in ORDER:
            continue  # cli, __main__ and the shared modules may import anything
        for mod, line in _imports(path):
            dep = _layer(mod)
            if dep in ORDER and ORDER.index(dep) > ORDER.index(own):
                back.append(f"{rel}:{line} imports {mod}")
    assert not back, "\n".join(back)


def test_the_top_level_holds_only_the_shared_modules_and_the_cli():
    top = {p.stem for p in PKG.glob("*.py")}
    assert top == SHARED | {"cli", "__main__"}
    assert {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()} == set(ORDER)
