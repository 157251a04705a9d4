"""The Encoder contract every registered model satisfies, whatever its architecture or origin."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from asgbench.encoders.backbones import Features
from asgbench.encoders.config import EncoderConfig
from asgbench.encoders.loading import LoadReport


class Encoder(nn.Module):
    """A backbone plus the optional parts its checkpoint provides (projection heads, text tower).

    ``preprocess`` turns canonical uint8 images (B x 256 x 256, letterboxed) into the model's input;
    ``encode`` gives the global feature and the tokens on their grid; ``pyramid`` the maps a U-Net taps.
    """

    def __init__(self, config: EncoderConfig, backbone: nn.Module, parts: dict[str, nn.Module], report: LoadReport) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.parts = nn.ModuleDict(parts)
        self.report = report
        spec = config.input
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def has(self, feature: str) -> bool:
        """False when the checkpoint lacked a part this feature needs (see ``report.disabled``)."""
        return feature not in self.report.disabled

    def _geometry(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        """The input contract's crop and resize; images and masks go through the same one."""
        spec = self.config.input
        h, w = x.shape[-2:]
        crop = round(min(h, w) * 224 / 256) if spec.crop else min(h, w)
        top, left = (h - crop) // 2, (w - crop) // 2
        x = x[..., top : top + crop, left : left + crop]
        if crop != spec.size:
            x = F.interpolate(x, size=(spec.size, spec.size), mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
        return x

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 B x H x W (or B x 1 x H x W) -> normalised float B x C x S x S (centre crop, then resize)."""
        x = images if images.dim() == 4 else images[:, None]
        x = self._geometry(x.to(self.mean.device, dtype=torch.float32) / 255.0, "bilinear")
        x = x.expand(-1, self.config.input.channels, -1, -1) if x.shape[1] == 1 else x
        return (x - self.mean) / self.std

    def preprocess_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Binary B x H x W masks in the canonical frame -> float B x 1 x S x S aligned with ``preprocess``."""
        x = masks if masks.dim() == 4 else masks[:, None]
        return self._geometry(x.to(self.mean.device, dtype=torch.float32), "nearest")

    def encode(self, x: torch.Tensor) -> Features:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).global_feature

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.encode(x).maps
        return [maps[name] for name in self.config.taps]
