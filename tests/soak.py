"""Soak run for AtomicDict (`make soak`; minutes; not part of `make test`).

Phases, each 8 threads behind one barrier with exact invariants at the end:

1. plain     -- random operations on each thread's own key range (every result checked against the
                thread's own model as it goes, and the final contents exactly), `add` on shared
                counters (exact totals), writes and reads on shared keys (reads only ever see
                values some writer wrote), weakly consistent iteration (a thread's own keys exactly once).
2. gc        -- the same, with values that form reference cycles, beside a thread looping
                gc.collect().
3. blocked   -- the same on 7 threads while the 8th is blocked inside a stored key's __eq__: the
                others finish, RSS stays bounded, and the blocked call completes correctly once
                released.
4. idle     -- idle iterators kept alive through many migrations: 7 threads churn one dict
                (compactions and growths) while keeping up to 64 iterators each, stepping
                them now and then; an 8th fills and clears another dict 100,000 times, keeping
                iterators across the clears. Every iterator yields no key twice and every key
                present throughout exactly once; those that began before a clear yield nothing;
                RSS stays bounded; and once everything is dropped, every value's finalizer
                has run.
5. threads   -- threads started and joined constantly: 8 threads each start a short-lived
                thread, join it, and start the next, until their share of operations is done;
                the short-lived ones replace, pop and read values of one shared dict and set
                one shared AtomicRef, each living for a random number of operations (so they
                exit at every point of the epoch's batches). RSS stays bounded, and once
                everything is dropped every value's finalizer has run: a thread's exit does
                not drop others' garbage (issue 11 item 3).
6. histories -- the linearizability checker on thousands of recorded histories.

LOCKLESS_SOAK_OPS: operations per thread per phase (default 1_000_000).
LOCKLESS_LIN_HISTORIES: histories per type in phase 6 (default 3000).
Run one phase: python tests/soak.py gc
"""

from __future__ import annotations

import gc
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import linearizability as lin  # noqa: E402
from conftest import run_threads  # noqa: E402
from dict_support import Collide  # noqa: E402
from dict_support import drive_until  # noqa: E402
from lockless import NOT_FOUND, AtomicCounter, AtomicDict, AtomicInt, AtomicRef  # noqa: E402

THREADS = 8
OPS = int(os.environ.get("LOCKLESS_SOAK_OPS", "1000000"))
HISTORIES = int(os.environ.get("LOCKLESS_LIN_HISTORIES", "3000"))
OWN_KEYS = 2_000  # keys per thread
COUNTERS = 16
SHARED = 64
PAGE = os.sysconf("SC_PAGE_SIZE")
DUPLICATES = AtomicInt()  # iterations that yielded a key twice, or missed an own one


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def say(msg: str) -> None:
    print(f"soak: {msg}", flush=True)


def workload(d: AtomicDict, t: int, ops: int, cyclic: bool, progress: list[int]) -> tuple[dict, list[int]]:
    """Thread t's random operations. Returns its model of its own keys and its counter tallies;
    raises AssertionError at the first result that disagrees."""
    rng = random.Random(t)
    model: dict = {}
    tallies = [0] * COUNTERS
    serial = 0
    for n in range(ops):
        r = rng.random()
        if r < 0.60:  # own keys: every result is known exactly
            k = (t, rng.randrange(OWN_KEYS))
            have = model.get(k, NOT_FOUND)
            op = rng.randrange(8)
            serial += 1
            if cyclic and serial % 16 == 0:
                v: object = [t, serial]
                v.append(v)  # type: ignore[attr-defined]  # a cycle for the collector
            else:
                v = (t, serial)
            if op == 0:
                d[k] = v
                model[k] = v
            elif op == 1:
                got = d.get(k, NOT_FOUND)
                assert got is have, (k, got, have)
            elif op == 2:
                got = d.pop(k, NOT_FOUND)
                assert got is have, (k, got, have)
                model.pop(k, None)
            elif op == 3:
                got = d.setdefault(k, v)
                assert got is (v if have is NOT_FOUND else have), (k, got, have)
                model[k] = got
            elif op == 4:
                assert d.compare_and_set(k, have, v), (k, have)
                model[k] = v
            elif op == 5:
                assert not d.compare_and_set(k, v, have), (k, v)  # v was never stored: loses
            elif op == 6:
                desired = NOT_FOUND if rng.random() < 0.5 else v
                assert d.compare_and_exchange(k, have, desired) is have
                if desired is NOT_FOUND:
                    model.pop(k, None)
                else:
                    model[k] = desired
            else:
                got = d.compute(k, lambda cur: v if cur is NOT_FOUND else NOT_FOUND)
                if have is NOT_FOUND:
                    assert got is v
                    model[k] = v
                else:
                    assert got is NOT_FOUND
                    model.pop(k)
        elif r < 0.85:  # shared counters
            j = rng.randrange(COUNTERS)
            d.add(("ctr", j))
            tallies[j] += 1
        elif r < 0.9995:  # shared keys: values are whatever some writer wrote
            k = ("s", rng.randrange(SHARED))
            if rng.random() < 0.5:
                d[k] = ("w", t, n)
            else:
                got = d.get(k, NOT_FOUND)
                assert got is NOT_FOUND or (type(got) is tuple and got[0] == "w"), (k, got)
        else:  # iteration under churn: never raises, never yields a key twice, and this
            # thread's own keys, which nobody changes while it iterates, come exactly once.
            # Counted, not fatal, so that one broken guarantee does not hide the others.
            every = list(d)
            mine = [k for k in every if type(k) is tuple and k[0] == t]
            if len(every) != len(set(every)) or len(mine) != len(set(mine)) or set(mine) != set(model):
                DUPLICATES.increment_and_get()
        if n % 10_000 == 0:
            progress[t] = n
    progress[t] = ops
    return model, tallies


def check_final(d: AtomicDict, results: list[tuple[dict, list[int]]], extra_keys: int = 0) -> None:
    own_total = 0
    for t, (model, _) in enumerate(results):
        own_total += len(model)
        for k, v in model.items():
            assert d[k] is v, (k, d.get(k), v)
    counters = [sum(res[1][j] for res in results) for j in range(COUNTERS)]
    for j, want in enumerate(counters):
        assert d.get(("ctr", j), 0) == want, (j, d.get(("ctr", j)), want)
    own_in_dict = sum(1 for k in d if type(k) is tuple and type(k[0]) is int)
    assert own_in_dict == own_total, (own_in_dict, own_total)
    shared = sum(1 for k in d if type(k) is tuple and k[0] == "s")
    present_counters = sum(1 for w in counters if w)
    assert len(d) == own_total + shared + present_counters + extra_keys, len(d)
    assert len(list(d)) == len(d) == d.stats()["len"]


def phase_plain(ops: int, cyclic: bool = False) -> None:
    d = AtomicDict()
    progress = [0] * THREADS
    results = run_threads(THREADS, lambda t: workload(d, t, ops, cyclic, progress))
    check_final(d, results)


def phase_gc(ops: int) -> None:
    d = AtomicDict()
    stop = threading.Event()
    finished = AtomicInt()
    collections = [0]
    progress = [0] * THREADS

    def work(t: int):
        if t == THREADS - 1:
            while not stop.is_set():
                gc.collect()
                collections[0] += 1
                # Each collection stops the world; back to back, they left the workers almost
                # no time (the phase took from 57 s to over 30 min, with 99% of the time in the
                # collector). A millisecond between them still collects hundreds of times a
                # second beside the workload.
                time.sleep(0.001)
            return None
        try:
            return workload(d, t, ops, True, progress)
        finally:
            if finished.increment_and_get() == THREADS - 1:
                stop.set()

    results = run_threads(THREADS, work)
    stop.set()
    check_final(d, results[: THREADS - 1])
    say(f"  gc.collect() ran {collections[0]} times beside the workload")


def phase_blocked(ops: int) -> None:
    entered = threading.Event()
    release = threading.Event()

    class Blocking(Collide):
        __hash__ = Collide.__hash__

        def __eq__(self, other):
            if self.tag == "blocker":
                entered.set()
                if not release.wait(timeout=3600):
                    raise AssertionError("never released")
            return super().__eq__(other)

    stored = Collide("stored", h=99)
    d = AtomicDict([(stored, "s")])
    progress = [0] * THREADS
    finished = AtomicInt()
    rss: dict = {}

    def work(t: int):
        if t == 0:
            d[Blocking("blocker", h=99)] = "b"  # blocks inside stored.__eq__... or ours
            return "blocked call finished"
        assert entered.wait(timeout=60), "the blocker never entered __eq__"
        if t == 1:
            rss["start"] = rss_mb()
        try:
            return workload(d, t, ops, False, progress)
        finally:
            finished.increment_and_get()

    def watch():
        # Release the blocked thread only after every other thread finished its workload.
        peak = 0.0
        while finished.get() < THREADS - 1:
            peak = max(peak, rss_mb())
            time.sleep(0.05)
        rss["peak"] = max(peak, rss_mb())
        rss["released_before_end"] = release.is_set()
        release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    results = run_threads(THREADS, work)
    watcher.join()
    assert results[0] == "blocked call finished"
    assert not rss["released_before_end"], "the blocked call was released before the others finished"
    assert d[Collide("blocker", h=99)] == "b" and d[stored] == "s"
    check_final(d, results[1:], extra_keys=2)
    grown = rss["peak"] - rss["start"]
    say(f"  RSS while blocked: {rss['start']:.0f} MB at start, peak {rss['peak']:.0f} MB (+{grown:.0f} MB)")
    # The live data is a few MB; allow generous slack, but not growth with the operation count.
    assert grown < 512, f"RSS grew by {grown:.0f} MB while one thread was blocked in __eq__"


def phase_idle(ops: int) -> None:
    made, finalized = AtomicCounter(), AtomicCounter()

    class Value:
        """A stored value whose finalizer is counted."""

        __slots__ = ()

        def __init__(self) -> None:
            made.increment()

        def __del__(self) -> None:
            finalized.increment()

    d, cleared = AtomicDict(), AtomicDict()
    clears = max(ops // 10, 1_000)
    rss = {"start": rss_mb(), "peak": 0.0}
    done = threading.Event()

    def check(yielded: list, stable: list, t: int) -> None:
        assert len(yielded) == len(set(yielded)), "an iterator yielded a key twice"
        mine = [k for k in yielded if k[0] == t and k[1] == "stable"]
        assert mine == stable, "an iterator missed or reordered a key present throughout"

    def churn(t: int) -> None:
        rng = random.Random(1_000 + t)
        stable = [(t, "stable", i) for i in range(100)]
        for k in stable:
            d[k] = Value()
        idle: list[tuple[object, list]] = []
        for n in range(ops):
            k = (t, "churn", rng.randrange(OWN_KEYS))
            if rng.random() < 0.5:
                d[k] = Value()
            else:
                d.pop(k, None)
            if n % 1_000 == 0:
                idle.append((iter(d), []))
                if len(idle) > 64:
                    it, yielded = idle.pop(0)
                    yielded.extend(it)
                    check(yielded, stable, t)
            if n % 101 == 0 and idle:
                it, yielded = idle[rng.randrange(len(idle))]
                yielded.extend(k for _, k in zip(range(3), it))
        for it, yielded in idle:
            yielded.extend(it)
            check(yielded, stable, t)

    def clearer() -> None:
        idle = []
        for n in range(clears):
            for k in range(8):  # past the smallest table: a growth
                cleared[k] = Value()
            if n % 100 == 0:
                idle.append(iter(cleared))
                if len(idle) > 64:
                    idle.pop(0)
            cleared.clear()
        assert all(next(it, None) is None for it in idle), "an iterator yielded a key cleared after it began"

    def work(t: int) -> None:
        if t < THREADS - 1:
            churn(t)
        else:
            clearer()

    def watch() -> None:
        while not done.is_set():
            rss["peak"] = max(rss["peak"], rss_mb())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_threads(THREADS, work)
    finally:
        done.set()
        watcher.join()
    migrations = d.stats()["migrations"] + cleared.stats()["migrations"]
    grown = rss["peak"] - rss["start"]
    say(f"  {migrations:,} migrations; RSS {rss['start']:.0f} MB at start, peak {rss['peak']:.0f} MB (+{grown:.0f} MB)")
    # The live data is a few MB; idle iterators keep a few dozen bytes per migration at most.
    assert grown < 256, f"RSS grew by {grown:.0f} MB with idle iterators alive"
    d.clear()
    del d, cleared
    gc.collect()
    assert drive_until(lambda: finalized.get() == made.get(), limit=100_000), (
        f"{made.get() - finalized.get()} of {made.get()} values were never finalized"
    )


def phase_threads(ops: int) -> None:
    made, finalized = AtomicCounter(), AtomicCounter()

    class Value:
        """A stored value whose finalizer is counted."""

        __slots__ = ()

        def __init__(self) -> None:
            made.increment()

        def __del__(self) -> None:
            finalized.increment()

    d: AtomicDict = AtomicDict()
    ref: AtomicRef = AtomicRef(None)
    rss = {"start": rss_mb(), "peak": 0.0}
    done = threading.Event()
    started = AtomicCounter()

    def short_lived(seed: int, n: int) -> None:
        rng = random.Random(seed)
        for _ in range(n):
            r = rng.random()
            k = rng.randrange(SHARED)
            if r < 0.5:
                d[k] = Value()
            elif r < 0.7:
                d.pop(k, None)
            elif r < 0.8:
                ref.set(Value())
            else:
                d.get(k)

    def spawner(t: int) -> None:
        rng = random.Random(2_000 + t)
        left = ops
        while left > 0:
            # Up to a few batches of the epoch (64 releases), so exits fall at every point.
            n = min(left, rng.randrange(1, 600))
            child = threading.Thread(target=short_lived, args=(rng.randrange(2**32), n))
            child.start()
            child.join()
            started.increment()
            left -= n

    def watch() -> None:
        while not done.is_set():
            rss["peak"] = max(rss["peak"], rss_mb())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_threads(THREADS, spawner)
    finally:
        done.set()
        watcher.join()
    grown = rss["peak"] - rss["start"]
    say(f"  {started.get():,} threads started and joined; {made.get():,} values; "
        f"RSS {rss['start']:.0f} MB at start, peak {rss['peak']:.0f} MB (+{grown:.0f} MB)")
    # The live data is 64 values; what waits for the epoch is a few batches per thread.
    assert grown < 256, f"RSS grew by {grown:.0f} MB with threads started and joined"
    d.clear()
    ref.set(None)
    del d, ref
    gc.collect()
    assert drive_until(lambda: finalized.get() == made.get(), limit=100_000), (
        f"{made.get() - finalized.get()} of {made.get()} values were never finalized"
    )


def phase_histories(count: int) -> None:
    lin.check_dict_histories(count, seed=10_000)
    lin.check_dict_histories(count // 3, seed=20_000, threads=8, ops=40)
    for history in lin.record([AtomicDict() for _ in range(count // 3)],
                              lin.dict_body(30, (Collide("a", h=5), Collide("b", h=5), Collide("c", h=5))),
                              threads=4, seed=30_000):
        lin.check(history, lambda key: lin.DictKeyModel())
    lin.check_int_histories(count, seed=40_000)
    lin.check_ref_histories(count, seed=50_000)


PHASES = {
    "plain": lambda: phase_plain(OPS),
    "gc": lambda: phase_gc(OPS),
    "blocked": lambda: phase_blocked(OPS),
    "idle": lambda: phase_idle(OPS),
    "threads": lambda: phase_threads(OPS // 4),
    "histories": lambda: phase_histories(HISTORIES),
}


def main(argv: list[str]) -> int:
    names = argv or list(PHASES)
    say(f"{THREADS} threads x {OPS:,} operations per phase; {HISTORIES:,} histories per type; "
        f"GIL {'enabled' if getattr(sys, '_is_gil_enabled', lambda: True)() else 'disabled'}")
    failed = []
    for name in names:
        start = time.perf_counter()
        say(f"{name} ...")
        try:
            DUPLICATES.set(0)
            PHASES[name]()
            assert DUPLICATES.get() == 0, f"{DUPLICATES.get()} iterations yielded a key twice or missed an own one"
        except Exception as exc:  # noqa: BLE001 - report every phase, then fail
            failed.append(name)
            say(f"{name} FAILED after {time.perf_counter() - start:.0f}s: {type(exc).__name__}: {exc}")
        else:
            say(f"{name} ok in {time.perf_counter() - start:.0f}s (RSS {rss_mb():.0f} MB)")
    if failed:
        say(f"FAILED: {', '.join(failed)}")
        return 1
    say("all phases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
