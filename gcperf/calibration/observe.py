"""What a recording says about the program, on the program's own clock.

A recording's time stamps are wall-clock time of the measured process, which includes the
collector's pauses and the recorder's own measurements. Lifetimes in a workload are measured in
*mutator* time (time the program itself runs), so every time stamp is first moved to that clock:
``m(t) = t - (pauses and measurements before t)``. Each collection then closes a *window*: the
mutator time since the previous collection ended, under the threshold0 that was in force.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import GcperfError
from ..recording.format import Recording


@dataclass
class Windows:
    """One row per collection of the recording, on the mutator clock.

    Attributes:
        table: columns ``m_s`` (mutator time when the collection started), ``dur_s`` (mutator
            time since the previous collection), ``generation``, ``threshold0``, ``count0``,
            ``collected``, ``pause_s``, ``young`` (generation 0 objects at the start, -1 when
            not measured), ``gen1``, ``gen2`` (likewise), ``gen1_after`` (the next generation
            after a collection of generation 0 or 1, -1 when not measured), ``explicit``, ``wall_s`` (wall time when
            it started), ``cut`` (the recorder put threshold0 back to the default during the
            window, cutting an excursion short: count0 may then start above threshold0).
        mutator_s: the program's whole run on the mutator clock.
        baseline_objects: tracked objects when the program's first statement ran.
        version: the interpreter's full version.
    """

    table: pd.DataFrame
    mutator_s: float
    baseline_objects: int
    version: str

    def __len__(self) -> int:
        return len(self.table)


def older_sizes(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Generation 1 and 2 sizes when each collection started, measured or carried forward.

    Recorder 3 does not walk the older generations just before an older collection (the walk
    would warm the caches for its pause); it measures generation 1 after young collections and
    generation 2 after generation 1 collections. Until the next collection of that generation,
    the size carries forward (less the deaths meanwhile, which it cannot see): generation 1 is
    empty after any older collection. A full collection's generation 2 is what it examined
    (its survivors, measured after it, and what it collected) less the younger generations. Where a
    recording measured a size before the collection (recorder 1 and 2), that measurement is
    used. -1: unknown.
    """
    g = c["generation"].to_numpy()
    m1 = c["gen1_objects"].to_numpy(dtype=float)
    m2 = c["gen2_objects"].to_numpy(dtype=float)
    after = c["next_gen_objects_after"].to_numpy(dtype=float)
    g1 = m1.copy()
    g2 = m2.copy()
    k1 = k2 = -1.0
    collected = c["collected"].to_numpy(dtype=float)
    young = c["gen0_objects"].to_numpy(dtype=float)
    for i in range(len(g)):
        if g1[i] < 0 and g[i] >= 1:
            g1[i] = k1
        if g2[i] < 0 and g[i] >= 2:
            g2[i] = k2
            if after[i] >= 0 and young[i] >= 0 and g1[i] >= 0:
                # a full collection examined its survivors (generation 2 after it) and what
                # it collected (recorder 3 measures that generation 2 afterwards)
                g2[i] = max(after[i] + collected[i] - young[i] - g1[i], 0.0)
        # the state after collection i (``after`` is -1 where it was not measured)
        if g[i] == 0:
            k1 = after[i]
        else:
            k1 = 0.0
            k2 = after[i] if g[i] == 1 else -1.0
    return g1, g2


def windows(rec: Recording) -> Windows:
    """Put the recording's collections on the mutator clock.

    Raises:
        GcperfError: time stamps that go backwards (a corrupt recording).
    """
    c = rec.collections
    start = c["t_start_ns"].to_numpy(dtype=np.int64)
    stop = c["t_stop_ns"].to_numpy(dtype=np.int64)
    meas = c["measure_ns"].to_numpy(dtype=np.int64)
    pause = stop - start
    if len(start) and (np.any(pause < 0) or np.any(np.diff(start) < 0)):
        raise GcperfError(f"{rec.path}: collection time stamps go backwards; the recording is corrupt")
    # everything the program did not do itself, up to the start of each collection: earlier
    # pauses and measurements, and this collection's own measurement (made just before it)
    lost_before = np.concatenate([[0], np.cumsum(pause + meas)[:-1]]) + meas
    m = (start - lost_before) / 1e9
    m = np.maximum.accumulate(np.maximum(m, 0.0))
    dur = np.diff(np.concatenate([[0.0], m]))
    wall_end = rec.wall_s
    mutator_s = max(wall_end - float((pause + meas).sum()) / 1e9, float(m[-1]) if len(m) else 0.0)
    g1_sizes, g2_sizes = older_sizes(c)
    t = pd.DataFrame({
        "m_s": m,
        "dur_s": dur,
        "generation": c["generation"].to_numpy(),
        "threshold0": c["threshold0"].to_numpy(),
        "count0": c["count0"].to_numpy(),
        "collected": c["collected"].to_numpy(),
        "pause_s": pause / 1e9,
        "young": c["gen0_objects"].to_numpy(),
        "gen1": g1_sizes,
        "gen2": g2_sizes,
        "gen1_after": c["next_gen_objects_after"].to_numpy(),
        "explicit": c["explicit"].to_numpy().astype(bool),
        "wall_s": start / 1e9,
    })
    # windows in which the recorder cut an excursion short (recorder 2+)
    cut = np.zeros(len(start), dtype=bool)
    resets = rec.doc.get("pattern_resets") or []
    if len(start) and resets:
        at = np.searchsorted(start, np.array([r[0] for r in resets], dtype=np.int64), side="left")
        cut[at[at < len(start)]] = True
    t["cut"] = cut
    base = int(rec.doc["interpreter"].get("tracked_objects", 0))
    return Windows(t, mutator_s, base, rec.version)
