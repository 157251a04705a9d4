"""Segmentation networks on a registered encoder, with the head its authors evaluate it with.

Which head: the protocol's ``segmentation_head`` when it names one, else the encoder config's, else the
architecture's (MGCA's SETR-PUP on a plain ViT's last tokens, open_clip's ViT towers included;
segmentation-models-pytorch's ``UnetDecoder`` on a CNN's or Swin's tapped maps, shallow to deep). MRM's config asks
for its UPerNet over ViT blocks 3, 5, 7, 11.
The heads themselves are in :mod:`asgbench.tasks.seg_heads`. The encoder is frozen (eval mode, no gradients)
unless fine-tuning is asked for.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from asgbench.encoders.config import SEGMENTATION_HEADS, EncoderConfig, SegmentationHead
from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError
from asgbench.tasks.seg_heads import ProgressiveUpsampling, UPerNet


def plain_vit(config: EncoderConfig) -> bool:
    """A ViT with one token grid (timm-built ``vit_*``, or an open_clip ViT tower: CheXzero's CLIP ViT-B/32,
    BiomedCLIP's timm ViT-B/16), as opposed to a CNN or a hierarchical encoder (Swin). Its tapped block maps all
    lie on that one grid: a U-Net (made for maps at decreasing resolutions) would go from it to the input size in
    one nearest-neighbour step."""
    if config.architecture.startswith("vit"):
        return True
    if config.architecture != "open_clip":
        return False
    vision = (config.backbone_options.get("model_cfg") or {}).get("vision_cfg")
    if vision is None:      # an open_clip model name: its ViTs are named ViT-*
        return str(config.backbone_options.get("model_name", "")).startswith("ViT-")
    timm_name = vision.get("timm_model_name")
    # a timm trunk named vit_*, else open_clip's own VisionTransformer (``layers`` a count; a ResNet's is a tuple)
    return str(timm_name).startswith("vit") if timm_name else isinstance(vision.get("layers"), int)


def resolve_head(config: EncoderConfig, requested: str = "") -> tuple[SegmentationHead, str]:
    """(head, who chose it): ``requested`` (a protocol's), else the encoder config's, else the architecture's."""
    if requested:
        if requested not in SEGMENTATION_HEADS:
            raise ConfigError(f"segmentation_head must be one of {', '.join(SEGMENTATION_HEADS)} (or empty: the "
                              f"encoder's own), not {requested!r}")
        head, chosen_by = SEGMENTATION_HEADS[requested], "protocol"
    elif config.segmentation_head.kind:
        head, chosen_by = config.segmentation_head, "encoder"
    else:
        head, chosen_by = SEGMENTATION_HEADS["setr-pup" if plain_vit(config) else "unet"], "architecture"
    if head.kind != "unet" and not plain_vit(config):
        raise ConfigError(f"{config.name}: the {head.kind} head reads a plain ViT's tokens, and {config.architecture} "
                          f"is not one; use segmentation_head=unet")
    return head, chosen_by


class SegmentationModel(nn.Module):
    """Encoder + decoder producing one logit map at the encoder's input size."""

    def __init__(self, encoder: Encoder, *, finetune: bool = False, decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
                 pup_channels: tuple[int, ...] = (512, 256, 128, 64), upernet_channels: int = 768, prior: float = 0.0,
                 head: str = "") -> None:
        super().__init__()
        from segmentation_models_pytorch.base import SegmentationHead as OutputConv
        from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder

        self.encoder = encoder
        self.finetune = finetune
        self.head_spec, self.head_chosen_by = resolve_head(encoder.config, head)
        self.kind = self.head_spec.kind
        for parameter in encoder.parameters():
            parameter.requires_grad_(finetune)
        if self.kind == "setr-pup":
            self.decoder = ProgressiveUpsampling(encoder.backbone.feature_dim, pup_channels)
            self.head = nn.Identity()
        elif self.kind == "upernet":
            if not hasattr(encoder.backbone, "block_maps"):
                raise ConfigError(f"{encoder.config.name}: its backbone does not give ViT block outputs for an UPerNet")
            self.decoder = UPerNet(encoder.backbone.feature_dim, upernet_channels)
            self.head = nn.Identity()
        else:
            taps = encoder.config.taps
            channels = [encoder.config.input.channels] + [encoder.backbone.channels[t] for t in taps]
            blocks = len(taps)
            self.decoder = UnetDecoder(encoder_channels=channels, decoder_channels=decoder_channels[:blocks], n_blocks=blocks)
            self.head = OutputConv(decoder_channels[blocks - 1], 1, kernel_size=3)
        if prior > 0:
            # RetinaNet's focal-loss init: every pixel starts at probability ``prior`` instead of 0.5, so that the
            # decoder does not begin by marking every pixel and a short training does not end there
            nn.init.constant_(self.output_layer().bias, math.log(prior / (1 - prior)))

    @property
    def min_batch(self) -> int:
        """The fewest images a training batch may hold: 2 for an UPerNet, whose 1x1 pooling branch's BatchNorm
        has one value per channel and image; 1 otherwise."""
        return 2 if self.kind == "upernet" else 1

    def output_layer(self) -> nn.Conv2d:
        return self.head[0] if self.kind == "unet" else self.decoder.head

    def describe_head(self) -> dict:
        """What a result records about the head: its kind, the ViT blocks it reads, and who chose it."""
        return {**self.head_spec.describe(), "chosen_by": self.head_chosen_by}

    def train(self, mode: bool = True) -> SegmentationModel:
        super().train(mode)
        if not self.finetune:
            self.encoder.eval()  # frozen BN statistics, as MGCA's segmenter keeps them
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What the decoder reads: the input and the tapped maps (U-Net), the last tokens (SETR-PUP) or the
        block maps (UPerNet).

        With a frozen encoder and no augmentation these never change during training, so they can be
        computed once per image and reused every epoch (``run_segmentation`` does).
        """
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            if self.kind == "upernet":
                return tuple(self.encoder.backbone.block_maps(x, self.head_spec.blocks))
            features = self.encoder.encode(x)
        if self.kind == "setr-pup":
            return (features.tokens,)
        return (x, *(features.maps[t] for t in self.encoder.config.taps))

    def decode(self, encoded: tuple[torch.Tensor, ...], size: tuple[int, int]) -> torch.Tensor:
        if self.kind == "setr-pup":
            tokens = encoded[0]
            side = int(round(tokens.shape[1] ** 0.5))
            return self.decoder(tokens, (side, side), size)
        if self.kind == "upernet":
            return self.decoder(encoded, size)
        return self.head(self.decoder(list(encoded)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), tuple(x.shape[-2:]))
