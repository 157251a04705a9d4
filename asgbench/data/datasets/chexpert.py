"""CheXpert (v1.0 or v1.0-small): train.csv / valid.csv with 19 columns, paths prefixed by the folder name."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from asgbench.data.datasets import layout
from asgbench.data.index import DatasetIndex, DatasetInfo, DatasetReader
from asgbench.errors import DataLayoutError
from asgbench.vocab import COMPETITION_TASKS

CHEXPERT_LABELS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices",
)
CHEXPERT_COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS)
SPLIT_FILES = (("train", "train.csv"), ("val", "valid.csv"))

INFO = DatasetInfo(
    name="chexpert",
    title="CheXpert v1.0 / v1.0-small",
    labels=CHEXPERT_LABELS,
    image_format="JPEG 8-bit",
    root_contents=(
        "train.csv, valid.csv (the CheXpert-v1.0[-small] folder itself is the root)",
        "train/patientNNNNN/studyN/viewN_{frontal,lateral}.jpg, valid/...",
    ),
    homepage="https://stanfordmlgroup.github.io/competitions/chexpert/",
)


def strip_dataset_folder(path: str) -> str:
    """``CheXpert-v1.0-small/train/p/s/v.jpg`` -> ``train/p/s/v.jpg`` (either folder name, as MGCA does)."""
    head, _, rest = path.partition("/")
    return rest if head.lower().startswith("chexpert") else path


class CheXpertReader(DatasetReader):
    info = INFO

    def read_index(self, root: Path) -> DatasetIndex:
        root = layout.require_root(root, "CheXpert", INFO.root_contents)
        frames, sources = [], []
        for split_name, file_name in SPLIT_FILES:
            csv_path = layout.find_first(root, [file_name], what=f"CheXpert {file_name}", required=split_name == "train")
            if csv_path is None:
                continue
            table = layout.read_csv_checked(csv_path, CHEXPERT_COLUMNS, dtype={"Path": str, "AP/PA": str})
            paths = table["Path"].astype(str)
            unexpected = ~paths.str.contains(r"(?:^|/)(?:train|valid)/patient\d+/study\d+/view\d+_(?:frontal|lateral)\.jpg$")
            if unexpected.any():
                raise DataLayoutError(
                    f"{csv_path}: Path must look like CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg, "
                    f"found {paths[unexpected].iloc[0]!r}"
                )
            for label in CHEXPERT_LABELS:
                table[label] = pd.to_numeric(table[label], errors="raise")
            relative = paths.map(strip_dataset_folder)
            lateral = table["Frontal/Lateral"].astype(str).str.lower().eq("lateral")
            view = table["AP/PA"].astype("string").where(table["AP/PA"].notna(), None)
            view = view.mask(lateral & view.isna(), "LATERAL")
            frame = pd.DataFrame(
                {
                    "image_id": relative,
                    "path": relative.astype("string"),
                    "patient_id": relative.str.extract(r"(patient\d+)", expand=False),
                    "view": view.astype("string"),
                    "frontal": ~lateral,
                    "official_split": split_name,
                    "sex": table["Sex"],
                    "age": table["Age"],
                }
            )
            frames.append(pd.concat([frame, table[list(CHEXPERT_LABELS)]], axis=1))
            sources.append(layout.source(root, csv_path))
        frame = pd.concat(frames, ignore_index=True)
        frame["official_split"] = frame["official_split"].astype("string")
        return DatasetIndex(
            dataset="chexpert", root=root, frame=frame, labels=CHEXPERT_LABELS,
            layout="CheXpert CSV", sources=tuple(sources),
            notes=() if len(sources) == 2 else ("valid.csv not found: only train.csv read",),
        )


READER = CheXpertReader()
