"""veiqa.parallel.map_ordered: the serial loop's results, in order, from forked worker processes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from veiqa.parallel import map_ordered


def _pid_and_square(i):
    return os.getpid(), i * i


def test_results_in_input_order_from_other_processes():
    items = list(range(50))
    out = map_ordered(_pid_and_square, items, workers=2)
    assert [v for _, v in out] == [i * i for i in items]
    assert {p for p, _ in out} - {os.getpid()}, "no item ran in a worker process"
    # serial: the plain loop in this process
    assert {p for p, _ in map_ordered(_pid_and_square, items, workers=1)} == {os.getpid()}


def test_closures_and_large_items_are_not_pickled_in():
    big = [np.full((200, 200), k, dtype=float) for k in range(6)]
    offset = 0.5  # a closure: unpicklable by the standard pickle, fine for forked workers
    got = map_ordered(lambda a: float(a.sum()) + offset, big, workers=3)
    assert got == [k * 200 * 200 + 0.5 for k in range(6)]


def test_worker_blas_pools_limited_to_one_thread():
    from threadpoolctl import threadpool_info

    def threads(_):
        return sorted({p["num_threads"] for p in threadpool_info()})

    assert all(t == [1] for t in map_ordered(threads, range(4), workers=2) if t)


def _fail_on_three(i):
    if i == 3:
        raise ValueError(f"item {i} is bad")
    return i


def test_an_exception_in_a_worker_is_raised_here():
    with pytest.raises(ValueError, match="item 3 is bad"):
        map_ordered(_fail_on_three, range(8), workers=2)
    assert map_ordered(_fail_on_three, [], workers=4) == []
