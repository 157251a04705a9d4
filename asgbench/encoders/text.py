"""Text towers: transformers BERT models built offline, from a checkpoint's tensor shapes or a local folder.

Released checkpoints carry the text tower's weights but not its config; the shapes say everything a BERT
needs (vocabulary, width, depth, positions, token types), so the tower is built to fit and then loaded
strictly. Tokenizers come from a local folder (``$ASGBENCH_WEIGHTS/<name>/`` with vocab.txt or
tokenizer.json); nothing is fetched from a hub.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from asgbench.errors import DataLayoutError, MissingDependencyError


def bert_config_from_tensors(tensors: dict[str, torch.Tensor]):
    """A BertConfig whose shapes match ``tensors`` (keys as in transformers' BertModel)."""
    from transformers import BertConfig

    try:
        vocab, hidden = tensors["embeddings.word_embeddings.weight"].shape
        positions = tensors["embeddings.position_embeddings.weight"].shape[0]
    except KeyError as exc:
        raise DataLayoutError(f"text tower tensors lack {exc.args[0]!r}; cannot size the BERT") from exc
    layers = 1 + max(int(m.group(1)) for k in tensors if (m := re.match(r"encoder\.layer\.(\d+)\.", k)))
    intermediate = tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]
    token_types = tensors["embeddings.token_type_embeddings.weight"].shape[0] if "embeddings.token_type_embeddings.weight" in tensors else 2
    heads = max(1, hidden // 64)
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=intermediate, max_position_embeddings=positions, type_vocab_size=token_types)


def bert_from_tensors(tensors: dict[str, torch.Tensor]) -> nn.Module:
    """A BertModel sized from ``tensors``, with a pooler only if the tensors have one."""
    from transformers import BertModel

    return BertModel(bert_config_from_tensors(tensors), add_pooling_layer=any(k.startswith("pooler.") for k in tensors))


def load_tokenizer(folder: str | Path):
    """A tokenizer from a local folder (vocab.txt or tokenizer.json)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingDependencyError(f"{folder}: tokenizer folder not found (expected vocab.txt or tokenizer.json in it)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise DataLayoutError(f"{folder}: cannot load a tokenizer ({exc})") from exc


class Projection(nn.Module):
    """A named linear projection head (image or text side)."""

    def __init__(self, weight_shape: tuple[int, int], bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(weight_shape))
        self.bias = nn.Parameter(torch.empty(weight_shape[0])) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class Scalar(nn.Module):
    """A single learned scalar such as CLIP's ``logit_scale``."""

    def __init__(self, name: str = "logit_scale") -> None:
        super().__init__()
        self.register_parameter(name, nn.Parameter(torch.zeros(())))


def module_like(tensors: dict[str, torch.Tensor]) -> nn.Module:
    """A parameter container with exactly these names and shapes (heads kept for later use as-is)."""
    root = nn.Module()
    for name, value in tensors.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            if not hasattr(node, part):
                node.add_module(part, nn.Module())
            node = getattr(node, part)
        if leaf in ("running_mean", "running_var", "num_batches_tracked"):
            node.register_buffer(leaf, torch.zeros_like(value))
        else:
            node.register_parameter(leaf, nn.Parameter(torch.zeros_like(value)))
    return root
