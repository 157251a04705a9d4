"""What a split protocol is: a named, versioned rule from a dataset index to image-id lists."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asgbench.data.splits.sources import SourceIndex

FRACTIONS = (1, 10, 100)


def list_name(split: str, fraction: int = 100, draw: int | None = None, prefix: str = "") -> str:
    """File stem of a list: ``train``, ``train_1pct``, ``train_10pct_d2``, ``seg_val``, ``5x200`` ..."""
    name = split if fraction == 100 or split != "train" else f"train_{fraction}pct"
    if draw is not None and fraction != 100 and split == "train":
        name += f"_d{draw}"
    return f"{prefix}_{name}" if prefix else name


@dataclass
class SplitSet:
    """The lists one protocol builds for one dataset, and what a user should know about them."""

    lists: dict[str, list[str]]
    labels: tuple[str, ...]                       # the labels used for stratification and label checks
    needs_download: dict[str, str] = field(default_factory=dict)  # list name -> why it needs the download
    notes: list[str] = field(default_factory=list)


class SplitProtocol(ABC):
    name: str
    version: str
    summary: str
    draws: int  # seeded draws of each train fraction (1 for single-draw recipes)

    @abstractmethod
    def datasets(self) -> tuple[str, ...]:
        """Datasets this protocol defines lists for."""

    @abstractmethod
    def build(self, dataset: str, source: SourceIndex) -> SplitSet:
        """Build every list this source allows; lists needing a download go into ``needs_download``."""
