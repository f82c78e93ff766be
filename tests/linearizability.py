"""A linearizability checker for lockless's types (a library for the tests and the soak run).

Record a history from real threads: every operation's call and return time
(``time.perf_counter_ns``, one monotonic clock for all threads), its arguments and its result,
with a unique value per write. Then ask whether some sequential order of the operations that
respects real time (an operation that returned before another was called comes first) explains
every result under a sequential model. Linearizability is local (Herlihy & Wing), so a dict's
history is checked one key at a time.

The search is Wing & Gong's: repeatedly pick, among the operations not yet placed, one that no
other unplaced operation returned before; apply it to the model; backtrack when a result
disagrees. Lowe's memo (placed set, model state) prunes the revisits, so a few dozen operations
per key check in milliseconds. A history that fails is minimized (operations dropped one at a
time while it still fails and every value read was still written by someone) and printed.

Models (state after each operation, and whether the recorded result is the one it gives):

* :class:`DictKeyModel` -- one key of an AtomicDict: get, set, delete, compare_and_set
  (identity), add, setdefault.
* :class:`SetElementModel` -- one element of an AtomicSet: add, discard, contains,
  add_if_absent, discard_if_present.
* :class:`CountKeyModel` -- one key of an AtomicCounterDict: get, add, get_and_add,
  compare_and_set (an absent key counts as 0), get_and_set, get_and_reset, delete.
* :class:`IntModel` -- an AtomicInt: get, set, increment_and_get, compare_and_set.
* :class:`RefModel` -- an AtomicRef: get, set, compare_and_set (identity).
* :class:`QueueModel` -- an AtomicQueue (optionally bounded): put, put_nowait (FULL when
  full), get_nowait (EMPTY when empty), qsize.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conftest import run_threads
from lockless import NOT_FOUND, AtomicCounterDict, AtomicDict, AtomicInt, AtomicQueue, AtomicRef, AtomicSet

ABSENT = NOT_FOUND  # a key's state when it is not in the dict (and what get returns then)


@dataclass(frozen=True, eq=False)
class Op:
    """One completed call: who, on which key, what, what it returned, and when (ns)."""

    thread: int
    key: Hashable
    name: str
    args: tuple[Any, ...]
    result: Any
    call: int
    ret: int

    def describe(self) -> str:
        args = ", ".join(_show(a) for a in self.args)
        return f"{self.name}({args}) -> {_show(self.result)}"


def _show(x: Any) -> str:
    return "ABSENT" if x is ABSENT else repr(x)


# --- sequential models ------------------------------------------------------------------------------


class Model:
    """A sequential specification. ``apply`` returns (the recorded result is the model's, state
    after). For the well-formedness rule of minimization, ``reads`` and ``writes`` name the
    values an operation observes and stores."""

    initial: Any = None

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        raise NotImplementedError

    def state_key(self, state: Any) -> Hashable:
        return id(state)

    def reads(self, op: Op) -> Iterable[Hashable]:
        return ()

    def writes(self, op: Op) -> Iterable[Hashable]:
        return ()


class DictKeyModel(Model):
    """One key of a dict. Values are compared by identity (the dict stores and returns the very
    objects), except ``add``, whose result must equal the old value plus the amount (it then is
    the stored object)."""

    initial = ABSENT

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, args, result = op.name, op.args, op.result
        if name == "get":
            return result is state, state
        if name == "set":
            return result is None, args[0]
        if name == "delete":
            return result == (state is not ABSENT), ABSENT
        if name == "compare_and_set":
            expected, desired = args
            swapped = state is expected
            return result == swapped, desired if swapped else state
        if name == "add":
            (amount,) = args
            new = (0 if state is ABSENT else state) + amount
            return result == new, result
        if name == "setdefault":
            (default,) = args
            if state is ABSENT:
                return result is default, default
            return result is state, state
        raise ValueError(f"DictKeyModel: unknown operation {name}")

    # Values in these histories are ints (unique per write), so reads and writes name values by
    # value: add's previous value is known only as a number.
    def reads(self, op: Op) -> Iterable[Hashable]:
        if op.name == "get" and op.result is not ABSENT:
            yield op.result
        elif op.name == "compare_and_set" and op.result and op.args[0] is not ABSENT:
            yield op.args[0]
        elif op.name == "setdefault" and op.result is not op.args[0]:
            yield op.result
        elif op.name == "add" and op.result - op.args[0] != 0:
            yield op.result - op.args[0]

    def writes(self, op: Op) -> Iterable[Hashable]:
        if op.name == "set":
            yield op.args[0]
        elif op.name == "compare_and_set" and op.result and op.args[1] is not ABSENT:
            yield op.args[1]
        elif op.name == "setdefault" and op.result is op.args[0]:
            yield op.args[0]
        elif op.name == "add":
            yield op.result


class SetElementModel(Model):
    """One element of a set: present or not. ``add`` and ``discard`` return None; ``contains``
    whether it is present; ``add_if_absent``/``discard_if_present`` whether they changed it.
    Reads and writes are of no particular value (presence has two states), so minimization
    keeps to histories whose reads are of states some operation produced: ``present`` needs a
    write that makes the element present."""

    initial = False

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, result = op.name, op.result
        if name == "add":
            return result is None, True
        if name == "discard":
            return result is None, False
        if name == "contains":
            return result == state, state
        if name == "add_if_absent":
            return result == (not state), True
        if name == "discard_if_present":
            return result == state, False
        raise ValueError(f"SetElementModel: unknown operation {name}")

    def state_key(self, state: Any) -> Hashable:
        return state

    def reads(self, op: Op) -> Iterable[Hashable]:
        if (op.name == "contains" and op.result) or (op.name == "discard_if_present" and op.result):
            yield "present"

    def writes(self, op: Op) -> Iterable[Hashable]:
        if op.name == "add" or (op.name == "add_if_absent" and op.result):
            yield "present"


class CountKeyModel(Model):
    """One key of a counter dict: ABSENT or its count. Counts compare by value; an absent key
    counts as 0 for add, compare_and_set and the get_and_* operations, and ``get`` (the mapping's
    ``get(k, ABSENT)``) tells absent from 0. Counts repeat (two adds may reach the same count),
    so minimization uses no reads/writes rule."""

    initial = ABSENT

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, args, result = op.name, op.args, op.result
        count = 0 if state is ABSENT else state
        if name == "get":
            return result == state if state is not ABSENT else result is ABSENT, state
        if name == "add":
            return result == count + args[0], count + args[0]
        if name == "get_and_add":
            return result == count, count + args[0]
        if name == "compare_and_set":
            expected, desired = args
            swapped = count == expected
            return result == swapped, desired if swapped else state
        if name == "get_and_set":
            return result == count, args[0]
        if name == "get_and_reset":
            return result == count, ABSENT if state is ABSENT else 0
        if name == "delete":
            return result == (state is not ABSENT), ABSENT
        raise ValueError(f"CountKeyModel: unknown operation {name}")

    def state_key(self, state: Any) -> Hashable:
        return state


class IntModel(Model):
    """An AtomicInt: values compared by value."""

    initial = 0

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, args, result = op.name, op.args, op.result
        if name == "get":
            return result == state, state
        if name == "set":
            return result is None, args[0]
        if name == "increment_and_get":
            return result == state + args[0], state + args[0]
        if name == "compare_and_set":
            expected, desired = args
            swapped = state == expected
            return result == swapped, desired if swapped else state
        raise ValueError(f"IntModel: unknown operation {name}")

    def state_key(self, state: Any) -> Hashable:
        return state

    def reads(self, op: Op) -> Iterable[Hashable]:
        if op.name == "get" and op.result != 0:
            yield op.result
        elif op.name == "compare_and_set" and op.result and op.args[0] != 0:
            yield op.args[0]
        elif op.name == "increment_and_get" and op.result - op.args[0] != 0:
            yield op.result - op.args[0]

    def writes(self, op: Op) -> Iterable[Hashable]:
        if op.name == "set":
            yield op.args[0]
        elif op.name == "compare_and_set" and op.result:
            yield op.args[1]
        elif op.name == "increment_and_get":
            yield op.result


class RefModel(Model):
    """An AtomicRef: identity throughout. ``initial`` is the object the ref was created with."""

    def __init__(self, initial: Any = None) -> None:
        self.initial = initial

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, args, result = op.name, op.args, op.result
        if name == "get":
            return result is state, state
        if name == "set":
            return result is None, args[0]
        if name == "compare_and_set":
            expected, desired = args
            swapped = state is expected
            return result == swapped, desired if swapped else state
        raise ValueError(f"RefModel: unknown operation {name}")

    def reads(self, op: Op) -> Iterable[Hashable]:
        if op.name == "get" and op.result is not self.initial:
            yield id(op.result)
        elif op.name == "compare_and_set" and op.result and op.args[0] is not self.initial:
            yield id(op.args[0])

    def writes(self, op: Op) -> Iterable[Hashable]:
        if op.name == "set":
            yield id(op.args[0])
        elif op.name == "compare_and_set" and op.result:
            yield id(op.args[1])


EMPTY = "EMPTY"  # what a get_nowait on an empty queue records (it raised queue.Empty)
FULL = "FULL"  # what a put_nowait on a full queue records (it raised queue.Full)


class QueueModel(Model):
    """A FIFO queue of at most ``maxsize`` items (0: unbounded). The state is the tuple of items,
    head first; items are unique ints, compared by value."""

    initial: tuple[Any, ...] = ()

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize

    def apply(self, state: Any, op: Op) -> tuple[bool, Any]:
        name, args, result = op.name, op.args, op.result
        if name in ("put", "put_nowait"):
            if self.maxsize and len(state) >= self.maxsize:
                return result == FULL, state
            return result is None, state + args
        if name == "get_nowait":
            if not state:
                return result == EMPTY, state
            return result == state[0], state[1:]
        if name == "qsize":
            return result == len(state), state
        raise ValueError(f"QueueModel: unknown operation {name}")

    def state_key(self, state: Any) -> Hashable:
        return state

    def reads(self, op: Op) -> Iterable[Hashable]:
        if op.name == "get_nowait" and op.result != EMPTY:
            yield op.result

    def writes(self, op: Op) -> Iterable[Hashable]:
        if op.name in ("put", "put_nowait") and op.result is None:
            yield op.args[0]


# --- the search ---------------------------------------------------------------------------------------


def is_linearizable(ops: Sequence[Op], model: Model) -> bool:
    """Wing & Gong's search with Lowe's memo over one object's (one key's) history."""
    ops = sorted(ops, key=lambda o: o.call)
    n = len(ops)
    full = (1 << n) - 1
    seen: set[tuple[int, Hashable]] = set()
    # Depth-first, explicitly stacked: (placed mask, state, candidates still to try).
    stack: list[tuple[int, Any, list[int]]] = [(0, model.initial, _candidates(ops, 0))]
    while stack:
        mask, state, todo = stack[-1]
        if not todo:
            stack.pop()
            continue
        i = todo.pop()
        ok, new_state = model.apply(state, ops[i])
        if not ok:
            continue
        new_mask = mask | (1 << i)
        if new_mask == full:
            return True
        memo = (new_mask, model.state_key(new_state))
        if memo in seen:
            continue
        seen.add(memo)
        stack.append((new_mask, new_state, _candidates(ops, new_mask)))
    return n == 0


def _candidates(ops: Sequence[Op], mask: int) -> list[int]:
    """Unplaced operations that may go next: called no later than the first return among the
    unplaced ones (so none of them is forced to precede it). Returned reversed so that pop()
    tries the earliest call first."""
    unplaced = [i for i in range(len(ops)) if not mask >> i & 1]
    if not unplaced:
        return []
    first_return = min(ops[i].ret for i in unplaced)
    return [i for i in reversed(unplaced) if ops[i].call <= first_return]


def well_formed(ops: Sequence[Op], model: Model) -> bool:
    """Every value some operation observed was stored by an operation in the history (or is
    the initial state). Minimization keeps to well-formed histories, so that it removes noise,
    not the write that explains a read."""
    written = {w for op in ops for w in model.writes(op)}
    return all(r in written for op in ops for r in model.reads(op))


def minimize(ops: Sequence[Op], model: Model) -> list[Op]:
    """A 1-minimal failing sub-history: no single operation can be dropped while the history
    stays well-formed and non-linearizable."""
    current = sorted(ops, key=lambda o: o.call)
    shrunk = True
    while shrunk:
        shrunk = False
        for i in range(len(current) - 1, -1, -1):
            candidate = current[:i] + current[i + 1 :]
            if well_formed(candidate, model) and not is_linearizable(candidate, model):
                current = candidate
                shrunk = True
                break
    return current


def format_history(ops: Sequence[Op]) -> str:
    """One line per operation, by call time: thread, [call .. return] in µs from the first
    call, the call and its result; plus a bar showing the interval on a common timeline."""
    if not ops:
        return "(empty history)"
    ops = sorted(ops, key=lambda o: o.call)
    t0 = ops[0].call
    span = max(o.ret for o in ops) - t0 or 1
    width = 40
    lines = []
    for o in ops:
        a = (o.call - t0) * width // span
        b = max(a + 1, (o.ret - t0) * width // span)
        bar = " " * a + "=" * (b - a)
        lines.append(
            f"  t{o.thread}  [{(o.call - t0) / 1000:9.1f} .. {(o.ret - t0) / 1000:9.1f} µs]"
            f"  |{bar:<{width}}|  {o.describe()}"
        )
    return "\n".join(lines)


class NotLinearizable(AssertionError):
    pass


def check(ops: Sequence[Op], model_for: Callable[[Hashable], Model]) -> None:
    """Checks each key's history; raises NotLinearizable with the minimized history of the
    first key that fails."""
    by_key: dict[Hashable, list[Op]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    for key, key_ops in by_key.items():
        model = model_for(key)
        if not is_linearizable(key_ops, model):
            small = minimize(key_ops, model)
            raise NotLinearizable(
                f"history of key {key!r} is not linearizable ({len(key_ops)} operations; "
                f"minimized to {len(small)}):\n{format_history(small)}"
            )


# --- recording from real threads ---------------------------------------------------------------------


@dataclass
class Recorder:
    """Per-thread logs of timed calls. ``call`` runs fn() between two clock reads."""

    threads: int
    logs: list[list[Op]] = field(init=False)

    def __post_init__(self) -> None:
        self.logs = [[] for _ in range(self.threads)]

    def call(self, thread: int, key: Hashable, name: str, args: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        clock = time.perf_counter_ns
        start = clock()
        result = fn()
        end = clock()
        self.logs[thread].append(Op(thread, key, name, args, result, start, end))
        return result

    def history(self) -> list[Op]:
        return [op for log in self.logs for op in log]


class Unique:
    """Fresh int values, distinct across threads: thread t's n-th write is 10**9 + t·10**6 + n.
    (Large ints, so each is its own object, never a cached small int.)"""

    def __init__(self, thread: int) -> None:
        self.next = 10**9 + thread * 10**6

    def __call__(self) -> int:
        self.next += 1
        return self.next


def _delete(d: Any, k: Hashable) -> bool:
    try:
        del d[k]
    except KeyError:
        return False
    return True


START_DELAY_NS = 200_000


def record(objects: Sequence[Any], body: Callable[[Recorder, int, Any, random.Random], None],
           threads: int = 4, seed: int = 0) -> list[list[Op]]:
    """One history per object: ``threads`` threads (started once, for all the histories) meet at
    a barrier before each object and then run ``body(rec, thread, obj, rng)`` on it."""
    recorders = [Recorder(threads) for _ in objects]
    clock = time.perf_counter_ns
    start = [0]

    def set_start() -> None:
        start[0] = clock() + START_DELAY_NS

    barrier = threading.Barrier(threads, action=set_start)

    def work(t: int) -> None:
        for i, obj in enumerate(objects):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return  # another thread failed; run_threads re-raises its exception
            # Threads leave a barrier one by one, tens of µs apart: longer than 30 operations
            # take. Spinning to a common instant makes their operations actually overlap.
            while clock() < start[0]:
                pass
            try:
                body(recorders[i], t, obj, random.Random((seed + i) * 1000 + t))
            except BaseException:
                barrier.abort()
                raise

    run_threads(threads, work)
    return [rec.history() for rec in recorders]


def dict_body(ops: int = 30, keys: Sequence[Hashable] = ("a", "b", "c")) -> Callable[..., None]:
    """Random get/set/delete/compare_and_set/add/setdefault calls on one dict. A thread's
    compare_and_set expects the value it last saw for the key (or ABSENT) and stores a fresh
    value, or deletes (desired ABSENT) one time in four."""

    def body(rec: Recorder, t: int, d: Any, rng: random.Random) -> None:
        fresh = Unique(t)
        seen: dict[Hashable, Any] = {}
        for _ in range(ops):
            k = rng.choice(keys)
            r = rng.random()
            if r < 0.25:
                seen[k] = rec.call(t, k, "get", (), lambda: d.get(k, ABSENT))
            elif r < 0.45:
                v = fresh()
                rec.call(t, k, "set", (v,), lambda: d.__setitem__(k, v))
                seen[k] = v
            elif r < 0.55:
                rec.call(t, k, "delete", (), lambda: _delete(d, k))
                seen[k] = ABSENT
            elif r < 0.75:
                expected = seen.get(k, ABSENT)
                desired = ABSENT if rng.random() < 0.25 else fresh()
                if rec.call(t, k, "compare_and_set", (expected, desired),
                            lambda: d.compare_and_set(k, expected, desired)):
                    seen[k] = desired
            elif r < 0.875:
                amount = rng.randint(1, 3)
                seen[k] = rec.call(t, k, "add", (amount,), lambda: d.add(k, amount))
            else:
                v = fresh()
                seen[k] = rec.call(t, k, "setdefault", (v,), lambda: d.setdefault(k, v))

    return body


def set_body(ops: int = 30, elements: Sequence[Hashable] = ("a", "b", "c")) -> Callable[..., None]:
    """Random add/discard/contains/add_if_absent/discard_if_present calls on one AtomicSet."""

    def body(rec: Recorder, t: int, s: Any, rng: random.Random) -> None:
        for _ in range(ops):
            x = rng.choice(elements)
            r = rng.random()
            if r < 0.2:
                rec.call(t, x, "add", (), lambda: s.add(x))
            elif r < 0.4:
                rec.call(t, x, "discard", (), lambda: s.discard(x))
            elif r < 0.6:
                rec.call(t, x, "contains", (), lambda: x in s)
            elif r < 0.8:
                rec.call(t, x, "add_if_absent", (), lambda: s.add_if_absent(x))
            else:
                rec.call(t, x, "discard_if_present", (), lambda: s.discard_if_present(x))

    return body


def counter_body(ops: int = 30, keys: Sequence[Hashable] = ("a", "b", "c")) -> Callable[..., None]:
    """Random add/get_and_add/compare_and_set/get/get_and_set/get_and_reset/delete calls on one
    AtomicCounterDict. A thread's compare_and_set expects the count it last saw for the key."""

    def body(rec: Recorder, t: int, c: Any, rng: random.Random) -> None:
        seen: dict[Hashable, int] = {}
        for _ in range(ops):
            k = rng.choice(keys)
            r = rng.random()
            if r < 0.35:
                n = rng.randint(-1, 3)
                seen[k] = rec.call(t, k, "add", (n,), lambda: c.add(k, n))
            elif r < 0.45:
                n = rng.randint(1, 2)
                seen[k] = rec.call(t, k, "get_and_add", (n,), lambda: c.get_and_add(k, n)) + n
            elif r < 0.65:
                expected, desired = seen.get(k, 0), rng.randint(0, 100)
                if rec.call(t, k, "compare_and_set", (expected, desired),
                            lambda: c.compare_and_set(k, expected, desired)):
                    seen[k] = desired
            elif r < 0.8:
                got = rec.call(t, k, "get", (), lambda: c.get(k, ABSENT))
                seen[k] = 0 if got is ABSENT else got
            elif r < 0.87:
                n = rng.randint(0, 100)
                rec.call(t, k, "get_and_set", (n,), lambda: c.get_and_set(k, n))
                seen[k] = n
            elif r < 0.94:
                rec.call(t, k, "get_and_reset", (), lambda: c.get_and_reset(k))
                seen[k] = 0
            else:
                rec.call(t, k, "delete", (), lambda: c.pop(k, None) is not None)
                seen[k] = 0

    return body


def int_body(ops: int = 30) -> Callable[..., None]:
    """Random get/set/increment_and_get/compare_and_set on one AtomicInt."""

    def body(rec: Recorder, t: int, a: Any, rng: random.Random) -> None:
        fresh = Unique(t)
        last = 0
        for _ in range(ops):
            r = rng.random()
            if r < 0.3:
                last = rec.call(t, "int", "get", (), a.get)
            elif r < 0.5:
                v = fresh()
                rec.call(t, "int", "set", (v,), lambda: a.set(v))
                last = v
            elif r < 0.75:
                n = rng.randint(1, 3)
                last = rec.call(t, "int", "increment_and_get", (n,), lambda: a.increment_and_get(n))
            else:
                expected, desired = last, fresh()
                if rec.call(t, "int", "compare_and_set", (expected, desired),
                            lambda: a.compare_and_set(expected, desired)):
                    last = desired

    return body


class Obj:
    """A fresh object for AtomicRef histories (identity is all that matters)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __repr__(self) -> str:
        return f"<{self.tag}>"


INITIAL = Obj("initial")  # every recorded AtomicRef starts out holding this object


def ref_body(ops: int = 30) -> Callable[..., None]:
    """Random get/set/compare_and_set (identity) on one AtomicRef that starts at INITIAL."""

    def body(rec: Recorder, t: int, ref: Any, rng: random.Random) -> None:
        last = INITIAL
        for n in range(ops):
            r = rng.random()
            if r < 0.4:
                last = rec.call(t, "ref", "get", (), ref.get)
            elif r < 0.65:
                v = Obj(f"t{t}.{n}")
                rec.call(t, "ref", "set", (v,), lambda: ref.set(v))
                last = v
            else:
                expected, desired = last, Obj(f"t{t}.{n}")
                if rec.call(t, "ref", "compare_and_set", (expected, desired),
                            lambda: ref.compare_and_set(expected, desired)):
                    last = desired

    return body


def _get_nowait(q: Any) -> Any:
    try:
        return q.get_nowait()
    except queue.Empty:
        return EMPTY


def _put_nowait(q: Any, v: Any) -> Any:
    try:
        q.put_nowait(v)
    except queue.Full:
        return FULL
    return None


def queue_body(ops: int = 30, bounded: bool = False) -> Callable[..., None]:
    """Random put (or put_nowait, on a bounded queue) / get_nowait / qsize on one queue; every
    value put is unique."""

    def body(rec: Recorder, t: int, q: Any, rng: random.Random) -> None:
        fresh = Unique(t)
        for _ in range(ops):
            r = rng.random()
            if r < 0.45:
                v = fresh()
                if bounded:
                    rec.call(t, "q", "put_nowait", (v,), lambda: _put_nowait(q, v))
                else:
                    rec.call(t, "q", "put", (v,), lambda: q.put(v))
            elif r < 0.9:
                rec.call(t, "q", "get_nowait", (), lambda: _get_nowait(q))
            else:
                rec.call(t, "q", "qsize", (), q.qsize)

    return body


# --- one-call drivers, for the tests and the soak -----------------------------------------------------


def check_dict_histories(count: int, seed: int = 0, factory: Callable[[], Any] = AtomicDict,
                         threads: int = 4, ops: int = 30) -> None:
    """Records ``count`` histories of fresh dicts and checks each (NotLinearizable if one fails)."""
    for history in record([factory() for _ in range(count)], dict_body(ops), threads, seed):
        check(history, lambda key: DictKeyModel())


def check_set_histories(count: int, seed: int = 0, factory: Callable[[], Any] = AtomicSet,
                        threads: int = 4, ops: int = 30,
                        elements: Sequence[Hashable] = ("a", "b", "c")) -> None:
    """Records ``count`` histories of fresh sets and checks each, one element at a time."""
    for history in record([factory() for _ in range(count)], set_body(ops, elements), threads, seed):
        check(history, lambda key: SetElementModel())


def check_counter_histories(count: int, seed: int = 0, factory: Callable[[], Any] = AtomicCounterDict,
                            threads: int = 4, ops: int = 30,
                            keys: Sequence[Hashable] = ("a", "b", "c")) -> None:
    """Records ``count`` histories of fresh counter dicts and checks each, one key at a time."""
    for history in record([factory() for _ in range(count)], counter_body(ops, keys), threads, seed):
        check(history, lambda key: CountKeyModel())


def check_int_histories(count: int, seed: int = 0, threads: int = 4, ops: int = 30) -> None:
    for history in record([AtomicInt() for _ in range(count)], int_body(ops), threads, seed):
        check(history, lambda key: IntModel())


def check_ref_histories(count: int, seed: int = 0, threads: int = 4, ops: int = 30) -> None:
    for history in record([AtomicRef(INITIAL) for _ in range(count)], ref_body(ops), threads, seed):
        check(history, lambda key: RefModel(INITIAL))


def check_queue_histories(count: int, seed: int = 0, maxsize: int = 0, factory: Callable[..., Any] = AtomicQueue,
                          threads: int = 4, ops: int = 30) -> None:
    """Records ``count`` histories of fresh queues (bounded when ``maxsize``) and checks each."""
    queues = [factory(maxsize) for _ in range(count)]
    for history in record(queues, queue_body(ops, bounded=maxsize > 0), threads, seed):
        check(history, lambda key: QueueModel(maxsize))


if __name__ == "__main__":  # a quick manual run: python tests/linearizability.py [histories]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    start = time.perf_counter()
    check_dict_histories(n)
    check_set_histories(n)
    check_counter_histories(n)
    check_int_histories(n)
    check_ref_histories(n)
    check_queue_histories(n)
    check_queue_histories(n, maxsize=3)
    print(f"{7 * n} histories linearizable in {time.perf_counter() - start:.1f}s")
