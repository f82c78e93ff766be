"""The implementations under test, each a small adapter.

An adapter says how to make the object (`new`) and gives the *source text* of each operation
(`get`, `set`, ...), written with the names the workload loops use: `m` (the map, counter or
reference), `k` (the key), `v` (the value), `lock` (a `threading.Lock` shared by the threads).
The workloads paste these snippets into their loops and compile one function per
(workload, adapter), so every implementation runs the code a user would write, with no extra
call per operation. `guard` wraps each operation (for example in `with lock:`).

`local(m)` runs once in each thread before the start barrier and returns what that thread
operates on: the object itself, or a per-thread handle (lockless's `thread_handle()`,
cereggii's ThreadHandle).

An adapter whose module does not import is skipped (`available()` is false).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

#: Operation names a map adapter may define, with the snippet most mappings use.
MAP_OPS = {
    "get": "m[k]",
    "contains": "k in m",
    "miss": "k in m",
    "set": "m[k] = v",
    "delete": "del m[k]",
    "add": None,  # hot counters: the race-free m[k] += 1; None means unsupported
    "iterate": "for _ in m: pass",
    "len": "len(m)",
}


class Impl:
    """Base adapter. `kind` is "map", "int" or "ref"; `family` groups it in plots and ratios."""

    name = "?"
    kind = "map"
    module: str | None = None  # imported by available()
    guard: str | None = None  # e.g. "with lock:"
    #: Workloads this adapter must not run (for example a plain dict's lost-update RMW).
    unsafe: frozenset[str] = frozenset()
    ops: dict[str, str | None] = {}

    def available(self) -> bool:
        if self.module is None:
            return True
        try:
            importlib.import_module(self.module)
        except ImportError:
            return False
        return True

    def mod(self) -> Any:
        assert self.module is not None
        return importlib.import_module(self.module)

    def op(self, name: str) -> str | None:
        if self.kind == "map":
            return self.ops.get(name, MAP_OPS.get(name))
        return self.ops.get(name)

    def supports(self, workload: str, needs: tuple[str, ...]) -> bool:
        return workload not in self.unsafe and all(self.op(n) is not None for n in needs)

    def new(self, items: dict[Any, Any] | None = None) -> Any:
        raise NotImplementedError

    def local(self, m: Any) -> Any:
        return m

    def read(self, m: Any, k: Any = None) -> int:
        """The value of a counter (k None) or of counter key k in a map; for checking totals."""
        return int(m if k is None else m[k])

    def lock(self) -> threading.Lock:
        return threading.Lock()

    def namespace(self) -> dict[str, Any]:
        """Globals the snippets need."""
        return {}


# --- maps ---------------------------------------------------------------------------------------


class Lockless(Impl):
    name = "lockless"
    module = "lockless"
    ops = {"add": "m.add(k)"}

    def new(self, items=None):
        d = self.mod().AtomicDict()
        if items:
            d.reserve(len(items))
            for key, value in items.items():
                d[key] = value
        return d


class LocklessHandle(Lockless):
    """An extra, not the drop-in form: lockless's AtomicDict through a per-thread
    `thread_handle()`: the same table, an object of the thread's own, so threads do not contend
    on one object's reference count. Issue 17's goals are about the shared object (`lockless`);
    this form is kept to show it stays at least as fast."""

    name = "lockless-handle"

    def local(self, m):
        return m.thread_handle()


class Dict(Impl):
    """A plain dict, no lock. On 3.13t each single dict operation is atomic (the dict's own
    per-object lock), so get/set/delete are safe; `m[k] += 1` is not (lost updates)."""

    name = "dict"
    unsafe = frozenset({"hot-counters"})

    def new(self, items=None):
        return dict(items or {})


class DictLock(Impl):
    name = "dict+Lock"
    guard = "with lock:"
    ops = {"add": "m[k] += 1"}

    def new(self, items=None):
        return dict(items or {})


class Cereggii(Impl):
    """cereggii's AtomicDict, one object shared by every thread. It has no `in` and no
    `__iter__`: `k in m` (hit or miss) is `m.get(k)` and iteration is `fast_iter()`. Its atomic add is a compare_and_set loop (compare_and_set raises
    ExpectationFailed on a mismatch); that measured about 2x faster than `reduce_sum([(k, 1)])`
    per key, so it is the fairer choice."""

    name = "cereggii"
    module = "cereggii"
    ops = {
        "contains": "m.get(k)",
        "miss": "m.get(k)",
        "iterate": "for _ in m.fast_iter(): pass",
        "add": "while True:\n    old = m[k]\n    try:\n        m.compare_and_set(k, old, old + 1)\n"
               "        break\n    except ExpectationFailed:\n        pass",
    }

    def namespace(self):
        return {"ExpectationFailed": self.mod().ExpectationFailed}

    def new(self, items=None):
        d = self.mod().AtomicDict()
        for key, value in (items or {}).items():
            d[key] = value
        return d


class FtUtils(Impl):
    """ft_utils' ConcurrentDict, one object shared by every thread. It has no atomic update, so its hot counters are AtomicInt64
    values incremented in place (the package's own idiom for counters)."""

    name = "ft_utils"
    module = "ft_utils.concurrency"
    ops = {"add": "m[k].incr()"}

    def new(self, items=None):
        d = self.mod().ConcurrentDict()
        for key, value in (items or {}).items():
            d[key] = value
        return d

    def counters(self, keys):
        d = self.new()
        for key in keys:
            d[key] = self.mod().AtomicInt64(0)
        return d

    def read(self, m, k=None):
        return int(m.get() if k is None else m[k].get())


# --- integers -----------------------------------------------------------------------------------


class LocklessInt(Impl):
    name = "lockless.AtomicInt"
    kind = "int"
    module = "lockless"
    ops = {"inc": "m.increment_and_get()"}

    def new(self, items=None):
        return self.mod().AtomicInt(0)


class LocklessCounter(Impl):
    name = "lockless.AtomicCounter"
    kind = "int"
    module = "lockless"
    ops = {"inc": "m.increment()"}

    def new(self, items=None):
        return self.mod().AtomicCounter(0)

    def read(self, m, k=None):
        return m.get()


class IntLock(Impl):
    """An int in a one-element list, behind a Lock."""

    name = "int+Lock"
    kind = "int"
    guard = "with lock:"
    ops = {"inc": "m[0] += 1"}

    def new(self, items=None):
        return [0]

    def read(self, m, k=None):
        return m[0]


class CereggiiInt(Impl):
    name = "cereggii.AtomicInt64"
    kind = "int"
    module = "cereggii"
    ops = {"inc": "m.increment_and_get(1)"}

    def new(self, items=None):
        return self.mod().AtomicInt64(0)

    def read(self, m, k=None):
        return m.get()


class CereggiiIntHandle(CereggiiInt):
    name = "cereggii.AtomicInt64-handle"

    def local(self, m):
        return m.get_handle()


class FtUtilsInt(Impl):
    name = "ft_utils.AtomicInt64"
    kind = "int"
    module = "ft_utils.concurrency"
    ops = {"inc": "m.incr()"}

    def new(self, items=None):
        return self.mod().AtomicInt64(0)

    def read(self, m, k=None):
        return m.get()


# --- references ---------------------------------------------------------------------------------


class LocklessRef(Impl):
    name = "lockless.AtomicRef"
    kind = "ref"
    module = "lockless"
    ops = {"get": "m.get()", "set": "m.set(v)"}

    def new(self, items=None):
        return self.mod().AtomicRef(None)


class ListCell(Impl):
    """A one-element list, no lock: a single slot load or store is atomic on 3.13t."""

    name = "list-cell"
    kind = "ref"
    ops = {"get": "m[0]", "set": "m[0] = v"}

    def new(self, items=None):
        return [None]


class ListCellLock(ListCell):
    name = "list-cell+Lock"
    guard = "with lock:"


class CereggiiRef(Impl):
    name = "cereggii.AtomicRef"
    kind = "ref"
    module = "cereggii"
    ops = {"get": "m.get()", "set": "m.set(v)"}

    def new(self, items=None):
        return self.mod().AtomicRef(None)


class FtUtilsRef(Impl):
    name = "ft_utils.AtomicReference"
    kind = "ref"
    module = "ft_utils.concurrency"
    ops = {"get": "m.get()", "set": "m.set(v)"}

    def new(self, items=None):
        return self.mod().AtomicReference(None)


# --- calibration ------------------------------------------------------------------------------


class LocalLoop(Impl):
    """No shared object at all: each thread counts in a local variable. Its scaling is the
    most this machine can give any implementation at that moment (other processes included)."""

    name = "thread-local loop"
    kind = "calibrate"
    ops = {"inc": "x += 1"}

    def new(self, items=None):
        return None


ALL: list[Impl] = [
    LocalLoop(),
    Lockless(),
    LocklessHandle(),
    Dict(),
    DictLock(),
    Cereggii(),
    FtUtils(),
    LocklessInt(),
    LocklessCounter(),
    IntLock(),
    CereggiiInt(),
    CereggiiIntHandle(),
    FtUtilsInt(),
    LocklessRef(),
    ListCell(),
    ListCellLock(),
    CereggiiRef(),
    FtUtilsRef(),
]


def available(kind: str) -> list[Impl]:
    return [impl for impl in ALL if impl.kind == kind and impl.available()]


def os_cpus() -> int:
    import os

    return os.cpu_count() or 1
