"""Output: the stdout table, issue 17's goals, the JSON file and the PNG plots."""

from __future__ import annotations

import json
import platform
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from .workloads import BY_NAME, SHARED_FORM, Result

# The reference each row's ratios are taken against: the first lockless form of that kind.
REFERENCE = {"map": "lockless", "int": "lockless.AtomicInt", "ref": "lockless.AtomicRef",
             "calibrate": "thread-local loop"}


def _group(results: list[Result]) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """(workload, keys) -> threads -> impl -> median Mops/s, in first-seen order."""
    out: dict[tuple[str, str], dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        out[(r.workload, r.keys)][r.threads][r.impl] = r.mops
    return out


def table(results: list[Result], memory: dict[str, float]) -> str:
    """Median Mops/s per implementation; in parentheses, lockless's throughput over that one's
    (above 1: lockless is faster)."""
    lines = ["Median Mops/s (higher is better). (N.NNx) = lockless's throughput / this one's, same run."]
    for (wl, keys), by_threads in _group(results).items():
        ref = REFERENCE[BY_NAME[wl].kind]
        names = list(dict.fromkeys(n for row in by_threads.values() for n in row))
        width = max(16, *(len(n) + 2 for n in names))
        lines.append("")
        label = f"{wl}" + (f" [{keys} keys]" if keys != "-" else "")
        lines.append(f"{label}: {BY_NAME[wl].describe}")
        lines.append("threads" + "".join(n.rjust(width) for n in names))
        for threads, row in sorted(by_threads.items()):
            cells = []
            for n in names:
                if n not in row:
                    cells.append("-".rjust(width))
                elif n == ref or ref not in row:
                    cells.append(f"{row[n]:.2f}".rjust(width))
                else:
                    cells.append(f"{row[n]:.2f} ({row[ref] / row[n]:.2f}x)".rjust(width))
            lines.append(str(threads).ljust(7) + "".join(cells))
    if memory:
        lines.append("")
        lines.append("memory: bytes per entry, 1M int keys, fresh interpreter (RSS delta; lower is better)")
        base = memory.get("dict")
        for name, b in memory.items():
            # No ratio to a baseline of 0: a small map's RSS delta can be 0 (its memory came
            # from pages the process already had), as in `--quick`.
            ratio = f"  ({b / base:.2f}x dict)" if base and name != "dict" else ""
            lines.append(f"  {name:<20}{b:8.1f}{ratio}")
    return "\n".join(lines)


MICRO_BOUNDS = {  # issue 17 goal 3: lockless's time per op over dict's, at most
    "micro/get-hit": 1.2,
    "micro/contains": 1.2,
    "micro/set-existing": 1.2,
    "micro/get-miss": 1.5,
    "micro/delete": 1.5,
    "micro/insert": 1.5,
}

#: Implementations lockless (the shared object) must beat for goal 1. lockless-handle is
#: lockless too (an extra form), not a competitor.
COMPETITORS = ("dict", "dict+Lock", "cereggii", "ft_utils")


def targets(results: list[Result], memory: dict[str, float],
            instructions: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Issue 17's goals, each with its measured figure (None where the run lacks the data)."""
    g = _group(results)
    out: list[dict[str, Any]] = []

    def at(wl: str, keys: str, threads: int, impl: str) -> float | None:
        return g.get((wl, keys), {}).get(threads, {}).get(impl)

    def add(goal: int, name: str, figure: float | None, bound: str, met: bool | None) -> None:
        out.append({"goal": goal, "target": name, "figure": figure, "bound": bound, "met": met})

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    cal = ratio(at("calibrate", "-", 2, "thread-local loop"), at("calibrate", "-", 1, "thread-local loop"))
    add(0, "machine check: thread-local loop, 2 threads / 1 (ideal 2.0)", cal, "~2 for scaling to mean anything",
        None if cal is None else cal >= 1.8)
    # Goal 1: the highest throughput at 2 and 8 threads, shared form.
    for wl in ("read-heavy", "write-heavy", "insert", "delete-churn"):
        for keys in ("int", "str"):
            for n in (2, 8):
                mine = at(wl, keys, n, "lockless")
                others = {p: at(wl, keys, n, p) for p in COMPETITORS}
                others = {p: v for p, v in others.items() if v is not None}
                if mine is None or not others:
                    continue
                best = max(others, key=lambda p: others[p])
                r = mine / others[best]
                add(1, f"{wl} [{keys}] {n} threads: lockless / best other ({best})", r, "> 1", r > 1)
    # Goal 2: scaling of the shared object.
    for wl in ("read-heavy", "write-heavy"):
        for keys in ("int", "str"):
            r = ratio(at(wl, keys, 2, "lockless"), at(wl, keys, 1, "lockless"))
            add(2, f"{wl} [{keys}] lockless 2 threads / 1 thread", r, ">= 1.8", None if r is None else r >= 1.8)
            r = ratio(at(wl, keys, 8, "lockless"), at(wl, keys, 2, "lockless"))
            add(2, f"{wl} [{keys}] lockless 8 threads / 2 threads", r, ">= 0.95", None if r is None else r >= 0.95)
    # Goal 3: single-thread time per op against dict (time ratio = dict's Mops / lockless's).
    for wl, bound in MICRO_BOUNDS.items():
        for keys in ("int", "str"):
            r = ratio(at(wl, keys, 1, "dict"), at(wl, keys, 1, "lockless"))
            add(3, f"{wl} [{keys}] lockless time / dict time", r, f"<= {bound}", None if r is None else r <= bound)
    # Goal 4: instructions, from `make bench-instructions`' JSON when given.
    for gl in (instructions or {}).get("goals", []):
        add(4, f"instructions {gl['goal']}", gl["figure"], gl["bound"], gl["met"])
    # Goal 5 (the measurable part): the handle form at least as fast as the shared one; memory.
    for wl in SHARED_FORM:
        for keys in ("int", "str"):
            for n in sorted({t for (w, k), by in g.items() if w == wl and k == keys for t in by}):
                r = ratio(at(wl, keys, n, "lockless-handle"), at(wl, keys, n, "lockless"))
                if r is not None:
                    add(5, f"{wl} [{keys}] {n} threads: lockless-handle / lockless", r, ">= 1 (noise: ~0.9)",
                        r >= 0.9)
    if "lockless" in memory and "dict" in memory:
        r = ratio(memory["lockless"], memory["dict"])
        add(5, "memory per entry (1M int keys; 10k in --quick): lockless / dict", r, "<= 1",
            None if r is None else r <= 1)
    return out


def targets_text(ts: list[dict[str, Any]]) -> str:
    names = {0: "machine", 1: "goal 1: highest throughput, shared form", 2: "goal 2: scaling",
             3: "goal 3: single-thread time per op vs dict", 4: "goal 4: instructions",
             5: "goal 5: no regressions (measurable part)"}
    lines = ["", "issue 17 goals (figure: ratio; MISS marks a goal not met)"]
    last = None
    for t in ts:
        if t["goal"] != last:
            last = t["goal"]
            lines.append(f" {names[last]}")
        fig = "n/a" if t["figure"] is None else f"{t['figure']:.2f}"
        mark = {True: "ok", False: "MISS", None: "?"}[t["met"]]
        lines.append(f"  {mark:<5}{t['target']:<64}{fig:>7}  (goal {t['bound']})")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    import os

    versions = {}
    for mod in ("lockless", "cereggii", "ft_utils"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod.replace("_", "-"))
        except Exception:
            pass
    return {
        "python": sys.version,
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_at_end": os.getloadavg(),
        "packages": versions,
    }


def write_json(path: Path, results: list[Result], memory: dict[str, float], ts, config) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "environment": environment(),
        "config": config,
        "results": [
            {"workload": r.workload, "keys": r.keys, "threads": r.threads, "impl": r.impl,
             "mops_median": r.mops, "mops_runs": r.samples}
            for r in results
        ],
        "memory_bytes_per_entry": memory,
        "targets": ts,
    }
    path.write_text(json.dumps(doc, indent=1))


# --- plots ------------------------------------------------------------------------------------

STYLE = {  # name -> (color, marker, linestyle): lockless forms solid and bold, others thinner
    "lockless": ("#d62728", "o", "-"),
    "lockless.AtomicInt": ("#d62728", "o", "-"),
    "lockless.AtomicCounter": ("#ff7f0e", "D", "-"),
    "lockless.AtomicRef": ("#d62728", "o", "-"),
    "dict": ("#7f7f7f", "s", "--"),
    "dict+Lock": ("#1f1f1f", "^", ":"),
    "int+Lock": ("#1f1f1f", "^", ":"),
    "list-cell": ("#7f7f7f", "s", "--"),
    "list-cell+Lock": ("#1f1f1f", "^", ":"),
    "cereggii": ("#1f77b4", "v", "-."),
    "lockless-handle": ("#ff7f0e", "D", "-"),
    "cereggii.AtomicInt64": ("#1f77b4", "v", "-."),
    "cereggii.AtomicInt64-handle": ("#17becf", "<", "-."),
    "cereggii.AtomicRef": ("#1f77b4", "v", "-."),
    "ft_utils": ("#2ca02c", ">", "-."),
    "ft_utils.AtomicInt64": ("#2ca02c", ">", "-."),
    "ft_utils.AtomicReference": ("#2ca02c", ">", "-."),
}


def _style(name: str) -> dict[str, Any]:
    color, marker, ls = STYLE.get(name, ("#9467bd", "x", "-"))
    bold = name.startswith("lockless")
    return {"color": color, "marker": marker, "linestyle": ls, "linewidth": 2.6 if bold else 1.4,
            "markersize": 7 if bold else 5}


def _scaling_axes(ax, by_threads: dict[int, dict[str, float]], title: str) -> None:
    names = list(dict.fromkeys(n for row in by_threads.values() for n in row))
    xs = sorted(by_threads)
    for n in names:
        pts = [(x, by_threads[x][n]) for x in xs if n in by_threads[x]]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=n, **_style(n))
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("threads (2 cores)")
    ax.set_ylabel("Mops/s (all threads)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)


def plots(results: list[Result], memory: dict[str, float], outdir: Path, subtitle: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    g = _group(results)
    written: list[Path] = []
    scaling = [w for w in dict.fromkeys(r.workload for r in results) if not BY_NAME[w].single_thread]

    # One PNG per multi-thread workload, one panel per key type.
    for wl in scaling:
        keys = [k for (w, k) in g if w == wl]
        fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.2), squeeze=False)
        for ax, k in zip(axes[0], keys):
            _scaling_axes(ax, g[(wl, k)], f"{k} keys" if k != "-" else BY_NAME[wl].describe)
        axes[0][0].legend(fontsize=8)
        fig.suptitle(f"{wl}: {BY_NAME[wl].describe}\n{subtitle}", fontsize=10)
        fig.tight_layout()
        path = outdir / f"{wl}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    # The overview: every multi-thread workload, int keys where there is a choice.
    if scaling:
        cols = 3
        rows = (len(scaling) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
        for ax, wl in zip(axes.flat, scaling):
            k = "int" if (wl, "int") in g else next(k for (w, k) in g if w == wl)
            _scaling_axes(ax, g[(wl, k)], wl + (f" [{k} keys]" if k != "-" else ""))
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(scaling):]:
            ax.axis("off")
        fig.suptitle(f"Throughput against threads\n{subtitle}", fontsize=11)
        fig.tight_layout()
        path = outdir / "overview.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    # Single-thread micro benchmarks: grouped bars.
    micro = [w for w in dict.fromkeys(r.workload for r in results) if BY_NAME[w].single_thread]
    if micro:
        keys = [k for k in ("int", "str") if any((w, k) in g for w in micro)]
        fig, axes = plt.subplots(1, len(keys), figsize=(6.5 * len(keys), 4.2), squeeze=False)
        for ax, k in zip(axes[0], keys):
            names = list(dict.fromkeys(n for w in micro for n in g.get((w, k), {}).get(1, {})))
            width = 0.8 / max(1, len(names))
            for i, n in enumerate(names):
                vals = [g.get((w, k), {}).get(1, {}).get(n, 0) for w in micro]
                ax.bar([j + i * width for j in range(len(micro))], vals, width, label=n,
                       color=_style(n)["color"])
            ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(micro))],
                          [w.split("/")[1] for w in micro])
            ax.set_ylabel("Mops/s (1 thread)")
            ax.set_title(f"single thread, {k} keys", fontsize=10)
            ax.grid(True, axis="y", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"Single-thread operations\n{subtitle}", fontsize=10)
        fig.tight_layout()
        path = outdir / "micro.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    if memory:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(memory)
        ax.bar(names, [memory[n] for n in names], color=[_style(n)["color"] for n in names])
        for i, n in enumerate(names):
            ax.text(i, memory[n], f"{memory[n]:.0f}", ha="center", va="bottom", fontsize=9)
        ax.set_ylabel("bytes per entry")
        ax.set_title(f"Memory per entry, 1M int keys (RSS delta)\n{subtitle}", fontsize=10)
        fig.tight_layout()
        path = outdir / "memory.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
