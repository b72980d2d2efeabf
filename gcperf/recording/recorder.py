"""``gcperf record``: run a real program in a subprocess and write one recording file.

The program runs under ``child.py`` (stdlib-only instrumentation of the collector, see its
docstring) in the chosen interpreter. This process meanwhile samples the child's resident
memory (``/proc/<pid>/status``: VmRSS, VmHWM) and CPU time every few milliseconds, which costs
the measured program nothing. When the program ends, the collection rows, the memory samples
and the provenance go into one gzip'd JSON file (schema in ``format.py``), written atomically.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
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
#: the default, with one excursion after every ``DEFAULT_RUN`` default windows (twice the
#: excursion's multiple for the large ones, so that the run stays mostly at the default), the
#: excursions taking turns through ``EXCURSIONS`` (ordered so that a short program still sees the
#: far ends).
EXCURSIONS = (4.0, 0.25, 16.0, 0.5, 32.0, 2.0)
DEFAULT_RUN = 10
#: An excursion above the default lasts at most this many times as long as it would at the pace
#: of the recent default windows (then threshold0 goes back to the default; child.py).
EXCURSION_LIMIT = 1.5


#: The longest interval between two memory samples, seconds.
MAX_SAMPLE_INTERVAL_S = 1.0


def default_pattern(threshold0: int, excursions: tuple[float, ...] = EXCURSIONS, run: int = DEFAULT_RUN) -> list[int]:
    """Threshold0 of every window of one cycle of the pattern (the child repeats it)."""
    out: list[int] = []
    for m in excursions:
        out.extend([threshold0] * max(run, int(math.ceil(2 * m))))
        out.append(max(1, int(round(threshold0 * m))))
    return out


@dataclass
class RecordOptions:
    """How to record.

    Attributes:
        python: interpreter (path, command or version; None: the one running gcperf).
        pattern: ``"default"`` (thresholds vary in the known pattern) or ``"none"``.
        budget: fraction of the run time the child may spend measuring generation sizes.
        sample_interval_s: how often the parent samples the child's memory at first; the
            interval grows with the run time (a hundredth of it, at most ``MAX_SAMPLE_INTERVAL_S``),
            so that a long run costs a few hundred samples, not one per interval. VmHWM (the peak)
            is exact whatever the interval.
        timeout_s: stop the program after this many seconds (None: no limit).
        env: extra environment variables for the program.
        show_traceback: print the program's traceback when it fails (the error names the
            exception and the line in any case).
        excursion_limit: an excursion of the pattern above the default is put back to the
            default once it has lasted this many times as long as it would at the pace of the
            recent default windows; 0: excursions last until their collection (the pattern is
            then exactly reproducible, as tests need).
    """

    python: str | None = None
    pattern: str = "default"
    budget: float = 0.03
    sample_interval_s: float = 0.005
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    show_traceback: bool = False
    excursion_limit: float = EXCURSION_LIMIT

    def __post_init__(self) -> None:
        if self.pattern not in ("default", "none"):
            raise GcperfError(f"pattern must be 'default' or 'none', got {self.pattern!r}")
        if not (0.0 <= self.budget <= 1.0):
            raise GcperfError(f"budget must be between 0 and 1, got {self.budget!r}")
        if not (0.0005 <= self.sample_interval_s <= 10.0):
            raise GcperfError(f"sample_interval_s must be between 0.0005 and 10, got {self.sample_interval_s!r}")
        if not (self.excursion_limit == 0 or 1.0 <= self.excursion_limit <= 1000.0):
            raise GcperfError(f"excursion_limit must be 0 or between 1 and 1000, got {self.excursion_limit!r}")
        if self.timeout_s is not None and not (self.timeout_s > 0):
            raise GcperfError(f"timeout_s must be > 0, got {self.timeout_s!r}")


class _ProcReader:
    """Reads a live process's VmRSS, VmHWM (KiB) and CPU seconds from ``/proc``, cheaply.

    The two files stay open and are re-read with ``pread`` (a fresh snapshot each time): about
    20 us per sample instead of 60 us for opening them anew, on the core next to the program's.
    """

    def __init__(self, pid: int):
        self.fds: list[int] = []
        try:
            self.fds.append(os.open(f"/proc/{pid}/status", os.O_RDONLY))
            self.fds.append(os.open(f"/proc/{pid}/stat", os.O_RDONLY))
        except OSError:  # no /proc (or the process is gone already): no samples
            self.close()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read(self) -> tuple[int, int, float] | None:
        """(VmRSS KiB, VmHWM KiB, CPU seconds), None once the process is gone (or a zombie)."""
        if not self.fds:
            return None
        try:
            status = os.pread(self.fds[0], 8192, 0)
            stat = os.pread(self.fds[1], 2048, 0)
        except OSError:
            return None
        rss = _kib(status, b"VmRSS:")
        if rss < 0:  # a zombie has no memory lines
            return None
        try:
            fields = stat.rsplit(b")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
        except (IndexError, ValueError):
            cpu = -1.0  # (not NaN: the recording is strict JSON)
        return rss, _kib(status, b"VmHWM:"), cpu

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _kib(status: bytes, key: bytes) -> int:
    i = status.find(key)
    if i < 0:
        return -1
    try:
        return int(status[i + len(key):status.index(b"\n", i)].split()[0])
    except (ValueError, IndexError):
        return -1


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


def check_output(out: str | Path) -> Path:
    """Refuse an output file before the program runs: one that exists, or one in a missing folder.

    Raises:
        GcperfError: ``out`` exists (gcperf never overwrites a file) or its folder does not.
    """
    out = Path(out)
    if out.exists() or out.is_symlink():
        what = "a folder" if out.is_dir() else "a file"
        raise GcperfError(f"{out} exists already ({what}); gcperf does not overwrite it (choose another -o)")
    parent = out.parent
    if not parent.is_dir():
        raise GcperfError(f"cannot write {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GcperfError(f"cannot write {out}: folder {parent} is not writable")
    return out


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
        GcperfError: no program or no such script, an output file that exists (or a folder that
            does not), an interpreter that is not CPython 3.8+, a program that fails, exits
            non-zero, is killed, runs past the time limit or never collects (nothing is written
            then, and the temporary folder is removed).
    """
    opts = options or RecordOptions()
    if not program:
        raise GcperfError("no program given: gcperf record [options] -- script.py [args]")
    if program[0] == "-m":
        if len(program) < 2:
            raise GcperfError("-m needs a module name")
    else:
        script = Path(program[0])
        if script.is_dir():
            raise GcperfError(f"{program[0]} is a folder, not a script")
        if not script.is_file():
            raise GcperfError(f"no such script: {program[0]}")
    out = check_output(out)  # before the program runs, not after
    interp = resolve(opts.python)
    if interp.free_threaded:
        raise GcperfError(f"{interp.path} is a free-threaded build; recording it is not supported yet")
    pattern = default_pattern(interp.thresholds[0]) if opts.pattern == "default" else []
    tmpdir = Path(tempfile.mkdtemp(prefix="gcperf-record-"))
    try:
        control = {
            "rows_path": str(tmpdir / "rows.bin"),
            "footer_path": str(tmpdir / "footer.json"),
            "budget": opts.budget,
            "pattern": pattern,
            "default_threshold0": interp.thresholds[0],
            "excursion_limit": opts.excursion_limit if pattern else 0.0,
            "show_traceback": opts.show_traceback,
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
        try:
            footer = json.loads(footer_path.read_text(encoding="utf-8"))
            footer_status = int(footer["exit_status"])
        except (OSError, ValueError, KeyError, TypeError):
            raise GcperfError("the recorder's own summary of the run is unreadable; no recording written") from None
        if footer_status != 0 or status != 0:
            raise GcperfError(_failure(footer_status or status, footer.get("error"), footer.get("exit_message")))
        fields = footer["fields"]
        raw = np.fromfile(tmpdir / "rows.bin", dtype="<i8")
        if len(raw) != footer["rows"] * len(fields):
            raise GcperfError("the recording's collection rows are incomplete; no recording written")
        rows = raw.reshape(footer["rows"], len(fields))
        t0 = int(footer["t_script_start_ns"])
        t_first = footer.get("t_first_statement_ns")
        t_first = t0 if t_first is None else int(t_first)
        if not len(rows) or not np.any(rows[:, fields.index("t_start_ns")] >= t_first):
            # (a collection while runpy compiled the script is not the program's)
            raise GcperfError("the program never ran a garbage collection, so there is nothing to calibrate "
                              "from (it allocates too few container objects, or it disables the collector); "
                              "no recording written")
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
                "first_statement_s": (t_first - t0) / 1e9,
            },
            "settings": {"pattern": pattern, "pattern_name": opts.pattern, "budget": opts.budget,
                         "excursion_limit": opts.excursion_limit if pattern else 0.0,
                         "sample_interval_s": opts.sample_interval_s,
                         "pattern_stopped_by_program": footer["pattern_stopped_by_program"]},
            "measure_s": footer["measure_ns"] / 1e9,
            "collections": {k: v.tolist() for k, v in cols.items()},
            "memory": {k: v.tolist() for k, v in mem.items()},
            "types": footer["types"],
            "events": [[e[0] - t0, e[1], e[2]] for e in footer["events"]],
            "pattern_resets": [[e[0] - t0, e[1], e[2]] for e in footer.get("pattern_resets", [])],
            "end": {"get_stats": footer["get_stats_end"], "count": footer["count_end"],
                    "generation_objects": footer["generation_objects_end"],
                    "thresholds": footer["threshold_end"], "rss_kib": footer["rss_kib_end"]},
        }
        return write_recording(doc, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _failure(status: int, error: str | None, exit_message: str | None = None) -> str:
    """The one line that says how the program failed."""
    if error == "KeyboardInterrupt":
        return "the program was interrupted (KeyboardInterrupt); no recording written"
    if exit_message:  # sys.exit("message")
        return f"the program exited with status {status} ({exit_message}); no recording written"
    if error:
        return f"the program failed: {error}; no recording written"
    return f"the program exited with status {status}; no recording written"


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "unknown"


def _wait_exit(proc: subprocess.Popen, pidfd: int | None, timeout_s: float) -> None:
    """Sleep ``timeout_s``, or less if the process ends meanwhile."""
    if pidfd is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout_s)
        return
    with contextlib.suppress(InterruptedError):
        select.select([pidfd], [], [], timeout_s)


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
    reader = _ProcReader(proc.pid)
    try:  # readable when the process ends: one wake-up per sample (Popen.wait polls every few ms)
        pidfd: int | None = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    old_term = signal.getsignal(signal.SIGTERM)

    def _term(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _term)
    except ValueError:  # not the main thread
        old_term = None
    t_first = time.perf_counter_ns()
    try:
        while True:
            r = reader.read()
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
            # dense at first (start-up, the baseline), sparser as the run goes on
            _wait_exit(proc, pidfd, min(max(opts.sample_interval_s, (now - t_first) / 1e11), MAX_SAMPLE_INTERVAL_S))
    except KeyboardInterrupt:
        # a Ctrl-C at the terminal reached the program too; give it a moment before passing one on
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            try:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        raise
    finally:
        reader.close()
        if pidfd is not None:
            os.close(pidfd)
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return {"returncode": proc.returncode, "t_ns": t_ns, "rss_kib": rss, "hwm_kib": hwm, "cpu_s": cpu}


__all__ = ["RecordOptions", "SCHEMA_VERSION", "default_pattern", "record", "Interpreter"]
