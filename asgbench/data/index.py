"""The common dataset index: what every dataset reader returns, whatever the on-disk layout.

A reader turns one dataset's real files into a DataFrame with one row per image and these columns:

- ``image_id`` (unique), ``path`` (relative to the root; NA when a layout locates files by walking the
  tree and the file was not found), ``patient_id``, ``view`` (PA, AP, LATERAL, LL, ... or NA),
  ``frontal`` (bool), ``official_split`` (train / val / test / trainval or NA);
- one column per raw label: 1 positive, 0 negative, -1 uncertain, NaN not mentioned;
- where the dataset has them: ``boxes`` (tuple of (x1, y1, x2, y2) in original pixels), ``rle`` (tuple of
  RLE strings), ``mask_path``, ``report`` (path of the report text).

Nothing outside ``asgbench.data.datasets`` knows a dataset's file layout.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from asgbench.errors import DataLayoutError

BASE_COLUMNS = ("image_id", "path", "patient_id", "view", "frontal", "official_split")
OPTIONAL_COLUMNS = ("boxes", "rle", "mask_path", "report")
OFFICIAL_SPLITS = ("train", "val", "test", "trainval")
FRONTAL_VIEWS = frozenset({"PA", "AP", "AP AXIAL", "PA LLD", "AP LLD", "PA RLD", "AP RLD"})


@dataclass(frozen=True)
class DatasetInfo:
    """What ``asgbench ls datasets`` shows about one dataset."""

    name: str
    title: str
    labels: tuple[str, ...]
    image_format: str
    root_contents: tuple[str, ...]
    homepage: str = ""


@dataclass(frozen=True)
class SourceFile:
    """A metadata file an index was read from; its sha256 goes into split manifests."""

    relative_path: str
    absolute_path: Path

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.absolute_path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


@dataclass
class DatasetIndex:
    """The rows of one dataset download in the common schema, plus where they came from."""

    dataset: str
    root: Path
    frame: pd.DataFrame
    labels: tuple[str, ...]
    layout: str
    sources: tuple[SourceFile, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_frame(self.frame, self.labels, f"{self.dataset} index of {self.root}")

    def __len__(self) -> int:
        return len(self.frame)

    def absolute_path(self, relative: str) -> Path:
        return self.root / relative


def validate_frame(frame: pd.DataFrame, labels: tuple[str, ...], what: str) -> None:
    """Check the common schema; a reader bug must not reach a protocol as a silent mislabel."""
    missing = [c for c in (*BASE_COLUMNS, *labels) if c not in frame.columns]
    if missing:
        raise AssertionError(f"{what}: reader produced no column(s) {missing}")
    if frame["image_id"].duplicated().any():
        duplicated = frame.loc[frame["image_id"].duplicated(), "image_id"].head(3).tolist()
        raise DataLayoutError(f"{what}: image ids are not unique, e.g. {duplicated}")
    for label in labels:
        values = set(pd.unique(frame[label].dropna()))
        if not values <= {1.0, 0.0, -1.0}:
            raise DataLayoutError(f"{what}: label {label!r} has values {sorted(values)}; expected 1, 0, -1 or blank")
    splits = set(pd.unique(frame["official_split"].dropna()))
    if not splits <= set(OFFICIAL_SPLITS):
        raise AssertionError(f"{what}: unknown official splits {splits}")


class DatasetReader(ABC):
    """Reads one dataset's real on-disk layout into a :class:`DatasetIndex`."""

    info: DatasetInfo

    @abstractmethod
    def read_index(self, root: Path) -> DatasetIndex:
        """Read the layout under ``root``; raise DataLayoutError naming the file on any mismatch."""


def is_frontal(view: object) -> bool:
    return isinstance(view, str) and view.strip().upper() in FRONTAL_VIEWS
