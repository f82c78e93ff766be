"""AtomicSet against the builtin set (issue 14's speed goals), one shared object per run.

    python benches/set_bench.py                 # everything: tables and the goals on stdout
    python benches/set_bench.py --json out.json
    python benches/set_bench.py --quick         # tiny sizes, one run: proves it works (make test)

Workloads, each on an AtomicSet and on a set shared by every thread (a set takes its own
per-object lock on every call on the free-threaded build, so it is safe to share too):

* membership: 90% ``x in s``, 5% ``s.add(x)``, 5% ``s.discard(x)`` over 100,000 elements, at 1,
  2 and 8 threads; and, as an extra beside it, AtomicSet with a ``thread_handle()`` per thread;
* add-heavy: each thread adds its own fresh elements to an empty set, at 1, 2 and 8 threads;
* single thread: ``x in s`` (present) and ``s.add(x)`` (present, and new), time per call;
* memory: bytes per element after adding N ints, as RSS in a fresh interpreter.

Threads start behind a Barrier on pre-generated inputs; each thread makes its own int objects,
so no key object is shared between threads (whose refcount writes would cost both sets alike).
Each figure is the median of --runs runs, and the runs alternate the two implementations.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

try:
    from lockless import AtomicSet
except ImportError:  # run from a checkout without an installed lockless
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    from lockless import AtomicSet

IMPLS: dict[str, Callable[[], object]] = {"AtomicSet": AtomicSet, "set": set}
BASE = 10_000  # elements are BASE + i: outside the small-int cache, real objects


def membership_ops(n: int, count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    ops = []
    for _ in range(count):
        r = rng.random()
        code = 0 if r < 0.90 else 1 if r < 0.95 else 2
        ops.append((code, BASE + rng.randrange(n)))
    return ops


def membership_body(s, ops) -> None:
    add, discard = s.add, s.discard
    for code, x in ops:
        if code == 0:
            x in s  # noqa: B015
        elif code == 1:
            add(x)
        else:
            discard(x)


def add_body(s, keys) -> None:
    add = s.add
    for x in keys:
        add(x)


def timed_threads(threads: int, body: Callable[[int], None]) -> float:
    """Runs body(t) in `threads` threads behind a Barrier; seconds from release to the end."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run(t: int) -> None:
        barrier.wait()
        try:
            body(t)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def membership(impl: str, threads: int, n: int, per_thread: int, handles: bool = False) -> float:
    """Million operations per second; with `handles`, each thread works through a
    `thread_handle()` of its own (AtomicSet only; the extra form, not the drop-in one)."""
    s = IMPLS[impl]()
    for i in range(n):
        s.add(BASE + i)
    inputs = [membership_ops(n, per_thread, seed=t) for t in range(threads)]
    gc.collect()
    elapsed = timed_threads(threads, lambda t: membership_body(s.thread_handle() if handles else s, inputs[t]))
    return threads * per_thread / elapsed / 1e6


def add_heavy(impl: str, threads: int, n: int, per_thread: int) -> float:
    s = IMPLS[impl]()
    inputs = [[BASE + n + t * per_thread + i for i in range(per_thread)] for t in range(threads)]
    gc.collect()
    elapsed = timed_threads(threads, lambda t: add_body(s, inputs[t]))
    assert len(s) == threads * per_thread
    return threads * per_thread / elapsed / 1e6


def micro(impl: str, what: str, n: int, calls: int) -> float:
    """Nanoseconds per call, one thread (loop overhead included, the same for both)."""
    s = IMPLS[impl]()
    present = [BASE + i for i in range(n)]
    for x in present:
        s.add(x)
    rng = random.Random(1)
    keys = [BASE + rng.randrange(n) for _ in range(calls)]
    if what == "add-new":
        keys = [BASE + n + i for i in range(calls)]
    gc.collect()
    start = time.perf_counter()
    if what == "in":
        for x in keys:
            x in s  # noqa: B015
    else:
        add = s.add
        for x in keys:
            add(x)
    return (time.perf_counter() - start) / calls * 1e9


def machine_check(threads: int = 2, n: int = 2_000_000) -> float:
    """Throughput of `threads` threads each counting in a local variable (nothing shared),
    against one: near `threads` only if the CPUs are free for us. Below that, thread-scaling
    figures of this run measure the machine's other load, not the sets."""

    def count() -> None:
        x = 0
        for _ in range(n):
            x += 1

    def rate(t: int) -> float:
        return max(t * n / timed_threads(t, lambda _: count()) for _ in range(3))

    return rate(threads) / rate(1)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


def memory_child(impl: str, n: int) -> None:
    keys = list(range(BASE, BASE + n))
    IMPLS[impl]()  # touch the type before the first reading
    gc.collect()
    before = rss()
    s = IMPLS[impl]()
    for k in keys:
        s.add(k)
    gc.collect()
    print(json.dumps({"bytes_per_element": (rss() - before) / n}))


def memory(impl: str, n: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-child", impl, str(n)],
                         capture_output=True, text=True, check=True, timeout=600)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["bytes_per_element"])


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one run (for make test)")
    p.add_argument("--runs", type=int, help="runs per figure, median taken (default 5)")
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    p.add_argument("--memory-child", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return 0

    quick = args.quick
    runs = args.runs or (1 if quick else 5)
    n = 1_000 if quick else 100_000
    per = 2_000 if quick else 400_000
    adds = 2_000 if quick else 200_000
    calls = 2_000 if quick else 1_000_000
    threads = [1, 2] if quick else [1, 2, 8]
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} ({'GIL' if gil else 'free-threaded'}), "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, runs {runs}", flush=True)
    if not quick:
        print(f"machine check: 2 threads counting locally = {machine_check():.2f}x one thread "
              "(2.0 when both CPUs are free)", flush=True)

    results: dict[str, dict[str, float]] = {}

    def record(name: str, impl: str, value: float) -> None:
        results.setdefault(name, {})[impl] = value

    for t in threads:
        for impl in IMPLS:  # alternate inside each figure's runs would double the time; the
            record(f"membership {t} thr (Mops/s)", impl,  # two share one machine state here
                   median_of(runs, lambda: membership(impl, t, n, per // t if quick else per)))
            record(f"add-heavy {t} thr (Mops/s)", impl, median_of(runs, lambda: add_heavy(impl, t, n, adds)))
        # The extra form: AtomicSet through a handle per thread, beside the shared builtin set
        # (which has no handle; its figure is the one above).
        record(f"membership {t} thr, AtomicSet handles (Mops/s)", "AtomicSet",
               median_of(runs, lambda: membership("AtomicSet", t, n, per // t if quick else per, handles=True)))
        record(f"membership {t} thr, AtomicSet handles (Mops/s)", "set", results[f"membership {t} thr (Mops/s)"]["set"])
    for what in ("in", "add-present", "add-new"):
        for impl in IMPLS:
            record(f"single thread {what} (ns/call)", impl, median_of(runs, lambda: micro(impl, what, n, calls)))
    for size in ([20_000] if quick else [100_000, 1_000_000]):
        for impl in IMPLS:
            record(f"memory {size:,} ints (bytes/element)", impl, memory(impl, size))

    width = max(map(len, results)) + 2
    print(f"\n{'':<{width}}{'AtomicSet':>12}{'set':>12}{'ratio':>9}")
    for name, row in results.items():
        ratio = row["AtomicSet"] / row["set"] if row["set"] else float("nan")  # RSS may not move
        print(f"{name:<{width}}{row['AtomicSet']:>12.2f}{row['set']:>12.2f}{ratio:>8.2f}x")

    def get(name: str, impl: str = "AtomicSet") -> float:
        return results[name][impl]

    goals = []
    if not quick:
        m = "membership {} thr (Mops/s)"
        goals = [
            ("membership 2 thr vs its own 1 thr", get(m.format(2)) / get(m.format(1)), ">=", 1.8),
            ("membership 2 thr vs set at 2 thr", get(m.format(2)) / get(m.format(2), "set"), ">=", 2.0),
            ("membership 8 thr vs its own 2 thr", get(m.format(8)) / get(m.format(2)), ">=", 0.9),
            ("add-heavy 2 thr vs set at 2 thr",
             get("add-heavy 2 thr (Mops/s)") / get("add-heavy 2 thr (Mops/s)", "set"), ">=", 2.0),
            ("single thread `x in s` time vs set",
             get("single thread in (ns/call)") / get("single thread in (ns/call)", "set"), "<=", 1.3),
            ("single thread `s.add(x)` (present) time vs set",
             get("single thread add-present (ns/call)") / get("single thread add-present (ns/call)", "set"),
             "<=", 1.3),
            ("memory per element vs set (100,000 ints)",
             get("memory 100,000 ints (bytes/element)") / get("memory 100,000 ints (bytes/element)", "set"),
             "<=", 1.5),
            ("memory per element vs set (1,000,000 ints)",
             get("memory 1,000,000 ints (bytes/element)") / get("memory 1,000,000 ints (bytes/element)", "set"),
             "<=", 1.5),
        ]
        print("\nissue 14 goals:")
        for label, value, cmp, goal in goals:
            ok = value >= goal if cmp == ">=" else value <= goal
            print(f"  {'ok  ' if ok else 'MISS'} {label:<50} {value:6.2f}  (goal {cmp} {goal})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "goals": goals}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
