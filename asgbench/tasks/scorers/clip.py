"""CLIP-style zero-shot (CheXzero, BiomedCLIP): per class, softmax over (affirmed, negated) scaled cosines.

Each side of a class is embedded as CLIP's prompt ensembling does (CheXzero's ``zeroshot_classifier``):
every prompt through ``encode_text``, each unit-normalised, averaged, normalised again. An image's unit
embedding (the tower's own projection of its pooled token) scores ``softmax(scale * [cos+, cos-])[0]``:
CheXzero's ``run_softmax_eval`` uses the raw cosines (scale 1) with "{}" vs "no {}"; BiomedCLIP's open_clip
recipe multiplies by ``logit_scale.exp()`` with "this is a photo of {}".
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.text import part, tokenizer_folder

CHEXZERO_CONTEXT = 77


def class_sides(embed: Callable[[list[str]], torch.Tensor], inputs: ScorerInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """(affirmed, negated) class embeddings, each D x classes, by CLIP's prompt ensembling."""
    def side(texts: list[str]) -> torch.Tensor:
        return F.normalize(F.normalize(embed(texts).float(), dim=-1).mean(0), dim=0)

    classes = inputs.prompts.classes
    missing = [label for label in inputs.labels if not classes[label].get("negative")]
    if missing:
        raise ValueError(f"prompt family {inputs.prompts.family}: the CLIP rule needs negated prompts for {missing}")
    affirmed = torch.stack([side(classes[label]["positive"]) for label in inputs.labels], dim=1)
    negated = torch.stack([side(classes[label]["negative"]) for label in inputs.labels], dim=1)
    return affirmed, negated


def image_embeddings(encoder, images: torch.Tensor) -> torch.Tensor:
    """Unit image embeddings: the open_clip tower's projection of its pooled token."""
    return F.normalize(encoder.backbone.project(encoder(images)).float(), dim=-1)


def _scorer(encoder, embed, inputs: ScorerInputs, scale: float, details: dict) -> ClassScorer:
    with torch.inference_mode():
        affirmed, negated = class_sides(embed, inputs)

    def score(images: torch.Tensor) -> torch.Tensor:
        embedded = image_embeddings(encoder, images)
        logits = scale * torch.stack([embedded @ affirmed, embedded @ negated], dim=-1)
        return logits.softmax(dim=-1)[..., 0]

    return ClassScorer(score, {"logit_scale": scale, **details})


def build_chexzero(encoder, inputs: ScorerInputs) -> ClassScorer:
    import open_clip

    tower = part(encoder, "text").eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")        # OpenAI's BPE (shipped inside open_clip), lower-cased

    def embed(texts: list[str]) -> torch.Tensor:
        return tower.encode_text(tokenizer(texts, context_length=CHEXZERO_CONTEXT).to(inputs.device))

    return _scorer(encoder, embed, inputs, 1.0, {"context_length": CHEXZERO_CONTEXT})


def biomedclip_tokenizer_folder(encoder) -> Path:
    """The hf-hub folder itself (its tokenizer files sit beside the weights), else the tokenizer folder."""
    if encoder.report.file and any((Path(encoder.report.file).parent / f).is_file() for f in ("vocab.txt", "tokenizer.json")):
        return Path(encoder.report.file).parent
    return tokenizer_folder(encoder)


def build_biomedclip(encoder, inputs: ScorerInputs) -> ClassScorer:
    from open_clip.tokenizer import HFTokenizer

    tower = part(encoder, "text").eval()
    text_cfg = encoder.config.backbone_options["model_cfg"]["text_cfg"]
    context = int(text_cfg.get("context_length", 256))
    tokenizer = HFTokenizer(str(biomedclip_tokenizer_folder(encoder)), context_length=context,
                            **text_cfg.get("tokenizer_kwargs", {}))
    scale = float(part(encoder, "logit_scale").logit_scale.detach().exp())

    def embed(texts: list[str]) -> torch.Tensor:
        return tower(tokenizer(texts).to(inputs.device))

    return _scorer(encoder, embed, inputs, scale, {"context_length": context})
