"""lockless at work: threads updating shared state, with and without lockless.

Run with `make demo` (uses the free-threaded `.venv`). Each section is a function registered
in SECTIONS; add a section by writing one more and appending it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping

from lockless import AtomicCounter, AtomicCounterDict, AtomicDict, AtomicInt

THREADS = 4
INCREMENTS = 200_000  # per thread


def run_threads(work: Callable[[], None], threads: int = THREADS) -> float:
    """Start `threads` threads running `work` behind one barrier; return the seconds taken."""
    barrier = threading.Barrier(threads + 1)

    def body() -> None:
        barrier.wait()
        work()

    pool = [threading.Thread(target=body) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def report(label: str, total: int, expected: int, seconds: float) -> None:
    lost = expected - total
    verdict = "exact" if lost == 0 else f"LOST {lost:,} updates"
    print(f"  {label:<28} {total:>12,} of {expected:,}  {verdict:<24} {seconds * 1000:8.1f} ms")


# --- sections ------------------------------------------------------------------------------------

plain_total = 0


def section_counters() -> None:
    """4 threads incrementing: a plain int with += vs AtomicInt vs AtomicCounter."""
    expected = THREADS * INCREMENTS
    print(f"{THREADS} threads x {INCREMENTS:,} increments each")

    global plain_total
    plain_total = 0

    def plain() -> None:
        global plain_total
        for _ in range(INCREMENTS):
            plain_total += 1  # read, add, write: another thread can write in between

    seconds = run_threads(plain)
    report("int with +=", plain_total, expected, seconds)

    atomic = AtomicInt()

    def atomic_work() -> None:
        a = atomic
        for _ in range(INCREMENTS):
            a += 1  # one atomic operation; `a` stays the same AtomicInt

    seconds = run_threads(atomic_work)
    report("AtomicInt with +=", atomic.get(), expected, seconds)

    counter = AtomicCounter()

    def counter_work() -> None:
        inc = counter.increment
        for _ in range(INCREMENTS):
            inc()  # each thread mostly touches its own cache line

    seconds = run_threads(counter_work)
    report("AtomicCounter.increment()", counter.get(), expected, seconds)


def make_text(words: int = 400_000) -> list[str]:
    """A deterministic text: words drawn from a 2,000-word vocabulary, Zipf-like."""
    import random

    rng = random.Random(42)
    vocabulary = [f"w{i}" for i in range(2_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    return rng.choices(vocabulary, weights=weights, k=words)


def section_word_count() -> None:
    """4 threads counting words into one map: dict (+ Lock), AtomicDict, AtomicCounterDict."""
    text = make_text()
    chunks = [text[i::THREADS] for i in range(THREADS)]
    expected = Counter(text)
    print(f"{THREADS} threads counting {len(text):,} words ({len(expected):,} distinct)")

    def check(counts: Mapping[str, int]) -> int:
        """Updates lost: the shortfall against a single-threaded count."""
        return sum(expected.values()) - sum(counts.get(w, 0) for w in expected)

    def run_chunks(work: Callable[[list[str]], None]) -> float:
        it = iter(chunks)
        lock = threading.Lock()

        def body() -> None:
            with lock:
                mine = next(it)
            work(mine)

        return run_threads(body)

    plain: dict[str, int] = {}

    def plain_work(words: list[str]) -> None:
        for w in words:
            # Read-modify-write: races lose updates. (Subscripting, not dict.get: on 3.13t
            # dict.get can stall ~20 us reading a value another thread created.)
            if w in plain:
                plain[w] += 1
            else:
                plain[w] = 1

    seconds = run_chunks(plain_work)
    report("dict, no lock", len(text) - check(plain), len(text), seconds)

    locked: dict[str, int] = {}
    lock = threading.Lock()

    def locked_work(words: list[str]) -> None:
        for w in words:
            with lock:
                if w in locked:
                    locked[w] += 1
                else:
                    locked[w] = 1

    seconds = run_chunks(locked_work)
    report("dict + threading.Lock", len(text) - check(locked), len(text), seconds)

    atomic: AtomicDict[str, int] = AtomicDict()

    def atomic_work(words: list[str]) -> None:
        add = atomic.add
        for w in words:
            add(w)  # the race-free d[w] += 1

    seconds = run_chunks(atomic_work)
    report("AtomicDict.add", len(text) - check(atomic), len(text), seconds)

    batched: AtomicDict[str, int] = AtomicDict()
    seconds = run_chunks(batched.count)
    report("AtomicDict.count (batched)", len(text) - check(batched), len(text), seconds)
    counter: AtomicCounterDict[str] = AtomicCounterDict()

    def counter_work(words: list[str]) -> None:
        add = counter.add
        for w in words:
            add(w)  # one atomic step on the count stored in the table: no int allocated

    seconds = run_chunks(counter_work)
    report("AtomicCounterDict.add", len(text) - check(counter), len(text), seconds)

    updated: AtomicCounterDict[str] = AtomicCounterDict()
    seconds = run_chunks(updated.update)
    report("AtomicCounterDict.update", len(text) - check(updated), len(text), seconds)
    print(f"  most common: {updated.most_common(3)}")
    assert dict(atomic) == dict(batched) == dict(expected), "AtomicDict counts must be exact"
    assert counter == updated == expected, "AtomicCounterDict counts must be exact"


SECTIONS: list[Callable[[], None]] = [section_counters, section_word_count]


def main() -> None:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"Python {sys.version.split()[0]}, GIL {'enabled' if gil else 'disabled'}\n")
    for section in SECTIONS:
        print(f"== {section.__doc__}")
        section()
        print()


if __name__ == "__main__":
    main()
