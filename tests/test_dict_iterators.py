"""AtomicDict's iterators: what an idle one keeps alive, the end of a pass, garbage collection,
sharing one between threads, pickling and copying. dict is the spec where it has one."""

from __future__ import annotations

import copy
import gc
import pickle
import subprocess
import sys
import textwrap
import weakref

import pytest

from conftest import run_threads
from dict_support import Box
from lockless import AtomicDict, AtomicDictIterator

ITERATORS = {
    "iter": iter,
    "keys": lambda d: iter(d.keys()),
    "values": lambda d: iter(d.values()),
    "items": lambda d: iter(d.items()),
}


def run_child(body: str) -> str:
    """Runs ``body`` in a fresh interpreter (a crash there fails the test rather than pytest)
    and returns what it printed."""
    prelude = textwrap.dedent("""
        import os
        from lockless import AtomicDict
        def rss_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    """)
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"exit status {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


# --- what an idle iterator keeps (issue 11) ----------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_an_iterator_kept_idle_through_100_000_clears_keeps_memory_bounded_and_drops_cleanly():
    # Issue 11's reproducer: RSS grew to 159 MB (every generation kept), then `del it`
    # overflowed the stack.
    out = run_child("""
        d = AtomicDict({0: 0, 1: 1}); it = iter(d); next(it)
        start = rss_mb()
        for i in range(100_000):
            d[0] = 0
            d.clear()
        print(rss_mb() - start)
        assert list(it) == [], "every key present when it began was cleared"
        del it
        print("dropped")
    """)
    grown, dropped = out.split()
    assert dropped == "dropped"
    assert float(grown) < 10, f"RSS grew by {grown} MB"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_an_iterator_kept_idle_through_100_000_growths_and_clears_keeps_memory_bounded():
    out = run_child("""
        d = AtomicDict({-1: 0}); it = iter(d)
        start = rss_mb()
        for i in range(100_000):
            for k in range(8):  # past the smallest table: a growth
                d[k] = k
            d.clear()
        print(rss_mb() - start)
        del it
    """)
    assert float(out) < 10, f"RSS grew by {out.strip()} MB"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_an_iterator_kept_idle_through_100_000_compactions_keeps_tens_of_bytes_each_and_drops_cleanly():
    # A key that stays is carried by every compaction, so the iterator must keep what maps its
    # position through each one: a record of a few dozen bytes, not the table (about 1.4 KB).
    out = run_child("""
        d = AtomicDict({"stays": 0}); it = iter(d)
        start = rss_mb()
        n = 0
        while d.stats()["migrations"] < 100_000:
            for _ in range(100):
                d[n] = n
                del d[n]
                n += 1
        print(rss_mb() - start)
        assert list(it) == ["stays"]
        it = iter(d); next(it, None)
        for m in range(400_000):
            d[m] = m
            del d[m]
        del it
        print("dropped")
    """)
    grown, dropped = out.split()
    assert dropped == "dropped"
    assert float(grown) < 32, f"RSS grew by {grown} MB"


# --- the end of a pass (issue 12) --------------------------------------------------------------


def test_inserting_a_new_key_for_every_key_met_ends_after_the_keys_present_at_the_start():
    # dict raises RuntimeError here; AtomicDict ran forever (each new key was met in turn).
    d = AtomicDict.fromkeys(range(100), 0)
    seen = []
    for k in d:
        seen.append(k)
        assert len(seen) <= 100, "the iteration met keys inserted after it began"
        d[object()] = 1
    assert seen == list(range(100))
    assert len(d) == 200


def test_a_pass_counts_each_value_once_when_every_key_is_deleted_and_inserted_again():
    # Re-inserting a key makes a new entry at the end; an iterator that met the new entry too
    # double-counted sum(d.values()) and gave items() one key twice.
    d = AtomicDict.fromkeys(range(50), 1)
    total = 0
    seen = []
    for k, v in d.items():
        seen.append(k)
        assert len(seen) <= 50, "a key was yielded twice"
        total += v
        del d[k]
        d[k] = 1
    assert total == 50
    assert seen == list(range(50))


def test_each_kind_of_iterator_stops_where_the_entries_ended_when_it_began():
    for name, make in ITERATORS.items():
        d = AtomicDict(a=1, b=2)
        it = make(d)
        d["c"] = 3
        assert len(list(it)) == 2, name


def test_keys_present_throughout_are_yielded_once_across_growths_during_the_pass():
    d = AtomicDict.fromkeys(range(200), 0)
    seen = []
    for i, k in enumerate(d):
        seen.append(k)
        assert len(seen) <= 200, "the iteration met keys inserted after it began"
        for j in range(50):  # grows the table several times during the pass
            d[("new", i, j)] = j
    assert seen == list(range(200))


# --- garbage collection (issue 11) ---------------------------------------------------------------


@pytest.mark.thread_unsafe(reason="gc.collect() returns at once while another thread collects")
@pytest.mark.parametrize("kind", ITERATORS)
@pytest.mark.parametrize("mapping", [dict, AtomicDict])
def test_a_cycle_through_an_iterator_is_collected_as_dicts_is(mapping, kind):
    obj = Box()
    obj.it = ITERATORS[kind](mapping({obj: 1}))
    wr = weakref.ref(obj)
    del obj
    gc.collect()
    assert wr() is None


@pytest.mark.thread_unsafe(reason="gc.collect() returns at once while another thread collects")
def test_a_cycle_through_an_iterator_of_a_thread_handle_is_collected():
    obj = Box()
    d = AtomicDict({obj: 1})
    obj.it = iter(d.thread_handle())
    wrs = weakref.ref(obj), weakref.ref(d)
    del obj, d
    gc.collect()
    assert [wr() for wr in wrs] == [None, None]


def test_an_iterator_keeps_its_dict_alive_as_dicts_does():
    d = AtomicDict(a=1, b=2)
    wr = weakref.ref(d)
    it = iter(d.items())
    del d
    assert wr() is not None
    assert list(it) == [("a", 1), ("b", 2)]


# --- one iterator shared by threads (issue 11: no lock) ----------------------------------------


def test_threads_sharing_one_iterator_each_get_distinct_keys_and_together_all_of_them(switch_often):
    keys = 5_000
    for _ in range(10):
        d = AtomicDict.fromkeys(range(keys), 0)
        it = iter(d)
        parts = run_threads(3, lambda t: list(it))
        together = [k for part in parts for k in part]
        assert sorted(together) == list(range(keys))
        for part in parts:
            assert part == sorted(part), "each thread sees its keys in insertion order"


def test_threads_sharing_one_iterator_while_another_migrates_the_dict_get_each_key_once(switch_often):
    keys = 2_000

    def work(t, d, it):
        if t == 0:
            for i in range(3_000):  # inserts and deletes: compactions and growths
                d[("churn", i)] = i
                del d[("churn", i)]
                if i % 500 == 0:
                    d.reserve(4 * len(d))
            return []
        return list(it)

    for _ in range(5):
        d = AtomicDict.fromkeys(range(keys), 0)
        it = iter(d)
        parts = run_threads(3, lambda t: work(t, d, it))
        together = [k for part in parts for k in part]
        assert sorted(together) == list(range(keys))


# --- pickle and copy (issue 12) ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ITERATORS)
def test_a_pickled_iterator_is_an_iterator_over_the_rest_as_dicts_is(kind):
    items = {"a": 1, "b": [2], "c": (3,)}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        ours, spec = ITERATORS[kind](AtomicDict(items)), ITERATORS[kind](dict(items))
        assert next(ours) == next(spec)
        restored, restored_spec = pickle.loads(pickle.dumps(ours, protocol)), pickle.loads(pickle.dumps(spec, protocol))
        assert type(restored) is type(restored_spec)
        assert list(restored) == list(restored_spec)
        assert list(ours) == list(spec), "pickling did not advance the iterator"


@pytest.mark.parametrize("kind", ITERATORS)
def test_a_copied_iterator_yields_the_rest_without_advancing_the_original_as_dicts_does(kind):
    items = {"a": 1, "b": [2], "c": (3,)}
    ours, spec = ITERATORS[kind](AtomicDict(items)), ITERATORS[kind](dict(items))
    next(ours), next(spec)
    for clone in (copy.copy, copy.deepcopy):
        got, want = clone(ours), clone(spec)
        assert type(got) is type(want)
        assert list(got) == list(want)
    assert list(ours) == list(spec)


def test_an_exhausted_iterator_pickles_as_an_empty_one_as_dicts_does():
    ours, spec = iter(AtomicDict(a=1)), iter(dict(a=1))
    list(ours), list(spec)
    assert list(pickle.loads(pickle.dumps(ours))) == list(pickle.loads(pickle.dumps(spec))) == []


def test_a_pickled_iterator_keeps_to_the_keys_present_when_it_began():
    d = AtomicDict(a=1, b=2)
    it = iter(d)
    next(it)
    d["c"] = 3
    assert list(pickle.loads(pickle.dumps(it))) == ["b"]


def test_the_iterator_type_is_reachable_and_named():
    d = AtomicDict(a=1)
    for make in ITERATORS.values():
        assert type(make(d)) is AtomicDictIterator
    assert AtomicDictIterator.__module__ == "lockless"
    assert AtomicDictIterator.__qualname__ == "AtomicDictIterator"
    assert pickle.loads(pickle.dumps(AtomicDictIterator)) is AtomicDictIterator
