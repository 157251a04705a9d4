"""ASG (Li et al., MICCAI 2024): the official ASG/MGCA Lightning layout, and asgbench's own ASG checkpoints.

The official code only runs ViT-B/16; its checkpoints hold MGCA's modules plus the IRL decoder and the frozen
tag BERT. asgbench's pre-training writes ``<name>.safetensors`` with a ``<name>.json`` config beside it; such
a file loads under any ``asg-*`` name, the JSON saying which backbone it was trained with.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from asgbench.encoders.config import HALF, IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, InputSpec
from asgbench.errors import DataLayoutError

from baselines.common import RESNET_TAPS, VIT_TAPS, backbone, bert, mgca_head
from baselines.mgca import MGCA_IGNORED, STATE, TEXT, mgca_components

OWN_FORMAT = "asgbench-asg"
PAPER = "Anatomical Structure-Guided Medical Vision-Language Pre-training (Li et al., MICCAI 2024)"
SOURCE = "github.com/ASGMVLP/ASGMVLP_CODE (pre-training code; train with `asgbench pretrain`)"
ASG_IGNORED = MGCA_IGNORED + ((STATE, r"^(irl|text_encoder)\.", "pre-training only (IRL tag decoder, frozen tag BERT)"),)
TAPS = {"resnet50": RESNET_TAPS, "resnet18": RESNET_TAPS, "vit_base_patch16": VIT_TAPS, "vit_tiny_patch16": VIT_TAPS}


class AsgEntry:
    """A registry entry whose config depends on the file: official layout, or asgbench's own format."""

    def __init__(self, default: EncoderConfig) -> None:
        self.default = default

    def __getattr__(self, item: str):
        return getattr(self.default, item)

    def resolve(self, checkpoint: str | Path | None, name: str | None = None) -> EncoderConfig:
        if checkpoint is None or Path(checkpoint).suffix != ".safetensors":
            return self.default
        sidecar = Path(checkpoint).with_suffix(".json")
        if not sidecar.is_file():
            raise DataLayoutError(f"{checkpoint}: asgbench ASG checkpoints come with a {sidecar.name} config beside them")
        meta = json.loads(sidecar.read_text())
        if meta.get("format") != OWN_FORMAT:
            raise DataLayoutError(f"{sidecar}: expected format {OWN_FORMAT!r}, found {meta.get('format')!r}")
        return own_config(name or self.default.name, meta)


def own_config(name: str, meta: dict) -> EncoderConfig:
    """The config of a checkpoint written by ``asgbench pretrain`` (keys ``image_encoder.*``, heads, text)."""
    architecture = meta["architecture"]
    spec = meta.get("input", {})
    return EncoderConfig(
        name=name, architecture=architecture, backbone_options=meta.get("backbone_options", {}),
        input=InputSpec(spec.get("size", 224), tuple(spec.get("mean", IMAGENET_MEAN)), tuple(spec.get("std", IMAGENET_STD)),
                        spec.get("channels", 3), spec.get("crop", True)),
        feature=meta.get("feature", "global feature of the pre-trained backbone"), feature_dim=int(meta["feature_dim"]),
        taps=TAPS.get(architecture, RESNET_TAPS),
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
        paper=PAPER, license="asgbench", source="trained with `asgbench pretrain`",
        ignored=(((), r"^(irl|tag_queries)\.", "pre-training only (IRL decoder, tag queries)"),),
        notes=f"asgbench pre-training: objectives {', '.join(meta.get('objectives', []))}",
        provenance={key: meta[key] for key in ("objectives", "arsa_alignment", "best_epoch", "val_loss") if key in meta},
    )


ASG_VIT = AsgEntry(EncoderConfig(
    name="asg-vit", architecture="vit_base_patch16", backbone_options={"pool": "token"},
    input=InputSpec(224, IMAGENET_MEAN, IMAGENET_STD),
    feature="ViT-B/16 [CLS] token after the final LayerNorm", feature_dim=768, taps=VIT_TAPS,
    components=mgca_components(), zero_shot="cosine", text_tower=TEXT, tokenizer="Bio_ClinicalBERT", file_name="asg_vit.ckpt",
    paper=PAPER, license="see the ASG repository", source=SOURCE, ignored=ASG_IGNORED,
))

ASG_R50 = AsgEntry(replace(
    ASG_VIT.default, name="asg-r50", architecture="resnet50", backbone_options={"upsample_to": 299, "local": "layer3"},
    feature="ResNet-50 layer4 global average pool (input upsampled to 299, as in MGCA)", feature_dim=2048,
    taps=RESNET_TAPS, file_name="asg_r50.ckpt",
))


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
