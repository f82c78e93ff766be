"""Net instructions per operation under callgrind: dict, lockless, cereggii and ft_utils; and
lockless's other types beside the builtin each replaces (AtomicSet and set, AtomicCounterDict and
collections.Counter, AtomicQueue and queue.SimpleQueue).

    python benches/instructions.py                     # the table on stdout
    python benches/instructions.py --json out.json     # and the figures as JSON
    python benches/instructions.py --impls dict,lockless --ops get-hit --keys int
    python benches/instructions.py --impls set,AtomicSet --ops set-in,set-add
    python benches/instructions.py --keep DIR          # keep the callgrind files (for
                                                       # callgrind_annotate)

Instruction counts do not suffer from a shared machine's noise, so this is the figure to steer
by; it is not time (a fence or a cache miss is one instruction).

# Method (issue 17's)
Each (implementation, operation, key type) runs in its own interpreter under
`valgrind --tool=callgrind`, with PYTHONHASHSEED=0 and the garbage collector off. The child
builds everything first (the maps, the key lists), uninstrumented on x86-64 (it switches
callgrind's instrumentation on with a client request when setup is done: several times
faster), then runs four measured segments, each a
loop over a pre-built list in a function: the empty loop over `hi` items, the operation over
`hi` items, the empty loop over `lo` items, the operation over `lo` items. A call of `os.getppid()` between
segments is the marker: callgrind is run with `--dump-before=os_getppid`, so each segment's
instructions land in a dump of their own (startup and setup in others). The figure is

    ((op(hi) - op(lo)) - (empty(hi) - empty(lo))) / (hi - lo)

so what every segment pays once (the call, the marker) cancels, and so does the loop itself.
lo and hi are 100,000 and 300,000, except for `insert`, which fills an empty map with 1M fresh
keys (lo is 0): the amortized cost of an insert into a growing map, growth included.

Keys: ints from 1,000 up (outside CPython's small-int cache, so there are distinct objects) or
strs "key:N". Lookup keys are equal to the stored ones but distinct objects, made the way
parsed input makes them (`int(str(n))`, a fresh f-string), drawn from the 100,000 stored keys in
a scattered order; str hashes are computed (and cached in the object) before measuring.

The other types (`TYPE_OPS`) run on their builtin and on lockless's type only, on the same keys:
`x in s` and `s.add(x)` of a present element (set, AtomicSet), `c[k]` and one more count
(`c[k] += 1` against `c.add(k)`) on a present key (Counter, AtomicCounterDict), and a `put` then
a `get` on an empty queue (SimpleQueue, AtomicQueue). They print in a table of their own, with
the ratio to the builtin; issue 17's goal 4 covers the maps only.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

HERE = Path(__file__).resolve()
STORED = 100_000  # keys prefilled where the operation needs a full map
BASE = 1_000  # first int key: outside the small-int cache


# --- implementations ----------------------------------------------------------------------------


class Impl(NamedTuple):
    name: str
    module: str | None
    factory: str  # attribute of the module that makes an empty map
    missing_ops: tuple[str, ...] = ()  # operations the type does not have
    fill: str = "m[k] = k"  # how a prefilled key is stored (empty: the type is never prefilled)

    def new(self) -> Any:
        if self.module is None:
            return dict()
        return getattr(importlib.import_module(self.module), self.factory)()

    def available(self) -> bool:
        if self.module is None:
            return True
        try:
            importlib.import_module(self.module)
        except ImportError:
            return False
        return True


IMPLS = [
    Impl("dict", None, "dict"),
    # The shared object, as drop-in code uses it (no thread_handle()).
    Impl("lockless", "lockless", "AtomicDict"),
    # cereggii's AtomicDict has no __contains__.
    Impl("cereggii", "cereggii", "AtomicDict", missing_ops=("contains-hit", "contains-miss")),
    Impl("ft_utils", "ft_utils.concurrency", "ConcurrentDict"),
    # lockless's other types, each beside the builtin it replaces (the `TYPE_OPS` below).
    Impl("set", "builtins", "set", fill="m.add(k)"),
    Impl("AtomicSet", "lockless", "AtomicSet", fill="m.add(k)"),
    Impl("Counter", "collections", "Counter", fill="m[k] = 1"),
    Impl("AtomicCounterDict", "lockless", "AtomicCounterDict", fill="m[k] = 1"),
    Impl("SimpleQueue", "queue", "SimpleQueue", fill=""),
    Impl("AtomicQueue", "lockless", "AtomicQueue", fill=""),
]
#: The maps of issue 17's table and goal 4; the first is the reference for its ratios.
MAPS = ("dict", "lockless", "cereggii", "ft_utils")
BY_IMPL = {i.name: i for i in IMPLS}


# --- operations ---------------------------------------------------------------------------------


class Op(NamedTuple):
    name: str
    stmt: str  # the loop body; `m` is the map, `k` the item
    describe: str
    prefill: bool = True  # the map starts with the STORED keys
    items: str = "lookup"  # lookup: stored keys, scattered; absent; fresh: new keys, in order;
    #                        stored-once: each stored key once, shuffled
    lo: int = 100_000
    hi: int = 300_000
    fresh: bool = False  # each segment on a map of its own (the op changes what it measures)
    impls: tuple[str, ...] = MAPS  # what it runs on; the first is the reference for ratios
    stmts: tuple[tuple[str, str], ...] = ()  # (implementation, stmt) where one spells it otherwise

    def stmt_for(self, impl: str) -> str:
        return dict(self.stmts).get(impl, self.stmt)


OPS = [
    Op("get-hit", "m[k]", "m[k], key present"),
    Op("contains-hit", "k in m", "k in m, key present"),
    Op("contains-miss", "k in m", "k in m, key absent", items="absent"),
    Op("get-miss", "m.get(k)", "m.get(k), key absent", items="absent"),
    Op("set-existing", "m[k] = k", "m[k] = v, key present (v a new object each time)"),
    Op("delete", "del m[k]", f"del m[k], each of {300_000:,} stored keys once (delete only)",
       items="stored-once", fresh=True),
    Op("delete-insert", "del m[k]\n        m[k] = k", "del m[k]; m[k] = v (churn: the pair)"),
    Op("insert", "m[k] = k", "m[k] = v, fresh keys into an empty map growing to 1M (lo = 0)",
       prefill=False, items="fresh", lo=0, hi=1_000_000, fresh=True),
]
#: The other types, each against its builtin (first), on the same 100,000 stored keys.
TYPE_OPS = [
    Op("set-in", "k in m", "x in s, element present", impls=("set", "AtomicSet")),
    Op("set-add", "m.add(k)", "s.add(x), element present", impls=("set", "AtomicSet")),
    Op("counter-get", "m[k]", "c[k], key present", impls=("Counter", "AtomicCounterDict")),
    Op("counter-add", "m.add(k)", "one more: c[k] += 1 for Counter, c.add(k) (counts stay small)",
       impls=("Counter", "AtomicCounterDict"), stmts=(("Counter", "m[k] += 1"),)),
    Op("queue-pair", "m.put(k)\n        m.get()", "q.put(x); q.get() (the pair, one thread)",
       impls=("SimpleQueue", "AtomicQueue"), prefill=False),
]
BY_OP = {o.name: o for o in OPS + TYPE_OPS}
KEYS = ("int", "str")

#: Operations whose ratio to dict issue 17 bounds at 1.2x (the others: below both peers only).
TIGHT = ("get-hit", "contains-hit", "set-existing")


# The key lists are built with map() and comprehensions (C loops, no Python call per key): the
# free-threaded 3.13 interpreter does not specialize, and under callgrind a Python-level call
# per key would make the setup take most of each run's time.


def stored_keys(keytype: str, numbers: list[int] | range) -> list[Any]:
    """The keys numbered `numbers`, as stored: ints from BASE, or "key:N"."""
    if keytype == "int":
        return list(range(BASE + numbers.start, BASE + numbers.stop)) if isinstance(numbers, range) \
            else [BASE + i for i in numbers]
    return list(map("key:{}".format, numbers))


def copied_keys(keytype: str, numbers: list[int] | range) -> list[Any]:
    """Keys equal to stored_keys(numbers) but distinct objects, as parsed input makes them
    (`int(s)` of a string; a str built afresh), str hashes already computed and cached."""
    if keytype == "int":
        return list(map(int, map(str, [BASE + i for i in numbers])))
    keys = list(map("".join, [("key:", s) for s in map(str, numbers)]))
    list(map(hash, keys))
    return keys


def scramble(n: int, mod: int, salt: int) -> list[int]:
    """n numbers in [0, mod) in a scattered order (a multiplicative walk, not a random generator:
    random.randrange costs thousands of instructions a call)."""
    return [(i * 48_271 + salt) % mod for i in range(n)]


def items_for(op: Op, keytype: str, n: int, salt: int) -> list[Any]:
    if op.items == "lookup":
        return copied_keys(keytype, scramble(n, STORED, salt))
    if op.items == "absent":
        return copied_keys(keytype, [STORED + i for i in scramble(n, STORED, salt)])
    if op.items == "fresh":
        return copied_keys(keytype, range(n))
    if op.items == "stored-once":
        # 48,271 is prime and does not divide n, so this is a permutation of range(n).
        return copied_keys(keytype, scramble(n, n, salt))
    raise ValueError(op.items)


def compile_loop(stmt: str) -> Callable[[Any, list[Any]], None]:
    src = f"def work(m, items):\n    for k in items:\n        {stmt}\n"
    ns: dict[str, Any] = {}
    exec(compile(src, "<op>", "exec"), ns)
    return ns["work"]


# --- the child, under callgrind -----------------------------------------------------------------

#: Callgrind's client request that switches instrumentation on (callgrind.h:
#: VG_USERREQ_TOOL_BASE('C','T') + 4).
START_INSTRUMENTATION = 0x43540000 + 4

#: A function `uint64_t request(uint64_t *args)` that issues a Valgrind client request on x86-64
#: (valgrind.h's amd64 sequence: the args' address in rax, the default result in rdx, the
#: preamble of rotations of rdi by 128 bits in all, then `xchg rbx, rbx`). Outside Valgrind it
#: does nothing and returns 0.
X86_64_CLIENT_REQUEST = bytes.fromhex(
    "4889f8"  # mov rax, rdi
    "31d2"  # xor edx, edx
    "48c1c703" "48c1c70d" "48c1c73d" "48c1c733"  # rol rdi, 3 / 13 / 61 / 51
    "4887db"  # xchg rbx, rbx
    "4889d0"  # mov rax, rdx
    "c3"  # ret
)


def client_request(code: int) -> None:
    """Issues a Valgrind client request from Python: the machine code above, in an executable
    page, called through ctypes. Setup runs uninstrumented (`--instr-atstart=no`) and this
    switches instrumentation on just before the measured segments, which makes a run several
    times faster."""
    import ctypes
    import mmap

    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(X86_64_CLIENT_REQUEST)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)(addr)
    args = (ctypes.c_uint64 * 6)(code, 0, 0, 0, 0, 0)
    fn(ctypes.addressof(args))
    del fn


def uninstrumented_setup() -> bool:
    """Whether the child can switch instrumentation on itself (x86-64 Linux)."""
    import platform

    return platform.machine() in ("x86_64", "AMD64") and sys.platform == "linux"


def child(impl_name: str, op_name: str, keytype: str) -> None:
    """Builds every segment's map and items, then runs the four segments between markers."""
    # Off from the start: the free-threaded collector walks the whole heap on each collection,
    # which the setup's allocations would trigger again and again.
    gc.disable()
    impl, op = BY_IMPL[impl_name], BY_OP[op_name]
    work = compile_loop(op.stmt_for(impl_name))
    empty = compile_loop("pass")
    fill = compile_loop(impl.fill or "pass")
    # One list of hi items; the lo segments use its first lo (a copy made in C, so the setup
    # stays short under callgrind). The hi segments run first: then `m[k] = k` in the lo
    # segment never stores the object already stored (the hi segment's last visit to that key
    # stored a later item of the list).
    items = items_for(op, keytype, op.hi, salt=op.hi)
    # The delete-only op deletes each of up to hi stored keys once: its maps hold hi keys.
    size = max(STORED, op.hi) if op.items == "stored-once" else STORED

    stored = stored_keys(keytype, range(size)) if op.prefill else []

    def new_map() -> Any:
        m = impl.new()
        fill(m, stored)
        return m

    shared = None if op.fresh else new_map()
    segments = []
    for n in (op.hi, op.lo):
        m = new_map() if op.fresh else shared
        part = items if n == op.hi else items[:n]
        segments.append((empty, m, part))
        segments.append((work, m, part))
    # Run both functions once on throwaway state, so that no segment pays for first calls.
    scratch = impl.new()
    fill(scratch, stored_keys(keytype, range(64)))
    for f in (empty, work):
        f(scratch, copied_keys(keytype, range(64) if op.items != "absent" else range(STORED, STORED + 64)))
    if uninstrumented_setup():
        client_request(START_INSTRUMENTATION)
    # Order: empty(hi), op(hi), empty(lo), op(lo); each empty loop runs on its op segment's
    # items, before it.
    marker = os.getppid
    for f, m, part in segments:
        marker()
        f(m, part)
    marker()


# --- the parent ---------------------------------------------------------------------------------


class Figure(NamedTuple):
    impl: str
    op: str
    keys: str
    per_op: float | None  # None: the implementation has no such operation
    segments: list[int]  # instructions: empty(lo), op(lo), empty(hi), op(hi)
    error: str | None = None


def totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def run_one(impl: str, op: str, keytype: str, keep: Path | None) -> Figure:
    import shutil
    import subprocess
    import tempfile

    if op in BY_IMPL[impl].missing_ops:
        return Figure(impl, op, keytype, None, [])
    workdir = Path(tempfile.mkdtemp(prefix="lockless-cg-"))
    try:
        out = workdir / "cg.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        instr = "no" if uninstrumented_setup() else "yes"
        cmd = ["valgrind", "--tool=callgrind", f"--instr-atstart={instr}", "--dump-before=os_getppid",
               f"--callgrind-out-file={out}",
               sys.executable, str(HERE), "--child", impl, op, keytype]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return Figure(impl, op, keytype, None, [], error=proc.stderr.strip()[-800:])
        # Dumps are cg.out.1, .2, ...: the first holds startup and setup (up to the first
        # marker), then one per segment, and the final file the rest of the run.
        dumps = sorted(workdir.glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) != 5:
            return Figure(impl, op, keytype, None, [], error=f"expected 5 dumps, got {len(dumps)}")
        # The child runs empty(hi), op(hi), empty(lo), op(lo); reported in the lo-first order.
        hi_empty, hi_op, lo_empty, lo_op = (totals(p) for p in dumps[1:])
        seg = [lo_empty, lo_op, hi_empty, hi_op]
        o = BY_OP[op]
        per_op = ((hi_op - lo_op) - (hi_empty - lo_empty)) / (o.hi - o.lo)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            # The op(hi) segment alone: what callgrind_annotate should read.
            shutil.copy(dumps[2], keep / f"{impl}.{op}.{keytype}.callgrind")
        return Figure(impl, op, keytype, per_op, seg)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(figs: list[Figure], impls: list[str]) -> str:
    """The maps' table: one column per map, ratios to dict's."""
    figs = [f for f in figs if f.impl in MAPS]
    impls = [n for n in impls if n in MAPS]
    if not figs:
        return ""
    by = {(f.impl, f.op, f.keys): f for f in figs}
    lines = ["Net instructions per operation (callgrind; lower is better). (N.NNx) = this one / dict's."]
    width = 20
    lines.append("operation".ljust(34) + "".join(n.rjust(width) for n in impls))
    for op in dict.fromkeys(f.op for f in figs):
        for keys in dict.fromkeys(f.keys for f in figs if f.op == op):
            ref = by.get(("dict", op, keys))
            cells = []
            for n in impls:
                f = by.get((n, op, keys))
                if f is None or f.per_op is None:
                    cells.append(("error" if f is not None and f.error else "-").rjust(width))
                elif n == "dict" or ref is None or not ref.per_op:
                    cells.append(f"{f.per_op:.0f}".rjust(width))
                else:
                    cells.append(f"{f.per_op:.0f} ({f.per_op / ref.per_op:.2f}x)".rjust(width))
            lines.append(f"{op} [{keys}]".ljust(34) + "".join(cells))
    return "\n".join(lines)


def types_table(figs: list[Figure]) -> str:
    """The other types' table: each operation's builtin, then lockless's type, with the ratio."""
    by = {(f.impl, f.op, f.keys): f for f in figs}
    rows = []
    for op in dict.fromkeys(f.op for f in figs if f.impl not in MAPS):
        ref_name, mine_name = BY_OP[op].impls
        for keys in dict.fromkeys(f.keys for f in figs if f.op == op):
            ref, mine = by.get((ref_name, op, keys)), by.get((mine_name, op, keys))
            cells = []
            for f in (ref, mine):
                shown = "-" if f is None or f.per_op is None else f"{f.per_op:.0f}"
                cells.append(f"{f.impl if f else '-'} {shown}".rjust(26))
            if ref and mine and ref.per_op and mine.per_op:
                cells.append(f"{mine.per_op / ref.per_op:.2f}x".rjust(8))
            rows.append(f"{op} [{keys}]".ljust(26) + "".join(cells))
    if not rows:
        return ""
    head = "lockless's other types beside the builtin each replaces (net instructions; lockless / builtin)"
    return "\n".join([head, "operation".ljust(26) + "builtin".rjust(26) + "lockless".rjust(26)] + rows)


def goals(figs: list[Figure]) -> list[dict[str, Any]]:
    """Issue 17's goal 4: lockless at most 1.2x dict for get hit, contains and set existing, and
    below both peers on every operation."""
    by = {(f.impl, f.op, f.keys): f.per_op for f in figs}
    out = []
    for op in dict.fromkeys(f.op for f in figs):
        for keys in dict.fromkeys(f.keys for f in figs if f.op == op):
            mine, d = by.get(("lockless", op, keys)), by.get(("dict", op, keys))
            if mine is None:
                continue
            if op in TIGHT and d:
                r = mine / d
                out.append({"goal": f"{op} [{keys}] lockless / dict", "figure": r, "bound": "<= 1.2",
                            "met": r <= 1.2})
            for peer in ("cereggii", "ft_utils"):
                p = by.get((peer, op, keys))
                if p:
                    r = mine / p
                    out.append({"goal": f"{op} [{keys}] lockless / {peer}", "figure": r, "bound": "< 1",
                                "met": r < 1})
    return out


def goals_text(gs: list[dict[str, Any]]) -> str:
    lines = ["", "issue 17 goal 4 (instructions): figure is the ratio; MISS marks a goal not met"]
    for g in gs:
        lines.append(f"  {'ok' if g['met'] else 'MISS':<5}{g['goal']:<46}{g['figure']:6.2f}  (goal {g['bound']})")
    return "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("lockless", "cereggii", "ft-utils"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def main(argv: list[str]) -> int:
    # Imported here, not at the top: the child under callgrind needs none of them.
    import argparse
    import concurrent.futures
    import json
    import shutil

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    p.add_argument("--impls", help="comma-separated subset of: " + ",".join(BY_IMPL))
    p.add_argument("--ops", help="comma-separated subset of: " + ",".join(BY_OP))
    p.add_argument("--keys", help="int, str or int,str (default)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="callgrind runs at once (counts are per process, so parallel runs agree)")
    p.add_argument("--keep", type=Path, help="keep each op(hi) segment's callgrind file here")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2

    impls = [n for n in (args.impls.split(",") if args.impls else BY_IMPL) if BY_IMPL[n].available()]
    absent = [n for n in (args.impls.split(",") if args.impls else BY_IMPL) if n not in impls]
    ops = args.ops.split(",") if args.ops else list(BY_OP)
    keys = args.keys.split(",") if args.keys else list(KEYS)
    unknown = set(ops) - set(BY_OP) | set(keys) - set(KEYS)
    if unknown:
        print(f"unknown: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}; {versions()}; implementations: {', '.join(impls)}"
          + (f"; not installed: {', '.join(absent)}" if absent else ""), flush=True)

    jobs = [(i, o, k) for o in ops for k in keys for i in impls if i in BY_OP[o].impls]
    figs: dict[tuple[str, str, str], Figure] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, i, o, k, args.keep): (i, o, k) for i, o, k in jobs}
        for fut in concurrent.futures.as_completed(futures):
            f = fut.result()
            figs[(f.impl, f.op, f.keys)] = f
            shown = "n/a" if f.per_op is None else f"{f.per_op:.1f}"
            print(f"  {f.op} [{f.keys}] {f.impl}: {shown}" + (f"  ERROR {f.error}" if f.error else ""),
                  file=sys.stderr, flush=True)
    ordered = [figs[j] for j in jobs]
    for text in (table(ordered, impls), types_table(ordered)):
        if text:
            print()
            print(text)
    gs = goals(ordered)
    if gs:
        print(goals_text(gs))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "method": "callgrind; ((op(hi)-op(lo)) - (empty(hi)-empty(lo))) / (hi-lo); see benches/instructions.py",
            "python": sys.version,
            "packages": versions(),
            "ops": {o.name: {"stmt": o.stmt, "describe": o.describe, "lo": o.lo, "hi": o.hi,
                             "impls": list(o.impls), "stmts": dict(o.stmts)}
                    for o in OPS + TYPE_OPS if o.name in ops},
            "figures": [f._asdict() for f in ordered],
            "goals": gs,
        }
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 1 if any(f.error for f in ordered) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
