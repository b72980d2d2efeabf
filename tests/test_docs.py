"""The documentation site (mkdocs.yml: docs/ and the API reference from the docstrings) builds
without a warning, and its reference covers the whole public API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import gcperf

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocstrings", reason="the docs extra (pip install '.[test]') is not installed")


def test_the_api_reference_builds_and_covers_the_public_api(tmp_path):
    if not (ROOT / "mkdocs.yml").exists():
        pytest.skip("not a source checkout (mkdocs.yml is not installed with the package)")
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(site)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    page = (site / "api" / "index.html").read_text()
    documented = set(re.findall(r'id="gcperf\.([A-Za-z_]+)"', page))
    public = {n for n in gcperf.__all__ if not n.startswith("_") and n.upper() != n}  # constants have no docstring
    assert public - documented == set(), f"public names missing from docs/api.md: {sorted(public - documented)}"
    # the docstrings themselves are rendered, not only the headings
    assert "Simulate a scenario" in page
