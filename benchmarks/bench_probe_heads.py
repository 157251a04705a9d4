"""Benchmark: the linear probe's (learning rate x weight decay) grid trained at once vs. one head at a time.

The protocol picks its head from a grid of 6 (2 learning rates x 3 weight decays), each trained with AdamW
for up to 200 epochs with early stopping on val. A linear head's step costs microseconds of arithmetic and
far more in per-operation overhead, so asgbench trains the whole grid in one batched step (closed-form
gradient, AdamW written out per head); the obvious alternative is ``nn.Linear`` + ``torch.optim.AdamW``
per head, one after the other. Both start from the same seeded init and batch order, so every head must
stop at the same epoch with the same val metric; the wall-time ratio is the point.
Run: ``python benchmarks/bench_probe_heads.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from torch import nn

from asgbench.encoders import create_encoder
from asgbench.tasks import metrics as m
from asgbench.tasks.data import load_task_data
from asgbench.tasks.features import cached_features
from asgbench.tasks.linear_probe import fit_heads
from asgbench.tasks.protocols import LinearProbeProtocol
from asgbench.tasks.specs import TASKS


def one_head_at_a_time(x_train, y_train, x_val, y_val, *, multiclass: bool, grid, spec: LinearProbeProtocol,
                       seed: int) -> list[tuple[int, int, float]]:
    """nn.Linear + torch.optim.AdamW per grid point; (best epoch, epochs run, best val metric) of each."""
    out = []
    for learning_rate, weight_decay in grid:
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        head = nn.Linear(x_train.shape[1], y_val.shape[1] if not multiclass else int(y_train.max()) + 1)
        optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
        loss_fn = nn.CrossEntropyLoss() if multiclass else nn.BCEWithLogitsLoss()
        best, stale, epoch = (0, -1.0), 0, 0
        for epoch in range(1, spec.max_epochs + 1):
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(x_train), spec.batch_size):
                batch = order[start : start + spec.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(head(x_train[batch]), y_train[batch]).backward()
                optimizer.step()
            with torch.no_grad():
                logits = head(x_val).numpy()
            metric = m.accuracy(y_val.numpy(), logits.argmax(1)) if multiclass else m.macro_auc(y_val.numpy(), logits)
            if metric > best[1]:
                best, stale = (epoch, metric), 0
            else:
                stale += 1
                if stale >= spec.patience:
                    break
        out.append((best[0], epoch, best[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--model", default="random-r18")
    parser.add_argument("--checkpoint", default=None, help="the model's weights (e.g. the demo's asg-random)")
    parser.add_argument("--task", default="nih-lp")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path, default=Path(".asgbench/bench-cache"),
                        help="the feature cache (features are extracted once, before any timing)")
    args = parser.parse_args()
    task = TASKS.get(args.task)
    spec = LinearProbeProtocol()
    grid = [(lr, wd) for lr in spec.learning_rates for wd in spec.weight_decays]
    encoder = create_encoder(args.model, args.checkpoint, seed=0)
    threads = torch.get_num_threads()
    rows, totals, mismatches = [], {"at once": 0.0, "one at a time": 0.0}, 0
    for fraction in (1, 10, 100):
        data = load_task_data(task, fraction=fraction, data_root=args.suite, cache_dir=args.cache_dir)
        cover = [i for i in dict.fromkeys([*data.full_train.ids, *data.splits["val"].image_ids, *data.splits["test"].image_ids])
                 if i in data.store.positions]
        torch.set_num_threads(threads)
        features = cached_features(encoder, data.store, cover, args.cache_dir / "features")
        torch.set_num_threads(1)                  # the heads as a sweep trial trains them: one CPU each
        x = {name: features.take(split.image_ids) for name, split in data.splits.items()}
        mean, std = x["train"].mean(0), x["train"].std(0) + 1e-6
        x = {name: torch.from_numpy(np.ascontiguousarray((value - mean) / std, dtype=np.float32)) for name, value in x.items()}
        dtype = torch.long if task.multiclass else torch.float32
        y = {name: torch.as_tensor(split.targets, dtype=dtype) for name, split in data.splits.items()}
        for seed in range(args.seeds):
            started = time.perf_counter()
            fits = fit_heads(x["train"], y["train"], x["val"], y["val"], outputs=len(task.labels), multiclass=task.multiclass,
                             grid=grid, spec=spec, seed=seed)
            at_once = time.perf_counter() - started
            started = time.perf_counter()
            reference = one_head_at_a_time(x["train"], y["train"], x["val"], y["val"], multiclass=task.multiclass, grid=grid,
                                           spec=spec, seed=seed)
            one_by_one = time.perf_counter() - started
            totals["at once"] += at_once
            totals["one at a time"] += one_by_one
            same = [(f.best_epoch, f.epochs_run) == r[:2] and abs(f.val_metric - r[2]) < 1e-6 for f, r in zip(fits, reference)]
            mismatches += same.count(False)
            rows.append([f"{fraction} %", seed, len(y["train"]), f"{one_by_one:.2f}", f"{at_once:.2f}", f"{one_by_one / at_once:.1f}x",
                         f"{sum(same)}/{len(grid)}"])
    print(f"{args.model} features ({encoder.feature_dim}-d) on {args.task}: the 6-head grid of the linear-probe protocol, one CPU thread")
    print(tabulate(rows, headers=["labels", "seed", "train images", "one at a time s", "at once s", "ratio",
                                  "heads identical"], tablefmt="github"))
    print(f"in all: {totals['one at a time']:.1f} s one at a time vs {totals['at once']:.1f} s at once, "
          f"{totals['one at a time'] / totals['at once']:.1f}x; {mismatches} head(s) stopped differently")


if __name__ == "__main__":
    main()
