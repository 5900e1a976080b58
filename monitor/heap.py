"""The heap during and after a burst: no cycle collection while it lasts, and the freed
memory given back to the system after it.

A backfill makes millions of short-lived objects (decoded lines, events, rows) that
reference counting frees as it goes; Python's cycle collector would meanwhile traverse the
growing heap again and again for the few cycles there are (46 objects over 15,000 files,
measured): a quarter of a parsing worker's time, and about a second of a 200 k-call scan's
main process. `collection_paused` holds it off for the burst and collects once after.

glibc keeps the memory a big burst freed (a backfill's rows, a large ingest round) mapped
in the process; a long-lived daemon would hold its peak forever. `release_memory` is
called by the daemon at quiet moments only: it costs a full garbage collection.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused(*, collect_after: bool = True) -> Iterator[None]:
    """No automatic cycle collection inside (as it was if already paused), one after
    unless `collect_after` is False: for a process that ends with the burst, whose heap
    is about to be freed whole."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            if collect_after:
                gc.collect()


def release_memory() -> None:
    """Collect, then hand the heap's free pages back (`malloc_trim`, where there is one)."""
    import ctypes
    import ctypes.util

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)
