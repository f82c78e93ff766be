"""AtomicSet.thread_handle(): another object for the same elements, so that threads need not
share (and contend on the reference count of) one object, as AtomicDict's handles."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

from conftest import run_threads
from lockless import AtomicSet


def test_a_handle_shares_the_elements_both_ways():
    s = AtomicSet("a")
    h = s.thread_handle()
    assert h is not s and type(h) is AtomicSet
    h.add("b")
    s.add("c")
    h.discard("a")
    assert list(s) == list(h) == ["b", "c"]
    assert h == s == {"b", "c"} and "b" in h and "a" not in s
    s.clear()
    assert len(h) == 0


def test_a_handle_of_a_handle_is_another_handle_of_the_same_set():
    s = AtomicSet()
    s.thread_handle().thread_handle().add("k")
    assert "k" in s


def test_a_subclass_gives_handles_of_the_subclass():
    class Seen(AtomicSet):
        def first_time(self, x):
            return self.add_if_absent(x)

    s = Seen()
    h = s.thread_handle()
    assert type(h) is Seen and h.first_time("x") and not s.first_time("x")


def test_a_handle_keeps_the_elements_alive_after_the_set_is_dropped():
    key = ("k", 1)
    s = AtomicSet([key])
    h = s.thread_handle()
    del s
    gc.collect()
    assert key in h
    h.add("j")
    assert len(h) == 2


def test_an_element_held_elsewhere_survives_the_collection_of_a_set_and_its_handles():
    # Only the origin reports the elements to the GC. Were the handles to report them too, the
    # GC would subtract the set's one reference to each element once per handle, find an element
    # held only from outside the garbage unreachable, and clear it.
    class Element:
        pass

    class Holder:
        pass

    kept = Element()
    kept.payload = [1, 2]
    s = AtomicSet()
    holder = Holder()
    holder.handles = [s.thread_handle() for _ in range(3)]
    s.add(holder)
    s.add(kept)
    gone = weakref.finalize(s, lambda: None)
    del s, holder
    gc.collect()
    assert not gone.alive
    assert kept.payload == [1, 2]


def test_a_cycle_through_a_handle_is_collected():
    class Holder:
        pass

    s = AtomicSet()
    holder = Holder()
    holder.handle = s.thread_handle()
    s.add(holder)
    gone = weakref.finalize(s, lambda: None)
    del s, holder
    gc.collect()
    assert not gone.alive


def test_a_handle_pickles_and_copies_as_an_independent_set():
    s = AtomicSet("a")
    h = s.thread_handle()
    for clone in (pickle.loads(pickle.dumps(h)), copy.copy(h), h.copy()):
        clone.add("b")
        assert clone == {"a", "b"} and s == {"a"}


def test_threads_each_with_their_own_handle_agree_on_one_winner_per_element(switch_often):
    shared = AtomicSet()
    won = [0] * 4

    def work(t):
        s = shared.thread_handle()
        for i in range(2_000):
            won[t] += s.add_if_absent(i)
            s.add((t, i))

    run_threads(4, work)
    assert sum(won) == 2_000
    assert len(shared) == 2_000 + 4 * 2_000
