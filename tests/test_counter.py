"""The count0 kernels: Lindley's recursion and the block-skipping search."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gcperf.cpython.policy import CounterScan, first_trigger, lindley


def loop_counter(inc, y0):
    out, y = [], y0
    for v in inc:
        y = max(0, y + int(v))
        out.append(y)
    return out


@given(st.lists(st.integers(-3, 1), max_size=300), st.integers(0, 50))
def test_lindley_equals_the_loop(inc, y0):
    assert lindley(np.array(inc, dtype=np.int64), y0).tolist() == loop_counter(inc, y0)


def loop_trigger(inc, pos, stop, y0, t):
    y = y0
    for k in range(pos, stop):
        if y >= t:
            return k, y
        y = max(0, y + int(inc[k]))
    return stop, y


def scan_class(block):
    # small blocks exercise the block-skipping paths on short inputs
    return type("SmallScan", (CounterScan,), {"BLOCK": block})


@given(
    inc=st.lists(st.sampled_from([1, 1, 1, 0, -1, -2]), min_size=1, max_size=400),
    data=st.data(),
    y0=st.integers(0, 40),
    t=st.integers(1, 60),
    block=st.sampled_from([1, 2, 3, 8, 1024]),
)
def test_scan_first_trigger_equals_the_loop(inc, data, y0, t, block):
    a = np.array(inc, dtype=np.int64)
    pos = data.draw(st.integers(0, len(a)))
    stop = data.draw(st.integers(pos, len(a)))
    expected = loop_trigger(a, pos, stop, y0, t)
    assert scan_class(block)(a).first_trigger(pos, stop, y0, t) == expected
    assert first_trigger(a, pos, stop, y0, t) == expected


@given(
    inc=st.lists(st.sampled_from([1, 0, -1, -3]), min_size=1, max_size=400),
    data=st.data(),
    y0=st.integers(0, 30),
    block=st.sampled_from([1, 2, 5, 16, 1024]),
)
def test_scan_value_equals_the_loop(inc, data, y0, block):
    a = np.array(inc, dtype=np.int64)
    pos = data.draw(st.integers(0, len(a)))
    end = data.draw(st.integers(pos, len(a)))
    expected = loop_counter(a[pos:end], y0)[-1] if end > pos else y0
    assert scan_class(block)(a).value(pos, y0, end) == expected
