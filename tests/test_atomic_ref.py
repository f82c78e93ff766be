"""AtomicRef: an atomic reference to any Python object."""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import types
import weakref

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from conftest import examples, run_threads
from lockless import AtomicRef


class Box:
    """A fresh, weak-referenceable object."""

    def __init__(self, tag: object = None) -> None:
        self.tag = tag


def test_default_holds_none():
    assert AtomicRef().get() is None


def test_get_returns_the_same_object():
    obj = Box()
    r = AtomicRef(obj)
    assert r.get() is obj
    assert AtomicRef(value=obj).get() is obj


def test_set_replaces():
    r = AtomicRef(1)
    obj = Box()
    r.set(obj)
    assert r.get() is obj


def test_get_and_set_returns_previous():
    a, b = Box(), Box()
    r = AtomicRef(a)
    assert r.get_and_set(b) is a
    assert r.get() is b


def test_compare_and_set_uses_identity_not_equality():
    a = [1, 2]
    equal_but_distinct = [1, 2]
    r = AtomicRef(a)
    assert r.compare_and_set(equal_but_distinct, "x") is False
    assert r.get() is a
    assert r.compare_and_set(a, "x") is True
    assert r.get() == "x"


def test_compare_and_exchange_returns_object_found():
    a, b, c = Box(), Box(), Box()
    r = AtomicRef(a)
    assert r.compare_and_exchange(a, b) is a
    assert r.get() is b
    assert r.compare_and_exchange(a, c) is b
    assert r.get() is b


def test_update_and_get_and_get_and_update():
    r = AtomicRef((1,))
    assert r.update_and_get(lambda t: t + (2,)) == (1, 2)
    old = r.get()
    assert r.get_and_update(lambda t: t + (3,)) is old
    assert r.get() == (1, 2, 3)


def test_update_fn_exception_propagates_and_leaves_ref_unchanged():
    obj = Box()
    r = AtomicRef(obj)

    def boom(_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        r.update_and_get(boom)
    assert r.get() is obj


def test_update_fn_reruns_when_another_thread_stores_in_between():
    r = AtomicRef(0)
    seen = []

    def fn(v):
        seen.append(v)
        if len(seen) == 1:
            r.set(10)  # a concurrent writer, simulated
        return v + 1

    assert r.update_and_get(fn) == 11
    assert seen == [0, 10]


def test_repr_shows_the_held_object():
    assert repr(AtomicRef([1, "a"])) == "AtomicRef([1, 'a'])"
    assert repr(AtomicRef()) == "AtomicRef(None)"


def test_generic_alias():
    alias = AtomicRef[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is AtomicRef
    assert alias.__args__ == (int,)
    assert AtomicRef[int](5).get() == 5


def test_hashable_by_identity():
    r1, r2 = AtomicRef(1), AtomicRef(1)
    assert len({r1, r2}) == 2
    assert r1 != r2


def test_pickle_round_trip():
    r = AtomicRef({"a": [1, 2]})
    r2 = pickle.loads(pickle.dumps(r))
    assert type(r2) is AtomicRef and r2.get() == {"a": [1, 2]}


def test_copy_is_shallow_and_deepcopy_is_deep():
    inner = [1]
    r = AtomicRef(inner)
    assert copy.copy(r).get() is inner
    deep = copy.deepcopy(r).get()
    assert deep == inner and deep is not inner


class Holder:
    """An object with a reference back to the AtomicRef that holds it."""


def test_a_ref_in_a_cycle_with_its_value_pickles_and_deep_copies_as_a_list_does():
    # Found by differential fuzzing: __reduce__ passed the value as a constructor argument, so
    # rebuilding it needed the ref first (RecursionError). A list in the same cycle round-trips.
    selfish = AtomicRef()
    selfish.set(selfish)
    holder = Holder()
    via = AtomicRef(holder)
    holder.r = via
    for clone in (copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r))):
        again = clone(selfish)
        assert type(again) is AtomicRef and again.get() is again
        again = clone(via)
        assert type(again.get()) is Holder and again.get().r is again
    assert pickle.loads(pickle.dumps(AtomicRef())).get() is None


# --- lifetime and garbage collection --------------------------------------------------------------


def collect_until_dead(ref: weakref.ref, rounds: int = 10) -> bool:
    for _ in range(rounds):
        gc.collect()
        if ref() is None:
            return True
    return False


def drive_releases_until(done, rounds: int = 100_000) -> bool:
    """Replacements on this thread defer releases in batches; keep replacing until `done()`."""
    churn = AtomicRef()
    for _ in range(rounds):
        if done():
            return True
        churn.set(object())
    return done()


def test_replaced_object_is_eventually_released():
    obj = Box()
    wr = weakref.ref(obj)
    r = AtomicRef(obj)
    del obj
    r.set(None)
    assert drive_releases_until(lambda: wr() is None)


def test_dropping_the_ref_releases_its_object():
    obj = Box()
    wr = weakref.ref(obj)
    r = AtomicRef(obj)
    del obj, r
    assert wr() is None or collect_until_dead(wr)


def test_ref_holding_itself_is_collected():
    r = AtomicRef()
    r.set(r)
    wr = weakref.ref(r)
    del r
    assert collect_until_dead(wr)


def test_cycle_through_an_object_is_collected():
    node = Box()
    node.ref = AtomicRef(node)
    wr_node, wr_ref = weakref.ref(node), weakref.ref(node.ref)
    del node
    assert collect_until_dead(wr_node)
    assert wr_ref() is None


def test_gc_sees_the_held_object():
    obj = Box()
    r = AtomicRef(obj)
    assert obj in gc.get_referents(r)


def test_refcount_returns_to_baseline():
    obj = Box()
    base = sys.getrefcount(obj)
    r = AtomicRef(obj)
    assert sys.getrefcount(obj) == base + 1
    for _ in range(100):
        assert r.get() is obj
    r.set(None)
    del r
    assert drive_releases_until(lambda: sys.getrefcount(obj) == base)


# --- concurrency ----------------------------------------------------------------------------------


def test_readers_racing_writers_only_see_objects_some_writer_set(switch_often):
    writers, readers, writes = 2, 2, 3_000
    initial = Box(("init", 0))
    r = AtomicRef(initial)

    def work(i):
        if i < writers:
            for n in range(writes):
                r.set(Box((i, n)))  # fresh object each time: the old one dies when released
            return None
        seen = set()
        for _ in range(writes):
            obj = r.get()
            assert isinstance(obj, Box)
            seen.add(obj.tag)
        return seen

    results = run_threads(writers + readers, work)
    legal = {("init", 0)} | {(w, n) for w in range(writers) for n in range(writes)}
    for seen in results[writers:]:
        assert seen <= legal


def test_get_and_set_from_many_threads_loses_nothing(switch_often):
    threads, per_thread = 4, 2_000
    r = AtomicRef(("start",))

    def work(i):
        got = []
        for n in range(per_thread):
            got.append(r.get_and_set((i, n)))
        return got

    results = run_threads(threads, work)
    returned = [x for got in results for x in got] + [r.get()]
    # Each value stored is returned exactly once by some swap, or is the final value.
    expected = [("start",)] + [(i, n) for i in range(threads) for n in range(per_thread)]
    assert sorted(returned, key=repr) == sorted(expected, key=repr)


def test_cas_from_same_expected_has_exactly_one_winner():
    for _ in range(50):
        start = Box()
        r = AtomicRef(start)
        mine = [Box(i) for i in range(8)]
        wins = run_threads(8, lambda i: r.compare_and_set(start, mine[i]))
        assert sum(wins) == 1
        assert r.get() is mine[wins.index(True)]


def test_update_and_get_from_many_threads_is_exact(switch_often):
    threads, per_thread = 4, 1_000
    r = AtomicRef(0)
    run_threads(threads, lambda _: [r.update_and_get(lambda v: v + 1) for _ in range(per_thread)])
    assert r.get() == threads * per_thread


# --- model-based: AtomicRef vs a plain variable with identity CAS ---------------------------------


class AtomicRefMachine(RuleBasedStateMachine):
    objects = Bundle("objects")

    def __init__(self) -> None:
        super().__init__()
        self.model: object = None
        self.real: AtomicRef[object] = AtomicRef()

    @rule(target=objects, v=st.one_of(st.integers(), st.text(max_size=3), st.none()))
    def make(self, v):
        return [v]  # lists: equal ones are distinct objects

    @rule(obj=objects)
    def set(self, obj):
        self.real.set(obj)
        self.model = obj

    @rule(obj=objects)
    def get_and_set(self, obj):
        assert self.real.get_and_set(obj) is self.model
        self.model = obj

    @rule(expected=objects, desired=objects)
    def compare_and_set(self, expected, desired):
        swapped = self.real.compare_and_set(expected, desired)
        assert swapped == (expected is self.model)
        if swapped:
            self.model = desired

    @rule(expected=objects, desired=objects)
    def compare_and_exchange(self, expected, desired):
        found = self.real.compare_and_exchange(expected, desired)
        assert found is self.model
        if expected is self.model:
            self.model = desired

    @invariant()
    def same_object(self):
        assert self.real.get() is self.model


TestAtomicRefMachine = AtomicRefMachine.TestCase
TestAtomicRefMachine.settings = settings(max_examples=examples(100), stateful_step_count=30, deadline=None)
