"""Ordered process-parallel map for the aggregation jobs (correlations, scatter plots).

Those jobs are pure Python/NumPy loops over independent groups (each group's random generator is seeded from the
group's own keys, so the result does not depend on how groups are dealt out). :func:`map_ordered` runs such a loop
in ``workers`` forked processes and returns the results in input order, so the output is byte for byte that of the
serial loop. ``workers <= 1``, a single item, or a platform without ``fork`` runs the plain loop in this process.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The function and items of the running map, inherited by the forked workers (nothing is pickled but the index).
_TASK: tuple[Callable, Sequence] | None = None


def _one_blas_thread() -> None:
    """Each worker's BLAS/OpenMP pools to one thread: ``workers`` processes are the job's threads, and nested pools
    only oversubscribe the cores (demo correlations on 2 cores: 11.0 s serial; 2 workers 8.1 s with 2 BLAS
    threads each, 6.6 s with one)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run(i: int):
    fn, items = _TASK
    return fn(items[i])


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int = 1) -> list[R]:
    """``[fn(it) for it in items]``, computed by up to ``workers`` forked processes, in input order.

    The items stay in the parent: each worker is forked after they are set and receives only an index, so large
    DataFrames are not pickled on the way in (results are pickled on the way back). An exception in any call is
    raised here, as the serial loop would raise it.
    """
    global _TASK
    items = list(items)
    workers = min(int(workers), len(items))
    if workers <= 1 or "fork" not in mp.get_all_start_methods():
        return [fn(it) for it in items]
    _TASK = (fn, items)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                 initializer=_one_blas_thread) as pool:
            chunk = max(1, len(items) // (8 * workers))
            return list(pool.map(_run, range(len(items)), chunksize=chunk))
    finally:
        _TASK = None
