"""What every verb shares: printing a table, drawing the library's progress callbacks, parsing lists.

The library reports progress as ``progress(phase, done, total)`` and never prints; here those calls become
tqdm bars on stderr (one per phase), the only progress display asgbench has.
"""
from __future__ import annotations

import sys

from asgbench.errors import ConfigError


def print_table(rows: list[list[object]], headers: list[str]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=headers, tablefmt="github"))


class ProgressBars:
    """A ``progress(phase, done, total)`` callback drawn as one tqdm bar per phase on stderr."""

    def __init__(self, quiet: bool = False, unit: str = "it") -> None:
        self.quiet, self.unit = quiet, unit
        self.phase: str | None = None
        self.bar = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if phase != self.phase or self.bar is None:
            from tqdm import tqdm

            self.close()
            self.phase = phase
            self.bar = tqdm(total=total or None, desc=f"  {phase}", unit=self.unit, file=sys.stderr, leave=False,
                            dynamic_ncols=True, mininterval=0.2 if sys.stderr.isatty() else 10.0)
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def counter(self, phase: str, total: int = 0):
        """A ``progress(done, total)`` callback for library calls that report a single phase."""
        return lambda done, of=total: self(phase, done, of or total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.phase = None, None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def csv_list(value: str | None, kind=str, flag: str = "a list") -> tuple | None:
    """``"a,b"`` -> ``("a", "b")`` converted by ``kind``; None stays None (the flag was not given)."""
    if value is None:
        return None
    try:
        return tuple(kind(item.strip()) for item in str(value).split(",") if item.strip())
    except ValueError:
        what = "whole numbers" if kind is int else f"{kind.__name__} values"
        raise ConfigError(f"{flag}: expected comma-separated {what}, got {value!r}") from None


def pairs(items: list[str] | None, flag: str) -> dict[str, str] | None:
    """Repeated ``KEY=VALUE`` flags -> a mapping; None when the flag was not given."""
    if not items:
        return None
    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        found[key] = value
    return found
