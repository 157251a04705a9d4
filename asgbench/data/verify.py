"""Check a dataset download against its expected layout and summarise what is there.

``asgbench data verify`` answers the first question of every user: did my download land where asgbench
looks, and is it complete? It reads the layout, counts images found and missing, labels per class,
patients and views, and decodes a sample of images so that a missing codec shows up now, not mid-run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.data.datasets import read_index
from asgbench.data.images import read_image
from asgbench.data.index import DatasetIndex
from asgbench.data.reports import section_report


@dataclass(frozen=True)
class LabelCount:
    positive: int
    negative: int
    uncertain: int
    blank: int


@dataclass
class VerifyReport:
    dataset: str
    root: Path
    layout: str
    rows: int
    images_found: int
    images_missing: int
    missing_examples: list[str]
    patients: int
    labels: dict[str, LabelCount]
    views: dict[str, int]
    official_splits: dict[str, int]
    extras: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    decoded: int = 0


def count_labels(frame: pd.DataFrame, labels: tuple[str, ...]) -> dict[str, LabelCount]:
    counts = {}
    for label in labels:
        values = frame[label]
        counts[label] = LabelCount(
            positive=int((values == 1).sum()), negative=int((values == 0).sum()),
            uncertain=int((values == -1).sum()), blank=int(values.isna().sum()),
        )
    return counts


def existing_paths(index: DatasetIndex, column: str = "path") -> pd.Series:
    """Boolean per row: the file in ``column`` exists under the root."""
    root = str(index.root)
    return index.frame[column].map(lambda rel: isinstance(rel, str) and os.path.isfile(os.path.join(root, rel)))


def verify_dataset(name: str, root: str | Path, *, decode_sample: int = 8) -> VerifyReport:
    """Read ``name`` from ``root`` and summarise it; decode up to ``decode_sample`` found images."""
    index = read_index(name, root)
    frame = index.frame
    found = existing_paths(index)
    missing = frame.loc[~found]
    missing_examples = [
        str(p) if isinstance(p, str) else f"{image_id} (no file found below the root)"
        for image_id, p in zip(missing["image_id"].head(5), missing["path"].head(5))
    ]
    extras: dict[str, int] = {"frontal": int(frame["frontal"].sum())}
    if "boxes" in frame:
        extras["with_boxes"] = int(frame["boxes"].map(len).gt(0).sum())
    if "rle" in frame:
        extras["with_masks"] = int(frame["rle"].map(len).gt(0).sum())
    if "mask_path" in frame:
        extras["mask_files_found"] = int(existing_paths(index, "mask_path").sum())
    if "report" in frame:
        extras.update(_report_counts(index))

    decoded = 0
    found_paths = frame.loc[found, "path"].tolist()
    if decode_sample and found_paths:
        picks = np.unique(np.linspace(0, len(found_paths) - 1, min(decode_sample, len(found_paths))).astype(int))
        for i in picks:
            read_image(index.root / found_paths[i])
            decoded += 1

    views = frame["view"].fillna("(none)").value_counts().to_dict()
    splits = frame["official_split"].fillna("(none)").value_counts().to_dict()
    return VerifyReport(
        dataset=index.dataset, root=index.root, layout=index.layout, rows=len(frame),
        images_found=int(found.sum()), images_missing=int((~found).sum()), missing_examples=missing_examples,
        patients=int(frame["patient_id"].nunique()), labels=count_labels(frame, index.labels),
        views={str(k): int(v) for k, v in views.items()}, official_splits={str(k): int(v) for k, v in splits.items()},
        extras=extras, notes=index.notes, decoded=decoded,
    )


def _report_counts(index: DatasetIndex) -> dict[str, int]:
    reports = index.frame["report"].dropna().unique()
    present = with_sections = 0
    for relative in reports:
        path = index.root / relative
        if not path.is_file():
            continue
        present += 1
        if section_report(path.read_text(errors="replace")).has_findings_or_impression():
            with_sections += 1
    return {"reports_expected": len(reports), "reports_found": present, "reports_with_findings_or_impression": with_sections}
