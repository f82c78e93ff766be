"""AtomicCounterDict's fast slots (`c[k]` and `k in c` in src/python/slots.rs) decide exactly as
the general path and Counter.

An exact str or int key is looked up without PyO3's trampoline and without Python code; anything
else (another type, a stored key only `__eq__` can compare, an unhashable key) goes to the
general path. These pin the edges between the two.
"""

from __future__ import annotations

from collections import Counter

import pytest

from dict_support import EqualTo
from lockless import AtomicCounterDict, AtomicDict
from lockless._lockless import AtomicCounterDictBase


def test_counts_read_as_counter_reads_them_present_missing_wide_and_negative():
    pairs = {"a": 3, "gone": 0, 7: -2, 2**40: 2**62, "wide": -(2**63)}
    c, ref = AtomicCounterDict(pairs), Counter(pairs)
    for k in ["a", "gone", 7, 2**40, "wide", "missing", 8, -(2**70)]:
        copy = int(str(k)) if isinstance(k, int) else "".join(list(k))
        assert c[copy] == ref[copy], k
        assert (copy in c) == (copy in ref), k
    assert "missing" not in c and len(c) == len(pairs)  # a read inserts nothing


def test_str_and_int_keys_meeting_stored_keys_of_other_types_find_them():
    c = AtomicCounterDict({1.0: 4, EqualTo("k"): 5, (1, 2): 6})
    assert c[1] == 4 and c[True] == 4 and 1 in c
    assert c["k"] == 5 and "k" in c
    assert c[(1, 2)] == 6 and (1, 2) in c
    assert c["k2"] == 0 and "k2" not in c


def test_unhashable_keys_raise_typeerror_from_both_slots():
    c = AtomicCounterDict(a=1)
    with pytest.raises(TypeError, match="unhashable"):
        c[[]]
    with pytest.raises(TypeError, match="unhashable"):
        [] in c


def test_the_slot_wrappers_call_the_same_functions_and_check_self():
    c = AtomicCounterDict(a=2)
    assert AtomicCounterDictBase.__getitem__(c, "a") == 2
    assert AtomicCounterDictBase.__contains__(c, "a")
    with pytest.raises(TypeError):
        AtomicCounterDictBase.__getitem__(AtomicDict(a=1), "a")
    with pytest.raises(TypeError):
        AtomicCounterDictBase.__contains__(AtomicDict(a=1), "a")


def test_subclass_overrides_of_the_fast_slots_still_run():
    class Shouting(AtomicCounterDict):
        def __getitem__(self, key):
            return super().__getitem__(key.lower())

        def __contains__(self, key):
            return super().__contains__(key.lower())

    c = Shouting(a=1)
    assert c["A"] == 1 and "A" in c
