"""Validate gcperf on every program of the suite under every interpreter env: one command.

    python validation/run_validation.py [--versions 3.11,3.13] [--programs lru_service,...] [--reps 3]
                                        [--out results/validation]
    python validation/run_validation.py --from-data [-j 2]     # predictions again, no interpreter

For each program and env (``setup_envs.py`` made them; ``envs.json`` lists them) it runs
``gcperf validate``'s steps through the Python API: record at the default, run the real program
at every held-out setting ``--reps`` times (interleaved), calibrate, predict. The recording and
the real runs are kept in ``OUT/data/<version>/`` and reused (they are the expensive part and
do not depend on the model), so an interrupted run resumes and a changed model is checked
again on the same measurements; ``OUT/<version>/<program>.json`` holds each comparison. At the end ``OUT/summary.csv`` (one row per
program x version x setting) and ``OUT/summary.md`` (the medians over the suite, the worst
program next to them) are written from every result present.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gcperf.calibration.calibrate import calibrate  # noqa: E402
from gcperf.calibration.cli import _clean  # noqa: E402
from gcperf.calibration.selfcheck import SELF_CHECK_TOLERANCE  # noqa: E402
from gcperf.calibration.validate import (  # noqa: E402
    METRICS,
    SEEDS,
    STARTUP_IMPORT_SHARE,
    STARTUP_MAX_SHARE,
    STARTUP_MIN_IMPORTS,
    evaluate,
    find_startup,
    format_result,
    held_out_settings,
    measure,
)
from gcperf.errors import GcperfError  # noqa: E402
from gcperf.interpreters import resolve  # noqa: E402
from gcperf.recording import load_recording  # noqa: E402
from gcperf.recording.recorder import RecordOptions, record  # noqa: E402
from gcperf.safeio import atomic_write_text  # noqa: E402

ENVS = Path.home() / ".cache" / "gcperf" / "validation-envs"


def _envs(versions: list[str] | None) -> dict[str, str]:
    """The validation envs ``setup_envs.py`` made, by full version.

    Raises:
        GcperfError: there are none (or their list is unreadable).
    """
    try:
        doc = json.loads((ENVS / "envs.json").read_text())
    except FileNotFoundError:
        raise GcperfError(f"no validation envs in {ENVS}: make them with python3 validation/setup_envs.py, "
                          "or predict from the kept measurements with --from-data") from None
    except (OSError, ValueError) as e:
        raise GcperfError(f"{ENVS / 'envs.json'} is unreadable ({e}); run python3 validation/setup_envs.py again") from None
    out = {}
    for full, e in sorted(doc.items(), key=lambda kv: tuple(int(x) for x in kv[0].split("."))):
        minor = ".".join(full.split(".")[:2])
        if versions and minor not in versions and full not in versions:
            continue
        out[full] = e["python"]
    return out


def _kept_versions(out: Path, versions: list[str] | None) -> dict[str, None]:
    """The versions whose measurements are kept in ``out/data`` (no interpreter: ``--from-data``)."""
    found = sorted((d.name for d in (out / "data").glob("3.*") if d.is_dir()),
                   key=lambda v: tuple(int(x) for x in v.split(".")))
    return {v: None for v in found
            if not versions or v in versions or ".".join(v.split(".")[:2]) in versions}


def summarize(out: Path) -> pd.DataFrame:
    rows = []
    for f in sorted(out.glob("3.*/*.json")):
        res = json.loads(f.read_text())
        for r in res["table"]:
            row = {"program": f.stem, "version": res["version"], **{k: v for k, v in r.items() if k != "thresholds"},
                   "thresholds": ",".join(map(str, r["thresholds"]))}
            rows.append(row)
    return pd.DataFrame(rows)


def report(out: Path) -> str:
    """Rebuild ``summary.csv`` and ``summary.md`` in ``out`` from the per-program results; return the text."""
    t = summarize(out)
    if t.empty:
        return "no results yet"
    t.to_csv(out / "summary.csv.tmp", index=False)
    (out / "summary.csv.tmp").replace(out / "summary.csv")
    text = report_text(out, t)
    atomic_write_text(out / "summary.md", text)
    return text


def _self_check_lines(out: Path, held: pd.DataFrame) -> list[str]:
    """The calibration's self-check against the held-out errors: the cases whose model missed its
    own recording's young collections (gcperf/calibration/selfcheck.py), and the median over cases
    of each case's median gen0 and total pause error, flagged and not."""
    flagged, checked = [], []
    for f in sorted(out.glob("3.*/*.json")):
        d = json.loads(f.read_text())
        ck = (d.get("calibration") or {}).get("self_check")
        if not isinstance(ck, dict) or ck.get("reproduces") is None:
            continue
        key = (f.stem, f.parent.name)
        checked.append(key)
        if not ck["reproduces"]:
            flagged.append((key, ck["young_ratio"]))
    if not checked:
        return []
    per = held.groupby(["program", "version"])[["err_gen0", "err_pause_total_ms"]].median()
    bad = {k for k, _ in flagged}
    sel = [k in bad for k in per.index]
    rest = [not x for x in sel]

    def med(col: str, mask: list[bool]) -> str:
        v = per[col][mask]
        return f"{100 * v.median():.0f} %" if len(v) else "-"

    names = ", ".join(f"{p} {v} (x{r:.2f})" for (p, v), r in flagged) or "none"
    return ["", f"The calibration's self-check (its model's young collections over the recording's own windows "
                f"against the program's, within {100 * SELF_CHECK_TOLERANCE:.0f} %) warned for {len(flagged)} of {len(checked)} cases: "
                f"{names}. Median of their per-case median errors at held-out settings: gen0 {med('err_gen0', sel)}, "
                f"total pause {med('err_pause_total_ms', sel)}; the other cases: gen0 {med('err_gen0', rest)}, "
                f"total pause {med('err_pause_total_ms', rest)}."]


def report_text(out: Path, t: pd.DataFrame | None = None) -> str:
    """The text of ``summary.md`` from the per-program results in ``out`` (writes nothing)."""
    if t is None:
        t = summarize(out)
    held = t[t.setting != "default"]
    lines = ["| measure (held-out settings) | median over the suite | worst program (its median) | target |",
             "|---|---|---|---|"]
    targets = {"gen0": "10 %", "gen1": "20 %", "pause_total_ms": "25 %", "pause_p99_ms": "30 %", "peak_rss_mib": "15 %"}
    for m in METRICS:
        e = held[f"err_{m}"].replace(np.inf, np.nan)
        per = held.assign(e=e).groupby("program").e.median()
        if not per.notna().any():
            lines.append(f"| {m} relative error | not measured in this data | - | {targets.get(m, '-')} |")
            continue
        worst = per.idxmax()
        lines.append(f"| {m} relative error | {100 * e.median():.0f} % | {worst} ({100 * per.max():.0f} %) | "
                     f"{targets.get(m, '-')} |")
    share = (held.change_factor_error <= 1.25).mean()
    lines.append(f"| change of total pause from the default within x1.25 | {100 * share:.0f} % of comparisons | - | 80 % |")
    taus, same, gaps = [], [], {}
    for f in sorted(out.glob("3.*/*.json")):
        s = json.loads(f.read_text())["summary"]
        if s["kendall_tau_total_pause"] is not None:
            taus.append(s["kendall_tau_total_pause"])
        same.append(bool(s["same_least_pause"]))
        if s.get("least_pause_gap") is not None:
            gaps[f"{f.stem} {f.parent.name}"] = s["least_pause_gap"]
    lines.append(f"| Kendall tau of settings ranked by total pause | {np.median(taus):.2f} (min {min(taus):.2f}) | - | 0.8 |")
    lines.append(f"| same least-pause setting | {sum(same)} of {len(same)} program x version cases | - | 80 % |")
    if gaps:
        worst = max(gaps, key=gaps.get)
        lines.append("| the predicted least-pause setting run for real: its total pause above the real least-pause "
                     f"setting's, as a share of the default's | {100 * np.median(list(gaps.values())):.0f} % | "
                     f"{worst} ({100 * gaps[worst]:.0f} %) | - |")
    lines += _self_check_lines(out, held)
    versions = sorted(t.version.unique())
    head = (f"{t.program.nunique()} programs x {len(versions)} interpreters ({', '.join(versions)}), "
            f"{len(held)} held-out comparisons")
    fails = [f"- {f.parent.name} {f.name.split('.')[0]}: {f.read_text().strip()}" for f in sorted(out.glob("3.*/*.error.txt"))]
    text = head + "\n\n" + "\n".join(lines) + "\n"
    if fails:
        text += "\nNot calibrated (no prediction possible):\n\n" + "\n".join(fails) + "\n"
    return text


def _one(prog: Path, version: str, python: str | None, out: Path, reps: int, seeds: int) -> dict:
    """Recording and real runs are kept (they are the expensive, model-free part); the model's
    predictions are made again from them on every call. ``python`` None: only from what is kept
    (``--from-data``; a missing measurement is an error)."""
    data = out / "data" / version
    rec_path = data / f"{prog.stem}.gcrec.json.gz"
    real_path = data / f"{prog.stem}.real.csv"
    if python is None:
        missing_files = [p.name for p in (rec_path, real_path, data / f"{prog.stem}.startup.json") if not p.exists()]
        if missing_files:
            raise GcperfError(f"--from-data: {data} has no {', '.join(missing_files)}")
        py = None
    else:
        py = resolve(python)
    data.mkdir(parents=True, exist_ok=True)
    if not rec_path.exists():
        record([str(prog)], rec_path, RecordOptions(python=py.path), command=["run_validation.py", prog.name])
    rec = load_recording(rec_path)
    startup_path = data / f"{prog.stem}.startup.json"
    if not startup_path.exists():
        found = find_startup(py, [str(prog)], rec.default_thresholds, timeout_s=None)
        rule = {"max_share_of_run": STARTUP_MAX_SHARE, "min_imports": STARTUP_MIN_IMPORTS,
                "min_share_of_imports": STARTUP_IMPORT_SHARE}
        atomic_write_text(startup_path, json.dumps({"startup": found, "rule": rule}, indent=1) + "\n")
    startup = json.loads(startup_path.read_text())["startup"]
    settings = held_out_settings(rec.default_thresholds, tuple(startup) if startup else None)
    old = pd.read_csv(real_path) if real_path.exists() else None
    missing = [st for st in settings if old is None or st.label not in set(old["setting"])]
    if missing and py is None:
        raise GcperfError(f"--from-data: {real_path.name} has no real runs at {', '.join(st.label for st in missing)}")
    if missing:
        # (settings added since the file was written are measured and appended)
        new = measure(py, [str(prog)], missing, reps)
        new["loadavg_1min"] = os.getloadavg()[0]
        real = pd.concat([old, new], ignore_index=True) if old is not None else new
        atomic_write_text(real_path, real.to_csv(index=False))
    real = pd.read_csv(real_path)
    real["thresholds"] = real["thresholds"].map(json.loads)
    if "measure_version" not in real or (real["measure_version"] < 2).any():
        # measure.py v1 took the peak RSS from ru_maxrss, which on Linux keeps the forking
        # parent's (gcperf's) peak across exec: not the program's. Not a measurement: dropped
        real["peak_rss_mib"] = float("nan")
    cal = calibrate(rec)
    table, summary = evaluate(cal, rec.version, settings, real, seeds)
    return {"program": [f"validation/programs/{prog.name}"], "version": rec.version, "reps": int(real["rep"].max()) + 1,
            "seeds": seeds, "calibration": cal.report, "table": table.to_dict(orient="records"), "summary": summary,
            "recording_wall_s": rec.wall_s, "loadavg_during_real_runs": float(real["loadavg_1min"].iloc[0])}


def _timed_one(prog: Path, version: str, python: str | None, out: Path, reps: int,
               seeds: int) -> tuple[dict | None, str | None, float]:
    """``_one``, its error message instead of an exception, and the seconds it took."""
    t0 = time.time()
    try:
        return _one(prog, version, python, out, reps, seeds), None, time.time() - t0
    except GcperfError as e:
        return None, str(e), time.time() - t0


def _keep(out: Path, prog: Path, version: str, res: dict | None, error: str | None, seconds: float) -> None:
    """Write one case's comparison (or its error note) and print it."""
    if res is None:
        print(f"{version} {prog.stem}: {error}", flush=True)
        note = out / version / f"{prog.stem}.error.txt"
        note.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(note, str(error).replace(str(HERE.parent) + os.sep, "") + "\n")
        return
    dest = out / version / f"{prog.stem}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest, json.dumps(_clean(res), indent=1, allow_nan=False) + "\n")
    print(format_result(res), f"\n({seconds:.0f} s)\n", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", help="comma-separated minor or full versions (default: every env)")
    ap.add_argument("--programs", help="comma-separated program names (default: all)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=SEEDS, help="model seeds per setting (medians)")
    ap.add_argument("--out", default=str(HERE.parent / "results" / "validation"))
    ap.add_argument("--report-only", action="store_true", help="only rebuild summary.csv and summary.md")
    ap.add_argument("--from-data", action="store_true",
                    help="no interpreter: predict again from the recordings and real runs kept in OUT/data "
                         "(after a change of the model; every version found there)")
    ap.add_argument("-j", "--jobs", type=int, default=1,
                    help="with --from-data: predict this many program x version cases at once")
    a = ap.parse_args()
    if a.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {a.jobs}")
    if a.jobs > 1 and not a.from_data:
        ap.error("--jobs above 1 needs --from-data (real runs are timed one at a time)")
    out = Path(a.out)
    if not a.report_only:
        progs = sorted(p for p in (HERE / "programs").glob("*.py"))
        if a.programs:
            want = set(a.programs.split(","))
            progs = [p for p in progs if p.stem in want]
            if not progs:
                ap.error(f"--programs: no program of validation/programs is named {a.programs!r}")
        wanted = a.versions.split(",") if a.versions else None
        if a.from_data:
            envs = _kept_versions(out, wanted)
            if not envs:
                ap.error(f"--from-data: {out / 'data'} keeps no measurements"
                         + (f" of --versions {a.versions}" if a.versions else ""))
        else:
            try:
                envs = _envs(wanted)
            except GcperfError as e:
                print(f"run_validation.py: error: {e}", file=sys.stderr)
                return 2
            if not envs:
                ap.error(f"--versions {a.versions}: no validation env of that version (validation/setup_envs.py)")
            out.mkdir(parents=True, exist_ok=True)
        jobs = [(prog, version, python) for version, python in envs.items() for prog in progs]
        if a.jobs > 1:
            # only predictions (--from-data): the real runs are timed and never run side by side
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(a.jobs) as pool:
                futures = [pool.submit(_timed_one, prog, version, python, out, a.reps, a.seeds)
                           for prog, version, python in jobs]
                for (prog, version, _), fut in zip(jobs, futures, strict=True):
                    _keep(out, prog, version, *fut.result())
        else:
            for prog, version, python in jobs:
                _keep(out, prog, version, *_timed_one(prog, version, python, out, a.reps, a.seeds))
    text = report(out)
    if a.report_only and text == "no results yet":
        print(f"run_validation.py: error: --report-only: {out} holds no per-program results (run the suite first)",
              file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
