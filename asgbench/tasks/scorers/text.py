"""What most scorers share: finding a model's parts and tokenizer, and running its BERT text tower."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.nn import functional as F

from asgbench.config import WEIGHTS_ENV
from asgbench.encoders.config import TEXT_POSITIONS
from asgbench.encoders.model import Encoder
from asgbench.encoders.text import load_tokenizer
from asgbench.errors import ConfigError, MissingDependencyError


def part(encoder: Encoder, *names: str):
    """The first of ``names`` the checkpoint provided, on the encoder's device."""
    for name in names:
        if name in encoder.parts:
            return encoder.parts[name]
    raise ConfigError(f"{encoder.config.name}: none of the parts {names} were loaded; zero-shot needs them")


def weights_folder(encoder: Encoder, name: str, what: str) -> Path:
    """``name`` beside the checkpoint (asgbench's own ASG files keep their tokenizer there), else under
    ``$ASGBENCH_WEIGHTS``; a one-line error saying what the folder must hold when neither has it."""
    candidates = []
    if encoder.report.file:
        candidates.append(Path(encoder.report.file).parent / name)
    if os.environ.get(WEIGHTS_ENV):
        candidates.append(Path(os.environ[WEIGHTS_ENV]) / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    where = ", ".join(map(str, candidates)) or f"${WEIGHTS_ENV}, which is not set"
    raise MissingDependencyError(f"{encoder.config.name}: zero-shot needs {what} in a folder {name!r} (looked in {where})")


def tokenizer_folder(encoder: Encoder) -> Path:
    name = encoder.config.tokenizer
    if not name:
        raise ConfigError(f"{encoder.config.name}: its config names no tokenizer, so prompts cannot be encoded")
    return weights_folder(encoder, name, "the tokenizer files (vocab.txt or tokenizer.json)")


def tokenizer_for(encoder: Encoder):
    return load_tokenizer(tokenizer_folder(encoder))


def tokenize(encoder: Encoder, tokenizer, texts: list[str], device: str, max_length: int = 128) -> dict[str, torch.Tensor]:
    """Padded token ids for the text tower (no token types where the tower has a single type)."""
    tower = part(encoder, "text")
    limit = getattr(getattr(tower, "config", None), "max_position_embeddings", 512)
    tokens = dict(tokenizer(texts, padding=True, truncation=True, max_length=min(limit, max_length), return_tensors="pt"))
    if getattr(tower.config, "type_vocab_size", 2) < 2:
        tokens.pop("token_type_ids", None)
    return {key: value.to(device) for key, value in tokens.items()}


# What a zero-shot run may ask of the text tower's position ids: "released" runs it as the model's own code
# did (EncoderConfig.text_positions: all zeros for MGCA and ASG), "sequential" the textbook 0, 1, 2, ...
# (the corrected behaviour), "zeros" every token at position 0 whatever the model.
POSITION_CHOICES = ("released",) + TEXT_POSITIONS


def text_positions(encoder: Encoder, requested: str = "released") -> str:
    """The position ids the text tower runs with for a run that asked for ``requested``."""
    if requested not in POSITION_CHOICES:
        raise ConfigError(f"text_positions must be one of {', '.join(POSITION_CHOICES)}, not {requested!r}")
    positions = encoder.config.text_positions if requested == "released" else requested
    if positions not in TEXT_POSITIONS:
        raise ConfigError(f"{encoder.config.name}: unknown text_positions {positions!r}")
    return positions


def pooled_text(encoder: Encoder, tokens: dict[str, torch.Tensor], positions: str = "released") -> torch.Tensor:
    """One vector per text, pooled as the model's config says (cls | medclip | mean); ``positions`` as in
    :func:`text_positions` ("zeros" puts every token at position 0, as MGCA's and ASG's released code did)."""
    tower = part(encoder, "text").eval()
    pooling = encoder.config.text_pooling
    extra = {}
    if text_positions(encoder, positions) == "zeros":
        extra["position_ids"] = torch.zeros_like(tokens["input_ids"])
    with torch.inference_mode():
        out = tower(**tokens, **extra, output_hidden_states=pooling == "medclip")
        if pooling == "medclip":   # MedCLIP: mean over tokens of the mean of hidden states 1, 2 and last
            hidden = out.hidden_states
            return torch.stack([hidden[1], hidden[2], hidden[-1]]).mean(dim=(0, 2))
        if pooling == "mean":      # asgbench pre-training with text.pooling=mean
            mask = tokens["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            return (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return out.last_hidden_state[:, 0]


def projected_texts(encoder: Encoder, tokenizer, texts: list[str], device: str, max_length: int = 128,
                    positions: str = "released") -> torch.Tensor:
    """Unit-norm text embeddings in the joint space."""
    projection = part(encoder, "text_global_projection", "text_projection").eval()
    with torch.inference_mode():
        pooled = pooled_text(encoder, tokenize(encoder, tokenizer, texts, device, max_length), positions)
        return F.normalize(projection(pooled).float(), dim=-1)


def projected_images(encoder: Encoder, images: torch.Tensor) -> torch.Tensor:
    """Unit-norm image embeddings in the joint space, from preprocessed images."""
    projection = part(encoder, "image_global_projection", "image_projection").eval()
    with torch.inference_mode():
        return F.normalize(projection(encoder(images)).float(), dim=-1)
