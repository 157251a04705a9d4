"""The encoder registry and ``create_encoder``: one call from a name (and a released file) to a model.

Entries live in ``baselines/`` (one module per published model) and are registered lazily, so listing
models imports nothing heavy (no torch: a run checks its model name in its pre-flight). Weights come from
``checkpoint=`` or ``$ASGBENCH_WEIGHTS/<file name>``.
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

from asgbench.config import WEIGHTS_ENV
from asgbench.encoders.config import EncoderConfig
from asgbench.errors import ConfigError
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


def create_encoder(name: str, checkpoint: str | Path | None = None, *, trust_checkpoint: bool = False, seed: int = 0,
                   **backbone_overrides):
    """Build the registered model ``name`` and load its weights (strictly, with a load report); see ``factory``."""
    from asgbench.encoders.factory import build_encoder

    return build_encoder(resolve_model(name, checkpoint), trust_checkpoint=trust_checkpoint, seed=seed, **backbone_overrides)
