"""The Python benchmark harness: lockless against dict, dict + Lock and the published peers.

    python benches/harness.py                      # everything: table on stdout
    python benches/harness.py --json out.json --plots out/
    python benches/harness.py --workloads read-heavy,insert --threads 1,2 --ops 1000000
    python benches/harness.py --instructions bench-results/instructions.json  # adds goal 4
    python benches/harness.py --quick              # tiny sizes, one run: proves it works

Every workload runs on each installed implementation (lockless, the one object shared by every
thread; lockless-handle, an extra: per-thread `thread_handle()`s; dict, unsynchronized where
each operation is a single atomic dict operation; dict + threading.Lock; cereggii and ft_utils,
shared, if importable), with int and str keys, at 1, 2 and 8 threads started behind a Barrier.
The map workloads are issue 17's shared form: 100,000 prefilled keys, each thread making its own
equal-but-distinct key objects, operations drawn in blocks, 3M operations per run (see
pyharness/workloads.py). Each figure is the median of --runs runs, and the runs interleave the
implementations, so compare within one run: this machine's noise between runs is larger than
many of the differences. The report ends with issue 17's goals, each met or missed with its
figure. The adapters are in pyharness/impls.py, the workloads in pyharness/workloads.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
    p.add_argument("--threads", help="comma-separated thread counts (default 1,2,8)")
    p.add_argument("--ops", type=int, help="operations per run of a map workload, all threads (default 3000000)")
    p.add_argument("--micro-ops", type=int, help="operations per single-thread micro run (default 1000000)")
    p.add_argument("--instructions", type=Path,
                   help="JSON of `make bench-instructions`, for issue 17's goal 4 (read if it exists)")
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
    if args.ops:
        sizes = dataclasses.replace(sizes, ops=args.ops)
    if args.micro_ops:
        sizes = dataclasses.replace(sizes, micro_ops=args.micro_ops)
    runs = args.runs or (1 if args.quick else 5)
    threads = [int(t) for t in args.threads.split(",")] if args.threads else ([1, 2] if args.quick else [1, 2, 8])
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
    instructions = None
    if args.instructions is not None and args.instructions.exists():
        instructions = json.loads(args.instructions.read_text())
    ts = report.targets(results, mem, instructions)
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
