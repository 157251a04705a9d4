"""Linear probing on cached features: one forward pass, then a grid of cheap linear heads.

The encoder is frozen and its global features come from the feature cache. A linear head is trained per
(learning rate, weight decay) of the protocol's fixed grid with early stopping on val; the best on val is
kept and the test split is scored once, with that head only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from asgbench.encoders.model import Encoder
from asgbench.progress import running_total
from asgbench.tasks import metrics as m
from asgbench.tasks.data import TaskData
from asgbench.tasks.features import cached_features
from asgbench.tasks.fingerprint import feature_fingerprint
from asgbench.tasks.protocols import LinearProbeProtocol, ProtocolJob
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


def _val_metrics(targets: np.ndarray, logits: np.ndarray, multiclass: bool) -> np.ndarray:
    """The selection metric of every head at once from its logits (images x heads x outputs): accuracy, or
    macro AUC, which ranks logits as it would probabilities but without the ties a saturated sigmoid makes."""
    n, heads, outputs = logits.shape
    if multiclass:
        return (logits.argmax(2) == np.asarray(targets)[:, None]).mean(0)
    columns = m.auc_columns(np.tile(np.asarray(targets), (1, heads)), logits.reshape(n, heads * outputs)).reshape(heads, outputs)
    defined = np.isfinite(columns)
    with np.errstate(invalid="ignore"):
        means = np.where(defined, columns, 0).sum(1) / defined.sum(1)
    return np.where(defined.any(1), means, 0.0)


def _probabilities(logits: torch.Tensor, multiclass: bool) -> np.ndarray:
    return (logits.softmax(-1) if multiclass else logits.sigmoid()).numpy()


def _head_losses(logits: torch.Tensor, targets: torch.Tensor, multiclass: bool) -> torch.Tensor:
    """Each head's mean loss (logits: images x heads x outputs): cross-entropy, or BCE averaged over outputs."""
    n, heads, outputs = logits.shape
    if multiclass:
        per_item = F.cross_entropy(logits.reshape(n * heads, outputs), targets.repeat_interleave(heads), reduction="none")
        return per_item.reshape(n, heads).mean(0)
    return F.binary_cross_entropy_with_logits(logits, targets[:, None].expand(-1, heads, -1), reduction="none").mean((0, 2))


def _logit_gradient(logits: torch.Tensor, targets: torch.Tensor, multiclass: bool) -> torch.Tensor:
    """d(mean loss)/d(logits) of each head, in closed form: (softmax - one-hot) / n, or (sigmoid - y) / (n x outputs)."""
    n, heads, outputs = logits.shape
    if multiclass:
        return (logits.softmax(-1) - F.one_hot(targets, outputs).to(logits.dtype)[:, None]) / n
    return (logits.sigmoid() - targets[:, None]) / (n * outputs)


def fit_heads(x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *,
              outputs: int, multiclass: bool, grid: list[tuple[float, float]], spec: LinearProbeProtocol,
              seed: int) -> list[HeadFit]:
    """Train one linear head per (learning rate, weight decay) of ``grid``, all in the same tensor ops.

    Each head is what AdamW would train alone (up to float rounding): the same seeded init and batch order
    for every head, its own loss, learning rate, decoupled weight decay (on the weights and the bias, as
    ``torch.optim.AdamW`` applies it) and early stopping on val (metric or loss). The heads sit side by side
    in one matrix, so a step is one matrix product forward, the loss's closed-form gradient and one product
    back for the whole grid, instead of an autograd step per head: a linear head's step is so small that the
    per-operation overhead, not arithmetic, is its cost.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    template = nn.Linear(x_train.shape[1], outputs)
    heads = len(grid)
    # (features + 1) x (heads x outputs): head h's weights and bias in columns h*outputs ..., against inputs
    # that end with a column of ones
    single = torch.cat([template.weight.detach().t(), template.bias.detach()[None]])
    params = single.repeat(1, heads).contiguous()
    x_train = torch.cat([x_train, torch.ones(len(x_train), 1)], 1)
    x_val = torch.cat([x_val, torch.ones(len(x_val), 1)], 1)

    def per_column(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32).repeat_interleave(outputs)[None]

    step_size = per_column([lr for lr, _ in grid])                  # a stopped head: step 0 and no decay
    shrink = 1 - step_size * per_column([wd for _, wd in grid])
    beta1, beta2, eps = 0.9, 0.999, 1e-8                              # torch's AdamW defaults
    first, second = torch.zeros_like(params), torch.zeros_like(params)
    val_targets = y_val.numpy()
    best: list[HeadFit | None] = [None] * heads
    stale = np.zeros(heads, dtype=int)
    stopped = np.zeros(heads, dtype=bool)
    epochs_run = np.zeros(heads, dtype=int)
    n, steps = len(x_train), 0
    for epoch in range(1, spec.max_epochs + 1):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, spec.batch_size):
            batch = order[start : start + spec.batch_size]
            x = x_train[batch]
            logits = (x @ params).view(len(batch), heads, outputs)
            gradient = x.t() @ _logit_gradient(logits, y_train[batch], multiclass).view(len(batch), heads * outputs)
            steps += 1
            first.lerp_(gradient, 1 - beta1)
            second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
            denominator = (second / (1 - beta2 ** steps)).sqrt_().add_(eps)
            params.mul_(shrink).sub_(first / denominator * (step_size / (1 - beta1 ** steps)))
        epochs_run[~stopped] = epoch
        logits = (x_val @ params).view(len(x_val), heads, outputs)
        val_loss = _head_losses(logits, y_val, multiclass).numpy()
        val_metric = _val_metrics(val_targets, logits.numpy(), multiclass)
        for h in np.flatnonzero(~stopped):
            fit = best[h]
            better = fit is None or (val_loss[h] < fit.val_loss if spec.select_on == "loss" else val_metric[h] > fit.val_metric)
            if better:
                columns = params[:, h * outputs : (h + 1) * outputs]
                state = {"weight": columns[:-1].t().clone(), "bias": columns[-1].clone()}
                best[h] = HeadFit(grid[h][0], grid[h][1], epoch, epoch, float(val_loss[h]), float(val_metric[h]), state)
                stale[h] = 0
            else:
                stale[h] += 1
                if stale[h] >= spec.patience:
                    stopped[h] = True
                    step_size[:, h * outputs : (h + 1) * outputs] = 0
                    shrink[:, h * outputs : (h + 1) * outputs] = 1
        if stopped.all():
            break
    fits = [fit for fit in best if fit is not None]
    for fit, run in zip(fits, epochs_run):
        fit.epochs_run = int(run)
    return fits


def run_linear_probe(encoder: Encoder, data: TaskData, spec: LinearProbeProtocol, job: ProtocolJob) -> Outcome:
    task, seed, progress = data.task, job.seed, job.progress
    if job.cache_root is None:
        raise ValueError("the linear probe needs a feature cache folder (ProtocolJob.cache_root)")
    timings: dict[str, float] = {}
    cover = list(dict.fromkeys([*data.full_train.ids, *data.splits["val"].image_ids, *data.splits["test"].image_ids]))
    cover = [i for i in cover if i in data.store.positions]
    cache = cached_features(encoder, data.store, cover, job.cache_root, device=job.device, rebuild=job.rebuild_cache,
                            progress=running_total(progress, "features", len(cover)))
    timings["features_s"] = cache.seconds

    started = time.perf_counter()
    x = {name: np.asarray(cache.take(split.image_ids), dtype=np.float32) for name, split in data.splits.items()}
    fingerprint = feature_fingerprint(x["test"])   # of the encoder's own features, for the regression gate
    if spec.standardize:
        mean, std = x["train"].mean(0), x["train"].std(0) + 1e-6
        x = {name: (value - mean) / std for name, value in x.items()}
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in x.items()}
    dtype = torch.long if task.multiclass else torch.float32
    y = {name: torch.as_tensor(split.targets, dtype=dtype) for name, split in data.splits.items()}
    outputs = len(task.labels)
    grid = [(lr, wd) for lr in spec.learning_rates for wd in spec.weight_decays]
    fits = fit_heads(tensors["train"], y["train"], tensors["val"], y["val"], outputs=outputs, multiclass=task.multiclass,
                     grid=grid, spec=spec, seed=seed)
    if progress:
        progress("heads", len(grid), len(grid))
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
        extra={"headline": task.metric, "feature_cache": {"key": cache.key, "hit": cache.hit},
               "features_fingerprint": fingerprint},
    )

