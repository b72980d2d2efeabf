"""The recording file: one gzip'd JSON document, versioned, with its provenance.

Layout (``SCHEMA_VERSION`` 1)::

    {"format": "gcperf-recording", "schema_version": 1,
     "provenance": {gcperf_version, recorder_version, date_utc, command, cwd, machine,
                    loadavg_start, loadavg_end, gcperf_python},
     "interpreter": {version, version_full, implementation, executable, thresholds, count,
                     get_stats, freeze_count, tracked_objects, generation_objects, rss_kib, pid},
     "program": {argv, exit_status, wall_s, startup_s, first_statement_s},
     "settings": {pattern, pattern_name, budget, sample_interval_s, pattern_stopped_by_program,
                  excursion_limit (recorder 2+)},
     "measure_s": seconds the recorder spent measuring generation sizes (outside every pause),
     "collections": {column: [one value per collection]},
     "memory": {t_ns, rss_kib, hwm_kib, cpu_s: [one value per sample]},
     "types": {type name: [objects sampled, bytes, referents]},
     "events": [[t_ns, gc function, args], ...],
     "pattern_resets": [[t_ns, count0, threshold0 cut short], ...]  (optional: recorder 2+),
     "end": {get_stats, count, thresholds, rss_kib}}

Times are nanoseconds since the recorder handed the program to ``runpy``, which then compiles
it: its first statement ran ``first_statement_s`` later (collections before that are start-up).
``startup_s`` is the time from launching the interpreter to that moment. Collection columns (``COLUMNS``):
``t_start_ns``/``t_stop_ns`` (the pause), ``generation``, ``collected``, ``uncollectable``,
``count0..2`` and ``threshold0..2`` when it started, ``gen0_objects``/``gen1_objects``/
``gen2_objects`` (sizes of the collected generations when it started; -1: not measured),
``next_gen_objects_after`` (size of generation g+1 when it ended; -1: not measured),
``measure_ns`` (the recorder's own cost at this collection) and ``explicit`` (1 for a
``gc.collect()`` call of the program).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import GcperfError

FORMAT = "gcperf-recording"
# History: 1 = first version (2026-12).
SCHEMA_VERSION = 1

COLUMNS = (
    "t_start_ns", "t_stop_ns", "generation", "collected", "uncollectable",
    "count0", "count1", "count2", "threshold0", "threshold1", "threshold2",
    "gen0_objects", "gen1_objects", "gen2_objects", "next_gen_objects_after",
    "measure_ns", "explicit",
)
MEMORY_COLUMNS = ("t_ns", "rss_kib", "hwm_kib", "cpu_s")


def write_recording(doc: dict[str, Any], out: str | Path) -> Path:
    """Write ``doc`` as a recording file, atomically (a temporary file linked into place, never over a file).

    Raises:
        GcperfError: the file exists already or cannot be written.
    """
    out = Path(out)
    if out.exists():
        raise GcperfError(f"{out} exists already; gcperf does not overwrite a file (choose another -o)")
    full = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **doc}
    data = json.dumps(full, separators=(",", ":"), allow_nan=False).encode("utf-8")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            # no time stamp in the gzip header: the same recording writes the same bytes
            f.write(gzip.compress(data, compresslevel=6, mtime=0))
            f.flush()
            os.fsync(f.fileno())
        try:
            # a hard link is created only where no file is: nothing that appeared meanwhile is replaced
            os.link(tmp, out)
        except FileExistsError:
            raise GcperfError(f"{out} appeared while recording; gcperf does not overwrite a file") from None
        except OSError:  # a file system without hard links
            if out.exists():
                raise GcperfError(f"{out} appeared while recording; gcperf does not overwrite a file") from None
            os.replace(tmp, out)
    except OSError as e:
        raise GcperfError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


@dataclass
class Recording:
    """A recording, read and checked.

    Attributes:
        path: where it was read from.
        doc: the whole document (provenance, interpreter, program, settings, ...).
        collections: one row per collection, ``COLUMNS`` plus ``start_s``, ``pause_s``.
        memory: one row per memory sample, ``MEMORY_COLUMNS`` plus ``t_s``, ``rss_mb``.
    """

    path: Path
    doc: dict[str, Any]
    collections: pd.DataFrame
    memory: pd.DataFrame

    @property
    def version(self) -> str:
        """The recorded interpreter's full version, e.g. ``"3.12.1"``."""
        return str(self.doc["interpreter"]["version"])

    @property
    def minor(self) -> str:
        """``"3.12"``."""
        return ".".join(self.version.split(".")[:2])

    @property
    def program_name(self) -> str:
        """The recorded program's name (its script's stem, or the module run with -m)."""
        argv = self.doc.get("program", {}).get("argv") or ["program"]
        return Path(str(argv[0])).stem or "program"

    @property
    def wall_s(self) -> float:
        """The program's run time (its first statement to its end), seconds."""
        return float(self.doc["program"]["wall_s"])

    @property
    def default_thresholds(self) -> tuple[int, int, int]:
        """``gc.get_threshold()`` of the interpreter when the program started."""
        return tuple(int(x) for x in self.doc["interpreter"]["thresholds"])  # type: ignore[return-value]


def load_recording(path: str | Path) -> Recording:
    """Read and check a recording file.

    Raises:
        GcperfError: missing, unreadable, truncated or corrupt file, another format or schema
            version, or columns of unequal length.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise GcperfError(f"no such recording: {p}") from None
    except IsADirectoryError:
        raise GcperfError(f"{p} is a folder, not a recording file") from None
    except OSError as e:
        raise GcperfError(f"cannot read {p}: {e.strerror or e}") from None
    if not raw:
        raise GcperfError(f"{p} is empty, not a recording")
    try:
        text = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        raise GcperfError(f"{p} is not a gcperf recording (not gzip data, or truncated)") from None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise GcperfError(f"{p} is corrupt (its JSON does not parse)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GcperfError(f"{p} is not a gcperf recording")
    version = doc.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:  # not True, which == 1
        raise GcperfError(f"{p} is a recording of schema version {version!r}; "
                          f"this gcperf reads version {SCHEMA_VERSION} (record the program again)")
    try:
        cols = doc["collections"]
        coll = pd.DataFrame({c: np.asarray(cols[c], dtype=np.int64) for c in COLUMNS})
        mem_doc = doc["memory"]
        mem = pd.DataFrame({c: np.asarray(mem_doc[c], dtype=float) for c in MEMORY_COLUMNS})
        for key in ("interpreter", "program", "provenance", "settings"):
            if not isinstance(doc[key], dict):
                raise TypeError(key)
        float(doc["program"]["wall_s"])
        str(doc["interpreter"]["version"])
    except (KeyError, TypeError, ValueError) as e:
        raise GcperfError(f"{p} is corrupt or incomplete ({type(e).__name__}: {e})") from None
    if coll.empty:
        raise GcperfError(f"{p} holds no collections")
    coll["start_s"] = coll["t_start_ns"] / 1e9
    coll["pause_s"] = (coll["t_stop_ns"] - coll["t_start_ns"]) / 1e9
    mem["t_s"] = mem["t_ns"] / 1e9
    mem["rss_mb"] = mem["rss_kib"] / 1024.0
    return Recording(p, doc, coll, mem)
