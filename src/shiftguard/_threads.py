"""Thread policy of the compiled kernels: numba ``parallel=True`` loops and BLAS.

A parallel kernel wakes its worker threads at every call. On an idle machine that costs
microseconds; when the other core is busy (a second process, the user's own work) each
wake-up waits for a time slice: one KS merge of 5,000 against 200 values took 18 ms with
two OpenMP threads and 0.1 ms with one on this 2-core machine under load. Kernels whose
work is small therefore run on one thread; large ones keep every core. BLAS is limited to
one thread (threadpoolctl) around loops of many small products -- iterative solvers,
permutation refits -- which gain nothing from threads and pay the wake-up at every call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

#: Work (roughly, values touched) below which a parallel kernel runs on one thread.
SMALL_WORK = 1 << 20


@contextmanager
def kernel_threads(work: int) -> Iterator[None]:
    """Run the numba kernels inside the block on one thread when ``work`` is small."""
    if work >= SMALL_WORK:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the enclosed NumPy code with one BLAS thread.

    For loops of small products (a tall N-by-d matrix with small d times vectors, many
    times in a row): measured 40-80 ms instead of 6-9 ms for a PPI++ logistic interval on
    10,500 rows with the other core busy. threadpoolctl's controller is built once.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="shiftguard")


def run_in_threads(work: Callable[[Any], None], parts: Iterable[Any]) -> None:
    """``work(part)`` for every part, on the process's pool of one thread per core.

    For NumPy code that releases the GIL (sorts, one-threaded BLAS products). The pool is
    made on first use and kept: starting threads per call cost 3-10 ms on a busy machine,
    as much as the work it split. Exceptions propagate to the caller. ``work`` must not
    itself wait on this pool (it would wait for a thread it occupies).
    """
    for future in [_pool().submit(work, part) for part in parts]:
        future.result()
