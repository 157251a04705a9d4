"""Zero-shot scorers: one per method, each computing class scores the way its authors' code does.

A model's config names its scorer (``EncoderConfig.zero_shot``); the scorer reads the method's own prompt
set (``asgbench/tasks/prompts/<family>/<dataset>.<version>.json``), embeds the class side once, and then
turns each batch of preprocessed images into one score per class (higher: more likely present). The
zero-shot protocol (:mod:`asgbench.tasks.zero_shot`) embeds every image of a split through it, picks
thresholds on val and scores test; nothing in a scorer looks at labels.

Adding a method: one module here with a factory ``build(encoder, inputs) -> ClassScorer`` and one
``SCORERS.register`` line below.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from asgbench.registry import Registry
from asgbench.tasks.scorers.prompts import PromptSet


@dataclass(frozen=True)
class ScorerInputs:
    """What a scorer may know before it sees an image: the task's classes, their prompts, the device, and the
    text tower's position ids the run asked for ("released": as the model's own code ran it; "sequential"; "zeros")."""

    labels: tuple[str, ...]
    prompts: PromptSet
    device: str
    text_positions: str = "released"


@dataclass(frozen=True)
class ClassScorer:
    """Scores a batch of preprocessed images (B x C x S x S) as B x classes; ``details`` go into the result."""

    score: Callable[[torch.Tensor], torch.Tensor]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorerEntry:
    """One method's zero-shot rule: where its code is, which prompt family it reads, what it does in words."""

    name: str
    factory: str                      # "module:function" with signature (encoder, ScorerInputs) -> ClassScorer
    prompt_family: str                # folder under asgbench/tasks/prompts/
    description: str

    def build(self, encoder, inputs: ScorerInputs) -> ClassScorer:
        import importlib

        module_name, _, attribute = self.factory.partition(":")
        return getattr(importlib.import_module(module_name), attribute)(encoder, inputs)


SCORERS: Registry[ScorerEntry] = Registry("zero-shot scorer")
SCORERS.register("cosine", ScorerEntry(
    "cosine", "asgbench.tasks.scorers.cosine:build", "generic",
    "MGCA / ASG: unit prompt embeddings averaged per side; softmax over (affirmed, negated) similarities at 0.07"))
SCORERS.register("medclip", ScorerEntry(
    "medclip", "asgbench.tasks.scorers.medclip:build", "medclip",
    "MedCLIP PromptClassifier: per class, max over its prompts of cosine x exp(clamp(logit_scale, 0, 4.6052))"))
SCORERS.register("gloria", ScorerEntry("gloria", "asgbench.tasks.scorers.gloria:build", "gloria", "GLoRIA: (word-region local + global cosine) / 2, max over a class's prompts"))
SCORERS.register("biovil", ScorerEntry("biovil", "asgbench.tasks.scorers.biovil:build", "biovil", "BioViL (hi-ml): projected [CLS] of each side averaged then normalised; softmax over (affirmed, negated) cosines"))
SCORERS.register("chexzero", ScorerEntry("chexzero", "asgbench.tasks.scorers.clip:build_chexzero", "chexzero", "CheXzero: CLIP prompt ensembles; softmax over unscaled cosines with '{}' vs 'no {}'"))
SCORERS.register("biomedclip", ScorerEntry("biomedclip", "asgbench.tasks.scorers.clip:build_biomedclip", "biomedclip", "BiomedCLIP (open_clip): softmax over exp(logit_scale) x cosines, 'this is a photo of {}' vs '... no {}'"))
SCORERS.register("medklip", ScorerEntry("medklip", "asgbench.tasks.scorers.medklip:build", "medklip", "MedKLIP: 75 entity-description queries (Bio_ClinicalBERT [CLS]) decoded against layer3 patches; softmax output 1 of the label's entity"))
SCORERS.register("kad", ScorerEntry("kad", "asgbench.tasks.scorers.kad:build", "kad", "KAD: disease-name queries (Med-KEBERT pooler + mlp_embed) through the TQN decoder; softmax output 1 per class"))

__all__ = ["SCORERS", "ScorerEntry", "ScorerInputs", "ClassScorer", "PromptSet"]
