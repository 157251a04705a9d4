"""The format-free table: caption, column groups and blocks of rows of cells, built once and rendered to
every format, so that markdown, HTML, CSV and LaTeX can never disagree about a number or a mark."""
from __future__ import annotations

from dataclasses import dataclass

from asgbench.tables.layout import Column, ColumnGroup

BEST, SECOND = "best", "second"
BELOW_SIGN = "↓"      # after a value: significantly below the column's best row (asgbench.tables.significance)
FLOOR_SIGN = "∅"      # after a segmentation Dice: not significantly above the empty-mask baseline (predicting nothing)


@dataclass(frozen=True)
class Cell:
    """A value in percent; ``mark`` is :data:`BEST`, :data:`SECOND` or ""; ``below`` whether the value is
    significantly below its column's best row (None: not tested)."""

    mean: float | None = None
    sd: float | None = None
    n: int = 0
    mark: str = ""
    below: bool | None = None
    floor: bool | None = None         # segmentation Dice: True when not significantly above the empty mask (None: untested)
    interval: tuple[float, float] | None = None   # 95 % CI of the mean, test patients and runs resampled (percent)


@dataclass(frozen=True)
class Row:
    """A measured row, or a published one (``reported``); ``model`` is the registry name, if any. A ``baseline``
    row (segmentation's empty mask) is computed from the measured runs' test lists, never ranked or marked."""

    label: str
    reported: bool
    cells: tuple[Cell, ...]
    model: str | None = None
    baseline: bool = False


@dataclass(frozen=True)
class Block:
    """Rows under one group heading ("CNN-based"); ``title`` None prints no heading."""

    title: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Table:
    name: str
    caption: str
    groups: tuple[ColumnGroup, ...]
    blocks: tuple[Block, ...]
    row_header: str = "Method"

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(column for group in self.groups for column in group.columns)

    def row(self, label: str) -> Row:
        for block in self.blocks:
            for row in block.rows:
                if row.label == label:
                    return row
        raise KeyError(label)
