"""AtomicDict and object lifetime: cyclic GC through keys and values, finalizers of removed and
replaced values, refcounts back to baseline, weak references, pickle, copy and deepcopy.

Removed objects are released after the epoch advances, within the next few lockless calls on
the thread (docs/consistency.md), so checks of a release go through ``drive_until``."""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import weakref

import pytest

from dict_support import NAN, Box, Collide, assert_same_items, drive_until
from lockless import AtomicDict


class Key(Box):
    """A hashable, weak-referenceable key (hash and equality by identity)."""


def collect_until_dead(wr) -> bool:
    return drive_until(lambda: (gc.collect(), wr() is None)[1], limit=200)


# --- cyclic garbage collection ------------------------------------------------------------------


def test_dict_that_holds_itself_as_a_value_is_collected():
    d = AtomicDict()
    d["self"] = d
    wr = weakref.ref(d)
    del d
    assert collect_until_dead(wr)


def test_cycle_through_a_value_is_collected():
    d = AtomicDict()
    v = Box()
    v.back = d
    d["v"] = v
    wr_d, wr_v = weakref.ref(d), weakref.ref(v)
    del d, v
    assert collect_until_dead(wr_d)
    assert collect_until_dead(wr_v)


def test_cycle_through_a_key_is_collected():
    d = AtomicDict()
    k = Key()
    k.back = d
    d[k] = 1
    wr_d, wr_k = weakref.ref(d), weakref.ref(k)
    del d, k
    assert collect_until_dead(wr_d)
    assert collect_until_dead(wr_k)


def test_cycle_between_two_atomic_dicts_is_collected():
    a, b = AtomicDict(), AtomicDict()
    a["b"] = b
    b["a"] = a
    wr_a, wr_b = weakref.ref(a), weakref.ref(b)
    del a, b
    assert collect_until_dead(wr_a)
    assert collect_until_dead(wr_b)


def test_gc_sees_keys_and_values():
    k, v = Key(), Box()
    d = AtomicDict([(k, v)])
    referents = gc.get_referents(d)
    assert any(r is k for r in referents)
    assert any(r is v for r in referents)


def test_a_live_dict_survives_collection_with_its_contents():
    d = AtomicDict((Key(), Box(i)) for i in range(100))
    d["self"] = d
    gc.collect()
    assert len(d) == 101
    assert d["self"] is d
    assert sorted(v.tag for v in d.values() if isinstance(v, Box)) == list(range(100))


def test_cycle_in_a_subclass_instance_is_collected():
    class Sub(AtomicDict):
        pass

    s = Sub()
    s["self"] = s
    wr = weakref.ref(s)
    del s
    assert collect_until_dead(wr)


# --- finalizers of removed, replaced and dropped values ------------------------------------------


REMOVERS = {
    "setitem": lambda d: d.__setitem__("k", "replacement"),
    "delitem": lambda d: d.__delitem__("k"),
    "pop": lambda d: d.pop("k"),
    "popitem": lambda d: d.popitem(),
    "clear": lambda d: d.clear(),
    "get_and_set": lambda d: d.get_and_set("k", "replacement"),
    "compare_and_set": lambda d: d.compare_and_set("k", d["k"], "replacement"),
    "compare_and_set_delete": lambda d: d.compare_and_set("k", d["k"], __import__("lockless").NOT_FOUND),
    "replace": lambda d: d.replace("k", d["k"], "replacement"),
    "compute": lambda d: d.compute("k", lambda cur: "replacement"),
    "merge": lambda d: d.merge("k", "x", lambda old, new: "replacement"),
    "update": lambda d: d.update(k="replacement"),
}


@pytest.mark.parametrize("remove", list(REMOVERS.values()), ids=list(REMOVERS))
def test_finalizer_fires_for_a_removed_or_replaced_value(remove):
    d = AtomicDict()
    v = Box()
    fired = []
    weakref.finalize(v, fired.append, "value")
    d["k"] = v
    del v
    remove(d)
    assert drive_until(lambda: fired == ["value"])


@pytest.mark.parametrize("remove", ["delitem", "pop", "popitem", "clear"])
def test_finalizer_fires_for_a_removed_key(remove):
    d = AtomicDict()
    k = Key()
    fired = []
    weakref.finalize(k, fired.append, "key")
    d[k] = 1
    if remove == "delitem":
        del d[k]
    elif remove == "pop":
        d.pop(k)
    elif remove == "popitem":
        d.popitem()
    else:
        d.clear()
    del k
    assert drive_until(lambda: fired == ["key"])


def test_finalizers_fire_for_everything_in_a_dropped_dict():
    d = AtomicDict()
    fired = []
    for i in range(50):
        k, v = Key(), Box(i)
        weakref.finalize(k, fired.append, ("k", i))
        weakref.finalize(v, fired.append, ("v", i))
        d[k] = v
    del k, v
    wr = weakref.ref(d)
    del d
    assert drive_until(lambda: wr() is None and len(fired) == 100)
    assert sorted(fired) == sorted([("k", i) for i in range(50)] + [("v", i) for i in range(50)])


def test_values_dropped_by_growth_are_not_finalized_early():
    d = AtomicDict()
    fired = []
    v = Box()
    weakref.finalize(v, fired.append, 1)
    d["k"] = v
    del v
    for i in range(10_000):  # several migrations
        d[i] = i
    drive_until(lambda: False, limit=200)
    assert fired == []
    assert isinstance(d["k"], Box)


# --- refcounts back to baseline -----------------------------------------------------------------------


def refcounts(*objs):
    return [sys.getrefcount(o) for o in objs]


def test_setitem_takes_one_reference_to_key_and_value():
    k, v = Key(), Box()
    base = refcounts(k, v)
    d = AtomicDict()
    d[k] = v
    assert refcounts(k, v) == [base[0] + 1, base[1] + 1]
    del d
    assert drive_until(lambda: refcounts(k, v) == base)


@pytest.mark.parametrize("remove", ["del", "clear", "pop", "popitem", "overwrite", "compute_delete"])
def test_refcounts_return_to_baseline_after_removal(remove):
    from lockless import NOT_FOUND

    k, v = Key(), Box()
    base = refcounts(k, v)
    d = AtomicDict()
    d[k] = v
    d["other"] = 1
    if remove == "del":
        del d[k]
    elif remove == "clear":
        d.clear()
    elif remove == "pop":
        assert d.pop(k) is v
    elif remove == "popitem":
        del d["other"]
        assert d.popitem() == (k, v)
    elif remove == "overwrite":
        d[k] = "x"
        del d[k]
    else:
        assert d.compute(k, lambda cur: NOT_FOUND) is NOT_FOUND
    assert drive_until(lambda: refcounts(k, v) == base), (refcounts(k, v), base)


def test_reads_leave_refcounts_unchanged():
    k, v = Key(), Box()
    d = AtomicDict([(k, v)])
    base = refcounts(k, v)
    for _ in range(100):
        assert d[k] is v
        assert d.get(k) is v
        assert k in d
        assert list(d.items()) == [(k, v)]
        assert d.get_many([k]) == [v]
        repr(d)
        d == {k: v}
    assert drive_until(lambda: refcounts(k, v) == base)


def test_atomic_ops_leave_refcounts_balanced():
    k, v, w = Key(), Box(), Box()
    base = refcounts(k, v, w)
    d = AtomicDict()
    d.setdefault(k, v)
    d.setdefault(k, w)
    d.compare_and_set(k, v, w)
    d.compare_and_exchange(k, v, v)
    d.compare_and_set(k, w, v)
    d.get_and_set(k, w)
    d.compute(k, lambda cur: v)
    d.compute_if_absent(k, lambda key: w)
    d.merge(k, w, lambda old, new: new)
    d.replace(k, w, v)
    del d
    assert drive_until(lambda: refcounts(k, v, w) == base), (refcounts(k, v, w), base)


def test_refcounts_return_to_baseline_after_many_keys_and_migrations():
    k, v = Key(), Box()
    base = refcounts(k, v)
    d = AtomicDict()
    for i in range(5_000):
        d[(k, i)] = v
    for i in range(0, 5_000, 2):
        del d[(k, i)]
    d.clear()
    assert drive_until(lambda: refcounts(k, v) == base)


# --- weak references ----------------------------------------------------------------------------------


def test_atomic_dict_is_weak_referenceable():
    d = AtomicDict(a=1)
    wr = weakref.ref(d)
    assert wr() is d
    fired = []
    weakref.finalize(d, fired.append, 1)
    del d
    assert drive_until(lambda: wr() is None and fired == [1])


def test_atomic_dict_in_a_weak_value_dictionary():
    cache = weakref.WeakValueDictionary()
    d = AtomicDict()
    cache["d"] = d
    assert cache["d"] is d
    del d
    assert drive_until(lambda: "d" not in cache)


def test_weak_keys_in_an_atomic_dict_do_not_keep_objects_alive_by_themselves():
    d = AtomicDict()
    k = Key()
    d[weakref.ref(k)] = 1
    del k
    gc.collect()
    (wr,) = d.keys()
    assert wr() is None


# --- pickle, copy, deepcopy --------------------------------------------------------------------------


CONTENTS = [
    {},
    {"a": 1},
    {i: str(i) for i in range(100)},
    {-1: "m1", -2: "m2", (1, "t"): None, True: b"b", 2.5: [1, 2]},
]


@pytest.mark.parametrize("contents", CONTENTS, ids=["empty", "one", "many", "mixed"])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip_keeps_items_and_order(contents, protocol):
    d = AtomicDict(contents)
    r = pickle.loads(pickle.dumps(d, protocol))
    assert type(r) is AtomicDict
    assert list(r.items()) == list(d.items())


def test_pickle_round_trip_of_self_reference():
    d = AtomicDict(a=1)
    d["self"] = d
    r = pickle.loads(pickle.dumps(d))
    assert r["self"] is r
    assert r["a"] == 1
    assert list(r) == ["a", "self"]


def test_pickle_round_trip_of_a_shared_value_keeps_sharing():
    shared = [1]
    d = AtomicDict(a=shared, b=shared)
    r = pickle.loads(pickle.dumps(d))
    assert r["a"] is r["b"]


def test_copy_is_shallow():
    v = [1]
    d = AtomicDict(v=v, n=NAN)
    c = copy.copy(d)
    assert type(c) is AtomicDict and c is not d
    assert c["v"] is v and c["n"] is NAN
    c["new"] = 1
    assert "new" not in d


def test_deepcopy_copies_values_and_keeps_order():
    d = AtomicDict(v=[1], t=(1, [2]), k=Collide(1))
    c = copy.deepcopy(d)
    assert type(c) is AtomicDict
    assert list(c) == list(d)
    assert c["v"] == [1] and c["v"] is not d["v"]
    assert c["t"][1] is not d["t"][1]


def test_deepcopy_of_self_reference():
    d = AtomicDict(a=[1])
    d["self"] = d
    c = copy.deepcopy(d)
    assert c["self"] is c
    assert c is not d
    assert c["a"] == [1] and c["a"] is not d["a"]


def test_deepcopy_of_a_value_shared_with_a_key_owner():
    inner = AtomicDict(x=1)
    outer = AtomicDict(a=inner, b=inner)
    c = copy.deepcopy(outer)
    assert c["a"] is c["b"] and c["a"] is not inner
    assert_same_items(AtomicDict(), {})


def test_subclass_pickles_and_copies_as_itself():
    c = copy.copy(PicklableSub(a=1))
    assert type(c) is PicklableSub and c == {"a": 1}
    r = pickle.loads(pickle.dumps(PicklableSub(a=1)))
    assert type(r) is PicklableSub and r == {"a": 1}
    dc = copy.deepcopy(PicklableSub(a=[1]))
    assert type(dc) is PicklableSub and dc == {"a": [1]}


class PicklableSub(AtomicDict):
    pass
