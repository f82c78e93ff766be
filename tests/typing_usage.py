"""Typed use of lockless, checked by `mypy --strict` in `make test` (not a pytest module)."""

from __future__ import annotations

from lockless import AtomicCounter, AtomicInt, AtomicQueue, AtomicRef


def typed_usage() -> None:
    n = AtomicInt(5)
    n += 1
    total: int = n + 2
    doubled: int = n.update_and_get(lambda v: v * 2)
    found: int = n.compare_and_exchange(12, 13)
    flag: bool = n.compare_and_set(13, 0) and n < 3

    ref: AtomicRef[list[int]] = AtomicRef([1])
    items: list[int] = ref.get()
    ref.set(items + [2])
    newer: list[int] = ref.update_and_get(lambda xs: xs + [3])
    swapped: bool = ref.compare_and_set(newer, [])

    hits = AtomicCounter()
    hits.increment()
    count: int = hits.get() + hits.get_and_reset()

    jobs: AtomicQueue[str] = AtomicQueue(maxsize=8)
    jobs.put("a")
    jobs.put("b", timeout=0.5)
    jobs.put_nowait("c")
    first: str = jobs.get()
    second: str = jobs.get(timeout=1.0)
    third: str = jobs.get_nowait()
    jobs.task_done()
    sizes: tuple[int, int, bool, bool] = (jobs.qsize(), jobs.maxsize, jobs.empty(), jobs.full())
    jobs.shutdown(immediate=True)

    print(total, doubled, found, flag, swapped, count, first, second, third, sizes)
