"""MGCA / ASG zero-shot: prompt embeddings averaged per side, softmax over (affirmed, negated) similarities.

Every prompt is embedded with the text tower and its projection; the unit vectors of a class's affirmed
prompts are averaged and renormalised (likewise its negated ones). An image scores the softmax weight of
"affirmed" over its two cosine similarities at MGCA's temperature 0.07; a class without negated prompts
scores the affirmed similarity itself.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.text import projected_images, projected_texts, text_positions, tokenizer_for

TEMPERATURE = 0.07


def build(encoder, inputs: ScorerInputs) -> ClassScorer:
    tokenizer = tokenizer_for(encoder)
    positions = text_positions(encoder, inputs.text_positions)

    def side(texts: list[str]) -> torch.Tensor:
        return F.normalize(projected_texts(encoder, tokenizer, texts, inputs.device, positions=positions).mean(0), dim=0)

    affirmed = torch.stack([side(inputs.prompts.classes[label]["positive"]) for label in inputs.labels], dim=1)
    negated = [side(inputs.prompts.classes[label]["negative"]) if inputs.prompts.classes[label].get("negative") else None
               for label in inputs.labels]

    def score(images: torch.Tensor) -> torch.Tensor:
        embedded = projected_images(encoder, images)
        positive = embedded @ affirmed
        columns = []
        for j, negative in enumerate(negated):
            if negative is None:
                columns.append(positive[:, j])
            else:
                logits = torch.stack([positive[:, j], embedded @ negative], dim=1) / TEMPERATURE
                columns.append(logits.softmax(dim=1)[:, 0])
        return torch.stack(columns, dim=1)

    return ClassScorer(score, {"temperature": TEMPERATURE, "text_pooling": encoder.config.text_pooling,
                               "text_positions": positions, "text_positions_asked": inputs.text_positions})
