"""gcperf deletes only what it wrote; quick sweeps have their own folder and say they are quick (issue 10.1, 10.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gcperf.cli import main
from gcperf.errors import GcperfError
from gcperf.safeio import MARKER
from gcperf.studies.experiment import parse_experiment
from gcperf.studies.sweep import sweep

TINY_TOML = """
name = "tiny"
replicates = 2
root_seed = 3
[base]
workload = "cycles"
version = "3.12"
duration_s = 0.1
timeline_points = 10
memory = false
[grid]
threshold0 = [700, 5000]
[quick]
duration_s = 0.05
replicates = 1
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with the user's own files, as the current directory."""
    root = tmp_path / "project"
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "tiny.toml").write_text(TINY_TOML)
    (root / "src.py").write_text("print('mine')\n")
    (root / "data").mkdir()
    (root / "data" / "big.csv").write_text("a,b\n1,2\n")
    monkeypatch.chdir(root)
    return root


def err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gcperf: error: "), err
    return err[0]


def test_run_into_the_current_directory_is_refused_before_any_work(project, capsys):
    before = snapshot(project)
    for args in (["-o", "."], ["-o", ".", "--force"], ["-o", str(project), "--force"], ["-o", "..", "--force"],
                 ["-o", "data", "--force"], ["-o", "src.py"], ["-o", "/proc/x"]):
        # -d 1e9 would simulate for hours: an immediate refusal proves the check comes first
        assert main(["run", "-d", "1e9", *args]) == 2, args
        err_line(capsys)
    assert snapshot(project) == before


def test_run_output_is_marked_and_force_replaces_only_gcperfs_files(project, capsys):
    from gcperf.store.export import parquet_available

    assert main(["run", "-w", "cycles", "-d", "0.05", "--no-memory", "-o", "out"]) == 0
    marker = json.loads((project / "out" / MARKER).read_text())
    assert marker["kind"] == "run"
    meta = json.loads((project / "out" / "meta.json").read_text())
    parquet = {"collections.parquet", "timeline.parquet", "summary.parquet"} if parquet_available() else set()
    assert set(meta["tables"]) == {"collections.csv", "timeline.csv", "summary.csv"} | parquet
    (project / "out" / "notes.txt").write_text("my notes")
    assert main(["run", "-w", "cycles", "-d", "0.05", "--no-memory", "-o", "out"]) == 2
    assert "use --force" in err_line(capsys)
    assert main(["run", "-w", "cycles", "-d", "0.05", "--no-memory", "-s", "1", "-o", "out", "--force"]) == 0
    assert (project / "out" / "notes.txt").read_text() == "my notes"
    assert json.loads((project / "out" / "meta.json").read_text())["inputs"]["seed"] == 1


def test_sweep_never_deletes_a_folder_it_did_not_make(project, capsys):
    before = snapshot(project)
    for out in ("data", ".", "..", str(Path.home())):
        for force in ([], ["--force"]):
            assert main(["sweep", "tiny", "-o", out, "--no-plots", *force]) == 2
            err_line(capsys)
    assert snapshot(project) == before


def test_sweep_force_keeps_foreign_files_in_its_own_folder(project, capsys):
    assert main(["sweep", "tiny", "-o", "res", "--no-plots", "-j", "1"]) == 0
    (project / "res" / "mine.txt").write_text("keep me")
    (project / "res" / "runs" / "mine.csv.gz").write_text("keep me too")
    assert main(["sweep", "tiny", "-o", "res", "--no-plots", "-j", "1", "--force"]) == 0
    assert (project / "res" / "mine.txt").read_text() == "keep me"
    assert (project / "res" / "runs" / "mine.csv.gz").read_text() == "keep me too"
    assert len((project / "res" / "runs.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "..", "a/b", ""])
def test_experiment_names_are_names_not_paths(project, capsys, name):
    (project / "experiments" / "evil.toml").write_text(TINY_TOML.replace('name = "tiny"', f"name = {name!r}"))
    assert main(["sweep", "evil", "--no-plots", "--force"]) == 2
    assert "'name' must be" in err_line(capsys)
    with pytest.raises(GcperfError, match="'name' must be"):
        parse_experiment({"name": name}, "x.toml")


def test_quick_sweeps_have_their_own_folder_and_say_so(project, capsys):
    # the full results exist (committed, or from a long sweep): a quick sweep must leave them alone
    assert main(["sweep", "tiny", "--no-plots", "-j", "1"]) == 0
    full = snapshot(project / "results" / "tiny")
    assert main(["sweep", "tiny", "--quick", "-j", "1", "--no-plots"]) == 0
    assert snapshot(project / "results" / "tiny") == full
    quick = project / "results" / "tiny-quick"
    assert json.loads((quick / "meta.json").read_text())["quick"] is True
    capsys.readouterr()
    assert main(["recommend", str(quick)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("QUICK RESULTS: drawn from a --quick sweep")
    assert main(["recommend", str(quick), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quick"] is True
    assert main(["recommend", "results/tiny"]) == 0
    assert "QUICK" not in capsys.readouterr().out
    # a quick sweep into the full folder is refused, with the reason
    assert main(["sweep", "tiny", "--quick", "-o", "results/tiny", "--no-plots"]) == 2
    assert "another configuration" in err_line(capsys)


def test_quick_charts_are_titled_quick(project):
    import matplotlib

    matplotlib.use("Agg")
    out = sweep(parse_experiment({"name": "q", "replicates": 1, "base": {"workload": "cycles", "duration_s": 0.05,
                                                                          "version": "3.12", "memory": False},
                                  "grid": {"threshold0": [700, 5000]}}, "q.toml"), project / "q", quick=True,
                workers=1)
    from gcperf.studies import charts

    titles = []
    real_save = charts.save

    def spy(fig, path):
        titles.append(fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title())
        return real_save(fig, path)

    charts.save = spy
    try:
        charts.plot_results(out)
    finally:
        charts.save = real_save
    assert titles and all("QUICK" in t for t in titles if t), titles


def test_older_unmarked_results_are_resumed_but_never_deleted(project, capsys):
    assert main(["sweep", "tiny", "-o", "old", "--no-plots", "-j", "1"]) == 0
    (project / "old" / MARKER).unlink()  # as written by a gcperf before the marker
    before = snapshot(project / "old")
    capsys.readouterr()
    assert main(["sweep", "tiny", "-o", "old", "--no-plots", "-j", "1", "--force"]) == 2
    assert "will not delete anything" in err_line(capsys)
    assert snapshot(project / "old") == before
    assert main(["sweep", "tiny", "-o", "old", "--no-plots", "-j", "1"]) == 0  # resumed (nothing to do), adopted
    assert (project / "old" / MARKER).is_file()
