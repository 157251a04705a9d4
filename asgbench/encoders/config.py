"""The typed description of a registered image encoder, in the spirit of timm's pretrained cfg.

One frozen :class:`EncoderConfig` per registry entry says everything a protocol needs without building
the model: architecture, input contract, the linear-probe feature and its size, U-Net taps, the text
tower and zero-shot scorer, and how the released checkpoint's keys map onto the modules.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from asgbench.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

# Position ids a text tower can be run with. MGCA's and ASG's BertEncoder call BLIP's BertModel as
# ``model(ids, attn_mask, token_type, ...)`` whose third positional parameter is ``position_ids``: the all-zero
# token types put every token at position 0, in pre-training as in evaluation, so the released weights learned that.
TEXT_POSITIONS = ("sequential", "zeros")

# Table blocks, as in the ASG README: initialisations first, then CNN-based and ViT-based models.
INIT, CNN, VIT = "init", "CNN", "ViT"
GROUPS = (INIT, CNN, VIT)
# Which block a backbone architecture (a key of asgbench.encoders.backbones.BACKBONES) belongs to.
ARCHITECTURE_GROUPS = {"resnet50": CNN, "resnet18": CNN, "vit_base_patch16": VIT, "vit_tiny_patch16": VIT,
                       "swin_tiny": VIT}


GEOMETRIES = ("letterbox", "stretch", "shorter-side")
FILTERS = ("nearest", "bilinear", "bicubic")
# The transforms a run may ask for (``asgbench run --transform``): each entry's authors' own, or one shared by all.
TRANSFORMS = ("native", "standard")


@dataclass(frozen=True)
class InputSpec:
    """An entry's evaluation transform as its authors run it, applied to the images of a letterboxed store.

    Images come from a store of side ``store`` (longest side resized to it, zero-padded to a square; the index
    keeps each original shape, so the content box is known). ``geometry`` says which pixels the model sees:
    ``letterbox`` the padded square (with ``crop``, first the centre 224/256 of it: MGCA's CenterCrop(224) of
    the 256 image); ``stretch`` the content box resized to size x size, aspect not kept (``Resize([s, s])``);
    ``shorter-side`` the content's shorter side resized to ``resize_to``, then a centre crop of ``size``
    (``Resize(r)`` + ``CenterCrop(s)``). ``antialias`` True is PIL's resize of the uint8 image, which is what
    torchvision's Resize does to the PIL images the authors' pipelines hand it; False interpolates the float
    tensor without antialiasing (torchvision's Resize on tensors before 0.17; asgbench's former default).
    ``dataset_stats`` gives (dataset, mean, std) where the authors normalise each dataset with its own.
    """

    size: int = 224                  # side of the (square) model input
    mean: tuple[float, ...] = HALF
    std: tuple[float, ...] = HALF
    channels: int = 3                # grayscale replicated to this many channels
    crop: bool = True                # letterbox only: centre-crop 224/256 of the frame first (MGCA/ASG)
    geometry: str = "letterbox"
    filter: str = "bilinear"         # resampling filter of any resize
    antialias: bool = False
    resize_to: int = 0               # shorter-side only: the shorter side's length before the centre crop
    store: int = 256                 # side of the letterboxed store the images are read from
    dataset_stats: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = ()
    name: str = "native"             # which transform of the entry this is: native (its authors') or standard

    def __post_init__(self) -> None:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"input geometry must be one of {GEOMETRIES}, not {self.geometry!r}")
        if self.filter not in FILTERS:
            raise ValueError(f"input filter must be one of {FILTERS}, not {self.filter!r}")
        if self.crop and self.geometry != "letterbox":
            raise ValueError(f"crop applies to the letterbox geometry only, not {self.geometry!r}")
        if (self.geometry == "shorter-side") != (self.resize_to > 0) or 0 < self.resize_to < self.size:
            raise ValueError("resize_to (>= size) is set for the shorter-side geometry, and only there")

    def for_dataset(self, dataset: str) -> InputSpec:
        """The transform for one dataset: its own mean/std where the authors use per-dataset statistics."""
        for name, mean, std in self.dataset_stats:
            if name == dataset:
                return replace(self, mean=tuple(mean), std=tuple(std), dataset_stats=())
        return replace(self, dataset_stats=())

    def describe(self) -> dict:
        """A compact record of the transform, for result files and feature cache keys."""
        how = f"{self.filter}{', antialiased' if self.antialias else ''}"
        if self.geometry == "letterbox":
            side = round(self.store * 224 / 256) if self.crop else self.store
            steps = f"letterbox {self.store}" + (f", centre crop {side}" if self.crop else "")
            steps += "" if side == self.size else f", resized to {self.size} ({how})"
        elif self.geometry == "stretch":
            steps = f"content of the letterbox {self.store}, stretched to {self.size}x{self.size} ({how})"
        else:
            steps = (f"content of the letterbox {self.store}, shorter side resized to {self.resize_to} ({how}), "
                     f"centre crop {self.size}")
        return {"name": self.name, "store": self.store, "geometry": self.geometry, "crop": self.crop, "size": self.size,
                "resize_to": self.resize_to, "filter": self.filter, "antialias": self.antialias, "mean": list(self.mean),
                "std": list(self.std), "channels": self.channels,
                "dataset_stats": [[d, list(m), list(s)] for d, m, s in self.dataset_stats], "summary": steps}

    def select(self, transform: str, dataset: str) -> InputSpec:
        """The transform a run uses: ``native`` (this one) or ``standard``, for images of ``dataset``."""
        if transform not in TRANSFORMS:
            raise ConfigError(f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}")
        return (self if transform == "native" else self.standard()).for_dataset(dataset)

    def standard(self) -> InputSpec:
        """The shared transform for like-for-like comparisons: MGCA/ASG's letterbox 256 and centre crop 224 for
        every entry, bilinear; only the normalisation stays the entry's own (it belongs to the weights)."""
        return replace(self, size=224, crop=True, geometry="letterbox", filter="bilinear", antialias=False, resize_to=0,
                       store=256, name="standard")


@dataclass(frozen=True)
class KeyMap:
    """How one component's tensors are found in a checkpoint and renamed onto a module.

    ``container`` is the path of dict keys to the state dict (``("state_dict",)``, ``("model",)``, or empty
    for a plain state dict); keys starting with ``prefix`` are kept and the prefix stripped; ``renames`` are
    (regex, replacement) pairs applied in order; keys matching any ``drop`` regex (after renaming) are
    removed and listed in the report as dropped on purpose.
    """

    container: tuple[str, ...] = ()
    prefix: str = ""
    include: str | None = None       # regex the stripped name must match (e.g. one scalar at the top level)
    renames: tuple[tuple[str, str], ...] = ()
    drop: tuple[str, ...] = ()
    zero_fill: tuple[str, ...] = ()  # keys absent by design, filled with zeros (e.g. MGCA BERT's token types)


@dataclass(frozen=True)
class Component:
    """A part of the model loaded from the checkpoint: the backbone (required) or an optional head/tower."""

    name: str
    keys: KeyMap
    required: bool = True
    enables: tuple[str, ...] = ()    # features that need this component (e.g. "zero-shot")
    build: Callable[[dict[str, Any]], Any] | None = None  # module factory given the mapped tensors (None: the backbone)


SEGMENTATION_HEAD_KINDS = ("unet", "setr-pup", "upernet")


@dataclass(frozen=True)
class SegmentationHead:
    """The decoder the segmentation protocol puts on an encoder, as the model's authors evaluate it.

    ``kind`` "" leaves it to the architecture (MGCA's SETR-PUP on a plain ViT's last tokens, smp's U-Net on the
    tapped maps otherwise). ``blocks`` are the 0-based ViT blocks an UPerNet reads, outputs before the final norm.
    """

    kind: str = ""
    blocks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("", *SEGMENTATION_HEAD_KINDS):
            raise ValueError(f"segmentation head must be one of {SEGMENTATION_HEAD_KINDS}, not {self.kind!r}")
        if (self.kind == "upernet") != bool(self.blocks) or (self.blocks and len(self.blocks) != 4):
            raise ValueError("an upernet head reads exactly 4 ViT blocks (one per pyramid scale); other heads none")

    def describe(self) -> dict:
        return {"kind": self.kind, "blocks": list(self.blocks)}


# The heads by name, as a protocol may ask for one (``segmentation_head=upernet``). The UPerNet is MRM's: blocks 3, 5,
# 7, 11 (MRM Siim_Segmentation/configs/_base_/models/upernet_mrm.py, ``out_indices``).
SEGMENTATION_HEADS = {"unet": SegmentationHead("unet"), "setr-pup": SegmentationHead("setr-pup"),
                      "upernet": SegmentationHead("upernet", (3, 5, 7, 11))}


@dataclass(frozen=True)
class EncoderConfig:
    name: str
    architecture: str                 # a key of asgbench.encoders.backbones.BACKBONES
    input: InputSpec
    feature: str                      # what the linear probe reads, in words
    feature_dim: int
    taps: tuple[str, ...]             # feature maps fed to a U-Net decoder, shallow to deep
    components: tuple[Component, ...]
    zero_shot: str | None = None      # scorer name, or None when the model has no text side
    text_tower: str | None = None     # what the text side is, in words
    tokenizer: str | None = None      # tokenizer folder: beside the checkpoint, else under $ASGBENCH_WEIGHTS
    text_pooling: str = "cls"         # how the text tower's output becomes one vector: cls | medclip | mean
    text_positions: str = "sequential"  # the text tower's position ids: sequential (0, 1, 2, ...) or zeros (every
                                        # token at position 0: MGCA's and ASG's released code, see TEXT_POSITIONS)
    file_name: str | None = None      # expected checkpoint file under $ASGBENCH_WEIGHTS
    sha256: str | None = None
    paper: str = ""
    license: str = ""
    source: str = ""                  # where to obtain the weights
    backbone_options: dict = field(default_factory=dict)
    ignored: tuple[tuple[tuple[str, ...], str, str], ...] = ()  # (container, key regex, why) known-unused keys
    notes: str = ""
    provenance: dict = field(default_factory=dict)  # how asgbench trained it (objectives, alignment), for ablation tables
    group: str = ""                   # table block (INIT, CNN or VIT); "" -> the architecture's
    display_name: str = ""            # table row label; "" -> ``name``
    order: int = 1000                 # table row order (the ASG README's), smaller first
    checkpoint_config: str | None = None  # "module:function(config, path) -> config" for a file format that
                                          # describes itself (asgbench's own ASG exports)
    segmentation_head: SegmentationHead = SegmentationHead()  # the segmentation decoder; kind "": by architecture

    def __post_init__(self) -> None:
        if self.group and self.group not in GROUPS:
            raise ValueError(f"{self.name}: group must be one of {GROUPS}, not {self.group!r}")
        if self.text_positions not in TEXT_POSITIONS:
            raise ValueError(f"{self.name}: text_positions must be one of {TEXT_POSITIONS}, not {self.text_positions!r}")

    @property
    def needs_checkpoint(self) -> bool:
        return self.file_name is not None

    @property
    def table_group(self) -> str:
        return self.group or ARCHITECTURE_GROUPS.get(self.architecture, CNN)

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def table_metadata(self) -> dict:
        """What a result records so that tables need no registry: block, row label and row order."""
        return {"group": self.table_group, "display_name": self.label, "order": self.order}
