"""GLoRIA zero-shot: the mean of a global and a word-region local similarity, max over a class's prompts.

What GLoRIA's code (marshuang80/gloria at 416466a) computes, and this scorer repeats:

- image side (``ImageEncoder``, ``gloria/models/vision_model.py``): the input is upsampled bilinearly to
  299 x 299 (align_corners=True) inside the encoder; the *local* features are the layer3 map (1024 x 19 x 19)
  through ``local_embedder`` (a 1 x 1 convolution to 768, no bias); the *global* feature is the average-pooled
  layer4 output (2048) through ``global_embedder`` (Linear 2048 -> 768). The registry entry's backbone gives
  both (``local="layer3"``, ``upsample_to=299``).
- text side: :mod:`asgbench.tasks.scorers.gloria_text` (word embeddings per prompt, sentence embeddings).
- ``get_global_similarities``: cosine similarity (sklearn's) of image and sentence embeddings.
- ``get_local_similarities``: for prompt i with ``cap_lens[i]`` = n (its length in characters, see
  gloria_text), the word columns 1 .. n of its word embeddings (past the real words and ``[SEP]`` these are
  the zero padding) attend over the 19 x 19 region embeddings with ``attention_fn(word, context, 4.0)``
  (``gloria/loss/gloria_loss.py``): region-word dot products, softmax over the *words*, times 4, softmax over
  the regions, then the attention-weighted region context per word; each word's cosine with its context
  (eps 1e-8 on the product of norms) is aggregated as ``log(max_words(exp(5 * cosine)))``.
- ``get_similarities(similarity_type="both")``: (local + global) / 2, images x prompts.
- ``zero_shot_classification``: per class the max over its prompts, then ``utils.normalize`` (method
  "norm"): each class's column z-scored over the images scored together (numpy std, ddof 0), when there is
  more than one image.

The z-score is not applied inside :func:`build`'s scorer: the zero-shot protocol scores a split batch by
batch, and a z-score over a batch would make scores depend on batch size. Over a fixed set of images it is
an increasing affine map per class, so it leaves every per-class ranking (AUC) unchanged; :func:`normalize`
is GLoRIA's map, for applying it over a whole split. Similarities are computed in float32 even when the
backbone runs under autocast, as GLoRIA's code runs in float32.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from asgbench.errors import ConfigError
from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.gloria_text import WORD_NUM, character_count, embed_prompts
from asgbench.tasks.scorers.text import part, tokenizer_for

ATTENTION_TEMPERATURE = 4.0   # attention_fn(word, context, 4.0) in get_local_similarities (temp1)
WORD_TEMPERATURE = 5.0        # row_sim.mul_(5.0).exp_() in get_local_similarities (temp2)
EPS = 1e-8                    # gloria_loss.cosine_similarity


def image_embeddings(encoder, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``image_encoder_forward``: local region embeddings (B x 768 x 19 x 19) and global ones (B x 768), float32."""
    if getattr(encoder.backbone, "local", None) != "layer3":
        raise ConfigError(f"{encoder.config.name}: GLoRIA's local features are the layer3 map; the backbone's tokens "
                          f"come from {getattr(encoder.backbone, 'local', None)!r} (set backbone_options local='layer3')")
    features = encoder.encode(images)
    rows, cols = features.grid
    local_weight = part(encoder, "image_local_projection").weight.float()
    global_head = part(encoder, "image_global_projection")
    with torch.autocast(images.device.type, enabled=False):
        regions = features.tokens.float().transpose(1, 2).reshape(images.shape[0], -1, rows, cols)
        local = F.conv2d(regions, local_weight)
        global_ = F.linear(features.global_feature.float(), global_head.weight.float(), global_head.bias.float())
    return local, global_


def global_similarities(images: torch.Tensor, sentences: torch.Tensor) -> torch.Tensor:
    """sklearn ``cosine_similarity``: rows scaled to unit norm (a zero row stays zero), images x prompts."""
    def unit(x: torch.Tensor) -> torch.Tensor:
        norm = x.norm(dim=1, keepdim=True)
        return x / torch.where(norm == 0, torch.ones_like(norm), norm)

    return unit(images) @ unit(sentences).t()


def attention(query: torch.Tensor, context: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``attention_fn``: query B x D x W (words), context B x D x H x W' (regions).

    Returns the attention-weighted context per word (B x D x W) and the attention (B x W x regions).
    """
    batch = query.shape[0]
    context = context.reshape(batch, context.shape[1], -1)                       # B x D x R
    scores = torch.bmm(context.transpose(1, 2), query)                           # B x R x W
    over_words = scores.softmax(dim=-1).transpose(1, 2)                          # softmax over words, B x W x R
    over_regions = (over_words * temperature).softmax(dim=-1)                    # softmax over regions
    return torch.bmm(context, over_regions.transpose(1, 2)), over_regions


def _cosine(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """``gloria_loss.cosine_similarity`` along dim 1 (product of norms clamped at 1e-8)."""
    return (x1 * x2).sum(dim=1) / (x1.norm(dim=1) * x2.norm(dim=1)).clamp(min=EPS)


def local_similarities(regions: torch.Tensor, words: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """``get_local_similarities``: images x prompts, from regions (B x D x H x W) and words (P x D x 97)."""
    batch = regions.shape[0]
    columns = []
    for i, count in enumerate(lengths):
        word = words[i, :, 1 : count + 1].unsqueeze(0).expand(batch, -1, -1)    # B x D x n
        context, _ = attention(word, regions, ATTENTION_TEMPERATURE)
        similarity = _cosine(word.transpose(1, 2).reshape(batch * count, -1),
                             context.transpose(1, 2).reshape(batch * count, -1)).view(batch, count)
        columns.append(torch.log((similarity * WORD_TEMPERATURE).exp().max(dim=1).values))
    return torch.stack(columns, dim=1)


def normalize(scores: np.ndarray) -> np.ndarray:
    """GLoRIA's ``utils.normalize(method="norm")`` over images x classes, as ``zero_shot_classification``
    applies it when more than one image is scored: each column minus its mean over the images, divided by
    its (population) standard deviation."""
    scores = np.asarray(scores)
    if scores.shape[0] <= 1:
        return scores
    return (scores - scores.mean(axis=0)) / scores.std(axis=0)


def build(encoder, inputs: ScorerInputs) -> ClassScorer:
    tokenizer = tokenizer_for(encoder)
    prompts = {label: list(inputs.prompts.classes[label]["positive"]) for label in inputs.labels}
    texts = [p for label in inputs.labels for p in prompts[label]]
    lengths = [character_count(p) for p in texts]
    too_long = [p for p, n in zip(texts, lengths) if n > WORD_NUM - 1]
    if too_long:  # get_local_similarities would slice fewer than n word columns and fail to reshape
        raise ConfigError(f"GLoRIA scores a prompt's first len(prompt) word positions, at most {WORD_NUM - 1}: "
                          f"prompts too long for its code: {too_long}")
    words, sentences = embed_prompts(encoder, tokenizer, texts, inputs.device)
    spans, start = [], 0
    for label in inputs.labels:
        spans.append((start, start + len(prompts[label])))
        start += len(prompts[label])

    def similarities(images: torch.Tensor) -> torch.Tensor:
        """``get_similarities(..., "both")``: images x prompts."""
        with torch.inference_mode():
            regions, global_ = image_embeddings(encoder, images)
            with torch.autocast(images.device.type, enabled=False):
                return (local_similarities(regions, words, lengths) + global_similarities(global_, sentences)) / 2

    def score(images: torch.Tensor) -> torch.Tensor:
        both = similarities(images)
        return torch.stack([both[:, a:b].max(dim=1).values for a, b in spans], dim=1)

    return ClassScorer(score, {
        "similarity": "(local + global) / 2, max over a class's prompts",
        "attention_temperature": ATTENTION_TEMPERATURE, "word_temperature": WORD_TEMPERATURE,
        "max_length": WORD_NUM, "text_pooling": "gloria: last 4 layers summed, word pieces summed into words",
        "class_normalisation": "none per batch (GLoRIA z-scores each class over the images scored together; "
                               "ranking-preserving, see asgbench.tasks.scorers.gloria.normalize)",
        "prompts_per_class": {label: len(prompts[label]) for label in inputs.labels},
    })
