"""AtomicSet and object lifetime: cyclic GC through elements and iterators, finalizers of removed
elements and dropped sets, refcounts back to baseline after every operation (error paths too,
each run many times), RSS flat over fill/clear cycles, weak references, pickle, copy, deepcopy.

Removed elements are released after the epoch advances, within the next few lockless calls on
the thread (docs/consistency.md), so checks of a release go through ``drive_until``."""

from __future__ import annotations

import copy
import gc
import os
import pickle
import sys
import weakref

import pytest

from dict_support import NAN, Box, drive_until
from lockless import AtomicSet

REPEAT = 200


class Elem(Box):
    """A hashable, weak-referenceable element (hash and equality by identity)."""


class Boom(Exception):
    pass


class HashBoom(Box):
    def __hash__(self):
        raise Boom


class EqBoom(Box):
    """All instances share a hash; comparing two distinct ones raises."""

    def __hash__(self):
        return 11

    def __eq__(self, other):
        if self is other:
            return True
        raise Boom


def collect_until_dead(wr) -> bool:
    return drive_until(lambda: (gc.collect(), wr() is None)[1], limit=200)


# --- cyclic garbage collection ------------------------------------------------------------------


def test_cycle_through_an_element_is_collected():
    s = AtomicSet()
    e = Elem()
    e.back = s
    s.add(e)
    wr_s, wr_e = weakref.ref(s), weakref.ref(e)
    del s, e
    assert collect_until_dead(wr_s)
    assert collect_until_dead(wr_e)


def test_cycle_between_two_atomic_sets_is_collected():
    a, b = AtomicSet(), AtomicSet()
    ea, eb = Elem(), Elem()
    ea.other, eb.other = b, a
    a.add(ea)
    b.add(eb)
    wr = weakref.ref(a)
    del a, b, ea, eb
    assert collect_until_dead(wr)


def test_cycle_through_an_iterator_is_collected():
    e = Elem()
    s = AtomicSet([e])
    e.it = iter(s)
    next(e.it)
    wr_s, wr_e = weakref.ref(s), weakref.ref(e)
    del s, e
    assert collect_until_dead(wr_e)
    assert collect_until_dead(wr_s)


def test_cycle_in_a_subclass_instance_is_collected():
    class Mine(AtomicSet):
        pass

    s = Mine()
    e = Elem()
    e.back = s
    s.add(e)
    wr = weakref.ref(s)
    del s, e
    assert collect_until_dead(wr)


def test_gc_sees_the_elements_and_a_live_set_keeps_them():
    e = Elem()
    s = AtomicSet([e, "x"])
    assert any(r is e for r in gc.get_referents(s))
    del e
    gc.collect()
    assert len(s) == 2 and sum(isinstance(x, Elem) for x in s) == 1


# --- finalizers and refcounts -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["discard", "remove", "discard_if_present", "pop", "clear", "toggle", "difference_update"])
def test_a_removed_element_is_finalized(how):
    s = AtomicSet()
    e = Elem()
    s.add(e)
    wr = weakref.ref(e)
    {
        "discard": lambda: s.discard(e),
        "remove": lambda: s.remove(e),
        "discard_if_present": lambda: s.discard_if_present(e),
        "pop": s.pop,
        "clear": s.clear,
        "toggle": lambda: s.symmetric_difference_update([e]),
        "difference_update": lambda: s.difference_update([e]),
    }[how]()
    del e
    assert drive_until(lambda: wr() is None)


def test_everything_in_a_dropped_set_is_finalized_even_while_an_iterator_lives():
    elems = [Elem() for _ in range(100)]
    s = AtomicSet(elems)
    refs = [weakref.ref(e) for e in elems]
    it = iter(s)
    next(it)
    del s, elems
    assert drive_until(lambda: all(r() is not None for r in refs))  # the iterator holds them
    del it
    assert drive_until(lambda: all(r() is None for r in refs))


def test_a_set_dropped_after_many_migrations_is_finalized_with_its_elements():
    s = AtomicSet()
    for i in range(5000):
        s.add(Elem(i))
        if i % 3 == 0:
            s.pop()
    wr = weakref.ref(s)
    sample = weakref.ref(next(iter(s)))
    del s
    assert drive_until(lambda: wr() is None and sample() is None)


def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def fresh():
    return {"e": Elem("e"), "f": Elem("f"), "h": HashBoom(), "q": EqBoom(), "q2": EqBoom()}


# Each case: (prepare the set from the objects, the operation, the exception it raises or None).
CASES = {
    "add_new": (lambda s, o: None, lambda s, o: s.add(o["e"]), None),
    "add_present": (lambda s, o: s.add(o["e"]), lambda s, o: s.add(o["e"]), None),
    "contains": (lambda s, o: s.add(o["e"]), lambda s, o: o["e"] in s, None),
    "discard": (lambda s, o: s.add(o["e"]), lambda s, o: s.discard(o["e"]), None),
    "remove_missing": (lambda s, o: None, lambda s, o: s.remove(o["e"]), KeyError),
    "add_if_absent": (lambda s, o: None, lambda s, o: s.add_if_absent(o["e"]), None),
    "discard_if_present": (lambda s, o: s.add(o["e"]), lambda s, o: s.discard_if_present(o["e"]), None),
    "pop": (lambda s, o: s.add(o["e"]), lambda s, o: s.pop(), None),
    "iterate": (lambda s, o: s.update([o["e"], o["f"]]), lambda s, o: list(s), None),
    "copy": (lambda s, o: s.add(o["e"]), lambda s, o: s.copy(), None),
    "algebra": (lambda s, o: s.add(o["e"]), lambda s, o: (s | {o["f"]}) ^ (s & {o["e"]}), None),
    "compare": (lambda s, o: s.add(o["e"]), lambda s, o: s <= {o["e"], o["f"]}, None),
    "hash_raises": (lambda s, o: None, lambda s, o: s.add(o["h"]), Boom),
    "eq_raises": (lambda s, o: s.add(o["q"]), lambda s, o: s.add(o["q2"]), Boom),
    "update_stops_at_unhashable": (lambda s, o: None, lambda s, o: s.update([o["e"], []]), TypeError),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_every_operation_run_many_times_returns_refcounts_to_baseline(case):
    prepare, op, raises = case
    objs = fresh()
    values = list(objs.values())
    before = refcounts(values)
    for _ in range(REPEAT):
        s = AtomicSet()
        prepare(s, objs)
        if raises is None:
            op(s, objs)
        else:
            with pytest.raises(raises):
                op(s, objs)
        del s
    assert drive_until(lambda: refcounts(values) == before), (refcounts(values), before)


def test_the_refcount_check_sees_a_leak():
    objs = fresh()
    before = refcounts([objs["e"]])
    keep = [AtomicSet([objs["e"]]) for _ in range(3)]
    assert not drive_until(lambda: refcounts([objs["e"]]) == before, limit=200)
    del keep


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


@needs_proc
@pytest.mark.thread_unsafe(reason="measures the process's RSS")
def test_rss_stays_flat_over_fill_and_clear_cycles():
    s = AtomicSet()

    def cycle():
        s.update(range(100_000))
        s.clear()

    for _ in range(3):
        cycle()
    drive_until(lambda: False, limit=2000)
    base = rss()
    for _ in range(20):
        cycle()
    drive_until(lambda: False, limit=2000)
    assert rss() - base < 32 * 2**20


# --- weak references, pickle, copy --------------------------------------------------------------


def test_an_atomic_set_in_a_weak_value_dictionary():
    w = weakref.WeakValueDictionary()
    s = AtomicSet([1])
    w["s"] = s
    assert w["s"] is s
    del s
    assert drive_until(lambda: "s" not in w)


CONTENTS = [[], [1], list(range(100)), ["a", (1, 2), NAN, frozenset({3}), None]]


@pytest.mark.parametrize("contents", CONTENTS, ids=["empty", "one", "many", "mixed"])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trips_contents_and_order(contents, protocol):
    s = AtomicSet(contents)
    back = pickle.loads(pickle.dumps(s, protocol))
    assert type(back) is AtomicSet
    assert len(back) == len(s)
    assert [repr(x) for x in back] == [repr(x) for x in s]


def test_pickle_keeps_a_subclass_and_its_attributes():
    back = pickle.loads(pickle.dumps(Tagged([1, 2], tag="t")))
    assert type(back) is Tagged and back == {1, 2} and back.tag == "t"


class Tagged(AtomicSet):
    def __init__(self, items=(), tag=None):
        super().__init__(items)
        self.tag = tag


def test_pickle_of_an_element_that_refers_back_to_the_set():
    s = AtomicSet()
    e = Elem("e")
    e.owner = s
    s.add(e)
    back = pickle.loads(pickle.dumps(s))
    (elem,) = list(back)
    assert elem.owner is back


def test_copy_is_shallow_and_deepcopy_is_deep():
    e = Elem([1])
    s = AtomicSet([e, "a"])
    shallow = copy.copy(s)
    assert type(shallow) is AtomicSet and shallow is not s and e in shallow
    deep = copy.deepcopy(s)
    assert type(deep) is AtomicSet and len(deep) == 2 and e not in deep
    (copied,) = [x for x in deep if isinstance(x, Elem)]
    assert copied.tag == [1] and copied.tag is not e.tag
