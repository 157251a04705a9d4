"""Benchmark: is the synthetic suite learnable, and only with learned visual features?

For each downstream dataset of a suite (asgbench-v1 lists, full training list), it scores on the test list
(a) logistic regression on 32x32 downsampled raw pixels (C chosen on val) and
(b) a small CNN trained from scratch with the labels at 128x128 (early stopping on val).
The suite is right when (b) is clearly learnable and (a) stays well below it: the tasks need learned
visual features, which is what pre-training should provide.

Run: ``python benchmarks/bench_learnability.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tabulate import tabulate
from torch import nn

from asgbench.data.datasets import read_index
from asgbench.data.datasets.chexpert import COMPETITION_TASKS
from asgbench.data.datasets.nih import NIH_FINDINGS
from asgbench.data.splits import load_split, select_rows
from asgbench.data.store import build_store

UNCERTAIN_ONES = {"Atelectasis", "Edema", "Pleural Effusion"}  # CheXpert's published uncertainty mapping


@dataclass(frozen=True)
class Task:
    dataset: str
    labels: tuple[str, ...]
    multiclass: bool = False


TASKS = {
    "rsna": Task("rsna", ("Pneumonia",)),
    "siim": Task("siim", ("Pneumothorax",)),
    "nih": Task("nih", NIH_FINDINGS),
    "chexpert": Task("chexpert", COMPETITION_TASKS),
    "covidx": Task("covidx", ("normal", "pneumonia", "COVID-19"), multiclass=True),
}


def targets(rows, task: Task) -> np.ndarray:
    values = rows[list(task.labels)].to_numpy(dtype=np.float64)
    if task.dataset == "chexpert":
        for j, label in enumerate(task.labels):
            values[:, j] = np.where(values[:, j] == -1, 1.0 if label in UNCERTAIN_ONES else 0.0, values[:, j])
    values = np.nan_to_num(values, nan=0.0)
    return values.argmax(axis=1) if task.multiclass else values


def macro_auc(y: np.ndarray, scores: np.ndarray, task: Task, min_positives: int) -> float:
    if task.multiclass:
        y = np.eye(len(task.labels))[y]
    aucs = [roc_auc_score(y[:, j], scores[:, j]) for j in range(y.shape[1]) if min_positives <= y[:, j].sum() < len(y)]
    return float(np.mean(aucs)) if aucs else float("nan")


def downsample(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BOX)) for im in images])


def logistic_baseline(x: dict, y: dict, task: Task, min_pos: int) -> float:
    flat = {k: downsample(v, 32).reshape(len(v), -1).astype(np.float64) / 255 for k, v in x.items()}
    mean, std = flat["train"].mean(0), flat["train"].std(0) + 1e-6
    flat = {k: (v - mean) / std for k, v in flat.items()}

    def fit(c: float):
        if task.multiclass:
            model = LogisticRegression(C=c, max_iter=2000).fit(flat["train"], y["train"])
            return lambda data: model.predict_proba(data)
        models = [LogisticRegression(C=c, max_iter=2000).fit(flat["train"], y["train"][:, j]) if 0 < y["train"][:, j].sum() < len(y["train"]) else None
                  for j in range(y["train"].shape[1])]
        return lambda data: np.column_stack([m.predict_proba(data)[:, 1] if m else np.zeros(len(data)) for m in models])

    best = max((macro_auc(y["val"], fit(c)(flat["val"]), task, 1), c) for c in (1e-4, 1e-3, 1e-2, 1e-1))
    return macro_auc(y["test"], fit(best[1])(flat["test"]), task, min_pos)


class SmallCNN(nn.Module):
    def __init__(self, outputs: int) -> None:
        super().__init__()
        layers, channels = [], 1
        for width in (16, 32, 48, 64, 96):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def cnn_baseline(x: dict, y: dict, task: Task, min_pos: int, epochs: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = {k: torch.from_numpy(downsample(v, 128)).float().div(255).sub(0.5).div(0.25)[:, None] for k, v in x.items()}
    target = {k: torch.from_numpy(v).long() if task.multiclass else torch.from_numpy(v).float() for k, v in y.items()}
    outputs = len(task.labels)
    model = SmallCNN(outputs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss() if task.multiclass else nn.BCEWithLogitsLoss()

    def predict(images: torch.Tensor) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(images[i : i + 128]) for i in range(0, len(images), 128)])
        return (logits.softmax(1) if task.multiclass else logits.sigmoid()).numpy()

    best, best_state, patience = -1.0, None, 0
    n = len(data["train"])
    for _ in range(epochs):
        model.train()
        order = rng.permutation(n)
        for start in range(0, n, 32):
            index = torch.from_numpy(order[start : start + 32])
            images = data["train"][index]
            shift = rng.integers(-8, 9, 2)
            images = torch.roll(images, shifts=(int(shift[0]), int(shift[1])), dims=(2, 3))
            optimizer.zero_grad()
            loss_fn(model(images), target["train"][index]).backward()
            optimizer.step()
        score = macro_auc(y["val"], predict(data["val"]), task, 1)
        if score > best:
            best, best_state, patience = score, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            patience += 1
            if patience >= 5:
                break
    model.load_state_dict(best_state)
    return macro_auc(y["test"], predict(data["test"]), task, min_pos)


def evaluate(suite: Path, name: str, epochs: int, min_pos: int, cache: Path) -> list[object]:
    task = TASKS[name]
    root = suite / task.dataset
    index = read_index(task.dataset, root)
    rows = {split: select_rows(index, load_split(task.dataset, "asgbench-v1", split, data_root=root)) for split in ("train", "val", "test")}
    ids = [i for r in rows.values() for i in r["image_id"]]
    store = build_store(index, sorted(set(ids)), cache_dir=cache)
    x = {k: store.batch(r["image_id"].tolist()) for k, r in rows.items()}
    y = {k: targets(r, task) for k, r in rows.items()}
    start = time.perf_counter()
    lr_auc = logistic_baseline(x, y, task, min_pos)
    cnn_auc = cnn_baseline(x, y, task, min_pos, epochs)
    counted = [l for j, l in enumerate(task.labels) if (np.eye(len(task.labels))[y["test"]] if task.multiclass else y["test"])[:, j].sum() >= min_pos]
    return [name, len(rows["train"]), len(rows["test"]), len(counted), f"{lr_auc:.3f}", f"{cnn_auc:.3f}", f"{cnn_auc - lr_auc:+.3f}",
            f"{time.perf_counter() - start:.0f} s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--tasks", default="rsna,siim,nih,chexpert,covidx")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--min-test-positives", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=Path(".asgbench/cache"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = [evaluate(args.suite, name, args.epochs, args.min_test_positives, args.cache) for name in args.tasks.split(",")]
    print(tabulate(rows, headers=["task", "train", "test", "classes scored", "(a) pixels + logistic AUC", "(b) small CNN AUC",
                                  "(b) - (a)", "time"], tablefmt="github"))


if __name__ == "__main__":
    main()
