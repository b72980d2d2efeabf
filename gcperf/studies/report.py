"""``gcperf report RESULTS``: a sweep's results as one self-contained HTML page.

The page needs no network: plotly.js (from the ``plotly`` package, the ``report`` extra) and
the data are inline. It holds the tradeoff chart (GC share of wall time against peak footprint,
one point per setting with its 95 % intervals; hovering shows the setting and its metrics,
clicking shows that setting's footprint timeline and pause distribution of its first replicate
below), the recommendation under the given constraints (as ``gcperf recommend`` prints it, with
its warnings and the code to apply), the table of every setting, and the provenance of the
results (``meta.json``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..errors import GcperfError
from ..store.output import finite_or_none

TABLE_METRICS = (
    ("gc_share", "GC share %", 100.0),
    ("pauses_per_s", "collections/s", 1.0),
    ("pause_p99_ms", "p99 pause ms", 1.0),
    ("pause_max_ms", "longest pause ms", 1.0),
    ("peak_footprint_mb", "peak footprint MiB", 1.0),
)


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise GcperfError("gcperf report needs plotly: pip install 'gcperf[report]'") from None
    return get_plotlyjs()


def _setting_label(row) -> str:
    parts = [f"{row['version']} ({int(row['threshold0'])},{int(row['threshold1'])},{int(row['threshold2'])})"]
    if str(row.get("freeze_after", "") or ""):
        parts.append(f"freeze after {row['freeze_after']}")
    if str(row.get("enabled", True)) in ("False", "false", "0"):
        parts.append("gc disabled")
    for c in row.index:
        if c.startswith("param_") and c.removeprefix("param_") not in ("version", "threshold0", "threshold1",
                                                                       "threshold2", "freeze_after", "workload"):
            parts.append(f"{c.removeprefix('param_')}={row[c]}")
    return ", ".join(parts)


VALIDATION_COLUMNS = (("gen0", "gen0 collections"), ("gen1", "gen1 collections"),
                      ("pause_total_ms", "total pause ms"), ("pause_p99_ms", "p99 pause ms"),
                      ("peak_rss_mib", "peak RSS MiB"))


def load_validation(path: str | Path) -> dict:
    """A ``gcperf validate -o FILE`` result (its table of predicted against measured settings).

    Raises:
        GcperfError: missing, corrupt, or not a validation result.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GcperfError(f"cannot read the validation {p}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("table"), list) or not doc["table"] \
            or not all(isinstance(r, dict) and "setting" in r for r in doc["table"]):
        raise GcperfError(f"{p} is not a `gcperf validate -o` result (no table of settings)")
    return doc


def report_data(folder: str | Path, constraints=None, validation: dict | None = None) -> dict:
    """Everything the page shows, as plain data (``validation``: :func:`load_validation`'s).

    Raises:
        GcperfError: not a finished sweep, or corrupt results.
    """
    from .recommend import Constraints, format_recommendation, is_default, load_results, recommend
    from .sweep import read_detail

    folder = Path(folder)
    agg, summ, meta = load_results(folder)
    rec = None
    rec_text = ""
    try:
        rec = recommend(folder, constraints or Constraints())
        rec_text = format_recommendation(rec)
    except GcperfError as e:  # e.g. a sweep of several versions without -V: the page says why
        rec_text = f"no recommendation: {e}"
    points = []
    details = {}
    for _, row in agg.iterrows():
        p = int(row["point"])
        runs = summ[summ["point"] == p].sort_values("replicate")
        label = _setting_label(row)
        m = {k: finite_or_none(row.get(f"{k}_mean")) for k, _, _ in TABLE_METRICS}
        ci = {k: finite_or_none(row.get(f"{k}_ci95")) for k, _, _ in TABLE_METRICS}
        points.append({"point": p, "label": label, "version": str(row["version"]), "default": bool(is_default(row)),
                       "recommended": rec is not None and p == int(rec.extra["point"]), "mean": m, "ci95": ci,
                       "replicates": int(row.get("replicates", len(runs)))})
        if len(runs):
            run_id = str(runs.iloc[0]["run_id"])
            tl = read_detail(folder, run_id, "timeline")
            pauses = read_detail(folder, run_id, "pauses")
            pm = np.sort(pauses["pause_ms"].to_numpy(dtype=float))[::-1]
            details[str(p)] = {
                "run_id": run_id,
                "time_s": tl["time_s"].round(4).tolist(),
                "footprint_mb": [finite_or_none(v) for v in tl["footprint_mb"]] if "footprint_mb" in tl else [],
                "garbage_objects": tl["garbage_objects"].tolist() if "garbage_objects" in tl else [],
                # complementary CDF: the share of pauses at least this long
                "pause_ms": pm.tolist(),
                "pause_share": (np.arange(1, len(pm) + 1) / max(len(pm), 1)).tolist(),
                "pause_time_s": pauses["time_s"].round(4).tolist(),
                "pause_generation": pauses["generation"].astype(int).tolist(),
            }
    return {"folder": str(folder), "experiment": meta.get("experiment", folder.name), "meta": meta,
            "points": points, "details": details, "recommendation": rec_text, "validation": validation,
            "calibrated_from": _calibrated_from(meta)}


def _calibrated_from(meta: dict) -> str | None:
    """The recording the sweep's workload was calibrated from, if it was."""
    from ..provenance import find_first

    def pick(o: dict) -> str | None:
        return str(o["calibrated_from"]) if o.get("calibrated_from") else None

    # an inline workload keeps its provenance in the config; a workload file's is in ``models``
    return find_first(meta.get("config"), pick) or find_first(meta.get("models"), pick)


def _validation_html(data: dict) -> str:
    v = data.get("validation")
    if v is None:
        if data.get("calibrated_from"):
            return (f"<p>The workload was calibrated from <code>{html.escape(data['calibrated_from'])}</code>. "
                    "No validation was given: <code>gcperf validate -o v.json -- script.py</code> runs the program "
                    "at held-out settings, and <code>gcperf report ... --validation v.json</code> shows its "
                    "table here.</p>")
        return "<p>The workload is not a calibrated model of a real program: there is nothing to validate.</p>"
    head = "".join(f"<th>{html.escape(t)} predicted</th><th>measured</th><th>error</th>" for _, t in VALIDATION_COLUMNS)
    rows = []
    for r in v["table"]:
        cells = []
        for k, _ in VALIDATION_COLUMNS:
            pred, real, err = finite_or_none(r.get(f"pred_{k}")), finite_or_none(r.get(f"real_{k}")), finite_or_none(r.get(f"err_{k}"))
            cells.append(f"<td>{'-' if pred is None else f'{pred:.4g}'}</td><td>{'-' if real is None else f'{real:.4g}'}"
                         f"</td><td>{'-' if err is None else f'{100 * err:.0f} %'}</td>")
        th = r.get("thresholds")
        rows.append(f"<tr><td>{html.escape(str(r['setting']))}{f' {tuple(th)}' if th else ''}</td>{''.join(cells)}</tr>")
    summ = v.get("summary") or {}
    tau = summ.get("kendall_tau_total_pause")
    note = (f"<p>Settings ranked by total pause: Kendall tau {tau:.2f}; least-pause setting predicted "
            f"{html.escape(str(summ.get('least_pause_predicted')))}, measured "
            f"{html.escape(str(summ.get('least_pause_real')))}.</p>") if isinstance(tau, (int, float)) else ""
    return (f"<p>The model against the real program ({html.escape(str(v.get('version', '')))}), predicted and "
            f"measured at each setting:</p><table id='validation'><tr><th>setting</th>{head}</tr>"
            + "\n".join(rows) + "</table>" + note)


def render(data: dict) -> str:
    """The HTML page of :func:`report_data`."""
    rows = []
    for pt in sorted(data["points"], key=lambda p: p["point"]):
        cells = "".join(f"<td>{_cell(pt['mean'][k], pt['ci95'][k], scale)}</td>" for k, _, scale in TABLE_METRICS)
        mark = " (default)" if pt["default"] else ""
        mark += " (recommended)" if pt["recommended"] else ""
        rows.append(f"<tr data-point='{pt['point']}'><td>{html.escape(pt['label'])}{mark}</td>{cells}</tr>")
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t, _ in TABLE_METRICS)
    meta_text = json.dumps(data["meta"], indent=1, default=str)
    payload = json.dumps({k: data[k] for k in ("points", "details")}, allow_nan=False,
                         default=str).replace("</", "<\\/")
    title = f"gcperf report: {data['experiment']}"
    return _PAGE.format(
        title=html.escape(title), plotly=_plotly_js(), data=payload, folder=html.escape(data["folder"]),
        validation=_validation_html(data),
        recommendation=html.escape(data["recommendation"]), head=head, rows="\n".join(rows),
        meta=html.escape(meta_text))


def _cell(v, ci, scale: float) -> str:
    if v is None:
        return "-"
    s = f"{v * scale:.4g}"
    if ci is not None:
        s += f" ± {ci * scale:.2g}"
    return s


GENERATOR = '<meta name="generator" content="gcperf report">'


def _written_by_gcperf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(4096)
    except OSError:
        return False


def write_report(folder: str | Path, out: str | Path, constraints=None, force: bool = False,
                 validation: str | Path | None = None) -> Path:
    """Write the page of the results in ``folder`` to ``out``: a new file, or with ``force`` over
    a report gcperf wrote earlier (never over any other file).

    Raises:
        GcperfError: not a finished sweep, ``out`` exists (and is not an earlier report, or
            ``force`` was not given) or cannot be written, plotly missing.
    """
    from ..recording.recorder import check_output
    from ..safeio import atomic_write_bytes

    p = Path(out)
    if p.is_file() and not p.is_symlink() and _written_by_gcperf(p):
        if not force:
            raise GcperfError(f"{p} holds an earlier report; use --force to replace it")
    else:
        p = check_output(p)
    out = p
    v = load_validation(validation) if validation is not None else None
    page = render(report_data(folder, constraints, v))
    atomic_write_bytes(out, page.encode("utf-8"))
    return out


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="gcperf report"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 1.5em; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.selected {{ background: #fff3c4; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; }}
</style>
<script>{plotly}</script>
</head><body>
<h1>{title}</h1>
<p>Results folder <code>{folder}</code>. Each point is one setting: means over its replicates with 95 %
confidence intervals. Hover a point for its metrics; click it for its footprint over time and its
pause distribution (first replicate).</p>
<div id="tradeoff" style="width: 100%; max-width: 1000px; height: 460px;"></div>
<h2 id="detail-title">Click a point of the chart to see its run here</h2>
<div class="row"><div id="timeline" style="width: 560px; height: 340px;"></div>
<div id="pauses" style="width: 460px; height: 340px;"></div></div>
<h2>Recommendation</h2>
<pre id="recommendation">{recommendation}</pre>
<h2>Validation against the real program</h2>
{validation}
<h2>Every setting</h2>
<table id="settings"><tr><th>setting</th>{head}</tr>
{rows}
</table>
<h2>Provenance</h2>
<pre id="provenance">{meta}</pre>
<script id="gcperf-data" type="application/json">{data}</script>
<script>
(function () {{
  const data = JSON.parse(document.getElementById("gcperf-data").textContent);
  const pts = data.points;
  const fmt = (v, s) => (v === null || v === undefined) ? "-" : (v * (s || 1)).toPrecision(4);
  const groups = {{}};
  pts.forEach(p => {{ const g = p.default ? "default" : (p.recommended ? "recommended" : p.version);
    (groups[g] = groups[g] || []).push(p); }});
  const style = {{ "default": {{symbol: "diamond", size: 14, color: "#d62728"}},
                  "recommended": {{symbol: "star", size: 18, color: "#2ca02c"}} }};
  const traces = Object.keys(groups).map(g => {{
    const ps = groups[g];
    const st = style[g] || {{symbol: "circle", size: 10}};
    return {{
      type: "scatter", mode: "markers", name: g === "default" || g === "recommended" ? g : "CPython " + g,
      x: ps.map(p => p.mean.peak_footprint_mb), y: ps.map(p => 100 * p.mean.gc_share),
      error_x: {{type: "data", array: ps.map(p => p.ci95.peak_footprint_mb || 0), visible: true, thickness: 1}},
      error_y: {{type: "data", array: ps.map(p => 100 * (p.ci95.gc_share || 0)), visible: true, thickness: 1}},
      marker: st, customdata: ps.map(p => p.point),
      text: ps.map(p => p.label + "<br>GC share " + fmt(p.mean.gc_share, 100) + " %" +
        "<br>collections/s " + fmt(p.mean.pauses_per_s) + "<br>p99 pause " + fmt(p.mean.pause_p99_ms) + " ms" +
        "<br>longest pause " + fmt(p.mean.pause_max_ms) + " ms<br>peak footprint " + fmt(p.mean.peak_footprint_mb) +
        " MiB<br>" + p.replicates + " replicates"),
      hovertemplate: "%{{text}}<extra></extra>",
    }};
  }});
  const layout = {{ xaxis: {{title: {{text: "peak footprint (MiB)"}}}}, yaxis: {{title: {{text: "GC share of wall time (%)"}}}},
                   margin: {{t: 20}}, legend: {{orientation: "h"}} }};
  const chart = document.getElementById("tradeoff");
  Plotly.newPlot(chart, traces, layout, {{displaylogo: false, responsive: true}});
  function show(point) {{
    const p = pts.find(q => q.point === point);
    const d = data.details[String(point)];
    document.getElementById("detail-title").textContent = "Setting " + p.label + (d ? " (run " + d.run_id + ")" : "");
    document.querySelectorAll("#settings tr").forEach(tr => tr.classList.toggle("selected", tr.dataset.point === String(point)));
    if (!d) return;
    Plotly.react("timeline", [
      {{x: d.time_s, y: d.footprint_mb, name: "footprint (MiB)", mode: "lines"}},
      {{x: d.time_s, y: d.garbage_objects, name: "uncollected garbage (objects)", mode: "lines", yaxis: "y2"}},
      {{x: d.pause_time_s, y: d.pause_time_s.map(() => 0), name: "collections", mode: "markers", yaxis: "y3",
        marker: {{symbol: "line-ns-open", size: 10, color: d.pause_generation.map(g => ["#1f77b4", "#ff7f0e", "#d62728"][g])}}}}],
      {{title: {{text: "footprint and garbage over time"}}, xaxis: {{title: {{text: "simulated wall time (s)"}}}},
       yaxis: {{title: {{text: "MiB"}}, domain: [0.2, 1]}}, yaxis2: {{overlaying: "y", side: "right", title: {{text: "objects"}}}},
       yaxis3: {{domain: [0, 0.12], showticklabels: false, title: {{text: "gc"}}}}, margin: {{t: 40}}, showlegend: true,
       legend: {{orientation: "h"}}}});
    Plotly.react("pauses", [{{x: d.pause_ms, y: d.pause_share, mode: "lines", line: {{shape: "hv"}}, name: "pauses"}}],
      {{title: {{text: "pause distribution (CCDF)"}}, xaxis: {{type: "log", title: {{text: "pause (ms)"}}}},
       yaxis: {{type: "log", title: {{text: "share of pauses at least this long"}}}}, margin: {{t: 40}}}});
  }}
  chart.on("plotly_click", ev => {{ if (ev.points.length) show(ev.points[0].customdata); }});
  const rec = pts.find(p => p.recommended) || pts.find(p => p.default) || pts[0];
  if (rec) show(rec.point);
}})();
</script>
</body></html>
"""


# ------------------------------------------------------------------ command line


def add_report_parser(sub, add_constraints) -> None:
    p = sub.add_parser("report", help="write a sweep's results as one self-contained HTML page",
                       description="Write one HTML file (no network needed: scripts and data inline) with the "
                                   "interactive tradeoff chart (hover a point for its metrics, click it for its "
                                   "timeline and pause distribution), the recommendation under the given "
                                   "constraints, every setting's metrics and the provenance.")
    p.add_argument("results", help="results folder written by `gcperf sweep`")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file (default: report.html here)")
    p.add_argument("--force", action="store_true", help="replace an earlier gcperf report at --output (only that)")
    p.add_argument("--validation", metavar="FILE",
                   help="a `gcperf validate -o FILE` result of the program the sweep's model was calibrated from: "
                        "its table of predicted against measured settings goes into the page")
    add_constraints(p)
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from .recommend import Constraints

    c = Constraints(args.max_p99_pause_ms, args.max_pause_ms, args.max_footprint_mb, args.max_footprint_increase,
                    args.objective, args.py_version, dict(args.trait))
    out = write_report(args.results, args.output, c, force=args.force, validation=args.validation)
    print(f"report written to {out} (open it in a browser; it needs no network)")
    return 0
