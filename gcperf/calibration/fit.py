"""Fit a :class:`~gcperf.costs.CostModel` to the raw timings printed by ``probe.py``.

The per-examined-object cost ``(a + b*r) * (1 + (c - 1) * s(n; half, p))`` is linear in
``a`` (per_object_ns) and ``b`` (per_ref_ns) once ``c`` (cache_factor), ``half`` and ``p`` are
fixed. The fit therefore searches a grid over (half, p, c), solves a two-parameter least-squares
problem at every grid point in closed form, and zooms the grid twice around the best point.
Residuals are relative (predicted / observed - 1), so a 100-object set weighs as much as a
million-object one. The rise must be at least :data:`MIN_SHARE_AT_LARGEST` complete at the
largest measured set: the measurements level off there, and without this bound a shallow,
late rise to an unmeasured plateau fits the measured range about as well but extrapolates
to several times the measured cost of larger heaps. numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..cpython.costs import CostModel

__all__ = ["examined_points", "fit_cost_model", "merge_runs"]

#: Sets whose objects hold fewer references than this are left out of the fit by default:
#: leaf objects are walked in address order and show no cache rise at all, which the model's
#: single multiplier cannot express (docs/costs.md, "What the model leaves out").
DEFAULT_MIN_FIT_REFS = 1

#: Lower bound on s(n) at the largest measured set (see the module docstring).
MIN_SHARE_AT_LARGEST = 0.9


def _overhead(probe: Mapping[str, Any]) -> int:
    return int(probe["timer_overhead_ns"])


def _fixed_min_ns(probe: Mapping[str, Any], generation: int) -> float:
    for row in probe["fixed"]:
        if row["generation"] == generation:
            return float(row["min_ns"])
    raise ValueError(f"probe has no fixed-cost row for generation {generation}")


def examined_points(probe: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Return the examined-set measurements as arrays.

    Args:
        probe: The JSON object printed by ``probe.py``.

    Returns:
        ``n`` (objects), ``refs`` (references per object) and ``cost_ns`` (time of one full
        collection minus that of an empty one, ns) for every row of ``probe["examined"]``.
    """
    rows = probe["examined"]
    empty = _fixed_min_ns(probe, 2)
    n = np.array([row["n"] for row in rows], dtype=float)
    refs = np.array([row["refs"] for row in rows], dtype=float)
    cost = np.array([row["min_ns"] for row in rows], dtype=float) - empty
    return {"n": n, "refs": refs, "cost_ns": np.maximum(cost, 1.0)}


def merge_runs(probes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine several probe outputs of one interpreter into one, row by row.

    The machine's noise comes in bursts that can last seconds, so the minimum over runs made
    at different times is a better estimate than the minimum within one run. Rows are matched
    by what they measured; every timing field (``*_ns``) becomes its minimum over the runs,
    repetition counts (``reps``, ``rounds``) add up, other fields come from the first run.

    Args:
        probes: Outputs of ``probe.py`` from the same interpreter and mode.

    Returns:
        A probe output of the same layout, with ``runs`` (the count) and ``run_elapsed_s``.

    Raises:
        ValueError: no probes, or probes of different interpreters, modes or probe versions.
    """
    if not probes:
        raise ValueError("merge_runs needs at least one probe output")
    first = probes[0]
    for other in probes[1:]:
        for key in ("probe_version", "mode"):
            if other[key] != first[key]:
                raise ValueError(f"cannot merge probe runs with different {key}: "
                                 f"{first[key]!r} and {other[key]!r}")
        if other["python"]["executable"] != first["python"]["executable"]:
            raise ValueError("cannot merge probe runs of different interpreters")

    def merge_rows(rows_per_run: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        merged = []
        for row in rows_per_run[0]:
            key = _row_key(row)
            same = [row] + [_find(rows, key) for rows in rows_per_run[1:]]
            out = dict(row)
            for name in row:
                if name.endswith("_ns"):
                    out[name] = min(r[name] for r in same)
                elif name in ("reps", "rounds"):
                    out[name] = sum(r[name] for r in same)
            merged.append(out)
        return merged

    result = dict(first)
    result["timer_overhead_ns"] = min(p["timer_overhead_ns"] for p in probes)
    for section in ("fixed", "examined", "garbage"):
        result[section] = merge_rows([p[section] for p in probes])
    result["diagnostics"] = {kind: merge_rows([p["diagnostics"][kind] for p in probes])
                             for kind in first.get("diagnostics", {})}
    result["runs"] = len(probes)
    result["run_elapsed_s"] = [p["elapsed_s"] for p in probes]
    result["elapsed_s"] = round(sum(p["elapsed_s"] for p in probes), 2)
    return result


def _row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(k) for k in ("generation", "n", "refs", "pattern"))


def _find(rows: list[dict[str, Any]], key: tuple[Any, ...]) -> dict[str, Any]:
    for row in rows:
        if _row_key(row) == key:
            return row
    raise ValueError(f"probe runs measured different sets: no row for {key}")


def _solve_linear(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise sum((a*x1 + b*x2 - 1)**2) over a, b >= 0 along the last axis.

    Returns:
        a, b and the residual sum of squares, each of the leading shape.
    """
    s11 = (x1 * x1).sum(-1)
    s12 = (x1 * x2).sum(-1)
    s22 = (x2 * x2).sum(-1)
    t1 = x1.sum(-1)
    t2 = x2.sum(-1)
    count = x1.shape[-1]
    det = s11 * s22 - s12 * s12
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(det > 0, (t1 * s22 - t2 * s12) / det, 0.0)
        b = np.where(det > 0, (t2 * s11 - t1 * s12) / det, 0.0)
        # Where the unconstrained optimum has a negative coefficient, the constrained one
        # lies on that edge: refit the other coefficient alone.
        a_only = np.where(s11 > 0, t1 / s11, 0.0)
        b_only = np.where(s22 > 0, t2 / s22, 0.0)
    neg_a = a < 0
    neg_b = b < 0
    a = np.where(neg_a, 0.0, np.where(neg_b, a_only, a))
    b = np.where(neg_b, 0.0, np.where(neg_a, b_only, b))
    rss = count - 2 * (a * t1 + b * t2) + a * a * s11 + 2 * a * b * s12 + b * b * s22
    return a, b, rss


def _share(n: np.ndarray, half: np.ndarray, p: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.power(half / n, p))


def _grid_search(n: np.ndarray, refs: np.ndarray, per_obj: np.ndarray,
                 halves: np.ndarray, exps: np.ndarray, factors: np.ndarray) -> dict[str, float]:
    """Best (a, b, c, half, p) over a grid, with a and b solved exactly at each point."""
    best: dict[str, float] = {"rss": math.inf}
    # Shapes: halves (H, 1, 1), factors (1, C, 1), points (1, 1, N); one exponent at a time.
    h = halves[:, None, None]
    c = factors[None, :, None]
    inv = 1.0 / per_obj
    for p in exps:
        g = 1.0 + (c - 1.0) * _share(n, h, p)
        x1 = g * inv
        x2 = x1 * refs
        a, b, rss = _solve_linear(x1, x2)
        levelled = _share(n.max(), halves, p) >= MIN_SHARE_AT_LARGEST
        rss = np.where(levelled[:, None], rss, np.inf)
        i, j = np.unravel_index(np.argmin(rss), rss.shape)
        if rss[i, j] < best["rss"]:  # an all-inf slice never wins
            best = {"rss": float(rss[i, j]), "a": float(a[i, j]), "b": float(b[i, j]),
                    "c": float(factors[j]), "half": float(halves[i]), "p": float(p)}
    return best


def _fit_examined(n: np.ndarray, refs: np.ndarray, per_obj: np.ndarray) -> dict[str, float]:
    """Fit (a, b, c, half, p) to per-object costs by a coarse grid and two zoomed grids."""
    best = _grid_search(
        n, refs, per_obj,
        halves=np.geomspace(1e2, 1e7, 101),
        exps=np.geomspace(0.3, 12.0, 49),
        factors=np.concatenate([[1.0], 1.0 + np.geomspace(1e-2, 50.0, 90)]),
    )
    for span in (1.25, 1.05):
        best = _grid_search(
            n, refs, per_obj,
            halves=best["half"] * np.geomspace(1 / span, span, 41),
            exps=best["p"] * np.geomspace(1 / span, span, 21),
            factors=np.maximum(1.0, 1.0 + (best["c"] - 1.0) * np.geomspace(1 / span, span, 41)),
        )
    return best


def _round(x: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (measurement noise makes more meaningless)."""
    return float(f"{x:.{digits}g}")


def fit_cost_model(probe: Mapping[str, Any], source: str,
                   min_fit_refs: int = DEFAULT_MIN_FIT_REFS) -> tuple[CostModel, dict[str, Any]]:
    """Fit the cost constants of one interpreter to its probe output.

    Args:
        probe: The JSON object printed by ``probe.py`` under that interpreter.
        source: Provenance string stored in the model's ``source`` field.
        min_fit_refs: Examined sets whose objects hold fewer references are reported but
            not fitted (default 1: see :data:`DEFAULT_MIN_FIT_REFS`).

    Returns:
        The fitted :class:`CostModel` and a dict of diagnostics: the measured fixed cost of
        each generation (ns), every measured point with its prediction and relative residual
        (predicted / observed - 1), summary residuals, and the diagnostic variants of the
        probe (fresh generation 0, neighbouring referents, cold caches, sets reachable only
        through themselves) compared with the model's prediction.

    Raises:
        ValueError: the probe output lacks the rows needed, or no set passes the filter.
    """
    overhead = _overhead(probe)
    fixed_ns = {g: max(0.0, _fixed_min_ns(probe, g) - overhead) for g in (0, 1, 2)}

    pts = examined_points(probe)
    n, refs = pts["n"], pts["refs"]
    per_obj = pts["cost_ns"] / n
    fitted = refs >= min_fit_refs
    if fitted.sum() < 5:
        raise ValueError(f"need at least 5 examined sets with refs >= {min_fit_refs}, "
                         f"got {int(fitted.sum())}")
    best = _fit_examined(n[fitted], refs[fitted], per_obj[fitted])

    garbage_rows = probe["garbage"]
    g_n = np.array([row["n"] for row in garbage_rows], dtype=float)
    g_cost = np.array([row["garbage_min_ns"] - row["alive_min_ns"] for row in garbage_rows],
                      dtype=float)
    g_cost = np.maximum(g_cost, 1.0)
    # Least squares of relative residuals through the origin: k = sum(x) / sum(x**2), x = n/G.
    x = g_n / g_cost
    per_garbage = float(x.sum() / (x * x).sum()) if len(x) else 0.0

    model = CostModel(
        fixed_us=_round(fixed_ns[0] / 1000.0),
        per_object_ns=_round(best["a"]),
        per_ref_ns=_round(best["b"]),
        cache_factor=_round(best["c"]),
        cache_half_objects=_round(best["half"]),
        cache_exponent=_round(best["p"]),
        per_garbage_ns=_round(per_garbage),
        source=source,
    )

    predicted = np.asarray(model.per_examined_ns(n, refs))
    resid = predicted / per_obj - 1.0
    points = [
        {"n": int(n[i]), "refs": int(refs[i]), "observed_ns_per_object": round(per_obj[i], 2),
         "predicted_ns_per_object": round(float(predicted[i]), 2),
         "rel_residual": round(float(resid[i]), 4), "fitted": bool(fitted[i])}
        for i in range(len(n))
    ]
    g_pred = g_n * model.per_garbage_ns
    g_resid = g_pred / g_cost - 1.0
    garbage_points = [
        {"n": int(g_n[i]), "observed_ns_per_object": round(g_cost[i] / g_n[i], 2),
         "predicted_ns_per_object": model.per_garbage_ns,
         "rel_residual": round(float(g_resid[i]), 4)}
        for i in range(len(g_n))
    ]
    diagnostics: dict[str, Any] = {
        "timer_overhead_ns": overhead,
        "fixed_ns_by_generation": {str(g): v for g, v in fixed_ns.items()},
        "min_fit_refs": min_fit_refs,
        "examined_points": points,
        "examined_rms_rel_residual": _rms(resid[fitted]),
        "examined_max_abs_rel_residual": _max_abs(resid[fitted]),
        "unfitted_max_abs_rel_residual": _max_abs(resid[~fitted]),
        "garbage_points": garbage_points,
        "garbage_rms_rel_residual": _rms(g_resid),
        "variants": _variants(probe, model, overhead),
    }
    return model, diagnostics


def _rms(x: np.ndarray) -> float | None:
    return round(float(np.sqrt(np.mean(x * x))), 4) if x.size else None


def _max_abs(x: np.ndarray) -> float | None:
    return round(float(np.max(np.abs(x))), 4) if x.size else None


def _variants(probe: Mapping[str, Any], model: CostModel, overhead: int) -> list[dict[str, Any]]:
    """Compare each diagnostic variant's measured pause with the model's prediction."""
    out = []
    for kind, rows in sorted(probe.get("diagnostics", {}).items()):
        for row in rows:
            n, r = row["n"], row["refs"]
            observed_s = max(row["min_ns"] - overhead, 1) * 1e-9
            predicted_s = float(model.pause_s(n, 0, r))
            out.append({"kind": kind, "n": n, "refs": r,
                        "observed_us": round(observed_s * 1e6, 2),
                        "predicted_us": round(predicted_s * 1e6, 2),
                        "predicted_over_observed": round(predicted_s / observed_s, 3)})
    return out
