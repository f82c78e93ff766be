"""The hottest calls (AtomicCounter.increment(), AtomicInt.increment_and_get(), AtomicDict.add(key),
AtomicDict.get(key), AtomicSet.add(x), AtomicCounterDict.add(key), AtomicQueue.put(item) and
get()) skip PyO3's argument parser (src/python/fastcall.rs), and the commonest of them (exact str
and int keys, a queue with room or an item) skip PyO3's trampoline too. Every other form of the
call goes to the method PyO3 made: these tests pin down that all routes behave as one method, and
that a call the direct route declines leaves nothing behind (no count added twice, no reference
taken or lost)."""

from __future__ import annotations

import inspect
import sys
import threading

import pytest

from dict_support import EqualTo
from lockless import AtomicCounter, AtomicCounterDict, AtomicDict, AtomicInt, AtomicSet
from lockless._lockless import AtomicCounterDictBase, AtomicDictBase, AtomicSetBase


def test_counter_increment_in_every_form_adds_the_same():
    c = AtomicCounter()
    c.increment()
    c.increment(1)
    c.increment(n=1)
    AtomicCounter.increment(c)
    assert c.get() == 4


def test_int_increment_and_get_in_every_form_returns_the_new_value():
    a = AtomicInt(2**62)
    assert a.increment_and_get() == 2**62 + 1
    assert a.increment_and_get(2) == 2**62 + 3
    assert a.increment_and_get(n=3) == 2**62 + 6
    assert AtomicInt.increment_and_get(a) == 2**62 + 7


def test_fast_and_general_add_agree():
    d = AtomicDict()
    assert d.add("k") == 1
    assert d.add("k", 2) == 3
    assert d.add("k", amount=3) == 6
    assert d.add("n", default=10) == 11
    assert AtomicDict.add(d, "k") == 7


def test_the_fast_paths_raise_what_the_methods_raise():
    with pytest.raises(OverflowError):
        AtomicInt(2**63 - 1).increment_and_get()
    with pytest.raises(TypeError, match="unhashable"):
        AtomicDict().add([])
    with pytest.raises(TypeError):
        AtomicDict().add()
    with pytest.raises(TypeError):
        AtomicCounter().increment(1, 2)
    with pytest.raises(TypeError):
        AtomicCounter().increment(m=1)
    with pytest.raises(TypeError):
        AtomicCounter.increment(AtomicInt())  # the descriptor checks self's type


def test_add_of_an_absent_key_to_a_non_number_default_goes_the_general_way():
    d = AtomicDict()
    assert d.add("l", [1], []) == [1]
    assert d.add("l", [2]) == [1, 2]


def test_signatures_and_docs_are_the_methods_own():
    assert str(inspect.signature(AtomicCounter.increment)) == "(self, /, n=1)"
    assert str(inspect.signature(AtomicInt.increment_and_get)) == "(self, /, n=1)"
    assert str(inspect.signature(AtomicDict.add)) == "(self, /, key, amount=1, default=0)"
    assert AtomicCounter.increment.__doc__.startswith("Adds `n`")


def test_a_subclass_may_override_add():
    class Doubling(AtomicDict):
        def add(self, key, amount=1, default=0):
            return super().add(key, 2 * amount, default)

    d = Doubling()
    assert d.add("k") == 2 and d.add("k") == 4


def test_set_add_in_every_form_adds_once_and_returns_none():
    s = AtomicSet()
    assert s.add("x") is None
    assert AtomicSet.add(s, "y") is None
    assert s.add("x") is None
    assert s == {"x", "y"}
    with pytest.raises(TypeError, match="unhashable"):
        s.add([])
    with pytest.raises(TypeError):
        s.add()
    with pytest.raises(TypeError):
        s.add(1, 2)
    with pytest.raises(TypeError):
        s.add(key=1)


def test_dict_get_in_every_form_returns_the_same():
    m = AtomicDict({"a": 1, 5: "five"})
    assert m.get("a") == 1 and m.get(int("5")) == "five"
    assert m.get("zz") is None and m.get("zz", 7) == 7 and m.get("a", 7) == 1
    assert m.get("zz", default=8) == 8 and m.get(key="a") == 1
    assert AtomicDict.get(m, "a") == 1
    with pytest.raises(TypeError):
        m.get()
    with pytest.raises(TypeError):
        m.get("a", 1, 2)
    with pytest.raises(TypeError, match="unhashable"):
        m.get([])
    assert str(inspect.signature(AtomicDict.get)) == "(self, /, key, default=None)"


def test_counter_dict_add_in_every_form_returns_the_new_count():
    from lockless import AtomicCounterDict

    c = AtomicCounterDict()
    assert c.add("k") == 1
    assert c.add("k", 2) == 3
    assert c.add("k", n=3) == 6
    assert c.add(key="k") == 7
    assert AtomicCounterDict.add(c, "k") == 8
    assert str(inspect.signature(AtomicCounterDict.add)) == "(self, /, key, n=1)"
    assert AtomicCounterDict.add.__doc__.startswith("Adds `n`")
    with pytest.raises(TypeError, match="unhashable"):
        c.add([])
    with pytest.raises(TypeError):
        c.add()
    with pytest.raises(TypeError):
        c.add("k", "1")
    with pytest.raises(OverflowError):
        AtomicCounterDict(k=2**63 - 1).add("k")
    with pytest.raises(TypeError):
        AtomicCounterDict.add(AtomicDict(), "k")  # the descriptor checks self's type


def test_counter_dict_add_with_a_count_checks_it_first_on_both_routes():
    from lockless import AtomicCounterDict

    c = AtomicCounterDict()
    assert c.add("k", -2) == -2 and c.add("k", True) == -1
    for call in (lambda: c.add([], "1"), lambda: c.add(key=[], n="1")):
        with pytest.raises(TypeError, match="must be int"):
            call()
    for call in (lambda: c.add("k", 2**63), lambda: c.add(key="k", n=2**63)):
        with pytest.raises(OverflowError):
            call()
    assert list(c.items()) == [("k", -1)]


def test_counter_dict_add_of_a_key_equal_to_a_stored_key_of_another_type_adds_to_that_key():
    from lockless import AtomicCounterDict

    c = AtomicCounterDict({1.0: 2, EqualTo("k"): 5})
    assert c.add(1) == 3
    assert c.add("k") == 6
    assert [type(k).__name__ for k in c] == ["float", "EqualTo"]
    assert c.add(True) == 4  # True == 1.0 too


def test_an_add_or_increment_and_get_that_would_overflow_raises_and_changes_nothing():
    from lockless import AtomicCounterDict

    c = AtomicCounterDict(k=2**63 - 1)
    with pytest.raises(OverflowError):
        c.add("k")
    assert c["k"] == 2**63 - 1
    a = AtomicInt(2**63 - 1)
    with pytest.raises(OverflowError):
        a.increment_and_get()
    assert a.get() == 2**63 - 1


def test_dict_get_finds_a_stored_key_only_eq_can_match_and_hands_back_the_default_itself():
    m = AtomicDict({EqualTo("a"): 1, 2.0: "two"})
    assert m.get("a") == 1 and m.get(2) == "two"
    default = object()
    before = sys.getrefcount(default)
    for _ in range(1000):
        assert m.get("absent", default) is default
        assert m.get("absent") is None
    assert sys.getrefcount(default) == before


def test_a_put_that_waits_for_room_and_a_get_that_waits_for_an_item_keep_one_reference():
    from lockless import AtomicQueue

    item = object()
    before = sys.getrefcount(item)
    q = AtomicQueue(maxsize=1)
    q.put(item)
    assert sys.getrefcount(item) == before + 1
    putter = threading.Thread(target=q.put, args=(item,))  # full: the direct route declines
    putter.start()
    assert q.get() is item
    putter.join(timeout=10)
    assert not putter.is_alive()
    assert q.get() is item
    del putter  # its args tuple holds one reference
    assert sys.getrefcount(item) == before
    getter_got = []
    getter = threading.Thread(target=lambda: getter_got.append(q.get()))  # empty: declined too
    getter.start()
    q.put(item)
    getter.join(timeout=10)
    assert getter_got == [item] and q.empty()
    getter_got.clear()
    assert sys.getrefcount(item) == before


FACADES = [
    (AtomicDict, AtomicDictBase, "get", (0,)),
    (AtomicSet, AtomicSetBase, "add", (0,)),
    (AtomicCounterDict, AtomicCounterDictBase, "add", (0,)),
]


@pytest.mark.parametrize(("cls", "base", "name", "args"), FACADES, ids=lambda p: getattr(p, "__name__", ""))
def test_a_facade_class_has_its_own_copy_of_each_compiled_method_it_does_not_override(cls, base, name, args):
    own = cls.__dict__[name]
    assert type(own) is type(base.__dict__[name]) and own is not base.__dict__[name]
    assert own.__objclass__ is cls and own.__qualname__ == f"{cls.__name__}.{name}"
    assert own.__doc__ == base.__dict__[name].__doc__
    assert inspect.signature(own) == inspect.signature(base.__dict__[name])
    # Methods the facade defines in Python stay its own.
    assert inspect.isfunction(cls.__dict__["__repr__"])
    # The copy still checks `self`: an instance of another type is refused, as before.
    with pytest.raises(TypeError):
        own(object(), *args)
    # A subclass of the facade calls the same function through the copy.
    sub = type("Sub", (cls,), {})()
    getattr(sub, name)(*args)
    own(sub, *args)


def test_own_methods_refuses_a_method_of_a_class_that_is_not_a_base():
    from lockless._lockless import _own_methods

    class Stuffed:
        append = list.append  # a method descriptor of list, in a class that is not a list

    class Sub(Stuffed):
        pass

    with pytest.raises(TypeError, match="not a subclass"):
        _own_methods(Sub, Stuffed)
    assert "append" not in vars(Sub)


ITERATORS = [
    ("dict keys", lambda: iter(AtomicDict({"a": 1, 2: "b"})), ["a", 2]),
    ("dict values", lambda: iter(AtomicDict({"a": 1, 2: "b"}).values()), [1, "b"]),
    ("dict items", lambda: iter(AtomicDict({"a": 1, 2: "b"}).items()), [("a", 1), (2, "b")]),
    ("set", lambda: iter(AtomicSet(["a", 2])), ["a", 2]),
    ("counter keys", lambda: iter(AtomicCounterDict("aab")), ["a", "b"]),
    ("counter items", lambda: iter(AtomicCounterDict("aab").items()), [("a", 2), ("b", 1)]),
]


@pytest.mark.parametrize(("name", "make", "expected"), ITERATORS, ids=[i[0] for i in ITERATORS])
def test_next_and_the_next_method_step_one_iterator_and_both_end_with_stop_iteration(name, make, expected):
    it = make()
    got = [next(it)]  # tp_iternext, served without PyO3's trampoline
    got.append(it.__next__())  # the method, through PyO3's wrapper
    got.extend(it)
    assert got == expected
    for step in (lambda: next(it), it.__next__, lambda: next(it)):
        with pytest.raises(StopIteration):
            step()
    assert next(it, "done") == "done"
