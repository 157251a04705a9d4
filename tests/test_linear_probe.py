"""The linear probe trains its whole (learning rate x weight decay) grid at once; each head must be the one
``torch.optim.AdamW`` trains alone on the same seed, with the same early stopping."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from asgbench.tasks import metrics as m
from asgbench.tasks.linear_probe import fit_heads
from asgbench.tasks.protocols import LinearProbeProtocol


def _one_head_with_torch(x_train, y_train, x_val, y_val, *, outputs, multiclass, learning_rate, weight_decay, spec, seed):
    """The reference: nn.Linear + torch.optim.AdamW, one head, selected on val macro AUC / accuracy."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = nn.Linear(x_train.shape[1], outputs)
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss() if multiclass else nn.BCEWithLogitsLoss()
    best, stale, epoch = None, 0, 0
    for epoch in range(1, spec.max_epochs + 1):
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(x_train), spec.batch_size):
            batch = order[start : start + spec.batch_size]
            optimizer.zero_grad()
            loss_fn(head(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            logits = head(x_val)
        metric = m.accuracy(y_val.numpy(), logits.argmax(1).numpy()) if multiclass else m.macro_auc(y_val.numpy(), logits.numpy())
        if best is None or metric > best[1]:
            best, stale = (epoch, metric, head.weight.detach().clone(), head.bias.detach().clone()), 0
        else:
            stale += 1
            if stale >= spec.patience:
                break
    return best, epoch


@pytest.mark.parametrize("multiclass", [False, True])
def test_the_grid_trained_at_once_equals_adamw_one_head_at_a_time(multiclass):
    rng = np.random.default_rng(3)
    features, outputs = 12, 3 if multiclass else 4
    truth = rng.normal(size=(features, outputs))

    def sample(n):
        x = rng.normal(size=(n, features)).astype(np.float32)
        z = x @ truth * 0.5 + rng.normal(size=(n, outputs))
        y = torch.from_numpy(z.argmax(1)) if multiclass else torch.from_numpy((z > 0.8).astype(np.float32))
        return torch.from_numpy(x), y

    (x_train, y_train), (x_val, y_val) = sample(150), sample(120)
    spec = LinearProbeProtocol(batch_size=32, max_epochs=40, patience=4)
    grid = [(lr, wd) for lr in (1e-3, 3e-2) for wd in (0.0, 1e-2)]
    fits = fit_heads(x_train, y_train, x_val, y_val, outputs=outputs, multiclass=multiclass, grid=grid, spec=spec, seed=5)
    assert [(f.learning_rate, f.weight_decay) for f in fits] == grid
    stopped_early = 0
    for fit, (lr, wd) in zip(fits, grid):
        (best_epoch, metric, weight, bias), epochs_run = _one_head_with_torch(
            x_train, y_train, x_val, y_val, outputs=outputs, multiclass=multiclass, learning_rate=lr, weight_decay=wd,
            spec=spec, seed=5)
        assert (fit.best_epoch, fit.epochs_run) == (best_epoch, epochs_run)
        assert fit.val_metric == pytest.approx(metric, abs=1e-9)
        assert torch.allclose(fit.state["weight"], weight, atol=1e-5) and torch.allclose(fit.state["bias"], bias, atol=1e-5)
        stopped_early += epochs_run < spec.max_epochs
    assert stopped_early, "the grid should hold a head that stops early, so stopping is compared too"
