"""Thread policy of the compiled (numba ``parallel=True``) kernels.

A parallel kernel wakes its worker threads at every call. On an idle machine that costs
microseconds; when the other core is busy (a second process, the user's own work) each
wake-up waits for a time slice: one KS merge of 5,000 against 200 values took 18 ms with
two OpenMP threads and 0.1 ms with one on this 2-core machine under load. Kernels whose
work is small therefore run on one thread; large ones keep every core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
