"""Linear probing on cached features: one forward pass, then a grid of cheap linear heads.

The encoder is frozen and its global features come from the feature cache. A linear head is trained per
(learning rate, weight decay) of the protocol's fixed grid with early stopping on val; the best on val is
kept and the test split is scored once, with that head only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from asgbench.encoders.model import Encoder
from asgbench.progress import Progress, running_total
from asgbench.tasks import metrics as m
from asgbench.tasks.data import TaskData
from asgbench.tasks.features import cached_features
from asgbench.tasks.protocols import LinearProbeProtocol
from asgbench.tasks.scoring import Outcome, best_f1_threshold, predictions_table, score_classification


@dataclass
class HeadFit:
    learning_rate: float
    weight_decay: float
    best_epoch: int
    epochs_run: int
    val_loss: float
    val_metric: float
    state: dict


def _val_metric(targets: np.ndarray, scores: np.ndarray, multiclass: bool) -> float:
    if multiclass:
        return m.accuracy(targets, scores.argmax(1))
    value = m.macro_auc(targets, scores)
    return value if np.isfinite(value) else 0.0


def _probabilities(logits: torch.Tensor, multiclass: bool) -> np.ndarray:
    return (logits.softmax(1) if multiclass else logits.sigmoid()).numpy()


def fit_head(x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
             outputs: int, multiclass: bool, learning_rate: float, weight_decay: float, spec: LinearProbeProtocol,
             seed: int) -> HeadFit:
    """Train one linear head with AdamW; keep the epoch that is best on val (metric or loss)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(x_train.shape[1], outputs)
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss() if multiclass else nn.BCEWithLogitsLoss()
    val_targets = y_val.numpy()
    best: HeadFit | None = None
    stale = 0
    n = len(x_train)
    epoch = 0
    for epoch in range(1, spec.max_epochs + 1):
        head.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, spec.batch_size):
            batch = order[start : start + spec.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(head(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            logits = head(x_val)
            val_loss = float(loss_fn(logits, y_val))
        val_metric = _val_metric(val_targets, _probabilities(logits, multiclass), multiclass)
        better = best is None or (val_loss < best.val_loss if spec.select_on == "loss" else val_metric > best.val_metric)
        if better:
            state = {k: v.clone() for k, v in head.state_dict().items()}
            best = HeadFit(learning_rate, weight_decay, epoch, epoch, val_loss, val_metric, state)
            stale = 0
        else:
            stale += 1
            if stale >= spec.patience:
                break
    assert best is not None
    best.epochs_run = epoch
    return best


def run_linear_probe(encoder: Encoder, data: TaskData, spec: LinearProbeProtocol, *, seed: int, device: str,
                     cache_root: Path, rebuild_cache: bool = False, progress: Progress | None = None) -> Outcome:
    task = data.task
    timings: dict[str, float] = {}
    cover = list(dict.fromkeys([*data.full_train.ids, *data.splits["val"].image_ids, *data.splits["test"].image_ids]))
    cover = [i for i in cover if i in data.store.positions]
    cache = cached_features(encoder, data.store, cover, cache_root, device=device, rebuild=rebuild_cache,
                            progress=running_total(progress, "features", len(cover)))
    timings["features_s"] = cache.seconds

    started = time.perf_counter()
    x = {name: np.asarray(cache.take(split.image_ids), dtype=np.float32) for name, split in data.splits.items()}
    if spec.standardize:
        mean, std = x["train"].mean(0), x["train"].std(0) + 1e-6
        x = {name: (value - mean) / std for name, value in x.items()}
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in x.items()}
    dtype = torch.long if task.multiclass else torch.float32
    y = {name: torch.as_tensor(split.targets, dtype=dtype) for name, split in data.splits.items()}
    outputs = len(task.labels)
    grid = [(lr, wd) for lr in spec.learning_rates for wd in spec.weight_decays]
    fits = []
    for done, (lr, wd) in enumerate(grid):
        fits.append(fit_head(tensors["train"], y["train"], tensors["val"], y["val"], outputs=outputs, multiclass=task.multiclass,
                             learning_rate=lr, weight_decay=wd, spec=spec, seed=seed))
        if progress:
            progress("heads", done + 1, len(grid))
    chosen = min(fits, key=lambda f: f.val_loss) if spec.select_on == "loss" else max(fits, key=lambda f: f.val_metric)
    head = nn.Linear(tensors["train"].shape[1], outputs)
    head.load_state_dict(chosen.state)
    head.eval()
    with torch.no_grad():
        val_scores = _probabilities(head(tensors["val"]), task.multiclass)
        test_scores = _probabilities(head(tensors["test"]), task.multiclass)
    timings["heads_s"] = time.perf_counter() - started

    thresholds = None
    if not task.multiclass:
        thresholds = np.array([best_f1_threshold(data.splits["val"].targets[:, j], val_scores[:, j]) for j in range(outputs)])
    test = data.splits["test"]
    metrics, per_class = score_classification(task, test.targets, test_scores, test.patients, thresholds=thresholds, seed=seed)
    return Outcome(
        metrics=metrics, per_class=per_class,
        predictions=predictions_table(test.image_ids, test.patients, task.labels, test.targets, test_scores, task.multiclass),
        selection={"learning_rate": chosen.learning_rate, "weight_decay": chosen.weight_decay, "best_epoch": chosen.best_epoch,
                   "epochs_run": chosen.epochs_run, "val_loss": chosen.val_loss, "val_metric": chosen.val_metric,
                   "grid": [{"learning_rate": f.learning_rate, "weight_decay": f.weight_decay, "val_metric": f.val_metric,
                             "val_loss": f.val_loss, "best_epoch": f.best_epoch} for f in fits]},
        timings=timings,
        extra={"headline": task.metric, "feature_cache": {"key": cache.key, "hit": cache.hit}},
    )

