"""Run a Python program under light instrumentation of its cyclic garbage collector.

This file is a standalone script, run by ``gcperf record`` under the *target* interpreter
(any CPython 3.8+), never imported by gcperf: it uses the standard library only and keeps
to Python 3.8 syntax. Usage (gcperf builds this command line)::

    python child.py CONTROL_JSON -- script.py [args ...]
    python child.py CONTROL_JSON -- -m package.module [args ...]

``CONTROL_JSON`` names a file holding the options (output paths, the threshold pattern, the
measurement budget). The program runs as ``__main__`` exactly as ``python script.py`` would run
it (``sys.argv``, ``sys.path[0]``), in this process.

What is recorded, per collection, from a ``gc.callbacks`` hook (allocation-free on its fast
path: fields go into a preallocated ``array`` that is written to disk in blocks):

* when it started and stopped (``time.perf_counter_ns``: CLOCK_MONOTONIC, the clock of the
  parent process too), its generation, ``collected`` and ``uncollectable``;
* ``gc.get_count()`` and the thresholds in force when it started;
* within a time budget (``budget``: a fraction of the run time, 3 % by default), the size of
  generation 0 when it started (``len(gc.get_objects(0))``), and of generation 1 too before a
  young collection; the size of the next generation when a collection stopped (how many
  survived; generations 1 and 2 as an older collection will find them: walking them just
  before it would warm the caches for its pause; after a full collection, generation 2, so
  that survivors + collected = examined). Older collections, rare and long, always have their
  young generation measured before them; generation 2 after a full collection is walked for
  the first ``FULL_WALKS_ALWAYS`` of them and then within the budget (a walk of the whole
  heap); the first ``YOUNG_ALWAYS`` young collections are measured whatever the budget, so that
  a short program still gives calibration enough; the
  measurement happens before the start time stamp and after the stop time stamp, so it is not
  part of the pause; its cost is recorded too;
* a small sample of the objects of measured young generations: type, ``sys.getsizeof`` and
  number of referents, aggregated per type.

The threshold pattern: after every automatic collection the hook sets threshold0 to the next
entry of a known schedule (mostly the interpreter's default, with excursions to smaller and
larger values), so that one recording shows how the program responds to several young
generation sizes. Excursions above the default are bounded in time: a program whose
count0 climbs and falls (a tree built and dropped, again and again) may never reach a large
threshold0, and an excursion that lasted until it did would make the recording a run at that
threshold rather than at the default. So a watchdog thread, started at the first excursion,
puts threshold0 back to the default once an excursion has lasted ``excursion_limit`` times as
long as it would at the default windows' recent pace (the resets are recorded: time, count0).
If the program sets thresholds itself, the pattern stops and its own settings are kept. Calls the program makes to ``gc.collect``, ``gc.freeze``, ``gc.disable``,
``gc.enable``, ``gc.set_threshold`` and ``gc.unfreeze`` are recorded as events.

Collections while runpy compiles the program, before its first statement, are recorded too; the
footer says when the first statement ran (``t_first_statement_ns``, noted by a profile function
that removes itself at once). A program that fails is summed up in one line for gcperf's error
message (exception, message, the innermost line of the program's own code); its traceback is
printed only when the control file asks for it (``show_traceback``, ``gcperf --debug``).
"""

import _thread
import gc
import json
import os
import sys
import time
from array import array

RECORDER_VERSION = 5
#: Full collections whose survivors are counted whatever the budget (the rest: within it).
FULL_WALKS_ALWAYS = 3
#: Young collections measured whatever the budget (the rest: within it). Calibration needs a few
#: collections with measured sizes; a program of a third of a second has a budget of ~12 ms,
#: which recorder 4 spent on about a dozen of them, and on a loaded machine on fewer than five.
YOUNG_ALWAYS = 24

# One row per collection, int64 each, in this order (the parent reads the same list from the
# control file's "fields" echo in the footer).
FIELDS = (
    "t_start_ns", "t_stop_ns", "generation", "collected", "uncollectable",
    "count0", "count1", "count2", "threshold0", "threshold1", "threshold2",
    "gen0_objects", "gen1_objects", "gen2_objects", "next_gen_objects_after",
    "measure_ns", "explicit",
)
NF = len(FIELDS)
BLOCK_ROWS = 4096

_pc = time.perf_counter_ns


def _read_control(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _rss_kib():
    try:
        with open("/proc/self/statm", "rb") as f:
            parts = f.read().split()
        return int(parts[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return -1


class Recorder:
    """The hook's state: a row buffer, the pattern, the budget and the program's gc calls."""

    def __init__(self, control):
        self.rows_path = control["rows_path"]
        self.footer_path = control["footer_path"]
        self.budget = float(control.get("budget", 0.03))
        self.sample_objects = int(control.get("sample_objects", 16))
        self.pattern = [int(x) for x in control.get("pattern", [])]
        self.pid = os.getpid()
        self.buf = array("q", bytes(8 * NF * BLOCK_ROWS))
        self.n = 0  # rows in buf
        self.total_rows = 0
        self.rows_file = open(self.rows_path, "wb")  # noqa: SIM115 - open for the whole run, closed by close()
        self.pat_i = 0
        self.pattern_on = bool(self.pattern)
        self.expected_t0 = None
        self.spent_ns = 0  # time spent measuring (not in any pause)
        self.young_measured = 0  # young collections whose sizes were measured
        self.t0 = 0
        self.t_first = None  # when the program's first statement ran (after runpy compiled it)
        self.cur = 0  # offset of the row being filled
        self.in_collection = False
        self.explicit_depth = 0
        self.types = {}  # type name -> [count, bytes, referents]
        self.events = []  # (t_ns, name, args) of the program's own gc calls
        self.set_threshold = gc.set_threshold  # the real one, not the program's wrapped one
        # bounded excursions (see the module docstring)
        self.default_t0 = int(control.get("default_threshold0", 0)) or None
        self.excursion_limit = float(control.get("excursion_limit", 0.0))
        self.pace_ns = 0.0  # recent wall time of a default window, per unit of threshold0
        self.t_prev_stop = 0
        self.exc_id = 0
        self.exc_deadline = 0
        self.resets = []  # (t_ns, count0, threshold0 that was cut short)
        self.bounded = bool(self.default_t0 and self.excursion_limit > 0)
        self.watchdog = None
        self.lock = _thread.allocate_lock()  # (a lock; the watchdog thread starts only when needed)
        self.stopping = False
        self.exc_armed = 0
        self.cut_t0 = None  # threshold0 of the excursion being cut short (a collection may see either)
        self.cut_in_window = False
        self.full_walks = 0  # generation 2 walked after a full collection, so far

    # -- the hook ----------------------------------------------------------------
    def callback(self, phase, info):
        if os.getpid() != self.pid:  # a forked child: not ours to record
            return
        if phase == "start":
            self._start(info)
        else:
            self._stop(info)

    def _start(self, info):
        t_in = _pc()
        if self.n == BLOCK_ROWS:
            self._flush()
        buf = self.buf
        o = self.n * NF
        self.cur = o
        g = info["generation"]
        c0, c1, c2 = gc.get_count()
        th = gc.get_threshold()
        buf[o + 2] = g
        buf[o + 5] = c0
        buf[o + 6] = c1
        buf[o + 7] = c2
        buf[o + 8] = th[0]
        buf[o + 9] = th[1]
        buf[o + 10] = th[2]
        buf[o + 16] = 1 if self.explicit_depth else 0
        # the pattern stops for good once the program sets thresholds of its own
        if self.expected_t0 is not None and th[0] != self.expected_t0 and th[0] != self.cut_t0:
            self.pattern_on = False
        measured = -1
        m1 = m2 = -1
        within = self._within_budget(t_in) or (g == 0 and self.young_measured < YOUNG_ALWAYS)
        if within or g >= 1:
            # (an older collection is rare and costs far more than a walk of the young
            # generation: its young size is always measured)
            young = gc.get_objects(0)
            measured = len(young)
            if g == 0:
                self.young_measured += 1
                # (generation 1 is not part of a young collection: walking it costs the pause
                # nothing. The older generations of an older collection are not walked before
                # it: that walk touches every object and would warm the caches for the pause,
                # 30 % faster in the median. Their sizes come from after earlier collections.)
                m1 = len(gc.get_objects(1))
                if self.sample_objects:
                    self._sample_types(young)
            del young  # (the sample needs it: one list of the young generation, not two)
        buf[o + 11] = measured
        buf[o + 12] = m1
        buf[o + 13] = m2
        buf[o + 14] = -1
        self.in_collection = True
        t = _pc()
        self.spent_ns += t - t_in
        buf[o + 15] = t - t_in
        buf[o] = t  # the pause starts now

    def _stop(self, info):
        t = _pc()
        if not self.in_collection:  # a stop without our start (hook added mid-collection)
            return
        self.in_collection = False
        buf = self.buf
        o = self.cur
        buf[o + 1] = t
        buf[o + 3] = info["collected"]
        buf[o + 4] = info["uncollectable"]
        g = info["generation"]
        if buf[o + 11] >= 0 and (g == 0 or self._within_budget(t) or (g == 2 and self.full_walks < FULL_WALKS_ALWAYS)):
            # the next generation after it: the young collection's survivors, the size of
            # generation 2 that the next full collection will find, or (after a full one) its
            # survivors, which with what it collected is what it examined. Walking generation 2
            # after a full collection costs a walk of the whole heap (21 ms on a 140 MiB heap):
            # the first FULL_WALKS_ALWAYS are measured whatever the budget, the rest within it
            # (recorder 3 walked after every one and spent 5 % of cyclic_graph's run doing so)
            buf[o + 14] = len(gc.get_objects(min(g + 1, 2)))
            if g == 2:
                self.full_walks += 1
        if self.pattern_on and not self.explicit_depth:
            p = self.pattern
            t0 = p[self.pat_i % len(p)]
            self.pat_i += 1
            th = gc.get_threshold()
            if self.bounded:
                self._pace(o, th[0])
            with self.lock:
                self.exc_id += 1  # (the window ended: an armed watchdog stands down)
                self.set_threshold(t0, th[1], th[2])
                self.expected_t0 = t0
                self.cut_t0 = None  # (a cut's threshold can only be seen in the window it ended)
            if self.bounded and t0 > self.default_t0 and self.pace_ns > 0:
                self._bound(t0, t)
        self.t_prev_stop = t
        self.cut_in_window = False
        self.n += 1
        self.total_rows += 1
        t_out = _pc()
        self.spent_ns += t_out - t
        buf[o + 15] += t_out - t

    def _within_budget(self, t_now):
        """Whether measuring now keeps the recorder within its share of the run (+2 ms)."""
        return self.spent_ns <= self.budget * (t_now - self.t0) + 2000000

    def _pace(self, o, t0_now):
        """Learn the wall time per unit of threshold0 from a window that ran at the default."""
        if t0_now != self.default_t0 or self.t_prev_stop == 0 or self.buf[o + 16] or self.cut_in_window:
            return
        d = (self.buf[o] - self.t_prev_stop) / float(t0_now)
        if d <= 0:
            return
        self.pace_ns = d if self.pace_ns == 0 else 0.8 * self.pace_ns + 0.2 * d

    def _bound(self, t0, t_now):
        """Arm the watchdog for the excursion that starts now."""
        if self.watchdog is None:
            import threading

            self.wake = threading.Event()
            self.watchdog = threading.Thread(target=self._watch, name="gcperf-record-watchdog", daemon=True)
            self.watchdog.start()
        self.exc_deadline = t_now + int(self.excursion_limit * t0 * self.pace_ns)
        self.exc_armed = self.exc_id
        self.wake.set()

    def _watch(self):
        """The watchdog thread: cut an excursion short at its deadline."""
        while not self.stopping:
            self.wake.wait()
            self.wake.clear()
            while not self.stopping:
                armed = self.exc_armed
                left = self.exc_deadline - _pc()
                if left > 0:
                    time.sleep(min(left / 1e9, 0.05))
                    if self.exc_id != armed:  # the window ended: wait for the next excursion
                        break
                    continue
                with self.lock:
                    if self.exc_id == armed and self.pattern_on and not self.in_collection:
                        th = gc.get_threshold()
                        if th[0] == self.expected_t0 and th[0] > self.default_t0:
                            self.cut_t0 = th[0]
                            self.cut_in_window = True
                            self.expected_t0 = self.default_t0
                            self.resets.append((_pc(), gc.get_count()[0], th[0]))
                            self.set_threshold(self.default_t0, th[1], th[2])
                    self.exc_id += 1
                break

    def _sample_types(self, objs):
        n = len(objs)
        k = self.sample_objects
        if n == 0:
            return
        step = max(n // k, 1)
        types = self.types
        getsizeof = sys.getsizeof
        referents = gc.get_referents
        for i in range(0, n, step):
            o = objs[i]
            name = type(o).__name__
            rec = types.get(name)
            if rec is None:
                if len(types) >= 200:
                    continue
                rec = types[name] = [0, 0, 0]
            rec[0] += 1
            try:  # noqa: SIM105 - in the sampling loop: a bare try costs less than contextlib.suppress
                rec[1] += getsizeof(o)
            except Exception:  # noqa: BLE001 - a broken __sizeof__ of the program's own type
                pass
            rec[2] += len(referents(o))
        del objs

    def _flush(self):
        self.rows_file.write(self.buf[: self.n * NF].tobytes())
        self.rows_file.flush()
        self.n = 0

    # -- the program's own gc calls ------------------------------------------------
    def wrap_gc(self):
        rec = self
        real = {}
        for name in ("collect", "freeze", "unfreeze", "disable", "enable", "set_threshold"):
            if hasattr(gc, name):
                real[name] = getattr(gc, name)

        def make(name, fn):
            def wrapper(*args, **kwargs):
                if os.getpid() == rec.pid and len(rec.events) < 100000:
                    rec.events.append((_pc(), name, list(args)))
                if name == "collect":
                    rec.explicit_depth += 1
                    try:
                        return fn(*args, **kwargs)
                    finally:
                        rec.explicit_depth -= 1
                if name == "set_threshold":
                    rec.pattern_on = False
                return fn(*args, **kwargs)
            wrapper.__name__ = fn.__name__
            wrapper.__doc__ = fn.__doc__
            return wrapper

        for name, fn in real.items():
            setattr(gc, name, make(name, fn))
        return real

    def finish(self, status, error, real):
        self.stopping = True
        if self.watchdog is not None:
            self.wake.set()
        for name, fn in real.items():
            setattr(gc, name, fn)
        self._flush()
        self.rows_file.close()
        t_end = _pc()
        stats = gc.get_stats()
        generations_end = [len(gc.get_objects(g)) for g in range(3)]
        footer = {
            "generation_objects_end": generations_end,
            "recorder_version": RECORDER_VERSION,
            "fields": list(FIELDS),
            "rows": self.total_rows,
            "t_script_start_ns": self.t0,
            "t_first_statement_ns": self.t_first,
            "t_script_end_ns": t_end,
            "exit_status": status,
            "error": error,
            "measure_ns": self.spent_ns,
            "pattern_applied": self.pat_i,
            "pattern_stopped_by_program": bool(self.pattern) and not self.pattern_on,
            "types": self.types,
            "events": self.events,
            "pattern_resets": self.resets,
            "get_stats_end": stats,
            "count_end": list(gc.get_count()),
            "threshold_end": list(gc.get_threshold()),
            "rss_kib_end": _rss_kib(),
        }
        return footer


def _interpreter_facts():
    """Facts about the interpreter and the process before the program starts."""
    impl = sys.implementation
    return {
        "version": "%d.%d.%d" % sys.version_info[:3],  # noqa: UP031 - as the measured interpreter (3.8+) runs it
        "version_full": sys.version,
        "implementation": impl.name,
        "executable": sys.executable,
        "gil_disabled": bool(getattr(sys, "_is_gil_enabled", lambda: True)() is False),
        "thresholds": list(gc.get_threshold()),
        "count": list(gc.get_count()),
        "get_stats": gc.get_stats(),
        "freeze_count": gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else 0,
        "tracked_objects": len(gc.get_objects()),
        "generation_objects": [len(gc.get_objects(g)) for g in range(3)],
        "rss_kib": _rss_kib(),
        "pid": os.getpid(),
    }


def _first_statement_marker(rec, runpy):
    """A profile function that notes when the program's own code starts, then removes itself.

    Before it, runpy finds and compiles the program: collections then are start-up, not the
    program's. The first frame of module code outside runpy and importlib is the program's
    (its script, or for ``-m pkg.mod`` the package's ``__init__``).
    """
    import importlib

    internal_dir = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep
    internal = (__file__, getattr(runpy, "__file__", None))

    def marker(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        fn = code.co_filename
        if code.co_name != "<module>" or fn.startswith("<frozen ") or fn in internal or fn.startswith(internal_dir):
            return
        rec.t_first = _pc()
        sys.setprofile(None)

    return marker


def _describe(exc):
    """``"ZeroDivisionError: division by zero (at prog.py:3)"``: the program's failure, in one line."""
    msg = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)  # without "(file, line n)"
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    text = " ".join(text.split())  # one line, whatever the message holds
    if len(text) > 300:
        text = text[:297] + "..."
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = (exc.filename, exc.lineno)
    else:
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame that is not the recorder's or runpy's
            fn = tb.tb_frame.f_code.co_filename
            if fn != __file__ and not fn.endswith(("runpy.py", "<frozen runpy>")) and "importlib" not in fn:
                where = (fn, tb.tb_lineno)
            tb = tb.tb_next
    if where is not None:
        fn = where[0]
        try:
            rel = os.path.relpath(fn)
            if not rel.startswith(".."):
                fn = rel
        except ValueError:
            pass
        text += f" (at {fn}:{where[1]})"
    return text


def main():
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: child.py CONTROL_JSON -- script.py [args ...]\n")
        return 2
    control = _read_control(argv[0])
    target = argv[2:]
    module = None
    if target[0] == "-m":
        if len(target) < 2:
            sys.stderr.write("gcperf record: -m needs a module name\n")
            return 2
        module = target[1]
        prog_argv = [module] + target[2:]
    else:
        prog_argv = target
    rec = Recorder(control)
    facts = _interpreter_facts()
    # what runpy imports on first use (pkgutil, inside run_path since 3.10; it imports typing since
    # 3.12) is imported now, so that its work and collections are not taken for the program's
    import pkgutil  # noqa: F401
    import runpy

    # as `python script.py` would: argv, and the script's folder first on the path
    sys.argv = list(prog_argv)
    if module is None:
        sys.path[0] = os.path.dirname(os.path.abspath(prog_argv[0]))
    else:
        sys.path[0] = os.getcwd()
    real = rec.wrap_gc()
    status = 0
    error = None
    exit_message = None
    if rec.pattern:
        th = gc.get_threshold()
        rec.set_threshold(rec.pattern[0], th[1], th[2])
        rec.expected_t0 = rec.pattern[0]
        rec.pat_i = 1
    gc.callbacks.append(rec.callback)
    marker = _first_statement_marker(rec, runpy)
    sys.setprofile(marker)
    rec.t0 = _pc()
    try:
        if module is None:
            runpy.run_path(prog_argv[0], run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code
        if code is None:
            status = 0
        elif isinstance(code, int):
            status = code
        else:  # sys.exit("message"): python prints it and exits 1; gcperf's one line says it
            status = 1
            exit_message = " ".join(str(code).split())[:300]
    except KeyboardInterrupt:
        status = 130
        error = "KeyboardInterrupt"
    except BaseException as e:  # noqa: BLE001 - the program's own failure
        if control.get("show_traceback"):
            import traceback

            traceback.print_exc()
        status = 1
        error = _describe(e)
    finally:
        if sys.getprofile() is marker:  # the program failed before its first statement
            sys.setprofile(None)
        try:  # noqa: SIM105 - no contextlib import in the measured process
            gc.callbacks.remove(rec.callback)
        except ValueError:
            pass
        if rec.pattern and rec.pattern_on:
            th = gc.get_threshold()
            rec.set_threshold(facts["thresholds"][0], th[1], th[2])
    if os.getpid() != rec.pid:
        # a process the program forked that returned instead of exiting: the recording is its
        # parent's to finish
        return status
    try:  # a Ctrl-C meant for the program must not cut the footer short
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ImportError, ValueError, OSError):
        pass
    footer = rec.finish(status, error, real)
    footer["interpreter"] = facts
    footer["exit_message"] = exit_message
    tmp = rec.footer_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        # repr: an odd argument of the program's gc calls (a numpy integer) must not lose the recording
        json.dump(footer, f, default=repr)
    os.replace(tmp, rec.footer_path)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed stdout is the program's business
        pass
    return status


if __name__ == "__main__":
    sys.exit(main())
