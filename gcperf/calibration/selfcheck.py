"""Does a calibrated model run the program its recording saw? The check every answer carries.

``calibrate`` runs the model through the recording's own collection windows (the thresholds
as they were, ``calibrate.replay_windows``) to set its pause levels. The same replay says, at no
extra cost, whether the model's population makes the collections the program made: a model
that makes a fifth of the program's young collections over windows it was fitted to will not
predict other settings either. On the validation suite (2026-12-05), before ``calibrate`` began
to search its population's alpha where a model misses (``calibrate._match_collections``), the 7
of 32 cases whose model missed the recording's young collections by more than the tolerance below
(numeric_loop x0.13 and x0.18, tp_networkx x0.49-0.64, tp_pyflakes on 3.12 x0.60, json_window on
3.13 x1.62) had held-out gen0 errors of a median 46 % (total pause 55 %), the other 25 cases 6 %
(17 %); with the search it warns for 2 (results/validation/summary.md has the figures). Passing is
necessary, not sufficient: tp_pyflakes on 3.13 passes at x0.99 with a gen0 error of 56 %.

The check is written into the model's calibration report (``self_check``); ``gcperf calibrate``,
``gcperf run -w``, ``gcperf recommend`` and ``gcperf report`` on a sweep of the model and ``gcperf
validate`` repeat its warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..provenance import find_first

#: How far (as a share) the model's young collections over the recording's own windows may be
#: from the program's before every answer from the model says it is not to be trusted.
SELF_CHECK_TOLERANCE = 0.2


def self_check(replay: pd.DataFrame | None, collections: pd.DataFrame, seeds: int) -> dict[str, Any]:
    """Collections per generation over the recording's windows, the program's (its automatic
    ones) against the model's (mean over the ``seeds`` replays), and the verdict."""
    auto = ~collections["explicit"].to_numpy().astype(bool)
    gen = collections["generation"].to_numpy()
    out: dict[str, Any] = {"tolerance": SELF_CHECK_TOLERANCE, "replays": int(seeds)}
    sim_gen = replay["generation"].to_numpy() if replay is not None else np.empty(0, dtype=int)
    for g in (0, 1, 2):
        out[f"generation_{g}"] = {"recorded": int((auto & (gen == g)).sum()),
                                  "modelled": float((sim_gen == g).sum()) / max(int(seeds), 1)}
    rec0, mod0 = out["generation_0"]["recorded"], out["generation_0"]["modelled"]
    if rec0 == 0:
        out["reproduces"] = None
        out["message"] = "the recording has no automatic young collection to check the model against"
        return out
    ratio = mod0 / rec0
    out["young_ratio"] = ratio
    out["reproduces"] = bool(abs(ratio - 1.0) <= SELF_CHECK_TOLERANCE)
    if not out["reproduces"]:
        out["message"] = (f"over its recording's own windows the model makes {mod0:.0f} young collections where "
                          f"the program made {rec0} (x{ratio:.2f}): it does not run the program the recording saw, "
                          "and its predictions for this program are not to be trusted (gcperf validate measures "
                          "them)")
    return out


def _check_in(o: dict) -> dict | None:
    rep = o.get("calibration_report")
    if isinstance(rep, dict) and isinstance(rep.get("self_check"), dict):
        return rep["self_check"]
    return None


def warning_of(provenance: Any) -> str | None:
    """The self-check's warning found in a calibrated model's provenance (or in anything that
    holds it, such as a sweep's meta.json), None when the model passed or is not calibrated."""
    check = find_first(provenance, _check_in)
    if check is None or check.get("reproduces") is not False:
        return None
    return str(check.get("message") or "the model does not reproduce its recording's collections")
