"""The Python half of AtomicCounterDict: what collections.Counter has beyond the hot paths.

The compiled base (``AtomicCounterDictBase``) implements lookups, stores, deletes, iteration,
counting an iterable and the atomic count operations, each one lock-free engine call per key.
This module adds ``collections.Counter``'s other methods where Python is the simplest correct
code: views, ``update``/``subtract``, ``most_common``, ``elements``, ``total``, the multiset
operators and comparisons, ``repr``, copying and pickling. Every change they make is one atomic
step per key (``add``, ``compare_and_set``, a conditional removal); a result or a comparison is
computed from one weakly consistent iteration of each operand (see docs/consistency.md).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from itertools import chain, repeat, starmap
from operator import itemgetter
from types import GenericAlias, MappingProxyType
from typing import Any, TypeVar

from lockless._viewops import DictViewOps
from lockless._lockless import AtomicCounterDictBase, _compiled_views, _own_methods

__all__ = ["AtomicCounterDict"]

_K = TypeVar("_K")


def _is_counter(x: object) -> bool:
    """The operands Counter's operators and comparisons accept (others get NotImplemented)."""
    return isinstance(x, (Counter, AtomicCounterDictBase))


def _items(x: Any) -> Iterable[tuple[Any, int]]:
    return x._iter_items() if isinstance(x, AtomicCounterDictBase) else x.items()


class AtomicCounterDict(AtomicCounterDictBase[_K]):
    """A lock-free ``collections.Counter`` for threaded code, with int64 counts in the table.

    ``add``, ``get_and_add``, ``compare_and_set``, ``get_and_set`` and ``get_and_reset`` are
    each one linearizable, lock-free step on one key, and an increment allocates nothing.
    ``update`` and ``subtract`` apply one such step per key. Counts are signed 64-bit: a result
    outside that range raises OverflowError and leaves the count unchanged; a count that is not
    an int raises TypeError. Iteration is weakly consistent. See ``docs/consistency.md``.
    """

    __slots__ = ()
    __module__ = "lockless"

    def __init__(self, iterable: Iterable[_K] | Mapping[_K, int] | None = None, /, **kwds: int) -> None:
        self.update(iterable, **kwds)

    @classmethod
    def fromkeys(cls, iterable: Any, v: Any = None) -> Any:
        raise NotImplementedError("AtomicCounterDict.fromkeys() is undefined.  Use AtomicCounterDict(iterable) instead.")

    @classmethod
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        return GenericAlias(cls, item)

    __hash__ = None  # type: ignore[assignment]  # mutable, like Counter

    # --- views --------------------------------------------------------------------------------

    def keys(self) -> KeysView[_K]:
        return _KeysView(self)

    def values(self) -> ValuesView[int]:
        return _ValuesView(self)

    def items(self) -> ItemsView[_K, int]:
        return _ItemsView(self)

    def __reversed__(self) -> Iterator[_K]:
        return reversed(list(AtomicCounterDictBase.__iter__(self)))

    # --- Counter's methods --------------------------------------------------------------------

    def total(self) -> int:
        """The sum of the counts (of one weakly consistent iteration)."""
        return sum(self._iter_values())

    def most_common(self, n: int | None = None) -> list[tuple[_K, int]]:
        """The ``n`` most common keys and their counts, most common first (all if ``n`` is
        None); equal counts in insertion order, as Counter."""
        if n is None:
            return sorted(self._iter_items(), key=itemgetter(1), reverse=True)
        return heapq.nlargest(n, self._iter_items(), key=itemgetter(1))

    def elements(self) -> Iterator[_K]:
        """Each key repeated as many times as its count (keys with counts below 1 not at all)."""
        return chain.from_iterable(starmap(repeat, self._iter_items()))

    def update(self, iterable: Iterable[_K] | Mapping[_K, int] | None = None, /, **kwds: int) -> None:
        """Adds counts: of each element of an iterable, or each count of a mapping. Each key
        is added atomically (the update as a whole is not). A mapping's counts are all checked
        first: one that is not an int raises TypeError and changes nothing."""
        if iterable is not None:
            if isinstance(iterable, Mapping):
                self._add_pairs(list(_items(iterable)), 1)
            else:
                self._count_all(iterable, 1)
        if kwds:
            self._add_pairs(list[Any](kwds.items()), 1)

    def subtract(self, iterable: Iterable[_K] | Mapping[_K, int] | None = None, /, **kwds: int) -> None:
        """Subtracts counts, as ``update`` adds them; counts may go to zero or below."""
        if iterable is not None:
            if isinstance(iterable, Mapping):
                self._add_pairs(list(_items(iterable)), -1)
            else:
                self._count_all(iterable, -1)
        if kwds:
            self._add_pairs(list[Any](kwds.items()), -1)

    def copy(self) -> AtomicCounterDict[_K]:
        """A shallow copy (of one weakly consistent iteration)."""
        return type(self)(self)

    __copy__ = copy

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self._iter_items()),), getattr(self, "__dict__", None))

    def __repr__(self) -> str:
        name = type(self).__name__
        items = self.most_common()
        if not items:
            return f"{name}()"
        return f"{name}({dict(items)!r})"

    # --- comparisons, as multisets (missing keys count 0) -------------------------------------

    def _pairs_with(self, other: Any) -> Iterator[tuple[int, int]]:
        """``(self[k], other[k])`` for every key of either (one iteration of each)."""
        for c in (self, other):
            for e in c:
                yield self[e], other[e]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict) and not isinstance(other, Counter):
            return dict(self._iter_items()) == other  # as Counter == dict compares as dicts
        if not _is_counter(other):
            return NotImplemented
        return all(a == b for a, b in self._pairs_with(other))

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __le__(self, other: Counter[Any] | AtomicCounterDictBase[Any]) -> bool:
        if not _is_counter(other):
            return NotImplemented
        return all(a <= b for a, b in self._pairs_with(other))

    def __lt__(self, other: Counter[Any] | AtomicCounterDictBase[Any]) -> bool:
        if not _is_counter(other):
            return NotImplemented
        return self <= other and self != other

    def __ge__(self, other: Counter[Any] | AtomicCounterDictBase[Any]) -> bool:
        if not _is_counter(other):
            return NotImplemented
        return all(a >= b for a, b in self._pairs_with(other))

    def __gt__(self, other: Counter[Any] | AtomicCounterDictBase[Any]) -> bool:
        if not _is_counter(other):
            return NotImplemented
        return self >= other and self != other

    # --- multiset operators: new AtomicCounterDicts, counts <= 0 dropped ----------------------

    def __add__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        return _add(self, other) if _is_counter(other) else NotImplemented

    def __radd__(self, other: Counter[_K]) -> AtomicCounterDict[_K]:
        return _add(other, self) if _is_counter(other) else NotImplemented

    def __sub__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        return _sub(self, other) if _is_counter(other) else NotImplemented

    def __rsub__(self, other: Counter[_K]) -> AtomicCounterDict[_K]:
        return _sub(other, self) if _is_counter(other) else NotImplemented

    def __or__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        return _or(self, other) if _is_counter(other) else NotImplemented

    def __ror__(self, other: Counter[_K]) -> AtomicCounterDict[_K]:
        return _or(other, self) if _is_counter(other) else NotImplemented

    def __and__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        return _and(self, other) if _is_counter(other) else NotImplemented

    def __rand__(self, other: Counter[_K]) -> AtomicCounterDict[_K]:
        return _and(other, self) if _is_counter(other) else NotImplemented

    def __pos__(self) -> AtomicCounterDict[_K]:
        return _new((k, n) for k, n in self._iter_items() if n > 0)

    def __neg__(self) -> AtomicCounterDict[_K]:
        return _new((k, -n) for k, n in self._iter_items() if n < 0)

    # --- in place: one atomic step per key, then counts <= 0 dropped (each atomically) --------

    def _keep_positive(self) -> AtomicCounterDict[_K]:
        for key in list(AtomicCounterDictBase.__iter__(self)):
            self._discard_nonpositive(key)
        return self

    def __iadd__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        self._add_pairs(list(_items(other)), 1)
        return self._keep_positive()

    def __isub__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        self._add_pairs(list(_items(other)), -1)
        return self._keep_positive()

    def __ior__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        for key, other_count in list(_items(other)):
            while True:  # an atomic max: raise the count to other_count unless it is larger
                count = self[key]
                if other_count <= count or self.compare_and_set(key, count, other_count):
                    break
        return self._keep_positive()

    def __iand__(self, other: Counter[_K] | AtomicCounterDictBase[_K]) -> AtomicCounterDict[_K]:
        for key, count in list(self._iter_items()):
            other_count = other[key]
            while other_count < count:  # an atomic min: lower the count to other_count
                if self.compare_and_set(key, count, other_count):
                    break
                count = self[key]
        return self._keep_positive()


def _new(pairs: Iterable[tuple[Any, int]]) -> AtomicCounterDict[Any]:
    result: AtomicCounterDict[Any] = AtomicCounterDict()
    for key, n in pairs:
        result[key] = n
    return result


# The binary operators, as Counter computes them, from one iteration of each operand.


def _add(a: Any, b: Any) -> AtomicCounterDict[Any]:
    def pairs() -> Iterator[tuple[Any, int]]:
        for key, n in list(_items(a)):
            if (total := n + b[key]) > 0:
                yield key, total
        for key, n in list(_items(b)):
            if key not in a and n > 0:
                yield key, n

    return _new(pairs())


def _sub(a: Any, b: Any) -> AtomicCounterDict[Any]:
    def pairs() -> Iterator[tuple[Any, int]]:
        for key, n in list(_items(a)):
            if (diff := n - b[key]) > 0:
                yield key, diff
        for key, n in list(_items(b)):
            if key not in a and n < 0:
                yield key, 0 - n

    return _new(pairs())


def _or(a: Any, b: Any) -> AtomicCounterDict[Any]:
    def pairs() -> Iterator[tuple[Any, int]]:
        for key, n in list(_items(a)):
            if (most := max(n, b[key])) > 0:
                yield key, most
        for key, n in list(_items(b)):
            if key not in a and n > 0:
                yield key, n

    return _new(pairs())


def _and(a: Any, b: Any) -> AtomicCounterDict[Any]:
    def pairs() -> Iterator[tuple[Any, int]]:
        for key, n in list(_items(a)):
            if (least := min(n, b[key])) > 0:
                yield key, least

    return _new(pairs())


class _KeysView(DictViewOps, KeysView[_K]):
    __slots__ = ()
    _mapping: AtomicCounterDict[_K]

    @property
    def mapping(self) -> MappingProxyType[_K, int]:
        """A read-only proxy of the counter, as ``dict_keys.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicCounterDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[_K]:
        return AtomicCounterDictBase.__iter__(self._mapping)

    def __contains__(self, key: object) -> bool:
        return AtomicCounterDictBase.__contains__(self._mapping, key)

    def __reversed__(self) -> Iterator[_K]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_keys({list(self)!r})"


class _ValuesView(ValuesView[int]):
    __slots__ = ()
    _mapping: AtomicCounterDict[Any]

    @property
    def mapping(self) -> MappingProxyType[Any, int]:
        """A read-only proxy of the counter, as ``dict_values.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicCounterDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[int]:
        return AtomicCounterDictBase._iter_values(self._mapping)

    def __contains__(self, value: object) -> bool:
        return any(n == value for n in self)

    def __reversed__(self) -> Iterator[int]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_values({list(self)!r})"


class _ItemsView(DictViewOps, ItemsView[_K, int]):
    __slots__ = ()
    _mapping: AtomicCounterDict[_K]

    @property
    def mapping(self) -> MappingProxyType[_K, int]:
        """A read-only proxy of the counter, as ``dict_items.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicCounterDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[tuple[_K, int]]:
        return AtomicCounterDictBase._iter_items(self._mapping)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, n = item
        return AtomicCounterDictBase.__contains__(self._mapping, key) and self._mapping[key] == n

    def __reversed__(self) -> Iterator[tuple[_K, int]]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_items({list(self)!r})"


MutableMapping.register(AtomicCounterDict)
# Method calls check `self` against AtomicCounterDict itself, not through its MRO (see _own_methods).
_own_methods(AtomicCounterDict, AtomicCounterDictBase)
# keys(), values(), items() and the views' __iter__, compiled (the Python methods above say
# what they do): no Python frame between a `for` and the iterator.
_compiled_views(AtomicCounterDict, _KeysView, _ValuesView, _ItemsView)
