"""Benchmark: the linear-probe grid with cached features vs. re-encoding the images every epoch.

The grid is 1 % / 10 % / 100 % x 3 seeds for one encoder and task, both ways with the same head recipe
(MGCA's: AdamW 5e-4, weight decay 1e-6, batch 48, raw features, early stopping on val loss):

* cached (asgbench): features of train/val/test extracted once into the feature cache, then every run
  trains its head on the cached arrays;
* re-encode (MGCA's finetuner): every training batch and every validation pass goes through the frozen
  encoder again, epoch after epoch, run after run.

Both see the same centre-cropped inputs, so their metrics should agree; the wall-time ratio is the point.
Run: ``python benchmarks/bench_linear_probe.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from torch import nn

from asgbench.encoders import create_encoder
from asgbench.tasks import metrics as m
from asgbench.tasks.data import load_task_data
from asgbench.tasks.linear_probe import run_linear_probe
from asgbench.tasks.protocols import LINEAR_PROBE, ProtocolJob, protocol_for
from asgbench.tasks.specs import TASKS


def encode(encoder, store, ids: list[str]) -> torch.Tensor:
    with torch.no_grad():
        return encoder(encoder.preprocess(torch.from_numpy(store.batch(ids))))


def reencode_probe(encoder, data, spec, seed: int) -> float:
    """MGCA's loop: the frozen encoder runs on every batch of every epoch; test encoded at the end."""
    task = data.task
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(encoder.feature_dim, len(task.labels))
    optimizer = torch.optim.AdamW(head.parameters(), lr=spec.learning_rates[0], weight_decay=spec.weight_decays[0])
    loss_fn = nn.CrossEntropyLoss() if task.multiclass else nn.BCEWithLogitsLoss()
    dtype = torch.long if task.multiclass else torch.float32
    train, val, test = data.splits["train"], data.splits["val"], data.splits["test"]
    y_train, y_val = torch.as_tensor(train.targets, dtype=dtype), torch.as_tensor(val.targets, dtype=dtype)
    best_loss, best_state, stale = float("inf"), None, 0
    for _ in range(spec.max_epochs):
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), spec.batch_size):
            batch = order[start : start + spec.batch_size]
            features = encode(encoder, data.store, [train.image_ids[i] for i in batch])
            optimizer.zero_grad(set_to_none=True)
            loss_fn(head(features), y_train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            val_features = torch.cat([encode(encoder, data.store, val.image_ids[i : i + 64]) for i in range(0, len(val), 64)])
            val_loss = float(loss_fn(head(val_features), y_val))
        if val_loss < best_loss:
            best_loss, best_state, stale = val_loss, {k: v.clone() for k, v in head.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= spec.patience:
                break
    head.load_state_dict(best_state)
    with torch.no_grad():
        test_features = torch.cat([encode(encoder, data.store, test.image_ids[i : i + 64]) for i in range(0, len(test), 64)])
        logits = head(test_features)
    if task.multiclass:
        return m.accuracy(test.targets, logits.argmax(1).numpy())
    return m.macro_auc(test.targets, logits.sigmoid().numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--model", default="random-r18")
    parser.add_argument("--task", default="rsna-lp")
    parser.add_argument("--epochs", type=int, default=5, help="max epochs per run, both ways (MGCA uses 50)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    task = TASKS.get(args.task)
    spec = replace(protocol_for(LINEAR_PROBE, "mgca-linear-probe"), max_epochs=args.epochs)
    encoder = create_encoder(args.model, seed=0)
    fractions = (1, 10, 100)
    datasets = {f: load_task_data(task, fraction=f, data_root=args.suite) for f in fractions}  # stores built before timing
    scores: dict[str, list[float]] = {"cached": [], "re-encode": []}
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        for fraction in fractions:
            for seed in range(args.seeds):
                job = ProtocolJob(seed=seed, device="cpu", cache_root=Path(cache))
                outcome = run_linear_probe(encoder, datasets[fraction], spec, job)
                scores["cached"].append(outcome.headline["value"])
        cached_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for fraction in fractions:
        for seed in range(args.seeds):
            scores["re-encode"].append(reencode_probe(encoder, datasets[fraction], spec, seed))
    reencode_seconds = time.perf_counter() - started
    runs = len(fractions) * args.seeds
    rows = [["cached features (asgbench)", f"{cached_seconds:.1f}", f"{np.mean(scores['cached']):.4f}"],
            ["re-encode every epoch (MGCA)", f"{reencode_seconds:.1f}", f"{np.mean(scores['re-encode']):.4f}"]]
    print(f"{args.model} on {args.task}: {runs} runs (1/10/100 % x {args.seeds} seeds), <= {args.epochs} epochs each, "
          f"train list {len(datasets[100].splits['train'])} images")
    print(tabulate(rows, headers=["way", "wall s", f"mean test {task.metric}"], tablefmt="github"))
    print(f"speed-up: {reencode_seconds / cached_seconds:.1f}x; largest per-run metric difference "
          f"{np.max(np.abs(np.subtract(scores['cached'], scores['re-encode']))):.4f}")


if __name__ == "__main__":
    main()
