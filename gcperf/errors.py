"""The one exception type a user of gcperf is meant to see."""

from __future__ import annotations


class GcperfError(ValueError):
    """A problem with the user's input: a bad config, trace or results folder.

    The CLI prints ``str(error)`` as one line and exits with status 2; library
    callers catch it like any ``ValueError``.
    """
