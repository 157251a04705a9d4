"""ASG (Li et al., MICCAI 2024): the official ASG/MGCA Lightning layout, and asgbench's own ASG checkpoints.

The official code only runs ViT-B/16; its checkpoints hold MGCA's modules plus the IRL decoder and the frozen
tag BERT. asgbench's pre-training writes ``<name>.safetensors`` with a ``<name>.json`` config beside it that
names the backbone and the run's tag. As in timm's ``architecture.tag``, there is one entry per architecture
(``asg-vit``, ``asg-r50``, ``asg-r18``, ``asg-vit-tiny``) and a checkpoint's tag names its weights:
``asg-r18.full``. ``--model asg`` reads the architecture from the file and picks the entry.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from asgbench.encoders.config import IMAGENET_MEAN, IMAGENET_STD, INIT, EncoderConfig, InputSpec
from asgbench.errors import DataLayoutError

from baselines.common import RESNET_TAPS, VIT_TAPS, backbone, bert, mgca_head
from baselines.mgca import MGCA_IGNORED, POSITIONS, STATE, TEXT, mgca_components

OWN_FORMAT = "asgbench-asg"
PAPER = "Anatomical Structure-Guided Medical Vision-Language Pre-training (Li et al., MICCAI 2024)"
SOURCE = "github.com/ASGMVLP/ASGMVLP_CODE (pre-training code; train with `asgbench pretrain`)"
ASG_IGNORED = MGCA_IGNORED + ((STATE, r"^(irl|text_encoder)\.", "pre-training only (IRL tag decoder, frozen tag BERT)"),)
TAPS = {"resnet50": RESNET_TAPS, "resnet18": RESNET_TAPS, "vit_base_patch16": VIT_TAPS, "vit_tiny_patch16": VIT_TAPS}


def read_own_meta(checkpoint: Path) -> dict | None:
    """The config JSON beside an asgbench ASG export, or None for any other file (e.g. the official .ckpt)."""
    if Path(checkpoint).suffix != ".safetensors":
        return None
    sidecar = Path(checkpoint).with_suffix(".json")
    if not sidecar.is_file():
        raise DataLayoutError(f"{checkpoint}: asgbench ASG checkpoints come with a {sidecar.name} config beside them")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise DataLayoutError(f"{sidecar}: not a readable JSON config ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != OWN_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DataLayoutError(f"{sidecar}: expected format {OWN_FORMAT!r}, found {found!r}")
    if meta.get("architecture") not in ENTRY_OF_ARCHITECTURE:
        raise DataLayoutError(f"{sidecar}: architecture {meta.get('architecture')!r} is not one asgbench trains "
                              f"({', '.join(ENTRY_OF_ARCHITECTURE)})")
    return meta


def entry_for_checkpoint(checkpoint: Path | None) -> str:
    """The ``asg`` family: the registry entry a checkpoint's own architecture calls for (the released
    ViT-B/16 when no file is named or the file is in the official layout)."""
    meta = read_own_meta(checkpoint) if checkpoint is not None else None
    return ENTRY_OF_ARCHITECTURE[meta["architecture"]] if meta else "asg-vit"


def config_from_checkpoint(entry: EncoderConfig, checkpoint: Path) -> EncoderConfig:
    """The entry's config for this file: as registered for the official layout, or read from the JSON of an
    asgbench export, whose architecture must be the entry's."""
    meta = read_own_meta(checkpoint)
    if meta is None:
        if entry.file_name is None or not entry.file_name.endswith(".ckpt"):
            raise DataLayoutError(f"{checkpoint}: {entry.name} has no released checkpoint; expected an asgbench ASG "
                                  f"export (.safetensors with its .json beside it)")
        return entry
    wanted = ENTRY_OF_ARCHITECTURE[meta["architecture"]]
    if wanted != entry.name:
        raise DataLayoutError(f"{checkpoint}: holds a {meta['architecture']} ASG checkpoint, not {entry.architecture}; "
                              f"evaluate it as --model {wanted} (or --model asg, which reads the architecture from the file)")
    return own_config(entry, meta)


def own_config(entry: EncoderConfig, meta: dict) -> EncoderConfig:
    """The config of a checkpoint written by ``asgbench pretrain`` (keys ``image_encoder.*``, heads, text)."""
    architecture = meta["architecture"]
    spec = meta.get("input", {})
    untrained = meta.get("best_epoch") == 0
    return replace(
        entry, architecture=architecture, backbone_options=meta.get("backbone_options", {}),
        input=InputSpec(spec.get("size", 224), tuple(spec.get("mean", IMAGENET_MEAN)), tuple(spec.get("std", IMAGENET_STD)),
                        spec.get("channels", 3), spec.get("crop", True)),
        feature=meta.get("feature", "global feature of the pre-trained backbone"), feature_dim=int(meta["feature_dim"]),
        taps=TAPS[architecture],
        components=(
            backbone((), "image_encoder."),
            mgca_head((), "image_global.", "image_global_projection"),
            mgca_head((), "image_local.", "image_local_projection"),
            bert((), "text_encoder."),
            mgca_head((), "text_global.", "text_global_projection"),
            mgca_head((), "text_local.", "text_local_projection"),
        ),
        zero_shot="cosine", text_tower=meta.get("text_tower", "BERT report encoder + 128-d global head"),
        tokenizer=meta.get("tokenizer"), text_pooling=meta.get("text_pooling", "cls"),
        # asgbench's pre-training runs its BERT with sequential position ids (pretrain/model.py), unlike the release
        text_positions=meta.get("text_positions", "sequential"),
        paper=PAPER, license="asgbench", source="trained with `asgbench pretrain`", file_name=None, sha256=None,
        ignored=(((), r"^(irl|tag_queries)\.", "pre-training only (IRL decoder, tag queries)"),),
        notes=f"asgbench pre-training: objectives {', '.join(meta.get('objectives', []))}",
        provenance={key: meta[key] for key in ("objectives", "arsa_alignment", "best_epoch", "val_loss", "tag",
                                                     "seed", "recipe") if key in meta},
        group=INIT if untrained else "",   # an export before any training step is an initialisation
        checkpoint_config=None,
    )


def _entry(name: str, architecture: str, order: int, **fields) -> EncoderConfig:
    # the released code is MGCA's BertEncoder (models/encoder.py): every token at position 0, as in MGCA
    defaults = dict(paper=PAPER, license="see the ASG repository", source=SOURCE, taps=TAPS[architecture], zero_shot="cosine",
                    text_tower=TEXT, tokenizer="Bio_ClinicalBERT", text_positions=POSITIONS, ignored=ASG_IGNORED,
                    checkpoint_config="baselines.asg:config_from_checkpoint")
    return EncoderConfig(name=name, order=order, architecture=architecture, **{**defaults, **fields})


# ASG's validation transform (datasets/pretrain_dataset.py:102-105 of ASGMVLP_CODE): LongestMaxSize(256), PadIfNeeded(256)
# with zeros, CenterCrop(224), ImageNet Normalize; its downstream code is MGCA's (unreleased), the same geometry.
ASG_INPUT = InputSpec(224, IMAGENET_MEAN, IMAGENET_STD)

ASG_VIT = _entry(
    "asg-vit", "vit_base_patch16", 180, backbone_options={"pool": "token"}, input=ASG_INPUT,
    feature="ViT-B/16 [CLS] token after the final LayerNorm", feature_dim=768, components=mgca_components(),
    file_name="asg_vit.ckpt")
ASG_R50 = _entry(
    "asg-r50", "resnet50", 170, backbone_options={"upsample_to": 299, "local": "layer3"},
    input=ASG_INPUT,
    feature="ResNet-50 layer4 global average pool (input upsampled to 299, as in MGCA)", feature_dim=2048,
    components=mgca_components(), file_name="asg_r50.ckpt")
# Architectures only asgbench's own pre-training produces: their config is read from the export's JSON; like every
# asgbench export they run the text tower at sequential positions (own_config).
ASG_R18 = _entry(
    "asg-r18", "resnet18", 175, input=ASG_INPUT,
    feature="ResNet-18 global average pool", feature_dim=512, components=(), file_name="asg-r18.safetensors",
    text_positions="sequential",
    source="train it with `asgbench pretrain` (image.architecture=resnet18)")
ASG_VIT_TINY = _entry(
    "asg-vit-tiny", "vit_tiny_patch16", 185, backbone_options={"pool": "token"},
    input=ASG_INPUT,
    feature="ViT-Tiny/16 [CLS] token after the final LayerNorm", feature_dim=192, components=(), text_positions="sequential",
    file_name="asg-vit-tiny.safetensors", source="train it with `asgbench pretrain` (image.architecture=vit_tiny_patch16)")
ENTRY_OF_ARCHITECTURE = {"vit_base_patch16": "asg-vit", "resnet50": "asg-r50", "resnet18": "asg-r18",
                         "vit_tiny_patch16": "asg-vit-tiny"}


# The prefixes of asgbench's own ASG file, one per part; ``own_config`` above maps them back.
OWN_PARTS = {"image_encoder": "image_encoder.", "image_global": "image_global.", "image_local": "image_local.",
             "text_encoder": "text_encoder.", "text_global": "text_global.", "text_local": "text_local.", "irl": "irl."}


def save_own_checkpoint(path: str | Path, parts: dict, meta: dict) -> Path:
    """Write ``<path>.safetensors`` + ``<path>.json`` from modules named as in ``OWN_PARTS``.

    ``meta`` needs ``architecture`` and ``feature_dim``; ``tokenizer`` names a folder beside the file.
    """
    from safetensors.torch import save_file

    path = Path(path).with_suffix(".safetensors")
    unknown = set(parts) - set(OWN_PARTS)
    if unknown:
        raise ValueError(f"unknown ASG checkpoint parts {sorted(unknown)}; expected {sorted(OWN_PARTS)}")
    tensors = {}
    for name, module in parts.items():
        for key, value in module.state_dict().items():
            if key.endswith("position_ids"):
                continue
            tensors[OWN_PARTS[name] + key] = value.detach().cpu().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    path.with_suffix(".json").write_text(json.dumps({"format": OWN_FORMAT, **meta}, indent=2) + "\n")
    return path
