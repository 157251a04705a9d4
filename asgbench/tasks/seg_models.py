"""Segmentation networks on a registered encoder: smp's U-Net decoder on the pyramid, SETR-PUP for ViTs.

CNN and hierarchical encoders feed their tapped maps (shallow to deep) into segmentation-models-pytorch's
``UnetDecoder``; plain ViTs, which have one 1/16 grid, use MGCA's progressive-upsampling decoder on the
last layer's patch tokens. The encoder is frozen (eval mode, no gradients) unless fine-tuning is asked for.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from asgbench.encoders.model import Encoder


class ProgressiveUpsampling(nn.Module):
    """MGCA's SETR-style head: Linear on tokens, then 4 x (conv 3x3, BN, ReLU, bilinear x2), then conv to 1."""

    def __init__(self, width: int, channels: tuple[int, ...] = (512, 256, 128, 64)) -> None:
        super().__init__()
        self.project = nn.Linear(width, width)
        blocks, previous = [], width
        for out in channels:
            blocks.append(nn.Sequential(nn.Conv2d(previous, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)))
            previous = out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(previous, 1, 3, padding=1)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
        x = self.project(tokens).transpose(1, 2).reshape(tokens.shape[0], -1, *grid)
        for block in self.blocks:
            x = F.interpolate(block(x), scale_factor=2, mode="bilinear", align_corners=False)
        x = self.head(x)
        return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class SegmentationModel(nn.Module):
    """Encoder + decoder producing one logit map at the encoder's input size."""

    def __init__(self, encoder: Encoder, *, finetune: bool = False, decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
                 pup_channels: tuple[int, ...] = (512, 256, 128, 64), prior: float = 0.0) -> None:
        super().__init__()
        from segmentation_models_pytorch.base import SegmentationHead
        from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

        self.encoder = encoder
        self.finetune = finetune
        self.plain_vit = encoder.config.architecture.startswith("vit")
        for parameter in encoder.parameters():
            parameter.requires_grad_(finetune)
        if self.plain_vit:
            self.decoder = ProgressiveUpsampling(encoder.feature_dim, pup_channels)
            self.head = nn.Identity()
            self.kind = "setr-pup"
        else:
            taps = encoder.config.taps
            channels = [encoder.config.input.channels] + [encoder.backbone.channels[t] for t in taps]
            blocks = len(taps)
            self.decoder = UnetDecoder(encoder_channels=channels, decoder_channels=decoder_channels[:blocks], n_blocks=blocks)
            self.head = SegmentationHead(decoder_channels[blocks - 1], 1, kernel_size=3)
            self.kind = "unet"
        if prior > 0:
            # RetinaNet's focal-loss init: every pixel starts at probability ``prior`` instead of 0.5, so that the
            # decoder does not begin by marking every pixel and a short training does not end there
            output = self.decoder.head if self.plain_vit else self.head[0]
            nn.init.constant_(output.bias, math.log(prior / (1 - prior)))

    def train(self, mode: bool = True) -> SegmentationModel:
        super().train(mode)
        if not self.finetune:
            self.encoder.eval()  # frozen BN statistics, as MGCA's segmenter keeps them
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the decoder reads: the input and the tapped maps (U-Net) or the patch tokens (SETR-PUP).

        With a frozen encoder and no augmentation these never change during training, so they can be
        computed once per image and reused every epoch (``run_segmentation`` does).
        """
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            features = self.encoder.encode(x)
        if self.plain_vit:
            return (features.tokens,)
        return (x, *(features.maps[t] for t in self.encoder.config.taps))

    def decode(self, encoded: tuple[torch.Tensor, ...], size: tuple[int, int]) -> torch.Tensor:
        if self.plain_vit:
            tokens = encoded[0]
            side = int(round(tokens.shape[1] ** 0.5))
            return self.decoder(tokens, (side, side), size)
        return self.head(self.decoder(list(encoded)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), tuple(x.shape[-2:]))
