"""``gcperf validate``: record a program, calibrate, predict held-out settings, run them for real.

For one program and interpreter:

1. record it at the interpreter's default thresholds, threshold pattern on (``gcperf record``);
2. calibrate a model from that one recording (``calibrate.py``);
3. for every held-out setting, simulate the model (``SEEDS`` seeds, medians) and run the real
   program ``reps`` times under ``recording/measure.py`` (medians);
4. compare: collections per generation, total pause, p99 pause, peak RSS, the change of total
   pause from the default, and the ranking of the settings by total pause (Kendall's tau, the
   least-pause setting both ways);
5. check the recommendation: the setting with the least predicted total pause whose predicted
   peak RSS stays within ``RSS_BOUND`` of the default's, and what it delivered for real.

No constant is fitted to the real runs at held-out settings: they are only compared with.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GcperfError
from ..interpreters import Interpreter
from ..recording.format import load_recording
from ..recording.recorder import RecordOptions, record
from .calibrate import Calibration, calibrate

MEASURE = Path(__file__).resolve().parent.parent / "recording" / "measure.py"
#: Seeds per predicted setting (medians are reported).
SEEDS = 3
#: The recommendation may not raise the predicted peak RSS beyond this factor of the default's.
RSS_BOUND = 1.5
METRICS = ("gen0", "gen1", "gen2", "pause_total_ms", "pause_p99_ms", "peak_rss_mib")


#: A program has a start-up when the imports of its first STARTUP_MAX_SHARE of run time are at
#: least STARTUP_MIN_IMPORTS and most of all it imports (``find_startup``).
STARTUP_MAX_SHARE = 0.5
STARTUP_MIN_IMPORTS = 10
STARTUP_IMPORT_SHARE = 0.8
FREEZE_LABEL = "freeze after start-up"


@dataclass(frozen=True)
class Setting:
    """A GC setting to validate: a label, the thresholds, and when ``gc.freeze()`` is called.

    Attributes:
        freeze_at: None, or (seconds after the program's start, that as a share of the run):
            the real run calls ``gc.freeze()`` then, the model after the phase nearest that
            share of its program time.
    """

    label: str
    thresholds: tuple[int, int, int]
    freeze_at: tuple[float, float] | None = None


def held_out_settings(default: tuple[int, int, int], startup: tuple[float, float] | None = None) -> list[Setting]:
    """The default and the held-out settings: 0.3x, 3x, 10x, 50x threshold0; threshold1 and
    threshold2 raised fivefold; ``gc.freeze()`` after start-up where the program has one
    (``startup``: its end, as :func:`find_startup` gives it)."""
    t0, t1, t2 = default
    out = [Setting("default", (t0, t1, t2))]
    for m in (0.3, 3, 10, 50):
        out.append(Setting(f"{m:g}x threshold0", (max(1, int(round(t0 * m))), t1, t2)))
    out.append(Setting("5x threshold1", (t0, t1 * 5, t2)))
    out.append(Setting("5x threshold2", (t0, t1, t2 * 5)))
    if startup is not None:
        out.append(Setting(FREEZE_LABEL, (t0, t1, t2), startup))
    return out


def find_startup(python: Interpreter, argv: list[str], default: tuple[int, int, int], *,
                 timeout_s: float | None, cwd: str | None = None) -> tuple[float, float] | None:
    """Where the program's start-up ends: (seconds after its start, share of its run), or None.

    One run at the default with an audit hook on imports. The start-up is the program loading
    its code: it ends with the last first-time import in the first STARTUP_MAX_SHARE of the run,
    if those are at least STARTUP_MIN_IMPORTS and STARTUP_IMPORT_SHARE of all its imports (a
    program that keeps importing as it goes, or imports next to nothing, has none). A program
    whose start-up is something else (building a cache, loading data) says so with
    ``gcperf validate --freeze-at S``.
    """
    doc = _run_measure(python, argv, default, ["--imports"], timeout_s=timeout_s, cwd=cwd)
    times = sorted(doc.get("import_times_s") or [])
    wall = float(doc["wall_s"])
    early = [t for t in times if t <= STARTUP_MAX_SHARE * wall]
    if wall <= 0 or len(early) < STARTUP_MIN_IMPORTS or len(early) < STARTUP_IMPORT_SHARE * len(times):
        return None
    return float(early[-1]), float(early[-1] / wall)


def parse_settings(text: str, default: tuple[int, int, int]) -> list[Setting]:
    """``"700,10,10;7000,10,10"`` -> settings (the default is always first).

    Raises:
        GcperfError: malformed.
    """
    out = [Setting("default", default)]
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            t = tuple(int(x) for x in part.split(","))
        except ValueError:
            raise GcperfError(f"--settings: {part!r} is not three integers such as 7000,10,10") from None
        if len(t) != 3 or min(t) < 0 or max(t) > 2**31 - 1:
            raise GcperfError(f"--settings: {part!r} must be three integers in 0..{2**31 - 1}")
        out.append(Setting(",".join(map(str, t)), t))  # type: ignore[arg-type]
    return out


def _p99(p: list[float]) -> float:
    return float(np.percentile(p, 99)) if p else 0.0


def _run_measure(python: Interpreter, argv: list[str], thresholds: tuple[int, int, int], options: list[str], *,
                 timeout_s: float | None, cwd: str | None = None) -> dict:
    """measure.py's JSON for one run of the program."""
    with tempfile.TemporaryDirectory(prefix="gcperf-validate-") as tmp:
        out = os.path.join(tmp, "m.json")
        cmd = [python.path, str(MEASURE), out, *map(str, thresholds), *options, *argv]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s, cwd=cwd)
        except subprocess.TimeoutExpired:
            raise GcperfError(f"the program ran longer than {timeout_s:g} s at thresholds {thresholds}") from None
        if proc.returncode != 0 or not os.path.exists(out):
            last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise GcperfError(f"the program failed at thresholds {thresholds} (exit {proc.returncode}): {last[0]}")
        with open(out) as f:
            return json.load(f)


def run_real(python: Interpreter, argv: list[str], thresholds: tuple[int, int, int], *, timeout_s: float | None,
             cwd: str | None = None, freeze_at_s: float | None = None) -> dict:
    """One run of the real program at ``thresholds`` (``gc.freeze()`` at ``freeze_at_s`` seconds
    after its start, if given): the metrics of :data:`METRICS`.

    Raises:
        GcperfError: the program fails or is killed.
    """
    opts = [] if freeze_at_s is None else [f"--freeze-at={freeze_at_s!r}"]
    doc = _run_measure(python, argv, thresholds, opts, timeout_s=timeout_s, cwd=cwd)
    pauses = [p for g in doc["pauses_s"] for p in g]
    return {"gen0": doc["collections"][0], "gen1": doc["collections"][1], "gen2": doc["collections"][2],
            "pause_total_ms": 1e3 * sum(pauses), "pause_p99_ms": 1e3 * _p99(pauses),
            **{f"pause_gen{g}_ms": 1e3 * sum(doc["pauses_s"][g]) for g in range(3)},
            "peak_rss_mib": doc["peak_rss_kib"] / 1024.0, "wall_s": doc["wall_s"],
            "measure_version": doc.get("measure_version", 1), "froze_at_s": doc.get("froze_at_s"),
            "frozen_objects": doc.get("frozen_objects")}


def freeze_phase(cal: Calibration, share: float) -> str:
    """The model's phase after which ``gc.freeze()`` comes: the one whose end is nearest
    ``share`` of the program time."""
    ends = np.cumsum([p.duration_s for p in cal.workload.phases])
    k = int(np.argmin(np.abs(ends - share * ends[-1])))
    return cal.workload.phases[k].name


def predict(cal: Calibration, version: str, thresholds: tuple[int, int, int], seeds: int = SEEDS,
            freeze_share: float | None = None) -> dict:
    """Medians over seeds of the model's metrics at ``thresholds`` (with ``gc.freeze()`` after
    ``freeze_share`` of the program time, if given)."""
    import time

    from ..engine.runner import simulate
    from ..engine.scenario import GCSettings, Scenario

    frz = freeze_phase(cal, freeze_share) if freeze_share is not None else None
    rows = []
    for s in range(seeds):
        t0 = time.perf_counter()
        r = simulate(Scenario(cal.workload, GCSettings(version=version, thresholds=thresholds, freeze_after=frz),
                              seed=s, memory=True))
        sm = r.summary.iloc[0]
        rows.append({"gen0": sm["collections_gen0"], "gen1": sm["collections_gen1"], "gen2": sm["collections_gen2"],
                     "pause_total_ms": sm["pause_total_ms"], "pause_p99_ms": sm["pause_p99_ms"],
                     "peak_rss_mib": sm["peak_footprint_mb"], "sim_s": time.perf_counter() - t0})
    return pd.DataFrame(rows).median(numeric_only=True).to_dict()


def _kendall(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan")
    return float(kendalltau(a, b).statistic)


def compare(table: pd.DataFrame) -> dict:
    """Errors, ranking and the recommendation check from a table of predicted/measured rows."""
    out: dict = {}
    for m in METRICS:
        pred, meas = table[f"pred_{m}"].to_numpy(float), table[f"real_{m}"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(meas > 0, np.abs(pred - meas) / meas, np.where(pred > 0, np.inf, 0.0))
        rel = np.where(np.isnan(meas) | np.isnan(pred), np.nan, rel)  # not measured: no error
        table[f"err_{m}"] = rel
    d_pred = table["pred_pause_total_ms"] / table["pred_pause_total_ms"].iloc[0]
    d_real = table["real_pause_total_ms"] / table["real_pause_total_ms"].iloc[0]
    table["pred_change"] = d_pred
    table["real_change"] = d_real
    with np.errstate(divide="ignore", invalid="ignore"):
        table["change_factor_error"] = np.exp(np.abs(np.log(d_pred / d_real)))
    held = table.iloc[1:]
    out["kendall_tau_total_pause"] = _kendall(table["pred_pause_total_ms"].to_numpy(), table["real_pause_total_ms"].to_numpy())
    predicted_best = table["pred_pause_total_ms"].idxmin()
    out["least_pause_predicted"] = str(table.loc[predicted_best, "setting"])
    out["least_pause_real"] = str(table.loc[table["real_pause_total_ms"].idxmin(), "setting"])
    out["same_least_pause"] = out["least_pause_predicted"] == out["least_pause_real"]
    # what picking the predicted least-pause setting costs for real: the pause it leaves above
    # the real least-pause setting's, as a share of the default's (0 when the pick is right or
    # ties with it; near-ties between settings make the "same setting" test above fragile)
    real_pause = table["real_pause_total_ms"].to_numpy(float)
    picked = float(table.loc[predicted_best, "real_pause_total_ms"])
    out["least_pause_gap"] = (float((picked - np.nanmin(real_pause)) / real_pause[0]) if real_pause[0] > 0
                              else float("nan"))
    out["median_errors_held_out"] = {m: float(np.nanmedian(held[f"err_{m}"])) if held[f"err_{m}"].notna().any()
                                     else float("nan") for m in METRICS} if len(held) else {}
    out["change_within_1.25x_share"] = float((held["change_factor_error"] <= 1.25).mean()) if len(held) else float("nan")
    ok = table["pred_peak_rss_mib"] <= RSS_BOUND * table["pred_peak_rss_mib"].iloc[0]
    pick = table[ok]["pred_pause_total_ms"].idxmin()
    out["recommendation"] = {
        "setting": str(table.loc[pick, "setting"]),
        "thresholds": table.loc[pick, "thresholds"],
        "rule": f"least predicted total pause with predicted peak RSS <= {RSS_BOUND:g} x the default's",
        "predicted_change": float(table.loc[pick, "pred_change"]),
        "real_change": float(table.loc[pick, "real_change"]),
    }
    return out


def measure(python: Interpreter, argv: list[str], settings: list[Setting], reps: int, *,
            timeout_s: float | None = None, say=lambda s: None) -> pd.DataFrame:
    """The real program at every setting, ``reps`` times each (rows: setting, rep, metrics).

    The repetitions are interleaved (every setting once, then again) so that a change of the
    machine's load hits all settings alike.
    """
    if reps < 1:
        raise GcperfError(f"--reps must be at least 1, got {reps}")
    rows = []
    for rep in range(reps):
        for st in settings:
            say(f"  run {rep + 1}/{reps} at {st.label} {st.thresholds}")
            m = run_real(python, argv, st.thresholds, timeout_s=timeout_s,
                         freeze_at_s=st.freeze_at[0] if st.freeze_at else None)
            rows.append({"setting": st.label, "thresholds": list(st.thresholds), "rep": rep, **m})
    return pd.DataFrame(rows)


def evaluate(cal: Calibration, version: str, settings: list[Setting], real: pd.DataFrame,
             seeds: int = SEEDS) -> tuple[pd.DataFrame, dict]:
    """Predict every setting and put the predictions next to the real runs' medians."""
    rows = []
    for st in settings:
        pred = predict(cal, version, st.thresholds, seeds, st.freeze_at[1] if st.freeze_at else None)
        med = real[real["setting"] == st.label].median(numeric_only=True)
        row = {"setting": st.label, "thresholds": list(st.thresholds)}
        for m in METRICS:
            row[f"pred_{m}"] = float(pred[m])
            row[f"real_{m}"] = float(med[m])
        row["real_wall_s"] = float(med["wall_s"])
        row["sim_s"] = float(pred["sim_s"])
        rows.append(row)
    table = pd.DataFrame(rows)
    return table, compare(table)


def validate(argv: list[str], python: Interpreter, *, reps: int = 3, settings: list[Setting] | None = None,
             workdir: str | Path, timeout_s: float | None = None, freeze_at_s: float | None = None,
             say=lambda s: None) -> dict:
    """Record, calibrate, predict and measure; returns the JSON-able result (``table`` as records).

    ``freeze_at_s``: the program's start-up ends this many seconds after its start (None: found
    from its imports, :func:`find_startup`); only used with the held-out settings.
    """
    if reps < 1:
        raise GcperfError(f"--reps must be at least 1, got {reps}")
    workdir = Path(workdir)
    rec_path = workdir / "recording.json.gz"
    say(f"recording {' '.join(argv)} under CPython {python.version} ...")
    record(argv, rec_path, RecordOptions(python=python.path, timeout_s=timeout_s), command=["validate", *argv], say=say)
    rec = load_recording(rec_path)
    say("calibrating ...")
    cal = calibrate(rec)
    if settings is None:
        default = rec.default_thresholds
        if freeze_at_s is None:
            say("finding the end of its start-up (one run, imports timed) ...")
            startup = find_startup(python, argv, default, timeout_s=timeout_s)
        else:
            startup = (freeze_at_s, min(freeze_at_s / max(rec.wall_s, 1e-9), 1.0))
        if startup is not None:
            say(f"  start-up ends {startup[0]:.3f} s in ({100 * startup[1]:.0f} % of the run): gc.freeze() there "
                "is one of the settings")
        settings = held_out_settings(default, startup)
    say(f"running the program at {len(settings)} settings, {reps} times each ...")
    real = measure(python, argv, settings, reps, timeout_s=timeout_s, say=say)
    say("predicting ...")
    table, summary = evaluate(cal, rec.version, settings, real)
    return {"program": argv, "version": rec.version, "reps": reps, "seeds": SEEDS,
            "calibration": cal.report, "table": table.to_dict(orient="records"), "summary": summary,
            "recording": str(rec_path)}


def format_result(res: dict) -> str:
    """The human-readable table of a validation."""
    t = pd.DataFrame(res["table"])
    lines = [f"{' '.join(res['program'])} on CPython {res['version']}: predicted vs measured "
             f"(real: median of {res['reps']} runs; model: median of {res['seeds']} seeds)"]
    hdr = f"{'setting':<22} {'gen0':>13} {'gen1':>11} {'gen2':>9} {'total pause ms':>17} {'p99 ms':>13} {'peak RSS MiB':>15} {'change pred/real':>17}"
    lines.append(hdr)
    for _, r in t.iterrows():
        def pr(m, fmt="{:.0f}", r=r):
            return f"{fmt.format(r['pred_' + m])}/{fmt.format(r['real_' + m])}"
        lines.append(f"{r['setting']:<22} {pr('gen0'):>13} {pr('gen1'):>11} {pr('gen2'):>9} "
                     f"{pr('pause_total_ms', '{:.1f}'):>17} {pr('pause_p99_ms', '{:.2f}'):>13} "
                     f"{pr('peak_rss_mib', '{:.1f}'):>15} {r['pred_change']:>8.2f}/{r['real_change']:<8.2f}")
    s = res["summary"]
    med = s["median_errors_held_out"]
    lines.append("median relative error at held-out settings: " + ", ".join(
        f"{m} {100 * v:.0f} %" if math.isfinite(v) else (f"{m} n/a" if math.isnan(v) else f"{m} inf")
        for m, v in med.items()))
    lines.append(f"ranking by total pause: Kendall tau {s['kendall_tau_total_pause']:.2f}; least pause predicted "
                 f"{s['least_pause_predicted']!r}, measured {s['least_pause_real']!r}")
    gap = s.get("least_pause_gap")
    if gap is not None and math.isfinite(gap) and gap > 0:
        lines.append(f"  (run for real, the predicted one pauses {100 * gap:.0f} % of the default's total more "
                     "than the measured one)")
    rc = s["recommendation"]
    lines.append(f"recommendation ({rc['rule']}): {rc['setting']} {tuple(rc['thresholds'])}: total pause x"
                 f"{rc['predicted_change']:.2f} predicted, x{rc['real_change']:.2f} measured")
    ck = (res.get("calibration") or {}).get("self_check") or {}
    if ck.get("reproduces") is False:
        lines.append(f"warning: {ck['message']}")
    return "\n".join(lines)
