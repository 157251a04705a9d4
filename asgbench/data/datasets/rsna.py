"""RSNA Pneumonia Detection (Kaggle): one label row per box, one empty row per negative, DICOMs named by patientId."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader
from asgbench.errors import DataLayoutError

LABEL_COLUMNS = ("patientId", "x", "y", "width", "height", "Target")
CLASS_INFO_COLUMNS = ("patientId", "class")
RSNA_LABEL = "Pneumonia"
STAGES = ("stage_2", "stage_1")

INFO = DatasetInfo(
    name="rsna",
    title="RSNA Pneumonia Detection Challenge",
    labels=(RSNA_LABEL,),
    image_format="DICOM 1024x1024 8-bit (JPEG baseline)",
    root_contents=(
        "stage_2_train_labels.csv (or stage_1_...)",
        "stage_2_train_images/<patientId>.dcm",
        "optional: stage_2_detailed_class_info.csv",
    ),
    homepage="https://www.kaggle.com/c/rsna-pneumonia-detection-challenge",
)


def group_boxes(labels: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One row per patient with its boxes as (x1, y1, x2, y2) and Target = 1 iff it has a box."""
    has_box = labels[["x", "y", "width", "height"]].notna().all(axis=1)
    partial = labels[["x", "y", "width", "height"]].notna().any(axis=1) & ~has_box
    target = pd.to_numeric(labels["Target"], errors="coerce")
    bad = partial | target.isna() | (target.eq(1) & ~has_box) | (target.eq(0) & has_box)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataLayoutError(
            f"{path} line {line}: expected a box (x,y,width,height) with Target=1 or an empty box with Target=0"
        )
    order = pd.unique(labels["patientId"])
    boxes: dict[str, list[tuple[float, float, float, float]]] = {pid: [] for pid in order}
    xywh = labels[["x", "y", "width", "height"]].to_numpy(dtype=np.float64)
    for pid, box, present in zip(labels["patientId"], xywh, has_box.to_numpy()):
        if present:
            x, y, w, h = (float(v) for v in box)
            boxes[pid].append((x, y, x + w, y + h))
    return pd.DataFrame(
        {
            "patientId": order,
            "boxes": [tuple(boxes[pid]) for pid in order],
            RSNA_LABEL: [1.0 if boxes[pid] else 0.0 for pid in order],
        }
    )


class RSNAReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "RSNA", INFO.root_contents)
        stage = next((s for s in STAGES if layout.find_first(root, [f"{s}_train_labels.csv"], what="", required=False)), None)
        if stage is None:
            raise DataLayoutError(f"{root}: missing RSNA label file (expected stage_2_train_labels.csv or stage_1_train_labels.csv)")
        labels_path = layout.find_first(root, [f"{stage}_train_labels.csv"], what="RSNA labels")
        labels = layout.read_csv_checked(labels_path, LABEL_COLUMNS, dtype={"patientId": str})
        per_patient = group_boxes(labels, labels_path)
        image_dir = f"{stage}_train_images"
        layout.find_dir(root, [image_dir], what="RSNA training images")
        frame = pd.DataFrame(
            {
                "image_id": per_patient["patientId"],
                "path": (image_dir + "/" + per_patient["patientId"] + ".dcm").astype("string"),
                "patient_id": per_patient["patientId"],
                "view": pd.Series(pd.NA, index=per_patient.index, dtype="string"),
                "frontal": True,
                "official_split": pd.Series("train", index=per_patient.index, dtype="string"),
                "boxes": per_patient["boxes"],
                RSNA_LABEL: per_patient[RSNA_LABEL],
            }
        )
        sources = [layout.source(root, labels_path)]
        class_path = layout.find_first(root, [f"{stage}_detailed_class_info.csv"], what="class info", required=False)
        if class_path is not None:
            classes = layout.read_csv_checked(class_path, CLASS_INFO_COLUMNS, dtype=str).drop_duplicates("patientId")
            frame["class"] = frame["image_id"].map(dict(zip(classes["patientId"], classes["class"])))
            sources.append(layout.source(root, class_path))
        return DatasetIndex(
            dataset="rsna", root=root, frame=frame, labels=INFO.labels, layout=f"RSNA {stage}",
            sources=tuple(sources), notes=("views are in the DICOM headers, not in the label CSV",),
        )


READER = RSNAReader()
