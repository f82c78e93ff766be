"""AtomicDict.thread_handle(): the dict's own cases (`test_thread_handles.py` has what holds for
the set's and the counter dict's handles too)."""

from __future__ import annotations

import gc

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


def test_a_subclass_gives_handles_of_the_subclass():
    class Counts(AtomicDict):
        def __missing__(self, key):
            return 0

    d = Counts()
    h = d.thread_handle()
    assert type(h) is Counts and h["absent"] == 0
    h.add("x")
    assert d["x"] == 1


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
