"""AtomicDict.thread_handle(): another object for the same contents, so that threads need not
share (and contend on the reference count of) one object."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

from conftest import run_threads
from lockless import AtomicDict


def test_a_handle_shares_the_contents_both_ways():
    d = AtomicDict(a=1)
    h = d.thread_handle()
    assert h is not d and type(h) is AtomicDict
    h["b"] = 2
    d["c"] = 3
    del h["a"]
    assert list(d.items()) == list(h.items()) == [("b", 2), ("c", 3)]
    assert h == d and len(h) == len(d) == 2
    d.clear()
    assert len(h) == 0


def test_a_handle_of_a_handle_is_another_handle_of_the_same_dict():
    d = AtomicDict()
    hh = d.thread_handle().thread_handle()
    hh["k"] = 1
    assert d["k"] == 1


def test_a_subclass_gives_handles_of_the_subclass():
    class Counts(AtomicDict):
        def __missing__(self, key):
            return 0

    d = Counts()
    h = d.thread_handle()
    assert type(h) is Counts and h["absent"] == 0
    h.add("x")
    assert d["x"] == 1


def test_a_handle_keeps_the_contents_alive_after_the_dict_is_dropped():
    d = AtomicDict(k=[1, 2])
    h = d.thread_handle()
    del d
    gc.collect()
    assert h["k"] == [1, 2]
    h["j"] = 3
    assert len(h) == 2


def test_values_held_only_by_a_dict_with_handles_survive_collections():
    # Only the origin reports the contents to the GC: were the handles to report them too, the
    # GC would subtract each reference several times and free values that are still held.
    d = AtomicDict()
    handles = [d.thread_handle() for _ in range(3)]
    for i in range(100):
        d[i] = [i, [i]]
    for _ in range(3):
        gc.collect()
    assert all(h[i] == [i, [i]] for h in handles for i in range(100))


def test_a_value_held_elsewhere_survives_the_collection_of_a_dict_and_its_handles():
    # The stronger form of the test above: the dict is garbage, so nothing reachable reaches
    # the value through it. Were the handles to report the contents too, the GC would subtract
    # the dict's one reference to the value once per handle and clear a value still held here.
    class Value:
        pass

    class Holder:
        pass

    kept = Value()
    kept.payload = [1, 2]
    d = AtomicDict()
    holder = Holder()
    holder.handles = [d.thread_handle() for _ in range(3)]
    d["holder"], d["kept"] = holder, kept
    gone = weakref.finalize(d, lambda: None)
    del d, holder
    gc.collect()
    assert not gone.alive
    assert kept.payload == [1, 2]


def test_a_cycle_through_a_handle_is_collected():
    d = AtomicDict()
    d["me"] = d.thread_handle()
    gone = weakref.finalize(d, lambda: None)
    del d
    gc.collect()
    assert not gone.alive


def test_a_handle_pickles_and_copies_as_an_independent_dict():
    d = AtomicDict(a=1)
    h = d.thread_handle()
    for clone in (pickle.loads(pickle.dumps(h)), copy.copy(h), h.copy()):
        clone["b"] = 2
        assert clone == {"a": 1, "b": 2} and d == {"a": 1}


def test_threads_each_with_their_own_handle_lose_no_update(switch_often):
    shared = AtomicDict()
    rounds = 3_000

    def work(t):
        d = shared.thread_handle()
        for i in range(rounds):
            d.add(i % 8)
            d[(t, i)] = i

    run_threads(4, work)
    assert all(shared[k] == 4 * rounds // 8 for k in range(8))
    assert len(shared) == 8 + 4 * rounds
