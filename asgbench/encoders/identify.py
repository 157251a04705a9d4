"""Which registry entry a checkpoint looks like: so that a file given to the wrong model says whose it is.

Each entry's backbone is built on the meta device (no memory, no initialisation) to list the keys and shapes it
needs; the file's tensors are mapped by the entry's key map and compared. An entry matches when every backbone
tensor is there with its shape; among matches, the one whose key maps claim the most of the file's tensors wins
(MGCA-ViT and ASG-ViT share a backbone layout, their heads tell them apart).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from asgbench.encoders.checkpoint_io import RawCheckpoint
from asgbench.errors import DataLayoutError


@dataclass(frozen=True)
class Resemblance:
    """How well a file fits one entry: backbone tensors found with their shapes, and file tensors claimed."""

    entry: str
    backbone_found: int
    backbone_needed: int
    claimed: int

    @property
    def complete(self) -> bool:
        return self.backbone_needed > 0 and self.backbone_found == self.backbone_needed


def _backbone_shapes(config) -> dict[str, tuple[int, ...]]:
    from asgbench.encoders.backbones import build_backbone

    with torch.device("meta"):
        backbone = build_backbone(config.architecture, **config.backbone_options)
    return {key: tuple(value.shape) for key, value in backbone.state_dict().items()}


def resemblance(raw: RawCheckpoint, name: str) -> Resemblance | None:
    """How ``raw`` fits entry ``name`` (None when its container is not in the file or nothing maps)."""
    from asgbench.encoders import MODELS
    from asgbench.encoders.loading import _container, map_keys

    config = MODELS.get(name)
    claimed: set[tuple[tuple[str, ...], str]] = set()
    found = needed = 0
    for index, component in enumerate(config.components):
        try:
            state = _container(raw.content, component.keys.container, str(raw.path))
        except DataLayoutError:
            if index == 0:
                return None
            continue
        tensors, _, names = map_keys(state, component.keys)
        claimed.update((component.keys.container, key) for key in names)
        if index == 0:
            if not tensors:
                return None
            shapes = _backbone_shapes(config)
            needed = len(shapes)
            found = sum(1 for key, shape in shapes.items() if key in tensors and tuple(tensors[key].shape) == shape)
    for container, pattern, _ in config.ignored:   # keys the entry knows its release has and leaves unused
        try:
            state = _container(raw.content, container, str(raw.path))
        except DataLayoutError:
            continue
        claimed.update((container, key) for key in state if isinstance(key, str) and re.search(pattern, key))
    return Resemblance(name, found, needed, len(claimed))


def looks_like(raw: RawCheckpoint, exclude: str = "") -> list[str]:
    """The registry entries whose release this file may be: those that fit completely and claim the most of it
    (several when their layouts cannot be told apart); ``exclude`` is the entry that failed to load it."""
    from asgbench.encoders import MODELS

    fits = []
    for name in MODELS.names():
        if name == exclude or not MODELS.get(name).needs_checkpoint:
            continue
        try:
            fit = resemblance(raw, name)
        except Exception:  # noqa: BLE001 - an entry that cannot even be compared is simply not the answer
            continue
        if fit is not None and fit.complete:
            fits.append(fit)
    if not fits:
        return []
    best = max((fit.claimed, fit.backbone_needed) for fit in fits)
    return [fit.entry for fit in fits if (fit.claimed, fit.backbone_needed) == best]
