"""The ASG model, backbone-agnostic: image encoder, report BERT with word aggregation, projection heads, IRL.

Any registered backbone works: ViT-B/16 (local features = the 14 x 14 patch grid), ResNet-50 (local
features = layer3 at whatever grid the input gives, which the released code cannot run), and small
backbones for CPU. The parts are named as asgbench's own ASG checkpoint stores them, so the trained model
exports straight into a file that ``create_encoder("asg-...", checkpoint=...)`` loads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from asgbench.encoders.backbones import build_backbone
from asgbench.encoders.heads import GlobalEmbedding, LocalEmbedding
from asgbench.errors import ConfigError
from asgbench.pretrain.config import TrainConfig
from asgbench.pretrain.tag_decoder import TagDecoder, TagDecoderConfig


@dataclass
class ModelOutput:
    image_global: Tensor      # B x E, unit norm
    patch_map: Tensor         # B x E x h x w, unit norm per position
    report_global: Tensor     # B x E, unit norm
    word_embeddings: Tensor   # B x W x E, unit norm (words, then [SEP], then zero padding)
    tag_logits: Tensor | None  # B x 40


def backbone_options(config: TrainConfig) -> dict:
    options: dict = {}
    if config.image.architecture.startswith("resnet"):
        options["local"] = "layer3"
        if config.image.upsample_to:
            options["upsample_to"] = config.image.upsample_to
        if config.image.width != 64:
            options["width"] = config.image.width
    elif config.image.architecture.startswith("vit"):
        options["pool"] = "token"
        if config.image.size != 224:
            options["img_size"] = config.image.size
    return options


INIT_ENTRIES = {"vit_base_patch16": "imagenet-vit", "resnet50": "imagenet-r50"}


def _init_tensors(architecture: str, weights: Path) -> tuple[str, dict[str, Tensor]]:
    """(registry entry, the file's backbone tensors named as the backbone names them), read through the entry's
    key map (DeiT-B/16's ``model`` container, its classifier dropped; torchvision's ``fc`` dropped)."""
    from asgbench.encoders import MODELS
    from asgbench.encoders.checkpoint_io import read_checkpoint
    from asgbench.encoders.loading import _container, map_keys

    entry = INIT_ENTRIES.get(architecture)
    if entry is None:
        raise ConfigError(f"image.init: no ImageNet weights are registered for image.architecture {architecture} "
                          f"(only {', '.join(INIT_ENTRIES)}); leave image.init unset to start it from random weights")
    keys = next(c for c in MODELS.get(entry).components if c.name == "backbone").keys
    state = _container(read_checkpoint(weights).content, keys.container, str(weights))
    return entry, map_keys(state, keys)[0]


def initialise_backbone(backbone: nn.Module, architecture: str, weights: Path) -> None:
    """Load ImageNet weights (DeiT-B/16 as ASG does, or torchvision's ResNet-50) through the registry's key maps,
    strictly (``init_problems`` says beforehand why a file would not load)."""
    _, tensors = _init_tensors(architecture, Path(weights))
    backbone.load_state_dict(tensors, strict=True)


def init_problems(config: TrainConfig) -> list[str]:
    """Why ``image.init`` cannot start ``image.architecture`` (none when it can), found before any work: the file
    is there, ImageNet weights are registered for the architecture, and the file's tensors, read through that
    entry's key map as ``initialise_backbone`` reads them, are every tensor of the backbone the config builds
    (``image.size`` included) at its shape. Reads the file; builds the backbone on the meta device only."""
    from asgbench.errors import AsgbenchError

    path, architecture = Path(config.image.init), config.image.architecture
    if not path.is_file():
        return [f"image.init: {path} is not a file (a weights file such as DeiT-B/16's deit_base_patch16_224-b5f2ef4d.pth)"]
    try:
        entry, tensors = _init_tensors(architecture, path)
    except AsgbenchError as exc:
        return [str(exc) if str(exc).startswith("image.init") else f"image.init: {exc}"]
    with torch.device("meta"):
        backbone = build_backbone(architecture, **backbone_options(config))
    expected = {k: tuple(v.shape) for k, v in backbone.state_dict().items()}
    missing = [k for k in expected if k not in tensors]
    wrong = [f"{k} {tuple(tensors[k].shape)} in the file, {shape} here" for k, shape in expected.items()
             if k in tensors and tuple(tensors[k].shape) != shape]
    if not missing and not wrong:
        return []
    found = [f"{len(missing)} of its {len(expected)} tensors missing (e.g. {', '.join(missing[:3])})"] if missing else []
    if wrong:
        found.append(f"{len(wrong)} of another shape ({'; '.join(wrong[:3])})")
    at_size = f" at image.size {config.image.size}" if architecture.startswith("vit") else ""
    return [f"image.init: {path} does not fit image.architecture {architecture}{at_size} "
            f"(read as {entry} reads its file: {', '.join(found)})"]


def build_text_encoder(config: TrainConfig, vocab_size: int) -> nn.Module:
    """The report BERT: the first N layers of a local BERT folder, or a BERT of the configured size."""
    from transformers import BertConfig, BertModel

    text = config.text
    if text.bert:
        folder = Path(text.bert)
        if not folder.is_dir():
            raise ConfigError(f"text.bert: {folder} is not a folder with a BERT (config.json + weights)")
        return BertModel.from_pretrained(str(folder), num_hidden_layers=text.layers, add_pooling_layer=False, local_files_only=True)
    bert_config = BertConfig(vocab_size=vocab_size, hidden_size=text.hidden, num_hidden_layers=text.layers,
                             num_attention_heads=text.heads, intermediate_size=text.intermediate,
                             max_position_embeddings=max(128, text.max_words + 16))
    return BertModel(bert_config, add_pooling_layer=False)


def aggregate_words(hidden: Tensor, word_slots: Tensor, slots: int) -> Tensor:
    """Sum sub-word token states into word slots (slot 0 = [CLS]); tokens with slot -1 are dropped.

    ``hidden`` B x T x H, ``word_slots`` B x T -> B x slots x H (unused slots are zero).
    """
    batch, _, width = hidden.shape
    keep = word_slots >= 0
    index = word_slots.clamp_min(0)
    out = hidden.new_zeros(batch, slots, width)
    return out.scatter_add(1, index.unsqueeze(-1).expand(-1, -1, width), hidden * keep.unsqueeze(-1).to(hidden.dtype))


# Tag logits start at a 5 % prior (most tags are absent from most reports), so that the first steps do not
# spend the backbone's gradient on pulling every logit down from 0 (RetinaNet's prior initialisation).
TAG_PRIOR_LOGIT = math.log(0.05 / 0.95)


class ASGModel(nn.Module):
    def __init__(self, config: TrainConfig, vocab_size: int, tag_queries: Tensor) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = build_backbone(config.image.architecture, **backbone_options(config))
        if config.image.init:
            initialise_backbone(self.image_encoder, config.image.architecture, Path(config.image.init))
        size = config.image.size
        with torch.no_grad():
            probe = self.image_encoder.eval()(torch.zeros(1, 3, size, size))
        self.image_encoder.train()
        self.grid = probe.grid
        token_dim, feature_dim = probe.tokens.shape[-1], probe.global_feature.shape[-1]
        model = config.model
        self.image_global = GlobalEmbedding(feature_dim, model.head_hidden, model.embed_dim)
        self.image_local = LocalEmbedding(token_dim, model.head_hidden, model.embed_dim)
        self.text_encoder = build_text_encoder(config, vocab_size)
        text_dim = self.text_encoder.config.hidden_size
        self.text_global = GlobalEmbedding(text_dim, model.head_hidden, model.embed_dim)
        self.text_local = LocalEmbedding(text_dim, model.head_hidden, model.embed_dim)
        tag_dim = self._tag_tokens(probe).shape[-1]
        width = tag_dim if tag_dim % model.irl_heads == 0 else model.irl_heads * max(1, tag_dim // model.irl_heads)
        if model.irl_head == "linear":
            self.irl = nn.Linear(feature_dim, tag_queries.shape[0])
            nn.init.constant_(self.irl.bias, TAG_PRIOR_LOGIT)
        else:
            self.irl = TagDecoder(tag_queries, tag_dim, TagDecoderConfig(width, model.irl_layers, model.irl_heads, model.irl_ffn,
                                                                         model.dropout, model.irl_init))
            if model.irl_init == "fan-in":
                nn.init.constant_(self.irl.mlp_head[0].bias, TAG_PRIOR_LOGIT)
        self.feature_dim = feature_dim
        self.token_dim = token_dim

    def forward(self, images: Tensor, input_ids: Tensor, attention_mask: Tensor, word_slots: Tensor,
                with_tags: bool = True) -> ModelOutput:
        features = self.image_encoder(images)
        image_global = F.normalize(self.image_global(features.global_feature), dim=-1)
        local = F.normalize(self.image_local(features.tokens), dim=-1)
        rows, cols = features.grid
        patch_map = local.transpose(1, 2).reshape(local.shape[0], -1, rows, cols)

        hidden = self.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        words = aggregate_words(hidden, word_slots, self.config.text.max_words)
        if self.config.text.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        else:
            pooled = words[:, 0]
        report_global = F.normalize(self.text_global(pooled), dim=-1)
        word_embeddings = F.normalize(self.text_local(words[:, 1:]), dim=-1)
        used = (words[:, 1:].abs().sum(-1, keepdim=True) > 0).to(word_embeddings.dtype)
        tag_logits = None
        if with_tags:
            tag_logits = self.irl(features.global_feature if self.config.model.irl_head == "linear" else self._tag_tokens(features))
        return ModelOutput(image_global, patch_map, report_global, word_embeddings * used, tag_logits)

    def _tag_tokens(self, features) -> Tensor:
        """What IRL attends to: the backbone's last map, as ViT's final patch tokens are in the released code.

        A ResNet's local tokens are layer3 (for ARSA, as in MGCA); reading IRL from layer3 as well would
        leave layer4, whose pooled output is the feature every downstream protocol uses, without the
        tag supervision. The map is layer-normalised over channels (no parameters), as a ViT's final tokens
        are: raw post-ReLU activations are all positive and of arbitrary scale.
        """
        stages = getattr(self.image_encoder, "stages", None)
        if stages and stages[-1] in features.maps and stages[-1] != getattr(self.image_encoder, "local", None):
            tokens = features.maps[stages[-1]].flatten(2).transpose(1, 2)
            return F.layer_norm(tokens, tokens.shape[-1:])
        return features.tokens

    def export_parts(self) -> dict[str, nn.Module]:
        """The modules as asgbench's own ASG checkpoint names them."""
        return {"image_encoder": self.image_encoder, "image_global": self.image_global, "image_local": self.image_local,
                "text_encoder": self.text_encoder, "text_global": self.text_global, "text_local": self.text_local,
                "irl": self.irl}
