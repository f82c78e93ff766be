"""Out of memory raises MemoryError, as dict does, and leaves the map usable (issue 11 item 2).

Each test runs in a child process whose address space is capped (``RLIMIT_AS``) a little above
what it already uses, so that the next growth of a large map cannot allocate its table. Before
the fix the process aborted there ("memory allocation of 16 bytes failed"); a crash fails the
one test, not the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")

# The child: fills a map with N keys, caps its address space HEADROOM bytes above its current
# size, and inserts keys made beforehand (so the inserts allocate nothing in Python) until the
# growth fails. Then it checks the map, frees the cap, and inserts again.
CHILD = """
import resource, sys
from lockless import AtomicDict, AtomicSet

KIND, N, HEADROOM = {kind!r}, {n}, {headroom}

def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

def add(m, k):
    if KIND == "dict":
        m[k] = k
    else:
        m.add(k)

m = AtomicDict() if KIND == "dict" else AtomicSet()
for k in range(N):
    add(m, k)
more = list(range(N, 3 * N))
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vm_size() + HEADROOM, hard))

added = N
try:
    for k in more:
        add(m, k)
        added += 1
    sys.exit("no MemoryError: the whole batch fit")
except MemoryError as e:
    print("MemoryError:", e)
failed = more[added - N]

# The map is whole: its length, every key, and not the key whose insert failed.
assert len(m) == added, (len(m), added)
assert failed not in m
assert all(k in m for k in range(0, added, 997))
if KIND == "dict":
    assert m[500] == 500 and m.get(failed) is None
    m[500] = "five"        # replacing needs no growth
    assert m[500] == "five"
# Deleting works; a new key still needs the growth that cannot be had.
for k in range(100):
    if KIND == "dict":
        del m[k]
    else:
        m.remove(k)
assert len(m) == added - 100 and 0 not in m and 100 in m
try:
    add(m, failed)
    sys.exit("the growth succeeded under the cap")
except MemoryError:
    pass
assert failed not in m and len(m) == added - 100

# Memory is back: the growth happens, the dict goes on.
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
add(m, failed)
add(m, 0)
assert failed in m and 0 in m and len(m) == added - 98
if KIND == "dict":
    assert m[500] == "five" and list(m)[:2] == [100, 101]
print("usable after MemoryError")
"""


@pytest.mark.parametrize(("kind", "n"), [("dict", 3_000_000), ("set", 1_000_000)])
def test_a_growth_past_the_address_space_limit_raises_memory_error_and_the_map_stays_usable(kind, n):
    code = CHILD.format(kind=kind, n=n, headroom=96 << 20 if kind == "dict" else 32 << 20)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"exit {out.returncode}\nstdout: {out.stdout[-2000:]}\nstderr: {out.stderr[-2000:]}"
    lines = out.stdout.splitlines()
    assert lines[0] == "MemoryError: cannot allocate a larger table", lines
    assert lines[-1] == "usable after MemoryError", lines
