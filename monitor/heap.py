"""Giving freed heap back to the system.

glibc keeps the memory a big burst freed (a backfill's rows, a large ingest round) mapped
in the process; a long-lived daemon would hold its peak forever. Called by the daemon at
quiet moments only: it costs a full garbage collection.
"""

from __future__ import annotations

import contextlib


def release_memory() -> None:
    """Collect, then hand the heap's free pages back (`malloc_trim`, where there is one)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)
