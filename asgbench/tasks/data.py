"""A task's data: index rows, targets and patients of each split list, and the image store behind them.

Everything a protocol needs is resolved here once, from the dataset root and the split lists, so that the
protocols themselves never know a file layout or a label convention.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.config import dataset_root
from asgbench.data.datasets import read_index
from asgbench.data.datasets.covidx import VOCABULARY_A, VOCABULARY_B
from asgbench.data.images import CANONICAL_SIZE, Letterbox
from asgbench.data.index import DatasetIndex
from asgbench.data.masks import boxes_to_mask, rle_union
from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL, SplitSelection, load_split, read_manifest, select_rows
from asgbench.data.store import ImageStore, build_store
from asgbench.errors import DataLayoutError
from asgbench.tasks.specs import TaskSpec

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitData:
    """One split list: the ids in list order, their patients and targets."""

    selection: SplitSelection
    rows: pd.DataFrame
    targets: np.ndarray               # N x L floats in {0, 1}; multiclass: N class indices

    @property
    def image_ids(self) -> list[str]:
        return self.rows["image_id"].tolist()

    @property
    def patients(self) -> list[str]:
        return self.rows["patient_id"].astype(str).tolist()

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class TaskData:
    task: TaskSpec                     # labels/multiclass already adapted to the download (COVIDx B files)
    root: Path
    index: DatasetIndex
    splits: dict[str, SplitData]       # train (the requested fraction and draw), val, test
    full_train: SplitSelection         # the 100 % training list: what the feature cache covers
    store: ImageStore

    def split_hashes(self) -> dict[str, dict[str, str]]:
        return {name: {"list": s.selection.name, "sha256": s.selection.sha256} for name, s in self.splits.items()}

    def masks(self, split: str) -> np.ndarray:
        """Binary masks (N x S x S uint8) of a split in the store's letterboxed frame."""
        return build_masks(self.splits[split].rows, self.task, self.store)


def adapt_to_download(task: TaskSpec, index: DatasetIndex) -> TaskSpec:
    """COVIDx B-style label files (negative/positive) turn the 3-class task into its binary variant."""
    if task.dataset != "covidx":
        return task
    frame = index.frame
    if frame[list(VOCABULARY_A)].notna().any().any():
        return task
    if frame[list(VOCABULARY_B)].notna().any().any():
        return replace(task, labels=("positive",), multiclass=False, extra_metrics=("auc",),
                       description="COVIDx binary (B files: negative/positive), accuracy at 0.5")
    raise DataLayoutError(f"{index.root}: COVIDx labels are neither {'/'.join(VOCABULARY_A)} nor {'/'.join(VOCABULARY_B)}")


def targets_of(rows: pd.DataFrame, task: TaskSpec) -> np.ndarray:
    """Label columns as the task defines them: blanks 0, uncertain (-1) mapped per the task, argmax if multiclass."""
    missing = [label for label in task.labels if label not in rows.columns]
    if missing:
        raise DataLayoutError(f"{task.dataset} index has no label column(s) {missing}")
    values = rows[list(task.labels)].to_numpy(dtype=np.float64, copy=True)
    for j, label in enumerate(task.labels):
        values[:, j] = np.where(values[:, j] == -1, 1.0 if label in task.uncertain_ones else 0.0, values[:, j])
    values = np.nan_to_num(values, nan=0.0)
    if task.multiclass:
        if not np.all(values.sum(axis=1) == 1):
            bad = rows["image_id"].iloc[int(np.argmax(values.sum(axis=1) != 1))]
            raise DataLayoutError(f"{task.dataset}: image {bad} does not have exactly one of {task.labels}")
        return values.argmax(axis=1)
    return values


def build_masks(rows: pd.DataFrame, task: TaskSpec, store: ImageStore) -> np.ndarray:
    """Masks in the store's frame: SIIM RLE rows united, RSNA boxes filled (after the letterbox mapping)."""
    size = store.size
    masks = np.zeros((len(rows), size, size), dtype=np.uint8)
    for i, row in enumerate(rows.itertuples(index=False)):
        box: Letterbox = store.letterbox_of(row.image_id)
        if task.mask_source == "rle":
            rles = [r for r in (row.rle if isinstance(row.rle, (list, tuple)) else []) if r and r.strip() != "-1"]
            if rles:
                full = rle_union(rles, (box.original_height, box.original_width))
                masks[i] = (box.apply(full.astype(np.float32)) >= 0.5).astype(np.uint8)
        elif task.mask_source == "boxes":
            boxes = row.boxes if isinstance(row.boxes, (list, tuple, np.ndarray)) and len(row.boxes) else []
            if len(boxes):
                masks[i] = boxes_to_mask(box.apply_to_boxes(np.asarray(boxes)), (size, size))
        else:
            raise DataLayoutError(f"task {task.name} has no mask source")
    return masks


def task_lists(task: TaskSpec, split_protocol: str, fraction: int, draw: int, root: Path) -> dict[str, SplitSelection]:
    """The train (at ``fraction`` / ``draw``), val and test lists of ``task``: its own prefixed lists where the
    split protocol has them (RSNA segmentation's ``seg_*`` under mgca), else the dataset's."""
    _, manifest = read_manifest(task.dataset, split_protocol, data_root=root)
    prefix = task.list_prefix if any(name.startswith(f"{task.list_prefix}_") for name in manifest.lists) else ""
    return {
        "train": load_split(task.dataset, split_protocol, "train", fraction, draw, prefix, data_root=root),
        "val": load_split(task.dataset, split_protocol, "val", 100, 0, prefix, data_root=root),
        "test": load_split(task.dataset, split_protocol, "test", 100, 0, prefix, data_root=root),
    }


def load_task_data(task: TaskSpec, *, fraction: int = 100, draw: int = 0, split_protocol: str = DEFAULT_SPLIT_PROTOCOL,
                   data_root: str | Path | None = None, cache_dir: Path | None = None,
                   progress: Callable[[int], None] | None = None, store_size: int = CANONICAL_SIZE) -> TaskData:
    """Read the index, the three lists and the image store for one task run; ``store_size`` is the side of the
    letterboxed store the encoder's transform reads (``InputSpec.store``), decoded from the original files."""
    root = dataset_root(task.dataset, data_root)
    index = read_index(task.dataset, root)
    task = adapt_to_download(task, index)
    selections = task_lists(task, split_protocol, fraction, draw, root)
    full_train = selections["train"] if fraction == 100 else task_lists(task, split_protocol, 100, 0, root)["train"]
    splits = {}
    for name, selection in selections.items():
        rows = select_rows(index, selection)
        splits[name] = SplitData(selection, rows, targets_of(rows, task))
    wanted = list(dict.fromkeys([*full_train.ids, *selections["val"].ids, *selections["test"].ids]))
    store = build_store(index, wanted, size=store_size, cache_dir=(cache_dir / "stores") if cache_dir else None,
                        progress=progress)
    return TaskData(task, root, index, splits, full_train, store)
