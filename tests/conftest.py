"""Shared helpers for the lockless test suite."""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

R = TypeVar("R")

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# `make test` runs the suite several times: against the develop build in full, then against the
# installed wheels and sdist and under pytest-run-parallel with LOCKLESS_QUICK=1, where the
# Hypothesis machines take a tenth of their examples (those runs test packaging and sharing,
# not inputs).
QUICK = os.environ.get("LOCKLESS_QUICK") == "1"


def examples(n: int) -> int:
    """Hypothesis ``max_examples`` for a test that takes ``n`` in a full run."""
    return max(10, n // 10) if QUICK else n


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs every Hypothesis state machine (a unittest class whose `runTest` Hypothesis made)
    in one thread under pytest-run-parallel: Hypothesis's strategy caches are not thread-safe
    (`AttributeError: ... 'cached_has_reusable_values'` in make test's parallel pass), and the
    plugin does not recognise these classes as Hypothesis tests by itself."""
    for item in items:
        if getattr(item, "cls", None) is not None and getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.thread_unsafe(reason="Hypothesis state machines are not thread-safe"))
