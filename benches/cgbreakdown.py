"""Where an operation's instructions go: a callgrind file, grouped into named parts.

    python benches/instructions.py --impls dict,lockless --ops get-hit --keys int --keep cg/
    python benches/cgbreakdown.py cg/dict.get-hit.int.callgrind cg/lockless.get-hit.int.callgrind
    python benches/cgbreakdown.py --top 40 cg/lockless.get-hit.int.callgrind

Each file is the op(hi) segment of `benches/instructions.py` (its loop ran `--ops` times,
300,000 by default), so every figure is exclusive instructions per loop iteration, the loop's
own bytecode included (the "interpreter" part; the empty loop's share of it is what
instructions.py subtracts). CPython's functions are told apart by name. With fat LTO nearly all
of lockless is inlined into PyO3's trampoline, so its parts are told apart by the *source file*
callgrind attributes each instruction to (debug line info), then by the enclosing function;
`--top` shows the raw (file, function) pairs and the part each went to.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

#: The parts, in the order printed.
PARTS = [
    "interpreter (loop, the op's bytecode)",
    "CPython slot dispatch (PyObject_GetItem, ...)",
    "dict internals (C)",
    "PyO3 trampoline and binding glue",
    "PyType_IsSubtype (self's type check)",
    "__tls_get_addr",
    "crossbeam pin/unpin/defer/collect",
    "reclaim bookkeeping (pinned, flush policy, drain)",
    "hashing",
    "probe and table (engine)",
    "key equality",
    "incref/decref",
    "Known (per-op cache of __eq__ answers)",
    "allocation",
    "memcpy/memmove",
    "other",
]

#: CPython (and libc) functions, by the function callgrind names (after the colon): regexes.
C_FUNCTIONS = [
    ("interpreter (loop, the op's bytecode)", r"_PyEval|listiter_next|_PyObject_MakeTpCall|_PyFrame|initialize_locals"),
    ("CPython slot dispatch (PyObject_GetItem, ...)", r"^(PyObject_GetItem|PyObject_SetItem|PyObject_DelItem"
     r"|PySequence_Contains|PyObject_Vectorcall\w*|_PyObject_VectorcallTstate|method_vectorcall\w*"
     r"|_PyObject_GetMethod|vectorcall_method|cfunction_vectorcall\w*)$"),
    ("dict internals (C)", r"(?i)dict|_Py_TryIncref|unicodekeys|ensure_shared|_PyMem_Free|_Py_NewRef"
     r"|GC_MAY_BE_TRACKED|PyObject_IS_GC"),
    ("memcpy/memmove", r"memcpy|memmove"),
    ("PyType_IsSubtype (self's type check)", r"PyType_IsSubtype"),
    ("__tls_get_addr", r"tls_get_addr"),
    ("hashing", r"PyObject_Hash|long_hash|unicode_hash|siphash|_Py_HashBytes"),
    ("key equality", r"(?i)richcompare|long_compare|unicode_compare|unicode_eq|_PyUnicode_Equal"
     r"|PyLong_AsLongLongAndOverflow|memcmp|PyBool_FromLong"),
    ("incref/decref", r"Py_IncRef|Py_DecRef|Py_DECREF|Py_INCREF|_Py_DecRefShared|_Py_Dealloc|_Py_MergeZeroLocal"
     r"|_Py_IncRef|_Py_DecRef|_Py_brc|_Py_ExplicitMerge"),
    ("allocation", r"malloc|mi_|free|_PyObject_Malloc|PyObject_Free|_PyObject_MiMalloc|realloc"),
]

#: Rust code (functions of lockless or PyO3, with most of it inlined): by the *source file* the
#: instructions come from, then by the enclosing function. regexes on the file, or on the function.
RUST_FILES = [
    ("crossbeam pin/unpin/defer/collect", r"crossbeam-epoch"),
    ("reclaim bookkeeping (pinned, flush policy, drain)", r"src/engine/reclaim\.rs|thread_local|thread/local\.rs"),
    ("probe and table (engine)", r"src/engine/dict/"),
    ("incref/decref", r"src/python/handle\.rs"),
]
RUST_FUNCTIONS = [
    ("Known (per-op cache of __eq__ answers)", r"key::Known"),
    ("crossbeam pin/unpin/defer/collect", r"crossbeam_epoch"),
    ("reclaim bookkeeping (pinned, flush policy, drain)", r"reclaim::"),
    ("hashing", r"key_hash|hash_of"),
    ("key equality", r"builtin_eq|eq_for|keys_equal"),
]


def part_of(name: str) -> str:
    """The part of one callgrind "file:function" pair."""
    name = re.sub(r"\s*\[[^\]]*\]$", "", name)
    file, _, function = name.rpartition(":") if "::" not in name else name.partition(":")
    if "::" in name:
        file, function = name.split(":", 1)
        # "file:path::to::fn": the first colon not part of a "::" ends the file.
        m = re.match(r"(.*?[^:]):([^:].*)$", name)
        if m:
            file, function = m.group(1), m.group(2)
    rust = "lockless" in function or "pyo3" in function or "crossbeam" in function
    if rust and re.search(r"key_hash|hash_of", function):
        return "hashing"
    if not rust:
        for part, pattern in C_FUNCTIONS:
            if re.search(pattern, function):
                return part
        return "other"
    for part, pattern in RUST_FILES:
        if re.search(pattern, file):
            return part
    if re.search(r"src/python/key\.rs", file):
        return "hashing" if re.search(r"key_hash|hash_of", function) else "key equality"
    for part, pattern in RUST_FUNCTIONS:
        if re.search(pattern, function):
            return part
    if re.search(r"^core/|^alloc/|/rustc/", file) and "try_keyed::{{closure}}" in function:
        return "probe and table (engine)"  # atomics, ranges, comparisons inlined into the probe
    return "PyO3 trampoline and binding glue"


def rows(path: Path) -> list[tuple[int, str]]:
    """(exclusive Ir, "file:function") for every pair callgrind_annotate lists."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", str(path)],
                         capture_output=True, text=True, check=True).stdout
    got = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*\S)\s*$", line)
        if m and "PROGRAM TOTALS" not in line:
            got.append((int(m.group(1).replace(",", "")), m.group(2)))
    return got


def short(name: str) -> str:
    name = re.sub(r"\s*\[[^\]]*\]$", "", name)
    name = re.sub(r"/tmp/[^ ]*?/Python-3\.\d+\.\d+/", "", name)
    name = re.sub(r"/root/\.cargo/registry/src/[^/]*/", "", name)
    name = re.sub(r"/rustc/[0-9a-f]+/library/", "", name)
    return re.sub(r"/work/[^ ]*?/(src|benches)/", r"\1/", name)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--ops", type=int, default=300_000, help="loop iterations in each file (default 300000)")
    p.add_argument("--top", type=int, default=0, help="also list the N largest (file, function) pairs")
    args = p.parse_args(argv)
    tables = []
    for f in args.files:
        by = defaultdict(float)
        data = rows(f)
        for ir, name in data:
            by[part_of(name)] += ir / args.ops
        tables.append((f.name.removesuffix(".callgrind"), by, data))
    parts = PARTS
    w = max(len(t[0]) for t in tables) + 2
    print("exclusive instructions per loop iteration".ljust(66) + "".join(t[0].rjust(w) for t in tables))
    for part in parts:
        if any(t[1].get(part, 0) >= 0.5 for t in tables):
            print(part.ljust(66) + "".join(f"{t[1].get(part, 0):.0f}".rjust(w) for t in tables))
    print("total".ljust(66) + "".join(f"{sum(t[1].values()):.0f}".rjust(w) for t in tables))
    for name, _, data in tables:
        if args.top:
            print(f"\n{name}: top {args.top} (file:function), exclusive per iteration")
            for ir, fn in sorted(data, reverse=True)[: args.top]:
                print(f"  {ir / args.ops:7.1f}  {part_of(fn)[:24]:<25} {short(fn)[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
