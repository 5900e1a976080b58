"""The cycle collector around a burst (monitor.heap)."""

from __future__ import annotations

import gc

from monitor.heap import collection_paused


def _full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def test_a_paused_burst_is_collected_once_after_unless_the_process_ends_with_it() -> None:
    assert gc.isenabled()
    before = _full_collections()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and _full_collections() == before + 1
    with collection_paused(collect_after=False):
        assert not gc.isenabled()
    assert gc.isenabled() and _full_collections() == before + 1


def test_a_burst_inside_a_paused_one_leaves_the_collector_paused() -> None:
    before = _full_collections()
    with collection_paused(collect_after=False):
        with collection_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled() and _full_collections() == before
