"""Shared test furniture: the `e2e` marker and its guard.

A test that starts a process (the daemon, the CLI as a subprocess, a pool of parsing
workers) is marked `e2e`; `make test-fast` runs the rest. The guard below makes the
marker honest: an unmarked test that starts a process fails and names the marker.
"""

from __future__ import annotations

import _posixsubprocess
import gc
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.daemon_harness import Workspace


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the cyclic garbage collector off the imported modules and collected tests.

    Without this it re-walks the whole, ever-growing heap (Textual, Rich, every test
    module) about 1,900 times per run: 3.7 s of `make test-fast`'s 36 s. Frozen objects
    are never collected, which is what they are anyway; a higher first threshold makes the
    Textual tests' short-lived garbage collect in fewer, equally cheap passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1000)


# subprocess keeps its own reference to fork_exec; multiprocessing uses the module's.
_PATCHES: list[tuple[Any, str]] = [
    (_posixsubprocess, "fork_exec"),
    (subprocess, "_fork_exec"),
    (os, "posix_spawn"),
    (os, "fork"),
]
_REAL = {(id(mod), name): getattr(mod, name, None) for mod, name in _PATCHES}


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError(
        "this test starts a process: mark it @pytest.mark.e2e (make test-fast skips those)"
    )


@pytest.fixture(autouse=True)
def _processes_only_in_e2e(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("e2e") is not None:
        yield
        return
    for mod, name in _PATCHES:
        if _REAL[(id(mod), name)] is not None:
            setattr(mod, name, _refuse)
    try:
        yield
    finally:
        for mod, name in _PATCHES:
            real = _REAL[(id(mod), name)]
            if real is not None:
                setattr(mod, name, real)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace for the real daemon (tests/daemon_harness.py), its processes stopped after."""
    from tests.daemon_harness import workspace

    with workspace(tmp_path) as w:
        yield w
