"""AtomicSet's interface one behaviour at a time: what set does (and the differential test in
test_set_model.py checks at random), plus the protocols, the atomic operations, iteration's
guarantees and hostile elements (raising or Python-level ``__hash__``/``__eq__``)."""

from __future__ import annotations

import collections.abc
import copy
import pickle
import typing

import pytest

from dict_support import NAN, Collide
from lockless import AtomicSet


class Boom(Exception):
    pass


class CountingHash:
    """Equal by ``tag``, with a ``__hash__`` that counts its calls."""

    def __init__(self, tag: object) -> None:
        self.tag = tag
        self.hashes = 0

    def __hash__(self) -> int:
        self.hashes += 1
        return 5

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountingHash) and self.tag == other.tag


class HashBoom:
    def __hash__(self) -> int:
        raise Boom


class EqBoom:
    """All instances share a hash; comparing two distinct ones raises."""

    def __hash__(self) -> int:
        return 3

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        raise Boom


# --- construction, repr, protocols ----------------------------------------------------------


def test_constructor_takes_nothing_or_one_iterable_and_refuses_keywords():
    assert len(AtomicSet()) == 0
    assert AtomicSet("abca") == {"a", "b", "c"}
    assert AtomicSet(x for x in range(3)) == {0, 1, 2}
    with pytest.raises(TypeError):
        AtomicSet(1)
    with pytest.raises(TypeError):
        AtomicSet([1], [2])
    with pytest.raises(TypeError):
        AtomicSet(iterable=[1])
    with pytest.raises(TypeError, match="unhashable"):
        AtomicSet([[]])


def test_init_on_a_filled_set_starts_over_as_set_init_does():
    s = AtomicSet([1, 2])
    s.__init__([3])
    assert s == {3}


def test_repr_shows_elements_in_insertion_order_and_an_empty_set_as_a_call():
    assert repr(AtomicSet()) == "AtomicSet()"
    assert repr(AtomicSet([3, 1, 2])) == "AtomicSet({3, 1, 2})"

    class Mine(AtomicSet):
        pass

    assert repr(Mine(["a"])) == "Mine({'a'})"


def test_repr_of_an_element_that_shows_the_set_does_not_recurse():
    s = AtomicSet()

    class Shows:
        def __repr__(self) -> str:
            return f"Shows({s!r})"

    s.add(Shows())
    assert repr(s) == "AtomicSet({Shows(AtomicSet(...))})"


def test_an_atomic_set_is_unhashable_and_a_mutable_set():
    with pytest.raises(TypeError, match="unhashable"):
        hash(AtomicSet())
    assert isinstance(AtomicSet(), collections.abc.MutableSet)
    assert isinstance(AtomicSet(), collections.abc.Set)
    assert not isinstance(AtomicSet(), set)


def test_generic_alias_subscripts_and_keeps_the_origin():
    alias = AtomicSet[int]
    assert typing.get_origin(alias) is AtomicSet
    assert typing.get_args(alias) == (int,)
    assert alias([1]) == {1}


def test_len_bool_and_membership():
    s = AtomicSet([1, "a", (2, 3)])
    assert len(s) == 3 and s
    assert not AtomicSet()
    assert 1 in s and "a" in s and (2, 3) in s and 2 not in s
    assert 1.0 in s  # equal numbers are one element, as in set
    with pytest.raises(TypeError, match="unhashable"):
        [] in s  # noqa: B015


def test_a_set_argument_is_looked_up_as_a_frozenset_by_in_remove_and_discard():
    s = AtomicSet([frozenset({1, 2}), frozenset({3})])
    assert {1, 2} in s
    s.remove({1, 2})
    assert frozenset({1, 2}) not in s
    s.discard({3})
    assert not s
    with pytest.raises(KeyError) as missing:
        s.remove({9})
    assert missing.value.args == ({9},)
    with pytest.raises(TypeError, match="unhashable"):
        s.add({1})


def test_an_atomic_set_argument_is_looked_up_as_a_frozenset_as_a_set_argument_is():
    # Found by CPython's test_set run with AtomicSet in set's place (test_contains,
    # test_remove, test_discard): TypeError here. (A builtin set converts only sets.)
    for key in (set, AtomicSet):
        s = AtomicSet([frozenset("ab"), frozenset("c")])
        assert key("ab") in s and key("x") not in s
        s.remove(key("ab"))
        s.discard(key("c"))
        assert not s
        with pytest.raises(KeyError) as missing:
            s.remove(key([9]))
        assert missing.value.args[0] == key([9])


def test_nan_finds_itself_by_identity():
    s = AtomicSet([NAN])
    assert NAN in s
    assert float("nan") not in s
    assert s.discard_if_present(NAN)


def test_element_operations():
    s = AtomicSet()
    s.add(1)
    s.add(1)
    assert s == {1}
    s.discard(2)
    s.remove(1)
    with pytest.raises(KeyError) as missing:
        s.remove(1)
    assert missing.value.args == (1,)
    with pytest.raises(KeyError, match="pop from an empty set"):
        s.pop()
    s.update([1, 2, 3])
    assert s.pop() == 3  # the most recently added
    s.clear()
    assert not s and list(s) == []


def test_add_if_absent_and_discard_if_present_say_whether_this_call_changed_the_set():
    s = AtomicSet()
    assert s.add_if_absent("x") is True
    assert s.add_if_absent("x") is False
    assert s.discard_if_present("x") is True
    assert s.discard_if_present("x") is False
    assert s.discard_if_present({1}) is False  # a set argument: looked up as a frozenset


def test_copy_is_an_independent_atomic_set_in_the_same_order():
    s = AtomicSet([3, 1, 2])
    c = s.copy()
    assert type(c) is AtomicSet and list(c) == [3, 1, 2]
    c.add(4)
    assert 4 not in s


def test_results_of_a_subclass_are_atomic_sets_as_set_s_are_sets():
    class Mine(AtomicSet):
        pass

    m = Mine([1, 2])
    for result in (m.copy(), m | {3}, m & {1}, m - {1}, m ^ {5}, m.union(), m.intersection()):
        assert type(result) is AtomicSet


def test_reflected_operators_give_the_left_operand_s_type_as_set_and_frozenset_do():
    s = AtomicSet([1, 2])
    assert type({3} | s) is set and {3} | s == {1, 2, 3}
    assert type(frozenset({3}) | s) is frozenset
    assert {1, 5} - s == {5} and {1, 5} & s == {1} and {1, 5} ^ s == {2, 5}


def test_operators_refuse_what_set_refuses():
    s = AtomicSet([1])
    for op in ("__or__", "__and__", "__sub__", "__xor__", "__ior__", "__iand__", "__isub__", "__ixor__"):
        assert getattr(s, op)([1]) is NotImplemented
    with pytest.raises(TypeError):
        s | [1]  # noqa: B018
    with pytest.raises(TypeError):
        s |= [1]
    with pytest.raises(TypeError):
        s < [1]  # noqa: B015
    assert s != [1] and not (s == [1])


def test_in_place_operators_return_the_same_set():
    s = AtomicSet([1, 2, 3])
    t = s
    t |= {4}
    t &= AtomicSet([1, 2, 4])
    t -= frozenset({1})
    t ^= {2, 9}
    assert t is s and s == {4, 9}


def test_comparisons_against_set_frozenset_and_atomic_set_on_either_side():
    s = AtomicSet([1, 2])
    for other in ({1, 2}, frozenset({1, 2}), AtomicSet([2, 1])):
        assert s == other and other == s and s <= other and s >= other
        assert not s < other and not s > other
    assert s < {1, 2, 3} and {1, 2, 3} > s and frozenset({1}) < s and s > AtomicSet([1])


def test_comparisons_against_dict_key_and_item_views_as_set_s():
    # Found by comparing set and AtomicSet beside CPython's test_set: `==` gave False and
    # `<=` raised TypeError, as dict views compare only with builtin sets.
    d = {1: "a", 2: "b"}
    for s in ({1, 2}, AtomicSet([1, 2])):
        keys, items = d.keys(), d.items()
        assert s == keys and keys == s and not s != keys and s <= keys and s >= keys
        assert not s < keys and not s > keys and s > {1: 0}.keys() and s < {1: 0, 2: 0, 3: 0}.keys()
        assert s != items and {(1, "a"), (2, "b")} == items
    assert AtomicSet([(1, "a"), (2, "b")]) == d.items() and d.items() == AtomicSet([(1, "a"), (2, "b")])
    for s in ({(1, "a")}, AtomicSet([(1, "a")])):
        with pytest.raises(TypeError, match="unhashable"):  # the view compares, as with set
            s != {1: []}.items()  # noqa: B015


def test_weak_references():
    import weakref

    s = AtomicSet([1])
    r = weakref.ref(s)
    assert r() is s


# --- iteration ------------------------------------------------------------------------------


def test_an_element_removed_and_added_again_during_iteration_is_not_yielded_twice():
    # Re-adding puts the element at the end of the insertion order, where an iterator that
    # followed the order would meet it again.
    s = AtomicSet(range(100))
    seen = []
    for x in s:
        seen.append(x)
        s.discard(x)
        s.add(x)
        if len(seen) > 1000:
            break  # without the bound the iteration would never end
    assert sorted(seen) == list(range(100))


def test_elements_added_during_iteration_never_make_it_raise_or_repeat():
    s = AtomicSet(range(10))
    seen = []
    for x in s:
        seen.append(x)
        s.add(x + 1000)  # grows the table under the iterator, migrating it
        s.discard(x)
        if len(seen) > 1000:
            break
    assert len(seen) == len(set(seen)) == 10
    assert set(range(10)) <= set(seen)


def test_an_exhausted_iterator_stays_exhausted():
    s = AtomicSet([1])
    it = iter(s)
    assert list(it) == [1]
    s.add(2)
    with pytest.raises(StopIteration):
        next(it)


def test_iterator_is_its_own_iterator():
    it = iter(AtomicSet([1]))
    assert iter(it) is it and list(it) == [1]


# --- hostile elements ---------------------------------------------------------------------


@pytest.mark.parametrize("call", ["add", "discard", "remove", "__contains__", "add_if_absent", "discard_if_present"])
def test_each_element_call_hashes_its_argument_exactly_once(call):
    s = AtomicSet([CountingHash(i) for i in range(5)])  # one hash: probes compare with __eq__
    key = CountingHash(3 if call in ("remove",) else 7)
    try:
        getattr(s, call)(key)
    except KeyError:
        pass
    assert key.hashes == 1


@pytest.mark.parametrize("call", ["add", "discard", "remove", "__contains__", "add_if_absent", "discard_if_present"])
def test_a_raising_hash_propagates_and_leaves_the_set_unchanged(call):
    s = AtomicSet([1, 2])
    with pytest.raises(Boom):
        getattr(s, call)(HashBoom())
    assert s == {1, 2}


@pytest.mark.parametrize("call", ["add", "discard", "remove", "__contains__", "add_if_absent", "discard_if_present"])
def test_a_raising_eq_propagates_and_leaves_the_set_unchanged(call):
    stored = EqBoom()
    s = AtomicSet([stored, 1])
    with pytest.raises(Boom):
        getattr(s, call)(EqBoom())
    assert len(s) == 2 and stored in s


def test_an_eq_that_mutates_the_same_set_does_not_corrupt_it():
    s = AtomicSet()

    class Meddler:
        def __hash__(self) -> int:
            return 1

        def __eq__(self, other: object) -> bool:
            s.add(("meddled", id(other)))
            return self is other

    first = Meddler()
    s.add(first)
    assert s.add_if_absent(Meddler()) is True
    assert first in s and len(s) >= 3


def test_colliding_elements_stay_distinct():
    items = [Collide(i, h=9) for i in range(50)]
    s = AtomicSet(items)
    assert len(s) == 50
    for i in range(0, 50, 2):
        s.remove(Collide(i, h=9))
    assert sorted(x.tag for x in s) == list(range(1, 50, 2))


def test_a_pickled_or_copied_iterator_yields_the_rest_without_advancing_as_sets_does():
    # Found by CPython's test_set (test_iterator_pickling): TypeError here.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        ours, spec = iter(AtomicSet("abc")), iter(set("abc"))
        first = next(ours)
        next(spec)
        restored = pickle.loads(pickle.dumps(ours, protocol))
        assert type(restored) is type(pickle.loads(pickle.dumps(spec, protocol)))
        assert sorted(restored) == sorted(set("abc") - {first})
        assert sorted(copy.copy(ours)) == sorted(set("abc") - {first})
        assert sorted(ours) == sorted(set("abc") - {first}), "pickling did not advance the iterator"
