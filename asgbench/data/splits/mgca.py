"""The ``mgca`` protocol: the published MGCA/ASG split recipes, reproduced as the code runs them.

Quirks are kept on purpose, because they define the published numbers:

- CheXpert: 5x200 rows removed first; 5,000 validation rows drawn by *position* with NumPy's global
  RNG (seed 0) but dropped from train by *index label*, so about 4,907 of them stay in train; frontal
  images only; the official valid.csv (frontal) is the test set.
- RSNA: patients (sorted by id) split 70/15/15 with scikit-learn (random_state 0; the first half of the
  30 % is test); segmentation uses a separate 16,010/5,337/5,337 split.
- SIIM: the *rows* of train-rle.csv are split 70/15/15, so an image with several masks can land in two
  splits; the segmentation train set keeps every positive image and as many negative images (NumPy seed
  42), as MGCA's dataset class does. (MGCA's class compares ``!= "-1"`` against space-prefixed values,
  which would make every row positive; the intended rule is applied here.)
- COVIDx: 80/20 of the 9A train list (random_state 0, not stratified), the test list as test.
- NIH (the ASG README follows KAD): the official test_list.txt as test and 10 % of train_val_list.txt
  as validation; KAD's draw is not public, so asgbench draws it with NumPy seed 0.
- Train fractions: ``DataFrame.sample(frac, random_state=42)`` (RSNA/SIIM segmentation: NumPy choice
  with seed 42), one draw each. On a dataset smaller than the real release (the synthetic suite), the
  fixed counts (5x200, 5,000, 5,337) are scaled by size.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from asgbench.data.datasets.chexpert import CHEXPERT_LABELS, COMPETITION_TASKS
from asgbench.data.datasets.nih import NIH_FINDINGS
from asgbench.data.splits.protocol import SplitProtocol, SplitSet, list_name
from asgbench.data.splits.sources import SourceIndex
from asgbench.errors import ConfigError, DataLayoutError

CHEXPERT_TRAIN_ROWS = 223414
CHEXPERT_VALID_ROWS = 5000
CHEXPERT_5X200 = 200
RSNA_PATIENTS = 26684
RSNA_SEG_EVAL = 5337
FRACTIONS = (1, 10)


def _scaled(count: int, real_total: int, total: int) -> int:
    return count if total >= real_total else max(1, round(count * total / real_total))


def _frac_sample(ids: list[str], fraction: int) -> list[str]:
    return pd.Series(ids).sample(frac=fraction / 100, random_state=42).tolist()


def _choice_sample(ids: list[str], fraction: int) -> list[str]:
    rng = np.random.RandomState(42)
    picked = rng.choice(len(ids), int(fraction / 100 * len(ids)), replace=False)
    return [ids[i] for i in picked]


class MGCAProtocol(SplitProtocol):
    name = "mgca"
    version = "1"
    summary = "the published MGCA/ASG recipes with their quirks (KAD's split for NIH); one draw per fraction"
    draws = 1

    def datasets(self) -> tuple[str, ...]:
        return ("chexpert", "rsna", "siim", "covidx", "nih")

    def build(self, dataset: str, source: SourceIndex) -> SplitSet:
        builders = {"chexpert": self._chexpert, "rsna": self._rsna, "siim": self._siim, "covidx": self._covidx, "nih": self._nih}
        if dataset not in builders:
            raise ConfigError(f"protocol mgca has no recipe for {dataset!r} (it covers {', '.join(builders)})")
        return builders[dataset](source)

    # -- CheXpert -----------------------------------------------------------------------------------
    def _chexpert(self, source: SourceIndex) -> SplitSet:
        frame = source.index.frame
        train = frame[frame["official_split"] == "train"]
        if not train.index.equals(pd.RangeIndex(len(train))):
            raise DataLayoutError("CheXpert index rows are not in train.csv order")
        filled = train.fillna({label: 0 for label in CHEXPERT_LABELS})
        filled = filled[filled["frontal"]]
        others = [l for l in CHEXPERT_LABELS if l not in COMPETITION_TASKS and l != "No Finding"]
        per_task = _scaled(CHEXPERT_5X200, CHEXPERT_TRAIN_ROWS, len(train))
        picks = []
        for task in COMPETITION_TASKS:
            rows = filled[(filled[task] == 1) & (filled[[t for t in COMPETITION_TASKS if t != task]] == 0).all(axis=1)
                          & (filled[others] == 0).all(axis=1)]
            picks.append(rows.sample(n=min(per_task, len(rows)), random_state=0))
        five_by_200 = pd.concat(picks)
        remaining = train[~train["image_id"].isin(set(five_by_200["image_id"]))]
        n_valid = _scaled(CHEXPERT_VALID_ROWS, CHEXPERT_TRAIN_ROWS, len(train))
        valid_positions = np.random.RandomState(0).choice(len(remaining), size=n_valid, replace=False)
        valid = remaining.iloc[valid_positions]
        kept = remaining.drop(valid_positions, errors="ignore")  # index labels, as the recipe does
        train_ids = kept.loc[kept["frontal"], "image_id"].tolist()
        lists = {
            "train": train_ids,
            "val": valid.loc[valid["frontal"], "image_id"].tolist(),
            "5x200": five_by_200["image_id"].tolist(),
        }
        for fraction in FRACTIONS:
            lists[list_name("train", fraction)] = _frac_sample(train_ids, fraction)
        needs = {}
        test = frame[(frame["official_split"] == "val") & frame["frontal"]]
        if len(test):
            lists["test"] = test["image_id"].tolist()
        else:
            needs["test"] = "the frontal rows of CheXpert's valid.csv, which is not public metadata"
        overlap = len(set(lists["val"]) & set(train_ids))
        return SplitSet(lists, COMPETITION_TASKS, needs, [
            f"{overlap} of the {len(lists['val'])} frontal validation images are also in train (the recipe drops by index label)",
            "5x200: 200 frontal train images per competition task with that task as the only positive (zero-shot set)",
        ])

    # -- RSNA ---------------------------------------------------------------------------------------
    def _rsna(self, source: SourceIndex) -> SplitSet:
        patients = sorted(source.index.frame["image_id"])
        lists: dict[str, list[str]] = {}
        for prefix, test_size in (("", 0.3), ("seg", _scaled(2 * RSNA_SEG_EVAL, RSNA_PATIENTS, len(patients)))):
            train, rest = train_test_split(patients, test_size=test_size, random_state=0)
            test, valid = train_test_split(rest, test_size=0.5, random_state=0)
            lists[list_name("train", prefix=prefix)] = train
            lists[list_name("val", prefix=prefix)] = valid
            lists[list_name("test", prefix=prefix)] = test
            sampler = _choice_sample if prefix == "seg" else _frac_sample
            for fraction in FRACTIONS:
                lists[list_name("train", fraction, prefix=prefix)] = sampler(train, fraction)
        return SplitSet(lists, ("Pneumonia",), {}, [
            "classification lists: train/val/test; segmentation lists: seg_train/seg_val/seg_test",
        ])

    # -- SIIM ---------------------------------------------------------------------------------------
    def _siim(self, source: SourceIndex) -> SplitSet:
        from asgbench.data.datasets.siim import read_rle_table

        index = source.index
        if "rle" not in index.frame:
            raise ConfigError("protocol mgca splits the rows of SIIM's train-rle.csv; the PNG re-pack has none")
        rows = read_rle_table(index.sources[0].absolute_path)
        rows = rows[rows["ImageId"].isin(set(index.frame["image_id"]))].reset_index(drop=True)
        train, rest = train_test_split(rows, test_size=0.3, random_state=0)
        test, valid = train_test_split(rest, test_size=0.5, random_state=0)

        def balanced(fraction: int) -> list[str]:
            rng = np.random.RandomState(42)
            positive = train[train["EncodedPixels"] != "-1"]
            negative = train[train["EncodedPixels"] == "-1"]
            n_pos = positive["ImageId"].nunique()
            negative_ids = pd.unique(negative["ImageId"])
            chosen = rng.choice(negative_ids, size=min(n_pos, len(negative_ids)), replace=False)
            kept = pd.concat([positive, negative[negative["ImageId"].isin(set(chosen))]])
            ids = pd.unique(kept["ImageId"])
            if fraction == 100:
                return list(ids)
            return list(rng.choice(ids, size=int(len(ids) * fraction / 100), replace=False))

        lists = {"train": balanced(100), "val": list(pd.unique(valid["ImageId"])), "test": list(pd.unique(test["ImageId"]))}
        for fraction in FRACTIONS:
            lists[list_name("train", fraction)] = balanced(fraction)
        shared = len(set(pd.unique(train["ImageId"])) & set(lists["test"]))
        return SplitSet(lists, ("Pneumothorax",), {}, [
            f"rows split {len(train)}/{len(valid)}/{len(test)} (train/val/test); {shared} images have rows in both train and test",
            "train lists hold every positive image and as many negative images, as MGCA's segmentation dataset does",
        ])

    # -- COVIDx -------------------------------------------------------------------------------------
    def _covidx(self, source: SourceIndex) -> SplitSet:
        frame = source.index.frame
        train_rows = frame.loc[frame["official_split"] == "train", "image_id"].tolist()
        train, valid = train_test_split(train_rows, train_size=0.8, random_state=0)
        lists = {"train": train, "val": valid, "test": frame.loc[frame["official_split"] == "test", "image_id"].tolist()}
        for fraction in FRACTIONS:
            lists[list_name("train", fraction)] = _frac_sample(train, fraction)
        return SplitSet(lists, source.index.labels, {}, ["80/20 of the train list (not stratified, not by patient); test list as test"])

    # -- NIH ----------------------------------------------------------------------------------------
    def _nih(self, source: SourceIndex) -> SplitSet:
        frame = source.index.frame
        if not frame["official_split"].notna().any():
            raise DataLayoutError(
                f"{source.index.root}: the mgca protocol for NIH (KAD's split) needs train_val_list.txt and test_list.txt"
            )
        trainval = sorted(frame.loc[frame["official_split"] == "trainval", "image_id"])
        order = np.random.RandomState(0).permutation(len(trainval))
        n_valid = round(0.1 * len(trainval))
        valid = [trainval[i] for i in order[:n_valid]]
        train = [trainval[i] for i in order[n_valid:]]
        lists = {"train": train, "val": valid, "test": frame.loc[frame["official_split"] == "test", "image_id"].tolist()}
        for fraction in FRACTIONS:
            lists[list_name("train", fraction)] = _frac_sample(train, fraction)
        return SplitSet(lists, NIH_FINDINGS, {}, ["official test_list.txt as test; 10 % of train_val_list.txt (by image, NumPy seed 0) as validation"])


PROTOCOL = MGCAProtocol()
