"""The set operators of AtomicDict's and AtomicCounterDict's key and item views, computed as
dict's views compute them.

``collections.abc.Set``'s mixins first make a set of a non-set operand (comparing its elements
with each other), then test each element against the other side; dict's views instead make a set
of the left operand and remove (or toggle) each element of the right one, so the right operand's
elements are only hashed and compared with the left's. With an ``__eq__`` that raises or has side
effects the two differ; the views follow dict's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def _updated(left: Iterable[Any], update: Callable[[set[Any], Iterable[Any]], None], right: Iterable[Any]) -> set[Any]:
    """A set of ``left``'s elements, then ``update(it, right)``: how dict's views compute."""
    result = set(left)
    update(result, right)
    return result


class DictViewOps:
    """``-`` and ``^`` (and their reflections) as dict's key and item views do them."""

    __slots__ = ()

    def __sub__(self, other: Iterable[Any]) -> set[Any]:
        return _updated(self, set.difference_update, other)  # type: ignore[arg-type]  # a view

    def __rsub__(self, other: Iterable[Any]) -> set[Any]:
        return _updated(other, set.difference_update, self)  # type: ignore[arg-type]

    def __xor__(self, other: Iterable[Any]) -> set[Any]:
        return _updated(self, set.symmetric_difference_update, other)  # type: ignore[arg-type]

    def __rxor__(self, other: Iterable[Any]) -> set[Any]:
        return _updated(other, set.symmetric_difference_update, self)  # type: ignore[arg-type]
