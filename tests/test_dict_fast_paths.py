"""The hot slots' fast paths (src/python/slots.rs) decide exactly as the general path and dict.

`m[k]`, `k in m`, `m[k] = v` and `del m[k]` with an exact str or int key are served without
PyO3's trampoline and without Python code; anything else (another key type, a stored key only
`__eq__` can compare, a missing key) goes to the general path. These pin the edges between the
two.
"""

from __future__ import annotations

import ctypes
import sys

import pytest

from dict_support import EqualTo
from lockless import AtomicDict
from lockless._lockless import AtomicDictBase

# One str of each internal kind (1-byte ASCII, 1-byte latin-1, 2-byte, 4-byte), each built
# afresh so that the lookup key is equal to the stored one but a distinct object.
KINDS = {"ascii": "abc", "latin1": "ab\xe9", "ucs2": "ab\u20ac", "ucs4": "ab\U0001f600"}


def fresh(s: str) -> str:
    copy = "".join(list(s))
    assert copy == s and (copy is not s or len(s) <= 1)
    return copy


@pytest.mark.parametrize("kind", list(KINDS))
def test_equal_but_distinct_strs_of_every_kind_find_each_other(kind):
    s = KINDS[kind] * 5
    m = AtomicDict({s: 1})
    assert m[fresh(s)] == 1
    assert fresh(s) in m
    m[fresh(s)] = 2
    assert len(m) == 1 and m[s] == 2
    del m[fresh(s)]
    assert s not in m and len(m) == 0


def test_strs_of_equal_length_but_different_content_or_kind_are_different_keys():
    keys = ["ab\xe9", "abe", "ab\u20ac", "ab\U0001f600", "abc", "abd", ""]
    m = AtomicDict((k, i) for i, k in enumerate(keys))
    d = dict((k, i) for i, k in enumerate(keys))
    assert len(m) == len(d) == len(keys)
    for k in keys:
        assert m[fresh(k)] == d[k]


def hash_offset() -> int:
    """Where CPython caches a str's hash in the object (found by looking for it)."""
    s = fresh("hash offset")
    wanted = hash(s).to_bytes(8, sys.byteorder, signed=True)
    offset = ctypes.string_at(id(s), 64).find(wanted)
    assert offset > 0 and offset % 8 == 0
    return offset


def with_hash(s: str, h: int) -> str:
    """A fresh copy of `s` whose cached hash is `h`: strs that differ but share a hash, so that
    a lookup must compare their characters to tell them apart."""
    copy = fresh(s)
    # Never a shared object: a one-character str is a cached singleton, whose hash every later
    # lookup of that character would then see.
    assert copy is not s and len(s) > 1
    ctypes.c_ssize_t.from_address(id(copy) + hash_offset()).value = h
    assert hash(copy) == h
    return copy


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="plants CPython's str hash cache")
@pytest.mark.parametrize("kind", list(KINDS))
def test_strs_sharing_a_hash_are_told_apart_by_each_character_at_every_length(kind):
    # From 2 characters: see `with_hash`.
    h = 12345
    for n in range(2, 41):
        base = (KINDS[kind] * 14)[-n:]
        for i in range(n):
            other = base[:i] + ("x" if base[i] != "x" else "y") + base[i + 1 :]
            m = AtomicDict({with_hash(base, h): 1, with_hash(other, h): 2})
            assert len(m) == 2, (n, i)
            assert m[with_hash(base, h)] == 1 and m[with_hash(other, h)] == 2, (n, i)
            assert with_hash(base, h) in m
            m[with_hash(other, h)] = 3
            del m[with_hash(base, h)]
            assert list(m.items()) == [(other, 3)] and with_hash(base, h) not in m, (n, i)


def test_large_and_negative_ints_equal_but_distinct_find_each_other():
    keys = [-1, -2, 2**62, -(2**63), 2**64 + 7, -(2**100), 10**30]
    m = AtomicDict((k, str(k)) for k in keys)
    for k in keys:
        copy = int(str(k))
        assert m[copy] == str(k) and copy in m
        m[copy] = k
        assert m[k] == k
    assert len(m) == len(keys)


# Ints either side of the compact form's bound (one 30-bit digit, whose hash the fast path
# computes itself), -1 (which hashes to -2), and ints past 64 bits and the hash modulus.
HASH_EDGES = [0, 1, -1, -2, 2**30 - 1, -(2**30 - 1), 2**30, -(2**30), 2**53, -(2**53)]
BIG = [2**61 - 1, 2**61, -(2**61 - 1), 2**64 + 1, -(2**100)]


@pytest.mark.parametrize("k", HASH_EDGES + BIG)
def test_an_int_key_hashes_as_hash_does_on_the_fast_and_the_general_path(k):
    # Stored through the general path (a float or a user type), found through the int fast
    # path, and the other way round: both must land on hash(k)'s slot.
    stored = float(k) if k in HASH_EDGES else EqualTo(k)
    m = AtomicDict({stored: "general"})
    assert m[k] == "general" and k in m and m.get(k) == "general"
    m[k] = "fast"
    assert len(m) == 1 and m[stored] == "fast"
    del m[k]
    assert len(m) == 0
    m[k] = "fast"
    assert m[stored] == "fast" and stored in m


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


def test_a_str_key_meeting_a_stored_key_of_a_user_type_asks_its_eq_as_dict_does():
    stored = SameHashAsStr("key")
    m, d = AtomicDict({stored: 1}), {stored: 1}
    assert m["key"] == d["key"] == 1
    assert ("key" in m) and ("key" in d)
    m["key"] = 2
    d["key"] = 2
    assert list(m.items()) == list(d.items()) == [(stored, 2)]
    del m["key"]
    del d["key"]
    assert len(m) == len(d) == 0
    assert stored.eq_calls > 0


def test_missing_keys_raise_keyerror_or_call_missing_from_the_fast_slots():
    m = AtomicDict({"a": 1})
    with pytest.raises(KeyError) as err:
        m["b"]
    assert err.value.args == ("b",)
    with pytest.raises(KeyError) as err:
        del m[5]
    assert err.value.args == (5,)

    class WithMissing(AtomicDict):
        def __missing__(self, key):
            return ("missing", key)

    assert WithMissing({"a": 1})["zz"] == ("missing", "zz")


def test_the_slot_wrappers_call_the_same_functions_and_check_self():
    m = AtomicDict({"a": 1, 2: "two"})
    assert AtomicDictBase.__getitem__(m, "a") == 1
    assert AtomicDictBase.__contains__(m, 2)
    AtomicDictBase.__setitem__(m, "b", 3)
    AtomicDictBase.__delitem__(m, "a")
    assert AtomicDictBase.__len__(m) == 2 and dict(m.items()) == {2: "two", "b": 3}
    for name, args in [("__getitem__", ("a",)), ("__contains__", ("a",)), ("__setitem__", ("a", 1)),
                       ("__delitem__", ("a",)), ("__len__", ())]:
        with pytest.raises(TypeError):
            getattr(AtomicDictBase, name)({}, *args)


def test_subclass_overrides_of_the_fast_slots_still_run():
    class Loud(AtomicDict):
        def __getitem__(self, key):
            return ("got", super().__getitem__(key))

        def __contains__(self, key):
            return key == "everything"

        def __setitem__(self, key, value):
            super().__setitem__(key, ("set", value))

        def __delitem__(self, key):
            super().__delitem__(key.lower())

        def __len__(self):
            return 42

    m = Loud()
    m["a"] = 1
    assert m["a"] == ("got", ("set", 1))
    assert "everything" in m and "a" not in m
    del m["A"]
    assert len(m) == 42
    assert list(m.keys()) == []


def test_unhashable_keys_raise_typeerror_from_every_fast_slot():
    m = AtomicDict()
    for op in (lambda: m[[]], lambda: [] in m, lambda: m.__setitem__([], 1), lambda: m.__delitem__([])):
        with pytest.raises(TypeError, match="unhashable"):
            op()
