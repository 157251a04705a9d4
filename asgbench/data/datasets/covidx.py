"""COVIDx (COVID-Net 9A/9B label files, Kaggle CXR-2/3, CXR-4 with val): header-less 4-field txt files."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader
from asgbench.errors import DataLayoutError

# "A" files (COVIDx <= 9A) use three classes; "B" files, CXR-2 and later use positive/negative.
VOCABULARY_A = ("normal", "pneumonia", "COVID-19")
VOCABULARY_B = ("negative", "positive")
SPLITS = (("train", "train"), ("val", "val"), ("test", "test"))

INFO = DatasetInfo(
    name="covidx",
    title="COVIDx CXR (COVID-Net 9A/9B, CXR-2/3/4)",
    labels=(*VOCABULARY_A, *VOCABULARY_B),
    image_format="PNG/JPEG mixed sizes",
    root_contents=(
        "train.txt, test.txt[, val.txt] or train_COVIDx9A.txt, test_COVIDx9A.txt",
        "train/, test/[, val/] image folders",
    ),
    homepage="https://github.com/lindawangg/COVID-Net",
)


def find_label_file(root: Path, split: str, required: bool) -> Path | None:
    """``<split>.txt`` (Kaggle) or the single ``<split>_COVIDx*.txt`` (COVID-Net repository)."""
    plain = root / f"{split}.txt"
    if plain.is_file():
        return plain
    versioned = sorted(p for p in root.glob(f"{split}_COVIDx*.txt") if p.is_file())
    if len(versioned) == 1:
        return versioned[0]
    if len(versioned) > 1:
        raise DataLayoutError(
            f"{root}: several COVIDx {split} label files ({', '.join(p.name for p in versioned)}); keep one per root"
        )
    if required:
        raise DataLayoutError(f"{root}: missing COVIDx {split} label file (expected {split}.txt or {split}_COVIDx9A.txt)")
    return None


def read_label_file(path: Path) -> pd.DataFrame:
    """Parse ``<patient id> <filename> <class> <data source>`` lines; anything else is an error with its line."""
    rows = []
    with layout.open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 4:
                raise DataLayoutError(
                    f"{path} line {number}: expected 4 space-separated fields "
                    f"(patient id, filename, class, data source), found {len(fields)}"
                )
            if not re.search(r"\.(png|jpe?g)$", fields[1], re.IGNORECASE):
                raise DataLayoutError(f"{path} line {number}: expected an image file name in field 2, found {fields[1]!r}")
            rows.append(fields)
    if not rows:
        raise DataLayoutError(f"{path}: label file is empty")
    return pd.DataFrame(rows, columns=["patient_id", "filename", "class", "source"])


def vocabulary_of(classes: set[str], path: Path) -> tuple[str, ...]:
    if classes <= set(VOCABULARY_A):
        return VOCABULARY_A
    if classes <= set(VOCABULARY_B):
        return VOCABULARY_B
    raise DataLayoutError(
        f"{path}: classes {sorted(classes)} match neither {'/'.join(VOCABULARY_A)} nor {'/'.join(VOCABULARY_B)}"
    )


class COVIDxReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "COVIDx", INFO.root_contents)
        frames, sources = [], []
        for split, folder in SPLITS:
            path = find_label_file(root, split, required=split != "val")
            if path is None:
                continue
            table = read_label_file(path)
            table["official_split"] = split
            table["path"] = folder + "/" + table["filename"]
            frames.append(table)
            sources.append(layout.source(root, path))
        table = pd.concat(frames, ignore_index=True)
        vocabulary = vocabulary_of(set(table["class"]), sources[0].absolute_path)
        frame = pd.DataFrame(
            {
                "image_id": table["path"],
                "path": table["path"].astype("string"),
                "patient_id": table["patient_id"],
                "view": pd.Series(pd.NA, index=table.index, dtype="string"),
                "frontal": True,
                "official_split": table["official_split"].astype("string"),
                "class": table["class"],
                "source": table["source"],
            }
        )
        for label in vocabulary:
            frame[label] = (table["class"] == label).astype(float)
        if frame["image_id"].duplicated().any():
            dup = frame.loc[frame["image_id"].duplicated(), "image_id"].iloc[0]
            raise DataLayoutError(f"{root}: image {dup!r} is listed twice in the COVIDx label files")
        kind = "A (normal/pneumonia/COVID-19)" if vocabulary == VOCABULARY_A else "B (negative/positive)"
        return DatasetIndex(
            dataset="covidx", root=root, frame=frame, labels=vocabulary,
            layout=f"COVIDx {', '.join(s.relative_path for s in sources)}", sources=tuple(sources),
            notes=(f"class vocabulary {kind}",),
        )


READER = COVIDxReader()
