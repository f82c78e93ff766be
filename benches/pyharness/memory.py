"""Memory per entry: each map filled with N int keys in a fresh interpreter, measured as RSS.

tracemalloc sees only CPython's allocator, not the Rust or C++ heaps of the extensions, so
every implementation is measured the same way: resident set size after creating the key
objects, then after inserting them one by one (`m[k] = k`: the values are the keys, so no
object is allocated beyond the map's own storage), with a `gc.collect()` before each reading.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from . import impls


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


def child(impl_name: str, n: int) -> None:
    """Runs in the fresh interpreter: prints {"bytes_per_entry": ...} as JSON."""
    impl = next(i for i in impls.ALL if i.name == impl_name)
    keys = list(range(1_000, 1_000 + n))  # outside the small-int cache: real objects, made now
    impl.new()  # import the module and touch its type before the first reading
    gc.collect()
    before = rss()
    m = impl.new()
    for k in keys:
        m[k] = k
    gc.collect()
    after = rss()
    print(json.dumps({"bytes_per_entry": (after - before) / n}))


def measure(impl_name: str, n: int) -> float | None:
    harness = Path(__file__).resolve().parent.parent / "harness.py"
    proc = subprocess.run(
        [sys.executable, str(harness), "--memory-child", impl_name, str(n)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        print(f"memory: {impl_name} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["bytes_per_entry"])
