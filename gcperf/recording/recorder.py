"""``gcperf record``: run a real program in a subprocess and write one recording file.

The program runs under ``child.py`` (stdlib-only instrumentation of the collector, see its
docstring) in the chosen interpreter. This process meanwhile samples the child's resident
memory (``/proc/<pid>/status``: VmRSS, VmHWM) and CPU time every few milliseconds, which costs
the measured program nothing. When the program ends, the collection rows, the memory samples
and the provenance go into one gzip'd JSON file (schema in ``format.py``), written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GcperfError
from ..interpreters import Interpreter, resolve
from .format import SCHEMA_VERSION, write_recording

CHILD = Path(__file__).with_name("child.py")

#: The default threshold pattern, as multiples of the interpreter's default threshold0: mostly
#: the default, with one excursion after every ``DEFAULT_RUN`` default windows, the excursions
#: taking turns through ``EXCURSIONS`` (ordered so that a short program still sees the far ends).
EXCURSIONS = (4.0, 0.25, 16.0, 0.5, 32.0, 2.0)
DEFAULT_RUN = 10


def default_pattern(threshold0: int, excursions: tuple[float, ...] = EXCURSIONS, run: int = DEFAULT_RUN) -> list[int]:
    """Threshold0 of every window of one cycle of the pattern (the child repeats it)."""
    out: list[int] = []
    for m in excursions:
        out.extend([threshold0] * run)
        out.append(max(1, int(round(threshold0 * m))))
    return out


@dataclass
class RecordOptions:
    """How to record.

    Attributes:
        python: interpreter (path, command or version; None: the one running gcperf).
        pattern: ``"default"`` (thresholds vary in the known pattern) or ``"none"``.
        budget: fraction of the run time the child may spend measuring generation sizes.
        sample_interval_s: how often the parent samples the child's memory.
        timeout_s: stop the program after this many seconds (None: no limit).
        env: extra environment variables for the program.
    """

    python: str | None = None
    pattern: str = "default"
    budget: float = 0.03
    sample_interval_s: float = 0.005
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pattern not in ("default", "none"):
            raise GcperfError(f"pattern must be 'default' or 'none', got {self.pattern!r}")
        if not (0.0 <= self.budget <= 1.0):
            raise GcperfError(f"budget must be between 0 and 1, got {self.budget!r}")
        if not (0.0005 <= self.sample_interval_s <= 10.0):
            raise GcperfError(f"sample_interval_s must be between 0.0005 and 10, got {self.sample_interval_s!r}")


def _read_proc(pid: int) -> tuple[int, int, float] | None:
    """(VmRSS KiB, VmHWM KiB, CPU seconds) of a live process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    rss = hwm = -1
    for line in status.split(b"\n"):
        if line.startswith(b"VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith(b"VmHWM:"):
            hwm = int(line.split()[1])
    try:
        fields = stat.rsplit(b")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        cpu = float("nan")
    if rss < 0:  # a zombie has no memory lines
        return None
    return rss, hwm, cpu


def _machine() -> dict:
    info = {"cpus": os.cpu_count(), "platform": sys.platform}
    try:
        import platform

        info["platform"] = platform.platform()
        info["machine"] = platform.machine()
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in os.getloadavg()]
    except OSError:
        return None


def record(program: list[str], out: str | Path, options: RecordOptions | None = None,
           command: list[str] | None = None, say=None) -> Path:
    """Run ``program`` (``[script.py, args...]`` or ``[-m, module, args...]``) and write its recording.

    Args:
        program: the program and its arguments.
        out: the recording file to write (``.json.gz``); it must not exist yet.
        options: how to record.
        command: the gcperf command line, for provenance.
        say: progress callback (one line at a time), or None.

    Returns:
        The path written.

    Raises:
        GcperfError: no program, an interpreter that is not CPython 3.8+, a program that fails,
            exits non-zero, is killed or never collects (nothing is written then).
    """
    opts = options or RecordOptions()
    if not program:
        raise GcperfError("no program given: gcperf record [options] -- script.py [args]")
    if program[0] == "-m":
        if len(program) < 2:
            raise GcperfError("-m needs a module name")
    else:
        script = Path(program[0])
        if not script.is_file():
            raise GcperfError(f"no such script: {program[0]}")
    interp = resolve(opts.python)
    if interp.free_threaded:
        raise GcperfError(f"{interp.path} is a free-threaded build; recording it is not supported yet")
    out = Path(out)
    pattern = default_pattern(interp.thresholds[0]) if opts.pattern == "default" else []
    tmpdir = Path(tempfile.mkdtemp(prefix="gcperf-record-"))
    try:
        control = {
            "rows_path": str(tmpdir / "rows.bin"),
            "footer_path": str(tmpdir / "footer.json"),
            "budget": opts.budget,
            "pattern": pattern,
        }
        (tmpdir / "control.json").write_text(json.dumps(control), encoding="utf-8")
        env = dict(os.environ)
        env.update(opts.env)
        argv = [interp.path, str(CHILD), str(tmpdir / "control.json"), "--", *program]
        load0 = _loadavg()
        t_launch = time.perf_counter_ns()
        if say:
            say(f"gcperf record: running {' '.join(program)} under CPython {interp.version} ({interp.path})")
        samples = _run_and_sample(argv, env, opts)
        load1 = _loadavg()
        status = samples.pop("returncode")
        footer_path = tmpdir / "footer.json"
        if status < 0:
            raise GcperfError(f"the program was killed by signal {-status} ({_signame(-status)}); no recording written")
        if not footer_path.exists():
            raise GcperfError(f"the program ended (exit status {status}) without finishing the recording "
                              "(did it call os._exit?); no recording written")
        footer = json.loads(footer_path.read_text(encoding="utf-8"))
        if footer["exit_status"] != 0 or status != 0:
            what = footer.get("error") or f"exit status {footer['exit_status'] or status}"
            raise GcperfError(f"the program failed ({what}); no recording written")
        fields = footer["fields"]
        raw = np.fromfile(tmpdir / "rows.bin", dtype="<i8")
        if len(raw) != footer["rows"] * len(fields):
            raise GcperfError("the recording's collection rows are incomplete; no recording written")
        rows = raw.reshape(footer["rows"], len(fields))
        if not len(rows):
            raise GcperfError("the program never ran a garbage collection, so there is nothing to calibrate "
                              "from (it allocates too few container objects, or it disables the collector)")
        t0 = int(footer["t_script_start_ns"])
        cols = {name: rows[:, i] for i, name in enumerate(fields)}
        for name in ("t_start_ns", "t_stop_ns"):
            cols[name] = cols[name] - t0
        mem = {k: np.asarray(v) for k, v in samples.items()}
        mem["t_ns"] = mem["t_ns"] - t0
        from .. import __version__
        from ..provenance import collect_metadata

        meta = collect_metadata(command)
        doc = {
            "provenance": {
                "gcperf_version": __version__,
                "recorder_version": footer["recorder_version"],
                "date_utc": meta["date_utc"],
                "command": meta["command"],
                "cwd": os.getcwd(),
                "machine": _machine(),
                "loadavg_start": load0,
                "loadavg_end": load1,
                "gcperf_python": meta["python"],
            },
            "interpreter": footer["interpreter"],
            "program": {
                "argv": list(program),
                "exit_status": footer["exit_status"],
                "wall_s": (int(footer["t_script_end_ns"]) - t0) / 1e9,
                "startup_s": (t0 - t_launch) / 1e9,
            },
            "settings": {"pattern": pattern, "pattern_name": opts.pattern, "budget": opts.budget,
                         "sample_interval_s": opts.sample_interval_s,
                         "pattern_stopped_by_program": footer["pattern_stopped_by_program"]},
            "measure_s": footer["measure_ns"] / 1e9,
            "collections": {k: v.tolist() for k, v in cols.items()},
            "memory": {k: v.tolist() for k, v in mem.items()},
            "types": footer["types"],
            "events": [[e[0] - t0, e[1], e[2]] for e in footer["events"]],
            "end": {"get_stats": footer["get_stats_end"], "count": footer["count_end"],
                    "generation_objects": footer["generation_objects_end"],
                    "thresholds": footer["threshold_end"], "rss_kib": footer["rss_kib_end"]},
        }
        return write_recording(doc, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "unknown"


def _run_and_sample(argv: list[str], env: dict[str, str], opts: RecordOptions) -> dict:
    """Start the child, sample its memory until it ends; forward Ctrl-C and SIGTERM to it."""
    t_ns: list[int] = []
    rss: list[int] = []
    hwm: list[int] = []
    cpu: list[float] = []
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as e:
        raise GcperfError(f"cannot start {argv[0]}: {e.strerror or e}") from None
    deadline = None if opts.timeout_s is None else time.monotonic() + opts.timeout_s
    interval = opts.sample_interval_s
    old_term = signal.getsignal(signal.SIGTERM)

    def _term(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _term)
    except ValueError:  # not the main thread
        old_term = None
    try:
        while True:
            r = _read_proc(proc.pid)
            now = time.perf_counter_ns()
            if r is not None:
                t_ns.append(now)
                rss.append(r[0])
                hwm.append(r[1])
                cpu.append(r[2])
            if proc.poll() is not None:
                break
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise GcperfError(f"the program ran longer than the time limit ({opts.timeout_s:g} s) and was "
                                  "stopped; no recording written")
            time.sleep(interval)
    except KeyboardInterrupt:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return {"returncode": proc.returncode, "t_ns": t_ns, "rss_kib": rss, "hwm_kib": hwm, "cpu_s": cpu}


__all__ = ["RecordOptions", "SCHEMA_VERSION", "default_pattern", "record", "Interpreter"]
