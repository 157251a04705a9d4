"""MIMIC-CXR-JPG 2.0.0 with the MIMIC-CXR reports unpacked into the same files/ tree."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader, is_frontal
from asgbench.errors import DataLayoutError

METADATA_COLUMNS = (
    "dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns",
    "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning", "ViewCodeSequence_CodeMeaning",
    "PatientOrientationCodeSequence_CodeMeaning",
)
MIMIC_LABELS = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion",
    "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices",
)
LABEL_FILE_COLUMNS = ("subject_id", "study_id", *MIMIC_LABELS)
SPLIT_COLUMNS = ("dicom_id", "study_id", "subject_id", "split")
SPLIT_NAMES = {"train": "train", "validate": "val", "test": "test"}
METADATA = "mimic-cxr-2.0.0-metadata.csv"
CHEXPERT = "mimic-cxr-2.0.0-chexpert.csv"
NEGBIO = "mimic-cxr-2.0.0-negbio.csv"
SPLIT = "mimic-cxr-2.0.0-split.csv"

INFO = DatasetInfo(
    name="mimic",
    title="MIMIC-CXR-JPG 2.0.0 (+ MIMIC-CXR reports)",
    labels=MIMIC_LABELS,
    image_format="JPEG 8-bit",
    root_contents=(
        "mimic-cxr-2.0.0-metadata.csv[.gz], mimic-cxr-2.0.0-split.csv[.gz], mimic-cxr-2.0.0-chexpert.csv[.gz]",
        "files/pXX/p<subject>/s<study>/<dicom_id>.jpg",
        "files/pXX/p<subject>/s<study>.txt (reports from mimic-cxr-reports.zip)",
    ),
    homepage="https://physionet.org/content/mimic-cxr-jpg/2.0.0/",
)


def image_path(subject_id: int, study_id: int, dicom_id: str) -> str:
    subject = f"p{subject_id}"
    return f"files/{subject[:3]}/{subject}/s{study_id}/{dicom_id}.jpg"


def report_path(subject_id: int, study_id: int) -> str:
    subject = f"p{subject_id}"
    return f"files/{subject[:3]}/{subject}/s{study_id}.txt"


class MIMICReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "MIMIC-CXR-JPG", INFO.root_contents)
        metadata_path = layout.find_first(root, [METADATA], what="MIMIC-CXR-JPG metadata CSV")
        metadata = layout.read_csv_checked(metadata_path, METADATA_COLUMNS, dtype={"dicom_id": str, "ViewPosition": str})
        layout.find_dir(root, ["files"], what="MIMIC-CXR-JPG files/")
        subjects = metadata["subject_id"].astype(int)
        studies = metadata["study_id"].astype(int)
        view = metadata["ViewPosition"].astype("string")
        frame = pd.DataFrame(
            {
                "image_id": metadata["dicom_id"],
                "path": [image_path(s, t, d) for s, t, d in zip(subjects, studies, metadata["dicom_id"])],
                "patient_id": subjects.astype(str),
                "study_id": studies,
                "view": view,
                "frontal": view.map(is_frontal).astype(bool),
                "official_split": pd.Series(pd.NA, index=metadata.index, dtype="string"),
                "report": [report_path(s, t) for s, t in zip(subjects, studies)],
            }
        )
        frame["path"] = frame["path"].astype("string")
        sources = [layout.source(root, metadata_path)]
        notes = []

        split_path = layout.find_first(root, [SPLIT], what="MIMIC split CSV", required=False)
        if split_path is not None:
            split = layout.read_csv_checked(split_path, SPLIT_COLUMNS, dtype={"dicom_id": str, "split": str})
            unknown = sorted(set(split["split"]) - set(SPLIT_NAMES))
            if unknown:
                raise DataLayoutError(f"{split_path}: unknown split value(s) {unknown}; expected train, validate, test")
            mapping = dict(zip(split["dicom_id"], split["split"].map(SPLIT_NAMES)))
            frame["official_split"] = frame["image_id"].map(mapping).astype("string")
            sources.append(layout.source(root, split_path))
        else:
            notes.append(f"{SPLIT} not found: no official split")

        label_path = layout.find_first(root, [CHEXPERT, NEGBIO], what="MIMIC label CSV", required=False)
        if label_path is not None:
            labels = layout.read_csv_checked(label_path, LABEL_FILE_COLUMNS)
            labels = labels.drop_duplicates(["subject_id", "study_id"]).set_index(["subject_id", "study_id"])
            keys = pd.MultiIndex.from_arrays([subjects, studies])
            joined = labels.reindex(keys)
            for label in MIMIC_LABELS:
                frame[label] = joined[label].to_numpy(dtype=float)
            sources.append(layout.source(root, label_path))
            notes.append(f"labels from {label_path.name}")
        else:
            for label in MIMIC_LABELS:
                frame[label] = float("nan")
            notes.append("no label CSV found: labels are blank")
        return DatasetIndex(
            dataset="mimic", root=root, frame=frame, labels=MIMIC_LABELS, layout="MIMIC-CXR-JPG 2.0.0",
            sources=tuple(sources), notes=tuple(notes),
        )


READER = MIMICReader()
