"""AtomicDict under hostile keys and values: unhashable keys, __hash__/__eq__ that raise, return
NotImplemented or mutate the same dict, __del__ that writes back, hashes that change, one hash
for every key, impossible capacity requests, and deep nesting."""

from __future__ import annotations

import collections.abc
import gc
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from dict_support import Box, Collide, drive_until
from lockless import NOT_FOUND, AtomicDict


class Boom(Exception):
    pass


def total(key, current, new):
    return new if current is NOT_FOUND else current + new


class OneKeyMapping(collections.abc.Mapping):
    """A Mapping holding one (possibly hostile) key, for update(), | and the constructor."""

    def __init__(self, key, value=1):
        self.key, self.value = key, value

    def __getitem__(self, k):
        if k is self.key:
            return self.value
        raise KeyError(k)

    def __iter__(self):
        return iter([self.key])

    def __len__(self):
        return 1


def _ior(d, k):
    d |= [(k, 1)]


# Every entry point that takes a key, as f(d, key). Each is called on AtomicDict(a=1).
ENTRY_POINTS = {
    "getitem": lambda d, k: d[k],
    "setitem": lambda d, k: d.__setitem__(k, 1),
    "delitem": lambda d, k: d.__delitem__(k),
    "contains": lambda d, k: k in d,
    "keys_contains": lambda d, k: k in d.keys(),
    "items_contains": lambda d, k: (k, 1) in d.items(),
    "get": lambda d, k: d.get(k),
    "get_default": lambda d, k: d.get(k, 0),
    "pop": lambda d, k: d.pop(k),
    "pop_default": lambda d, k: d.pop(k, 0),
    "setdefault": lambda d, k: d.setdefault(k, 1),
    "update_pairs": lambda d, k: d.update([(k, 1)]),
    "update_mapping": lambda d, k: d.update(OneKeyMapping(k)),
    "ior": _ior,
    "or": lambda d, k: d | OneKeyMapping(k),
    "constructor": lambda d, k: AtomicDict([(k, 1)]),
    "constructor_mapping": lambda d, k: AtomicDict(OneKeyMapping(k)),
    "fromkeys": lambda d, k: AtomicDict.fromkeys([k]),
    "compare_and_set": lambda d, k: d.compare_and_set(k, NOT_FOUND, 1),
    "compare_and_exchange": lambda d, k: d.compare_and_exchange(k, NOT_FOUND, 1),
    "replace": lambda d, k: d.replace(k, 1, 2),
    "get_and_set": lambda d, k: d.get_and_set(k, 1),
    "compute": lambda d, k: d.compute(k, lambda cur: 1),
    "compute_if_absent": lambda d, k: d.compute_if_absent(k, lambda key: 1),
    "merge": lambda d, k: d.merge(k, 1, lambda a, b: a + b),
    "add": lambda d, k: d.add(k),
    "reduce": lambda d, k: d.reduce([(k, 1)], total),
    "count": lambda d, k: d.count([k]),
    "get_many": lambda d, k: d.get_many([k]),
}
entry_points = pytest.mark.parametrize("op", list(ENTRY_POINTS.values()), ids=list(ENTRY_POINTS))

# Entry points that look the key up in a dict already holding `a` (not only building a new one).
LOOKUP_POINTS = {
    name: f for name, f in ENTRY_POINTS.items() if name not in ("constructor", "constructor_mapping", "fromkeys")
}
lookup_points = pytest.mark.parametrize("op", list(LOOKUP_POINTS.values()), ids=list(LOOKUP_POINTS))


def fails_with(exc_type, fn, *args):
    """Calls fn(*args), asserting it raises exc_type, keeping no reference to the traceback."""
    try:
        fn(*args)
    except exc_type:
        return
    raise AssertionError(f"{fn} did not raise {exc_type.__name__}")


def watchdog(fn, seconds=60.0):
    """Runs fn in a thread and returns its result; a deadlock fails the test instead of hanging
    the suite (a safety net only: nothing here is timed)."""
    out: list = []
    err: list = []

    def body():
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            err.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "deadlock: the operation never returned"
    if err:
        raise err[0]
    return out[0]


# --- unhashable keys -----------------------------------------------------------------------------


@entry_points
@pytest.mark.parametrize("key", [[], {}, set(), ([],)], ids=["list", "dict", "set", "tuple_of_list"])
def test_unhashable_key_raises_type_error_and_leaves_dict_unchanged(op, key):
    d = AtomicDict(a=1)
    with pytest.raises(TypeError):
        op(d, key)
    assert list(d.items()) == [("a", 1)]


def test_unhashable_key_raises_type_error_even_on_an_empty_dict():
    d = AtomicDict()
    for name, op in ENTRY_POINTS.items():
        with pytest.raises(TypeError):
            op(d, [])
        assert len(d) == 0, name


def test_update_stops_at_the_unhashable_key_like_dict():
    d, ref = AtomicDict(), {}
    for m in (d, ref):
        with pytest.raises(TypeError):
            m.update([("x", 1), ([], 2), ("y", 3)])
    assert list(d.items()) == list(ref.items()) == [("x", 1)]


# --- __hash__ that raises ------------------------------------------------------------------------


class RaisingHash:
    def __hash__(self):
        raise Boom

    def __eq__(self, other):
        return self is other


@entry_points
def test_hash_that_raises_propagates_and_leaves_dict_unchanged(op):
    d = AtomicDict(a=1)
    key = RaisingHash()
    with pytest.raises(Boom):
        op(d, key)
    assert list(d.items()) == [("a", 1)]


@entry_points
def test_hash_that_raises_leaks_no_reference_to_the_key(op):
    d = AtomicDict(a=1)
    key = RaisingHash()
    base = sys.getrefcount(key)
    fails_with(Boom, op, d, key)
    assert drive_until(lambda: sys.getrefcount(key) == base), (sys.getrefcount(key), base)


def test_hash_that_raises_leaks_no_reference_to_the_value():
    d = AtomicDict(a=1)
    key, value = RaisingHash(), Box()
    base = sys.getrefcount(value)
    for f in (
        lambda: d.__setitem__(key, value),
        lambda: d.setdefault(key, value),
        lambda: d.get_and_set(key, value),
        lambda: d.compare_and_set(key, NOT_FOUND, value),
        lambda: d.merge(key, value, total),
        lambda: d.update([(key, value)]),
    ):
        fails_with(Boom, f)
    assert drive_until(lambda: sys.getrefcount(value) == base)


# --- the key's __hash__ is called once per operation ------------------------------------------------


class CountingHash:
    def __init__(self):
        self.calls = 0

    def __hash__(self):
        self.calls += 1
        return 12345

    def __eq__(self, other):
        return self is other


@entry_points
def test_hash_is_called_once_per_operation(op):
    d = AtomicDict(a=1)
    key = CountingHash()
    try:
        op(d, key)
    except KeyError:
        pass
    assert key.calls == 1


@pytest.mark.parametrize("copy", [AtomicDict, lambda src: AtomicDict().update(src), lambda src: AtomicDict() | src])
def test_copying_a_dict_hashes_each_key_once(copy):
    # Found by CPython's test_dict (test_setdefault_atomic, test_setitem_atomic_at_resize):
    # a dict source was read as source[key] for each key, hashing every key twice. (dict
    # itself reuses its stored hashes: none; lockless cannot read them.)
    key = CountingHash()
    source = {key: "v"}
    key.calls = 0
    copy(source)
    assert key.calls == 1


def test_stored_key_is_never_hashed_again_across_growth_and_deletes():
    key = CountingHash()
    d = AtomicDict()
    d[key] = "v"
    assert key.calls == 1
    for i in range(5000):
        d[i] = i
    for i in range(0, 5000, 2):
        del d[i]
    d2 = d.copy()
    d3 = d | {}
    assert key.calls == 1
    assert d[key] == d2[key] == d3[key] == "v"  # three lookups: three hashes
    assert key.calls == 4


# --- __eq__ that raises / returns NotImplemented -------------------------------------------------


class RaisingEq:
    """All instances share one hash; comparing two different instances raises."""

    def __hash__(self):
        return 7

    def __eq__(self, other):
        if self is other:
            return True
        raise Boom


@lookup_points
def test_eq_that_raises_propagates_and_leaves_dict_unchanged(op):
    stored = RaisingEq()
    d = AtomicDict([(stored, 1)])
    with pytest.raises(Boom):
        op(d, RaisingEq())
    assert len(d) == 1
    assert list(d.items())[0][0] is stored and d[stored] == 1


@lookup_points
def test_eq_that_raises_leaks_no_reference(op):
    stored = RaisingEq()
    d = AtomicDict([(stored, 1)])
    probe = RaisingEq()
    base_probe, base_stored = sys.getrefcount(probe), sys.getrefcount(stored)
    fails_with(Boom, op, d, probe)
    assert drive_until(lambda: sys.getrefcount(probe) == base_probe)
    assert drive_until(lambda: sys.getrefcount(stored) == base_stored)


def test_stored_key_is_found_by_identity_without_calling_eq():
    stored = RaisingEq()
    d = AtomicDict([(stored, 1)])
    assert d[stored] == 1
    d[stored] = 2
    assert d.add(stored) == 3
    del d[stored]
    assert len(d) == 0


class NoEq:
    """Same hash for all; __eq__ always NotImplemented, so only identity makes two equal."""

    def __hash__(self):
        return 3

    def __eq__(self, other):
        return NotImplemented


def test_eq_returning_not_implemented_falls_back_to_identity_like_dict():
    a, b = NoEq(), NoEq()
    d, ref = AtomicDict(), {}
    for m in (d, ref):
        m[a] = 1
        m[b] = 2
        m[a] = 3
    assert list(d.items()) == list(ref.items())
    assert NoEq() not in d
    assert d[a] == 3 and d[b] == 2


# --- __eq__ / __hash__ / __del__ that mutate the same dict -----------------------------------------


def test_eq_that_inserts_into_the_same_dict_has_a_sequential_result():
    d = AtomicDict()

    class Meddling(Collide):
        __hash__ = Collide.__hash__  # defining __eq__ would drop it

        def __eq__(self, other):
            if "new" in (self.tag, getattr(other, "tag", None)) and "side" not in d:
                d["side"] = "s"  # whichever of the two keys' __eq__ the lookup calls
            return super().__eq__(other)

    old, new = Meddling("old", h=5), Meddling("new", h=5)
    d[old] = 1
    watchdog(lambda: d.__setitem__(new, 2))
    items = list(d.items())
    assert len(d) == 3
    assert items[0] == (old, 1)
    assert items[1:] in ([("side", "s"), (new, 2)], [(new, 2), ("side", "s")])


def test_eq_that_deletes_the_key_it_is_compared_with_has_a_sequential_result():
    d = AtomicDict()

    done = []

    class Deleting(Collide):
        __hash__ = Collide.__hash__  # defining __eq__ would drop it

        def __eq__(self, other):
            if not done:
                done.append(True)
                d.pop(old, "absent")  # found by identity: no further __eq__ call
            return super().__eq__(other)

    old, new = Deleting("k", h=5), Deleting("k", h=5)
    d[old] = "old"
    watchdog(lambda: d.__setitem__(new, "new"))
    items = list(d.items())
    # Explained by: delete `old`, then insert `new`; or overwrite `old`'s value, then delete it.
    assert items in ([(new, "new")], []), items
    if items:
        assert items[0][0] is new


def test_eq_that_clears_the_dict_during_lookup_does_not_crash():
    d = AtomicDict()

    class Clearing(Collide):
        __hash__ = Collide.__hash__  # defining __eq__ would drop it

        def __eq__(self, other):
            d.clear()
            return super().__eq__(other)

    for i in range(10):
        d[Collide(i, h=9)] = i
    probe = Clearing(99, h=9)
    assert watchdog(lambda: d.get(probe, "absent")) == "absent"
    watchdog(lambda: d.__setitem__(probe, "p"))
    assert list(d.values()) in (["p"], [])  # inserted after the clear, or cleared after


def test_hash_that_inserts_into_the_same_dict_has_a_sequential_result():
    d = AtomicDict()

    class Meddling:
        def __hash__(self):
            d["from_hash"] = 1
            return 11

    k = Meddling()
    watchdog(lambda: d.__setitem__(k, 2))
    assert set(d.keys()) == {"from_hash", k} and len(d) == 2
    assert d[k] == 2 and d["from_hash"] == 1


class WritesBackOnDel:
    """A value whose __del__ stores into the dict it lived in."""

    def __init__(self, d, key):
        self.d, self.key = d, key

    def __del__(self):
        self.d[self.key] = "written by __del__"


@pytest.mark.parametrize(
    "remove",
    [
        lambda d: d.__setitem__("k", "replacement"),
        lambda d: d.__delitem__("k"),
        lambda d: d.pop("k"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.update(k="replacement"),
        lambda d: d.get_and_set("k", "replacement"),
        lambda d: d.compare_and_set("k", d["k"], "replacement"),
        lambda d: d.compute("k", lambda cur: "replacement"),
        lambda d: d.compute("k", lambda cur: NOT_FOUND),
        lambda d: d.merge("k", "x", lambda old, new: "replacement"),
    ],
    ids=[
        "setitem", "delitem", "pop", "popitem", "clear", "update", "get_and_set",
        "compare_and_set", "compute", "compute_delete", "merge",
    ],
)
def test_removed_value_whose_del_writes_back_runs_its_del_safely(remove):
    d = AtomicDict()
    d["k"] = WritesBackOnDel(d, "from_del")
    watchdog(lambda: remove(d))
    assert drive_until(lambda: "from_del" in d)
    assert d["from_del"] == "written by __del__"
    assert d.get("k") in (None, "replacement")


def test_del_that_writes_back_to_the_same_key_during_clear_does_not_crash():
    d = AtomicDict()
    for i in range(200):
        d[i] = WritesBackOnDel(d, i)  # each __del__ re-creates its own key
    watchdog(d.clear)
    assert drive_until(lambda: len(d) == 200)
    assert all(v == "written by __del__" for v in d.values())
    assert sorted(d) == list(range(200))


# --- hash that changes after insert ------------------------------------------------------------------


class Rehashable:
    def __init__(self, tag, h):
        self.tag, self.h = tag, h

    def __hash__(self):
        return self.h

    def __eq__(self, other):
        return isinstance(other, Rehashable) and self.tag == other.tag


def test_key_whose_hash_changes_is_still_iterated_but_not_found_by_its_new_hash():
    d = AtomicDict()
    k = Rehashable("k", 1)
    d[k] = "v"
    d["other"] = 2
    k.h = 2**40 + 3
    assert Rehashable("k", 2**40 + 3) not in d  # equal, new hash: stored hash differs
    assert Rehashable("k", 1) in d  # equal, old hash
    assert list(d) == [k, "other"] and len(d) == 1 + 1
    d[Rehashable("k", 2**40 + 3)] = "second"
    assert len(d) == 3  # like dict: a second, equal key under the new hash
    ref = {}
    k2 = Rehashable("k", 1)
    ref[k2] = "v"
    ref["other"] = 2
    k2.h = 2**40 + 3
    ref[Rehashable("k", 2**40 + 3)] = "second"
    assert list(d.values()) == list(ref.values())


# --- one hash for every key ------------------------------------------------------------------------


def test_ten_thousand_int_keys_with_one_hash_finish_and_stay_compact():
    modulus = sys.hash_info.modulus
    keys = [i * modulus for i in range(10_000)]
    assert len({hash(k) for k in keys}) == 1
    d = AtomicDict()
    for k in keys:
        d[k] = k
    assert len(d) == 10_000
    assert all(d[k] == k for k in keys[::97])
    assert list(d) == keys
    s = d.stats()
    assert s["len"] == 10_000
    assert s["capacity"] < 8 * len(d)
    for k in keys[::2]:
        del d[k]
    assert list(d) == keys[1::2]


def test_eq_calls_stay_linear_in_the_keys_that_share_a_hash():
    # __eq__ runs unpinned: an operation that meets a key only __eq__ can decide stops, compares,
    # and runs again with the answers it has. It must call __eq__ about as often as dict does
    # (once per colliding key), never again for a key it has compared.
    calls = []

    class Counting(Collide):
        __hash__ = Collide.__hash__

        def __eq__(self, other):
            calls.append(1)
            return super().__eq__(other)

    n = 300
    d = AtomicDict((Counting(i, h=7), i) for i in range(n))
    plain = {Counting(i, h=7): i for i in range(n)}
    for m in (d, plain):
        calls.clear()
        m[Counting(n, h=7)] = n  # a new key: compared with every stored one
        assert len(calls) <= n + 1, (type(m), len(calls))
        calls.clear()
        assert m[Counting(n // 2, h=7)] == n // 2
        assert len(calls) <= n + 1, (type(m), len(calls))


def test_ints_in_a_map_crowded_with_one_hash_are_still_found_by_equal_floats_and_bools():
    # Once probes meet long runs of one hash, exact ints are tagged by value, other keys by hash;
    # tags of the two kinds always match, so equal keys of other types still find the ints.
    from fractions import Fraction

    m = sys.hash_info.modulus
    d = AtomicDict((Collide(i, h=0), i) for i in range(40))  # crowds the map
    d[0] = "zero"
    d[m] = "m"
    d[1] = "one"
    for k in range(2, 200):
        d[k * m] = k
    assert d[0.0] == d[False] == d[Fraction(0)] == d[0] == "zero"
    assert d[1.0] == d[True] == "one" and d[m] == "m" and d[150 * m] == 150
    d[0.0] = "float zero"  # replaces the int's value, keeps its key
    assert d[0] == "float zero" and type(next(k for k in d if k == 0)) is int


def test_a_thousand_object_keys_with_one_hash_behave_like_dict():
    keys = [Collide(i, h=0) for i in range(1000)]
    d = AtomicDict((k, i) for i, k in enumerate(keys))
    assert len(d) == 1000
    assert d[Collide(500, h=0)] == 500
    assert Collide(1000, h=0) not in d
    assert d.stats()["capacity"] < 8 * len(d)


# --- impossible capacity ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2**62, 2**63 - 1, 2**64, 2**100])
def test_impossible_reserve_raises_and_leaves_dict_usable(n):
    d = AtomicDict(a=1)
    with pytest.raises((MemoryError, OverflowError)):
        d.reserve(n)
    assert list(d.items()) == [("a", 1)]
    d["b"] = 2
    assert d == {"a": 1, "b": 2}


# --- deep nesting: RecursionError, not a crash (run in a child so a crash fails one test) ---------


def run_child(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def test_repr_of_deeply_nested_atomic_dicts_raises_recursion_error():
    out = run_child(
        """
        import sys
        from lockless import AtomicDict
        x = AtomicDict()
        for _ in range(100_000):
            x = AtomicDict(a=x)
        try:
            repr(x)
        except RecursionError:
            print("recursion error")
        sys.stdout.flush()
        import os; os._exit(0)  # skip teardown: dropping the chain is a separate test
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "recursion error"


def test_eq_of_deeply_nested_atomic_dicts_raises_recursion_error():
    out = run_child(
        """
        import sys
        from lockless import AtomicDict
        x, y = AtomicDict(), {}
        for _ in range(100_000):
            x, y = AtomicDict(a=x), {"a": y}
        for a, b in ((x, y), (y, x), (x, AtomicDict(a=AtomicDict(a=y)))):
            try:
                a == b
            except RecursionError:
                print("recursion error")
        sys.stdout.flush()
        import os; os._exit(0)
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["recursion", "error"] * 3


def test_dropping_a_deeply_nested_atomic_dict_does_not_crash():
    out = run_child(
        """
        import gc
        from lockless import AtomicDict
        x = AtomicDict()
        for _ in range(100_000):
            x = AtomicDict(a=x)
        del x
        gc.collect()
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_repr_whose_value_mutates_the_dict_does_not_crash():
    d = AtomicDict()

    class Meddling:
        def __repr__(self):
            d.clear()
            d["new"] = 1
            return "M"

    d["a"] = Meddling()
    d["b"] = 2
    r = watchdog(lambda: repr(d))
    assert r.startswith("AtomicDict({") and r.endswith("})")
    gc.collect()


# --- more hostile inputs (issue 6): a hundred thousand keys with one hash, interrupts, ------------
# --- subinterpreters, interpreter exit under churn ---------------------------------------------------


# One thread: each copy would build its own dict, so four at once share nothing and only take
# four times as long (pytest-run-parallel).
@pytest.mark.parallel_threads(1)
def test_a_hundred_thousand_int_keys_with_one_hash_finish_and_stay_compact():
    # Every key has hash 0, so every probe walks one run of 10^5 slots: quadratic, as for dict
    # (161 s here). Exact ints carry a fingerprint of their value in the index tag, so the walk
    # reads only the index: about 7 s here. Run in a child with a limit (a safety net, not a
    # timing).
    out = run_child(
        """
        import sys
        from lockless import AtomicDict
        m = sys.hash_info.modulus
        keys = [i * m for i in range(100_000)]
        d = AtomicDict()
        for k in keys:
            d[k] = k
        assert len(d) == 100_000 and all(d[k] == k for k in keys[::997])
        s = d.stats()
        assert s["capacity"] < 8 * len(d), s
        for k in keys[::2]:
            del d[k]
        assert len(d) == 50_000 and list(d) == keys[1::2]
        print("ok")
        """,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("n", [-1, -(2**62)])
def test_negative_reserve_raises_and_leaves_dict_usable(n):
    d = AtomicDict(a=1)
    with pytest.raises((ValueError, OverflowError)):
        d.reserve(n)
    d["b"] = 2
    assert d == {"a": 1, "b": 2}


def test_impossible_reserve_on_a_large_dict_leaves_it_intact():
    d = AtomicDict((i, i) for i in range(10_000))
    with pytest.raises((MemoryError, OverflowError)):
        d.reserve(2**62 - 5_000)
    assert len(d) == 10_000 and all(d[i] == i for i in range(0, 10_000, 7))


def assert_consistent(d, expected_value=lambda k: k):
    """len agrees with iteration, no key twice, every key maps to what it should, and the dict
    still takes writes."""
    keys = list(d)
    assert len(keys) == len(set(keys)) == len(d) == d.stats()["len"]
    assert all(d[k] == expected_value(k) for k in keys)
    d["probe"] = 1
    assert d.pop("probe") == 1
    assert len(d) == len(keys)


def interrupted(op, grace=50):
    """Runs ``op()`` over and over while a timer thread interrupts the main thread; returns once
    the KeyboardInterrupt arrived (in the middle of some call to op, or between two). Fails if
    it has not arrived ``grace`` calls after the interrupt was sent."""
    import _thread
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("interrupt_main targets the main thread")
    # A shell that starts us in the background sets SIGINT to SIG_IGN, and then
    # interrupt_main() does nothing: install Python's own handler for the test.
    handler = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ready, sent = threading.Event(), threading.Event()

    def interrupter():
        ready.wait()
        _thread.interrupt_main()
        sent.set()

    # A KeyboardInterrupt raised inside a gc callback (Hypothesis installs one) is only
    # reported as unraisable and never reaches the loop: no collections meanwhile.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    t = threading.Thread(target=interrupter)
    t.start()
    try:
        calls_after_sent = 0
        while calls_after_sent < grace:
            ready.set()
            op()
            calls_after_sent += sent.is_set()
        raise AssertionError(f"the interrupt never arrived (SIGINT handler was {handler!r})")
    except KeyboardInterrupt:
        pass
    finally:
        ready.set()
        t.join()
        signal.signal(signal.SIGINT, handler)
        if gc_was_enabled:
            gc.enable()


BIG = 200_000


def test_keyboard_interrupt_during_update_leaves_a_consistent_dict():
    src = {i: i for i in range(BIG)}
    d = AtomicDict()
    interrupted(lambda: d.update(src))
    assert_consistent(d)
    assert set(d) <= set(src)


def test_keyboard_interrupt_during_copy_leaves_both_dicts_consistent():
    d = AtomicDict((i, i) for i in range(BIG))
    copies = []
    interrupted(lambda: copies.append(d.copy()))
    assert_consistent(d)
    assert len(d) == BIG
    for c in copies:
        assert_consistent(c)


def test_keyboard_interrupt_during_clear_leaves_a_consistent_dict():
    d = AtomicDict()

    def fill_and_clear():
        d.update((i, i) for i in range(20_000))
        d.clear()

    interrupted(fill_and_clear)
    assert_consistent(d)
    d.clear()
    assert len(d) == 0 and list(d) == []


def test_keyboard_interrupt_during_iteration_and_repr_leaves_a_consistent_dict():
    d = AtomicDict((i, i) for i in range(BIG))
    interrupted(lambda: (list(d.items()), repr(d)))
    assert_consistent(d)
    assert len(d) == BIG


SUBINTERPRETER_IMPORT = """
    import gc, os, sys
    try:
        import _interpreters as interpreters
    except ImportError:
        try:
            import _xxsubinterpreters as interpreters
        except ImportError:
            print("no subinterpreters"); sys.exit(0)
    if not hasattr(interpreters, "exec"):  # before 3.13 the private API differs
        print("no subinterpreters"); sys.exit(0)
    import lockless
    r, w = os.pipe()
    for config in ("isolated", "legacy"):
        try:
            interp = interpreters.create(config)
        except TypeError:
            interp = interpreters.create()
        failure = interpreters.exec(interp, f'''
    import os
    try:
        import lockless
    except ImportError as exc:
        os.write({w}, b"ImportError: " + str(exc).encode() + b"\\\\n")
    else:
        d = lockless.AtomicDict(a=1)
        d["b"] = lockless.AtomicInt(2)
        assert d["a"] == 1 and d["b"].increment_and_get() == 3
        os.write({w}, b"imported " + str(id(lockless.AtomicDict.__mro__[1])).encode() + b"\\\\n")
    ''')
        assert failure is None, failure
        interpreters.destroy(interp)
        line = os.read(r, 1000).decode().strip()
        print(config, line)
        # Either a clear ImportError, or the subinterpreter has its own type objects: sharing the
        # main interpreter's (static) types corrupts their refcounts when it is destroyed.
        assert line.startswith("ImportError") or line != f"imported {id(lockless.AtomicDict.__mro__[1])}", (
            f"{config}: the subinterpreter shares the main interpreter's lockless types")
    gc.collect()  # a debug build asserts here if the types' refcounts were corrupted
    d = lockless.AtomicDict(x=1)
    assert d["x"] == 1
    print("main ok")
"""


def test_importing_lockless_in_a_subinterpreter_raises_import_error_or_works_soundly():
    out = run_child(SUBINTERPRETER_IMPORT)
    if "no subinterpreters" in out.stdout:
        pytest.skip("this Python has no _interpreters module")
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "main ok" in out.stdout


CHURN_AT_EXIT = """
    import gc, sys, threading, time
    from lockless import AtomicDict, AtomicRef, AtomicInt, NOT_FOUND

    d = AtomicDict()
    ref = AtomicRef()
    n = AtomicInt()

    class Slow:
        def __hash__(self):
            return 1
        def __eq__(self, other):
            time.sleep(0.001)
            return self is other

    def churn(t):
        i = 0
        while True:
            i += 1
            d[(t, i % 500)] = [i]
            d.pop((t, (i * 7) % 500), None)
            d.add("count")
            d.compute(("c", i % 3), lambda cur: 1 if cur is NOT_FOUND else cur + 1)
            if t >= 3:
                d.compute("slow", lambda cur: time.sleep(0.001) or i)
            ref.set([i])
            n.increment_and_get()
            if i % 1000 == 0:
                list(d.items())
            if t == 0 and i % 5000 == 0:
                d.clear()
            if t == 1 and i % 200 == 0:
                d[Slow()] = i
            if t == 2 and i % 2000 == 0:
                gc.collect()

    for t in range(6):
        threading.Thread(target=churn, args=(t,), daemon=True).start()
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.3)
    print("exiting")
"""


DEL_AT_EXIT = """
    import gc, sys, threading, time
    from lockless import AtomicDict, AtomicRef, NOT_FOUND

    d = AtomicDict()
    ref = AtomicRef()

    class SlowDel:
        def __del__(self):
            time.sleep(0.0005)

    class Slow:
        def __hash__(self):
            return 7
        def __eq__(self, other):
            time.sleep(0.0005)
            return self is other

    keys = [Slow() for _ in range(8)]

    def churn(t):
        i = 0
        while True:
            i += 1
            d[("v", i % 50)] = SlowDel()   # the replaced value's __del__ runs from a deferred release
            ref.set(SlowDel())
            d[keys[i % 8]] = i             # __eq__ runs between two engine attempts
            d.get(keys[(i * 3) % 8])
            d.compute("c", lambda cur: (time.sleep(0.0002), 0 if cur is NOT_FOUND else cur + 1)[1])
            if i % 300 == 0:
                gc.collect()

    for t in range(6):
        threading.Thread(target=churn, args=(t,), daemon=True).start()
    time.sleep(float(sys.argv[1]))
    print("exiting")
"""


def exits_cleanly(script: str, delays: tuple[float, ...]) -> None:
    """Runs `script` once per delay (how long its daemon threads churn before the main thread
    returns) and checks that each process exits 0 having printed "exiting"."""
    for delay in delays:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), str(delay)],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, (delay, out.returncode, out.stderr[-3000:])
        assert out.stdout.strip() == "exiting"


def test_interpreter_exit_while_daemon_threads_churn_a_dict_exits_cleanly():
    # The churn includes callbacks that sleep (detach and re-attach), as user functions passed to
    # compute or __eq__ may. CPython 3.13 ends a daemon thread that re-attaches during
    # finalization with pthread_exit, a forced unwind; this passes because the extension is
    # built with panic = "abort" (Cargo.toml), so no catch_unwind frame stops that unwind (with
    # panic = "unwind", glibc aborts the process).
    exits_cleanly(CHURN_AT_EXIT, (0.1, 0.3, 0.5))


def test_interpreter_exit_while_daemon_threads_sleep_in_del_and_eq_exits_cleanly():
    # Like the test above, with the thread ended inside a __del__ run by a deferred release (after
    # the pin), inside __eq__ and inside a compute function, on dicts and an AtomicRef.
    exits_cleanly(DEL_AT_EXIT, (0.05, 0.2, 0.4))
