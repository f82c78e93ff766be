"""AtomicSet's fast paths (`x in s` in src/python/slots.rs, `add` in src/python/set.rs) decide
exactly as the general path and set.

An exact str or int element is looked up and added without PyO3's trampoline and without
Python code; anything else (another type, a stored element only `__eq__` can compare, a `set`
looked up as a frozenset, an unhashable element) goes to the general path. These pin the edges
between the two.
"""

from __future__ import annotations

import pytest

from lockless import AtomicSet
from lockless._lockless import AtomicSetBase


def fresh(s: str) -> str:
    copy = "".join(list(s))
    assert copy == s and copy is not s
    return copy


@pytest.mark.parametrize("text", ["abc", "ab\xe9", "ab\u20ac", "ab\U0001f600"])
def test_equal_but_distinct_strs_find_each_other_and_add_keeps_the_first(text):
    s = AtomicSet([text])
    assert fresh(text) in s
    s.add(fresh(text))
    assert len(s) == 1 and next(iter(s)) is text


def test_ints_of_every_size_equal_but_distinct_are_one_element():
    elements = [0, -1, 2**62, -(2**63), 2**64 + 7, -(2**100)]
    s, b = AtomicSet(elements), set(elements)
    for x in elements:
        copy = int(str(x))
        assert copy in s
        s.add(copy)
    assert len(s) == len(b) == len(elements)
    assert (2**64 + 8) not in s and 5 not in s


def test_an_int_meets_an_equal_float_or_bool_as_set_does():
    s, b = AtomicSet([1.0, 2]), {1.0, 2}
    for x in (1, True, 2.0, 3):
        assert (x in s) == (x in b)
    s.add(1)
    b.add(1)
    assert list(s) == [1.0, 2] and type(next(iter(s))) is float
    assert len(s) == len(b)


class SameHashAsStr:
    """Equal to a str, with its hash: only this type's __eq__ can say so."""

    def __init__(self, s: str) -> None:
        self.s = s
        self.eq_calls = 0

    def __hash__(self) -> int:
        return hash(self.s)

    def __eq__(self, other: object) -> bool:
        self.eq_calls += 1
        return other == self.s


def test_a_str_meeting_a_stored_element_of_a_user_type_asks_its_eq_as_set_does():
    stored = SameHashAsStr("key")
    s, b = AtomicSet([stored]), {stored}
    assert ("key" in s) and ("key" in b)
    s.add("key")
    b.add("key")
    assert list(s) == [stored] and len(b) == 1
    assert stored.eq_calls > 0


def test_a_set_element_is_looked_up_as_a_frozenset_and_unhashables_raise():
    s = AtomicSet([frozenset({1, 2})])
    assert {1, 2} in s and {3} not in s
    with pytest.raises(TypeError, match="unhashable"):
        s.add([1])
    with pytest.raises(TypeError, match="unhashable"):
        [1] in s  # noqa: B015
    assert len(s) == 1


def test_the_contains_wrapper_calls_the_same_function_and_checks_self():
    s = AtomicSet(["a", 2])
    assert AtomicSetBase.__contains__(s, "a") and AtomicSetBase.__contains__(s, 2)
    assert not AtomicSetBase.__contains__(s, "b")
    with pytest.raises(TypeError):
        AtomicSetBase.__contains__(set(), "a")


def test_subclass_overrides_of_contains_and_add_still_run():
    class Loud(AtomicSet[str]):
        def __contains__(self, x: object) -> bool:
            return x == "everything"

        def add(self, x: str) -> None:
            super().add(x.lower())

    s = Loud()
    s.add("A")
    assert "everything" in s and "a" not in s
    assert list(s) == ["a"]
