"""AtomicCounterDict against its peers (issue 13's speed goals), one shared object per run.

    python benches/counter_bench.py                 # everything: tables and the goals on stdout
    python benches/counter_bench.py --json out.json
    python benches/counter_bench.py --quick         # tiny sizes, one run: proves it works (make test)

Workloads:

* hot counters: 16 keys (int, then str), every thread adding 1 to keys drawn at random, at 1, 2
  and 8 threads, on one object shared by every thread (no ``thread_handle``):
  ``AtomicCounterDict.add(k)``; ``AtomicDict.add(k)``; ft_utils' idiom, a ConcurrentDict of one
  AtomicInt64 per key made beforehand, ``m[k].incr()``; cereggii's AtomicDict with a
  ``get`` + ``compare_and_set`` loop (the peers are skipped when not installed: ``make peers``);
* batched counting: ``update(words)`` over a list of words (Zipf-like, 5,000 distinct) against
  ``collections.Counter.update`` (C-accelerated) on the same list, one thread; then the list
  split between 2 threads updating one AtomicCounterDict;
* memory: bytes per key after counting N distinct int keys once, as RSS in a fresh interpreter,
  against a dict of small ints.

Threads start behind a Barrier on pre-generated inputs. Each figure is the median of --runs runs.
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
from collections import Counter
from collections.abc import Callable
from pathlib import Path

try:
    from lockless import AtomicCounterDict, AtomicDict
except ImportError:  # run from a checkout without an installed lockless
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    from lockless import AtomicCounterDict, AtomicDict

try:
    import cereggii
except ImportError:
    cereggii = None
try:
    from ft_utils import concurrency as ft_concurrency
except ImportError:
    ft_concurrency = None

HOT_KEYS = 16


def _cereggii_add(m, keys) -> None:
    failed = cereggii.ExpectationFailed
    for k in keys:
        while True:
            old = m[k]
            try:
                m.compare_and_set(k, old, old + 1)
                break
            except failed:
                pass


def _lockless_add(m, keys) -> None:
    add = m.add
    for k in keys:
        add(k)


def _ft_utils_add(m, keys) -> None:
    for k in keys:
        m[k].incr()


def hot_impls() -> dict[str, tuple[Callable[[list], object], Callable[[object, list], None], Callable]]:
    """name -> (make(keys), body(m, keys), read(m, k))."""
    impls: dict[str, tuple] = {
        "AtomicCounterDict": (lambda keys: AtomicCounterDict(), _lockless_add, lambda m, k: m[k]),
        "AtomicDict.add": (lambda keys: AtomicDict(), _lockless_add, lambda m, k: m.get(k, 0)),
    }
    if ft_concurrency is not None:

        def ft_make(keys):
            m = ft_concurrency.ConcurrentDict()
            for k in keys:
                m[k] = ft_concurrency.AtomicInt64(0)
            return m

        impls["ft_utils AtomicInt64 per key"] = (ft_make, _ft_utils_add, lambda m, k: m[k].get())
    if cereggii is not None:

        def cg_make(keys):
            m = cereggii.AtomicDict()
            for k in keys:
                m[k] = 0
            return m

        impls["cereggii get+CAS loop"] = (cg_make, _cereggii_add, lambda m, k: m[k])
    return impls


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


def hot_keys(kind: str) -> list:
    return list(range(HOT_KEYS)) if kind == "int" else [f"counter-{i}" for i in range(HOT_KEYS)]


def hot(impl: str, kind: str, threads: int, per_thread: int) -> float:
    """Million adds per second; checks the totals are exact."""
    make, body, read = hot_impls()[impl]
    keys = hot_keys(kind)
    m = make(keys)
    inputs = []
    for t in range(threads):
        rng = random.Random(t)
        inputs.append([keys[rng.randrange(HOT_KEYS)] for _ in range(per_thread)])
    gc.collect()
    elapsed = timed_threads(threads, lambda t: body(m, inputs[t]))
    total = sum(read(m, k) for k in keys)
    assert total == threads * per_thread, (impl, total)
    return threads * per_thread / elapsed / 1e6


def words(n: int, distinct: int = 5_000, seed: int = 7) -> list[str]:
    """A list of `n` words with a Zipf-like frequency (word i about 1/(i+1) as common)."""
    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(distinct)]
    weights = [1 / (i + 1) for i in range(distinct)]
    return rng.choices(vocab, weights, k=n)


def batched(impl: str, threads: int, text: list[str]) -> float:
    """Million words counted per second: `update` over `text`, split between the threads."""
    c = Counter() if impl == "Counter" else AtomicCounterDict()
    step = len(text) // threads
    parts = [text[t * step : (t + 1) * step] for t in range(threads)]
    gc.collect()
    elapsed = timed_threads(threads, lambda t: c.update(parts[t]))
    assert sum(c.values()) == step * threads
    return step * threads / elapsed / 1e6


def machine_check(threads: int = 2, n: int = 2_000_000) -> float:
    """Throughput of `threads` threads each counting in a local variable (nothing shared),
    against one: near `threads` only if the CPUs are free for us."""

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
    keys = list(range(10_000, 10_000 + n))
    AtomicCounterDict()  # touch the type before the first reading
    gc.collect()
    before = rss()
    if impl == "AtomicCounterDict":
        c = AtomicCounterDict()
        add = c.add
        for k in keys:
            add(k)
    else:
        d: dict[int, int] = {}
        for k in keys:
            d[k] = d.get(k, 0) + 1
    gc.collect()
    print(json.dumps({"bytes_per_key": (rss() - before) / n}))


def memory(impl: str, n: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-child", impl, str(n)],
                         capture_output=True, text=True, check=True, timeout=600)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["bytes_per_key"])


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
    per = 2_000 if quick else 400_000
    text = words(20_000 if quick else 2_000_000)
    threads = [1, 2] if quick else [1, 2, 8]
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} ({'GIL' if gil else 'free-threaded'}), "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, runs {runs}; "
          f"peers: cereggii {'yes' if cereggii else 'no'}, ft_utils {'yes' if ft_concurrency else 'no'}", flush=True)
    if not quick:
        print(f"machine check: 2 threads counting locally = {machine_check():.2f}x one thread "
              "(2.0 when both CPUs are free)", flush=True)

    results: dict[str, dict[str, float]] = {}

    def record(name: str, impl: str, value: float) -> None:
        results.setdefault(name, {})[impl] = value
        print(f"  {name:<36} {impl:<30} {value:10.2f}", flush=True)

    for kind in ("int", "str"):
        for t in threads:
            for impl in hot_impls():
                record(f"hot {kind} {t} thr (Mops/s)", impl, median_of(runs, lambda: hot(impl, kind, t, per)))
    for impl, t in (("Counter", 1), ("AtomicCounterDict", 1), ("AtomicCounterDict", 2)):
        record(f"update(words) {t} thr (Mwords/s)", impl, median_of(runs, lambda: batched(impl, t, text)))
    for size in ([20_000] if quick else [100_000, 1_000_000]):
        for impl in ("AtomicCounterDict", "dict"):
            record(f"memory {size:,} int keys (bytes/key)", impl, memory(impl, size))

    print()
    for name, row in results.items():
        print(f"{name:<36} " + "  ".join(f"{impl} {value:.2f}" for impl, value in row.items()))

    def get(name: str, impl: str = "AtomicCounterDict") -> float:
        return results[name].get(impl, float("nan"))

    goals = []
    if not quick:
        for kind in ("int", "str"):
            h = f"hot {kind} {{}} thr (Mops/s)"
            goals += [
                (f"hot {kind}: 2 thr vs its own 1 thr", get(h.format(2)) / get(h.format(1)), ">=", 1.8),
                (f"hot {kind}: 8 thr vs its own 2 thr", get(h.format(8)) / get(h.format(2)), ">=", 0.9),
            ]
            for t in (2, 8):
                goals += [
                    (f"hot {kind}: {t} thr vs ft_utils per-key AtomicInt64",
                     get(h.format(t)) / get(h.format(t), "ft_utils AtomicInt64 per key"), ">=", 1.3),
                    (f"hot {kind}: {t} thr vs cereggii get+CAS",
                     get(h.format(t)) / get(h.format(t), "cereggii get+CAS loop"), ">=", 2.0),
                ]
        u = "update(words) {} thr (Mwords/s)"
        goals += [
            ("update(words) 1 thr vs Counter.update", get(u.format(1)) / get(u.format(1), "Counter"), ">=", 1.0),
            ("update(words) 2 thr vs Counter.update (1 thr)", get(u.format(2)) / get(u.format(1), "Counter"), ">=", 1.8),
        ]
        for size in ("100,000", "1,000,000"):
            m = f"memory {size} int keys (bytes/key)"
            goals.append((f"memory per key vs dict of small ints ({size})", get(m) / get(m, "dict"), "<=", 1.0))
        print("\nissue 13 goals:")
        for label, value, cmp, goal in goals:
            ok = value >= goal if cmp == ">=" else value <= goal
            print(f"  {'ok  ' if ok else 'MISS'} {label:<50} {value:6.2f}  (goal {cmp} {goal})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "goals": goals}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
