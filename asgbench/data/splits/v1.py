"""The ``asgbench-v1`` protocol: the harness default, clean for every dataset.

- Patient-disjoint train / val / test, stratified by the task labels (iterative stratification).
- An official test set is kept where one exists and is usable: CheXpert's valid.csv (frontal), COVIDx's
  test list (and CXR-4's val list as val), MIMIC's split CSV. NIH's official lists and SIIM's stage-1
  test membership are not public metadata, so their v1 test sets are drawn (patient-disjoint for NIH;
  per image for SIIM, whose label file carries no patient ids) and can be committed and verified.
- Nested training fractions 1 % ⊂ 10 % ⊂ 100 %, three seeded draws of each, stratified; every draw holds
  at least one positive image of each label that has positives in train.
- Only frontal images (PA/AP) enter any list.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from asgbench.data.datasets.chexpert import COMPETITION_TASKS
from asgbench.data.datasets.mimic import MIMIC_LABELS
from asgbench.data.datasets.nih import NIH_FINDINGS
from asgbench.data.splits.protocol import SplitProtocol, SplitSet, list_name
from asgbench.data.splits.sources import SourceIndex
from asgbench.data.splits.stratify import PatientTable, nested_fraction, stratified_partition
from asgbench.errors import ConfigError

SEED = 20240
DRAWS = 3
TEST_SHARE, VAL_SHARE = 0.15, 0.15
VAL_SHARE_WITH_OFFICIAL_TEST = 0.1
LABELS = {
    "nih": NIH_FINDINGS,
    "chexpert": COMPETITION_TASKS,
    "rsna": ("Pneumonia",),
    "siim": ("Pneumothorax",),
    "mimic": MIMIC_LABELS,
}


class V1Protocol(SplitProtocol):
    name = "asgbench-v1"
    version = "1"
    summary = "patient-disjoint, label-stratified, nested 1% ⊂ 10% ⊂ 100% with 3 seeded draws; official test kept where usable"
    draws = DRAWS

    def datasets(self) -> tuple[str, ...]:
        return ("chexpert", "rsna", "siim", "covidx", "nih", "mimic")

    def build(self, dataset: str, source: SourceIndex) -> SplitSet:
        if dataset not in self.datasets():
            raise ConfigError(f"protocol asgbench-v1 has no rule for {dataset!r}")
        frame = source.index.frame
        frame = frame[frame["frontal"]]
        labels = LABELS.get(dataset, source.index.labels)
        rng = np.random.default_rng([SEED, sum(map(ord, dataset))])
        notes: list[str] = []
        needs: dict[str, str] = {}
        lists: dict[str, list[str]] = {}

        official_test = {"chexpert": "val", "covidx": "test", "mimic": "test"}.get(dataset)
        if official_test:
            test_rows = frame[frame["official_split"] == official_test]
            if len(test_rows):
                lists["test"] = sorted(test_rows["image_id"])
                notes.append(f"test = the official {'valid.csv' if dataset == 'chexpert' else official_test + ' list'} (frontal)")
            else:
                needs["test"] = f"the official {dataset} test set, which is not public metadata"
            test_patients = set(test_rows["patient_id"])
            pool = frame[(frame["official_split"] != official_test) | frame["official_split"].isna()]
            dropped = pool["patient_id"].isin(test_patients)
            if dropped.any():
                notes.append(f"{int(dropped.sum())} train images of patients in the official test set were left out")
            pool = pool[~dropped]
            official_val = frame[frame["official_split"] == "val"] if dataset in ("covidx", "mimic") else frame.iloc[0:0]
            if len(official_val):
                lists["val"] = sorted(official_val["image_id"])
                train_rows = pool[pool["official_split"] != "val"]
                notes.append("val = the official validation list")
            else:
                table = PatientTable.from_frame(pool, labels)
                groups = stratified_partition(table, [1 - VAL_SHARE_WITH_OFFICIAL_TEST, VAL_SHARE_WITH_OFFICIAL_TEST], rng)
                lists["val"] = table.ids_of(groups == 1)
                train_rows = pool[pool["image_id"].isin(set(table.ids_of(groups == 0)))]
        else:
            table = PatientTable.from_frame(frame, labels)
            groups = stratified_partition(table, [1 - TEST_SHARE - VAL_SHARE, VAL_SHARE, TEST_SHARE], rng)
            lists["val"] = table.ids_of(groups == 1)
            lists["test"] = table.ids_of(groups == 2)
            train_rows = frame[frame["image_id"].isin(set(table.ids_of(groups == 0)))]
            if dataset == "siim" and source.origin == "public":
                notes.append("SIIM's public label file has no patient ids and mixes stage-1 train and test: images are split per image")

        table = PatientTable.from_frame(train_rows, labels)
        everyone = np.ones(len(table.patients), bool)
        lists["train"] = table.ids_of(everyone)
        if dataset != "mimic":
            for draw in range(DRAWS):
                draw_rng = np.random.default_rng([SEED, sum(map(ord, dataset)), draw])
                ten = nested_fraction(table, everyone, 0.10, draw_rng)
                one = nested_fraction(table, ten, 0.10, draw_rng)
                lists[list_name("train", 10, draw)] = table.ids_of(ten)
                lists[list_name("train", 1, draw)] = table.ids_of(one)
        return SplitSet(lists, tuple(labels), needs, notes)


def label_balance(frame: pd.DataFrame, lists: dict[str, list[str]], labels) -> pd.DataFrame:
    """Positive rate per label and list (what the stratification tolerance is checked on)."""
    indexed = frame.set_index("image_id")
    return pd.DataFrame({name: (indexed.loc[ids, list(labels)] == 1).mean() for name, ids in lists.items() if ids})


PROTOCOL = V1Protocol()
