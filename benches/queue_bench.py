"""Queue benchmarks: lockless.AtomicQueue against queue.Queue, queue.SimpleQueue and ft_utils'
ConcurrentQueue (when importable).

    python benches/queue_bench.py                       # everything: table on stdout
    python benches/queue_bench.py --json out.json --plot docs/bench/queue.png
    python benches/queue_bench.py --quick               # tiny sizes, one run: proves it works

* **Throughput**: P producers each put ``--items`` small ints (``range(items)``), P consumers
  get them (``get()``, blocking), for P = 1, 2, 4. Items per second from the Barrier that
  starts every thread to the last join. Unbounded queues, then bounded ones (maxsize 1024:
  AtomicQueue and queue.Queue).
* **Hand-off latency**: two threads bounce one object through two queues (ping-pong); the
  figure is the median round trip over ``--trips`` trips, each timed with perf_counter_ns.

Each figure is the median of ``--runs`` runs, and the runs interleave the implementations:
this machine is shared and noisy, so compare within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lockless

# name -> factory(maxsize) returning (queue, put attribute, get attribute); maxsize 0 means
# unbounded. A factory returns None for a bound it does not support.
Factory = Callable[[int], "tuple[Any, str, str] | None"]


def _ft_utils() -> Any:
    try:
        from ft_utils.concurrency import ConcurrentQueue  # type: ignore[import-not-found]
    except ImportError:
        return None
    return ConcurrentQueue


def implementations() -> dict[str, Factory]:
    impls: dict[str, Factory] = {
        "AtomicQueue": lambda m: (lockless.AtomicQueue(m), "put", "get"),
        "queue.Queue": lambda m: (queue.Queue(m), "put", "get"),
        "queue.SimpleQueue": lambda m: None if m else (queue.SimpleQueue(), "put", "get"),
    }
    cq = _ft_utils()
    if cq is not None:
        impls["ft_utils.ConcurrentQueue"] = lambda m: None if m else (cq(), "push", "pop")
    return impls


def throughput(factory: Factory, maxsize: int, pairs: int, items: int) -> float | None:
    """Items per second moved by `pairs` producers and as many consumers."""
    made = factory(maxsize)
    if made is None:
        return None
    q, put_name, get_name = made
    barrier = threading.Barrier(2 * pairs + 1)

    def produce() -> None:
        put = getattr(q, put_name)
        barrier.wait()
        for i in range(items):
            put(i)

    def consume() -> None:
        get = getattr(q, get_name)
        barrier.wait()
        for _ in range(items):
            get()

    threads = [threading.Thread(target=produce) for _ in range(pairs)]
    threads += [threading.Thread(target=consume) for _ in range(pairs)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return pairs * items / (time.perf_counter() - start)


def round_trips(factory: Factory, trips: int) -> list[int] | None:
    """Round-trip times (ns) of one object bounced between two threads through two queues."""
    made_ping, made_pong = factory(0), factory(0)
    if made_ping is None or made_pong is None:
        return None
    ping, pong = made_ping[0], made_pong[0]
    put_name, get_name = made_ping[1], made_ping[2]
    ping_put, ping_get = getattr(ping, put_name), getattr(ping, get_name)
    pong_put, pong_get = getattr(pong, put_name), getattr(pong, get_name)

    def echo() -> None:
        for _ in range(trips):
            pong_put(ping_get())

    helper = threading.Thread(target=echo)
    helper.start()
    clock = time.perf_counter_ns
    times = []
    token = object()
    for _ in range(trips):
        start = clock()
        ping_put(token)
        pong_get()
        times.append(clock() - start)
    helper.join()
    return times


def run(args: argparse.Namespace) -> dict[str, Any]:
    impls = implementations()
    if args.impls:
        impls = {k: v for k, v in impls.items() if k in args.impls.split(",")}
    pairs_list = [1, 2] if args.quick else [1, 2, 4]
    results: dict[str, Any] = {
        "machine": {"python": sys.version, "platform": platform.platform(), "cpus": _cpus()},
        "items_per_producer": args.items,
        "trips": args.trips,
        "runs": args.runs,
        "throughput": {},  # "unbounded"/"bounded" -> impl -> str(pairs) -> [items/s per run]
        "latency_ns": {},  # impl -> [median round trip per run]
    }
    for bound_name, maxsize in (("unbounded", 0), ("bounded", 1024)):
        table = results["throughput"].setdefault(bound_name, {})
        for run_index in range(args.runs):
            for pairs in pairs_list:
                for name, factory in impls.items():
                    rate = throughput(factory, maxsize, pairs, args.items)
                    if rate is not None:
                        table.setdefault(name, {}).setdefault(str(pairs), []).append(rate)
                        print(f"  run {run_index + 1}/{args.runs} {bound_name:9} {pairs}P/{pairs}C "
                              f"{name:36} {rate / 1e6:7.2f} M items/s", file=sys.stderr)
    for run_index in range(args.runs):
        for name, factory in impls.items():
            times = round_trips(factory, args.trips)
            if times is not None:
                median = statistics.median(times)
                results["latency_ns"].setdefault(name, []).append(median)
                print(f"  run {run_index + 1}/{args.runs} ping-pong {name:36} {median / 1000:7.2f} µs",
                      file=sys.stderr)
    return results


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def report(results: dict[str, Any]) -> str:
    lines = [f"Throughput, million items/s (median of {results['runs']} runs; "
             f"{results['items_per_producer']:,} ints per producer)"]
    for bound_name, table in results["throughput"].items():
        pairs_list = sorted({int(p) for per in table.values() for p in per})
        header = f"  {bound_name:36}" + "".join(f"{p}P/{p}C".rjust(10) for p in pairs_list)
        lines.append(header)
        for name, per in table.items():
            row = f"  {name:36}" + "".join(
                f"{statistics.median(per[str(p)]) / 1e6:10.2f}" if str(p) in per else " " * 10 for p in pairs_list
            )
            lines.append(row)
        if "AtomicQueue" in table:
            mine = table["AtomicQueue"]
            for name, per in table.items():
                if name == "AtomicQueue":
                    continue
                ratios = "".join(
                    f"{statistics.median(mine[str(p)]) / statistics.median(per[str(p)]):9.2f}x"
                    if str(p) in per and str(p) in mine else " " * 10
                    for p in pairs_list
                )
                lines.append(f"  {'AtomicQueue / ' + name:36}{ratios}")
    lines.append(f"Hand-off latency, median round trip in µs (median of {results['runs']} runs)")
    for name, medians in results["latency_ns"].items():
        lines.append(f"  {name:36}{statistics.median(medians) / 1000:10.2f}")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = results["throughput"]
    fig, axes = plt.subplots(1, len(tables) + 1, figsize=(5 * (len(tables) + 1), 4))
    for ax, (bound_name, table) in zip(axes, tables.items()):
        for name, per in table.items():
            pairs = sorted(int(p) for p in per)
            ax.plot(pairs, [statistics.median(per[str(p)]) / 1e6 for p in pairs], marker="o", label=name)
        ax.set_title(f"{bound_name} ({'maxsize=1024' if bound_name == 'bounded' else 'maxsize=0'})")
        ax.set_xlabel("producers = consumers")
        ax.set_ylabel("million items/s")
        ax.set_xticks([1, 2, 4])
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    ax = axes[-1]
    names = list(results["latency_ns"])
    ax.bar(range(len(names)), [statistics.median(results["latency_ns"][n]) / 1000 for n in names])
    ax.set_xticks(range(len(names)), [n.replace(".", ".\n", 1) for n in names], fontsize=8)
    ax.set_ylabel("median round trip, µs (lower is better)")
    ax.set_title("ping-pong hand-off")
    fig.suptitle(f"queues on {results['machine']['cpus']} CPUs, Python {results['machine']['python'].split()[0]}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one run, 1 and 2 pairs (for make test)")
    p.add_argument("--items", type=int, help="ints each producer puts (default 1,000,000)")
    p.add_argument("--trips", type=int, help="ping-pong round trips per run (default 20,000)")
    p.add_argument("--runs", type=int, help="runs per figure, median taken (default 5)")
    p.add_argument("--impls", help="comma-separated subset of implementation names")
    p.add_argument("--json", type=Path, help="write the raw results to this JSON file")
    p.add_argument("--plot", type=Path, help="write a PNG plot here (needs matplotlib)")
    args = p.parse_args(argv)
    args.items = args.items or (2_000 if args.quick else 1_000_000)
    args.trips = args.trips or (200 if args.quick else 20_000)
    args.runs = args.runs or (1 if args.quick else 5)
    results = run(args)
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
