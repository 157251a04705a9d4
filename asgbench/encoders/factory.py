"""Building a resolved model: the backbone, the parts its checkpoint provides, and the load report (imports torch)."""
from __future__ import annotations

import torch
from torch import nn

from asgbench.encoders import ResolvedModel
from asgbench.encoders.backbones import build_backbone
from asgbench.encoders.checkpoint_io import RawCheckpoint, read_checkpoint
from asgbench.encoders.config import Component
from asgbench.encoders.loading import LoadReport, load_components
from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError, DataLayoutError

BACKBONE = "backbone"


def _build_part(component: Component, tensors: dict[str, torch.Tensor]) -> nn.Module:
    if component.build is None:
        raise ConfigError(f"component {component.name} has no builder")
    return component.build(tensors)


def build_encoder(resolved: ResolvedModel, *, trust_checkpoint: bool = False, seed: int = 0, **backbone_overrides) -> Encoder:
    """The resolved model built and its weights loaded (strictly, with a load report)."""
    config, path = resolved.config, resolved.checkpoint
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
        try:
            report = load_components(raw, config.name, parts, config.components, _build_part, config.ignored)
        except DataLayoutError as exc:
            from asgbench.encoders.identify import looks_like

            others = looks_like(raw, exclude=config.name.partition(".")[0])
            if not others:
                raise
            raise DataLayoutError(f"{exc}; the file looks like the release of {' or '.join(others)}: run it as --model "
                                  f"{others[0]}" + (f" (or {', '.join(others[1:])})" if others[1:] else "")) from None
        if not any(c.name == BACKBONE and c.loaded for c in report.components):
            raise DataLayoutError(f"{path}: no backbone weights were loaded for {config.name}")
    parts.pop(BACKBONE)
    if config.zero_shot is None:
        report.disabled["zero-shot"] = "the model has no text side"
    encoder = Encoder(config, backbone, parts, report)
    return encoder.eval()
