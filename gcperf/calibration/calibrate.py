"""``gcperf calibrate``: a recording in, a workload model of that program out.

Three fits, each from the recording alone (nothing here knows which program it is):

1. the population (``population.py``): births per window, the lifetime mixture, cyclic and
   atomic shares and C-call bursts, from count0, the generation sizes and the collected counts;
2. the pause model of this program's heap: the recorded pauses against the objects each
   collection examined (where measured) and the garbage it freed, fitted as a
   :class:`~gcperf.costs.CostModel` (fixed cost, cost per examined object rising with the set's
   size as caches stop holding it, cost per freed object including what it owns) by least
   squares on log pauses; then each generation's level is set so that the model, run through
   the recording's own collection windows, pauses as long per collection as the recording did
   (``_fit_pause_levels``). The scatter around the fit is reported, not replayed: drawn as a
   pause's noise it made the held-out p99 worse (validation suite, 3.11.7: median error 34 %
   against 25 % without it) -- the tail of a recorded young pause is mostly the machine's;
3. memory: the resident size when the program started (``baseline_rss_mb``) and the bytes each
   object owns beyond its own size, fitted so that the model, simulated with its memory model
   at the recording's thresholds, reaches the recorded peak resident size (first guess: the
   peak over the most objects the recorder saw alive at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..cpython.costs import CostModel, cost_model_for
from ..errors import GcperfError
from ..recording.format import Recording
from ..workload.model import MAX_PAYLOAD, MAX_SIZE_BYTES, SizeMix, Workload
from .build import build_workload
from .observe import older_sizes, windows
from .population import ALPHAS, PopulationFit, fit_population
from .selfcheck import SELF_CHECK_TOLERANCE, self_check

#: Windows shorter than this (mutator seconds) are merged into their neighbours' phases.
MIN_PHASE_S = 0.02
#: Levels of the pause scatter kept (quantiles of measured / modelled pause).
NOISE_LEVELS = 21
#: Weight of the prior on the cache rise and the cost per freed object (per sqrt(collections)).
PRIOR_WEIGHT = 0.1
#: Simulations spent at most on fitting the bytes per object to the recorded peak RSS, and the
#: relative error at which it stops.
PEAK_FIT_RUNS = 4
PEAK_FIT_TOLERANCE = 0.02
#: Size of the blocks a small owned share is made of (a short string, a small dict's keys).
OWNED_BLOCK = 64
#: Simulations (seeds) over which the modelled pause per collection is set to the recorded one.
PAUSE_LEVEL_SEEDS = 2
#: How far the model's young collections over the recording's windows may be from the
#: recording's for its pause levels to be set from them (beyond, the model is not running the
#: program the recording saw, and its pauses per collection are not comparable).
PAUSE_LEVEL_COUNT_TOLERANCE = 0.5
#: The search for the ``alpha`` whose model makes the recording's young collections
#: (:func:`_match_collections`): fits and replays at most, seeds per replay, and the largest
#: alpha, the top of the balance's own grid (at most 80 % of the counted objects created
#: untracked). A first version searched up to 32: tp_pyflakes on 3.12.1, whose collections do not
#: grow with alpha, got 32 (97 % created untracked), matched its recording's young collections
#: (120 for 128) and missed the held-out ones by 363 % (12 % at the balance's alpha).
ALPHA_SEARCH_STEPS = 4
ALPHA_SEARCH_SEEDS = 1
ALPHA_MAX = max(ALPHAS)


@dataclass
class Calibration:
    """What ``calibrate`` produced.

    Attributes:
        workload: the model (a :class:`Workload`, ready for ``simulate``).
        population: the population fit.
        costs: the fitted pause model.
        report: fit quality and the figures it rests on (JSON-able).
    """

    workload: Workload
    population: PopulationFit
    costs: CostModel
    report: dict


def _examined(c, young_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Objects each collection examined where the recorder measured them, of those the ones in
    generation 2 and the ones in generation 1, and a mask.

    ``young_factor`` counts the young generation as the model holds it: the model keeps the
    containers created untracked in the young generation until their first collection (as it
    does tuples of atomic values), so its young generation is that much larger.
    """
    g = c["generation"].to_numpy()
    y0 = c["gen0_objects"].to_numpy(dtype=float)
    y = np.where(y0 >= 0, y0 * young_factor, y0)
    g1, g2 = older_sizes(c)
    ex = np.where(g == 0, y, np.where(g == 1, y + g1, y + g1 + g2))
    ok = (y >= 0) & ((g < 1) | (g1 >= 0)) & ((g < 2) | (g2 >= 0))
    # a full collection examined what survived it (generation 2 after it, recorder 3) and what
    # it collected, whatever the split between the generations before it
    after = c["next_gen_objects_after"].to_numpy(dtype=float)
    full = (g == 2) & (after >= 0) & (y0 >= 0) & ~ok
    ex = np.where(full, after + c["collected"].to_numpy(dtype=float) - y0 + y, ex)
    # (where only the total is known, generation 1, at most ten windows of survivors, counts as old)
    old = np.where(g == 2, np.where(ok, g2, ex - y), 0.0)
    mid = np.where((g >= 1) & ok, g1, 0.0)
    ok = (ok | full) & ~c["explicit"].to_numpy().astype(bool)
    return ex, np.maximum(old, 0.0), np.maximum(mid, 0.0), ok


def _window_class(count0):
    """The size class of collection windows by their count0: half a doubling wide."""
    return np.round(np.log2(np.maximum(count0, 1)) * 2.0).astype(int)


def _young_classes(c, measured, young_factor: float, class_examined: dict[int, float] | None = None):
    """The young collections whose sizes the recorder did not measure, as one point per window
    size (:func:`_window_class`): the median freed and pause of its windows and what they examined.

    The recorder measures sizes within a small time budget, mostly at the default windows; the
    threshold pattern's short and long windows, which show how a young collection's cost grows
    with its size, have their pauses and count0 recorded but rarely their sizes. What they
    examined: ``class_examined``, the median objects the model's own young collections of that
    class examine (a replay of the recording's windows: a long window's young generation is more
    than its count0, which the deaths of older objects took down); without it, count0 times the
    measured young generation per count0. Returns arrays (examined, freed, pause, collections per
    point); None when fewer than three young collections were measured.
    """
    g = c["generation"].to_numpy()
    auto = ~c["explicit"].to_numpy().astype(bool)
    count0 = c["count0"].to_numpy(dtype=float)
    y0 = c["gen0_objects"].to_numpy(dtype=float)
    pause = c["pause_s"].to_numpy(dtype=float)
    freed = c["collected"].to_numpy(dtype=float)
    base = (g == 0) & auto & (count0 > 0)
    known = base & measured & (y0 >= 0)
    if known.sum() < 3:
        return None
    per_count = float(np.median(y0[known] / count0[known])) * young_factor
    todo = base & ~measured & (pause > 0)
    if not todo.any():
        return None
    cls = _window_class(count0[todo])
    rows = []
    for k in np.unique(cls):
        sel = cls == k
        if class_examined is None:
            examined = float(np.median(count0[todo][sel])) * per_count
        elif int(k) in class_examined:
            examined = class_examined[int(k)]
        else:
            continue
        rows.append((examined, float(np.median(freed[todo][sel])), float(np.median(pause[todo][sel])), float(sel.sum())))
    if not rows:
        return None
    return tuple(np.array(v, dtype=float) for v in zip(*rows, strict=True))


def _too_few(rec: Recording, measured: int) -> str:
    """Why a recording cannot be calibrated from (fewer than five collections with measured sizes),
    with what the program's collector cost it, which is the answer a user wants when it barely ran."""
    c = rec.collections
    n = len(c)
    pause_s = float(c["pause_s"].sum())
    wall = rec.wall_s
    text = (f"only {measured} of its {n} collection{'s' if n != 1 else ''} have measured sizes, too few to fit "
            "pause costs (five are needed)")
    if wall > 0 and pause_s < 0.01 * wall:
        text += (f"; the program collected {n} time{'s' if n != 1 else ''} in its {wall:.1f} s run, pausing "
                 f"{1e3 * pause_s:.1f} ms in all ({100 * pause_s / wall:.2f} % of it): at these thresholds its "
                 "collector costs it next to nothing. To model it anyway, record a longer run")
    else:
        text += "; record a longer run"
    return text


def fit_pauses(rec: Recording, young_factor: float = 1.0, class_examined: dict[int, float] | None = None,
               ) -> tuple[CostModel, tuple[float, ...], tuple[float, float, float], dict]:
    """The pause model of this program's heap, its scatter, factors per generation of the examined
    objects (``pause_scale_by="object"``) and fit figures.

    Raises:
        GcperfError: fewer than five collections with measured sizes.
    """
    from scipy.optimize import least_squares

    c = rec.collections
    ex, old, mid, ok = _examined(c, young_factor)
    pause = c["pause_s"].to_numpy(dtype=float)
    freed = c["collected"].to_numpy(dtype=float)
    ok &= pause > 0
    if ok.sum() < 5:
        raise GcperfError(f"{rec.path}: {_too_few(rec, int(ok.sum()))}")
    n, o, m, f, p = ex[ok], old[ok], mid[ok], freed[ok], pause[ok]
    g = c["generation"].to_numpy()[ok]
    w = np.ones(len(p))
    extra = _young_classes(c, ok, young_factor, class_examined)
    if extra is not None:
        # young collections (nothing older examined); each point stands for its windows'
        # collections: weighted as their median would be
        ex_c, freed_c, pause_c, count_c = extra
        zeros = np.zeros(len(ex_c))
        n, o, m, f, p = (np.concatenate([a, b]) for a, b in zip((n, o, m, f, p), (ex_c, zeros, zeros, freed_c, pause_c),
                                                                 strict=True))
        g = np.concatenate([g, np.zeros(len(ex_c), dtype=g.dtype)])
        w = np.concatenate([w, np.sqrt(count_c)])
    used = int(ok.sum()) + (0 if extra is None else int(extra[3].sum()))  # collections whose pauses are fitted
    machine = cost_model_for(rec.version)
    half, expo = machine.cache_half_objects, machine.cache_exponent

    def model(x):
        fixed_us, per_obj, rise, per_gar, hf, rise_old, k1, k2 = np.exp(x)
        s = n**expo / (n**expo + hf**expo)
        walked = (n - o - m + k1 * m) * (1.0 + rise * s) + k2 * o * (1.0 + rise_old * s)
        level = np.where(g == 1, k1, np.where(g == 2, k2, 1.0))
        return level * (fixed_us * 1e-6 + f * per_gar * 1e-9) + per_obj * 1e-9 * walked

    # the rise with the examined set's size (its height and where it happens) is only seen when
    # the recording's sets reach the caches' size; weak priors at the machine's own constants keep
    # them there otherwise (the cost per freed object likewise, for programs that make little
    # cyclic garbage). The oldest generation's objects get a rise of their own
    # (``old_cache_factor``), seen in the full collections, with a prior at the same machine
    # figure (a recording without a full collection keeps it there): one rise fitted to both the
    # young collections of the pattern's long windows and the full collections of an old heap
    # priced each at the other's. A program's older objects (its caches, its trees) are not its
    # young ones (larger containers, more references): the objects that were in generation 1 and
    # 2 cost k1 and k2 times a young one (weak priors at 1), so that a generation-1 collection at a
    # raised threshold0, mostly young objects, is priced as what it walks
    rise0 = max(machine.cache_factor - 1.0, 0.1)
    prior = np.log([rise0, max(machine.per_garbage_ns, 1.0), half, rise0, 1.0, 1.0])
    weight = PRIOR_WEIGHT * math.sqrt(len(p))
    priored = [2, 3, 4, 5, 6, 7]

    def resid(x):
        return np.concatenate([w * (np.log(model(x)) - np.log(p)), weight * (x[priored] - prior)])

    x0 = np.log([max(machine.fixed_us, 0.5), machine.per_object_ns, rise0, max(machine.per_garbage_ns, 1.0), half, rise0, 1.0, 1.0])
    sol = least_squares(resid, x0, loss="soft_l1", f_scale=0.3,
                        bounds=(np.log([1e-3, 0.1, 1e-3, 0.1, 1e3, 1e-3, 0.02, 0.02]),
                                np.log([1e5, 1e4, 100.0, 1e5, 1e8, 100.0, 50.0, 50.0])))
    fixed_us, per_obj, rise, per_gar, half, rise_old, k1, k2 = np.exp(sol.x)
    costs = CostModel(fixed_us=float(fixed_us), per_object_ns=float(per_obj), per_ref_ns=0.0,
                      cache_factor=float(1.0 + rise), cache_half_objects=float(half), cache_exponent=expo,
                      per_garbage_ns=float(per_gar), old_cache_factor=float(1.0 + rise_old),
                      source=f"fitted to {used} recorded pauses of {rec.program_name} "
                             f"(CPython {rec.version}); weak priors at the machine constants")
    scale = (1.0, float(k1), float(k2))
    resid_ratio = p / model(sol.x)
    resid_ratio = resid_ratio / float(np.exp(np.median(np.log(resid_ratio))))
    noise = tuple(float(v) for v in np.quantile(resid_ratio, np.linspace(0.005, 0.995, NOISE_LEVELS)))
    by_gen = {}
    for gen in (0, 1, 2):
        sel = g == gen
        if sel.any():
            by_gen[str(gen)] = {"collections": int(sel.sum()), "scale": scale[gen],
                                "median_abs_log_error": float(np.median(np.abs(np.log(resid_ratio[sel]))))}
    report = {"collections_used": used, "fit_points": int(len(p)), "median_abs_rel_error": float(np.median(np.abs(resid_ratio - 1.0))),
              "by_generation": by_gen, "examined_range": [float(n.min()), float(n.max())],
              "young_window_classes": 0 if extra is None else len(extra[0])}
    return costs, noise, scale, report


def replay_windows(wl: Workload, rec: Recording, seeds) -> pd.DataFrame | None:
    """The model run through the recording's own collection windows, once per seed: every
    modelled collection with its examined objects by generation
    (:func:`~gcperf.engine.runner.examined_by_generation`), pooled; None when the recording has no
    automatic collection.

    Each window's threshold0 is the count0 its collection started at, less one: the threshold
    pattern as it happened, the watchdog's cut excursions included (no memory model).
    """
    from ..engine.runner import examined_by_generation
    from ..engine.scenario import GCSettings, Scenario

    c = rec.collections
    auto = ~c["explicit"].to_numpy().astype(bool)
    windows_t0 = tuple(int(max(x - 1, 1)) for x in c["count0"].to_numpy()[auto])
    if not windows_t0:
        return None
    settings = GCSettings(version=rec.version, thresholds=rec.default_thresholds)
    return pd.concat([examined_by_generation(Scenario(wl, settings, seed=s, memory=False), threshold_pattern=windows_t0)
                      for s in seeds], ignore_index=True)


def _class_examined(replay: pd.DataFrame) -> dict[int, float]:
    """Median objects the model's young collections examine per window class (the replay's
    count0 is the recorded window's, so the classes are the recording's)."""
    young = replay[(replay["generation"] == 0) & (replay["reason"] == "auto")]
    cls = _window_class(young["count0"].to_numpy(dtype=float))
    return {int(k): float(v) for k, v in young["examined"].groupby(cls).median().items()}


def _components(replay: pd.DataFrame, wl: Workload, version: str) -> pd.DataFrame:
    """The replay's pause parts (ms, before the factors) priced with ``wl``'s cost model."""
    cost = wl.pause_costs if wl.pause_costs is not None else cost_model_for(version)
    rows = [cost.pause_parts(n, f, wl.refs_per_object, o, m) for n, f, o, m in zip(
        replay["examined"].to_numpy(dtype=float), replay["garbage_freed"].to_numpy(dtype=float),
        replay["examined_gen2"].to_numpy(dtype=float), replay["examined_gen1"].to_numpy(dtype=float), strict=True)]
    return pd.DataFrame(np.asarray(rows, dtype=float).reshape(-1, 4) * 1e3, columns=["rest", "young", "gen1", "gen2"])


def _fit_pause_levels(wl: Workload, rec: Recording, replay: pd.DataFrame | None = None) -> tuple[Workload, dict]:
    """Set the factors of the examined objects by generation so that each generation's mean pause
    per collection, as the model runs, is the recorded one.

    The cost fit of :func:`fit_pauses` prices the collections the recorder measured, at the sizes
    it measured; the model's own collections examine the sets its population makes, which differ
    (a young generation with the containers created untracked, older generations grown from a
    fitted survival): on the validation suite the model's total pause at the very setting it
    was recorded at was 40-160 % off for half of the programs. So the model is run through the
    recording's own collection windows (``replay``, else :func:`replay_windows` with
    PAUSE_LEVEL_SEEDS seeds) and the factors are solved in turn (``pause_scale_by="object"``):
    the young objects' from the young collections (all of their pause), generation 1's from the
    generation-1 collections given the young objects in them, generation 2's from the full ones
    given the rest. A generation that either side never collected keeps its factor (as does one
    whose solution would not be positive: the model's younger objects alone cost more there than
    the program's collections); so do all of them when the model's young collections over those
    windows are more than PAUSE_LEVEL_COUNT_TOLERANCE off the recording's (its population is
    wrong there, which the report says).
    """
    c = rec.collections
    auto = ~c["explicit"].to_numpy().astype(bool)
    gen = c["generation"].to_numpy()
    pause_ms = c["pause_s"].to_numpy(dtype=float) * 1e3
    levels: dict = {"applied": False}
    if replay is None:
        replay = replay_windows(wl, rec, range(PAUSE_LEVEL_SEEDS))
    if replay is None:
        levels["reason"] = "no automatic collection recorded"
        return wl, levels
    sim_gen = replay["generation"].to_numpy()
    young = self_check(replay, c, PAUSE_LEVEL_SEEDS)["generation_0"]  # (the counts, not its tolerance)
    rec_young, sim_young = young["recorded"], young["modelled"]
    levels["young_collections"] = {"recorded": rec_young, "modelled": sim_young}
    if rec_young == 0 or abs(sim_young / rec_young - 1.0) > PAUSE_LEVEL_COUNT_TOLERANCE:
        levels["reason"] = (f"over the recording's windows the model made {sim_young:.0f} young collections "
                            f"where the program made {rec_young}")
        return wl, levels
    levels["applied"] = True
    parts = _components(replay, wl, rec.version)
    scale = list(wl.pause_scale)
    names = ("young", "gen1", "gen2")
    for g in (0, 1, 2):
        rec_sel, sim_sel = auto & (gen == g), sim_gen == g
        if not rec_sel.any() or not sim_sel.any():
            continue
        mean = parts[sim_sel].mean()
        rec_mean = float(pause_ms[rec_sel].mean())
        own = float(mean["rest"] + mean[names[g]])
        younger = sum(scale[j] * float(mean[names[j]]) for j in range(g))
        if own <= 0:
            continue
        factor = (rec_mean - younger) / own
        entry = {"recorded_mean_ms": rec_mean, "recorded_collections": int(rec_sel.sum()),
                 "modelled_collections": int(sim_sel.sum()) / PAUSE_LEVEL_SEEDS,
                 "younger_objects_ms": younger, "own_ms": own}
        if factor > 0:
            scale[g] = factor
            entry["factor"] = factor
        else:
            entry["kept"] = scale[g]
        levels[f"generation_{g}"] = entry
    return replace(wl, pause_scale=tuple(scale), pause_scale_by="object"), levels


def _memory(rec: Recording, fit: PopulationFit, baseline_objects: int) -> tuple[float | None, float, dict]:
    """Baseline RSS (MiB) and bytes per lasting object (with what it owns)."""
    mem = rec.memory
    if mem is None or len(mem) == 0:
        return None, 0.0, {"note": "no memory samples"}
    t = mem["t_s"].to_numpy(dtype=float)
    rss = mem["rss_kib"].to_numpy(dtype=float) * 1024.0
    hwm = float(mem["hwm_kib"].max()) * 1024.0
    at0 = rss[t >= 0][0] if (t >= 0).any() else rss[-1]
    c = rec.collections
    y = c["gen0_objects"].to_numpy(dtype=float)
    g1, g2 = older_sizes(c)
    alive = np.where((y >= 0) & (g1 >= 0) & (g2 >= 0), y + g1 + g2, -1.0)
    if (alive >= 0).any():
        most = float(alive.max()) - baseline_objects
    else:
        most = float(np.nanmax(np.where(g1 >= 0, g1, 0) + np.where(y >= 0, y, 0)))
    most = most / max(1.0 - fit.atomic, 0.05)  # the atomic tuples are alive too, untracked
    per_obj = (hwm - at0) / most if most > 0 else 0.0
    return at0 / 2**20, max(per_obj, 0.0), {"rss_at_start_mib": at0 / 2**20, "peak_rss_mib": hwm / 2**20,
                                            "most_objects_alive": most, "bytes_per_lasting_object": per_obj}


def _payload(extra: float) -> tuple[float, SizeMix]:
    """What each object owns beyond its own header and slots, as (blocks per object, their sizes).

    Up to MAX_PAYLOAD blocks of OWNED_BLOCK bytes, a fractional mean count (so the bytes are a
    continuous function of ``extra``: the peak fit needs that); beyond, MAX_PAYLOAD blocks that
    grow (to the system malloc past 512 bytes)."""
    extra = max(float(extra), 0.0)
    if extra <= MAX_PAYLOAD * OWNED_BLOCK:
        return extra / OWNED_BLOCK, SizeMix((OWNED_BLOCK,), (1.0,))
    return float(MAX_PAYLOAD), SizeMix((int(min(round(extra / MAX_PAYLOAD), MAX_SIZE_BYTES)),), (1.0,))


def _with_payload(wl: Workload, extra: float) -> Workload:
    payload, sizes = _payload(extra)
    return replace(wl, phases=tuple(replace(p, payload_per_object=payload, payload_sizes=sizes) for p in wl.phases))


def _fit_peak(wl: Workload, rec: Recording, extra: float, target_mib: float) -> tuple[Workload, dict]:
    """The bytes each object owns, fitted so that the model, run at the recording's thresholds,
    reaches the recording's peak resident size.

    The first guess (peak bytes over the most objects the recorder saw) is off wherever the
    model's population at its peak differs from what the recorder could count (the atomic
    tuples, garbage awaiting a collection, objects that never lived through one): the model's own
    peak is what a prediction rests on. Secant steps on the extra bytes, at most PEAK_FIT_RUNS
    simulations; the peak grows with them (more bytes per object, never fewer arenas).

    The model runs without the recording's threshold pattern: the recorder cuts its excursions
    short (``pattern_resets``), the replayed pattern does not, and on the validation suite the
    fit at the plain thresholds predicted the held-out peaks better (median error 6.4 against
    8.7 % on 3.11.7, 6.6 against 6.3 % on 3.13.0).
    """
    from ..engine.runner import simulate
    from ..engine.scenario import GCSettings, Scenario

    settings = GCSettings(version=rec.version, thresholds=rec.default_thresholds)

    def peak(e: float) -> tuple[float, float]:
        res = simulate(Scenario(_with_payload(wl, e), settings, seed=0, memory=True))
        tl = res.timeline
        at = int(tl["footprint_mb"].to_numpy().argmax()) if len(tl) else 0
        objs = float(tl["live_objects"].iloc[at] + tl["garbage_objects"].iloc[at]) if len(tl) else 0.0
        return float(res.summary.iloc[0]["peak_footprint_mb"]), objs

    xs = [max(extra, 0.0)]
    p, objs = peak(xs[0])
    ys = [p]
    for _ in range(PEAK_FIT_RUNS - 1):
        if abs(ys[-1] / target_mib - 1.0) <= PEAK_FIT_TOLERANCE:
            break
        # MiB per byte of each object: measured between the last two runs, at first the objects
        # alive at the model's peak
        two = len(xs) >= 2 and ys[-1] != ys[-2]
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if two else max(objs, 1.0) / 2**20
        if slope <= 0:
            break
        nxt = max(xs[-1] + (target_mib - ys[-1]) / slope, 0.0)
        if nxt == xs[-1]:
            break
        xs.append(nxt)
        ys.append(peak(nxt)[0])
    best = int(np.argmin(np.abs(np.asarray(ys) - target_mib)))
    return _with_payload(wl, xs[best]), {"owned_bytes_per_object": xs[best], "model_peak_rss_mib": ys[best],
                                         "peak_fit_runs": len(xs)}


def _young_ratio(fit: PopulationFit, rec: Recording, shape: dict) -> float | None:
    """The model's young collections over the recording's own windows (ALPHA_SEARCH_SEEDS replays)
    per the program's, as the self-check counts them; None when the program made none."""
    rp = replay_windows(build_workload(fit, **shape), rec, range(ALPHA_SEARCH_SEEDS))
    return self_check(rp, rec.collections, ALPHA_SEARCH_SEEDS).get("young_ratio")


def _match_collections(win, fit: PopulationFit, rec: Recording, shape: dict) -> tuple[PopulationFit, dict]:
    """The population whose model makes the program's young collections over the recording's own
    windows: the fit's ``alpha`` (counted young per tracked young), chosen by the linear balance
    of count0, is kept if its model does (within the self-check's tolerance); else ``alpha`` is
    searched, the rest refitted with it held, for the model that comes nearest.

    The balance is linear and count0 is not: it saturates at zero, so deaths in bulk lose their
    decrements, and the balance's best ``alpha`` can make a model that collects at half the
    program's pace over the very windows it was fitted to (tp_networkx on 3.11.7: 179 young
    collections for the program's 367 at the balance's alpha 1, 330 at alpha 5). More counted
    objects per tracked one make count0 climb faster for the same young generation, so the
    model's collections mostly grow with ``alpha``: a secant search on log(collections ratio)
    against log(alpha), kept inside the bracket found so far (doubling or halving where the
    ratio does not move), ALPHA_SEARCH_STEPS fits and replays at most; the nearest is kept.
    Only the recording is used.
    """
    alpha0 = float(fit.diagnostics.get("alpha", 1.0))
    out: dict = {"alpha": alpha0, "tried": []}
    ratio = _young_ratio(fit, rec, shape)
    if ratio is None:
        return fit, out
    out["tried"].append([alpha0, ratio])
    if abs(ratio - 1.0) <= SELF_CHECK_TOLERANCE:
        return fit, out
    top = math.log(ALPHA_MAX)
    pts = [(math.log(alpha0), math.log(max(ratio, 1e-3)))]  # (log alpha, log ratio)
    best = (abs(pts[0][1]), alpha0, fit)
    for _ in range(ALPHA_SEARCH_STEPS):
        la, lr = pts[-1]
        lo = max((p[0] for p in pts if p[1] < 0), default=None)  # too few collections at or below
        hi = min((p[0] for p in pts if p[1] > 0), default=None)  # too many at or above
        other = next((p for p in reversed(pts[:-1]) if abs(p[1] - lr) > 1e-3 and abs(p[0] - la) > 1e-6), None)
        slope = (lr - other[1]) / (la - other[0]) if other is not None else 1.0
        # where the ratio is flat (or falls) here, a step of a factor of two towards the program's count
        double = math.log(2.0) if lr < 0 else -math.log(2.0)
        nxt = la - lr / slope if slope > 0.05 else la + double
        if lo is not None and hi is not None and not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        nxt = min(max(nxt, 0.0), top)
        if any(abs(nxt - p[0]) < 1e-3 for p in pts):
            break  # at a bound already tried, or nowhere new to go
        a = math.exp(nxt)
        f = fit_population(win, alphas=(a,))
        r = _young_ratio(f, rec, shape)
        out["tried"].append([a, r])
        pts.append((nxt, math.log(max(r, 1e-3))))
        if abs(pts[-1][1]) < best[0]:
            best = (abs(pts[-1][1]), a, f)
        if abs(r - 1.0) <= SELF_CHECK_TOLERANCE / 2:
            break
    out["alpha"] = best[1]
    return best[2], out


def calibrate(rec: Recording, *, name: str | None = None, fit_memory: bool = True) -> Calibration:
    """Fit a workload model and the pause model of this program to one recording.

    ``fit_memory``: fit the bytes per object by simulating the model with its memory model (a
    few seconds); False keeps the first guess (peak bytes over the most objects seen).

    Raises:
        GcperfError: the recording holds too little to fit.
    """
    win = windows(rec)
    if len(win) < 5:
        raise GcperfError(f"{rec.path}: only {len(win)} collections were recorded; a model needs at least five "
                          "(record a longer run)")
    fit = fit_population(win)
    label = name or rec.program_name
    tail = max(win.mutator_s - float(win.table["m_s"].iloc[-1]), 0.0)
    end_count = (rec.doc.get("end") or {}).get("count")
    tail_count0 = float(end_count[0]) if end_count else None
    shape = {"name": label, "description": f"calibrated from a recording of {label} (CPython {rec.version})",
             "tail_s": tail, "tail_count0": tail_count0, "baseline_objects": win.baseline_objects,
             "min_phase_s": MIN_PHASE_S}
    fit, alpha_search = _match_collections(win, fit, rec, shape)
    young_factor = 1.0 / (1.0 - fit.diagnostics.get("untracked_from_birth", 0.0))
    costs, noise, scale, pause_report = fit_pauses(rec, young_factor)
    base_rss, per_obj, mem_report = _memory(rec, fit, win.baseline_objects)
    default = SizeMix()
    extra = per_obj - default.mean_bytes()  # (first guess of what each object owns)
    payload, payload_sizes = _payload(extra)
    provenance = {
        "calibrated_from": str(rec.path),
        "recording": rec.doc.get("provenance", {}),
        "interpreter": {k: rec.doc["interpreter"].get(k) for k in ("version", "executable", "thresholds")},
        "program": rec.doc.get("program", {}),
    }
    wl = build_workload(fit, **shape, sizes=default, payload_per_object=payload,
                        payload_sizes=payload_sizes, pause_costs=costs, pause_noise=(), pause_scale=scale, pause_scale_by="object",
                        baseline_rss_mb=base_rss, provenance=provenance)
    # the pattern's unmeasured young windows priced at what the model's own young collections of
    # that size examine, then the levels on the same replay (pauses do not change what it collects)
    replay = replay_windows(wl, rec, range(PAUSE_LEVEL_SEEDS))
    if replay is not None:
        costs, noise, scale, pause_report = fit_pauses(rec, young_factor, _class_examined(replay))
        wl = replace(wl, pause_costs=costs, pause_scale=scale)
    wl, levels = _fit_pause_levels(wl, rec, replay)
    check = self_check(replay, rec.collections, PAUSE_LEVEL_SEEDS)
    pause_report["levels"] = levels
    pause_report["pause_scale"] = list(wl.pause_scale)
    pause_report["residual_quantiles"] = list(noise)
    if base_rss is not None and fit_memory:
        wl, fit_report = _fit_peak(wl, rec, extra, mem_report["peak_rss_mib"])
        mem_report.update(fit_report)
    report = {
        "population": {"medians_s": [None if math.isinf(m) else float(m) for m in fit.medians],
                       "weights": [float(w) for w in fit.weights], "cyclic": [float(q) for q in fit.cyclic],
                       "cyclic_now_median": float(np.median(fit.cyclic_now)), "atomic": fit.atomic, **fit.diagnostics,
                       "alpha_search": alpha_search},
        "pauses": pause_report,
        "self_check": check,
        "memory": mem_report,
        "phases": len(wl.phases),
        "allocations": wl.allocations,
        "mutator_s": win.mutator_s,
    }
    return Calibration(wl, fit, costs, report)
