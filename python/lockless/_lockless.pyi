"""Typed stubs for the compiled half of lockless (``lockless._lockless``).

Progress guarantees used below:

* wait-free: finishes in a bounded number of its own steps, whatever other threads do;
* lock-free: some thread always makes progress; one operation may retry while others succeed
  (a compare-and-swap loop), but no thread ever waits for another.

Nothing here takes a lock, and every operation of AtomicInt and AtomicRef is linearizable.
"""

import sys
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from fractions import Fraction
from types import GenericAlias
from typing import Any, ClassVar, Generic, Self, SupportsIndex, TypeVar, final, overload

from typing_extensions import disjoint_base

_T = TypeVar("_T")
_X = TypeVar("_X")

_IntLike = int | AtomicInt
# What an AtomicInt compares with in order, as int does (complex compares only with == and !=).
_Real = int | AtomicInt | float | Fraction | Decimal

# The package version (Cargo.toml's), as the extension was built with it.
__version__: str

def _own_methods(cls: type, base: type, /) -> None:
    """Gives a Python subclass its own copy of each method it inherits from a compiled base."""

def _compiled_views(map_cls: type, keys: type, values: type, items: type, /) -> None:
    """Compiles keys(), values(), items() of map_cls and __iter__ of its three view classes."""

# The compiled module's __all__ (PyO3 lists every class and attribute it adds).
__all__ = [
    "AtomicInt",
    "AtomicRef",
    "AtomicCounter",
    "AtomicDictBase",
    "AtomicDictIterator",
    "NotFoundType",
    "NOT_FOUND",
    "AtomicQueue",
    "AtomicSetBase",
    "AtomicSetIterator",
    "AtomicCounterDictBase",
    "AtomicCounterDictIterator",
]

@final
class AtomicInt:
    """A signed 64-bit integer that many threads may read and update at once.

    Every method and in-place operator is one atomic, linearizable operation. Results outside
    int64 raise ``OverflowError`` and leave the value unchanged: it never wraps.

    Binary and reflected operators (``a + 1``, ``1 + a``, ``a * b`` ...) and comparisons read
    one snapshot of the value and give what ``int`` gives with it: a plain ``int`` (exact, of any
    size) with an ``int`` or ``AtomicInt``; with any other operand, the result of Python's
    operator protocol on the snapshot, so ``AtomicInt(1) + 1.5 == 2.5``, ``AtomicInt(0) ==
    0.0``, ``AtomicInt(3) < Fraction(7, 2)``, ``AtomicInt(1) + Decimal("0.5")`` is a
    ``Decimal``, and ``TypeError`` where ``int`` raises it.

    In-place operators (``+= -= *= //= %= **= <<= >>= &= |= ^=``) are each one atomic
    operation with Python ``int`` semantics (floor division, ``ZeroDivisionError``,
    ``ValueError`` for a negative shift) and keep the same ``AtomicInt`` object. They take
    ``int`` or ``AtomicInt`` operands only: any other (``a += 1.5``) raises ``TypeError`` and
    leaves the value unchanged, since the value stays an int64. ``**=`` with a negative
    exponent raises ``ValueError`` (the result would be a float); ``/=`` raises ``TypeError``
    for the same reason.

    Unhashable (``__hash__ is None``), like other mutable containers: it compares equal to its
    current value, which changes.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __new__(cls, value: SupportsIndex = 0) -> AtomicInt:
        """Create one holding ``value`` (``TypeError`` if not an int, ``OverflowError`` if
        outside int64)."""

    def get(self) -> int:
        """The current value. Atomic, wait-free."""
    def set(self, value: SupportsIndex) -> None:
        """Store ``value``. Atomic, wait-free."""
    def get_and_set(self, value: SupportsIndex) -> int:
        """Store ``value`` and return the previous value. Atomic, wait-free."""
    def compare_and_set(self, expected: SupportsIndex, desired: SupportsIndex) -> bool:
        """Store ``desired`` if the value equals ``expected``; return whether it did.
        Atomic, wait-free."""
    def compare_and_exchange(self, expected: SupportsIndex, desired: SupportsIndex) -> int:
        """Store ``desired`` if the value equals ``expected``; return the value found (equal
        to ``expected`` exactly when it stored). Atomic, wait-free."""

    def increment_and_get(self, n: SupportsIndex = 1) -> int:
        """Add ``n``; return the new value. Atomic, lock-free. ``OverflowError`` (value
        unchanged) if the result leaves int64."""
    def get_and_increment(self, n: SupportsIndex = 1) -> int:
        """Add ``n``; return the previous value. Atomic, lock-free."""
    def decrement_and_get(self, n: SupportsIndex = 1) -> int:
        """Subtract ``n``; return the new value. Atomic, lock-free."""
    def get_and_decrement(self, n: SupportsIndex = 1) -> int:
        """Subtract ``n``; return the previous value. Atomic, lock-free."""

    def update_and_get(self, fn: Callable[[int], int]) -> int:
        """Replace the value ``v`` with ``fn(v)``; return the new value.

        Atomic and lock-free: a compare-and-swap loop, so ``fn`` may run more than once (when
        another thread changes the value in between): keep it pure. ``TypeError`` if ``fn``
        returns a non-int, ``OverflowError`` if outside int64; an exception from ``fn``
        propagates. The value is unchanged on any error."""
    def get_and_update(self, fn: Callable[[int], int]) -> int:
        """As :meth:`update_and_get`, returning the previous value. ``fn`` may run more than
        once."""
    def accumulate_and_get(self, x: _X, fn: Callable[[int, _X], int]) -> int:
        """Replace the value ``v`` with ``fn(v, x)``; return the new value. Atomic, lock-free;
        ``fn`` may run more than once. Errors as for :meth:`update_and_get`."""
    def get_and_accumulate(self, x: _X, fn: Callable[[int, _X], int]) -> int:
        """As :meth:`accumulate_and_get`, returning the previous value. ``fn`` may run more
        than once."""

    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __float__(self) -> float: ...
    def __bool__(self) -> bool: ...
    def __format__(self, format_spec: str) -> str: ...
    def __round__(self, ndigits: SupportsIndex | None = None) -> int: ...
    def __trunc__(self) -> int: ...
    def __floor__(self) -> int: ...
    def __ceil__(self) -> int: ...
    def __reduce__(self) -> tuple[type[AtomicInt], tuple[int]]: ...

    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __lt__(self, other: _Real, /) -> bool: ...
    def __le__(self, other: _Real, /) -> bool: ...
    def __gt__(self, other: _Real, /) -> bool: ...
    def __ge__(self, other: _Real, /) -> bool: ...

    def __neg__(self) -> int: ...
    def __pos__(self) -> int: ...
    def __abs__(self) -> int: ...
    def __invert__(self) -> int: ...

    @overload
    def __add__(self, other: _IntLike, /) -> int: ...
    @overload
    def __add__(self, other: float, /) -> float: ...
    @overload
    def __add__(self, other: complex, /) -> complex: ...
    @overload
    def __add__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __add__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __radd__(self, other: int, /) -> int: ...
    @overload
    def __radd__(self, other: float, /) -> float: ...
    @overload
    def __radd__(self, other: complex, /) -> complex: ...
    @overload
    def __radd__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __radd__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __sub__(self, other: _IntLike, /) -> int: ...
    @overload
    def __sub__(self, other: float, /) -> float: ...
    @overload
    def __sub__(self, other: complex, /) -> complex: ...
    @overload
    def __sub__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __sub__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __rsub__(self, other: int, /) -> int: ...
    @overload
    def __rsub__(self, other: float, /) -> float: ...
    @overload
    def __rsub__(self, other: complex, /) -> complex: ...
    @overload
    def __rsub__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __rsub__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __mul__(self, other: _IntLike, /) -> int: ...
    @overload
    def __mul__(self, other: float, /) -> float: ...
    @overload
    def __mul__(self, other: complex, /) -> complex: ...
    @overload
    def __mul__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __mul__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __rmul__(self, other: int, /) -> int: ...
    @overload
    def __rmul__(self, other: float, /) -> float: ...
    @overload
    def __rmul__(self, other: complex, /) -> complex: ...
    @overload
    def __rmul__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __rmul__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __floordiv__(self, other: _IntLike, /) -> int: ...
    @overload
    def __floordiv__(self, other: float, /) -> float: ...
    @overload
    def __floordiv__(self, other: Fraction, /) -> int: ...
    @overload
    def __floordiv__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __rfloordiv__(self, other: int, /) -> int: ...
    @overload
    def __rfloordiv__(self, other: float, /) -> float: ...
    @overload
    def __rfloordiv__(self, other: Fraction, /) -> int: ...
    @overload
    def __rfloordiv__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __mod__(self, other: _IntLike, /) -> int: ...
    @overload
    def __mod__(self, other: float, /) -> float: ...
    @overload
    def __mod__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __mod__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __rmod__(self, other: int, /) -> int: ...
    @overload
    def __rmod__(self, other: float, /) -> float: ...
    @overload
    def __rmod__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __rmod__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __divmod__(self, other: _IntLike, /) -> tuple[int, int]: ...
    @overload
    def __divmod__(self, other: float, /) -> tuple[float, float]: ...
    @overload
    def __divmod__(self, other: Fraction, /) -> tuple[int, Fraction]: ...
    @overload
    def __divmod__(self, other: Decimal, /) -> tuple[Decimal, Decimal]: ...
    @overload
    def __rdivmod__(self, other: int, /) -> tuple[int, int]: ...
    @overload
    def __rdivmod__(self, other: float, /) -> tuple[float, float]: ...
    @overload
    def __rdivmod__(self, other: Fraction, /) -> tuple[int, Fraction]: ...
    @overload
    def __rdivmod__(self, other: Decimal, /) -> tuple[Decimal, Decimal]: ...
    @overload
    def __truediv__(self, other: _IntLike | float, /) -> float: ...
    @overload
    def __truediv__(self, other: complex, /) -> complex: ...
    @overload
    def __truediv__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __truediv__(self, other: Decimal, /) -> Decimal: ...
    @overload
    def __rtruediv__(self, other: float, /) -> float: ...
    @overload
    def __rtruediv__(self, other: complex, /) -> complex: ...
    @overload
    def __rtruediv__(self, other: Fraction, /) -> Fraction: ...
    @overload
    def __rtruediv__(self, other: Decimal, /) -> Decimal: ...
    # int ** int is an int or a float, a float ** int a float or a complex: Any, as in typeshed.
    def __pow__(self, other: _IntLike | complex | Fraction | Decimal, modulo: _IntLike | Decimal | None = None, /) -> Any: ...
    def __rpow__(self, other: complex | Fraction | Decimal, modulo: _IntLike | Decimal | None = None, /) -> Any: ...
    def __lshift__(self, other: _IntLike, /) -> int: ...
    def __rlshift__(self, other: int, /) -> int: ...
    def __rshift__(self, other: _IntLike, /) -> int: ...
    def __rrshift__(self, other: int, /) -> int: ...
    def __and__(self, other: _IntLike, /) -> int: ...
    def __rand__(self, other: int, /) -> int: ...
    def __or__(self, other: _IntLike, /) -> int: ...
    def __ror__(self, other: int, /) -> int: ...
    def __xor__(self, other: _IntLike, /) -> int: ...
    def __rxor__(self, other: int, /) -> int: ...

    # In-place operators take ints only, narrower than the binary ones on purpose: `a += 1.5`
    # raises TypeError (the value stays an int64) rather than rebinding `a` to a float; mypy
    # asks in-place operators to accept what the binary ones do, hence the ignores.
    def __iadd__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a += n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __isub__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a -= n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __imul__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a *= n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __ifloordiv__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a //= n``: one atomic, lock-free operation (floor division); returns ``a``."""
    def __imod__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a %= n``: one atomic, lock-free operation (sign of ``n``); returns ``a``."""
    # mypy also wants __ipow__ to mirror __pow__'s optional modulo, which `**=` never passes.
    def __ipow__(self, other: _IntLike, /) -> AtomicInt:  # type: ignore[misc]
        """``a **= n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __ilshift__(self, other: _IntLike, /) -> AtomicInt:
        """``a <<= n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __irshift__(self, other: _IntLike, /) -> AtomicInt:
        """``a >>= n``: one atomic, lock-free operation; returns ``a`` itself."""
    def __iand__(self, other: _IntLike, /) -> AtomicInt:
        """``a &= n``: one atomic, wait-free instruction; returns ``a`` itself."""
    def __ior__(self, other: _IntLike, /) -> AtomicInt:
        """``a |= n``: one atomic, wait-free instruction; returns ``a`` itself."""
    def __ixor__(self, other: _IntLike, /) -> AtomicInt:
        """``a ^= n``: one atomic, wait-free instruction; returns ``a`` itself."""

@final
class AtomicRef(Generic[_T]):
    """An atomic reference to any Python object.

    Every method is one atomic, linearizable operation. ``compare_and_set`` and
    ``compare_and_exchange`` compare by identity (``is``), not equality.

    Safe under free threading without CPython internals: an object that one thread replaces
    is released only after every thread that may have just read it holds its own reference.

    Takes part in cyclic garbage collection (a ref that holds itself is collected). Hashable
    by identity, like any object with no ``__eq__``.
    """

    def __new__(cls, value: _T = ...) -> AtomicRef[_T]:
        """Create one holding ``value`` (default ``None``)."""
    def get(self) -> _T:
        """The current object. Atomic, wait-free."""
    def set(self, value: _T) -> None:
        """Store ``value``. Atomic, wait-free."""
    def get_and_set(self, value: _T) -> _T:
        """Store ``value`` and return the previous object. Atomic, wait-free."""
    def compare_and_set(self, expected: object, desired: _T) -> bool:
        """Store ``desired`` if the current object *is* ``expected``; return whether it did.
        Atomic, wait-free."""
    def compare_and_exchange(self, expected: object, desired: _T) -> _T:
        """Store ``desired`` if the current object *is* ``expected``; return the object found
        (``expected`` itself exactly when it stored). Atomic, wait-free."""
    def update_and_get(self, fn: Callable[[_T], _T]) -> _T:
        """Replace the object ``v`` with ``fn(v)``; return the new object.

        Atomic and lock-free: a compare-and-swap loop by identity, so ``fn`` may run more
        than once (when another thread stores in between): keep it pure. An exception from
        ``fn`` propagates and leaves the reference unchanged."""
    def get_and_update(self, fn: Callable[[_T], _T]) -> _T:
        """As :meth:`update_and_get`, returning the previous object. ``fn`` may run more than
        once."""
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        """``AtomicRef[T]`` for annotations."""
    def __reduce__(self) -> tuple[type[AtomicRef[_T]], tuple[()], _T]: ...
    def __setstate__(self, value: _T, /) -> None: ...

@final
class AtomicCounter:
    """A counter for hot increments from many threads (Java's ``LongAdder``).

    The count is spread over cache-line-padded cells, so threads incrementing at once do not
    contend on one cache line; :meth:`get` sums the cells.

    ``increment``/``decrement`` are atomic and lock-free. ``get`` is wait-free and exact when no
    increment runs concurrently; during concurrent increments it counts each one wholly or not
    at all, but is not a linearizable snapshot. ``get_and_reset`` counts every increment exactly
    once: in its result or in the counter afterwards.

    Unhashable (``__hash__ is None``), like other mutable containers.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    def __new__(cls, value: SupportsIndex = 0) -> AtomicCounter:
        """Create one starting at ``value`` (an int within int64)."""
    def increment(self, n: SupportsIndex = 1) -> None:
        """Add ``n``. Atomic, lock-free. Cells never wrap: ``OverflowError`` (counter
        unchanged) if no cell can take ``n``, which means the sum would leave int64. (Increments
        landing in different cells can still take the sum past int64; it is kept exactly and
        :meth:`get` raises until it is back in range.)"""
    def decrement(self, n: SupportsIndex = 1) -> None:
        """Subtract ``n``. Atomic, lock-free. ``OverflowError`` as for :meth:`increment`."""
    def get(self) -> int:
        """The sum of the cells. Wait-free. ``OverflowError`` while the sum is outside int64."""
    def reset(self) -> None:
        """Set the count to 0. Wait-free; a concurrent increment survives or is erased,
        wholly."""
    def get_and_reset(self) -> int:
        """Set the count to 0 and return what it was (exact, even beyond int64). Wait-free;
        every increment is counted exactly once: here or in the counter afterwards."""
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __reduce__(self) -> tuple[type[AtomicCounter], tuple[int]]: ...

_K = TypeVar("_K")
_V = TypeVar("_V")

@final
class NotFoundType:
    """The type of :data:`NOT_FOUND`, a singleton meaning "no value"."""

NOT_FOUND: NotFoundType
"""Sentinel for "no value": the key is absent (as an argument or a result of the atomics)."""

@final
class AtomicDictIterator(Generic[_T]):
    """A weakly consistent iterator over an AtomicDict (``iter(d)``, and the iterators of its
    views), in insertion order.

    Never raises because of concurrent changes. It visits the entries that existed when it
    began: every key present for the whole iteration is yielded exactly once, no key is yielded
    twice, and keys inserted (or deleted and inserted again) after it began may be missed, so
    ``for k in d: d[new_key()] = 1`` ends. A value is one its key held during the iteration.

    Lock-free, and may be shared between threads: each item goes to exactly one of them.
    Holds its dict alive, as dict's iterators do, but no table: an idle iterator keeps a few
    bytes per table migration since it began, and nothing once the dict is cleared. Pickles
    and copies, as dict's iterators do, as an iterator over the items not yet yielded.
    """

    def __iter__(self) -> AtomicDictIterator[_T]: ...
    def __next__(self) -> _T: ...
    def __reduce__(self) -> tuple[Callable[[list[_T]], Iterator[_T]], tuple[list[_T]]]:
        """``(iter, (list_of_the_items_not_yet_yielded,))``; the iterator does not advance."""

@disjoint_base
class AtomicDictBase(Generic[_K, _V]):
    """The compiled base of :class:`lockless.AtomicDict`; use that class.

    Every method here is one lock-free engine operation (no thread ever waits for another) and
    linearizable per key. Functions passed to ``compute``/``merge``/``replace``/``add`` run
    inside a retry loop and may run more than once: keep them pure. No Python code that a
    method calls (``__eq__``, those functions, ``__del__``) runs while the thread holds back
    memory reclamation, so one that blocks delays no release.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __len__(self) -> int:
        """Live keys; exact when no write is in flight (striped counters, no lock)."""
    def __contains__(self, key: object, /) -> bool:
        """Atomic lookup."""
    def __getitem__(self, key: _K, /) -> _V:
        """Atomic lookup; a subclass's ``__missing__`` supplies absent keys, as for dict."""
    def __setitem__(self, key: _K, value: _V, /) -> None:
        """Atomic store; an existing key keeps its place in the order."""
    def __delitem__(self, key: _K, /) -> None:
        """Atomic delete; KeyError if absent."""
    def __iter__(self) -> AtomicDictIterator[_K]:
        """Weakly consistent iteration over keys in insertion order: see AtomicDictIterator."""
    def _iter_items(self) -> AtomicDictIterator[tuple[_K, _V]]: ...
    def _iter_values(self) -> AtomicDictIterator[_V]: ...
    @overload
    def get(self, key: _K, default: None = None) -> _V | None: ...
    @overload
    def get(self, key: _K, default: _T) -> _V | _T: ...
    @overload
    def pop(self, key: _K) -> _V:
        """Atomically removes the key and returns its value (or ``default``; else KeyError)."""
    @overload
    def pop(self, key: _K, default: _T) -> _V | _T: ...
    def popitem(self) -> tuple[_K, _V]:
        """Atomically removes and returns the most recently inserted live entry (KeyError if
        empty). Under concurrent inserts it is the last of those present when it began."""
    def setdefault(self, key: _K, default: _V = ...) -> _V:
        """Atomic: of several racing callers exactly one inserts; all get the stored value."""
    def clear(self) -> None:
        """Removes every key in one atomic step (a migration to an empty table): a racing write
        lands either before (and is cleared) or after."""
    def compare_and_set(self, key: _K, expected: _V | NotFoundType, desired: _V | NotFoundType) -> bool:
        """If the key's value *is* ``expected`` (identity; NOT_FOUND: the key is absent), store
        ``desired`` (NOT_FOUND: delete). Returns whether it swapped. Linearizable, lock-free."""
    def compare_and_exchange(
        self, key: _K, expected: _V | NotFoundType, desired: _V | NotFoundType
    ) -> _V | NotFoundType:
        """Like :meth:`compare_and_set`, but returns the value found (or NOT_FOUND), whether
        or not it swapped; it swapped exactly when the result is ``expected``."""
    def replace(self, key: _K, old: _V, new: _V) -> bool:
        """If the key is present with a value equal to ``old`` (``==``), store ``new``; returns
        whether it did. Atomic (like Java's ConcurrentHashMap.replace)."""
    def get_and_set(self, key: _K, value: _V) -> _V | NotFoundType:
        """Atomically stores ``value``; returns the previous value or NOT_FOUND."""
    def compute(self, key: _K, fn: Callable[[_V | NotFoundType], _V | NotFoundType]) -> _V | NotFoundType:
        """Atomically stores ``fn(current or NOT_FOUND)`` (NOT_FOUND deletes) and returns it.
        Retried on conflict, so ``fn`` may run more than once: keep it pure."""
    def compute_if_absent(self, key: _K, factory: Callable[[_K], _V]) -> _V:
        """Returns the key's value; if absent, stores ``factory(key)``. ``factory`` is not
        called when the key is present; racing callers may each call it, one result is stored
        and returned to all."""
    def merge(self, key: _K, value: _V, fn: Callable[[_V, _V], _V | NotFoundType]) -> _V | NotFoundType:
        """Atomically: absent -> ``value``; else ``fn(old, value)`` (NOT_FOUND deletes).
        Returns the new value. ``fn`` may run more than once."""
    def add(self, key: _K, amount: Any = ..., default: Any = ...) -> Any:
        """The race-free ``d[key] += amount`` (absent counts as ``default``); returns the new
        value. Atomic and lock-free."""
    def get_many(self, keys: Iterable[_K], default: _T = ...) -> list[_V | _T]:
        """Looks up every key (each atomically; the batch is not a snapshot)."""
    def reserve(self, additional: int) -> None:
        """Makes room for ``additional`` more keys; an impossible request raises MemoryError or
        OverflowError and leaves the dict unchanged."""
    def stats(self) -> dict[str, int]:
        """Diagnostics: capacity, len, dead, migrations, longest_probe (walks the table)."""
    def thread_handle(self) -> Self:
        """Another object of this type for the same contents, for one thread to use.

        Everything done through a handle is done to this dict (and the other way round); only
        the object differs. On free-threaded CPython every access to a shared object writes its
        reference count, so threads that use one dict object contend on that cache line; a
        handle made by (and used in) each thread avoids it. A handle keeps this dict alive."""
    def __class_getitem__(cls, item: Any) -> GenericAlias: ...
    def _copy_into(self, target: AtomicDictBase[_K, _V]) -> None: ...
    def reduce(self, pairs: Iterable[tuple[_K, Any]], fn: Callable[[_K, Any, Any], Any]) -> None:
        """Aggregates ``pairs``: each key is hashed once; the batch is combined per key with
        ``fn(key, acc_or_NOT_FOUND, value)``, then each key is merged into the map once,
        atomically, with ``fn(key, current_or_NOT_FOUND, combined)`` (NOT_FOUND deletes). So
        ``fn`` should be associative (a sum, a max, a union). Each key's merge is atomic; the
        batch as a whole is not. ``fn`` may run more than once per merge."""

if sys.version_info >= (3, 13):
    from queue import ShutDown as ShutDown
else:
    class ShutDown(Exception):
        """Raised by put and get on a shut-down AtomicQueue (queue.ShutDown from Python 3.13)."""

@final
class AtomicQueue(Generic[_T]):
    """A lock-free multi-producer multi-consumer FIFO queue: a drop-in ``queue.Queue``.

    Same methods and semantics as ``queue.Queue`` (Python 3.13), raising the stdlib's
    ``queue.Empty``, ``queue.Full`` and ``queue.ShutDown`` (before 3.13, a ``ShutDown`` class of
    lockless's own). Linearizable: items from one producer come out in the order it put them,
    and no item is lost or delivered twice; a bounded queue never holds more than ``maxsize``.

    ``put`` on a queue with room and ``get`` on a non-empty queue take no lock and make no
    system call. Blocking calls sleep detached from the interpreter (other threads and the
    garbage collector run), wake as soon as an item or a slot arrives, honour timeouts, and are
    interrupted by Ctrl-C on the main thread. Takes part in cyclic garbage collection; dropping
    the queue releases its items. Not picklable, like ``queue.Queue``.
    """

    def __new__(cls, maxsize: int = 0) -> AtomicQueue[_T]:
        """A queue of at most ``maxsize`` items; ``maxsize <= 0`` means unbounded."""
    @property
    def maxsize(self) -> int:
        """The bound given at construction (``<= 0``: unbounded)."""
    @property
    def unfinished_tasks(self) -> int:
        """Items put and not yet marked done with :meth:`task_done`."""
    @property
    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` has been called."""
    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` at the tail. Lock-free on a queue with room. A full bounded queue blocks
        (at most ``timeout`` seconds, then ``queue.Full``); with ``block`` false it raises
        ``queue.Full`` at once. A negative ``timeout`` raises ValueError (bounded queues, as
        ``queue.Queue``). ``queue.ShutDown`` after :meth:`shutdown`."""
    def put_nowait(self, item: _T) -> None:
        """``put(item, block=False)``: ``queue.Full`` if there is no room now. Lock-free."""
    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return the item at the head. Lock-free on a non-empty queue. An empty
        queue blocks (at most ``timeout`` seconds, then ``queue.Empty``); with ``block`` false it
        raises ``queue.Empty`` at once. A negative ``timeout`` raises ValueError.
        ``queue.ShutDown`` once the queue is shut down and empty."""
    def get_nowait(self) -> _T:
        """``get(block=False)``: ``queue.Empty`` if there is no item now. Lock-free."""
    def qsize(self) -> int:
        """The number of items (exact when no put or get runs at the same time)."""
    def empty(self) -> bool:
        """Whether the queue holds no item (may change at once, as for ``queue.Queue``)."""
    def full(self) -> bool:
        """Whether a bounded queue holds ``maxsize`` items (may change at once)."""
    def task_done(self) -> None:
        """Mark one task done (an item got earlier); ValueError if called more times than
        items were put. Lock-free."""
    def join(self) -> None:
        """Block until every item put has been marked done with :meth:`task_done`."""
    def shutdown(self, immediate: bool = False) -> None:
        """Refuse further puts (``queue.ShutDown``); gets drain the items left, then raise
        ``queue.ShutDown``. With ``immediate``, remove the items left first (marking their tasks
        done), so gets raise at once. Wakes every blocked caller."""
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        """``AtomicQueue[T]`` for annotations."""

@final
class AtomicSetIterator(Generic[_T]):
    """A weakly consistent iterator over an AtomicSet, in insertion order.

    Never raises because of concurrent changes and never yields an element twice; yields each
    element present for the whole iteration exactly once; elements removed meanwhile may or may
    not appear, elements added after it began may be missed. Holds the set alive. Lock-free and
    shareable: threads stepping one iterator each get distinct elements.
    """

    def __iter__(self) -> AtomicSetIterator[_T]: ...
    def __next__(self) -> _T: ...

@disjoint_base
class AtomicSetBase(Generic[_T]):
    """The compiled base of :class:`lockless.AtomicSet`; use that class.

    Every method here is one lock-free engine operation (no thread ever waits for another) and
    linearizable. Elements are hashed once per call; their ``__eq__`` never runs while the
    thread holds back memory reclamation.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __len__(self) -> int:
        """Elements present; exact when no write is in flight (striped counters, no lock)."""
    def __contains__(self, key: object, /) -> bool:
        """Atomic membership test (a ``set`` argument is looked up as a frozenset, as in set)."""
    def __iter__(self) -> AtomicSetIterator[_T]:
        """Weakly consistent iteration in insertion order."""
    def add(self, key: _T, /) -> None:
        """Atomically adds ``key`` if no equal element is present."""
    def discard(self, key: object, /) -> None:
        """Atomically removes ``key`` if present."""
    def remove(self, key: object, /) -> None:
        """Atomically removes ``key``; KeyError if absent."""
    def add_if_absent(self, key: _T, /) -> bool:
        """Atomically adds ``key`` if absent; returns whether this call added it. Of racing
        callers with equal keys, exactly one gets True."""
    def discard_if_present(self, key: object, /) -> bool:
        """Atomically removes ``key`` if present; returns whether this call removed it. Of
        racing callers, exactly one gets True for each time the key was present."""
    def thread_handle(self) -> Self:
        """Another object of this type for the same elements, for one thread to use.

        Everything done through a handle is done to this set (and the other way round); only
        the object differs. On free-threaded CPython every access to a shared object writes its
        reference count, so threads that use one set contend on that cache line; a handle made
        by (and used in) each thread avoids it. A handle keeps this set alive."""
    def pop(self) -> _T:
        """Atomically removes and returns an element (the most recently added); KeyError if
        the set is empty."""
    def clear(self) -> None:
        """Removes every element in one atomic step: a racing add lands either before (and is
        cleared) or after."""
    def _has(self, key: object, /) -> bool: ...
    def _toggle(self, key: _T, /) -> bool: ...
    def _add_all(self, iterable: Iterable[_T], /) -> None: ...
    def _discard_all(self, iterable: Iterable[object], /) -> None: ...
    def __class_getitem__(cls, item: Any) -> GenericAlias: ...

@final
class AtomicCounterDictIterator(Generic[_T]):
    """A weakly consistent iterator over an AtomicCounterDict (its keys, counts or
    ``(key, count)`` pairs), in insertion order.

    Never raises because of concurrent changes and never yields a key twice; yields each key
    present for the whole iteration exactly once, with its count when the iterator reached it;
    keys added after it began may be missed. Holds the counter dict alive. Lock-free and
    shareable: threads stepping one iterator each get distinct entries.
    """

    def __iter__(self) -> AtomicCounterDictIterator[_T]: ...
    def __next__(self) -> _T: ...

@disjoint_base
class AtomicCounterDictBase(Generic[_K]):
    """The compiled base of :class:`lockless.AtomicCounterDict`; use that class.

    Every method here is one lock-free engine operation (no thread ever waits for another) and
    linearizable per key. Counts are signed 64-bit ints stored in the table: an increment is one
    atomic step on the key's slot and allocates nothing. A count that is not an int raises
    TypeError, one outside the signed 64-bit range OverflowError, and neither changes anything.
    Keys are hashed once per call; their ``__eq__`` never runs while the thread holds back memory
    reclamation.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    def __len__(self) -> int:
        """Keys present; exact when no write is in flight (striped counters, no lock)."""
    def __contains__(self, key: object, /) -> bool:
        """Atomic membership test."""
    def __getitem__(self, key: _K, /) -> int:
        """The key's count; 0 for a missing key, which is not inserted (as Counter)."""
    def __setitem__(self, key: _K, n: int, /) -> None:
        """Atomically sets the key's count (TypeError for a non-int, and nothing changes)."""
    def __delitem__(self, key: _K, /) -> None:
        """Atomically removes the key; a missing key is no error (as Counter)."""
    def __iter__(self) -> AtomicCounterDictIterator[_K]:
        """Weakly consistent iteration over the keys in insertion order."""
    def _iter_items(self) -> AtomicCounterDictIterator[tuple[_K, int]]: ...
    def _iter_values(self) -> AtomicCounterDictIterator[int]: ...
    @overload
    def get(self, key: _K, default: None = None) -> int | None: ...
    @overload
    def get(self, key: _K, default: int | _T) -> int | _T: ...
    @overload
    def pop(self, key: _K) -> int:
        """Atomically removes the key and returns its count (or ``default``; else KeyError)."""
    @overload
    def pop(self, key: _K, default: int | _T) -> int | _T: ...
    def popitem(self) -> tuple[_K, int]:
        """Atomically removes and returns the most recently inserted ``(key, count)``; KeyError
        if empty."""
    def setdefault(self, key: _K, default: int = 0) -> int:
        """The key's count; if absent, atomically inserts it with ``default`` first."""
    def clear(self) -> None:
        """Removes every key in one atomic step."""
    def add(self, key: _K, n: int = 1) -> int:
        """Atomically adds ``n`` to the key's count (inserting it at 0 first if absent) and
        returns the new count. OverflowError, and the count unchanged, if the sum leaves the
        signed 64-bit range. Lock-free; allocates nothing for counts below 2**59 in size."""
    def get_and_add(self, key: _K, n: int = 1) -> int:
        """As ``add``, but returns the count before."""
    def compare_and_set(self, key: _K, expected: int, desired: int) -> bool:
        """Atomically: if the key's count is ``expected`` (a missing key counts as 0), sets it
        to ``desired`` (inserting the key) and returns True; else returns False."""
    def get_and_set(self, key: _K, n: int) -> int:
        """Atomically sets the key's count to ``n``; returns the count before (0 if absent)."""
    def get_and_reset(self, key: _K) -> int:
        """Atomically sets a present key's count to 0, keeping the key; returns the count
        before (0, inserting nothing, if absent)."""
    def thread_handle(self) -> Self:
        """Another object of this type for the same counts, for one thread to use.

        Everything done through a handle is done to this counter dict (and the other way round);
        only the object differs. On free-threaded CPython every access to a shared object writes
        its reference count, so threads that use one object contend on that cache line; a handle
        made by (and used in) each thread avoids it. A handle keeps this counter dict alive."""
    def _count_all(self, iterable: Iterable[_K], sign: int, /, *, short: int = ..., sample: int = ..., chunk: int = ...) -> None: ...
    def _add_pairs(self, pairs: Iterable[tuple[_K, int]], sign: int, /) -> None: ...
    def _discard_nonpositive(self, key: _K, /) -> bool: ...
    def __class_getitem__(cls, item: Any) -> GenericAlias: ...
