"""The Python benchmark harness: lockless against dict, dict + Lock and the published peers.

    python benches/harness.py                      # everything: table on stdout
    python benches/harness.py --json out.json --plots out/
    python benches/harness.py --workloads read-heavy,hot-counters --threads 1,2
    python benches/harness.py --quick              # tiny sizes, one run: proves it works

Every workload runs on each installed implementation (lockless; dict, unsynchronized where
each operation is a single atomic dict operation; dict + threading.Lock; cereggii and
ft_utils if importable), with int and str keys, at 1, 2, 4 and 8 threads started behind a
Barrier on pre-generated inputs. Each figure is the median of --runs runs, and the runs
interleave the implementations, so compare within one run: this machine's noise between
runs is larger than many of the differences. The adapters are in pyharness/impls.py, the
workloads in pyharness/workloads.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pyharness import impls, memory, report  # noqa: E402
from pyharness.workloads import FULL, QUICK, WORKLOADS, Sizes, run_workload  # noqa: E402

MEMORY_IMPLS = ("lockless", "dict", "cereggii", "ft_utils")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 run, threads 1,2 (for make test)")
    p.add_argument("--json", type=Path, help="write results to this JSON file")
    p.add_argument("--plots", type=Path, help="write PNG plots into this directory (needs matplotlib)")
    names = ",".join(w.name for w in WORKLOADS) + ",memory"
    p.add_argument("--workloads", help=f"comma-separated subset of: {names}")
    p.add_argument("--threads", help="comma-separated thread counts (default 1,2,4,8)")
    p.add_argument("--runs", type=int, help="runs per figure, median taken (default 5; --quick: 1)")
    p.add_argument("--impls", help="comma-separated subset of implementation names")
    p.add_argument("--memory-child", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory.child(args.memory_child[0], int(args.memory_child[1]))
        return 0

    sizes: Sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 5)
    threads = [int(t) for t in args.threads.split(",")] if args.threads else ([1, 2] if args.quick else [1, 2, 4, 8])
    wanted = args.workloads.split(",") if args.workloads else [w.name for w in WORKLOADS] + ["memory"]
    unknown = set(wanted) - {w.name for w in WORKLOADS} - {"memory"}
    if unknown:
        print(f"unknown workloads: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    only = set(args.impls.split(",")) if args.impls else None

    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    present = [i.name for i in impls.ALL if i.available()]
    missing = [i.name for i in impls.ALL if not i.available()]
    print(f"python {sys.version.split()[0]} {'(GIL enabled)' if gil else '(free-threaded, GIL disabled)'}")
    print(f"implementations: {', '.join(present)}" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    print(f"sizes: {sizes}, runs: {runs}, threads: {threads}", flush=True)
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} (other processes compete for the {os.cpu_count()} CPUs)")

    started = time.perf_counter()
    results = []
    for wl in WORKLOADS:
        if wl.name not in wanted:
            continue
        chosen = [i for i in impls.available(wl.kind)
                  if i.supports(wl.name, wl.needs) and (only is None or i.name in only)]
        if not chosen:
            continue
        for keytype in wl.keytypes:
            for n in [1] if wl.single_thread else threads:
                t0 = time.perf_counter()
                rs = run_workload(wl, chosen, keytype, n, sizes, runs)
                results.extend(rs)
                summary = "  ".join(f"{r.impl} {r.mops:.2f}" for r in rs)
                print(f"  {wl.name} [{keytype}] x{n}: {summary}  ({time.perf_counter() - t0:.1f}s)",
                      file=sys.stderr, flush=True)

    mem: dict[str, float] = {}
    if "memory" in wanted:
        n = 10_000 if args.quick else 1_000_000
        for name in MEMORY_IMPLS:
            impl = next(i for i in impls.ALL if i.name == name)
            if impl.available() and (only is None or name in only):
                b = memory.measure(name, n)
                if b is not None:
                    mem[name] = b

    print()
    print(report.table(results, mem))
    ts = report.targets(results, mem)
    print(report.targets_text(ts))
    print(f"\n(harness time {time.perf_counter() - started:.0f}s; load average now {os.getloadavg()[0]:.2f})")

    config = {"sizes": sizes.__dict__, "runs": runs, "threads": threads, "quick": args.quick,
              "loadavg_at_start": load0}
    if args.json:
        report.write_json(args.json, results, mem, ts, config)
        print(f"wrote {args.json}")
    if args.plots:
        subtitle = f"{sys.version.split()[0]}{'' if gil else 't'}, {impls.os_cpus()} CPUs, median of {runs}"
        for path in report.plots(results, mem, args.plots, subtitle):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
