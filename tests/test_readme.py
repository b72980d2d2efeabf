"""The README's sample outputs and tables are re-derived from the committed results: a number that
goes stale fails here."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from gcperf.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "results"


def _text_blocks(text: str) -> list[list[str]]:
    return [b.splitlines() for b in re.findall(r"```text\n(.*?)```", text, flags=re.S)]


def _recommend_blocks() -> list[list[str]]:
    """README blocks that show `gcperf recommend` on a committed results folder."""
    return [b for b in _text_blocks(README.read_text(encoding="utf-8"))
            if b and b[0].startswith("$ gcperf recommend results/")]


def _matches(shown: list[str], actual: list[str]) -> bool:
    """Every shown line appears in the output in order; a line "  ..." stands for any lines."""
    i = 0
    skipping = False
    for line in shown:
        if line.strip() == "...":
            skipping = True
            continue
        if skipping:
            while i < len(actual) and actual[i].rstrip() != line.rstrip():
                i += 1
        if i >= len(actual) or actual[i].rstrip() != line.rstrip():
            return False
        i += 1
        skipping = False
    return True


def test_the_readme_shows_recommendations():
    assert len(_recommend_blocks()) >= 2


@pytest.mark.parametrize("block", _recommend_blocks(), ids=lambda b: b[0][2:60])
def test_a_readme_recommendation_is_what_the_committed_results_give(block, capsys, monkeypatch):
    argv = shlex.split(block[0][2:])[1:]
    folder = ROOT / argv[1]
    if not (folder / "summary.csv").exists():
        pytest.skip(f"{argv[1]} is not in this checkout")
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert _matches(block[1:], out), "\n".join(["README shows:", *block[1:], "", "the results give:", *out])


def _validation_module():
    spec = importlib.util.spec_from_file_location("run_validation", ROOT / "validation" / "run_validation.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_the_validation_table_is_what_the_committed_results_give():
    out = RESULTS / "validation"
    if not (out / "summary.md").exists():
        pytest.skip("results/validation is not in this checkout")
    text = _validation_module().report_text(out)
    assert text == (out / "summary.md").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) >= 8
    missing = [line for line in table if line not in readme]
    assert not missing, f"README's validation table differs from results/validation/summary.md: {missing}"


def test_the_sweep_timings_are_what_the_committed_meta_files_say():
    import json

    table = (RESULTS / "README.md").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| ([a-z0-9-]+) \| (\d+) \| (\d+) s \| ([^|]+) \|$", table, flags=re.M)
    assert len(rows) >= 5
    for name, runs, seconds, executor in rows:
        meta_path = RESULTS / name / "meta.json"
        if not meta_path.exists():
            pytest.skip(f"results/{name} is not in this checkout")
        meta = json.loads(meta_path.read_text())
        assert (int(runs), int(seconds), executor.strip()) == (meta["runs"], round(meta["elapsed_s"]), meta["executor"])
        short = name if name != "upgrade-3-12-to-3-13" else "upgrade"
        # the main README quotes the same seconds (in its two places)
        assert readme.count(f"{short} {seconds} s") + readme.count(f"(`-j 2`) {seconds} s") \
            + readme.count(f"-j 2`\n({seconds} s)") >= 1, name


def _run_commands() -> list[tuple[str, list[str]]]:
    """(command, the lines shown under it) of the README's `$ gcperf run` samples."""
    out = []
    for block in _text_blocks(README.read_text(encoding="utf-8")):
        cmd, shown = None, []
        for line in block + ["$ end"]:
            if line.startswith("$ "):
                if cmd is not None and cmd.startswith("gcperf run"):
                    out.append((cmd, shown))
                cmd, shown = line[2:].split("#")[0].strip(), []
            else:
                shown.append(line)
    return out


def test_the_readme_shows_runs():
    assert len(_run_commands()) >= 2


@pytest.mark.parametrize("cmd,shown", _run_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_readme_run_sample_is_what_the_simulation_prints(cmd, shown, capsys):
    """Every line shown appears in the output, in order (a sample may leave lines out); the line
    with the simulator's own speed is the machine's, not the model's, and is not compared."""
    capsys.readouterr()
    assert main(shlex.split(cmd)[1:]) == 0
    out = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    i = 0
    for line in shown:
        if line.strip().startswith("(simulated in") or not line.strip():
            continue
        while i < len(out) and out[i] != line.rstrip():
            i += 1
        assert i < len(out), f"README line not in `{cmd}`'s output (in order): {line!r}\n" + "\n".join(out)
        i += 1


def test_the_readme_diff_sample_is_what_diff_prints(tmp_path, capsys, monkeypatch):
    """The README's `gcperf diff c12 c13 ...` block, from the two compare runs the text names."""
    block = next(b for b in _text_blocks(README.read_text(encoding="utf-8")) if b and b[0].startswith("$ gcperf diff"))
    monkeypatch.chdir(tmp_path)
    for v, out in (("3.12", "c12"), ("3.13", "c13")):
        assert main(["compare", "-V", v, "--quick", "-o", out]) == 0
    capsys.readouterr()
    assert main(shlex.split(block[0][2:])[1:]) == 1  # the sample's gate fails, as the README says
    cap = capsys.readouterr()
    printed = (cap.out + cap.err).splitlines()
    assert [line.rstrip() for line in block[1:]] == [line.rstrip() for line in printed]


@pytest.mark.slow  # 12 runs of 31 simulated seconds with the memory model: ~2 min
def test_the_readme_compare_sample_is_what_compare_prints(capsys):
    block = next(b for b in _text_blocks(README.read_text(encoding="utf-8"))
                 if b and b[0].startswith("$ gcperf compare"))
    capsys.readouterr()
    assert main(shlex.split(block[0][2:])[1:]) == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert [line.rstrip() for line in block[1:]] == printed
