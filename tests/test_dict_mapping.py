"""AtomicDict's mapping protocol: every dict method and operator behaves as dict does on the
same input, single-threaded."""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing

import pytest

from dict_support import NAN, Box, Collide, assert_same_items
from lockless import NOT_FOUND, AtomicDict

# Each input is a list of (key, value) pairs; the same objects go into a dict and an AtomicDict.
INPUTS = {
    "empty": [],
    "one": [("a", 1)],
    "many": [(i, Box(i)) for i in range(200)],
    "minus_one_and_two": [(-1, "m1"), (-2, "m2")],
    "nan": [(NAN, "nan"), (0.0, "zero")],
    "strings": [("alpha", 1), ("beta", 2), ("", 3), ("ü", 4)],
    "tuples": [((1, 2), "a"), ((1, (2, 3)), "b"), ((), "c"), (("x",), "d")],
    "none": [(None, 0), ("None", 1)],
    "bool_then_int": [(True, "t"), (1, "one"), (False, "f"), (0.0, "zero")],
    "int_then_bool": [(1, "one"), (True, "t"), (2, "two")],
    "colliding": [(Collide(i), i) for i in range(20)],
    "mixed": [(NAN, 1), (-1, 2), (-2, 3), ("s", 4), ((1, "t"), 5), (None, 6), (b"b", 7)],
}


@pytest.fixture(params=list(INPUTS), ids=list(INPUTS))
def pairs(request):
    return list(INPUTS[request.param])


def both(pairs):
    return AtomicDict(pairs), dict(pairs)


def outcome(fn, m):
    """``("ok", result)`` or ``("raise", exception type, args)``: compares what dict does."""
    try:
        return ("ok", fn(m))
    except Exception as exc:  # noqa: BLE001 - the outcome is compared
        return ("raise", type(exc), exc.args)


def probe_keys(pairs):
    """Keys present plus some absent ones (incl. equal-but-not-identical and -1/-2/NaN)."""
    return [k for k, _ in pairs] + ["absent", -1, -2, float("nan"), 1, True, 1.0, Collide(3)]


# --- construction -----------------------------------------------------------------------------


def test_empty_constructor_gives_empty_dict():
    d = AtomicDict()
    assert len(d) == 0
    assert list(d) == []
    assert not d


def test_init_called_again_adds_as_dicts_does_and_with_nothing_changes_nothing():
    for make in (dict, AtomicDict):
        d = make(a=1)
        d.__init__()
        d.__init__(())
        d.__init__([], b=2)
        d.__init__({"c": 3})
        assert list(d.items()) == [("a", 1), ("b", 2), ("c", 3)], make


def test_constructor_from_pairs_matches_dict(pairs):
    assert_same_items(AtomicDict(pairs), dict(pairs))


def test_constructor_from_mapping_matches_dict(pairs):
    src = dict(pairs)
    assert_same_items(AtomicDict(src), dict(src))


def test_constructor_from_atomic_dict_matches_dict(pairs):
    assert_same_items(AtomicDict(AtomicDict(pairs)), dict(pairs))


def test_constructor_from_iterator_of_pairs():
    assert_same_items(AtomicDict(iter([(1, 2), (3, 4)])), {1: 2, 3: 4})


def test_constructor_keyword_arguments_are_added_after_positional():
    assert_same_items(AtomicDict([("a", 1), ("b", 2)], b=3, c=4), dict([("a", 1), ("b", 2)], b=3, c=4))
    assert_same_items(AtomicDict(x=1), {"x": 1})


def test_constructor_later_duplicates_overwrite_value_but_keep_first_key():
    ad = AtomicDict([(1, "a"), (True, "b"), (1.0, "c")])
    assert list(ad.items()) == [(1, "c")]
    assert type(next(iter(ad))) is int


def test_constructor_accepts_mapping_protocol_object():
    class KeysOnly:
        def keys(self):
            return ["x", "y"]

        def __getitem__(self, k):
            return VALUES[k]

    VALUES = {"x": Box("X"), "y": Box("Y")}
    assert_same_items(AtomicDict(KeysOnly()), dict(KeysOnly()))


@pytest.mark.parametrize("bad", [[1, 2], [(1, 2, 3)], [(1,)], 5, None])
def test_constructor_rejects_what_dict_rejects(bad):
    with pytest.raises(Exception) as want:
        dict(bad)
    with pytest.raises(want.type):
        AtomicDict(bad)


def test_constructor_takes_at_most_one_positional():
    with pytest.raises(TypeError):
        AtomicDict({}, {})


# --- item access --------------------------------------------------------------------------------


def test_getitem_matches_dict(pairs):
    ad, d = both(pairs)
    for k in probe_keys(pairs):
        assert outcome(lambda m: m[k], ad) == outcome(lambda m: m[k], d), k


def test_getitem_missing_raises_key_error_with_the_key():
    k = Box()
    with pytest.raises(KeyError) as exc:
        AtomicDict()[k]
    assert exc.value.args == (k,)


def test_getitem_returns_the_stored_object():
    v = Box()
    assert AtomicDict(a=v)["a"] is v


def test_contains_matches_dict(pairs):
    ad, d = both(pairs)
    for k in probe_keys(pairs):
        assert (k in ad) == (k in d), k
        assert (k not in ad) == (k not in d), k


def test_nan_key_is_found_only_by_identity():
    ad = AtomicDict({NAN: 1})
    assert NAN in ad
    assert ad[NAN] == 1
    assert float("nan") not in ad


def test_minus_one_and_minus_two_are_distinct_keys():
    assert hash(-1) == hash(-2)
    ad = AtomicDict()
    ad[-1] = "a"
    ad[-2] = "b"
    assert ad[-1] == "a" and ad[-2] == "b"
    del ad[-1]
    assert -1 not in ad and ad[-2] == "b"


@pytest.mark.parametrize("n", [0, 300, -300, 2**62, -(2**63), 2**63, 2**64 + 5, -(2**64) - 5, 2**61 - 1 + 7])
def test_equal_ints_that_are_different_objects_are_one_key(n):
    # int(str(n)) makes a new object (outside the small-int cache) equal to n; n + P and n - P
    # (P = 2**61 - 1, the modulus of int hashes) share its hash but not its value.
    p = 2**61 - 1
    ad = AtomicDict()
    ad[n] = "n"
    ad[n + p] = "n+p"
    ad[n - p] = "n-p"
    twin = int(str(n))
    assert ad[twin] == "n" and ad[int(str(n + p))] == "n+p" and ad[int(str(n - p))] == "n-p"
    assert len(ad) == 3
    del ad[twin]
    assert n not in ad and len(ad) == 2


def test_true_and_one_are_the_same_key():
    ad = AtomicDict()
    ad[True] = "t"
    ad[1] = "one"
    ad[1.0] = "float"
    assert len(ad) == 1
    (k,) = ad
    assert k is True
    assert ad[1] == "float"


def test_get_matches_dict(pairs):
    ad, d = both(pairs)
    sentinel = Box()
    for k in probe_keys(pairs):
        assert ad.get(k) is d.get(k)
        assert ad.get(k, sentinel) is d.get(k, sentinel)


def test_setitem_matches_dict(pairs):
    ad, d = both(pairs)
    for i, k in enumerate(probe_keys(pairs)):
        v = Box(i)
        ad[k] = v
        d[k] = v
    assert_same_items(ad, d)


def test_setitem_overwrite_keeps_position_and_key_object():
    ad = AtomicDict([(1, "a"), (2, "b"), (3, "c")])
    ad[1.0] = "z"
    assert list(ad.items()) == [(1, "z"), (2, "b"), (3, "c")]
    assert type(list(ad)[0]) is int


def test_delitem_matches_dict(pairs):
    ad, d = both(pairs)
    for k in probe_keys(pairs):
        def delete(m):
            del m[k]

        assert outcome(delete, ad) == outcome(delete, d), k
        assert_same_items(ad, d)


def test_delete_then_reinsert_goes_to_the_end():
    ad = AtomicDict([(1, 1), (2, 2), (3, 3)])
    del ad[1]
    ad[1] = "again"
    assert list(ad) == [2, 3, 1]


# --- len, iter, reversed, bool ---------------------------------------------------------------------


def test_len_iter_reversed_bool_match_dict(pairs):
    ad, d = both(pairs)
    assert len(ad) == len(d)
    assert [k for k in ad] == list(d)
    assert all(a is b for a, b in zip(ad, d))
    assert list(reversed(ad)) == list(reversed(d))
    assert bool(ad) == bool(d)


def test_iteration_order_is_insertion_order_after_deletes():
    ad, d = both([(i, i) for i in range(50)])
    for i in range(0, 50, 3):
        del ad[i]
        del d[i]
    for i in range(100, 110):
        ad[i] = i
        d[i] = i
    assert list(ad) == list(d)
    assert list(reversed(ad)) == list(reversed(d))


def test_mutating_while_iterating_does_not_raise_and_yields_surviving_keys_once():
    # dict raises RuntimeError here; AtomicDict's iteration is weakly consistent instead.
    ad = AtomicDict((i, i) for i in range(100))
    seen = []
    for k in ad:
        seen.append(k)
        if isinstance(k, int) and k < 100:
            if k % 2 == 0:
                ad.pop(k + 1, "absent")  # a key not reached yet
            ad[f"new{k}"] = k
    assert len(seen) == len(set(seen))
    assert set(range(0, 100, 2)) <= set(seen)


# --- views ----------------------------------------------------------------------------------------


def test_views_match_dict(pairs):
    ad, d = both(pairs)
    assert list(ad.keys()) == list(d.keys())
    assert list(ad.values()) == list(d.values())
    assert list(ad.items()) == list(d.items())
    assert len(ad.keys()) == len(ad.values()) == len(ad.items()) == len(d)
    for k, v in pairs:
        assert k in ad.keys()
        assert (k, d[k]) in ad.items()
        assert d[k] in ad.values()
    assert "absent" not in ad.keys()
    assert ("absent", 1) not in ad.items()
    assert (pairs[0][0], Box()) not in ad.items() if pairs else True


def test_views_are_reversible_like_dict_views(pairs):
    ad, d = both(pairs)
    assert list(reversed(ad.keys())) == list(reversed(d.keys()))
    assert list(reversed(ad.values())) == list(reversed(d.values()))
    assert list(reversed(ad.items())) == list(reversed(d.items()))


def test_views_are_live():
    ad = AtomicDict(a=1)
    keys, values, items = ad.keys(), ad.values(), ad.items()
    ad["b"] = 2
    assert list(keys) == ["a", "b"]
    assert list(values) == [1, 2]
    assert list(items) == [("a", 1), ("b", 2)]
    del ad["a"]
    assert len(keys) == len(values) == len(items) == 1
    assert "a" not in keys


def test_views_iterate_through_the_base_and_refuse_a_mapping_that_is_not_an_atomic_dict():
    class Odd(AtomicDict):
        def __iter__(self):
            return iter(["not", "these"])

        def _iter_items(self):
            return iter([("not", "these")])

    ad = Odd(a=1)
    assert list(ad.keys()) == ["a"] and list(ad.values()) == [1] and list(ad.items()) == [("a", 1)]
    for view in (ad.keys(), ad.values(), ad.items()):
        stray = type(view)({"a": 1})  # a view class over a plain dict
        with pytest.raises(TypeError):
            iter(stray)


def test_each_view_call_makes_a_new_live_view_and_a_subclass_may_override_the_view_methods():
    ad = AtomicDict(a=1)
    for name in ("keys", "values", "items"):
        first, second = getattr(ad, name)(), getattr(ad, name)()
        assert first is not second and type(first) is type(second)
        assert first._mapping is ad
        assert str(inspect.signature(getattr(AtomicDict, name))) == "(self, /)"

    class Pairs(AtomicDict):
        def items(self):
            return sorted(AtomicDict.items(self))

    assert Pairs(b=2, a=1).items() == [("a", 1), ("b", 2)]


def test_views_are_registered_as_the_abc_views():
    ad = AtomicDict(a=1)
    assert isinstance(ad.keys(), collections.abc.KeysView)
    assert isinstance(ad.values(), collections.abc.ValuesView)
    assert isinstance(ad.items(), collections.abc.ItemsView)


KEY_OPERANDS = [set(), {"a"}, {"a", "zz"}, {1, 2, 3}, {NAN}, {-1, 99}]


@pytest.mark.parametrize("other", KEY_OPERANDS, ids=repr)
def test_keys_view_set_operations_match_dict(pairs, other):
    ad, d = both(pairs)
    a, b = ad.keys(), d.keys()
    assert (a & other) == (b & other)
    assert (a | other) == (b | other)
    assert (a - other) == (b - other)
    assert (a ^ other) == (b ^ other)
    assert (other & a) == (other & b)
    assert (other | a) == (other | b)
    assert (other - a) == (other - b)
    assert (other ^ a) == (other ^ b)
    assert a.isdisjoint(other) == b.isdisjoint(other)
    assert (a == set(b)) and (a <= set(b)) and (a >= set(b))
    assert (a & d.keys()) == set(b)
    assert (a & ad.keys()) == set(b)


@pytest.mark.parametrize("other", [set(), {("a", 1)}, {("a", 2), (3, 3)}, {(1, "one")}], ids=repr)
def test_items_view_set_operations_match_dict(pairs, other):
    ad, d = both(pairs)
    a, b = ad.items(), d.items()
    assert (a & other) == (b & other)
    assert (a | other) == (b | other)
    assert (a - other) == (b - other)
    assert (a ^ other) == (b ^ other)
    assert a.isdisjoint(other) == b.isdisjoint(other)
    assert (a == set(b)) if all(isinstance(v, collections.abc.Hashable) for v in d.values()) else True


# --- pop, popitem, setdefault, update, clear, copy --------------------------------------------


def test_pop_matches_dict(pairs):
    ad, d = both(pairs)
    sentinel = Box()
    for k in probe_keys(pairs):
        assert outcome(lambda m: m.pop(k), ad) == outcome(lambda m: m.pop(k), d), k
        assert ad.pop(k, sentinel) is d.pop(k, sentinel)
        assert_same_items(ad, d)


def test_pop_missing_raises_key_error_with_the_key():
    k = Box()
    with pytest.raises(KeyError) as exc:
        AtomicDict().pop(k)
    assert exc.value.args == (k,)


def test_pop_default_none_is_returned():
    assert AtomicDict().pop("x", None) is None


def test_popitem_is_lifo_like_dict(pairs):
    ad, d = both(pairs)
    while d:
        got, want = ad.popitem(), d.popitem()
        assert got[0] is want[0] and got[1] is want[1]
        assert_same_items(ad, d)
    with pytest.raises(KeyError):
        ad.popitem()


def test_popitem_after_overwrite_and_delete_follows_dict():
    ad, d = both([(i, i) for i in range(5)])
    for m in (ad, d):
        m[0] = "overwritten"  # keeps its position
        del m[4]
        m[9] = 9
    assert [ad.popitem() for _ in range(4)] == [d.popitem() for _ in range(4)]


def test_setdefault_matches_dict(pairs):
    ad, d = both(pairs)
    for i, k in enumerate(probe_keys(pairs)):
        v = Box(i)
        assert ad.setdefault(k, v) is d.setdefault(k, v)
    assert_same_items(ad, d)


def test_setdefault_default_is_none():
    ad = AtomicDict()
    assert ad.setdefault("k") is None
    assert ad["k"] is None


UPDATES = [
    {},
    {"a": "new"},
    [("x", 1), ("y", 2), ("x", 3)],
    [(True, "t"), (-1, "m1"), (NAN, "n")],
]


@pytest.mark.parametrize("other", UPDATES, ids=repr)
def test_update_matches_dict(pairs, other):
    ad, d = both(pairs)
    ad.update(other)
    d.update(other)
    assert_same_items(ad, d)


def test_update_from_atomic_dict_and_keywords_matches_dict(pairs):
    ad, d = both(pairs)
    ad.update(AtomicDict(p=1, q=2), q=3, r=4)
    d.update({"p": 1, "q": 2}, q=3, r=4)
    assert_same_items(ad, d)
    ad.update()
    ad.update(s=5)
    d.update(s=5)
    assert_same_items(ad, d)


def test_update_with_keys_method_object_uses_getitem():
    class KeysOnly:
        def keys(self):
            return [1, 2]

        def __getitem__(self, k):
            return k * 10

    ad = AtomicDict()
    ad.update(KeysOnly())
    assert ad == {1: 10, 2: 20}


def test_update_with_bad_pair_raises_what_dict_raises():
    with pytest.raises(Exception) as want:
        {}.update([(1, 2, 3)])
    with pytest.raises(want.type):
        AtomicDict().update([(1, 2, 3)])


def test_clear_empties(pairs):
    ad, _ = both(pairs)
    ad.clear()
    assert len(ad) == 0 and list(ad) == [] and not ad
    ad["again"] = 1
    assert list(ad.items()) == [("again", 1)]


def test_copy_is_a_shallow_independent_atomic_dict(pairs):
    ad, d = both(pairs)
    c = ad.copy()
    assert type(c) is AtomicDict
    assert c is not ad
    assert_same_items(c, d)
    c["only_in_copy"] = 1
    assert "only_in_copy" not in ad


@pytest.mark.parametrize("value", [None, 0, "v"])
def test_fromkeys_matches_dict(pairs, value):
    keys = [k for k, _ in pairs]
    assert_same_items(AtomicDict.fromkeys(keys, value), dict.fromkeys(keys, value))
    assert_same_items(AtomicDict.fromkeys(keys), dict.fromkeys(keys))


def test_fromkeys_returns_an_atomic_dict_and_the_subclass_for_subclasses():
    class Sub(AtomicDict):
        pass

    assert type(AtomicDict.fromkeys("ab")) is AtomicDict
    assert type(Sub.fromkeys("ab")) is Sub
    assert Sub.fromkeys("ab", 1) == {"a": 1, "b": 1}


# --- equality, |, |= -------------------------------------------------------------------------------


def test_equality_with_dict_matches_dict_equality(pairs):
    ad, d = both(pairs)
    assert ad == d and d == ad
    assert not (ad != d)
    assert ad == dict(reversed(list(d.items())))  # order does not matter
    other = dict(d)
    other["extra"] = 1
    assert ad != other and other != ad


def test_equality_with_other_mappings():
    ad = AtomicDict(a=1, b=2)
    assert ad == AtomicDict(b=2, a=1)
    assert ad == types.MappingProxyType({"a": 1, "b": 2})
    assert ad != AtomicDict(a=1)
    assert ad != {"a": 1, "b": 3}
    assert ad != {"a": 1, "c": 2}


def test_equality_compares_values_with_eq_and_identity_first():
    assert AtomicDict(a=1) == {"a": 1.0}
    assert AtomicDict(a=NAN) == {"a": NAN}
    assert AtomicDict(a=float("nan")) != {"a": float("nan")}


@pytest.mark.parametrize("other", [[("a", 1)], "a", None, 1, {"a"}], ids=repr)
def test_equality_with_non_mapping_is_false(other):
    ad = AtomicDict(a=1)
    assert (ad == other) is False
    assert (ad != other) is True


def test_or_gives_a_new_atomic_dict_like_dict_or(pairs):
    ad, d = both(pairs)
    other = {"a": "right", "new": 1, -1: "right"}
    r = ad | other
    assert type(r) is AtomicDict
    assert_same_items(r, d | other)
    assert_same_items(ad, d)  # operands unchanged
    r2 = ad | AtomicDict(other)
    assert_same_items(r2, d | other)


def test_or_with_non_mapping_is_a_type_error():
    with pytest.raises(TypeError):
        AtomicDict() | [("a", 1)]


def test_ior_updates_in_place_like_dict(pairs):
    ad, d = both(pairs)
    before = ad
    ad |= {"a": "right", "z": 1}
    d |= {"a": "right", "z": 1}
    assert ad is before
    assert_same_items(ad, d)
    ad |= [("pair", 2)]
    d |= [("pair", 2)]
    assert_same_items(ad, d)


# --- repr, hash, typing, subclassing --------------------------------------------------------------


@pytest.mark.parametrize(
    "src", [{}, {1: 2}, {"a": "b", None: (1, 2)}, {NAN: -1}], ids=repr
)
def test_repr_wraps_dict_repr(src):
    assert repr(AtomicDict(src)) == f"AtomicDict({src!r})"


def test_repr_shows_self_reference_as_ellipsis():
    ad = AtomicDict()
    ad[1] = ad
    assert repr(ad) == "AtomicDict({1: {...}})"


def test_a_view_stored_in_its_own_dict_reprs_as_ellipsis_as_dicts_does():
    # Found by CPython's test_dictviews (test_recursive_repr): RecursionError here.
    for make in (dict, AtomicDict):
        values, items = make(), make()
        values[42] = values.values()
        items[42] = items.items()
        assert "_values([...])}" in repr(values)
        assert "_items([(42, ...)])}" in repr(items)


def test_repr_of_nested_atomic_dicts():
    assert repr(AtomicDict(a=AtomicDict(b=1))) == "AtomicDict({'a': AtomicDict({'b': 1})})"


def test_atomic_dict_is_unhashable_like_dict():
    with pytest.raises(TypeError):
        hash(AtomicDict())


def test_registered_as_mutable_mapping():
    assert isinstance(AtomicDict(), collections.abc.MutableMapping)
    assert issubclass(AtomicDict, collections.abc.Mapping)


def test_class_getitem_for_annotations():
    alias = AtomicDict[int, str]
    assert typing.get_origin(alias) is AtomicDict
    assert typing.get_args(alias) == (int, str)

    def f(x: AtomicDict[str, int]) -> None: ...

    assert typing.get_type_hints(f)["x"] == AtomicDict[str, int]


def test_not_found_is_a_singleton_with_its_name_as_repr():
    import lockless

    assert repr(NOT_FOUND) == "NOT_FOUND"
    assert lockless.NOT_FOUND is NOT_FOUND
    assert "AtomicDict" in lockless.__all__ and "NOT_FOUND" in lockless.__all__


def test_subclass_missing_is_honoured_by_getitem_only():
    class Defaulting(AtomicDict):
        def __missing__(self, key):
            return ("missing", key)

    d = Defaulting(a=1)
    assert d["a"] == 1
    assert d["b"] == ("missing", "b")
    assert "b" not in d
    assert d.get("b") is None
    with pytest.raises(KeyError):
        d.pop("b")
    assert isinstance(d, AtomicDict)


def test_subclass_missing_that_raises_propagates():
    class Strict(AtomicDict):
        def __missing__(self, key):
            raise LookupError(f"no {key}")

    with pytest.raises(LookupError, match="no k"):
        Strict()["k"]


def test_subclass_instances_take_attributes_and_methods():
    class Named(AtomicDict):
        def total(self):
            return sum(self.values())

    n = Named({"a": 1}, b=2)
    n.name = "n"
    assert n.name == "n"
    assert n.total() == 3
    assert n == {"a": 1, "b": 2}
    assert type(n.copy()) in (Named, AtomicDict)


class EqRaises:
    """Equal to nothing: its __eq__ raises (a hash of its own, so only a collision calls it)."""

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        raise ArithmeticError("eq")


@pytest.mark.parametrize("make", [dict, AtomicDict])
def test_views_subtract_and_xor_an_iterable_as_dicts_views_do(make):
    # Found by differential fuzzing against dict: the views used collections.abc.Set's
    # operators, which first make a set of the other operand, comparing its elements with
    # each other (a raising __eq__ raised where dict's views only hash them).
    d = make({1: "a"})
    other = [EqRaises(), EqRaises()]
    assert d.keys() - other == {1}
    assert d.items() - [(EqRaises(), 1)] == {(1, "a")}
    with pytest.raises(ArithmeticError):
        other - d.keys()  # set(other) compares its two elements, for dict's views too
    assert (d.keys() ^ [2, 3]) == {1, 2, 3} and ([2, 1] ^ d.keys()) == {2}
    assert type(d.keys() - [1]) is set and type([1] - d.keys()) is set
