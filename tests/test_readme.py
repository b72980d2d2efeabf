"""The README's sample outputs and tables are re-derived from the committed results: a number that
goes stale fails here."""

from __future__ import annotations

import contextlib
import importlib.util
import json
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
    # and it is the table whole, once: its block of rows as summary.md has it, nothing older left around it
    block = [line for line in text.splitlines() if line.startswith("|")]
    lines = readme.splitlines()
    start = lines.index(block[0])
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    assert lines[start:end] == block


def test_the_sweep_timings_are_what_the_committed_meta_files_say():
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


@pytest.mark.long  # ~5 s: .ci/run runs it after the README's test command
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


@pytest.mark.slow  # 21 runs of 31 simulated seconds with the memory model: ~3 min
def test_the_readme_compare_samples_are_what_compare_prints(capsys):
    blocks = [b for b in _text_blocks(README.read_text(encoding="utf-8")) if b and b[0].startswith("$ gcperf compare")]
    assert len(blocks) == 3
    for block in blocks:
        capsys.readouterr()
        assert main(shlex.split(block[0][2:])[1:]) == 0
        printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
        assert [line.rstrip() for line in block[1:]] == printed


# --- figures quoted in the prose: each is re-derived from the committed file or the code named
# beside it, so that a table regenerated without its text (or the reverse) fails here.

def _flat(path: Path = README) -> str:
    """The file's text with every run of whitespace one space (prose wraps anywhere)."""
    return " ".join(path.read_text(encoding="utf-8").split())


def _find(pattern: str, text: str) -> tuple[str, ...]:
    m = re.search(pattern, text)
    assert m, f"the README no longer has a passage matching {pattern!r}: update this test with it"
    return m.groups()


def _shown(value: float, text: str) -> bool:
    """``text`` is ``value`` rounded to the digits it shows ("1 000" and "2,536" allowed)."""
    text = text.replace(" ", "").replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == round(float(text), decimals)


def _meta(name: str) -> dict:
    path = RESULTS / name / "meta.json"
    if not path.exists():
        pytest.skip(f"results/{name} is not in this checkout")
    return json.loads(path.read_text(encoding="utf-8"))


def _git_show(spec: str) -> str:
    """A file as an older commit has it (the README cites the commit); skipped in a shallow clone."""
    import subprocess

    try:
        return subprocess.run(["git", "show", spec], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"`git show {spec}` is not available in this checkout")


def test_the_experiments_table_is_what_the_experiment_files_declare():
    """Grid points x replicates of each experiment, and every number of its grid column, as
    experiments/NAME.toml declares them and results/NAME/meta.json records the runs."""
    from gcperf.studies.experiment import load_experiment

    rows = re.findall(r"^\| `([a-z0-9-]+)` \| [^|]+ \| ([^|]+) \| (\d+) × (\d+) \|$",
                      README.read_text(encoding="utf-8"), flags=re.M)
    assert sorted(r[0] for r in rows) == sorted(p.stem for p in (ROOT / "experiments").glob("*.toml"))
    checked = 0
    for name, grid, points, replicates in rows:
        exp = load_experiment(str(ROOT / "experiments" / f"{name}.toml"))
        assert (int(points), int(replicates)) == (len(exp.points()), exp.replicates), name
        if (RESULTS / name / "meta.json").exists():
            assert _meta(name)["runs"] == int(points) * int(replicates), name
        declared = set()
        for v in [*exp.base.values(), *(x for vs in exp.grid.values() for x in vs)]:
            with contextlib.suppress(TypeError, ValueError):
                declared.add(float(v))
        quoted = re.findall(r"(?<![\w.])\d+(?: \d{3})*(?:\.\d+)?(?![\w.])", grid)
        checked += len(quoted)
        missing = [q for q in quoted if float(q.replace(" ", "")) not in declared]
        assert not missing, f"{name}: the grid column quotes {missing}, not in experiments/{name}.toml"
    assert checked >= 10


def test_the_sweep_sizes_and_times_quoted_are_the_committed_ones():
    from gcperf.studies.experiment import load_experiment
    from gcperf.studies.sweep import plan_sweep

    readme, results = _flat(), _flat(RESULTS / "README.md")
    short = ("batch-heap", "cycles", "upgrade-3-12-to-3-13", "web-service")
    minutes = round(sum(_meta(n)["elapsed_s"] for n in short) / 60)
    assert int(_find(r"regenerated by `gcperf sweep all --force -j 1` \((\d+) min", readme)[0]) == minutes
    assert int(_find(r"gcperf sweep all --force -j 1 # the four short ones, (\d+) min", results)[0]) == minutes
    long_minutes = round(_meta("web-service-long")["elapsed_s"] / 60)
    assert int(_find(r"gcperf sweep web-service-long --force -j 2 # (\d+) min", results)[0]) == long_minutes
    points, replicates, m = _find(r"\((\d+) settings × (\d+) replicates, (\d+) min with `-j 2`\)", readme)
    exp = load_experiment(str(ROOT / "experiments" / "web-service-long.toml"))
    assert (int(points), int(replicates), int(m)) == (len(exp.points()), exp.replicates, long_minutes)
    exp = load_experiment(str(ROOT / "experiments" / "web-service.toml"))
    points, replicates = _find(r"The web service, (\d+) threshold settings × (\d+) replicates", readme)
    assert (int(points), int(replicates)) == (len(exp.points()), exp.replicates)
    # what `gcperf sweep web-service -j 1` prints before it starts
    assert _find(r"\(`(\d+ runs \(\d+ points x \d+ replicates\), about [^`]+ on 1 process)`\)", readme)[0] \
        == plan_sweep(exp, workers=1).describe()
    # the previous regeneration, by the meta.json files of the commit named
    rev = _find(r"which took \d+ min by the `meta.json` files of commit ([0-9a-f]{7,})", readme)[0]
    before = sum(json.loads(_git_show(f"{rev}:results/{n}/meta.json"))["elapsed_s"] for n in short)
    assert int(_find(r"previous regeneration, which took (\d+) min", readme)[0]) == round(before / 60)


def _recommendation(name: str, **constraints):
    from gcperf.studies.recommend import Constraints, recommend

    if not (RESULTS / name / "summary.csv").exists():
        pytest.skip(f"results/{name} is not in this checkout")
    r = recommend(RESULTS / name, Constraints(**constraints))
    return r, {c.metric: c for c in r.comparisons}


def _thresholds(r) -> tuple[int, int, int]:
    return tuple(int(r.setting[f"threshold{g}"]) for g in range(3))


def test_the_recommendations_quoted_in_the_text_are_what_the_committed_results_give():
    """The prose after the recommend blocks: batch-heap, the upgrade, the web service's frontier
    and the default's longest pause (the recommend blocks themselves are compared above)."""
    flat = _flat()
    g = _find(r"`gcperf recommend results/batch-heap` \(thresholds \((\d+),(\d+),(\d+)\) and `gc.freeze\(\)` after "
              r"loading: GC share (\d+) % → (\d+) %, longest pause ([\d.]+) s → (\d+) ms, p99 ([\d.]+) → ([\d.]+) ms\)",
              flat)
    r, c = _recommendation("batch-heap")
    assert (_thresholds(r), r.setting["freeze_after"]) == (tuple(map(int, g[:3])), "load")
    assert _shown(100 * c["gc_share"].default, g[3]) and _shown(100 * c["gc_share"].value, g[4])
    assert _shown(c["pause_max_ms"].default / 1000, g[5]) and _shown(c["pause_max_ms"].value, g[6])
    assert _shown(c["pause_p99_ms"].default, g[7]) and _shown(c["pause_p99_ms"].value, g[8])

    g = _find(r"`gcperf recommend results/upgrade-3-12-to-3-13 -V 3.13` \(freeze after start-up: −(\d+) % GC time, "
              r"−(\d+) % longest pause, \+([\d.]+) MiB peak footprint\)", flat)
    r, c = _recommendation("upgrade-3-12-to-3-13", version="3.13")
    assert r.setting["freeze_after"] == "startup"
    assert _shown(-100 * c["gc_share"].diff / c["gc_share"].default, g[0])
    assert _shown(-100 * c["pause_max_ms"].diff / c["pause_max_ms"].default, g[1])
    assert _shown(c["peak_footprint_mb"].diff, g[2])

    g = _find(r"\(2000,10,10\) sits at its knee, (\d+) collections per second; ([\d ]+) cuts that to ([\d.]+) for "
              r"\+([\d.]+) MiB of peak footprint", flat)
    r, c = _recommendation("web-service", max_footprint_increase_pct=5)
    assert _shown(c["pauses_per_s"].default, g[0]) and _thresholds(r)[0] == int(g[1].replace(" ", ""))
    assert _shown(c["pauses_per_s"].value, g[2]) and _shown(c["peak_footprint_mb"].diff, g[3])
    assert _shown(c["pause_max_ms"].default, _find(r"each about as long as the default's (\d+) ms", flat)[0])
    for name in ("web-service", "web-service-long"):  # "`--max-p99-pause-ms 2` makes the default the answer"
        assert _recommendation(name, max_p99_pause_ms=2)[0].is_default, name


def test_the_long_service_figures_are_what_its_committed_results_give():
    import pandas as pd

    flat = _flat()
    long_, short = (RESULTS / n / "aggregate.csv" for n in ("web-service-long", "web-service"))
    if not (long_.exists() and short.exists()):
        pytest.skip("the web-service results are not in this checkout")
    long_, short = pd.read_csv(long_), pd.read_csv(short)

    def row(t, thresholds):
        hit = t[(t.threshold0 == thresholds[0]) & (t.threshold1 == thresholds[1]) & (t.threshold2 == thresholds[2])]
        assert len(hit) == 1, thresholds
        return hit.iloc[0]

    assert _shown(long_.peak_footprint_mb_mean.max() / 1024, _find(r"the footprint grows to about ([\d.]+) GiB", flat)[0])
    g = _find(r"The short run's answer, \((\d+),(\d+),(\d+)\), now has a p99 pause of (\d+) ms instead of ([\d.]+) ms: "
              r"it makes (\d+) collections, (\d+) of them of the middle generation, .{0,120}? its one full collection "
              r"takes ([\d.]+) s", flat)
    t = tuple(map(int, g[:3]))
    r, _ = _recommendation("web-service", max_footprint_increase_pct=5)
    assert _thresholds(r) == t  # "the short run's answer"
    lr, sr = row(long_, t), row(short, t)
    assert _shown(lr.pause_p99_ms_mean, g[3]) and _shown(sr.pause_p99_ms_mean, g[4])
    assert _shown(lr.collections_mean, g[5]) and _shown(lr.collections_gen1_mean, g[6])
    assert lr.collections_gen2_mean == 1 and _shown(lr.pause_max_ms_mean / 1000, g[7])  # "its one full collection"
    g = _find(r"The new answer, \((\d+),(\d+),(\d+)\), spends the least time in the collector, but its p99 pause is "
              r"(\d+) ms", flat)
    r, c = _recommendation("web-service-long", max_footprint_increase_pct=5)
    assert _thresholds(r) == tuple(map(int, g[:3])) and _shown(c["pause_p99_ms"].value, g[3])


def _summary_cells(text: str) -> dict[str, str]:
    """measure -> its "median over the suite" cell, from a summary.md."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| ([^|]+?) \|", text, flags=re.M)}


def test_the_validation_figures_in_the_text_are_the_committed_ones():
    import pandas as pd

    out = RESULTS / "validation"
    if not (out / "summary.csv").exists():
        pytest.skip("results/validation is not in this checkout")
    flat = _flat()
    t = pd.read_csv(out / "summary.csv")
    held = t[t.setting != "default"]
    words = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13}
    assert words[_find(r"`validation/` holds (\w+) ordinary programs", flat)[0]] == t.program.nunique()
    g = _find(r"in the median over the suite \(gen0 (\d+) %, gen1 (\d+) %, total pause (\d+) %, peak RSS (\d+) %; "
              r"p99 ([\d.]+) % against 30 %\)", flat)
    for metric, shown in zip(("gen0", "gen1", "pause_total_ms", "peak_rss_mib", "pause_p99_ms"), g, strict=True):
        assert _shown(100 * held[f"err_{metric}"].median(), shown), metric
    cases = {}
    for f in sorted(out.glob("3.*/*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        cases[(d["version"], f.stem)] = d["summary"]
    errors = {k: s["median_errors_held_out"] for k, s in cases.items()}
    g = _find(r"Total pause is within 25 % in (\d+) of (\d+) program × version cases, p99 within 30 % in (\d+)\.", flat)
    assert tuple(map(int, g)) == (sum(e["pause_total_ms"] <= 0.25 for e in errors.values()), len(errors),
                                  sum(e["pause_p99_ms"] <= 0.30 for e in errors.values()))
    per_program = held.groupby("program")[["err_gen0", "err_pause_total_ms"]].median()
    assert _shown(100 * per_program.err_gen0["numeric_loop"],
                  _find(r"numeric_loop \(its model collects at the program's pace only near the default: (\d+) % gen0 "
                        r"error", flat)[0])
    for program, minor in (("ast_tree", "3.13"), ("json_window", "3.13"), ("tp_pyflakes", "3.12")):
        (version,) = [v for v, p in errors if p == program and v.startswith(minor + ".")]
        shown = _find(rf"{program} on {re.escape(minor)} \((\d+) %\)", flat)[0]
        assert _shown(100 * errors[(version, program)]["pause_total_ms"], shown), program
    g = _find(r"within x1.25 in (\d+) % of comparisons \(target 80 %\), the ranking's median Kendall tau is ([\d.]+) "
              r"\(0.8\) and the least-pause setting is right in (\d+) of (\d+) cases", flat)
    taus = [s["kendall_tau_total_pause"] for s in cases.values() if s["kendall_tau_total_pause"] is not None]
    assert _shown(100 * (held.change_factor_error <= 1.25).mean(), g[0])
    assert _shown(float(pd.Series(taus).median()), g[1])
    assert (int(g[2]), int(g[3])) == (sum(bool(s["same_least_pause"]) for s in cases.values()), len(cases))
    gaps = {k: s["least_pause_gap"] for k, s in cases.items()}
    g = _find(r"pauses a median (\d+) % of the default's total pause more than the real least-pause setting, at worst "
              r"(\d+) % \((\w+) on ([\d.]+);", flat)
    worst = max(gaps, key=gaps.get)
    assert _shown(100 * float(pd.Series(list(gaps.values())).median()), g[0])
    assert _shown(100 * gaps[worst], g[1]) and (worst[1], worst[0]) == (g[2], g[3])
    speed = float((t.real_wall_s / t.sim_s).median())
    assert _shown(speed, _find(r"A calibrated model simulates ([\d.]+)x faster than the program runs", flat)[0])
    # the self-check's record on the suite, as the sentence below the table (report_text) computes it
    shown = _find(r"On the validation suite the check then warned for (\d+) of (\d+) cases, whose held-out collection "
                  r"counts were a median (\d+) % off against (\d+) % for the rest", flat)
    table = _flat(out / "summary.md")
    assert shown == _find(r"warned for (\d+) of (\d+) cases: .*? Median of their per-case median errors at held-out "
                          r"settings: gen0 (\d+) %, total pause \d+ %; the other cases: gen0 (\d+) %", table)


def _assert_moves(before: dict, after: dict, keys, g) -> None:
    """Summary cell ``keys[i]`` went from ``g[2 i]`` to ``g[2 i + 1]`` (the cells' first words) between
    two summary tables, and every other cell both tables have is the same in both."""
    for i, key in enumerate(keys):
        assert (before[key].split()[0], after[key].split()[0]) == (g[2 * i], g[2 * i + 1]), key
    assert ({k: v for k, v in before.items() if k not in keys and k in after}
            == {k: v for k, v in after.items() if k not in keys and k in before})


def test_the_earlier_validation_figures_are_those_of_the_commits_named():
    """"Before them the same suite gave ..." and "20 -> 19 %": summary.md as the named commits have it."""
    import io

    import pandas as pd

    flat = _flat()
    rev = _find(r"`git show ([0-9a-f]{7,}):results/validation/summary.md`\)\. Recomputed again", flat)[0]
    cells = _summary_cells(_git_show(f"{rev}:results/validation/summary.md"))
    g = _find(r"Before them the same suite gave gen0 (\d+) %, gen1 (\d+) %, total pause (\d+) %, p99 (\d+) %, x1.25 in "
              r"(\d+) % of comparisons, tau ([\d.]+), the least-pause setting right in (\d+ of \d+)", flat)
    keys = ("gen0 relative error", "gen1 relative error", "pause_total_ms relative error", "pause_p99_ms relative error",
            "change of total pause from the default within x1.25", "Kendall tau of settings ranked by total pause",
            "same least-pause setting")
    for key, shown in zip(keys, g, strict=True):
        assert cells[key].startswith(shown), (key, cells[key], shown)
    revs = _find(r"the rest unchanged \(`git show ([0-9a-f]{7,}):results/validation/summary.md` before it, "
                 r"`git show ([0-9a-f]{7,}):results/validation/summary.md` after it\)", flat)
    before = _summary_cells(_git_show(f"{revs[0]}:results/validation/summary.md"))
    now = _summary_cells(_git_show(f"{revs[1]}:results/validation/summary.md"))
    g = _find(r"total pause (\d+) -> (\d+) %, p99 (\d+) -> (\d+) %, tau ([\d.]+) -> ([\d.]+) \(its minimum ([\d.]+) -> "
              r"([\d.]+)\)", flat)
    tau = "Kendall tau of settings ranked by total pause"
    assert (before["pause_total_ms relative error"], now["pause_total_ms relative error"]) == (f"{g[0]} %", f"{g[1]} %")
    assert (before["pause_p99_ms relative error"], now["pause_p99_ms relative error"]) == (f"{g[2]} %", f"{g[3]} %")
    assert (before[tau], now[tau]) == (f"{g[4]} (min {g[6]})", f"{g[5]} (min {g[7]})")
    # "Recomputed once more ... p99 went from 32 to 33 %, the rest unchanged", then "tau 0.59 -> 0.65, the rest
    # unchanged (git show REV before it)": each table against the next
    rev = _find(r"the ranking's median tau [\d.]+ -> [\d.]+, the rest unchanged \(`git show ([0-9a-f]{7,}):results/"
                r"validation/summary.md` before it\)", flat)[0]
    between = _summary_cells(_git_show(f"{rev}:results/validation/summary.md"))
    today = _summary_cells((RESULTS / "validation" / "summary.md").read_text(encoding="utf-8"))
    g = _find(r"and p99 went from (\d+) to (\d+) %, the rest unchanged", flat)
    assert (now["pause_p99_ms relative error"], between["pause_p99_ms relative error"]) == (f"{g[0]} %", f"{g[1]} %")
    assert {k: v for k, v in now.items() if "p99" not in k} == {k: v for k, v in between.items() if k in now and "p99" not in k}
    rev = _find(r"the rest unchanged \(`git show ([0-9a-f]{7,}):results/validation/summary.md` before them\)", flat)[0]
    then = _summary_cells(_git_show(f"{rev}:results/validation/summary.md"))
    g = _find(r"the ranking's median tau ([\d.]+) -> ([\d.]+), the rest unchanged", flat)
    assert (between[tau].split()[0], then[tau].split()[0]) == (g[0], g[1])
    assert {k: v for k, v in between.items() if k != tau} == {k: v for k, v in then.items() if k != tau}
    # "Then once more on 2026-12-05 ...: total pause 19 -> 20 %, ..., the rest unchanged (git show REV before them)",
    # up to the table the next sentence starts from
    rev = _find(r"x1.25 \d+ -> \d+ %, the worst programs' errors a little different, the rest unchanged "
                r"\(`git show ([0-9a-f]{7,}):results/validation/summary.md` before it\)", flat)[0]
    mid = _summary_cells(_git_show(f"{rev}:results/validation/summary.md"))
    g = _find(r"total pause (\d+) -> (\d+) %, p99 (\d+) -> (\d+) %, x1.25 (\d+) -> (\d+) %, tau ([\d.]+) -> ([\d.]+), "
              r"the least-pause setting right in (\d+) -> (\d+) of 32, the rest unchanged", flat)
    keys = ("pause_total_ms relative error", "pause_p99_ms relative error",
            "change of total pause from the default within x1.25", tau, "same least-pause setting")
    _assert_moves(then, mid, keys, g)
    # "Then once more the same day after a change to the population fit: total pause 20 -> 21 %, ..."
    rev = _find(r"the least-pause setting right in \d+ -> \d+ of 32, the worst program's gen0 error \d+ -> \d+ % "
                r"\(numeric_loop\), .*? the rest unchanged \(`git show ([0-9a-f]{7,}):results/validation/summary.md` "
                r"before it\)", flat)[0]
    after = _summary_cells(_git_show(f"{rev}:results/validation/summary.md"))
    g = _find(r"total pause (\d+) -> (\d+) %, p99 (\d+) -> (\d+) %, x1.25 (\d+) -> (\d+) %, the worst programs'", flat)
    keys = keys[:3]
    _assert_moves(mid, after, keys, g)
    # "Then once more after calibrate began to search its population's alpha ...: gen0 8 -> 8 %, ..."
    g = _find(r"alpha, checked by running the model\"\): gen0 (\d+) -> (\d+) %, total pause (\d+) -> (\d+) %, p99 (\d+) -> "
              r"(\d+) % \([\d.]+ -> [\d.]+\), the least-pause setting right in (\d+) -> (\d+) of 32", flat)
    keys = ("gen0 relative error", "pause_total_ms relative error", "pause_p99_ms relative error",
            "same least-pause setting")
    _assert_moves(after, today, keys, g)
    # the earlier speed figures: each as the summary.csv of the commit named has it
    # "ran each row's simulation a median 4 % faster than the one at 10:00 UTC (8.5x at commit 78e0be3, ..."
    g = _find(r"ran each row's simulation a median (\d+) % faster than the one at 10:00 UTC \(([\d.]+)x at commit "
              r"([0-9a-f]{7,}), the same conditions\)", flat)
    then = pd.read_csv(io.StringIO(_git_show(f"{g[2]}:results/validation/summary.csv")))
    now = pd.read_csv(ROOT / "results" / "validation" / "summary.csv")
    rows = then.merge(now, on=["program", "version", "setting"], suffixes=("_then", "_now"))
    assert len(rows) == len(now) == len(then)
    assert _shown(100 * float((rows.sim_s_then / rows.sim_s_now).median() - 1), g[0])
    assert _shown(float((then.real_wall_s / then.sim_s).median()), g[1])
    for pattern in (r"load ~2; ([\d.]+)x before them \(commit ([0-9a-f]{7,}), the same conditions\)",
                    r"([\d.]+)x at commit ([0-9a-f]{7,}) \(load ~3",
                    r"\(([\d.]+)x at commit ([0-9a-f]{7,}), the day before\)"):
        rev = _find(pattern, flat)
        t = pd.read_csv(io.StringIO(_git_show(f"{rev[1]}:results/validation/summary.csv")))
        assert _shown(float((t.real_wall_s / t.sim_s).median()), rev[0]), pattern


def test_the_limits_and_constants_quoted_are_the_code_s():
    from gcperf import Scenario
    from gcperf.engine import schema
    from gcperf.studies import budget, progress
    from gcperf.studies.experiment import MAX_RUNS

    flat = _flat()
    g = _find(r"`gcperf/studies/budget.py`: allocations at (\d+) M/s with the memory model, (\d+) M/s without, plus (\d+) µs "
              r"per expected collection", flat)
    assert tuple(map(float, g)) == (budget.ALLOCATIONS_PER_S[True] / 1e6, budget.ALLOCATIONS_PER_S[False] / 1e6,
                                    budget.COLLECTION_S * 1e6)
    assert float(_find(r"A run estimated at more than (\d+) minutes needs `--yes`", flat)[0]) * 60 == budget.RUN_LIMIT_S
    assert float(_find(r"a sweep estimated beyond (\d+) hours", flat)[0]) * 3600 == budget.SWEEP_LIMIT_S
    assert float(_find(r"a run estimated at more than (\d+) s draws a progress line", flat)[0]) == progress.SHOW_AFTER_S
    shown = _find(r"the default web run is estimated at (\d+ s)", flat)[0]
    assert budget.human_duration(budget.estimate(Scenario("web")).seconds) == shown
    assert int(_find(r"may declare at most ([\d ]+) runs", flat)[0].replace(" ", "")) == MAX_RUNS
    assert int(_find(r"`SCHEMA_VERSION = (\d+)`", flat)[0]) == schema.SCHEMA_VERSION


def test_the_interpreter_figures_quoted_are_the_version_presets():
    from gcperf.cpython.versions import preset

    flat = _flat()
    rss = {v: preset(v).interpreter_rss_kib for v in ("3.11", "3.13")}
    g = _find(r"a bare 3.11 interpreter is (\d+) MiB bigger.{0,300}?`interpreter_rss_kib` in `gcperf/cpython/versions.py`: "
              r"([\d ]+) KiB for 3.11, ([\d ]+) for 3.13", flat)
    assert (int(g[1].replace(" ", "")), int(g[2].replace(" ", ""))) == (rss["3.11"], rss["3.13"])
    assert _shown((rss["3.11"] - rss["3.13"]) / 1024, g[0])
    frozen = preset("3.12").startup_frozen
    assert int(_find(r"On 3.12 the interpreter's (\d+) start-up immortal objects", flat)[0]) == frozen
    assert int(_find(r"`gc.get_freeze_count\(\)` is (\d+) on a fresh 3.12", flat)[0]) == frozen


def test_the_real_interpreter_counts_are_those_of_its_test():
    from test_real_interpreter import PROGRAMS

    flat = _flat()
    n = len(PROGRAMS)
    assert int(_find(r"\*\*Real interpreters\*\* \(`tests/test_real_interpreter.py`\): (\d+) programs", flat)[0]) == n
    assert int(_find(r"against every interpreter found \([^)]*\), for (\d+) programs", flat)[0]) == n
    found = _find(r"run as scripts under every CPython found \(here ([\d.t, ]+);", flat)[0].split(", ")
    g = _find(r"(\d+) of (\d+) comparisons \(`python -m pytest tests/test_real_interpreter.py -k collections_match`, "
              r"[\d-]+: (\d+) passed, \d+ skipped\)", flat)
    assert tuple(map(int, g)) == (n * len(found),) * 3


def test_the_cost_figures_quoted_are_those_of_the_shipped_costs():
    import statistics

    models = [v["model"] for v in json.loads((ROOT / "gcperf" / "data" / "costs.json").read_text())["versions"].values()]
    g = _find(r"rises about (\d+)× once the examined set leaves the CPU caches \(half the rise at ~([\d ]+) objects",
              _flat())
    assert _shown(statistics.median(m["cache_factor"] for m in models), g[0])
    half = statistics.median(m["cache_half_objects"] for m in models)
    assert abs(half / float(g[1].replace(" ", "")) - 1) < 0.05, half


def test_the_speed_figures_agree_with_each_other():
    """Benchmark figures are the machine's and cannot be re-derived; but the ratios quoted in the
    opening, the options and the Speed section must be those of the Speed tables."""
    text = README.read_text(encoding="utf-8")
    flat = _flat()

    def cell(pattern: str) -> tuple[str, ...]:
        return _find(pattern, text)

    def near(a: float, b: float, rel: float = 0.02) -> bool:  # ratios of rounded figures
        return abs(a / b - 1) <= rel

    core = float(cell(r"\| batched, collector only [^|]+\| [\d.]+ M \| ([\d.]+) \|")[0])
    own, own_ratio = map(float, cell(r"\| batched, with the memory model [^|]+\| [\d.]+ M \| ([\d.]+) \(([\d.]+) of the "
                                     r"above\) \|"))
    inline, inline_ratio = map(float, cell(r"\| the same with the model in line [^|]+\| [\d.]+ M \| ([\d.]+) \(([\d.]+)\) \|"))
    naive = float(cell(r"\| naive, one SimPy event per allocation \| [\d.]+ M \| ([\d.]+) \|")[0])
    speedup = float(cell(r"\| speed-up of the batched collector over naive \| \| (\d+)× \|")[0])
    assert near(own / core, own_ratio) and near(inline / core, inline_ratio) and near(core / naive, speedup)
    assert float(_find(r"the run goes at ([\d.]+) of the collector-only speed", flat)[0]) == own_ratio
    assert float(_find(r"with the thread off: ([\d.]+) of the collector-only speed", flat)[0]) == inline_ratio
    g = _find(r"`--no-memory` \(collector only: about ([\d.]+)× faster on two or more cores, ([\d.]+)× on one", flat)
    assert _shown(1 / own_ratio, g[0]) and _shown(1 / inline_ratio, g[1])
    assert float(_find(r"about 0\.6–([\d.]+) of that with it \(([\d.]+) with the model on its own thread", flat)[1]) \
        == own_ratio

    gcperf = float(_find(r"gcperf \(collector only, ([\d.]+) M/s here\) is", flat)[0])
    lean, lean_x = map(float, cell(r"\| lean naive SimPy model [^|]+\| ([\d.]+) \| (\d+)× it"))
    heavy, heavy_x = map(float, cell(r"\| heavier naive model [^|]+\| ([\d.]+) \| (\d+)× it"))
    reals, real_xs = cell(r"\| real CPython [^|]+\| ([\d. /]+) \| ([\d.×/ ]+) them")
    limit, limit_x = map(float, cell(r"\| limit: [^|]+\| ([\d.]+) \| ([\d.]+) of it"))
    assert near(gcperf / lean, lean_x) and near(gcperf / heavy, heavy_x) and near(gcperf / limit, limit_x)
    reals = [float(x) for x in reals.split(" / ")]
    real_xs = [float(x.strip(" ×")) for x in real_xs.split(" / ")]
    assert all(near(gcperf / r, x) for r, x in zip(reals, real_xs, strict=True))
    g = _find(r"(\d+)–(\d+) million simulated allocations per second on one core without the memory model", flat)
    slowest = float(_find(r"ran the same collector-only web run \(`bench_engine.py`'s \"core engine\" row\) at "
                          r"([\d.]+) M/s", flat)[0])
    assert (int(g[0]), int(g[1])) == (int(slowest), int(core + 0.5))
    g = _find(r"(\d+)× a naive SimPy model and (\d+)–(\d+)× the real interpreter's own allocation loop", flat)
    assert float(g[0]) == lean_x and (int(g[1]), int(g[2])) == (int(min(real_xs)), int(max(real_xs) + 0.5))


def test_the_compare_reading_is_what_the_compare_sample_shows():
    block = next(b for b in _text_blocks(README.read_text(encoding="utf-8")) if b and b[0].startswith("$ gcperf compare"))
    versions = block[1 + 1].split()  # the header line of versions, under the title line
    col = versions.index("3.13")

    def change(label: str) -> float:
        line = next(line for line in block if line.startswith(label))
        cells = re.findall(r"\[([+-]\d+)%\]", line)
        return float(cells[col - 1])  # the first version has no change
    g = _find(r"Raising threshold0 to 2000 in 3.13 cut this workload's pauses by (\d+) % and (\w+) its p99 pause", _flat())
    assert -change("total pause (ms)") == float(g[0])
    factor = {"doubled": 2, "tripled": 3, "quadrupled": 4}[g[1]]
    assert abs((1 + change("p99 pause (ms)") / 100) - factor) < 0.5


def test_the_incremental_story_is_what_its_committed_compare_says():
    """The prose under the 3.13 -> 3.14.0 -> 3.14.4 compare, from results/incremental-3-14/compare-cycles."""
    import pandas as pd

    c = pd.read_csv(RESULTS / "incremental-3-14" / "compare-cycles" / "compare.csv").set_index("version")
    text = _flat()
    g0, g4 = _find(r"([\d.]+)× the peak uncollected garbage on 3\.14\.0 and ([\d.]+)× on 3\.14\.1–3\.14\.4", text)
    base = c.loc["3.13", "peak_garbage_objects_mean"]
    assert _shown(c.loc["3.14.0", "peak_garbage_objects_mean"] / base, g0)
    assert _shown(c.loc["3.14.4", "peak_garbage_objects_mean"] / base, g4)
    f0, f4 = _find(r"\+(\d+) % and \+(\d+) % peak footprint", text)
    assert _shown(c.loc["3.14.0", "peak_footprint_mb_change_pct"], f0)
    assert _shown(c.loc["3.14.4", "peak_footprint_mb_change_pct"], f4)
    (p99,) = _find(r"in one go: p99 ×(\d+)", text)
    assert _shown(c.loc["3.14.4", "pause_p99_ms_mean"] / c.loc["3.13", "pause_p99_ms_mean"], p99)
