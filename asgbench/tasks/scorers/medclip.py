"""MedCLIP zero-shot: its ``PromptClassifier``, class score = max over the class's prompts of scaled cosines.

What MedCLIP's code (RyanWangZf/MedCLIP, ``medclip/modeling_medclip.py`` and ``medclip/prompts.py``) does,
and this scorer repeats:

- prompts are tokenised one class at a time, all of that class's prompts in one call, cut at 77 tokens and
  padded to the longest prompt of the class (``process_class_prompts``: ``model_max_length = 77``,
  ``truncation=True, padding=True``);
- the text tower's output is the mean over every token position (padding included: no mask in the pooling)
  of the mean of hidden states 1, 2 and the last one, projected to 512 and L2-normalised (config
  ``text_pooling="medclip"``, done in :func:`asgbench.tasks.scorers.text.pooled_text`); because padding is
  pooled, a prompt's embedding depends on the longest prompt of its class, which is why classes are
  tokenised separately here too;
- images go through the vision tower and its projection, L2-normalised;
- ``compute_logits``: cosine x exp(logit_scale), with logit_scale clamped to [0, 4.6052] first (so the
  scale is at most 100);
- ``PromptClassifier``: per class, the max over its prompts of those logits (``ensemble=False``, the
  classifier's default and what ``examples/run_medclip_pretrain.py`` evaluates zero-shot with), or their
  mean (``ensemble=True``, the README's usage example). :data:`REDUCTION` is the default; ``build`` takes
  the other as ``reduction="mean"``.

MedCLIP's evaluator then applies a sigmoid (one class) or an argmax (several); both are monotonic per
class, so the zero-shot protocol scores the logits themselves and picks thresholds on val.
"""
from __future__ import annotations

import torch

from asgbench.errors import ConfigError
from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.text import part, projected_images, projected_texts, text_positions, tokenizer_for

MAX_LENGTH = 77                      # MedCLIP sets tokenizer.model_max_length = 77
LOGIT_SCALE_RANGE = (0.0, 4.6052)    # compute_logits clamps logit_scale to this range before exp
REDUCTION = "max"                    # PromptClassifier(model): ensemble=False
REDUCTIONS = ("max", "mean")


def logit_scale(encoder) -> torch.Tensor:
    """exp(clamp(logit_scale)) as MedCLIP's ``compute_logits`` uses it (the module itself is left as it is)."""
    value = part(encoder, "logit_scale").logit_scale.detach().float()
    return value.clamp(*LOGIT_SCALE_RANGE).exp()


def build(encoder, inputs: ScorerInputs, reduction: str = REDUCTION) -> ClassScorer:
    if reduction not in REDUCTIONS:
        raise ConfigError(f"MedCLIP scorer: reduction {reduction!r} is not one of {REDUCTIONS}")
    if encoder.config.text_pooling != "medclip":
        raise ConfigError(f"{encoder.config.name}: the MedCLIP scorer needs text_pooling='medclip', "
                          f"the config says {encoder.config.text_pooling!r}")
    tokenizer = tokenizer_for(encoder)
    positions = text_positions(encoder, inputs.text_positions)
    prompts = {label: inputs.prompts.classes[label]["positive"] for label in inputs.labels}
    # one tokenizer call per class: padding (which the pooling includes) goes to that class's longest prompt
    texts = [projected_texts(encoder, tokenizer, prompts[label], inputs.device, MAX_LENGTH, positions) for label in inputs.labels]
    scale = logit_scale(encoder).to(inputs.device)

    def score(images: torch.Tensor) -> torch.Tensor:
        embedded = projected_images(encoder, images)
        columns = []
        for text in texts:
            logits = (embedded @ text.t()) * scale          # images x prompts of one class
            columns.append(logits.max(dim=1).values if reduction == "max" else logits.mean(dim=1))
        return torch.stack(columns, dim=1)

    return ClassScorer(score, {
        "reduction": reduction, "logit_scale": float(scale), "max_length": MAX_LENGTH,
        "prompts_per_class": {label: len(prompts[label]) for label in inputs.labels},
        "text_pooling": encoder.config.text_pooling, "text_positions": positions, "text_positions_asked": inputs.text_positions,
    })
