"""Protocol specs: the hyper-parameters of each evaluation protocol, the same for every encoder.

A spec is frozen and versioned; its name and version go into every result. ``with_overrides`` applies
dotted ``key=value`` overrides (typed by the field they replace, never evaluated), and an overridden spec
records them, so a shortened test run can never pass for the real protocol.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from asgbench.config import with_overrides as apply_overrides
from asgbench.errors import ConfigError
from asgbench.registry import Registry


@dataclass(frozen=True)
class LinearProbeProtocol:
    """Linear head on cached, frozen features; lr x weight decay chosen on val; early stopping on val."""

    name: str = "linear-probe"
    version: str = "1"
    kind: str = "linear_probe"
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
    """Prompt embeddings against image embeddings over the whole split; thresholds from val."""

    name: str = "zero-shot"
    version: str = "1"
    kind: str = "zero_shot"
    prompts: str = "v1"               # the prompt-set version (asgbench/tasks/prompts/<task>.<version>.json)
    batch_size: int = 64
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentationProtocol:
    """U-Net (or SETR-PUP for ViTs) on the encoder's maps; 10 focal - log Dice; early stopping on val Dice."""

    name: str = "segmentation"
    version: str = "1"
    kind: str = "segmentation"
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
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    min_epoch_images: int = 0         # an epoch repeats a short training list (in fresh orders) to at least this many
                                      # images, so a 1 % list of a small dataset still gets enough decoder updates
    head_prior: float = 0.0           # > 0: the output bias starts at this pixel probability (RetinaNet's focal-loss
                                      # init); 0: the default init, where every pixel starts at 0.5
    threshold_on_val: bool = False    # True: each epoch's val Dice is the best over thresholds 0.05, 0.10, ... 0.95, and the
                                      # test split is scored at the best epoch's; False: ``threshold`` (MGCA's 0.5)
    max_epoch_images: int = 0         # an epoch of a longer list is a fresh random subset of this many images (0: all),
                                      # so a run's cost no longer grows with its label fraction
    overrides: tuple[str, ...] = ()


ProtocolSpec = LinearProbeProtocol | ZeroShotProtocol | SegmentationProtocol

PROTOCOL_VARIANTS: Registry[ProtocolSpec] = Registry("protocol variant")
PROTOCOL_VARIANTS.register("linear-probe", LinearProbeProtocol())
# MGCA's finetuner, for comparison with published numbers: raw features, AdamW 5e-4 / 1e-6, batch 48,
# at most 50 epochs, early stopping on val loss with patience 10, no grid.
PROTOCOL_VARIANTS.register("mgca-linear-probe", LinearProbeProtocol(
    name="mgca-linear-probe", learning_rates=(5e-4,), weight_decays=(1e-6,), batch_size=48, max_epochs=50,
    patience=10, standardize=False, select_on="loss"))
PROTOCOL_VARIANTS.register("zero-shot", ZeroShotProtocol())
PROTOCOL_VARIANTS.register("segmentation", SegmentationProtocol())

DEFAULT_VARIANT = {"linear_probe": "linear-probe", "zero_shot": "zero-shot", "segmentation": "segmentation"}


def with_overrides(spec: ProtocolSpec, overrides: tuple[str, ...] | list[str]) -> ProtocolSpec:
    """Apply ``key=value`` overrides to a protocol spec; unknown keys are an error listing the known ones."""
    if not overrides:
        return spec
    items = [item.removeprefix("protocol.") for item in overrides]
    changed = apply_overrides(spec, items, frozen_keys=frozenset({"name", "kind", "overrides", "version"}))
    return replace(changed, overrides=tuple(sorted(overrides)))


def protocol_for(kind: str, variant: str | None = None, overrides: tuple[str, ...] = ()) -> ProtocolSpec:
    spec = PROTOCOL_VARIANTS.get(variant or DEFAULT_VARIANT[kind])
    if spec.kind != kind:
        raise ConfigError(f"protocol variant {spec.name} is a {spec.kind} protocol, not {kind}")
    return with_overrides(spec, overrides)


def describe(spec: ProtocolSpec) -> dict:
    return {f.name: getattr(spec, f.name) for f in fields(spec)}


__all__ = ["LinearProbeProtocol", "ZeroShotProtocol", "SegmentationProtocol", "ProtocolSpec", "PROTOCOL_VARIANTS",
           "protocol_for", "with_overrides", "describe"]
