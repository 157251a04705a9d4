"""The typed description of a registered image encoder, in the spirit of timm's pretrained cfg.

One frozen :class:`EncoderConfig` per registry entry says everything a protocol needs without building
the model: architecture, input contract, the linear-probe feature and its size, U-Net taps, the text
tower and zero-shot scorer, and how the released checkpoint's keys map onto the modules.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class InputSpec:
    """How canonical 256 x 256 uint8 images become the model's input tensor."""

    size: int = 224                  # centre crop taken from the letterboxed 256 image, then resized if needed
    mean: tuple[float, ...] = HALF
    std: tuple[float, ...] = HALF
    channels: int = 3                # grayscale replicated to this many channels
    crop: bool = True                # centre-crop 224/256 of the letterboxed image (MGCA/ASG); False: resize it whole


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
