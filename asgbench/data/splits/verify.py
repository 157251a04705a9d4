"""Check a user's download against the split lists: missing images, extra images, changed labels."""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from asgbench.data.datasets import read_index
from asgbench.data.splits import LABELS_FILE, read_manifest
from asgbench.data.splits.lists import read_list
from asgbench.data.verify import existing_paths


@dataclass
class ListCheck:
    name: str
    expected: int
    found: int


@dataclass
class SplitVerifyReport:
    dataset: str
    protocol: str
    folder: Path
    root: Path
    lists: list[ListCheck]
    missing: list[str]
    extra: list[str]
    label_changes: list[tuple[str, str, str, str]]  # image id, label, listed value, download value
    rebuilt: list[str] = field(default_factory=list)  # lists defined by the download itself (e.g. CheXpert test)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.label_changes)


def _read_labels(folder: Path) -> pd.DataFrame:
    with gzip.open(folder / LABELS_FILE, "rb") as handle:
        return pd.read_csv(io.BytesIO(handle.read()), dtype={"image_id": str, "patient_id": str})


def _value(v: object) -> str:
    return "blank" if pd.isna(v) else str(int(float(v)))


def verify_splits(dataset: str, protocol: str, root: str | Path) -> SplitVerifyReport:
    """Compare the download under ``root`` with the lists of (dataset, protocol).

    Lists that only a download can define (e.g. CheXpert's test = valid.csv) are rebuilt from this
    download and checked for presence; every other list is checked as committed.
    """
    root = Path(root)
    folder, manifest = read_manifest(dataset, protocol, root)
    index = read_index(dataset, root)
    frame = index.frame
    present = set(frame.loc[existing_paths(index), "image_id"])
    reference = _read_labels(folder)
    wanted = set(reference["image_id"])
    checks, rebuilt = [], []
    download_only = [name for name, info in manifest.lists.items() if info.file is None]
    if download_only:
        from asgbench.data.splits import SPLIT_PROTOCOLS
        from asgbench.data.splits.sources import SourceIndex

        built = SPLIT_PROTOCOLS.get(protocol).build(dataset, SourceIndex(index, "download", {}))
        for name in download_only:
            ids = built.lists.get(name, [])
            wanted.update(ids)
            checks.append(ListCheck(name, len(ids), sum(1 for i in ids if i in present)))
            rebuilt.append(name)
    for name, info in manifest.lists.items():
        if info.file is not None:
            ids = read_list(folder / info.file)
            wanted.update(ids)
            checks.append(ListCheck(name, len(ids), sum(1 for i in ids if i in present)))
    missing = sorted(wanted - present)
    extra = sorted(set(frame.loc[frame["frontal"], "image_id"]) - wanted)
    labels = [c for c in reference.columns if c not in ("image_id", "patient_id")]
    joined = reference.merge(frame[["image_id", *labels]], on="image_id", how="inner", suffixes=("", "__download"))
    changes = []
    for label in labels:
        listed_values = joined[label].map(_value)
        download_values = joined[f"{label}__download"].map(_value)
        differ = listed_values != download_values
        changes.extend(zip(joined.loc[differ, "image_id"], [label] * int(differ.sum()), listed_values[differ], download_values[differ]))
    return SplitVerifyReport(dataset, manifest.protocol, folder, root, sorted(checks, key=lambda c: c.name), missing,
                             extra, sorted(changes), rebuilt)
