"""The encoder registry and ``create_encoder``: one call from a name (and a released file) to a model.

Entries live in ``baselines/`` (one module per published model) and are registered lazily, so listing
models imports nothing heavy. Weights come from ``checkpoint=`` or ``$ASGBENCH_WEIGHTS/<file name>``.
A model name is ``entry[.tag]`` (``mgca-vit``, ``asg-r18.full``); a family name (``asg``) picks its entry
from the checkpoint.
"""
from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
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
    ("asg-vit", "baselines.asg:ASG_VIT", ()),
    ("asg-r50", "baselines.asg:ASG_R50", ()),
    ("asg-r18", "baselines.asg:ASG_R18", ()),
    ("asg-vit-tiny", "baselines.asg:ASG_VIT_TINY", ()),
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
    ("biovil", "baselines.biovil:BIOVIL", ()),
    ("chexzero", "baselines.chexzero:CHEXZERO", ()),
    ("biomedclip", "baselines.biomedclip:BIOMEDCLIP", ()),
):
    MODELS.register(_name, _entry, aliases=_aliases)

# A family name picks its entry from the checkpoint: "module:function(checkpoint path or None) -> entry name".
MODEL_FAMILIES: Registry[Callable[[Path | None], str]] = Registry("model family")
MODEL_FAMILIES.register("asg", "baselines.asg:entry_for_checkpoint")

BACKBONE = "backbone"
TAG = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ResolvedModel:
    """A model name made canonical: ``entry[.tag]``, the entry's config for this checkpoint, and the file."""

    name: str
    config: EncoderConfig
    checkpoint: Path | None


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


def resolve_model(name: str, checkpoint: str | Path | None = None) -> ResolvedModel:
    """``entry[.tag]`` or ``family[.tag]`` plus a checkpoint -> the canonical name and the config to build.

    Like timm's ``architecture.tag``: the entry fixes the architecture, the tag names the weights. A family
    (``asg``) reads the architecture from the file; a self-describing file (an asgbench export) supplies its
    config and, unless the name gives one, its tag.
    """
    base, dot, tag = name.partition(".")
    if dot and not TAG.match(tag):
        raise ConfigError(f"model {name!r}: a tag after the dot may hold letters, digits, '-' and '_' only")
    path = Path(checkpoint) if checkpoint is not None else None
    if base in MODEL_FAMILIES:
        base = MODEL_FAMILIES.get(base)(path)
    config = MODELS.get(base)
    path = resolve_checkpoint(config, path)
    if config.checkpoint_config and path is not None:
        module_name, _, attribute = config.checkpoint_config.partition(":")
        config = getattr(importlib.import_module(module_name), attribute)(config, path)
    tag = tag or str(config.provenance.get("tag") or "")
    canonical = f"{MODELS.canonical(base)}.{tag}" if tag else MODELS.canonical(base)
    if canonical != config.name:
        config = replace(config, name=canonical, display_name=canonical if not config.display_name else config.display_name)
    return ResolvedModel(canonical, config, path)


def _build_part(component: Component, tensors: dict[str, torch.Tensor]) -> nn.Module:
    if component.build is None:
        raise ConfigError(f"component {component.name} has no builder")
    return component.build(tensors)


def create_encoder(name: str, checkpoint: str | Path | None = None, *, trust_checkpoint: bool = False, seed: int = 0,
                   **backbone_overrides) -> Encoder:
    """Build the registered model ``name`` and load its weights (strictly, with a load report)."""
    resolved = resolve_model(name, checkpoint)
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
        report = load_components(raw, config.name, parts, config.components, _build_part, config.ignored)
        if not any(c.name == BACKBONE and c.loaded for c in report.components):
            raise DataLayoutError(f"{path}: no backbone weights were loaded for {config.name}")
    parts.pop(BACKBONE)
    if config.zero_shot is None:
        report.disabled["zero-shot"] = "the model has no text side"
    encoder = Encoder(config, backbone, parts, report)
    return encoder.eval()
