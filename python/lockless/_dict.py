"""The Python half of AtomicDict: what dict has beyond the hot paths.

The compiled base (``AtomicDictBase``) implements lookups, stores, deletes, iteration and the
atomic operations, each one lock-free engine call. This module adds the parts where Python is
the simplest correct code: views, ``update``, ``repr``, ``==``, ``|``, copying and pickling,
``fromkeys``, ``reduce``/``count``, and generic aliases. They are built only from the atomic
operations, so each keeps its documented guarantee under concurrency (see docs/consistency.md).
"""

from __future__ import annotations

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
from types import GenericAlias
from typing import Any, TypeVar

from lockless._lockless import NOT_FOUND, AtomicDictBase

__all__ = ["AtomicDict", "NOT_FOUND"]

_MISSING: Any = object()
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

    def __init__(self, other: Any = (), /, **kwargs: Any) -> None:
        self.update(other, **kwargs)

    # --- views --------------------------------------------------------------------------------

    def keys(self) -> _KeysView[_K]:
        return _KeysView(self)

    def values(self) -> _ValuesView[_V]:
        return _ValuesView(self)

    def items(self) -> _ItemsView[_K, _V]:
        return _ItemsView(self)

    def __reversed__(self) -> Iterator[_K]:
        # A snapshot: reversing a weakly consistent iteration has no cheaper honest form.
        return reversed(list(self))

    # --- bulk updates -------------------------------------------------------------------------

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like ``dict.update``; each key is stored atomically (the whole update is not)."""
        if isinstance(other, Mapping):
            for key in other:
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for i, pair in enumerate(other):
                try:
                    key, value = pair
                except (TypeError, ValueError):
                    pair = tuple(pair) if isinstance(pair, Iterable) else pair
                    if not isinstance(pair, tuple):
                        raise TypeError(
                            f"cannot convert dictionary update sequence element #{i} to a sequence"
                        ) from None
                    raise ValueError(
                        f"dictionary update sequence element #{i} has length {len(pair)}; 2 is required"
                    ) from None
                self[key] = value
        for name, value in kwargs.items():
            self[name] = value  # type: ignore[index]  # keyword keys are str, as for dict

    def __ior__(self, other: Any) -> AtomicDict[_K, _V]:
        self.update(other)
        return self

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        new = type(self)(other)
        new.update(self)
        return new

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> AtomicDict[Any, Any]:
        new = cls()
        for key in iterable:
            new[key] = value
        return new

    def count(self, iterable: Iterable[Any]) -> None:
        """Counts occurrences, like ``collections.Counter.update``, atomically per key."""
        self.reduce(((x, 1) for x in iterable), _add_counts)

    # --- comparisons, copies, repr -------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == (other if isinstance(other, dict) else dict(other.items()))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def copy(self) -> AtomicDict[_K, _V]:
        """A shallow copy (of a weakly consistent iteration); keys are not hashed again."""
        new = type(self)()
        self._copy_into(new)
        return new

    __copy__ = copy

    def __reduce__(self) -> tuple[Any, ...]:
        # Items are set on the new object after it exists, so self-references round-trip.
        return (type(self), (), None, None, self._iter_items())

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


def _add_counts(_key: Any, current: Any, new: int) -> int:
    return new if current is NOT_FOUND else current + new


class _KeysView(KeysView[_K]):
    __slots__ = ()
    _mapping: AtomicDict[_K, Any]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._mapping)

    def __reversed__(self) -> Iterator[_K]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_keys({list(self)!r})"


class _ValuesView(ValuesView[_V]):
    __slots__ = ()
    _mapping: AtomicDict[Any, _V]

    def __iter__(self) -> Iterator[_V]:
        return self._mapping._iter_values()

    def __reversed__(self) -> Iterator[_V]:
        return reversed(list(self))

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_values({list(self)!r})"


class _ItemsView(ItemsView[_K, _V]):
    __slots__ = ()
    _mapping: AtomicDict[_K, _V]

    def __iter__(self) -> Iterator[tuple[_K, _V]]:
        return self._mapping._iter_items()

    def __reversed__(self) -> Iterator[tuple[_K, _V]]:
        return reversed(list(self))

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        found = self._mapping.get(key, _MISSING)
        return found is not _MISSING and (found is value or found == value)

    def __repr__(self) -> str:
        return f"{type(self._mapping).__name__}_items({list(self)!r})"


MutableMapping.register(AtomicDict)
