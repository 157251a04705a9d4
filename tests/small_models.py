"""Small models written in asgbench's own ASG checkpoint format, for protocol tests that need a text tower.

Everything goes through the library's real paths: a WordPiece tokenizer trained on the suite's MIMIC
reports, a transformers BERT, MGCA-layout projection heads, and ``save_own_checkpoint``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from asgbench.data.datasets import read_index
from asgbench.encoders.backbones import build_backbone
from asgbench.encoders.heads import GlobalEmbedding, LocalEmbedding
from asgbench.encoders.text import load_tokenizer
from asgbench.encoders.tokenizer import train_wordpiece
from baselines.asg import save_own_checkpoint


def report_texts(suite: Path) -> list[str]:
    index = read_index("mimic", suite / "mimic")
    return [(suite / "mimic" / p).read_text() for p in index.frame["report"].dropna().unique()]


def write_small_asg(suite: Path, folder: Path, seed: int = 0) -> Path:
    """A random ResNet-18 + 2-layer BERT ASG checkpoint with its tokenizer beside it."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    vocabulary = len(load_tokenizer(train_wordpiece(report_texts(suite), folder / "tokenizer", vocab_size=600)))
    backbone = build_backbone("resnet18", local="layer3")
    bert = BertModel(BertConfig(vocab_size=vocabulary, hidden_size=64,
                                num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, max_position_embeddings=128),
                     add_pooling_layer=False)
    parts = {
        "image_encoder": backbone, "image_global": GlobalEmbedding(512, 64, 32), "image_local": LocalEmbedding(256, 64, 32),
        "text_encoder": bert, "text_global": GlobalEmbedding(64, 64, 32), "text_local": LocalEmbedding(64, 64, 32),
    }
    for module in parts.values():
        module.eval()
    meta = {"architecture": "resnet18", "feature_dim": 512, "backbone_options": {"local": "layer3"}, "tokenizer": "tokenizer",
            "input": {"size": 224, "mean": [0.5] * 3, "std": [0.5] * 3, "channels": 3, "crop": True}}
    return save_own_checkpoint(folder / "asg-small", parts, meta)
