"""Which cores the daemon runs on (`--cpus`).

Why pin at all: the daemon's Python threads take turns on one interpreter lock, whatever the core count. On
several cores a thread that wakes on another core takes the lock across cores at every blocking call (a
futex hand-off and a wake-up of that core each time), and under load those hand-offs cost more than the
work they serialise. On one core they become plain switches of that core. Measured on the 2-core
development machine with 32 orders in flight (docs/daemon.md "Pinning the daemon"): about twice the
orders/s and half the CPU per order. gRPC's own threads are pinned with the rest, as they are started after
this runs.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_TEXT = 256  # a CPU list longer than this is a mistake, not a machine


class CpuListError(ValueError):
    pass


def allowed_cpus() -> frozenset[int]:
    """The cores this process may use now."""
    return frozenset(os.sched_getaffinity(0))


def parse_cpu_list(text: str, allowed: frozenset[int] | None = None) -> frozenset[int]:
    """`1`, `0,2` or `2-3` (the kernel's cpu-list spelling) as a set of cores, each one this process may
    use; CpuListError (one line) otherwise."""
    allowed = allowed_cpus() if allowed is None else allowed
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        raise CpuListError("expected a CPU list such as 1, 0,2 or 2-3")
    cpus: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not _number(low) or (dash and not _number(high)):
            raise CpuListError(f"{part!r} is not a CPU number or range (such as 1 or 2-3)")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise CpuListError(f"range {part!r} runs backwards")
        if last - first >= 4096:
            raise CpuListError(f"range {part!r} is longer than any machine")
        cpus.update(range(first, last + 1))
    outside = sorted(cpus - allowed)
    if outside:
        raise CpuListError(
            f"CPU {outside[0]} is not available to this process (available: {_spell(allowed)})"
        )
    return frozenset(cpus)


def pin_process(cpus: frozenset[int]) -> None:
    """Every thread of this process, and every thread it starts later, runs only on `cpus`."""
    os.sched_setaffinity(0, cpus)  # this thread, and so the threads it starts from now on
    try:
        tasks = [int(entry.name) for entry in Path("/proc/self/task").iterdir()]
    except OSError:
        return  # no /proc: this thread is pinned, and the daemon starts its threads from it
    for tid in tasks:
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            pass  # a thread that ended meanwhile


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def _spell(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus)) or "none"
