"""Progress of one long run on a terminal: a line on stderr, redrawn in place, with an ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO

SHOW_AFTER_S = 3.0
"""Runs estimated shorter than this show no progress line."""


class RunProgress:
    """A ``progress(done, total)`` callback for :func:`gcperf.simulate` that redraws one line.

    Draws only on a terminal (``stream.isatty()``), at most every ``every_s``
    seconds; :meth:`close` erases the line.

    Args:
        label: what is running, e.g. ``"simulating web on 3.13"``.
        stream: where to draw (default: stderr).
        every_s: least seconds between two redraws.
    """

    def __init__(self, label: str, stream: TextIO | None = None, every_s: float = 0.5):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.t0 = time.monotonic()
        self.next_draw = self.t0 + every_s
        self.drawn = False
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self.next_draw:
            return
        self.next_draw = now + self.every_s
        elapsed = now - self.t0
        frac = done / total if total else 1.0
        eta = f"{elapsed * (1 - frac) / frac:.0f} s" if frac > 0 else "?"
        self.stream.write(f"\r  {self.label}: {100 * frac:5.1f} % of {total / 1e6:.4g} M allocations, "
                          f"{elapsed:.0f} s, eta {eta}   ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the progress line (if one was drawn)."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
