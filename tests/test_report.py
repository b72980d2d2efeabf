"""gcperf report: one self-contained HTML page of a sweep, checked in a real headless browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gcperf.cli import main
from gcperf.studies.recommend import Constraints, recommend

pytest.importorskip("plotly", reason="the report extra (plotly) is not installed")

from gcperf.studies.report import report_data, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "web-service"

pytestmark = pytest.mark.skipif(not (RESULTS / "aggregate.csv").exists(), reason="results/web-service is not here")


def test_the_page_data_are_the_sweeps():
    import pandas as pd

    data = report_data(RESULTS, Constraints(max_footprint_increase_pct=5))
    agg = pd.read_csv(RESULTS / "aggregate.csv")
    assert len(data["points"]) == len(agg) == len(data["details"])
    rec = recommend(RESULTS, Constraints(max_footprint_increase_pct=5))
    chosen = [p for p in data["points"] if p["recommended"]]
    assert [p["label"] for p in chosen] == [rec.label]
    assert sum(p["default"] for p in data["points"]) == 1
    by_point = {p["point"]: p for p in data["points"]}
    for _, row in agg.iterrows():
        assert by_point[int(row["point"])]["mean"]["gc_share"] == pytest.approx(row["gc_share_mean"])
    assert data["recommendation"].startswith("Recommended for CPython")


def test_the_page_is_self_contained_and_never_written_over_a_file(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(RESULTS), "-o", str(out)]) == 0
    page = out.read_text()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import", page)  # nothing fetched
    assert "Plotly.newPlot" in page and "gcperf-data" in page
    first = out.read_bytes()
    assert main(["report", str(RESULTS), "-o", str(out)]) == 2  # an earlier report: only with --force
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(RESULTS), "-o", str(out), "--force", "--max-p99-pause-ms", "2"]) == 0
    assert out.read_bytes() != first
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my page</html>")
    for extra in ([], ["--force"]):
        assert main(["report", str(RESULTS), "-o", str(mine), *extra]) == 2
    assert mine.read_text() == "<html>my page</html>"
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "x.html")]) == 2  # not a sweep
    assert not (tmp_path / "x.html").exists()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.long  # over ~3 s: .ci/run runs it after the README's test command
def test_the_page_in_a_headless_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on this machine (Debian: apt install chromium)")
    out = write_report(RESULTS, tmp_path / "r.html", Constraints(max_footprint_increase_pct=5))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(f"fetched {r.url}") if not r.url.startswith("file:") else None)
            page.goto(out.as_uri())
            page.wait_for_selector("#tradeoff .scatterlayer .point", timeout=30_000)
            points = page.query_selector_all("#tradeoff .scatterlayer .point")
            assert len(points) == 21
            before = page.text_content("#detail-title")
            assert before.startswith("Setting 3.13 (25000,50,10)")  # the recommendation, shown first
            page.query_selector_all("#timeline .scatterlayer .trace")  # the detail charts are drawn
            assert page.query_selector("#pauses .scatterlayer .trace") is not None
            points[0].click(force=True)
            page.wait_for_function("document.getElementById('detail-title').textContent !== "
                                   f"{before!r}", timeout=10_000)
            after = page.text_content("#detail-title")
            assert after != before and after.startswith("Setting 3.13 (")
            assert page.query_selector("#settings tr.selected") is not None
            assert errors == []
        finally:
            browser.close()


def test_a_validation_result_goes_into_the_page(tmp_path, capsys):
    v = ROOT / "results" / "validation" / "3.11.7" / "lru_service.json"
    if not v.exists():
        pytest.skip("results/validation is not here")
    import json

    doc = json.loads(v.read_text())
    out = tmp_path / "r.html"
    assert main(["report", str(RESULTS), "-o", str(out), "--validation", str(v)]) == 0
    page = out.read_text()
    table = page[page.index("<table id='validation'>"):]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == len(doc["table"]) + 1
    first = doc["table"][0]
    assert f"<td>{first['pred_gen0']:.4g}</td><td>{first['real_gen0']:.4g}</td>" in table
    bad = tmp_path / "bad.json"
    bad.write_text('{"table": []}')
    assert main(["report", str(RESULTS), "-o", str(tmp_path / "r2.html"), "--validation", str(bad)]) == 2
    assert not (tmp_path / "r2.html").exists()
    # without one, the page says there is nothing to validate (the web workload is not a calibrated model)
    assert "not a calibrated model" in (write_report(RESULTS, tmp_path / "r3.html")).read_text()
