"""The DETR-style query decoder MedKLIP and KAD share, and what both scorers need around it.

Both methods run fixed queries (one embedded text per entity or disease) through 4 pre-norm decoder
layers (``normalize_before=True``: self-attention over the queries, cross-attention to the image patches,
a ReLU feed-forward of width 1024, each as ``x + f(norm(x))``), then a final LayerNorm, a linear head with
2 outputs per query, and score each query by the softmax weight of output 1. There are no positional
embeddings on either side, so a query's output depends on the whole query set but not on its order.

Parameter names are the released ones (``layers.<i>.self_attn.in_proj_weight``, ``linear1``, ``norm1`` ...),
so a checkpoint's tensors load strictly; the maths is that of torch.nn.MultiheadAttention, which the
authors' code calls.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from asgbench.errors import DataLayoutError, MissingDependencyError

FEEDFORWARD = 1024
HEADS = 4


class DecoderLayer(nn.Module):
    """One pre-norm decoder layer (dropout is off at evaluation, so it is left out)."""

    def __init__(self, width: int, heads: int = HEADS, feedforward: int = FEEDFORWARD) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.linear1 = nn.Linear(width, feedforward)
        self.linear2 = nn.Linear(feedforward, width)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        x = self.norm1(queries)
        queries = queries + self.self_attn(x, x, x, need_weights=False)[0]
        x = self.norm2(queries)
        queries = queries + self.multihead_attn(x, memory, memory, need_weights=False)[0]
        return queries + self.linear2(F.relu(self.linear1(self.norm3(queries))))


class DecoderLayers(nn.Module):
    """``layers.<i>`` as in the released ``decoder.*`` keys; the final norm is applied by the caller."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(width) for _ in range(depth))

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            queries = layer(queries, memory)
        return queries


def decoder_depth(state: dict[str, torch.Tensor], prefix: str = "decoder.layers.") -> int:
    indices = {int(key[len(prefix):].split(".")[0]) for key in state if key.startswith(prefix)}
    if not indices:
        raise DataLayoutError(f"the query decoder's tensors have no {prefix}* keys")
    return max(indices) + 1


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> nn.Module:
    """Load ``state`` into ``module`` with exactly matching names and shapes, or say what differs."""
    ours = module.state_dict()
    missing, unexpected = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    wrong = sorted(k for k in set(ours) & set(state) if ours[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise DataLayoutError(f"{what}: checkpoint tensors do not fit (missing {missing[:5]}, unexpected "
                              f"{unexpected[:5]}, wrong shape {wrong[:5]})")
    module.load_state_dict(state, strict=True)
    return module


def positive_class(outputs: torch.Tensor) -> torch.Tensor:
    """B x queries x 2 logits -> B x queries: softmax over the two outputs, weight of output 1."""
    return outputs.float().softmax(dim=-1)[..., 1]


def one_query_per_label(prompts, labels: tuple[str, ...], method: str) -> list[str]:
    """The single query text (entity or disease name) each label maps to, in label order."""
    queries = []
    for label in labels:
        texts = prompts.classes[label]["positive"]
        if len(texts) != 1:
            raise DataLayoutError(f"{method} prompts {prompts.family}/{prompts.version}: label {label!r} must name "
                                  f"exactly one query, found {texts}")
        queries.append(texts[0])
    return queries


def bert_from_folder(folder: Path, model_name: str):
    """A transformers BertModel from a local folder (config.json plus its weights), read offline."""
    from transformers import BertModel

    if not (folder / "config.json").is_file():
        raise MissingDependencyError(f"{model_name}: {folder} has no config.json; it must hold the BERT's config and weights")
    try:
        return BertModel.from_pretrained(str(folder), local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise MissingDependencyError(f"{model_name}: cannot load the BERT in {folder} ({str(exc).splitlines()[0]})") from exc

