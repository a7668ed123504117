"""How fast this machine runs Python right now, for benchmark reports.

A shared or throttled virtual machine can run the same code at half speed an hour later; a benchmark that
prints this figure beside its own lets a reader compare runs fairly (lower is faster).
"""

from __future__ import annotations

import time

SPEED_LOOP = 10_000_000


def python_speed_s() -> float:
    """CPU seconds one core takes to add up 10 million integers in a Python loop."""
    started = time.process_time()
    total = 0
    for i in range(SPEED_LOOP):
        total += i
    return time.process_time() - started


def speed_note(before: float, after: float) -> str:
    return (f"machine speed: a 10M-step Python loop took {before:.2f} s before the run and {after:.2f} s after "
            "(lower is faster; on a shared VM it moves by tens of percent within an hour: compare runs by it)")
