"""When lockless releases what a collection gave up (docs/consistency.md, "When removed objects
are released"):

* a thread alone (no other thread registered with lockless) releases a removed or replaced
  object before the call returns, as dict does;
* otherwise within a bounded number of the thread's later lockless calls, or at its exit;
* never not at all: a thread that exits does not drop other threads' garbage (issue 11 item 3).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from conftest import run_threads
from dict_support import drive_until
from lockless import AtomicDict, AtomicRef, AtomicSet



def calls_until(cond: Callable[[], bool]) -> bool:
    """Lockless calls on this thread until ``cond()``, sleeping a little between batches. A
    thread's lockless teardown (thread-local destructors) runs after Python's `join()` has
    returned, without the GIL or an attached thread state, so what it hands on reaches other
    threads' calls once it has had a CPU: a moment later, on a loaded machine a few ms."""
    for _ in range(2_000):
        if drive_until(cond, limit=100):
            return True
        time.sleep(0.002)
    return cond()


class Tracked:
    """Counts its finalizations in ``freed`` (list.append is atomic on either build)."""

    __slots__ = ("freed", "__weakref__")

    def __init__(self, freed: list[int]) -> None:
        self.freed = freed

    def __del__(self) -> None:
        self.freed.append(1)


class TrackedKey(Tracked):
    __slots__ = ("n",)

    def __init__(self, freed: list[int], n: int) -> None:
        super().__init__(freed)
        self.n = n

    def __hash__(self) -> int:
        return hash(self.n)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrackedKey) and other.n == self.n


@contextmanager
def another_thread_registered() -> Iterator[None]:
    """Keeps a second thread alive that has used lockless (so it is registered with lockless's
    collector) and now waits, unpinned."""
    used = threading.Event()
    done = threading.Event()

    def body() -> None:
        AtomicDict({0: 0}).get(0)
        used.set()
        done.wait()

    t = threading.Thread(target=body)
    t.start()
    used.wait()
    try:
        yield
    finally:
        done.set()
        t.join()


# --- removals: each builds a container holding one Tracked, then gives it up -------------------


def dict_del(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({"k": Tracked(freed)})

    def remove() -> object:
        del d["k"]
        return d

    return remove


def dict_pop(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({"k": Tracked(freed)})
    return lambda: (d.pop("k"), d)[1]


def dict_replace(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({"k": Tracked(freed)})

    def remove() -> object:
        d["k"] = 0
        return d

    return remove


def dict_clear(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({"k": Tracked(freed), "j": 1})

    def remove() -> object:
        d.clear()
        return d

    return remove


def dict_popitem(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({"j": 1, "k": Tracked(freed)})
    return lambda: (d.popitem(), d)[1]


def dict_key_deleted(freed: list[int]) -> Callable[[], object]:
    d = AtomicDict({TrackedKey(freed, 7): 1})

    def remove() -> object:
        del d[TrackedKey([], 7)]
        return d

    return remove


def ref_set(freed: list[int]) -> Callable[[], object]:
    r = AtomicRef(Tracked(freed))

    def remove() -> object:
        r.set(None)
        return r

    return remove


def set_discard(freed: list[int]) -> Callable[[], object]:
    s = AtomicSet([TrackedKey(freed, 3)])

    def remove() -> object:
        s.discard(TrackedKey([], 3))
        return s

    return remove


def set_clear(freed: list[int]) -> Callable[[], object]:
    s = AtomicSet([TrackedKey(freed, 3), 4])

    def remove() -> object:
        s.clear()
        return s

    return remove


REMOVALS = [dict_del, dict_pop, dict_replace, dict_clear, dict_popitem, dict_key_deleted, ref_set, set_discard, set_clear]


@pytest.mark.thread_unsafe(reason="the rule depends on which threads use lockless")
@pytest.mark.parametrize("removal", REMOVALS, ids=lambda f: f.__name__)
def test_a_thread_alone_releases_what_it_removes_before_the_call_returns(removal):
    freed: list[int] = []
    remove = removal(freed)
    gc.collect()
    assert freed == []
    keep = remove()  # the container stays alive: only its own reference went
    assert freed == [1]
    del keep


@pytest.mark.thread_unsafe(reason="the rule depends on which threads use lockless")
@pytest.mark.parametrize("removal", REMOVALS, ids=lambda f: f.__name__)
def test_with_another_thread_registered_a_release_comes_within_a_bounded_number_of_later_calls(removal):
    freed: list[int] = []
    with another_thread_registered():
        remove = removal(freed)
        keep = remove()
        probe = AtomicDict()
        calls = 0
        while freed != [1] and calls < 1000:
            probe.get(calls)
            calls += 1
        assert freed == [1], f"not released after {calls} later calls"
    del keep


@pytest.mark.thread_unsafe(reason="the rule depends on which threads use lockless")
@pytest.mark.parametrize("removal", REMOVALS, ids=lambda f: f.__name__)
def test_a_release_deferred_by_an_exiting_thread_runs_at_later_calls_of_another(removal):
    freed: list[int] = []
    kept: list[object] = []
    with another_thread_registered():
        # The remover is not alone (this thread and the waiting one are registered), so its
        # release is deferred; then it exits at once.
        t = threading.Thread(target=lambda: kept.append(removal(freed)()))
        t.start()
        t.join()
        assert calls_until(lambda: freed == [1]), freed


# --- issue 11 item 3: a thread that exits must not drop other threads' garbage -----------------


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("writes", [1000, 1024, 1025])
@pytest.mark.parametrize("threads", range(1, 9))
def test_values_replaced_by_threads_that_exit_are_all_released(threads, writes):
    freed: list[int] = []
    d = AtomicDict()

    def write(_: int) -> None:
        for _ in range(writes):
            d[0] = Tracked(freed)

    run_threads(threads, write)
    del d
    gc.collect()
    assert calls_until(lambda: len(freed) == threads * writes), (len(freed), threads * writes)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_threads_started_and_joined_constantly_release_everything():
    freed: list[int] = []
    d = AtomicDict()

    def write(i: int) -> None:
        for j in range(100 + 37 * i):
            d[j % 3] = Tracked(freed)

    created = 0
    for _ in range(50):
        run_threads(3, write)
        created += sum(100 + 37 * i for i in range(3))
    del d
    gc.collect()
    assert calls_until(lambda: len(freed) == created), (len(freed), created)
