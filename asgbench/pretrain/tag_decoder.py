"""The IRL image-tag recognition decoder: one query per tag attends over the image's local tokens.

Same design as the released ASG ``irl_model`` (itself KAD's query decoder): pre-norm transformer decoder
layers (self-attention between tag queries, cross-attention to the image tokens, ReLU FFN), a final
LayerNorm, dropout, and one shared Linear that turns each tag's output into one logit. The queries are not
learned: they are the [CLS] vectors of the tag phrases from a frozen text encoder, computed once
(``encode_tag_queries``) and held as a buffer so that a checkpoint is self-contained.

State-dict names (stable; the trainer stores them under ``irl.``): ``tag_queries``,
``query_projection.*`` and ``memory_projection.*`` (only when a width differs from the decoder's; identity
otherwise, which is the released layout), ``decoder.layers.{i}.{self_attn,multihead_attn,linear1,linear2,
norm1,norm2,norm3}.*``, ``decoder.norm.*``, ``mlp_head.0.*``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from asgbench.errors import ConfigError
from asgbench.vocab import ASG_TAGS

TAG_MAX_LENGTH = 128
INIT_STD = 0.02
INIT_SCHEMES = ("release", "fan-in")


@dataclass(frozen=True)
class TagDecoderConfig:
    """Decoder size; the defaults are the released ones (4 layers, width 768, 4 heads, FFN 1024, dropout 0.1)."""

    width: int = 768
    num_layers: int = 4
    num_heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    init: str = "release"   # "release": N(0, 0.02), tuned for width 768; "fan-in": N(0, 1/fan_in), any width

    def __post_init__(self) -> None:
        if self.init not in INIT_SCHEMES:
            raise ConfigError(f"tag decoder init must be one of {', '.join(INIT_SCHEMES)}, not {self.init!r}")
        if self.width <= 0 or self.num_layers <= 0 or self.num_heads <= 0 or self.ffn_dim <= 0:
            raise ConfigError(f"tag decoder sizes must be positive: {self}")
        if self.width % self.num_heads:
            raise ConfigError(f"tag decoder width {self.width} is not divisible by {self.num_heads} heads")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"tag decoder dropout must be in [0, 1), got {self.dropout}")


def _projection(in_dim: int, out_dim: int) -> nn.Module:
    """Identity when the widths already agree (as in the release), otherwise a Linear."""
    return nn.Identity() if in_dim == out_dim else nn.Linear(in_dim, out_dim)


class TagDecoder(nn.Module):
    """Tag queries T x Dq (frozen buffer) + image tokens B x N x C -> tag logits B x T."""

    def __init__(self, tag_queries: Tensor, memory_dim: int, config: TagDecoderConfig | None = None) -> None:
        super().__init__()
        config = config or TagDecoderConfig()
        if tag_queries.dim() != 2 or tag_queries.shape[0] == 0:
            raise ConfigError(f"tag_queries must be a non-empty T x D tensor, got {tuple(tag_queries.shape)}")
        self.config = config
        self.register_buffer("tag_queries", tag_queries.detach().clone().float())
        self.query_projection = _projection(tag_queries.shape[1], config.width)
        self.memory_projection = _projection(memory_dim, config.width)
        layer = nn.TransformerDecoderLayer(config.width, config.num_heads, dim_feedforward=config.ffn_dim,
                                           dropout=config.dropout, activation="relu", batch_first=True,
                                           norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.num_layers, norm=nn.LayerNorm(config.width))
        self.dropout = nn.Dropout(config.dropout)
        self.mlp_head = nn.Sequential(nn.Linear(config.width, 1))
        self.reset_parameters()

    @property
    def num_tags(self) -> int:
        return self.tag_queries.shape[0]

    def reset_parameters(self) -> None:
        """Linear weights and attention projections ~ N(0, std), biases left as built.

        "release" uses std 0.02, the released init for width 768. At a few hundred channels that std shrinks
        the attention path (value, then output projection) so far that the image barely reaches the logits
        for the first epochs; "fan-in" (std 1/sqrt(fan_in)) keeps every layer's output at its input's scale.
        """
        fan_in = self.config.init == "fan-in"
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=module.weight.shape[1] ** -0.5 if fan_in else INIT_STD)
            elif isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
                nn.init.normal_(module.in_proj_weight, std=module.in_proj_weight.shape[1] ** -0.5 if fan_in else INIT_STD)

    def forward(self, tokens: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """``tokens`` B x N x C image patch/local tokens (any N); ``padding_mask`` B x N, True = ignore."""
        if tokens.dim() != 3:
            raise ValueError(f"expected B x N x C image tokens, got {tuple(tokens.shape)}")
        memory = self.memory_projection(tokens)
        queries = self.query_projection(self.tag_queries.to(memory.dtype))
        queries = queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        decoded = self.decoder(queries, memory, memory_key_padding_mask=padding_mask)
        return self.mlp_head(self.dropout(decoded)).squeeze(-1)


def encode_tag_queries(text_model: nn.Module, tokenizer, tags: Sequence[str] = ASG_TAGS,
                       device: torch.device | str | None = None, max_length: int = TAG_MAX_LENGTH) -> Tensor:
    """Last-layer [CLS] vector of each tag phrase from a BERT-like ``transformers`` model -> T x hidden.

    Run once without gradients and in eval mode (no dropout), so the cached queries are deterministic; the
    model's train/eval mode is restored afterwards. The released code re-encodes the tags every step with
    dropout active; caching them is the deliberate, documented difference.
    """
    if not tags:
        raise ConfigError("no tag phrases to encode")
    device = torch.device(device) if device is not None else next(text_model.parameters()).device
    was_training = text_model.training
    text_model.eval()
    try:
        batch = tokenizer(list(tags), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        batch = {name: value.to(device) for name, value in batch.items()}
        with torch.no_grad():
            hidden = text_model(**batch).last_hidden_state
    finally:
        text_model.train(was_training)
    return hidden[:, 0].detach().float()


def embedding_tag_queries(text_model: nn.Module, tokenizer, tags: Sequence[str] = ASG_TAGS) -> Tensor:
    """Mean input word-piece embedding of each tag phrase -> T x hidden, for a text model nobody pre-trained.

    An untrained BERT's [CLS] output is the same vector for every phrase (cosine 0.9997 between all 40 tags,
    measured), so IRL's decoder could not tell its queries apart and learnt only the tags' base rate. The
    word-piece embeddings are distinct random vectors from the start, and tags sharing a word share a piece.
    Each vector is standardised (zero mean, unit variance over its entries), the scale of the LayerNorm'd
    [CLS] vectors the release uses: a raw embedding (entries ~ N(0, 0.02)) would vanish next to the image
    tokens in the decoder's residual stream, and every tag would read the same image summary.
    """
    if not tags:
        raise ConfigError("no tag phrases to encode")
    table = text_model.get_input_embeddings().weight.detach().float().cpu()
    special = set(getattr(tokenizer, "all_special_ids", []))
    rows = []
    for tag in tags:
        pieces = [i for i in tokenizer(tag, add_special_tokens=False)["input_ids"] if i not in special]
        if not pieces:
            raise ConfigError(f"tag {tag!r} has no word pieces in the tokenizer's vocabulary")
        rows.append(table[pieces].mean(0))
    vectors = torch.stack(rows)
    return (vectors - vectors.mean(1, keepdim=True)) / vectors.std(1, keepdim=True).clamp_min(1e-6)


@dataclass(frozen=True)
class TagQueries:
    """The tag phrases and their frozen query vectors, cached to disk so the big text encoder runs once."""

    tags: tuple[str, ...]
    vectors: Tensor

    def __post_init__(self) -> None:
        if self.vectors.dim() != 2 or self.vectors.shape[0] != len(self.tags):
            raise ConfigError(f"{len(self.tags)} tags but query vectors of shape {tuple(self.vectors.shape)}")

    @classmethod
    def encode(cls, text_model: nn.Module, tokenizer, tags: Sequence[str] = ASG_TAGS,
               device: torch.device | str | None = None) -> TagQueries:
        return cls(tuple(tags), encode_tag_queries(text_model, tokenizer, tags, device).cpu())

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"tags": list(self.tags), "vectors": self.vectors.cpu()}, path)
        return path

    @classmethod
    def load(cls, path: Path, tags: Sequence[str] | None = None) -> TagQueries:
        """Load a cache; with ``tags`` given, refuse a cache made for another tag list or order."""
        stored = torch.load(Path(path), map_location="cpu", weights_only=True)
        queries = cls(tuple(stored["tags"]), stored["vectors"])
        if tags is not None and tuple(tags) != queries.tags:
            raise ConfigError(f"tag query cache {path} was made for a different tag list")
        return queries
