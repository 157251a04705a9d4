"""SIIM-ACR Pneumothorax: the stage-1 DICOM tree with train-rle.csv, or the PNG re-pack with mask PNGs."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader
from asgbench.data.masks import EMPTY_RLE
from asgbench.errors import DataLayoutError

SIIM_LABEL = "Pneumothorax"
RLE_COLUMNS = ("ImageId", "EncodedPixels")  # the file spells the second one " EncodedPixels"
DICOM_DIRS = (("train", "dicom-images-train"), ("test", "dicom-images-test"))
PNG_LISTS = (("train", "stage_1_train_images.csv"), ("test", "stage_1_test_images.csv"))
PNG_COLUMNS = ("new_filename", "ImageId", "has_pneumo")
PNG_NAME = re.compile(r"^\d+_(train|test)_([01])_\.png$")

INFO = DatasetInfo(
    name="siim",
    title="SIIM-ACR Pneumothorax Segmentation (stage 1; or its PNG re-pack)",
    labels=(SIIM_LABEL,),
    image_format="DICOM 1024x1024 (JPEG baseline) or PNG re-pack",
    root_contents=(
        "train-rle.csv and dicom-images-train/<study>/<series>/<ImageId>.dcm [dicom-images-test/]",
        "or the PNG re-pack: png_images/, png_masks/, stage_1_train_images.csv, stage_1_test_images.csv",
    ),
    homepage="https://www.kaggle.com/c/siim-acr-pneumothorax-segmentation",
)


def read_rle_table(path: Path) -> pd.DataFrame:
    """``train-rle.csv``: header and values may carry a leading space; several rows per image = union."""
    table = layout.read_csv_checked(path, RLE_COLUMNS, strip_names=True, dtype=str)
    table["ImageId"] = table["ImageId"].str.strip()
    table["EncodedPixels"] = table["EncodedPixels"].fillna("").str.strip()
    malformed = ~table["EncodedPixels"].str.fullmatch(r"-1|\d+( \d+)*")
    if malformed.any():
        line = int(malformed.to_numpy().nonzero()[0][0]) + 2
        raise DataLayoutError(f"{path} line {line}: expected EncodedPixels to be -1 or space-separated run lengths")
    return table


def group_rles(table: pd.DataFrame) -> pd.DataFrame:
    order = pd.unique(table["ImageId"])
    rles: dict[str, list[str]] = {image_id: [] for image_id in order}
    for image_id, rle in zip(table["ImageId"], table["EncodedPixels"]):
        if rle != EMPTY_RLE:
            rles[image_id].append(rle)
    return pd.DataFrame(
        {
            "ImageId": order,
            "rle": [tuple(rles[i]) for i in order],
            SIIM_LABEL: [1.0 if rles[i] else 0.0 for i in order],
        }
    )


class SIIMReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "SIIM", INFO.root_contents)
        if layout.find_first(root, ["train-rle.csv"], what="", required=False):
            return self._read_dicom_layout(root)
        if (root / "png_images").is_dir():
            return self._read_png_layout(root)
        raise DataLayoutError(
            f"{root}: missing SIIM metadata (expected train-rle.csv with dicom-images-train/, "
            "or png_images/ with stage_1_train_images.csv)"
        )

    def _read_dicom_layout(self, root: Path) -> DatasetIndex:
        rle_path = layout.find_first(root, ["train-rle.csv"], what="SIIM train-rle.csv")
        per_image = group_rles(read_rle_table(rle_path))
        layout.find_dir(root, [DICOM_DIRS[0][1]], what="SIIM DICOM training images")
        located: dict[str, tuple[str, str]] = {}
        for split, folder in DICOM_DIRS:
            for name, rel in layout.walk_files(root / folder, (".dcm",)).items():
                located.setdefault(name[: -len(".dcm")], (split, f"{folder}/{rel}"))
        found = per_image["ImageId"].map(located)
        frame = pd.DataFrame(
            {
                "image_id": per_image["ImageId"],
                "path": found.map(lambda v: v[1] if isinstance(v, tuple) else pd.NA).astype("string"),
                "patient_id": per_image["ImageId"],
                "view": pd.Series(pd.NA, index=per_image.index, dtype="string"),
                "frontal": True,
                "official_split": found.map(lambda v: v[0] if isinstance(v, tuple) else pd.NA).astype("string"),
                "rle": per_image["rle"],
                SIIM_LABEL: per_image[SIIM_LABEL],
            }
        )
        unlabelled = len(set(located) - set(per_image["ImageId"]))
        notes = ["patient ids are not in train-rle.csv; each image counts as its own patient"]
        if unlabelled:
            notes.append(f"{unlabelled} DICOM file(s) have no row in train-rle.csv and are not indexed")
        return DatasetIndex(
            dataset="siim", root=root, frame=frame, labels=INFO.labels, layout="SIIM stage-1 DICOM + train-rle.csv",
            sources=(layout.source(root, rle_path),), notes=tuple(notes),
        )

    def _read_png_layout(self, root: Path) -> DatasetIndex:
        frames, sources = [], []
        for split, file_name in PNG_LISTS:
            path = layout.find_first(root, [file_name], what=f"SIIM re-pack {file_name}", required=split == "train")
            if path is None:
                continue
            table = layout.read_required_columns(path, PNG_COLUMNS, dtype={"new_filename": str, "ImageId": str})
            bad = ~table["new_filename"].str.match(PNG_NAME)
            if bad.any():
                raise DataLayoutError(f"{path}: new_filename must look like 0_train_1_.png, found {table.loc[bad, 'new_filename'].iloc[0]!r}")
            table["official_split"] = split
            frames.append(table)
            sources.append(layout.source(root, path))
        table = pd.concat(frames, ignore_index=True)
        frame = pd.DataFrame(
            {
                "image_id": table["new_filename"].str.removesuffix(".png"),
                "path": ("png_images/" + table["new_filename"]).astype("string"),
                "patient_id": table["ImageId"],
                "view": pd.Series(pd.NA, index=table.index, dtype="string"),
                "frontal": True,
                "official_split": table["official_split"].astype("string"),
                "mask_path": ("png_masks/" + table["new_filename"]).astype("string"),
                "source_image_id": table["ImageId"],
                SIIM_LABEL: pd.to_numeric(table["has_pneumo"], errors="raise").astype(float),
            }
        )
        return DatasetIndex(
            dataset="siim", root=root, frame=frame, labels=INFO.labels, layout="SIIM PNG re-pack",
            sources=tuple(sources), notes=("masks are PNG files in png_masks/ (foreground > 128)",),
        )


READER = SIIMReader()
