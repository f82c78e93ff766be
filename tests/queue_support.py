"""Shared helpers for the AtomicQueue tests: the implementations compared, the ShutDown class,
and CPython test_queue's trigger-thread helper."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from lockless import AtomicQueue

HAS_SHUTDOWN = sys.version_info >= (3, 13)  # queue.Queue.shutdown and queue.ShutDown


def _atomic_queue_shutdown_class() -> type[BaseException]:
    q: AtomicQueue[int] = AtomicQueue()
    q.shutdown()
    try:
        q.get_nowait()
    except Exception as exc:  # noqa: BLE001 - we want its class
        return type(exc)
    raise AssertionError("get on a shut-down empty queue did not raise")


# The class AtomicQueue raises after shutdown: queue.ShutDown from 3.13, its own before.
SHUTDOWN: type[BaseException] = _atomic_queue_shutdown_class()

# The implementations the parity tests compare: queue.Queue is the specification.
IMPLS: dict[str, Callable[..., Any]] = {"queue.Queue": queue.Queue, "AtomicQueue": AtomicQueue}


@pytest.fixture(params=list(IMPLS))
def make(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """A queue factory: queue.Queue, then AtomicQueue."""
    return IMPLS[request.param]


@pytest.fixture(params=list(IMPLS))
def make_with_shutdown(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """As `make`, skipping queue.Queue before 3.13 (it has no shutdown)."""
    if request.param == "queue.Queue" and not HAS_SHUTDOWN:
        pytest.skip("queue.Queue.shutdown is new in Python 3.13")
    return IMPLS[request.param]


class TriggerThread(threading.Thread):
    """Runs ``fn(*args)`` after a short sleep, so that the caller's blocking call has blocked
    (CPython's test_queue._TriggerThread)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        self.fn, self.args = fn, args
        self.started_event = threading.Event()

    def run(self) -> None:
        time.sleep(0.1)
        self.started_event.set()
        self.fn(*self.args)


def blocking_call(block_fn: Callable[..., Any], block_args: tuple[Any, ...],
                  trigger_fn: Callable[..., Any], trigger_args: tuple[Any, ...]) -> Any:
    """Calls ``block_fn(*block_args)``, which must block until ``trigger_fn`` (run by another
    thread) lets it return; asserts that it did block."""
    thread = TriggerThread(trigger_fn, trigger_args)
    thread.start()
    try:
        result = block_fn(*block_args)
        assert thread.started_event.is_set(), f"{block_fn!r} appeared not to block"
        return result
    finally:
        thread.join()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls ``predicate`` until it holds (a test helper, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)
