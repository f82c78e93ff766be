"""Looks for issue 17's "run B": two threads' writes collapsing for a whole process.

    python benches/write_collapse.py                         # 10 fresh processes, each state
    python benches/write_collapse.py --processes 30 --states fresh,idle-threads
    python benches/write_collapse.py --impl dict             # the same for a control

Each process runs write-heavy with int keys on one shared map (100,000 prefilled keys; each
thread makes its own equal-but-distinct key objects; 50% `m[k]`, 50% `m[k] = v` drawn in a
block it replays), once with one thread, then `--reps` times with two, after bringing the
process into a state:

* `fresh`: nothing before;
* `history`: what a harness run leaves: 40 rounds of 1, 2 and 8 threads inserting, deleting,
  writing and reading other maps, joined and gone (threads come and go; the epoch collector
  sees hundreds of participants register and leave; glibc and mimalloc arenas are reused);
* `idle-threads`: 64 threads that used lockless once and stay alive, idle (a thread pool): each
  stays registered with the epoch collector, which walks every registered participant each time
  a thread collects garbage (after every 32 writes, and every 128 calls);
* `one-arena`: `MALLOC_ARENA_MAX=1`, so both workers allocate from one glibc arena, as they do
  when a thread starts with no free arena and the arena limit (8 per core) reached.

A process whose two-thread figures all sit far below the others, state for state, is the
collapse; the ratio 2 threads / 1 thread is printed per process. Times are wall clock: run it
on an otherwise idle machine (two threads that do not run at the same time cannot contend).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

KEYS = 100_000
BLOCK = 65_536
STATES = ("fresh", "history", "idle-threads", "one-arena")


def new_map(impl: str):
    if impl == "dict":
        return {}
    if impl == "cereggii":
        import cereggii

        return cereggii.AtomicDict()
    import lockless

    return lockless.AtomicDict()


def own_keys(numbers) -> list[int]:
    return [int(s) for s in map(str, [1_000 + i for i in numbers])]


def run_threads(n: int, prepare, work) -> float:
    """n threads behind a barrier, each making its arguments first; returns the wall time."""
    barrier = threading.Barrier(n)
    spans = [(0.0, 0.0)] * n

    def main(t: int) -> None:
        args = prepare(t)
        barrier.wait()
        t0 = time.perf_counter()
        work(*args)
        spans[t] = (t0, time.perf_counter())

    threads = [threading.Thread(target=main, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return max(e for _, e in spans) - min(s for s, _ in spans)


def mix(m, keys, writes, reps: int) -> None:
    for _ in range(reps):
        for k, w in zip(keys, writes):
            if w:
                m[k] = k
            else:
                m[k]


def write_heavy(impl: str, nthreads: int, ops: int, rng: random.Random) -> float:
    """Mops/s of one run."""
    m = new_map(impl)
    for k in range(1_000, 1_000 + KEYS):
        m[k] = k
    blocks = [([rng.randrange(KEYS) for _ in range(BLOCK)], [rng.random() < 0.5 for _ in range(BLOCK)])
              for _ in range(nthreads)]
    reps = max(1, ops // nthreads // BLOCK)

    def prepare(t: int):
        own = own_keys(range(KEYS))
        idx, writes = blocks[t]
        return (m, [own[i] for i in idx], writes, reps)

    gc.collect()
    gc.disable()
    try:
        secs = run_threads(nthreads, prepare, mix)
    finally:
        gc.enable()
    return nthreads * reps * BLOCK / secs / 1e6


def history(impl: str) -> None:
    for r in range(40):
        for n in (1, 2, 8):
            m = new_map(impl)
            for k in range(1_000, 21_000):
                m[k] = k

            def churn(keys):
                for k in keys:
                    m[k] = k
                    m[k]
                    del m[k]

            run_threads(n, lambda t: (own_keys(range(20_000 + 5_000 * t, 25_000 + 5_000 * t)),), churn)


def child(impl: str, state: str, ops: int, reps: int) -> None:
    stop = threading.Event()
    if state == "history":
        history(impl)
    elif state == "idle-threads":
        ready = threading.Barrier(65)

        def idle() -> None:
            d = new_map(impl)
            d[1] = 1  # registers this thread with the epoch collector (lockless)
            ready.wait()
            stop.wait()

        for _ in range(64):
            threading.Thread(target=idle, daemon=True).start()
        ready.wait()
    rng = random.Random(17)
    one = write_heavy(impl, 1, ops, rng)
    two = [write_heavy(impl, 2, ops, rng) for _ in range(reps)]
    stop.set()
    print(f"{one:.3f} " + " ".join(f"{x:.3f}" for x in two), flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", default="lockless", choices=("lockless", "dict", "cereggii"))
    p.add_argument("--states", default=",".join(STATES), help="comma-separated subset of: " + ",".join(STATES))
    p.add_argument("--processes", type=int, default=10, help="fresh processes per state")
    p.add_argument("--ops", type=int, default=3_000_000, help="operations per run, all threads")
    p.add_argument("--reps", type=int, default=3, help="two-thread runs per process")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        impl, state, ops, reps = args.child
        child(impl, state, int(ops), int(reps))
        return 0
    print(f"write-heavy int, shared {args.impl}, {args.ops:,} ops per run; load average {os.getloadavg()[0]:.2f}")
    for state in args.states.split(","):
        env = {**os.environ}
        if state == "one-arena":
            env["MALLOC_ARENA_MAX"] = "1"
        ratios = []
        print(f"\n{state}: Mops/s at 1 thread | 2 threads x{args.reps} | 2 threads / 1 (median)")
        for i in range(args.processes):
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", args.impl, state,
                                  str(args.ops), str(args.reps)], capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"  process {i}: failed: {out.stderr.strip()[-300:]}")
                continue
            one, *two = map(float, out.stdout.split())
            ratio = statistics.median(two) / one
            ratios.append(ratio)
            print(f"  {one:6.2f} | " + " ".join(f"{x:6.2f}" for x in two) + f" | {ratio:5.2f}", flush=True)
        if ratios:
            print(f"  2 threads / 1 over {len(ratios)} processes: min {min(ratios):.2f}, "
                  f"median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
