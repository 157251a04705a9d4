"""The evaluation-protocol registry: one entry per kind of evaluation, and the named protocols of each kind.

A *kind* (linear probe, zero-shot, segmentation) is one :class:`ProtocolKind`: the spec type its protocols
use, its default protocol, whether it trains on a label-fraction list, and its run function (imported
lazily, so listing tasks stays fast). ``run``, ``sweep``, the CLI and the tables ask this registry; adding a
kind means adding its module and one entry here.

An *evaluation protocol* is a frozen, versioned spec registered by name (``linear-probe``,
``mgca-linear-probe``, ``segmentation-demo``); its name, version and parameters go into every result.
Dotted ``key=value`` overrides are typed by the field they replace (never evaluated) and recorded, so a
shortened run can never pass for the real protocol. The split protocol (which images are in which list) is
a different thing: see :mod:`asgbench.data.splits`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from asgbench.config import with_overrides as apply_overrides
from asgbench.errors import ConfigError
from asgbench.progress import Progress
from asgbench.registry import Registry

LINEAR_PROBE = "linear_probe"
ZERO_SHOT = "zero_shot"
SEGMENTATION = "segmentation"


@dataclass(frozen=True)
class LinearProbeProtocol:
    """Linear head on cached, frozen features; lr x weight decay chosen on val; early stopping on val."""

    name: str = "linear-probe"
    version: str = "1"
    kind: str = LINEAR_PROBE
    learning_rates: tuple[float, ...] = (1e-3, 1e-2)
    weight_decays: tuple[float, ...] = (0.0, 1e-4, 1e-2)
    batch_size: int = 256
    max_epochs: int = 200
    patience: int = 20
    standardize: bool = True          # features scaled with train mean/std, so one grid suits every encoder
    select_on: str = "metric"         # "metric" (val macro AUC / accuracy) or "loss"
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class ZeroShotProtocol:
    """Each model's own zero-shot scorer over the whole split; thresholds from val.

    Version 2: scorers per method (MedCLIP, GLoRIA, MedKLIP, KAD, BioViL, CLIP) and MGCA/ASG text positions as
    released; version 1 scored every model with the cosine rule and sequential positions."""

    name: str = "zero-shot"
    version: str = "2"
    kind: str = ZERO_SHOT
    prompts: str = "v1"               # the prompt-set version (asgbench/tasks/prompts/<family>/<dataset>.<version>.json)
    batch_size: int = 64
    text_positions: str = "released"  # the text tower's position ids: "released" as the model's code ran it (all zeros
                                      # for MGCA and ASG, whose weights learned that), "sequential" (0, 1, 2, ...: the
                                      # corrected behaviour) or "zeros"; scorers record what ran
    overrides: tuple[str, ...] = ()


LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class SegmentationProtocol:
    """MGCA's protocol: each encoder's own head on its frozen maps, 10 focal - log Dice, early stopping on val
    Dice; every epoch is the training list once and the output layer starts at its default init.

    Version 2: the head is each model's authors' (``EncoderConfig.segmentation_head``: MRM's UPerNet over ViT blocks
    3, 5, 7, 11; MGCA's SETR-PUP, now upsampling with align_corners=True as released, for the other plain ViTs; U-Net
    otherwise) unless ``segmentation_head`` names one for every encoder; version 1 gave every ViT the SETR-PUP."""

    name: str = "segmentation"
    version: str = "2"
    kind: str = SEGMENTATION
    learning_rate: float = 5e-4
    weight_decay: float = 0.05
    batch_size: int = 16
    max_epochs: int = 50
    patience: int = 10
    focal_weight: float = 10.0
    focal_gamma: float = 2.0
    finetune: bool = False            # train the encoder too (MGCA freezes it)
    augment: bool = True              # scale +-10 %, rotation +-10 degrees (MGCA's ShiftScaleRotate)
    threshold: float = 0.5
    threshold_on_val: bool = False    # True: each epoch's val Dice is the best over thresholds 0.05, 0.10, ... 0.95, and the
                                      # test split is scored at the best epoch's; False: ``threshold`` (MGCA's 0.5)
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)   # the U-Net's
    segmentation_head: str = ""       # "": each encoder's own head; unet, setr-pup or upernet: that head for every encoder
    upernet_channels: int = 768       # the UPerNet's width (MRM's 768)
    lr_schedule: str = "constant"     # constant (MGCA's) or cosine: per step from learning_rate to 0 over max_epochs
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule={self.lr_schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")

    def epoch_bounds(self) -> tuple[int, int]:
        """(at least, at most) images per epoch; (0, 0): the training list once."""
        return 0, 0

    def output_prior(self) -> float:
        """The pixel probability the output layer starts at; 0: its default init (every pixel at 0.5)."""
        return 0.0


@dataclass(frozen=True)
class ShortSegmentationProtocol(SegmentationProtocol):
    """Segmentation shortened for small data: epochs of a fixed size whatever the list, and an output layer that
    starts at a low pixel prior (RetinaNet's focal-loss init), so a few decoder steps already learn something."""

    min_epoch_images: int = 0         # an epoch repeats a short training list (in fresh orders) to at least this many
    max_epoch_images: int = 0         # an epoch of a longer list is a fresh random subset of this many images (0: all)
    head_prior: float = 0.0           # > 0: the output bias starts at this pixel probability

    def epoch_bounds(self) -> tuple[int, int]:
        return self.min_epoch_images, self.max_epoch_images

    def output_prior(self) -> float:
        return self.head_prior


ProtocolSpec = LinearProbeProtocol | ZeroShotProtocol | SegmentationProtocol


@dataclass(frozen=True)
class ProtocolJob:
    """How a protocol runs, none of which changes its numbers (so none of it is in the run_id)."""

    seed: int
    device: str = "cpu"
    cache_root: Path | None = None    # feature cache (linear probe)
    rebuild_cache: bool = False
    state_file: Path | None = None    # where a resumable protocol keeps its state between attempts
    progress: Progress | None = None


@dataclass(frozen=True)
class ProtocolKind:
    """One kind of evaluation and everything the rest of asgbench needs to know about it."""

    name: str
    spec_type: type
    default_protocol: str
    trains_on_fraction: bool          # False: no training list, so every fraction and draw is the same run
    runner: str                       # "module:function" with signature (encoder, data, spec, job) -> Outcome
    title: str                        # in words, for listings

    def run(self, encoder, data, spec: ProtocolSpec, job: ProtocolJob) -> Any:
        module_name, _, attribute = self.runner.partition(":")
        function: Callable = getattr(importlib.import_module(module_name), attribute)
        return function(encoder, data, spec, job)


PROTOCOL_KINDS: Registry[ProtocolKind] = Registry("evaluation kind")
PROTOCOL_KINDS.register(LINEAR_PROBE, ProtocolKind(LINEAR_PROBE, LinearProbeProtocol, "linear-probe", True,
                                                   "asgbench.tasks.linear_probe:run_linear_probe", "linear probe"))
PROTOCOL_KINDS.register(ZERO_SHOT, ProtocolKind(ZERO_SHOT, ZeroShotProtocol, "zero-shot", False,
                                                "asgbench.tasks.zero_shot:run_zero_shot", "zero-shot classification"))
PROTOCOL_KINDS.register(SEGMENTATION, ProtocolKind(SEGMENTATION, SegmentationProtocol, "segmentation", True,
                                                   "asgbench.tasks.segmentation:run_segmentation", "segmentation"))

EVAL_PROTOCOLS: Registry[ProtocolSpec] = Registry("evaluation protocol")
EVAL_PROTOCOLS.register("linear-probe", LinearProbeProtocol())
# MGCA's finetuner, for comparison with published numbers: raw features, AdamW 5e-4 / 1e-6, batch 48,
# at most 50 epochs, early stopping on val loss with patience 10, no grid.
EVAL_PROTOCOLS.register("mgca-linear-probe", LinearProbeProtocol(
    name="mgca-linear-probe", learning_rates=(5e-4,), weight_decays=(1e-6,), batch_size=48, max_epochs=50,
    patience=10, standardize=False, select_on="loss"))
EVAL_PROTOCOLS.register("zero-shot", ZeroShotProtocol())
EVAL_PROTOCOLS.register("segmentation", SegmentationProtocol())
# The demo's segmentation on the synthetic suite's 64-px images: no augmentation (the frozen encoder's maps are
# computed once per image and the decoder trains on them); every epoch is 256 images whatever the fraction (the 1 %
# lists hold 8 to 28 images, which otherwise get too few updates, and the 100 % lists would cost 11 times more);
# a narrow decoder, a learning rate 4 times the published one decayed to 0 on a cosine over 10 epochs (patience 4),
# and the output starting at 10 % per pixel. Version 3 (12 epochs at a constant 0.002) left the decoder
# oscillating: val Dice moved by up to 0.5 between consecutive epochs (BatchNorm's running statistics trailing
# weights that still moved fast), so the epoch kept was a lucky draw; with 4 epochs at 0.005 (up to version 2) the
# decoder stopped while it still painted a location prior on lesion-free images.
EVAL_PROTOCOLS.register("segmentation-demo", ShortSegmentationProtocol(
    name="segmentation-demo", version="4", max_epochs=10, patience=4, augment=False,
    decoder_channels=(32, 16, 8, 8, 8), min_epoch_images=256, max_epoch_images=256, learning_rate=0.002,
    lr_schedule="cosine", head_prior=0.1))


def kind_of(name: str) -> ProtocolKind:
    return PROTOCOL_KINDS.get(name)


def with_overrides(spec: ProtocolSpec, overrides: tuple[str, ...] | list[str]) -> ProtocolSpec:
    """Apply ``key=value`` overrides to a protocol spec; unknown keys are an error listing the known ones."""
    if not overrides:
        return spec
    items = [item.removeprefix("protocol.") for item in overrides]
    changed = apply_overrides(spec, items, frozen_keys=frozenset({"name", "kind", "overrides", "version"}))
    return replace(changed, overrides=tuple(sorted(overrides)))


def protocol_for(kind: str, name: str | None = None, overrides: tuple[str, ...] = ()) -> ProtocolSpec:
    """The evaluation protocol ``name`` (default: the kind's), checked to be of ``kind``, with ``overrides``."""
    spec = EVAL_PROTOCOLS.get(name or kind_of(kind).default_protocol)
    if spec.kind != kind:
        raise ConfigError(f"evaluation protocol {spec.name} is a {kind_of(spec.kind).title} protocol, not "
                          f"{kind_of(kind).title}")
    return with_overrides(spec, overrides)


def is_default(kind: str, name: str) -> bool:
    """Whether ``name`` is the default evaluation protocol of ``kind`` (tables leave defaults unnamed)."""
    return kind in PROTOCOL_KINDS and kind_of(kind).default_protocol == name


def describe(spec: ProtocolSpec) -> dict:
    return {f.name: getattr(spec, f.name) for f in fields(spec)}


__all__ = ["LINEAR_PROBE", "ZERO_SHOT", "SEGMENTATION", "LinearProbeProtocol", "ZeroShotProtocol",
           "SegmentationProtocol", "ShortSegmentationProtocol", "ProtocolSpec", "ProtocolJob", "ProtocolKind",
           "PROTOCOL_KINDS", "EVAL_PROTOCOLS", "kind_of", "protocol_for", "with_overrides", "is_default", "describe"]
