"""thread_handle() of AtomicDict, AtomicSet and AtomicCounterDict: another object of the same type
over the same contents, so that threads need not share (and contend on the reference count of)
one object. What holds for all three; `test_dict_handles.py` has the dict's own cases."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from conftest import run_threads
from lockless import AtomicCounterDict, AtomicDict, AtomicSet


def _set_item(m: Any, key: object) -> None:
    m[key] = 1


# (the type, how to put a key into one)
KINDS: dict[str, tuple[type, Callable[[Any, object], object]]] = {
    "AtomicDict": (AtomicDict, _set_item),
    "AtomicSet": (AtomicSet, lambda m, key: m.add(key)),
    "AtomicCounterDict": (AtomicCounterDict, lambda m, key: m.add(key)),
}

pytestmark = pytest.mark.parametrize("kind", list(KINDS))


class Thing:
    """Hashable by identity, weak-referenceable, and able to hold attributes."""


def test_a_handle_is_another_object_of_the_same_type_over_the_same_contents(kind):
    cls, put = KINDS[kind]
    m = cls()
    put(m, "a")
    h = m.thread_handle()
    assert h is not m and type(h) is cls
    put(h, "b")
    put(m, "c")
    assert list(m) == list(h) == ["a", "b", "c"] and "b" in m and "c" in h
    assert h == m and len(h) == 3
    m.clear()
    assert len(h) == 0


def test_a_handle_of_a_handle_is_another_handle_of_the_same_object(kind):
    cls, put = KINDS[kind]
    m = cls()
    put(m.thread_handle().thread_handle(), "k")
    assert "k" in m


def test_a_subclass_gives_handles_of_the_subclass(kind):
    cls, put = KINDS[kind]
    sub = type("Sub", (cls,), {"mark": lambda self: "sub"})
    m = sub()
    h = m.thread_handle()
    assert type(h) is sub and h.mark() == "sub"
    put(h, "x")
    assert "x" in m


def test_a_handle_keeps_the_contents_alive_after_the_object_is_dropped(kind):
    cls, put = KINDS[kind]
    m = cls()
    put(m, ("k", 1))
    h = m.thread_handle()
    del m
    gc.collect()
    assert ("k", 1) in h
    put(h, "j")
    assert len(h) == 2


def test_a_key_held_elsewhere_survives_the_collection_of_an_object_and_its_handles(kind):
    # Only the origin reports the contents to the GC. Were the handles to report them too, the
    # GC would subtract the object's one reference to each key once per handle, find a key held
    # only from outside the garbage unreachable, and clear it.
    cls, put = KINDS[kind]
    kept = Thing()
    kept.payload = [1, 2]
    m = cls()
    holder = Thing()
    holder.handles = [m.thread_handle() for _ in range(3)]
    put(m, holder)
    put(m, kept)
    gone = weakref.finalize(m, lambda: None)
    del m, holder
    gc.collect()
    assert not gone.alive
    assert kept.payload == [1, 2]


def test_a_cycle_through_a_handle_is_collected(kind):
    cls, put = KINDS[kind]
    m = cls()
    holder = Thing()
    holder.handle = m.thread_handle()
    put(m, holder)
    gone = weakref.finalize(m, lambda: None)
    del m, holder
    gc.collect()
    assert not gone.alive


def test_a_handle_pickles_and_copies_as_an_independent_object(kind):
    cls, put = KINDS[kind]
    m = cls()
    put(m, "a")
    h = m.thread_handle()
    for clone in (pickle.loads(pickle.dumps(h)), copy.copy(h), h.copy()):
        put(clone, "b")
        assert type(clone) is cls and list(clone) == ["a", "b"] and list(m) == ["a"]


def test_threads_each_with_their_own_handle_lose_no_key(kind, switch_often):
    cls, put = KINDS[kind]
    shared = cls()
    rounds = 2_000

    def work(t):
        h = shared.thread_handle()
        for i in range(rounds):
            put(h, (t, i))
            put(h, i % 8)

    run_threads(4, work)
    assert len(shared) == 8 + 4 * rounds
    assert all((t, i) in shared for t in range(4) for i in range(rounds))
