"""NIH ChestX-ray14: Data_Entry CSV with a bracket-split header, '|'-joined labels, PNGs anywhere below the root."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader, is_frontal
from asgbench.errors import DataLayoutError
from asgbench.vocab import NIH_FINDINGS

NO_FINDING = "No Finding"
DATA_ENTRY_NAMES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
DATA_ENTRY_COLUMNS = (
    "Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender", "View Position",
    "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]",
)
BBOX_NAME = "BBox_List_2017.csv"
BBOX_COLUMNS = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]")
# BBox_List spells Infiltration as "Infiltrate".
BBOX_LABEL_SPELLING = {"Infiltrate": "Infiltration"}

INFO = DatasetInfo(
    name="nih",
    title="NIH ChestX-ray14",
    labels=(*NIH_FINDINGS, NO_FINDING),
    image_format="PNG 1024x1024 8-bit",
    root_contents=(
        "Data_Entry_2017_v2020.csv (or Data_Entry_2017.csv)",
        "PNGs anywhere below the root (images/ or images_001/images/ ...)",
        "optional: BBox_List_2017.csv, train_val_list.txt, test_list.txt",
    ),
    homepage="https://nihcc.app.box.com/v/ChestXray-NIHCC",
)


def parse_finding_labels(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One 0/1 column per token of the '|'-joined ``Finding Labels`` column."""
    tokens = frame["Finding Labels"].fillna("").astype(str).str.split("|")
    known = set(NIH_FINDINGS) | {NO_FINDING}
    unknown = sorted({t for row in tokens for t in row} - known)
    if unknown:
        raise DataLayoutError(f"{path}: unknown Finding Labels token(s) {unknown}; expected the 14 NIH findings or 'No Finding'")
    columns = {}
    for label in (*NIH_FINDINGS, NO_FINDING):
        columns[label] = tokens.map(lambda row, label=label: 1.0 if label in row else 0.0)
    return pd.DataFrame(columns, index=frame.index)


class NIHReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "NIH", INFO.root_contents)
        entry_path = layout.find_first(root, DATA_ENTRY_NAMES, what="NIH Data_Entry CSV")
        entries = layout.read_csv_checked(
            entry_path, DATA_ENTRY_COLUMNS, allow_trailing_empty=True, dtype={"Image Index": str, "Finding Labels": str}
        )
        bad_names = ~entries["Image Index"].astype(str).str.fullmatch(r"\d{8}_\d{3}\.png")
        if bad_names.any():
            raise DataLayoutError(
                f"{entry_path}: Image Index must look like 00000001_000.png, found {entries.loc[bad_names, 'Image Index'].iloc[0]!r}"
            )
        labels = parse_finding_labels(entries, entry_path)
        pngs = layout.walk_files(root, (".png",))
        names = entries["Image Index"].astype(str)
        frame = pd.DataFrame(
            {
                "image_id": names,
                "path": names.map(pngs).astype("string"),
                "patient_id": entries["Patient ID"].map(lambda v: f"{int(v):08d}"),
                "view": entries["View Position"].astype("string"),
                "frontal": entries["View Position"].map(is_frontal),
                "official_split": pd.Series(pd.NA, index=entries.index, dtype="string"),
                "age": entries["Patient Age"],
                "sex": entries["Patient Gender"],
            }
        )
        frame = pd.concat([frame, labels], axis=1)
        sources = [layout.source(root, entry_path)]

        split_notes = []
        for split_name, file_name in (("trainval", "train_val_list.txt"), ("test", "test_list.txt")):
            list_path = layout.find_first(root, [file_name], what=file_name, required=False)
            if list_path is None:
                continue
            listed = set(layout.read_id_list(list_path))
            frame.loc[frame["image_id"].isin(listed), "official_split"] = split_name
            sources.append(layout.source(root, list_path))
            split_notes.append(file_name)

        frame["boxes"] = [() for _ in range(len(frame))]
        frame["box_labels"] = [() for _ in range(len(frame))]
        bbox_path = layout.find_first(root, [BBOX_NAME], what=BBOX_NAME, required=False)
        if bbox_path is not None:
            self._attach_boxes(frame, bbox_path)
            sources.append(layout.source(root, bbox_path))

        notes = [f"official split from {', '.join(split_notes)}"] if split_notes else ["no official split lists found"]
        return DatasetIndex(
            dataset="nih", root=root, frame=frame.reset_index(drop=True), labels=INFO.labels,
            layout=entry_path.name.removesuffix(".gz"), sources=tuple(sources), notes=tuple(notes),
        )

    @staticmethod
    def _attach_boxes(frame: pd.DataFrame, bbox_path: Path) -> None:
        boxes = layout.read_csv_checked(bbox_path, BBOX_COLUMNS, allow_trailing_empty=True)
        boxes["Finding Label"] = boxes["Finding Label"].replace(BBOX_LABEL_SPELLING)
        unknown = sorted(set(boxes["Finding Label"]) - set(NIH_FINDINGS))
        if unknown:
            raise DataLayoutError(f"{bbox_path}: unknown Finding Label(s) {unknown}")
        xywh = boxes[["Bbox [x", "y", "w", "h]"]].to_numpy(dtype=np.float64)
        xyxy = np.column_stack([xywh[:, 0], xywh[:, 1], xywh[:, 0] + xywh[:, 2], xywh[:, 1] + xywh[:, 3]])
        by_image: dict[str, list] = {}
        for name, label, box in zip(boxes["Image Index"], boxes["Finding Label"], xyxy):
            by_image.setdefault(name, []).append((label, tuple(float(v) for v in box)))
        position = {name: i for i, name in enumerate(frame["image_id"])}
        for name, items in by_image.items():
            if name in position:
                row = position[name]
                frame.at[row, "boxes"] = tuple(b for _, b in items)
                frame.at[row, "box_labels"] = tuple(label for label, _ in items)


READER = NIHReader()
