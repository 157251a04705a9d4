"""The real, public metadata files that the torchxrayvision wheel bundles.

They are the source of the committed split files and of realistic synthetic fixtures (real ids, label
combinations, RSNA boxes, SIIM mask shapes, IU reports, lung masks). The package is located without
importing it, because importing torchxrayvision pulls torch and scikit-image for no reason here.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from asgbench.errors import MissingDependencyError

PACKAGE = "torchxrayvision"


@dataclass(frozen=True)
class PublicFile:
    """One bundled file: its name inside the package and what it is."""

    name: str
    what: str


NIH_DATA_ENTRY = PublicFile("Data_Entry_2017_v2020.csv.gz", "NIH ChestX-ray14 Data_Entry (v2020)")
NIH_BBOX = PublicFile("BBox_List_2017.csv.gz", "NIH ChestX-ray14 BBox_List_2017")
CHEXPERT_TRAIN = PublicFile("chexpert_train.csv.gz", "CheXpert-v1.0-small train.csv")
RSNA_LABELS = PublicFile("kaggle_stage_2_train_labels.csv.zip", "RSNA stage_2_train_labels.csv")
RSNA_HEADERS = PublicFile("kaggle_stage_2_train_images_dicom_headers.csv.gz", "RSNA stage-2 DICOM header table")
SIIM_RLE = PublicFile("siim-pneumothorax-train-rle.csv.gz", "SIIM-ACR stage-1 train-rle.csv (train + test rows)")
IU_REPORTS = PublicFile("NLMCXR_reports.tgz", "Indiana University report XMLs (CC BY-NC-ND 4.0)")
LUNG_MASKS = PublicFile("semantic_masks_v7labs_lungs.zip", "V7 Labs lung masks")


@lru_cache(maxsize=1)
def data_dir() -> Path:
    """The ``data/`` folder of the installed torchxrayvision package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the public metadata files come from the {PACKAGE} package; install it with "
            "`pip install 'asgbench[metadata]'` (make demo/test do this)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def path_of(file: PublicFile) -> Path:
    path = data_dir() / file.name
    if not path.is_file():
        raise MissingDependencyError(f"{path}: bundled file missing from the installed {PACKAGE} ({file.what})")
    return path
