"""Real metadata rows (from the bundled public files) that the synthetic writers sample from."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from asgbench.data import public_metadata as pm
from asgbench.data.datasets import chexpert, layout, nih, rsna, siim


@lru_cache(maxsize=1)
def nih_entries() -> pd.DataFrame:
    path = pm.path_of(pm.NIH_DATA_ENTRY)
    frame = layout.read_csv_checked(path, nih.DATA_ENTRY_COLUMNS, allow_trailing_empty=True, dtype={"Image Index": str})
    return pd.concat([frame, nih.parse_finding_labels(frame, path)], axis=1)


@lru_cache(maxsize=1)
def nih_boxes() -> pd.DataFrame:
    return layout.read_csv_checked(pm.path_of(pm.NIH_BBOX), nih.BBOX_COLUMNS, allow_trailing_empty=True)


@lru_cache(maxsize=1)
def chexpert_train() -> pd.DataFrame:
    return layout.read_csv_checked(pm.path_of(pm.CHEXPERT_TRAIN), chexpert.CHEXPERT_COLUMNS, dtype={"Path": str, "AP/PA": str})


@lru_cache(maxsize=1)
def rsna_labels() -> pd.DataFrame:
    return layout.read_csv_checked(pm.path_of(pm.RSNA_LABELS), rsna.LABEL_COLUMNS, dtype={"patientId": str})


@lru_cache(maxsize=1)
def rsna_headers() -> pd.DataFrame:
    with layout.open_text(pm.path_of(pm.RSNA_HEADERS)) as handle:
        frame = pd.read_csv(handle, dtype={"PatientID": str, "PatientAge": str, "PatientSex": str, "ViewPosition": str})
    return frame.set_index("PatientID")


@lru_cache(maxsize=1)
def siim_rle() -> pd.DataFrame:
    return siim.read_rle_table(pm.path_of(pm.SIIM_RLE))
