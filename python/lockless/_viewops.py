"""The set operators of AtomicDict's and AtomicCounterDict's key and item views, computed as
dict's views compute them.

``collections.abc.Set``'s mixins first make a set of a non-set operand (comparing its elements
with each other), then test each element against the other side; dict's views instead make a set
of the left operand and remove (or toggle) each element of the right one, so the right operand's
elements are only hashed and compared with the left's. With an ``__eq__`` that raises or has side
effects the two differ; the views follow dict's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class DictViewOps:
    """``-`` and ``^`` (and their reflections) as dict's key and item views do them."""

    __slots__ = ()

    def __sub__(self, other: Iterable[Any]) -> set[Any]:
        result: set[Any] = set(self)  # type: ignore[call-overload]  # self is a view: iterable
        result.difference_update(other)
        return result

    def __rsub__(self, other: Iterable[Any]) -> set[Any]:
        result = set(other)
        result.difference_update(self)  # type: ignore[arg-type]
        return result

    def __xor__(self, other: Iterable[Any]) -> set[Any]:
        result: set[Any] = set(self)  # type: ignore[call-overload]
        result.symmetric_difference_update(other)
        return result

    def __rxor__(self, other: Iterable[Any]) -> set[Any]:
        result = set(other)
        result.symmetric_difference_update(self)  # type: ignore[arg-type]
        return result
