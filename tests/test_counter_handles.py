"""AtomicCounterDict.thread_handle(): another object for the same counts, so that threads need
not share (and contend on the reference count of) one object, as AtomicDict's handles."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

from conftest import run_threads
from lockless import AtomicCounterDict


def test_a_handle_shares_the_counts_both_ways():
    c = AtomicCounterDict(a=1)
    h = c.thread_handle()
    assert h is not c and type(h) is AtomicCounterDict
    assert h.add("b", 2) == 2
    c["c"] = 3
    del h["a"]
    assert list(c.items()) == list(h.items()) == [("b", 2), ("c", 3)]
    assert h == c and len(h) == len(c) == 2 and h["absent"] == 0
    c.clear()
    assert len(h) == 0


def test_a_handle_of_a_handle_is_another_handle_of_the_same_counter():
    c = AtomicCounterDict()
    hh = c.thread_handle().thread_handle()
    hh.add("k")
    assert c["k"] == 1


def test_a_subclass_gives_handles_of_the_subclass():
    class Tally(AtomicCounterDict):
        def twice(self, key):
            return self.add(key, 2)

    c = Tally()
    h = c.thread_handle()
    assert type(h) is Tally and h.twice("x") == 2
    assert c["x"] == 2


def test_a_handle_keeps_the_counts_alive_after_the_counter_is_dropped():
    key = ("k", 1)
    c = AtomicCounterDict({key: 5})
    h = c.thread_handle()
    del c
    gc.collect()
    assert h[key] == 5
    h.add("j")
    assert len(h) == 2


def test_a_key_held_elsewhere_survives_the_collection_of_a_counter_and_its_handles():
    # Only the origin reports the keys to the GC. Were the handles to report them too, the GC
    # would subtract the counter's one reference to each key once per handle, find a key held
    # only from outside the garbage unreachable, and clear it.
    class Key:
        pass

    class Holder:
        pass

    kept = Key()
    kept.payload = [1, 2]
    c = AtomicCounterDict()
    holder = Holder()
    holder.handles = [c.thread_handle() for _ in range(3)]
    c.add(holder)
    c.add(kept, 7)
    gone = weakref.finalize(c, lambda: None)
    del c, holder
    gc.collect()
    assert not gone.alive
    assert kept.payload == [1, 2]


def test_a_cycle_through_a_handle_is_collected():
    class Holder:
        pass

    c = AtomicCounterDict()
    holder = Holder()
    holder.handle = c.thread_handle()
    c.add(holder)
    gone = weakref.finalize(c, lambda: None)
    del c, holder
    gc.collect()
    assert not gone.alive


def test_a_handle_pickles_and_copies_as_an_independent_counter():
    c = AtomicCounterDict(a=1)
    h = c.thread_handle()
    for clone in (pickle.loads(pickle.dumps(h)), copy.copy(h), h.copy()):
        clone.add("b")
        assert clone == {"a": 1, "b": 1} and c == {"a": 1}


def test_threads_each_with_their_own_handle_lose_no_count(switch_often):
    shared = AtomicCounterDict()
    rounds = 3_000

    def work(t):
        c = shared.thread_handle()
        for i in range(rounds):
            c.add(i % 8)
            c[(t, i)] = i

    run_threads(4, work)
    assert all(shared[k] == 4 * rounds // 8 for k in range(8))
    assert len(shared) == 8 + 4 * rounds
