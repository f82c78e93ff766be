"""lockless: lock-free concurrent collections for free-threaded Python.

* :class:`AtomicDict` -- a lock-free, insertion-ordered drop-in ``dict`` with atomic
  read-modify-write (compare-and-set, compute, merge, add).
* :class:`AtomicSet` -- a lock-free, insertion-ordered drop-in ``set`` with atomic
  ``add_if_absent``/``discard_if_present``.
* :class:`AtomicCounterDict` -- a lock-free drop-in ``collections.Counter`` whose int64 counts
  live in the table, so an increment is one atomic step that allocates nothing.
* :class:`AtomicInt` -- a signed 64-bit integer updated atomically (Java's ``AtomicLong``).
* :class:`AtomicRef` -- an atomic reference to any object (Java's ``AtomicReference``).
* :class:`AtomicCounter` -- a striped counter for hot increments (Java's ``LongAdder``).
* :class:`AtomicQueue` -- a lock-free multi-producer multi-consumer FIFO, a drop-in
  ``queue.Queue``. :class:`ShutDown` is what it raises after ``shutdown()``:
  ``queue.ShutDown`` from Python 3.13, a class of lockless's own before.

Every type is safe to share between threads without a lock, on the free-threaded build
(``python3.13t``) and on the regular GIL build alike. See ``docs/consistency.md`` for the
exact guarantees.
"""

from lockless._lockless import AtomicCounter, AtomicDictIterator, AtomicInt, AtomicQueue, AtomicRef, ShutDown
from lockless._lockless import __version__ as __version__

from lockless._dict import NOT_FOUND, AtomicDict
from lockless._set import AtomicSet
from lockless._counter import AtomicCounterDict

__all__ = [
    "NOT_FOUND",
    "AtomicCounter",
    "AtomicCounterDict",
    "AtomicDict",
    "AtomicDictIterator",
    "AtomicInt",
    "AtomicQueue",
    "AtomicRef",
    "AtomicSet",
    "ShutDown",
]
