"""Projection heads with the MGCA/ASG layout (also what the ASG pre-training module trains).

GlobalEmbedding: Linear(d, 2048) -> BatchNorm1d -> ReLU -> Linear(2048, e) -> BatchNorm1d(e, affine=False).
LocalEmbedding: the same stack as kernel-1 Conv1d over the token axis. Parameter names (``head.0`` ...
``head.4``) match the released checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn


class GlobalEmbedding(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int = 2048, output_dim: int = 128) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, output_dim), nn.BatchNorm1d(output_dim, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


class LocalEmbedding(nn.Module):
    def __init__(self, input_dim: int, hidden_dim: int = 2048, output_dim: int = 128) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.Conv1d(input_dim, hidden_dim, kernel_size=1), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Conv1d(hidden_dim, output_dim, kernel_size=1), nn.BatchNorm1d(output_dim, affine=False),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` B x N x C -> B x N x output_dim."""
        return self.head(tokens.transpose(1, 2)).transpose(1, 2)


def mgca_heads_from_tensors(tensors: dict[str, torch.Tensor]) -> nn.Module:
    """A Global- or LocalEmbedding sized from its tensors (``head.0.weight`` decides which)."""
    first = tensors["head.0.weight"]
    hidden, output = first.shape[0], tensors["head.3.weight"].shape[0]
    if first.dim() == 3:
        return LocalEmbedding(first.shape[1], hidden, output)
    return GlobalEmbedding(first.shape[1], hidden, output)
