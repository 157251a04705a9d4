"""The ViT segmentation heads, each as its authors' code builds it: MGCA's SETR-PUP and MRM's UPerNet.

- :class:`ProgressiveUpsampling` is MGCA's ``SETRModel`` head (mgca/models/backbones/transformer_seg.py): the
  last layer's normed patch tokens through ``final_dense`` (Linear width -> width), laid out on their grid, then
  4 x (conv 3x3, BN, ReLU, ``nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)``) with 512, 256,
  128, 64 channels, and ``final_out``, a conv 3x3 to one channel.
- :class:`UPerNet` is MRM's SIIM model (Siim_Segmentation/configs/_base_/models/upernet_mrm.py and the SIIM config
  that overrides it): blocks 3, 5, 7, 11 of the ViT, before the final norm, turned into a 4-scale pyramid by
  mmseg's ``Feature2Pyramid`` (rescales 4, 2, 1, 0.5), then mmseg's ``UPerHead`` (768 channels, pool scales
  1, 2, 3, 6, BN, dropout 0.1, a 1x1 classifier) and a bilinear resize of its 1/4 map to the input. The UPerHead
  is segmentation-models-pytorch's ``UPerNetDecoder`` (the same PSP, lateral, top-down and fusion convolutions)
  without the per-input LayerNorm smp adds, which mmseg's head does not have.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


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
            x = F.interpolate(block(x), scale_factor=2, mode="bilinear", align_corners=True)
        x = self.head(x)
        # 14 x 2^4 = 224: at MGCA's geometry the head ends at the input size; other grids are resized to it
        return x if tuple(x.shape[-2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ViTPyramid(nn.Module):
    """mmseg's ``Feature2Pyramid`` with rescales (4, 2, 1, 0.5): four 1/16 ViT maps become 1/4, 1/8, 1/16, 1/32.

    x4 is deconv 2x2 stride 2, BN, GELU, deconv 2x2 stride 2; x2 one such deconv; x1 the map itself; x0.5 a 2x2
    max-pool (mmseg/models/necks/featurepyramid.py; MRM leaves its norm at the default, SyncBN, BN on one device).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.up4 = nn.Sequential(nn.ConvTranspose2d(width, width, 2, stride=2), nn.BatchNorm2d(width), nn.GELU(),
                                 nn.ConvTranspose2d(width, width, 2, stride=2))
        self.up2 = nn.ConvTranspose2d(width, width, 2, stride=2)
        self.down2 = nn.MaxPool2d(2, stride=2)

    def forward(self, maps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(maps) != 4:
            raise ValueError(f"the pyramid is made from 4 block maps, not {len(maps)}")
        return [self.up4(maps[0]), self.up2(maps[1]), maps[2], self.down2(maps[3])]


class UPerNet(nn.Module):
    """MRM's UPerNet on four ViT block maps: pyramid, smp's UPerNet decoder, dropout, 1x1 conv, resize to input."""

    def __init__(self, width: int, channels: int = 768, dropout: float = 0.1) -> None:
        super().__init__()
        from segmentation_models_pytorch.decoders.upernet.decoder import UPerNetDecoder

        self.pyramid = ViTPyramid(width)
        # smp reads an encoder's maps at strides 1, 2, 4, ... 32 and uses those from 1/4 on: the first two are unused
        self.decoder = UPerNetDecoder(encoder_channels=(0, 0, width, width, width, width), encoder_depth=5,
                                      decoder_channels=channels)
        self.decoder.feature_norms = nn.ModuleList(nn.Identity() for _ in range(4))
        self.dropout = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(channels, 1, 1)
        self._init_as_mmseg()

    def _init_as_mmseg(self) -> None:
        """mmcv's ConvModule init for the decoder's convs (Kaiming normal, fan_out, ReLU; BN 1, 0) and mmseg's
        Normal(std 0.01) for the classifier; the pyramid keeps PyTorch's defaults, as mmseg's neck does."""
        for module in self.decoder.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, maps: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        x = self.decoder([None, None, *self.pyramid(maps)])
        x = self.head(self.dropout(x))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
