"""AtomicDict's atomic operations, single-threaded: results, NOT_FOUND handling, and that a
callback that raises propagates and leaves the dict unchanged."""

from __future__ import annotations

import collections

import pytest

from dict_support import NAN, Box, Collide
from lockless import NOT_FOUND, AtomicDict


class Boom(Exception):
    pass


def boom(*_args):
    raise Boom


def snapshot(d):
    return [(k, v) for k, v in d.items()]


# --- compare_and_set ----------------------------------------------------------------------------


def test_compare_and_set_swaps_when_the_value_is_the_expected_object():
    old, new = Box(), Box()
    d = AtomicDict(k=old)
    assert d.compare_and_set("k", old, new) is True
    assert d["k"] is new


def test_compare_and_set_compares_by_identity_not_equality():
    old = [1]
    d = AtomicDict(k=old)
    assert d.compare_and_set("k", [1], "x") is False
    assert d["k"] is old
    big = 10**30
    d["n"] = big
    equal_not_same = int(str(big))
    assert equal_not_same == big and equal_not_same is not big
    assert d.compare_and_set("n", equal_not_same, "x") is False
    assert d.compare_and_set("n", big, "y") is True
    assert d["n"] == "y"


def test_compare_and_set_fails_when_the_value_differs():
    d = AtomicDict(k=1)
    assert d.compare_and_set("k", 2, 3) is False
    assert d["k"] == 1


def test_compare_and_set_with_expected_not_found_inserts_only_if_absent():
    d = AtomicDict()
    assert d.compare_and_set("k", NOT_FOUND, "v") is True
    assert d["k"] == "v"
    assert d.compare_and_set("k", NOT_FOUND, "w") is False
    assert d["k"] == "v"


def test_compare_and_set_on_absent_key_with_a_real_expected_fails():
    d = AtomicDict()
    assert d.compare_and_set("k", None, "v") is False
    assert "k" not in d


def test_compare_and_set_with_desired_not_found_deletes():
    v = Box()
    d = AtomicDict(k=v, other=1)
    assert d.compare_and_set("k", v, NOT_FOUND) is True
    assert "k" not in d
    assert list(d) == ["other"]
    assert d.compare_and_set("k", v, NOT_FOUND) is False


def test_compare_and_set_not_found_to_not_found_succeeds_only_when_absent():
    d = AtomicDict(k=1)
    assert d.compare_and_set("absent", NOT_FOUND, NOT_FOUND) is True
    assert "absent" not in d
    assert d.compare_and_set("k", NOT_FOUND, NOT_FOUND) is False
    assert d["k"] == 1


def test_compare_and_set_keeps_position_and_key_object():
    d = AtomicDict([(1, "a"), (2, "b")])
    assert d.compare_and_set(1.0, "a", "z") is True
    assert list(d.items()) == [(1, "z"), (2, "b")]
    assert type(next(iter(d))) is int


# --- compare_and_exchange ----------------------------------------------------------------------


def test_compare_and_exchange_returns_the_found_value_on_success():
    old, new = Box(), Box()
    d = AtomicDict(k=old)
    assert d.compare_and_exchange("k", old, new) is old
    assert d["k"] is new


def test_compare_and_exchange_returns_the_found_value_on_failure():
    cur = Box()
    d = AtomicDict(k=cur)
    assert d.compare_and_exchange("k", Box(), "x") is cur
    assert d["k"] is cur


def test_compare_and_exchange_on_absent_key_returns_not_found():
    d = AtomicDict()
    assert d.compare_and_exchange("k", 1, 2) is NOT_FOUND
    assert "k" not in d
    assert d.compare_and_exchange("k", NOT_FOUND, 2) is NOT_FOUND
    assert d["k"] == 2
    assert d.compare_and_exchange("k", NOT_FOUND, 3) == 2
    assert d["k"] == 2


def test_compare_and_exchange_to_not_found_deletes():
    v = Box()
    d = AtomicDict(k=v)
    assert d.compare_and_exchange("k", v, NOT_FOUND) is v
    assert "k" not in d


# --- replace (equality) ------------------------------------------------------------------------


def test_replace_compares_by_equality():
    d = AtomicDict(k=[1, 2])
    assert d.replace("k", [1, 2], "new") is True
    assert d["k"] == "new"
    assert d.replace("k", "other", "x") is False
    assert d["k"] == "new"


def test_replace_on_absent_key_is_false_and_does_not_insert():
    d = AtomicDict()
    assert d.replace("k", None, 1) is False
    assert "k" not in d


def test_replace_treats_a_nan_value_as_equal_to_itself():
    d = AtomicDict(k=NAN)
    assert d.replace("k", NAN, 0) is True  # identity implies equality, as in `==` on containers
    assert d["k"] == 0


def test_replace_with_value_eq_that_raises_propagates_and_leaves_dict_unchanged():
    class BadEq:
        def __eq__(self, other):
            raise Boom

        __hash__ = object.__hash__

    v = BadEq()
    d = AtomicDict(k=v)
    with pytest.raises(Boom):
        d.replace("k", BadEq(), 1)
    assert d["k"] is v


# --- get_and_set ---------------------------------------------------------------------------------


def test_get_and_set_returns_previous_or_not_found():
    d = AtomicDict()
    assert d.get_and_set("k", 1) is NOT_FOUND
    assert d.get_and_set("k", 2) == 1
    assert d["k"] == 2
    assert list(d) == ["k"]


def test_get_and_set_keeps_position():
    d = AtomicDict(a=1, b=2)
    d.get_and_set("a", 9)
    assert list(d.items()) == [("a", 9), ("b", 2)]


# --- setdefault -------------------------------------------------------------------------------


def test_setdefault_inserts_when_absent_and_returns_the_stored_object():
    v, w = Box(), Box()
    d = AtomicDict()
    assert d.setdefault("k", v) is v
    assert d.setdefault("k", w) is v
    assert d["k"] is v


# --- compute -------------------------------------------------------------------------------------


def test_compute_passes_current_value_and_stores_result():
    d = AtomicDict(k=1)
    seen = []

    def fn(cur):
        seen.append(cur)
        return cur + 1

    assert d.compute("k", fn) == 2
    assert d["k"] == 2
    assert seen == [1]


def test_compute_on_absent_key_passes_not_found_and_inserts():
    d = AtomicDict()
    seen = []

    def fn(cur):
        seen.append(cur)
        return "v"

    assert d.compute("k", fn) == "v"
    assert seen == [NOT_FOUND]
    assert d["k"] == "v"


def test_compute_returning_not_found_deletes_and_returns_not_found():
    d = AtomicDict(k=1, j=2)
    assert d.compute("k", lambda cur: NOT_FOUND) is NOT_FOUND
    assert list(d) == ["j"]
    assert d.compute("absent", lambda cur: NOT_FOUND) is NOT_FOUND
    assert "absent" not in d


def test_compute_returns_the_stored_object():
    v = Box()
    d = AtomicDict()
    assert d.compute("k", lambda cur: v) is v


def test_compute_fn_that_raises_propagates_and_leaves_dict_unchanged():
    d = AtomicDict(k=1)
    with pytest.raises(Boom):
        d.compute("k", boom)
    with pytest.raises(Boom):
        d.compute("absent", boom)
    assert snapshot(d) == [("k", 1)]


# --- compute_if_absent ----------------------------------------------------------------------------


def test_compute_if_absent_calls_factory_with_the_key_and_stores_result():
    d = AtomicDict()
    calls = []

    def factory(key):
        calls.append(key)
        return [key]

    r = d.compute_if_absent("k", factory)
    assert r == ["k"]
    assert d["k"] is r
    assert calls == ["k"]


def test_compute_if_absent_does_not_call_factory_when_present():
    v = Box()
    d = AtomicDict(k=v)
    assert d.compute_if_absent("k", boom) is v


def test_compute_if_absent_factory_that_raises_propagates_and_inserts_nothing():
    d = AtomicDict()
    with pytest.raises(Boom):
        d.compute_if_absent("k", boom)
    assert "k" not in d and len(d) == 0


# --- merge -----------------------------------------------------------------------------------


def test_merge_stores_value_when_absent_without_calling_fn():
    d = AtomicDict()
    v = Box()
    assert d.merge("k", v, boom) is v
    assert d["k"] is v


def test_merge_combines_old_and_new_when_present():
    d = AtomicDict(k=[1])
    assert d.merge("k", [2], lambda old, new: old + new) == [1, 2]
    assert d["k"] == [1, 2]


def test_merge_fn_that_raises_propagates_and_leaves_dict_unchanged():
    d = AtomicDict(k=1)
    with pytest.raises(Boom):
        d.merge("k", 2, boom)
    assert snapshot(d) == [("k", 1)]


# --- add -----------------------------------------------------------------------------------------


def test_add_defaults_to_increment_from_zero():
    d = AtomicDict()
    assert d.add("k") == 1
    assert d.add("k") == 2
    assert d["k"] == 2


def test_add_with_amount_and_default():
    d = AtomicDict()
    assert d.add("k", 5, default=10) == 15
    assert d.add("k", -20, default=1000) == -5
    assert d.add("f", 0.5) == 0.5


def test_add_works_on_big_ints_and_other_addables():
    d = AtomicDict(big=2**100, s="ab", l=[1])
    assert d.add("big", 1) == 2**100 + 1
    assert d.add("s", "c") == "abc"
    assert d.add("l", [2]) == [1, 2]
    assert d.add("new", "x", default="") == "x"


def test_add_that_cannot_add_raises_type_error_and_leaves_value():
    d = AtomicDict(k="text")
    with pytest.raises(TypeError):
        d.add("k", 1)
    assert d["k"] == "text"
    with pytest.raises(TypeError):
        d.add("absent", 1, default=None)
    assert "absent" not in d


# --- reduce and count -------------------------------------------------------------------------------


def test_reduce_merges_each_key_with_fn_of_key_current_and_new():
    d = AtomicDict(a=10)
    calls = []

    def fn(key, current, new):
        calls.append((key, current, new))
        return new if current is NOT_FOUND else current + new

    d.reduce([("a", 1), ("b", 2)], fn)
    assert d == {"a": 11, "b": 2}
    assert ("a", 10, 1) in calls and ("b", NOT_FOUND, 2) in calls


def test_reduce_pre_aggregates_duplicates_in_the_batch():
    d = AtomicDict(a=100)

    def total(key, current, new):
        return new if current is NOT_FOUND else current + new

    d.reduce([("a", 1), ("b", 2), ("a", 3), ("b", 4), ("c", 5)], total)
    assert d == {"a": 104, "b": 6, "c": 5}


def test_reduce_with_sum_semantics_matches_a_sequential_fold():
    pairs = [(i % 7, i) for i in range(200)]
    d = AtomicDict()

    def total(key, current, new):
        return new if current is NOT_FOUND else current + new

    d.reduce(pairs, total)
    want = collections.Counter()
    for k, v in pairs:
        want[k] += v
    assert d == dict(want)


def test_reduce_accepts_a_generator_and_an_empty_batch():
    d = AtomicDict()
    d.reduce(((k, 1) for k in "aab"), lambda k, cur, new: new if cur is NOT_FOUND else cur + new)
    assert d == {"a": 2, "b": 1}
    d.reduce([], boom)
    assert d == {"a": 2, "b": 1}


def test_reduce_fn_that_raises_propagates_and_leaves_dict_unchanged():
    d = AtomicDict(a=1)
    with pytest.raises(Boom):
        d.reduce([("a", 1)], boom)
    assert snapshot(d) == [("a", 1)]


def test_count_adds_one_per_occurrence_like_counter_update():
    d = AtomicDict(a=5)
    d.count("abracadabra")
    c = collections.Counter(a=5)
    c.update("abracadabra")
    assert d == dict(c)


def test_count_of_empty_iterable_changes_nothing():
    d = AtomicDict(a=1)
    d.count([])
    assert snapshot(d) == [("a", 1)]


# --- get_many ------------------------------------------------------------------------------------


def test_get_many_returns_a_list_in_key_order_with_not_found_default():
    v = Box()
    d = AtomicDict([(1, v), (-1, "m1"), (NAN, "nan")])
    got = d.get_many([1, "absent", -1, NAN, -2])
    assert isinstance(got, list)
    assert got[0] is v
    assert got[1] is NOT_FOUND
    assert got[2:4] == ["m1", "nan"]
    assert got[4] is NOT_FOUND


def test_get_many_with_a_default():
    d = AtomicDict(a=1)
    assert d.get_many(["a", "b"], default=None) == [1, None]
    assert d.get_many(iter(["b"]), 0) == [0]
    assert d.get_many([]) == []


# --- stats and reserve ------------------------------------------------------------------------------


def test_stats_reports_capacity_len_dead_migrations():
    d = AtomicDict((i, i) for i in range(100))
    s = d.stats()
    assert isinstance(s, dict)
    assert {"capacity", "len", "dead", "migrations", "longest_probe"} <= set(s)
    assert s["len"] == 100
    assert s["capacity"] >= 100
    assert s["dead"] >= 0 and s["migrations"] >= 0 and s["longest_probe"] >= 0


def test_stats_of_empty_dict():
    s = AtomicDict().stats()
    assert s["len"] == 0 and s["capacity"] >= 0


def test_reserve_makes_room_without_changing_contents():
    d = AtomicDict(a=1)
    d.reserve(10_000)
    assert d.stats()["capacity"] >= 10_001
    assert snapshot(d) == [("a", 1)]
    migrations = d.stats()["migrations"]
    for i in range(10_000):
        d[i] = i
    assert len(d) == 10_001
    assert d.stats()["migrations"] == migrations


@pytest.mark.parametrize("bad", ["10", 1.5, None])
def test_reserve_rejects_bad_arguments(bad):
    d = AtomicDict(a=1)
    with pytest.raises(TypeError):
        d.reserve(bad)
    assert snapshot(d) == [("a", 1)]


# --- colliding keys go through the same paths --------------------------------------------------------


def test_atomic_ops_on_colliding_keys_touch_only_their_own_key():
    keys = [Collide(i) for i in range(8)]
    d = AtomicDict((k, 0) for k in keys)
    assert d.add(Collide(3)) == 1
    assert d.compare_and_set(Collide(4), 0, "x") is True
    assert d.get_and_set(Collide(5), "y") == 0
    assert d.compute(Collide(6), lambda cur: NOT_FOUND) is NOT_FOUND
    assert [d.get(k) for k in keys] == [0, 0, 0, 1, "x", "y", None, 0]
