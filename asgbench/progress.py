"""Progress callbacks: library code reports (phase, done, total); only the CLI decides how to show it."""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def running_total(progress: Progress | None, phase: str, total: int = 0) -> Callable[[int], None] | None:
    """A callback taking per-batch increments that reports the running total under ``phase``."""
    if progress is None:
        return None
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(phase, done, total)

    return step
