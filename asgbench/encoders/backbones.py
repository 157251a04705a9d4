"""Backbone networks whose parameter names match the released checkpoints after key mapping.

Every backbone answers the same three questions for a batch: its feature maps / tokens, the global
feature a linear probe reads, and the multi-scale maps a U-Net decoder taps. Module names follow
torchvision (ResNets), timm (ViTs) and transformers (Swin), so checkpoints load strictly.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Features:
    """What one forward pass gives: a global vector, tokens on a grid, and maps for a decoder."""

    global_feature: torch.Tensor          # B x D
    tokens: torch.Tensor                  # B x N x C
    grid: tuple[int, int]                 # (rows, cols) of the tokens
    maps: dict[str, torch.Tensor]         # named multi-scale maps, B x C x H x W


def _torchvision_resnet(depth: int, width: int) -> nn.Module:
    """torchvision's ResNet-18/50, or the same network with ``width`` stem channels instead of 64.

    A narrower ResNet keeps torchvision's module names (so checkpoints stay in its key layout) and costs
    about (width/64)^2 of the compute: what pre-training on two CPU cores can afford.
    """
    import torchvision
    from torchvision.models.resnet import BasicBlock, Bottleneck

    net = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[depth](weights=None)
    if width == 64:
        return net
    block, blocks = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3))}[depth]
    net.inplanes = width
    net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    for stage, count in enumerate(blocks):
        setattr(net, f"layer{stage + 1}", net._make_layer(block, width * 2**stage, count, stride=1 if stage == 0 else 2))
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return net


class ResNetBackbone(nn.Module):
    """torchvision ResNet (``fc`` removed); optionally stops after layer3, upsamples the input first, or is
    narrower than 64 stem channels."""

    def __init__(self, depth: int = 50, *, stop_after: str = "layer4", upsample_to: int | None = None, local: str | None = None,
                 width: int = 64) -> None:
        super().__init__()
        base = _torchvision_resnet(depth, width)
        self.conv1, self.bn1, self.relu, self.maxpool = base.conv1, base.bn1, base.relu, base.maxpool
        self.stages = ["layer1", "layer2", "layer3"] + (["layer4"] if stop_after == "layer4" else [])
        for stage in self.stages:
            setattr(self, stage, getattr(base, stage))
        self.upsample_to = upsample_to
        self.local = local or self.stages[-1]  # the map whose positions are the "tokens"
        scale = width / 64
        widths = tuple(int(c * scale) for c in {18: (64, 64, 128, 256, 512), 50: (64, 256, 512, 1024, 2048)}[depth])
        self.channels = dict(zip(["stem", "layer1", "layer2", "layer3", "layer4"], widths))
        self.feature_dim = self.channels[self.stages[-1]]

    def forward(self, x: torch.Tensor) -> Features:
        if self.upsample_to:
            x = F.interpolate(x, size=(self.upsample_to, self.upsample_to), mode="bilinear", align_corners=True)
        maps = {"stem": self.relu(self.bn1(self.conv1(x)))}
        h = self.maxpool(maps["stem"])
        for stage in self.stages:
            h = getattr(self, stage)(h)
            maps[stage] = h
        last = maps[self.stages[-1]]
        local = maps[self.local]
        tokens = local.flatten(2).transpose(1, 2)
        return Features(last.mean(dim=(2, 3)), tokens, (local.shape[2], local.shape[3]), maps)


class ViTBackbone(nn.Module):
    """timm VisionTransformer (no head); the global feature by ``pool``:

    - ``token``: the CLS token after the final norm;
    - ``avg``: the mean of the patch tokens after the final norm;
    - ``avg-prenorm-fresh-ln``: MAE's and MRM's fine-tuning feature (MRM NIH_ChestX-ray/models_vit.py,
      ``global_pool=True``): the mean of the last block's patch tokens before any norm, through a new LayerNorm
      at its init (weight 1, bias 0, eps 1e-6), which has no parameters to load. The released ``norm`` is still
      loaded and still applies to ``tokens``.
    """

    POOLS = ("token", "avg", "avg-prenorm-fresh-ln")

    def __init__(self, variant: str = "vit_base_patch16_224", *, pool: str = "token", img_size: int = 224, taps: tuple[int, ...] = (2, 5, 8, 11)) -> None:
        super().__init__()
        import timm

        if pool not in self.POOLS:
            raise ValueError(f"ViT pool must be one of {self.POOLS}, not {pool!r}")
        model = timm.create_model(variant, pretrained=False, num_classes=0, global_pool="token", img_size=img_size)
        self.cls_token, self.pos_embed, self.patch_embed = model.cls_token, model.pos_embed, model.patch_embed
        self.pos_drop, self.norm_pre, self.blocks, self.norm = model.pos_drop, model.norm_pre, model.blocks, model.norm
        self.pool, self.tap_blocks = pool, taps
        # MRM's fc_norm = norm_layer(embed_dim) with norm_layer = partial(nn.LayerNorm, eps=1e-6), never loaded
        self.fresh_eps = 1e-6
        self.feature_dim = model.embed_dim
        self.patch = model.patch_embed.patch_size[0]
        self.channels = {f"block{i}": model.embed_dim for i in taps}

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.patch_embed(x)
        h = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), h], dim=1) + self.pos_embed
        return self.norm_pre(self.pos_drop(h))

    def _as_map(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A block's patch tokens (the CLS token dropped) as a B x C x rows x cols map."""
        return h[:, 1:].transpose(1, 2).reshape(h.shape[0], -1, x.shape[2] // self.patch, x.shape[3] // self.patch)

    def block_maps(self, x: torch.Tensor, blocks: tuple[int, ...]) -> list[torch.Tensor]:
        """The outputs of ``blocks`` (0-based), before the final norm, as maps: what an UPerNet over a plain ViT reads
        (MRM's segmentation backbone returns its ``out_indices`` blocks so, ``final_norm`` off). Blocks after the
        last one asked for are not run."""
        if not blocks or min(blocks) < 0 or max(blocks) >= len(self.blocks):
            raise ValueError(f"ViT blocks must lie in 0..{len(self.blocks) - 1}, not {blocks}")
        h, maps = self._embed(x), {}
        for i, block in enumerate(self.blocks[: max(blocks) + 1]):
            h = block(h)
            if i in blocks:
                maps[i] = self._as_map(h, x)
        return [maps[i] for i in blocks]

    def forward(self, x: torch.Tensor) -> Features:
        h = self._embed(x)
        rows, cols = x.shape[2] // self.patch, x.shape[3] // self.patch
        maps = {}
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.tap_blocks:
                maps[f"block{i}"] = self._as_map(h, x)
        last = h
        h = self.norm(h)
        tokens = h[:, 1:]
        if self.pool == "token":
            global_feature = h[:, 0]
        elif self.pool == "avg":
            global_feature = tokens.mean(dim=1)
        else:
            pooled = last[:, 1:].mean(dim=1)
            global_feature = F.layer_norm(pooled, (pooled.shape[-1],), eps=self.fresh_eps)
        return Features(global_feature, tokens, (rows, cols), maps)


class SwinBackbone(nn.Module):
    """HF SwinModel (transformers 5 names) configured as swin-tiny-patch4-window7-224; global = pooler output."""

    def __init__(self) -> None:
        super().__init__()
        from transformers import SwinConfig, SwinModel

        config = SwinConfig(image_size=224, patch_size=4, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7)
        self.model = SwinModel(config)
        self.feature_dim = 768
        self.channels = {f"stage{i}": 96 * 2**i for i in range(4)}

    def forward(self, x: torch.Tensor) -> Features:
        # each stage's output before its patch merging (1/4 x 96 ... 1/32 x 768), as transformers' own SwinBackbone
        # gives UperNet / Mask2Former; after merging, "stage3" would be stage 3 merged and the last stage never read
        out = self.model(pixel_values=x, output_hidden_states=True, output_hidden_states_before_downsampling=True)
        reshaped = out.reshaped_hidden_states  # patch embeddings, then one per stage, B x C x H x W
        maps = {f"stage{i}": reshaped[i + 1] for i in range(4)}
        last = out.last_hidden_state
        side = int(last.shape[1] ** 0.5)
        return Features(out.pooler_output, last, (side, side), maps)


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "resnet50": lambda **o: ResNetBackbone(50, **o),
    "resnet18": lambda **o: ResNetBackbone(18, **o),
    "vit_base_patch16": lambda **o: ViTBackbone("vit_base_patch16_224", **o),
    "vit_tiny_patch16": lambda **o: ViTBackbone("vit_tiny_patch16_224", **o),
    "swin_tiny": lambda **o: SwinBackbone(),
    "open_clip": lambda **o: __import__("asgbench.encoders.open_clip_backbones", fromlist=["_"]).OpenCLIPVisual(**o),
}


def build_backbone(architecture: str, **options) -> nn.Module:
    if architecture not in BACKBONES:
        raise KeyError(f"unknown backbone architecture {architecture!r}")
    return BACKBONES[architecture](**options)
