"""A subclass of AtomicDict that overrides a mapping method behaves as the same subclass of dict.

dict reads itself through its own storage everywhere but in the overridden method: views,
``reversed``, ``copy``, ``==``, ``repr``, ``|`` and a dict source of ``update`` ignore a
subclass's ``__iter__``, ``keys``, ``items``, ``__getitem__`` ...; ``update`` and the constructor
store without the subclass's ``__setitem__``; pickling and ``copy.copy`` take ``items()``. Each
override below is defined once, as a mixin, and applied to both ``dict`` and ``AtomicDict``; every
operation's outcome on the two is compared (a ``dict`` result corresponds to an ``AtomicDict``).
"""

from __future__ import annotations

import copy
import pickle

import pytest

from lockless import AtomicDict
from lockless._lockless import AtomicDictBase


def test_sorted_iter_subclass_from_cpython_test_dict_copy_order():
    # CPython's test_dict_copy_order: the views iterated through __iter__ and recursed.
    class Sorted(AtomicDict):
        def __iter__(self):
            return iter(sorted(super().keys()))

    s = Sorted({"b": 1, "a": 2})
    assert list(s) == ["a", "b"]
    assert list(s.keys()) == ["b", "a"]
    assert list(reversed(s)) == ["a", "b"]
    assert s.copy() == {"a": 2, "b": 1}
    assert list(s.copy()) == ["b", "a"]


# --- the overrides: each changes what its method returns, visibly ------------------------------


class OverIter:
    def __iter__(self):
        return iter(sorted(super().keys()))


class OverKeys:
    def keys(self):
        return sorted(super().keys())


class OverItems:
    def items(self):
        return [(k, ("items", v)) for k, v in reversed(list(super().items()))]


class OverValues:
    def values(self):
        return [("values", v) for v in super().values()]


class OverGetitem:
    def __getitem__(self, key):
        return ("getitem", super().__getitem__(key))


class OverGet:
    def get(self, key, default=None):
        return ("get", key)


class OverContains:
    def __contains__(self, key):
        return True


class OverLen:
    def __len__(self):
        return 99


class OverSetitem:
    def __setitem__(self, key, value):
        super().__setitem__(key, ("setitem", value))


class OverEq:
    def __eq__(self, other):
        return "eq-override"

    __hash__ = None


class OverCopy:
    def copy(self):
        return "copy-override"


class OverUpdate:
    def update(self, *args, **kwargs):
        raise AssertionError("dict's constructor and |= do not call update")


# Module-level classes, so that pickle finds them.
DictIter = type("DictIter", (OverIter, dict), {})
DictKeys = type("DictKeys", (OverKeys, dict), {})
DictItems = type("DictItems", (OverItems, dict), {})
DictValues = type("DictValues", (OverValues, dict), {})
DictGetitem = type("DictGetitem", (OverGetitem, dict), {})
DictGet = type("DictGet", (OverGet, dict), {})
DictContains = type("DictContains", (OverContains, dict), {})
DictLen = type("DictLen", (OverLen, dict), {})
DictSetitem = type("DictSetitem", (OverSetitem, dict), {})
DictEq = type("DictEq", (OverEq, dict), {})
DictCopy = type("DictCopy", (OverCopy, dict), {})
DictUpdate = type("DictUpdate", (OverUpdate, dict), {})
AtomicIter = type("AtomicIter", (OverIter, AtomicDict), {})
AtomicKeys = type("AtomicKeys", (OverKeys, AtomicDict), {})
AtomicItems = type("AtomicItems", (OverItems, AtomicDict), {})
AtomicValues = type("AtomicValues", (OverValues, AtomicDict), {})
AtomicGetitem = type("AtomicGetitem", (OverGetitem, AtomicDict), {})
AtomicGet = type("AtomicGet", (OverGet, AtomicDict), {})
AtomicContains = type("AtomicContains", (OverContains, AtomicDict), {})
AtomicLen = type("AtomicLen", (OverLen, AtomicDict), {})
AtomicSetitem = type("AtomicSetitem", (OverSetitem, AtomicDict), {})
AtomicEq = type("AtomicEq", (OverEq, AtomicDict), {})
AtomicCopy = type("AtomicCopy", (OverCopy, AtomicDict), {})
AtomicUpdate = type("AtomicUpdate", (OverUpdate, AtomicDict), {})

PAIRS = {  # override: (dict subclass, AtomicDict subclass)
    "__iter__": (DictIter, AtomicIter),
    "keys": (DictKeys, AtomicKeys),
    "items": (DictItems, AtomicItems),
    "values": (DictValues, AtomicValues),
    "__getitem__": (DictGetitem, AtomicGetitem),
    "get": (DictGet, AtomicGet),
    "__contains__": (DictContains, AtomicContains),
    "__len__": (DictLen, AtomicLen),
    "__setitem__": (DictSetitem, AtomicSetitem),
    "__eq__": (DictEq, AtomicEq),
    "copy": (DictCopy, AtomicCopy),
    "update": (DictUpdate, AtomicUpdate),
}


# --- the operations: op(sub, base) with `sub` an instance holding {"b": 1, "a": 2} ----------------


def _new(base, sub):
    return type(sub)({"b": 1, "a": 2})


def _ior_into_sub(sub, base):
    sub |= {"c": 3}
    return sub


def _ior_from_sub(sub, base):
    target = base(c=3)
    target |= sub
    return target


def _update_from_sub(sub, base):
    target = base(c=3)
    target.update(sub)
    return target


def _update_sub(sub, base):
    sub.update({"c": 3}, d=4)
    return sub


def _setdefault(sub, base):
    return (sub.setdefault("c", 3), sub)


OPERATIONS = {
    "iter": lambda sub, base: list(sub),
    "keys": lambda sub, base: list(sub.keys()),
    "values": lambda sub, base: list(sub.values()),
    "items": lambda sub, base: list(sub.items()),
    "reversed": lambda sub, base: list(reversed(sub)),
    "reversed keys view": lambda sub, base: list(reversed(base.keys(sub))),
    "reversed values view": lambda sub, base: list(reversed(base.values(sub))),
    "reversed items view": lambda sub, base: list(reversed(base.items(sub))),
    "keys view": lambda sub, base: list(base.keys(sub)),
    "values view": lambda sub, base: list(base.values(sub)),
    "items view": lambda sub, base: list(base.items(sub)),
    "len of views": lambda sub, base: [len(base.keys(sub)), len(base.values(sub)), len(base.items(sub))],
    "in keys view": lambda sub, base: ["a" in base.keys(sub), "z" in base.keys(sub)],
    "in values view": lambda sub, base: [2 in base.values(sub), 9 in base.values(sub)],
    "in items view": lambda sub, base: [("a", 2) in base.items(sub), ("z", 2) in base.items(sub)],
    "keys view set ops": lambda sub, base: [
        sorted(base.keys(sub) & {"a", "z"}),
        sorted(base.keys(sub) | {"z"}),
        sorted(base.keys(sub) - {"a"}),
        base.keys(sub).isdisjoint({"z"}),
    ],
    "copy": lambda sub, base: base.copy(sub),
    "copy method": lambda sub, base: sub.copy(),
    "== base": lambda sub, base: [sub == base(b=1, a=2), base(b=1, a=2) == sub],
    "== dict": lambda sub, base: [sub == {"b": 1, "a": 2}, {"b": 1, "a": 2} == sub],
    "!=": lambda sub, base: [sub != {"b": 1, "a": 2}, sub != {"b": 1}],
    "repr": lambda sub, base: base.__repr__(sub),
    "constructor from sub": lambda sub, base: base(sub),
    "update from sub": _update_from_sub,
    "update the sub": _update_sub,
    "sub | dict": lambda sub, base: sub | {"c": 3},
    "base | sub": lambda sub, base: base(c=3) | sub,
    "sub |= dict": _ior_into_sub,
    "base |= sub": _ior_from_sub,
    "new sub": lambda sub, base: _new(base, sub),
    "fromkeys": lambda sub, base: type(sub).fromkeys("xy", 0),
    "setdefault": _setdefault,
    "pickle": lambda sub, base: pickle.loads(pickle.dumps(sub)),
    "copy.copy": lambda sub, base: copy.copy(sub),
    "copy.deepcopy": lambda sub, base: copy.deepcopy(sub),
}


def describe(result, sub_type):
    """A result in terms that hold for both worlds: a mapping as (kind, its own items)."""
    if isinstance(result, (dict, AtomicDictBase)):
        kind = "sub" if type(result) is sub_type else type(result).__name__
        kind = {"dict": "base", "AtomicDict": "base"}.get(kind, kind)
        own = dict.items(result) if isinstance(result, dict) else AtomicDictBase._iter_items(result)
        return (kind, list(own))
    if isinstance(result, (list, tuple)):
        return type(result)(describe(x, sub_type) for x in result)
    return result


def outcome(fn, sub, base):
    try:
        return ("ok", describe(fn(sub, base), type(sub)))
    except Exception as exc:  # noqa: BLE001 - the outcome is compared
        return ("raise", type(exc))


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("override", list(PAIRS))
def test_subclass_override_affects_what_it_affects_in_dict(override, operation):
    dict_sub, atomic_sub = PAIRS[override]
    fn = OPERATIONS[operation]
    want = outcome(fn, dict_sub({"b": 1, "a": 2}), dict)
    got = outcome(fn, atomic_sub({"b": 1, "a": 2}), AtomicDict)
    if operation == "repr" and got[0] == "ok":
        # dict's repr leaves out the type; AtomicDict's names it around the same text.
        prefix = f"{atomic_sub.__name__}("
        assert got[1].startswith(prefix) and got[1].endswith(")"), got
        got = ("ok", got[1][len(prefix) : -1])
    assert got == want


def test_repr_of_a_subclass_names_the_subclass_around_dicts_repr():
    assert repr(AtomicIter({"b": 1, "a": 2})) == "AtomicIter({'b': 1, 'a': 2})"


def test_pickle_and_copy_keep_a_subclass_instances_attributes_as_for_dict():
    for cls in (DictIter, AtomicIter):
        s = cls(a=1)
        s.note = "kept"
        for clone in (pickle.loads(pickle.dumps(s)), copy.copy(s), copy.deepcopy(s)):
            assert type(clone) is cls and clone.note == "kept" and list(clone.items()) == [("a", 1)]


class NeedsArgument(AtomicDict):
    def __init__(self, label, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label = label


def test_a_subclass_whose_init_takes_arguments_copies_pickles_and_merges_as_dicts_does():
    # dict's copy and | give a dict, and pickle makes the instance without calling __init__.
    s = NeedsArgument("x", a=1)
    assert type(s.copy()) is AtomicDict and s.copy() == {"a": 1}
    assert type(s | {"b": 2}) is AtomicDict and s | {"b": 2} == {"a": 1, "b": 2}
    assert type({"b": 2} | s) is AtomicDict
    r = pickle.loads(pickle.dumps(s))
    assert type(r) is NeedsArgument and r.label == "x" and r == {"a": 1}
