"""The Python half of AtomicDict: what dict has beyond the hot paths.

The compiled base (``AtomicDictBase``) implements lookups, stores, deletes, iteration and the
atomic operations, each one lock-free engine call. This module adds the parts where Python is
the simplest correct code: views, ``update``, ``repr``, ``==``, ``|``, copying and pickling,
``fromkeys``, ``reduce``/``count``, and generic aliases. They are built only from the atomic
operations, so each keeps its documented guarantee under concurrency (see docs/consistency.md).
"""

from __future__ import annotations

import copyreg
import threading
from collections.abc import (
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from types import GenericAlias, MappingProxyType
from typing import Any, TypeVar

from lockless._viewops import DictViewOps
from lockless._lockless import NOT_FOUND, AtomicDictBase, _compiled_views, _own_methods

__all__ = ["AtomicDict", "NOT_FOUND"]

_MISSING: Any = object()
#: The default source of `AtomicDict(other)`: nothing (the empty tuple, one object in CPython).
_NOTHING: Any = ()
_K = TypeVar("_K")
_V = TypeVar("_V")

# (id(dict), thread id) of the reprs in progress, so a self-reference prints as {...}.
_REPR_ACTIVE: set[tuple[int, int]] = set()


class AtomicDict(AtomicDictBase[_K, _V]):
    """A lock-free, insertion-ordered hash map: a drop-in ``dict`` for threaded code.

    Every single-key operation is atomic and lock-free; iteration is weakly consistent (it
    never raises because of concurrent changes, yields each key present throughout exactly
    once and no key twice). See ``docs/consistency.md``.
    """

    __slots__ = ()
    __module__ = "lockless"

    def __init__(self, other: Any = _NOTHING, /, **kwargs: Any) -> None:
        # `AtomicDict()` stores nothing: skip the source checks (a `hasattr` on a tuple raises
        # and catches an AttributeError), which cost more than the empty map itself.
        if other is not _NOTHING or kwargs:
            _update(self, other, kwargs)

    # --- views --------------------------------------------------------------------------------
    # Views, reversed(), ==, copy(), | and update() read the dict through the compiled base, as
    # dict's do: a subclass overriding __iter__, keys(), items() or __getitem__ changes what
    # those methods return, not what the others see (and cannot recurse into them).

    def keys(self) -> _KeysView[_K]:
        return _KeysView(self)

    def values(self) -> _ValuesView[_V]:
        return _ValuesView(self)

    def items(self) -> _ItemsView[_K, _V]:
        return _ItemsView(self)

    def __reversed__(self) -> Iterator[_K]:
        # A snapshot: reversing a weakly consistent iteration has no cheaper honest form.
        return reversed(list(AtomicDictBase.__iter__(self)))

    # --- bulk updates -------------------------------------------------------------------------

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like ``dict.update``; each key is stored atomically (the whole update is not).

        An AtomicDict source is copied item by item as it is iterated, so one that other
        threads change meanwhile never makes this raise."""
        _update(self, other, kwargs)

    def __ior__(self, other: Any) -> AtomicDict[_K, _V]:
        _update(self, other, None)
        return self

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        new: AtomicDict[Any, Any] = AtomicDict()
        self._copy_into(new)
        _update(new, other, None)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        new: AtomicDict[Any, Any] = AtomicDict()
        _update(new, other, None)
        self._copy_into(new)
        return new

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> AtomicDict[Any, Any]:
        new = cls()
        for key in iterable:
            new[key] = value
        return new

    def count(self, iterable: Iterable[Any] | Mapping[Any, Any]) -> None:
        """Counts like ``collections.Counter.update``, atomically per key: each element of an
        iterable adds 1 to its count; a mapping adds each of its values to its key's count."""
        if isinstance(iterable, Mapping):
            self.reduce(iterable.items(), _add_counts)
        else:
            self.reduce(((x, 1) for x in iterable), _add_counts)

    # --- comparisons, copies, repr -------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if isinstance(other, AtomicDictBase):
            other = dict(AtomicDictBase._iter_items(other))
        elif not isinstance(other, dict):
            other = dict(other.items())
        return dict(AtomicDictBase._iter_items(self)) == other

    def __ne__(self, other: object) -> bool:
        result = AtomicDict.__eq__(self, other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def copy(self) -> AtomicDict[_K, _V]:
        """A shallow copy (of a weakly consistent iteration); keys are not hashed again.

        An ``AtomicDict``, also for a subclass, as ``dict.copy`` gives a ``dict``."""
        new: AtomicDict[_K, _V] = AtomicDict()
        self._copy_into(new)
        return new

    def __reduce__(self) -> tuple[Any, ...]:
        # What pickle and copy.copy do with a dict subclass: the object is made without
        # __init__ and given its attributes; its items (from items(), set after it exists, so
        # self-references round-trip) go in through __setitem__.
        newobj = copyreg.__newobj__  # type: ignore[attr-defined]  # missing from typeshed
        return (newobj, (type(self),), self.__getstate__(), None, iter(self.items()))

    def __repr__(self) -> str:
        active = (id(self), threading.get_ident())
        if active in _REPR_ACTIVE:
            return "{...}"
        _REPR_ACTIVE.add(active)
        try:
            body = ", ".join(f"{k!r}: {v!r}" for k, v in self._iter_items())
        finally:
            _REPR_ACTIVE.discard(active)
        return f"{type(self).__name__}({{{body}}})"

    @classmethod
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        return GenericAlias(cls, item)


_store = AtomicDictBase.__setitem__


def _update(target: AtomicDict[Any, Any], other: Any, kwargs: dict[str, Any] | None) -> None:
    """``dict.update``'s algorithm. Like dict's, it stores through the compiled base (no
    subclass's ``__setitem__``) and reads a dict-like source without its subclass's overrides:

    * an AtomicDict (or subclass, or handle): copied with its stored hashes as it is iterated,
      so one that other threads change meanwhile never makes this raise;
    * a ``dict`` (or subclass): its own items, from one copy (atomic on free-threaded CPython);
    * another object with ``keys()``: ``other[key]`` for each key of ``other.keys()``;
    * anything else: an iterable of key-value pairs.
    """
    # `target[key] = value` where that is the base's store: the same call, at less cost.
    plain = type(target).__setitem__ is _store
    if isinstance(other, AtomicDictBase):
        other._copy_into(target)
    elif isinstance(other, dict):
        # Items of a copy no other thread can change: each key hashed once, by the store.
        _store_pairs(target, plain, dict.items(dict.copy(other)))
    elif hasattr(other, "keys"):
        _store_all(target, plain, other, other.keys())
    else:
        for i, pair in enumerate(other):
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise _not_a_pair(i, pair) from None
            if plain:
                target[key] = value
            else:
                _store(target, key, value)
    if kwargs:
        _store_pairs(target, plain, kwargs.items())


def _store_all(target: AtomicDict[Any, Any], plain: bool, source: Any, keys: Iterable[Any]) -> None:
    """``target[key] = source[key]`` for each key of ``keys``."""
    if plain:
        for key in keys:
            target[key] = source[key]
    else:
        for key in keys:
            _store(target, key, source[key])


def _store_pairs(target: AtomicDict[Any, Any], plain: bool, pairs: Iterable[tuple[Any, Any]]) -> None:
    """``target[key] = value`` for each pair."""
    if plain:
        for key, value in pairs:
            target[key] = value
    else:
        for key, value in pairs:
            _store(target, key, value)


def _not_a_pair(i: int, element: Any) -> Exception:
    """dict's error for element ``i`` of an update sequence that is not a key-value pair."""
    pair = tuple(element) if isinstance(element, Iterable) else element
    if not isinstance(pair, tuple):
        return TypeError(f"cannot convert dictionary update sequence element #{i} to a sequence")
    return ValueError(f"dictionary update sequence element #{i} has length {len(pair)}; 2 is required")


def _add_counts(_key: Any, current: Any, new: int) -> int:
    return new if current is NOT_FOUND else current + new


def _view_repr(view: _KeysView[Any] | _ValuesView[Any] | _ItemsView[Any, Any], kind: str) -> str:
    """``AtomicDict_values([...])``; a view met again inside its own repr (stored in its dict)
    shows as ``...``, as dict's views do."""
    active = (id(view), threading.get_ident())
    if active in _REPR_ACTIVE:
        return "..."
    _REPR_ACTIVE.add(active)
    try:
        return f"{type(view._mapping).__name__}_{kind}({list(view)!r})"
    finally:
        _REPR_ACTIVE.discard(active)


class _KeysView(DictViewOps, KeysView[_K]):
    __slots__ = ()
    _mapping: AtomicDict[_K, Any]

    @property
    def mapping(self) -> MappingProxyType[_K, Any]:
        """A read-only proxy of the dict, as ``dict_keys.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[_K]:
        return AtomicDictBase.__iter__(self._mapping)

    def __contains__(self, key: object) -> bool:
        return AtomicDictBase.__contains__(self._mapping, key)

    def __reversed__(self) -> Iterator[_K]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return _view_repr(self, "keys")


class _ValuesView(ValuesView[_V]):
    __slots__ = ()
    _mapping: AtomicDict[Any, _V]

    @property
    def mapping(self) -> MappingProxyType[Any, _V]:
        """A read-only proxy of the dict, as ``dict_values.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[_V]:
        return self._mapping._iter_values()

    def __contains__(self, value: object) -> bool:
        # Not ValuesView's (keys, then d[key]): a key deleted in between would raise KeyError.
        return any(v is value or v == value for v in self)

    def __reversed__(self) -> Iterator[_V]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return _view_repr(self, "values")


class _ItemsView(DictViewOps, ItemsView[_K, _V]):
    __slots__ = ()
    _mapping: AtomicDict[_K, _V]

    @property
    def mapping(self) -> MappingProxyType[_K, _V]:
        """A read-only proxy of the dict, as ``dict_items.mapping``."""
        return MappingProxyType(self._mapping)

    def __len__(self) -> int:
        return AtomicDictBase.__len__(self._mapping)

    def __iter__(self) -> Iterator[tuple[_K, _V]]:
        return self._mapping._iter_items()

    def __reversed__(self) -> Iterator[tuple[_K, _V]]:
        return reversed(list(self))

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        found = AtomicDictBase.get(self._mapping, key, _MISSING)
        return found is not _MISSING and (found is value or found == value)

    def __repr__(self) -> str:
        return _view_repr(self, "items")


MutableMapping.register(AtomicDict)
# Method calls check `self` against AtomicDict itself, not through its MRO (see _own_methods).
_own_methods(AtomicDict, AtomicDictBase)
# keys(), values(), items() and the views' __iter__, compiled (the Python methods above say
# what they do): no Python frame between a `for` and the iterator.
_compiled_views(AtomicDict, _KeysView, _ValuesView, _ItemsView)
