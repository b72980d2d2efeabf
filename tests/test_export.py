"""Export to other tools: Chrome/Perfetto trace events (gcperf run --trace-out) and Parquet tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gcperf import GCSettings, Scenario, simulate
from gcperf.cli import main
from gcperf.store.export import chrome_trace


@pytest.mark.parametrize("memory", [False, True])
def test_the_trace_has_every_collection_as_a_slice_and_the_timeline_as_counters(memory):
    r = simulate(Scenario("web", GCSettings(version="3.12"), seed=3, duration_s=1.0, memory=memory))
    doc = json.loads(json.dumps(chrome_trace(r)))  # plain JSON, as written
    ev = doc["traceEvents"]
    slices = [e for e in ev if e["ph"] == "X"]
    c = r.collections
    assert len(slices) == len(c) > 0
    for e, row in zip(slices, c.itertuples(), strict=True):  # in time order, as the collections
        assert e["tid"] == row.generation + 1
        assert e["ts"] == pytest.approx(row.time_s * 1e6)
        assert e["dur"] == pytest.approx(row.pause_ms * 1e3) and e["dur"] >= 0
        assert e["args"]["examined"] == row.examined
    names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {f"generation {g} collections" for g in range(3)}
    counters = [e for e in ev if e["ph"] == "C"]
    objs = [e for e in counters if e["name"] == "tracked objects"]
    assert len(objs) == len(r.timeline)
    assert [e["args"]["generation 2"] for e in objs] == r.timeline["gen2_objects"].tolist()
    mem = [e for e in counters if e["name"] == "memory (MiB)"]
    assert (len(mem) == len(r.timeline)) if memory else not mem
    ts = [e["ts"] for e in ev if e["ph"] != "M"]
    assert ts == sorted(ts)


def test_run_trace_out_writes_a_new_file_and_never_over_one(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["run", "--no-memory", "-d", "1", "--trace-out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert any(e["ph"] == "X" for e in doc["traceEvents"])
    assert "trace events written" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["run", "--no-memory", "-d", "1", "--trace-out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_run_tables_also_as_parquet_when_pyarrow_is_there(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow", reason="the parquet extra is not installed")
    d = tmp_path / "r"
    assert main(["run", "--no-memory", "-d", "1", "-o", str(d)]) == 0
    meta = json.loads((d / "meta.json").read_text())
    for name in ("collections", "timeline", "summary"):
        assert f"{name}.parquet" in meta["tables"]
        pq = pd.read_parquet(d / f"{name}.parquet")
        csv = pd.read_csv(d / f"{name}.csv")
        assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv)
        # numbers equal (Parquet keeps text as text: "3.13" is a version there, a float in the CSV read back)
        num = [c for c in csv.select_dtypes("number").columns if c in pq.select_dtypes("number").columns]
        assert len(num) > 5
        pd.testing.assert_frame_equal(pq[num].reset_index(drop=True), csv[num], check_dtype=False)
    # without pyarrow the next run writes none, and the earlier run's Parquet files go with it
    monkeypatch.setattr("gcperf.store.export.parquet_available", lambda: False)
    assert main(["run", "--no-memory", "-d", "1", "-o", str(d), "--force"]) == 0
    assert not list(d.glob("*.parquet"))
    assert set(json.loads((d / "meta.json").read_text())["tables"]) == {"collections.csv", "timeline.csv",
                                                                         "summary.csv"}
