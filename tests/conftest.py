"""Shared helpers for the lockless test suite."""

from __future__ import annotations

import sys
import sysconfig
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

R = TypeVar("R")

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def pytest_configure(config: pytest.Config) -> None:
    # pytest-run-parallel's marker, registered here too so the suite runs without the plugin.
    config.addinivalue_line("markers", "thread_unsafe(reason): the test cannot run in parallel with itself")


def run_threads(n: int, target: Callable[[int], R]) -> list[R]:
    """Run ``target(i)`` for i in range(n), each in its own thread, all released together by
    one Barrier. Returns the results in thread order; re-raises the first thread exception."""
    barrier = threading.Barrier(n)
    results: list[R | None] = [None] * n
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,), name=f"worker-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


@pytest.fixture
def switch_often():
    """On the GIL build, switch threads very often so races actually interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
