"""The encoder registry and ``create_encoder``: one call from a name (and a released file) to a model.

Entries live in ``baselines/`` (one module per published model) and are registered lazily, so listing
models imports nothing heavy. Weights come from ``checkpoint=`` or ``$ASGBENCH_WEIGHTS/<file name>``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from asgbench.config import WEIGHTS_ENV
from asgbench.encoders.backbones import build_backbone
from asgbench.encoders.checkpoint_io import RawCheckpoint, read_checkpoint
from asgbench.encoders.config import Component, EncoderConfig
from asgbench.encoders.loading import LoadReport, load_components
from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError, DataLayoutError
from asgbench.registry import Registry

MODELS: Registry[EncoderConfig] = Registry("model")
for _name, _entry, _aliases in (
    ("asg-vit", "baselines.asg:ASG_VIT", ("asg",)),
    ("asg-r50", "baselines.asg:ASG_R50", ()),
    ("convirt", "baselines.convirt:CONVIRT", ()),
    ("gloria", "baselines.gloria:GLORIA", ()),
    ("medklip", "baselines.medklip:MEDKLIP", ()),
    ("medclip-r50", "baselines.medclip:MEDCLIP_R50", ()),
    ("medclip-vit", "baselines.medclip:MEDCLIP_VIT", ()),
    ("kad", "baselines.kad:KAD", ("kad-512",)),
    ("kad-224", "baselines.kad:KAD_224", ()),
    ("mgca-r50", "baselines.mgca:MGCA_R50", ()),
    ("mgca-vit", "baselines.mgca:MGCA_VIT", ()),
    ("mrm", "baselines.mrm:MRM", ()),
    ("random-r50", "baselines.initial:RANDOM_R50", ()),
    ("random-vit", "baselines.initial:RANDOM_VIT", ()),
    ("random-r18", "baselines.initial:RANDOM_R18", ()),
    ("random-vit-tiny", "baselines.initial:RANDOM_VIT_TINY", ()),
    ("imagenet-r50", "baselines.initial:IMAGENET_R50", ()),
    ("imagenet-vit", "baselines.initial:IMAGENET_VIT", ()),
):
    MODELS.register(_name, _entry, aliases=_aliases)
MODELS.register_family("asg-", "asg-vit")   # asg-<anything>: an ASG checkpoint under a name of the user's choice

BACKBONE = "backbone"


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.names(pattern)


def resolve_checkpoint(config: EncoderConfig, checkpoint: str | Path | None) -> Path | None:
    """``checkpoint`` if given, else ``$ASGBENCH_WEIGHTS/<file name>``; a missing file says where to get it."""
    if checkpoint is not None:
        return Path(checkpoint)
    if not config.needs_checkpoint:
        return None
    folder = os.environ.get(WEIGHTS_ENV)
    candidate = Path(folder) / config.file_name if folder else None
    if candidate is not None and candidate.is_file():
        return candidate
    where = f"{candidate} does not exist" if candidate else f"${WEIGHTS_ENV} is not set"
    raise ConfigError(f"{config.name} needs its released weights {config.file_name!r} ({where}); "
                      f"get them from {config.source} and pass --checkpoint FILE or put them in ${WEIGHTS_ENV}")


def _build_part(component: Component, tensors: dict[str, torch.Tensor]) -> nn.Module:
    if component.build is None:
        raise ConfigError(f"component {component.name} has no builder")
    return component.build(tensors)


def create_encoder(name: str, checkpoint: str | Path | None = None, *, trust_checkpoint: bool = False, seed: int = 0,
                   **backbone_overrides) -> Encoder:
    """Build the registered model ``name`` and load its weights (strictly, with a load report)."""
    config = MODELS.get(name)
    if callable(getattr(config, "resolve", None)):
        config = config.resolve(checkpoint, name=MODELS.canonical(name))
    path = resolve_checkpoint(config, checkpoint)
    torch.manual_seed(seed)
    backbone = build_backbone(config.architecture, **{**config.backbone_options, **backbone_overrides})
    parts: dict[str, nn.Module] = {BACKBONE: backbone}
    if path is None:
        report = LoadReport(config.name, None, None, None)
        report.disabled.update({f: "no checkpoint" for c in config.components for f in c.enables})
        initialise = getattr(config, "initialise", None)
        if initialise is not None:
            report = initialise(backbone, report)
    else:
        raw: RawCheckpoint = read_checkpoint(path, trust=trust_checkpoint)
        report = load_components(raw, config.name, parts, config.components, _build_part, config.ignored)
        if not any(c.name == BACKBONE and c.loaded for c in report.components):
            raise DataLayoutError(f"{path}: no backbone weights were loaded for {config.name}")
    parts.pop(BACKBONE)
    if config.zero_shot is None:
        report.disabled["zero-shot"] = "the model has no text side"
    encoder = Encoder(config, backbone, parts, report)
    return encoder.eval()
