"""The Encoder contract every registered model satisfies, whatever its architecture or origin."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from asgbench.encoders.backbones import Features
from asgbench.encoders.config import EncoderConfig, InputSpec
from asgbench.encoders.loading import LoadReport
from asgbench.encoders.transforms import transform_images, transform_masks


class Encoder(nn.Module):
    """A backbone plus the optional parts its checkpoint provides (projection heads, text tower).

    ``preprocess`` turns letterboxed uint8 store images into the model's input by the entry's transform;
    ``encode`` gives the global feature and the tokens on their grid; ``pyramid`` the maps a U-Net taps.
    """

    def __init__(self, config: EncoderConfig, backbone: nn.Module, parts: dict[str, nn.Module], report: LoadReport) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.parts = nn.ModuleDict(parts)
        self.report = report
        self.register_buffer("mean", torch.empty(0), persistent=False)
        self.register_buffer("std", torch.empty(0), persistent=False)
        self.use_transform(config.input)

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    @property
    def transform(self) -> InputSpec:
        return self.config.input

    def use_transform(self, spec: InputSpec) -> None:
        """Preprocess with ``spec`` from now on (a dataset's statistics, or the standard transform): every
        consumer (cache keys, segmentation sizes, result records) reads it from ``config.input``."""
        self.config = replace(self.config, input=spec)
        device = self.mean.device
        self.mean = torch.tensor(spec.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(spec.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

    def has(self, feature: str) -> bool:
        """False when the checkpoint lacked a part this feature needs (see ``report.disabled``)."""
        return feature not in self.report.disabled

    def preprocess(self, images: torch.Tensor, boxes: np.ndarray | None = None) -> torch.Tensor:
        """uint8 store images B x [1 x] S x S -> normalised float B x C x size x size, by the transform in
        ``config.input``; ``boxes`` are the images' content boxes (:meth:`ImageStore.content_boxes`), needed
        by the geometries that read the original without its padding (None: the content fills the frame)."""
        x = transform_images(images.to(self.mean.device), self.config.input, boxes)
        x = x.expand(-1, self.config.input.channels, -1, -1)
        return (x - self.mean) / self.std

    def preprocess_masks(self, masks: torch.Tensor, boxes: np.ndarray | None = None) -> torch.Tensor:
        """Binary B x [1 x] S x S masks in the store frame -> float B x 1 x size x size aligned with ``preprocess``."""
        return transform_masks(masks.to(self.mean.device), self.config.input, boxes)

    def encode(self, x: torch.Tensor) -> Features:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).global_feature

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.encode(x).maps
        return [maps[name] for name in self.config.taps]
