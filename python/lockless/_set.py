"""The Python half of AtomicSet: what set has beyond the element operations.

The compiled base (``AtomicSetBase``) implements membership, add/discard/remove/pop/clear,
iteration and the atomic operations, each one lock-free engine call. This module adds the parts
where Python is the simplest correct code: the set algebra and its operators, comparisons,
``repr``, copying and pickling, and generic aliases. They are built only from those operations:
a bulk update applies one atomic step per element, and a result or a comparison is computed
from one weakly consistent iteration of each AtomicSet involved (see docs/consistency.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, MutableSet
from collections.abc import Set as AbstractSet
from types import GenericAlias
from typing import Any, TypeVar, overload

from lockless._lockless import AtomicSetBase, _own_methods

__all__ = ["AtomicSet"]

_T = TypeVar("_T")
_S = TypeVar("_S")

# (id(set), thread id) of the reprs in progress, so an element whose repr shows the set prints
# it as AtomicSet(...) instead of recursing.
_REPR_ACTIVE: set[tuple[int, int]] = set()


def _is_setlike(x: object) -> bool:
    """The operands set's operators and comparisons accept (others get NotImplemented)."""
    return isinstance(x, (set, frozenset, AtomicSetBase))


# dict's key and item views, which compare with sets (and only with builtin sets and views).
_DICT_VIEWS: tuple[type[AbstractSet[Any]], ...] = (type({}.keys()), type({}.items()))


def _comparable(x: object) -> bool:
    """The operands set's comparisons accept, through the view's own comparison for a dict
    view (others get NotImplemented)."""
    return _is_setlike(x) or isinstance(x, _DICT_VIEWS)


def _frozen(x: Iterable[Any]) -> AbstractSet[Any]:
    """A set to compute with: builtin sets (and dict views, which then decide a comparison, as
    they do against a set) as they are, anything else (an AtomicSet, once iterated) as a
    frozenset."""
    if isinstance(x, (set, frozenset)) or isinstance(x, _DICT_VIEWS):
        return x
    return frozenset(x)


class AtomicSet(AtomicSetBase[_T]):
    """A lock-free, insertion-ordered set: a drop-in ``set`` for threaded code.

    Every single-element operation is atomic and lock-free; ``add_if_absent`` and
    ``discard_if_present`` say whether this call changed the set (of racing callers, exactly
    one gets True). Iteration is weakly consistent: it never raises because of concurrent
    changes, never yields an element twice, and yields each element present throughout exactly
    once. Bulk updates are atomic per element. See ``docs/consistency.md``.
    """

    __slots__ = ()
    __module__ = "lockless"

    def __init__(self, iterable: Iterable[_T] = (), /) -> None:
        if len(self):
            self.clear()  # set.__init__ on a filled set starts over too
        self._add_all(iterable)

    # --- copies, repr, pickling -----------------------------------------------------------------

    def copy(self) -> AtomicSet[_T]:
        """A shallow copy (of a weakly consistent iteration); elements are not hashed again."""
        new: AtomicSet[_T] = AtomicSet()
        new._add_all(self)
        return new

    __copy__ = copy

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),), getattr(self, "__dict__", None))

    def __repr__(self) -> str:
        name = type(self).__name__
        active = (id(self), threading.get_ident())
        if active in _REPR_ACTIVE:
            return f"{name}(...)"
        _REPR_ACTIVE.add(active)
        try:
            body = ", ".join(repr(x) for x in self)
        finally:
            _REPR_ACTIVE.discard(active)
        return f"{name}({{{body}}})" if body else f"{name}()"

    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    @classmethod
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        return GenericAlias(cls, item)

    # --- algebra: new sets --------------------------------------------------------------------

    def union(self, *others: Iterable[_S]) -> AtomicSet[_T | _S]:
        new: AtomicSet[_T | _S] = AtomicSet()
        new._add_all(self)
        for other in others:
            new._add_all(other)
        return new

    def intersection(self, *others: Iterable[Any]) -> AtomicSet[_T]:
        return AtomicSet(frozenset(self).intersection(*others))

    def difference(self, *others: Iterable[Any]) -> AtomicSet[_T]:
        return AtomicSet(frozenset(self).difference(*others))

    def symmetric_difference(self, other: Iterable[_S], /) -> AtomicSet[_T | _S]:
        return AtomicSet(frozenset(self).symmetric_difference(other))

    def issubset(self, other: Iterable[Any], /) -> bool:
        if other is self:
            return True
        # The builtin decides, so that what it reads of `other` (3.13 stops early) is set's.
        return frozenset(self).issubset(other)

    def issuperset(self, other: Iterable[Any], /) -> bool:
        if other is self:
            return True
        if _is_setlike(other):
            return frozenset(self).issuperset(_frozen(other))
        # As set does: stop at the first element missing (later ones are not even hashed).
        return all(self._has(x) for x in other)

    def isdisjoint(self, other: Iterable[Any], /) -> bool:
        if other is self:
            return not self
        return not any(self._has(x) for x in other)

    # --- algebra: updates in place, atomic per element -------------------------------------------

    def update(self, *others: Iterable[_T]) -> None:
        """Adds the elements of every iterable, each atomically (the update as a whole is not)."""
        for other in others:
            self._add_all(other)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        """Removes, each atomically, the elements (of one iteration) missing from any of
        ``others``; elements added meanwhile stay. The intersection is computed first, as set
        computes it, so an error leaves the set unchanged."""
        before = frozenset(self)
        for x in before - before.intersection(*others):
            self.discard(x)

    def difference_update(self, *others: Iterable[Any]) -> None:
        """Removes the elements of every iterable, each atomically, in order."""
        for other in others:
            if other is self:
                self.clear()
            else:
                self._discard_all(other)

    def symmetric_difference_update(self, other: Iterable[_T], /) -> None:
        """Toggles each distinct element of ``other``, each in one atomic step. ``other`` is
        read first, so an error leaves the set unchanged."""
        if other is self:
            self.clear()
            return
        for x in _frozen(other):
            self._toggle(x)

    # --- operators --------------------------------------------------------------------------------

    def __or__(self, other: AbstractSet[_S] | AtomicSetBase[_S]) -> AtomicSet[_T | _S]:
        if not _is_setlike(other):
            return NotImplemented
        return self.union(other)

    def __and__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> AtomicSet[_T]:
        if not _is_setlike(other):
            return NotImplemented
        return self.intersection(other)

    def __sub__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> AtomicSet[_T]:
        if not _is_setlike(other):
            return NotImplemented
        return self.difference(other)

    def __xor__(self, other: AbstractSet[_S] | AtomicSetBase[_S]) -> AtomicSet[_T | _S]:
        if not _is_setlike(other):
            return NotImplemented
        return self.symmetric_difference(other)

    # Reflected: the left operand is a set or frozenset (set's own operator declined an
    # AtomicSet). The result is of the left operand's type, as `frozenset | set` is a frozenset.
    @overload
    def __ror__(self, other: set[_S]) -> set[_T | _S]: ...
    @overload
    def __ror__(self, other: frozenset[_S]) -> frozenset[_T | _S]: ...
    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return other | frozenset(self)

    @overload
    def __rand__(self, other: set[_S]) -> set[_S]: ...
    @overload
    def __rand__(self, other: frozenset[_S]) -> frozenset[_S]: ...
    def __rand__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return other & frozenset(self)

    @overload
    def __rsub__(self, other: set[_S]) -> set[_S]: ...
    @overload
    def __rsub__(self, other: frozenset[_S]) -> frozenset[_S]: ...
    def __rsub__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return other - frozenset(self)

    @overload
    def __rxor__(self, other: set[_S]) -> set[_T | _S]: ...
    @overload
    def __rxor__(self, other: frozenset[_S]) -> frozenset[_T | _S]: ...
    def __rxor__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return other ^ frozenset(self)

    def __ior__(self, other: AbstractSet[_T] | AtomicSetBase[_T]) -> AtomicSet[_T]:  # type: ignore[misc]
        if not _is_setlike(other):
            return NotImplemented
        self._add_all(other)
        return self

    def __iand__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> AtomicSet[_T]:
        if not _is_setlike(other):
            return NotImplemented
        self.intersection_update(other)
        return self

    def __isub__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> AtomicSet[_T]:
        if not _is_setlike(other):
            return NotImplemented
        self.difference_update(other)
        return self

    def __ixor__(self, other: AbstractSet[_T] | AtomicSetBase[_T]) -> AtomicSet[_T]:  # type: ignore[misc]
        if not _is_setlike(other):
            return NotImplemented
        self.symmetric_difference_update(other)
        return self

    # --- comparisons: of one weakly consistent iteration of each AtomicSet ------------------------

    def __eq__(self, other: object) -> bool:
        if not _comparable(other):
            return NotImplemented
        return other is self or frozenset(self) == _frozen(other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        if not _comparable(other):
            return NotImplemented
        return not self.__eq__(other)

    def __le__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> bool:
        if not _comparable(other):
            return NotImplemented
        return other is self or frozenset(self) <= _frozen(other)

    def __lt__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> bool:
        if not _comparable(other):
            return NotImplemented
        return other is not self and frozenset(self) < _frozen(other)

    def __ge__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> bool:
        if not _comparable(other):
            return NotImplemented
        return other is self or frozenset(self) >= _frozen(other)

    def __gt__(self, other: AbstractSet[object] | AtomicSetBase[Any]) -> bool:
        if not _comparable(other):
            return NotImplemented
        return other is not self and frozenset(self) > _frozen(other)


MutableSet.register(AtomicSet)
# Method calls check `self` against AtomicSet itself, not through its MRO (see _own_methods).
_own_methods(AtomicSet, AtomicSetBase)
