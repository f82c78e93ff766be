"""AtomicCounterDict's own guarantees beyond Counter's: int64 counts (overflow and non-int counts
change nothing), the atomic operations, hostile keys, registration, GC and leaks."""

from __future__ import annotations

import copy
import gc
import pickle
import sys
import types
import weakref
from collections import Counter
from collections.abc import Mapping, MutableMapping

import pytest

from dict_support import Box, drive_until
from lockless import AtomicCounterDict

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


class Boom(Exception):
    pass


class HashBoom:
    def __hash__(self):
        raise Boom


class EqBoom:
    """Hash 7, equal to nothing, loudly."""

    def __hash__(self):
        return 7

    def __eq__(self, other):
        raise Boom


def test_a_missing_key_reads_as_zero_and_is_not_inserted():
    c = AtomicCounterDict()
    assert c["nope"] == 0 and "nope" not in c and len(c) == 0
    assert c.get("nope") is None and c.get("nope", 5) == 5


def test_construction_from_an_iterable_a_mapping_and_keywords():
    assert list(AtomicCounterDict("abca").items()) == [("a", 2), ("b", 1), ("c", 1)]
    assert AtomicCounterDict({"a": 3, "b": -1}) == Counter({"a": 3, "b": -1})
    assert AtomicCounterDict(a=1, b=0) == Counter(a=1, b=0)
    assert AtomicCounterDict(Counter("xy"), x=2)["x"] == 3


def test_the_atomic_operations_return_what_they_say():
    c = AtomicCounterDict()
    assert c.add("k") == 1 and c.add("k", 4) == 5 and c.add("k", -7) == -2
    assert c.get_and_add("k") == -2 and c["k"] == -1
    assert c.compare_and_set("k", 5, 9) is False and c["k"] == -1
    assert c.compare_and_set("k", -1, 9) is True and c["k"] == 9
    assert c.compare_and_set("new", 0, 3) is True and c["new"] == 3, "an absent key counts as 0"
    assert c.compare_and_set("other", 1, 3) is False and "other" not in c
    assert c.get_and_set("k", 4) == 9 and c.get_and_set("fresh", 2) == 0 and c["fresh"] == 2
    assert c.get_and_reset("k") == 4 and c["k"] == 0 and "k" in c, "reset keeps the key"
    assert c.get_and_reset("absent") == 0 and "absent" not in c
    assert c.add("z", 0) == 0 and "z" in c, "add inserts at 0 first"


@pytest.mark.parametrize("big", [I64_MAX, I64_MIN, 2**59, -(2**59) - 1, 2**60 + 3])
def test_counts_cover_the_whole_int64_range(big):
    c = AtomicCounterDict()
    c["k"] = big
    assert c["k"] == big
    assert c.add("k", 0) == big
    c.add("k", -1 if big > 0 else 1)
    assert c["k"] == big + (-1 if big > 0 else 1)
    assert pickle.loads(pickle.dumps(c))["k"] == c["k"]


def test_a_result_outside_int64_raises_overflow_and_leaves_the_count_unchanged():
    c = AtomicCounterDict(top=I64_MAX, bottom=I64_MIN)
    with pytest.raises(OverflowError):
        c.add("top")
    with pytest.raises(OverflowError):
        c.get_and_add("bottom", -1)
    with pytest.raises(OverflowError):
        c.update(["top"])
    with pytest.raises(OverflowError):
        c.subtract({"bottom": 1})
    assert c["top"] == I64_MAX and c["bottom"] == I64_MIN
    with pytest.raises(OverflowError):
        c["x"] = 2**63
    with pytest.raises(OverflowError):
        c.add("x", -(2**63) - 1)
    with pytest.raises(OverflowError):
        c.subtract({"y": I64_MIN})  # -(-2**63) does not fit
    assert "x" not in c and "y" not in c


def test_subtracting_the_least_int64_works_where_the_result_fits():
    # Found by differential fuzzing against Counter: the count to subtract was negated first,
    # and -(-2**63) does not fit an int64 though -1 - (-2**63) does.
    c = AtomicCounterDict(a=-1, b=I64_MIN, c=0)
    c.subtract({"a": I64_MIN, "b": I64_MIN})
    assert c["a"] == I64_MAX and c["b"] == 0
    c["b"] = I64_MIN
    c -= AtomicCounterDict(b=I64_MIN)  # keeps only positive counts, as Counter's -=
    assert "b" not in c
    with pytest.raises(OverflowError):
        c.subtract({"c": I64_MIN})  # 0 - (-2**63) does not fit
    assert c["c"] == 0


@pytest.mark.parametrize("bad", ["1", 1.0, None, [1], 1j])
def test_a_non_int_count_raises_type_error_and_changes_nothing(bad):
    c = AtomicCounterDict(a=1)
    with pytest.raises(TypeError):
        c["b"] = bad
    with pytest.raises(TypeError):
        c.update({"a": 5, "b": bad})  # "a" is not added either: counts are checked first
    with pytest.raises(TypeError):
        AtomicCounterDict({"a": 1, "b": bad})
    with pytest.raises(TypeError):
        c.update(a=2, b=bad)
    with pytest.raises(TypeError):
        c.add("a", bad)
    with pytest.raises(TypeError):
        c.compare_and_set("a", 1, bad)
    assert list(c.items()) == [("a", 1)]


def test_bool_counts_are_ints():
    c = AtomicCounterDict()
    c["t"] = True
    assert c.add("t", True) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda c, k: c.add(k),
        lambda c, k: c.get_and_add(k, 2),
        lambda c, k: c.compare_and_set(k, 0, 1),
        lambda c, k: c.get_and_set(k, 1),
        lambda c, k: c.get_and_reset(k),
        lambda c, k: c.__setitem__(k, 1),
        lambda c, k: c.__getitem__(k),
        lambda c, k: c.__delitem__(k),
        lambda c, k: c.update([k]),
        lambda c, k: c.update({k: 1}),
        lambda c, k: c.subtract([k]),
        lambda c, k: k in c,
        lambda c, k: c.pop(k, None),
        lambda c, k: c.setdefault(k, 1),
    ],
)
@pytest.mark.parametrize("key", [[], HashBoom(), EqBoom()], ids=["unhashable", "hash_raises", "eq_raises"])
def test_hostile_keys_propagate_and_leave_the_counter_unchanged(call, key):
    c = AtomicCounterDict()
    c.add(EqBoom())  # hash 7: a probe for the EqBoom key must call __eq__
    c.add("a", 3)
    before = list(c.items())
    expected = TypeError if isinstance(key, list) else Boom
    with pytest.raises(expected):
        call(c, key)
    assert list(c.items()) == before


#: update/subtract's batching thresholds (``_count_all``'s keywords), small enough to cross in a
#: test: lists of at most 2 elements go one by one; a sample of 4 decides; then chunks of 7.
SMALL_BATCHES = {"short": 2, "sample": 4, "chunk": 7}


def count_with(c, elements, sign, small):
    """``c.update(elements)`` (``subtract`` if sign is -1), with small batches if asked."""
    if small:
        c._count_all(elements, sign, **SMALL_BATCHES)
    elif sign == 1:
        c.update(elements)
    else:
        c.subtract(elements)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 10, 11, 12, 18, 25, 70])
@pytest.mark.parametrize("keys", ["repeating", "distinct"])
@pytest.mark.parametrize("sign", [1, -1], ids=["update", "subtract"])
@pytest.mark.parametrize("kind", [iter, list, tuple])
@pytest.mark.parametrize("small", [True, False], ids=["small_batches", "default_batches"])
def test_every_element_is_counted_exactly_in_counters_order_whatever_the_batching(n, keys, sign, kind, small):
    # Repeating keys are counted privately in chunks, distinct ones one by one after the
    # sample; these lengths cover the short path, the sample's edges and the chunks'.
    elements = [f"w{i % 3}" if keys == "repeating" else i for i in range(n)]
    c, want = AtomicCounterDict({"w1": 5, 7: 1}), Counter({"w1": 5, 7: 1})
    count_with(c, kind(elements), sign, small)
    (want.update if sign == 1 else want.subtract)(kind(elements))
    assert list(c.items()) == list(want.items())


@pytest.mark.parametrize("small", [True, False], ids=["small_batches", "default_batches"])
def test_a_generator_that_reads_the_counter_sees_every_element_before_counted_as_counter_does(small):
    # Found by running Counter behaviours beside AtomicCounterDict: update() counted a
    # generator's elements in private chunks, so the generator saw the counter as it was
    # before the call, and a condition on it read stale counts.
    for counter in (Counter, AtomicCounterDict):
        c = counter()
        seen = []

        def words(c=c, seen=seen):
            for i in range(3000):
                seen.append(c["w"])
                if c["w"] >= 2000:
                    return
                yield "w"

        count_with(c, words(), 1, small) if counter is AtomicCounterDict else c.update(words())
        assert c["w"] == 2000 and seen[:5] == [0, 1, 2, 3, 4], counter


class Hashes:
    """A key that counts the calls of its __hash__."""

    def __init__(self) -> None:
        self.calls = 0

    def __hash__(self) -> int:
        self.calls += 1
        return 12345


@pytest.mark.parametrize("small", [True, False], ids=["small_batches", "default_batches"])
def test_each_element_is_hashed_once_as_by_counter(small):
    # Found by differential fuzzing against Counter: counting a chunk privately, then adding
    # each key's sum, hashed every distinct key once more.
    key = Hashes()
    count_with(AtomicCounterDict(), [key] * 100, 1, small)
    assert key.calls == 100


class Grows:
    """A key whose first hashing appends `extra` more elements to the list being counted."""

    def __init__(self, target: list[object], extra: list[object]) -> None:
        self.target, self.extra = target, extra

    def __hash__(self) -> int:
        self.target.extend(self.extra)
        self.extra = []
        return 0


@pytest.mark.parametrize("small", [True, False], ids=["small_batches", "default_batches"])
@pytest.mark.parametrize("grow_at", [1, 5, 9, 30])
def test_a_list_that_grows_while_it_is_counted_is_counted_as_counter_counts_it(small, grow_at):
    # The list's iterator yields what is appended meanwhile, whichever way the rest is counted
    # (in one go when it fits a chunk, or chunk by chunk).
    def elements():
        items: list[object] = [f"w{i % 3}" for i in range(40)]
        items.insert(grow_at, Grows(items, [f"w{i % 5}" for i in range(12)]))
        return items

    c, want = AtomicCounterDict(), Counter()
    count_with(c, elements(), 1, small)
    want.update(elements())
    assert sum(c.values()) == sum(want.values()) == 53
    assert {k: v for k, v in c.items() if isinstance(k, str)} == {k: v for k, v in want.items() if isinstance(k, str)}


@pytest.mark.parametrize("small", [True, False], ids=["small_batches", "default_batches"])
@pytest.mark.parametrize("keys", ["repeating", "distinct"])
@pytest.mark.parametrize("fails_at", [0, 2, 3, 5, 9])
def test_an_error_midway_through_an_iterable_keeps_the_counts_before_it(small, keys, fails_at):
    # As Counter.update: the elements before the failing one stay counted, none after it.
    def elements(bad):
        for i in range(12):
            if i == fails_at:
                if bad is None:
                    raise Boom
                yield bad
            yield f"w{i % 2}" if keys == "repeating" else f"w{i}"

    for bad, error in [(None, Boom), ([], TypeError), (HashBoom(), Boom)]:
        for kind in (iter, list) if bad is not None else (iter,):
            c, want = AtomicCounterDict({"w0": 1}), Counter({"w0": 1})
            with pytest.raises(error):
                count_with(c, kind(elements(bad)), 1, small)
            with pytest.raises(error):
                want.update(kind(elements(bad)))
            assert list(c.items()) == list(want.items()), (bad, kind)


def test_views_are_live_and_iterate_through_the_base_as_dicts_do():
    class Odd(AtomicCounterDict):
        def __iter__(self):
            return iter(["not", "these"])

        def _iter_items(self):
            return iter([("not", 0)])

        def _iter_values(self):
            return iter([0])

    c = Odd(a=1)
    keys, values, items = c.keys(), c.values(), c.items()
    c["b"] = 2
    assert (list(keys), list(values), list(items)) == (["a", "b"], [1, 2], [("a", 1), ("b", 2)])
    for name, view in zip(("keys", "values", "items"), (keys, values, items)):
        again = getattr(c, name)()
        assert again is not view and type(again) is type(view) and again._mapping is c
        stray = type(view)(Counter(a=1))  # a view class over a plain Counter
        with pytest.raises(TypeError):
            iter(stray)


@pytest.mark.parametrize("view", ["keys", "values", "items"])
def test_views_reverse_and_have_a_read_only_mapping_proxy_as_counters_do(view):
    # Found by running Counter behaviours beside AtomicCounterDict: both were missing.
    for c in (Counter(a=1, b=2), AtomicCounterDict(a=1, b=2)):
        v = getattr(c, view)()
        assert list(reversed(v)) == list(v)[::-1]
        proxy = v.mapping
        assert type(proxy) is types.MappingProxyType and dict(proxy) == {"a": 1, "b": 2}
        c["c"] = 3
        assert proxy["c"] == 3  # live: the counter, not a copy
        with pytest.raises(TypeError):
            proxy["d"] = 4  # type: ignore[index]


def test_a_subclass_may_override_the_view_methods():
    class Pairs(AtomicCounterDict):
        def items(self):
            return sorted(AtomicCounterDict.items(self))

    assert Pairs(b=2, a=1).items() == [("a", 1), ("b", 2)]


def test_fromkeys_is_undefined_as_in_counter():
    with pytest.raises(NotImplementedError):
        AtomicCounterDict.fromkeys("abc")


def test_registered_as_a_mutable_mapping_and_generic():
    c = AtomicCounterDict("ab")
    assert isinstance(c, MutableMapping) and isinstance(c, Mapping)
    assert AtomicCounterDict[str].__origin__ is AtomicCounterDict
    assert repr(AtomicCounterDict()) == "AtomicCounterDict()"
    assert repr(AtomicCounterDict("abb")) == "AtomicCounterDict({'b': 2, 'a': 1})"
    with pytest.raises(TypeError):
        hash(c)


class Mine(AtomicCounterDict):
    pass


def test_a_subclass_keeps_its_type_through_copy_and_pickle():
    m = Mine("aab")
    m.note = "kept"
    for clone in (m.copy(), pickle.loads(pickle.dumps(m))):
        assert type(clone) is Mine and clone == m
    assert pickle.loads(pickle.dumps(m)).note == "kept"
    assert repr(m) == "Mine({'a': 2, 'b': 1})"


def test_popitem_takes_the_last_inserted_and_raises_when_empty():
    c = AtomicCounterDict("ab")
    assert c.popitem() == ("b", 1)
    assert c.popitem() == ("a", 1)
    with pytest.raises(KeyError):
        c.popitem()


def test_a_cycle_through_a_key_is_collected():
    class Node:
        pass

    node = Node()
    c = AtomicCounterDict()
    c.add(node, 2**62)  # a boxed count beside the key: never shown to the collector
    node.counts = c
    gone = weakref.ref(node)
    del node, c
    assert drive_until(lambda: gc.collect() is not None and gone() is None)


def test_removed_and_replaced_keys_are_released():
    c = AtomicCounterDict()
    keys = [Box(i) for i in range(50)]
    refs = [sys.getrefcount(k) for k in keys]
    for k in keys:
        c.add(k, 2**61)  # boxed
        c.add(k, -(2**61))  # packed again
        c[k] = 5
    for k in keys[::2]:
        del c[k]
    c.clear()
    del k
    assert drive_until(lambda: [sys.getrefcount(k) for k in keys] == refs)


def test_every_operation_repeated_leaves_key_refcounts_at_baseline():
    c = AtomicCounterDict()
    k, other = Box("k"), Box("other")
    c.add(other)
    base = (sys.getrefcount(k), sys.getrefcount(other))
    for _ in range(200):
        c.add(k)
        c.get_and_add(k, 2**62)
        c.add(k, -(2**62))
        c.compare_and_set(k, 3, 4)
        c.get_and_set(k, 1)
        c.get_and_reset(k)
        c.update([k, k])
        c.subtract({k: 1})
        assert (c[k], k in c, c.get(k), len(list(c.items()))) == (1, True, 1, 2)
        c.pop(k)
        c.setdefault(k, 1)
        del c[k]
        with pytest.raises(OverflowError):
            c.add(other, 2**63 - 1)  # other holds 1
        c[other] = 1
    assert drive_until(lambda: (sys.getrefcount(k), sys.getrefcount(other)) == base)


@pytest.mark.parametrize("view", ["keys", "values", "items"])
def test_a_pickled_or_copied_iterator_yields_the_rest_without_advancing_as_counters_does(view):
    # As the set's iterator (CPython's test_set found it unpicklable), and AtomicDict's.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        ours, spec = iter(getattr(AtomicCounterDict("abbc"), view)()), iter(getattr(Counter("abbc"), view)())
        assert next(ours) == next(spec)
        restored, restored_spec = pickle.loads(pickle.dumps(ours, protocol)), pickle.loads(pickle.dumps(spec, protocol))
        assert type(restored) is type(restored_spec) and list(restored) == list(restored_spec)
        assert list(copy.copy(ours)) == list(copy.copy(spec))
        assert list(ours) == list(spec), "pickling did not advance the iterator"
