"""Held-out pause errors of calibrated models, per program, from the suite's committed data.

    python validation/heldout_pauses.py results/validation/data/3.11.7 [more dirs] OUT.csv

For every recording in the folders that has real runs beside it (json_window left out: its
population fit fails, see docs/calibration.md), calibrate (without the peak-RSS fit), predict the
held-out settings (not the freeze) as the medians of three seeds, and print per program the
median total-pause and p99 errors, the error at the default itself, the share of changes from
the default within x1.25, Kendall tau and whether the least-pause setting agrees. Quicker than
run_validation.py (no real runs, no memory model): for comparing changes to the model. Set
GCPERF_VARIANT=file.py to post-process each calibration (a function ``after(cal, rec)`` returning
the workload to simulate).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import warnings
from multiprocessing import Pool

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

VARIANT = os.environ.get("GCPERF_VARIANT", "")
SEEDS = 3


def _variant():
    if not VARIANT:
        return None
    spec = importlib.util.spec_from_file_location("variant", VARIANT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def one(path: str) -> list[dict]:
    """Predicted and real pauses of one program at its held-out settings (empty if not calibratable)."""
    warnings.filterwarnings("ignore")
    from gcperf import GCSettings, Scenario
    from gcperf.calibration.calibrate import calibrate
    from gcperf.calibration.validate import held_out_settings
    from gcperf.engine.runner import simulate
    from gcperf.errors import GcperfError
    from gcperf.recording import load_recording

    variant = _variant()
    rec = load_recording(path)
    try:
        cal = calibrate(rec, fit_memory=False)
    except GcperfError:
        return []
    wl = variant.after(cal, rec) if variant else cal.workload
    real = pd.read_csv(path.replace(".gcrec.json.gz", ".real.csv"))
    name = os.path.basename(path).split(".")[0]
    out = []
    for s in held_out_settings(rec.default_thresholds):
        runs = []
        for seed in range(SEEDS):
            res = simulate(Scenario(wl, GCSettings(version=rec.version, thresholds=s.thresholds), seed=seed, memory=False))
            c, sm = res.collections, res.summary.iloc[0]
            runs.append([c.pause_ms[c.generation == g].sum() for g in range(3)] + [sm.pause_total_ms, sm.pause_p99_ms])
        a = np.median(np.array(runs), axis=0)
        m = real[real.setting == s.label].median(numeric_only=True)
        out.append(dict(ver=rec.version, prog=name, setting=s.label, p0=a[0], p1=a[1], p2=a[2], pt=a[3], p99=a[4],
                        r0=m.pause_gen0_ms, r1=m.pause_gen1_ms, r2=m.pause_gen2_ms, rt=m.pause_total_ms,
                        rp99=m.pause_p99_ms))
    return out


def summarise(t: pd.DataFrame) -> None:
    rows = []
    for (ver, prog), g in t.groupby(["ver", "prog"], sort=False):
        g = g.reset_index(drop=True)
        h = g.iloc[1:]
        change = np.exp(np.abs(np.log((h.pt / g.pt[0]) / (h.rt / g.rt[0]))))
        rows.append(dict(ver=ver, prog=prog, e_tot=np.median(np.abs(h.pt / h.rt - 1)),
                         e_p99=np.median(np.abs(h.p99 / h.rp99 - 1)), e_def=g.pt[0] / g.rt[0] - 1,
                         ch125=(change <= 1.25).mean(), tau=kendalltau(g.pt, g.rt).statistic,
                         best=g.setting[int(np.argmin(g.pt))] == g.setting[int(np.argmin(g.rt))], _ch=list(change)))
    s = pd.DataFrame(rows)
    allch = np.concatenate(s._ch.values)
    print(s.drop(columns="_ch").round(2).to_string())
    print(f"MEDIAN e_tot {s.e_tot.median():.2f} e_p99 {s.e_p99.median():.2f} ch125 {(allch <= 1.25).mean():.2f} "
          f"tau {s.tau.median():.2f} best {s.best.sum()}/{len(s)}")


if __name__ == "__main__":
    files = [f for d in sys.argv[1:-1] for f in sorted(glob.glob(d + "/*.gcrec.json.gz"))
             if os.path.exists(f.replace(".gcrec.json.gz", ".real.csv")) and "json_window" not in f]
    with Pool(2) as pool:
        results = pool.map(one, files, chunksize=1)
    table = pd.DataFrame([r for x in results for r in x])
    table.to_csv(sys.argv[-1], index=False)
    summarise(table)
