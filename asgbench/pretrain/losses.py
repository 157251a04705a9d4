"""The four ASG pre-training objectives, as the released training code computes them.

Pure functions on tensors, so the trainer, the tests and any ablation call the same arithmetic:

- ``ira_loss``: global image-report InfoNCE (CLIP style), sum of both directions.
- ``arsa_loss``: anatomical region-sentence InfoNCE *inside each image* (RoIAlign region vs mean word vector).
- ``irl_loss``: image-tag recognition, plain BCE on the tag decoder's logits (optionally leaving -1 entries out).
- ``erl_loss``: tag-based soft labels on the IRA logits, symmetric KL in both retrieval directions.

Conventions shared by all: every embedding handed in is already L2-normalised (the projection heads'
output after ``F.normalize``); tags are the 40-vector in {1, 0, -1} where only 1 counts as positive
(-1, "uncertain", counts as absent as in the release, unless ``irl_loss`` is told to mask it: the prepared data's
``hedged`` policy "ignore"); the temperature is fixed (0.07), not learned; negatives come from the local batch only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import roi_align

from asgbench.errors import ConfigError

DEFAULT_TEMPERATURE = 0.07
ERL_SELF_WEIGHT = 0.8
ERL_TAG_WEIGHT = 0.2
ERL_EPSILON = 1e-6
IGNORE_INDEX = -100


def _check_pair(image_global: Tensor, report_global: Tensor) -> None:
    if image_global.dim() != 2 or image_global.shape != report_global.shape:
        raise ValueError(f"expected two B x D embeddings of the same shape, got {tuple(image_global.shape)} "
                         f"and {tuple(report_global.shape)}")


def _positive_tags(tags: Tensor, dtype: torch.dtype) -> Tensor:
    """{1, 0, -1} -> {1, 0}: the released code treats 'uncertain' (-1) exactly like 'absent'."""
    return (tags == 1).to(dtype)


# ---------------------------------------------------------------------------------------------- IRA


def ira_loss(image_global: Tensor, report_global: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """Image-report alignment: CE(S, diag) + CE(S^T, diag) with S = V T^T / tau.

    The two directions are summed (not averaged), as in MGCA's ITA and ASG's IRA.
    """
    _check_pair(image_global, report_global)
    logits = image_global @ report_global.t() / temperature
    targets = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)


# --------------------------------------------------------------------------------------------- ARSA


def region_features(patch_map: Tensor, boxes: Tensor, box_valid: Tensor) -> Tensor:
    """RoIAlign each box to one vector: B x D x H x W map, B x K x 4 grid-unit boxes -> B x K x D.

    Output 1x1, spatial_scale 1, adaptive sampling, aligned=False (the released settings). Padded slots get a
    harmless dummy box so that garbage coordinates (-1 rows, NaN) never reach the kernel; their features are
    masked out of the loss anyway. The result is not re-normalised.
    """
    batch, slots = boxes.shape[:2]
    dummy = boxes.new_tensor([0.0, 0.0, 1.0, 1.0])
    safe_boxes = torch.where(box_valid.unsqueeze(-1), boxes, dummy).to(patch_map.dtype)
    pooled = roi_align(patch_map, list(safe_boxes.unbind(0)), output_size=1, spatial_scale=1.0,
                       sampling_ratio=-1, aligned=False)
    return pooled.reshape(batch, slots, -1)


def sentence_features(word_embeddings: Tensor, sentence_index: Tensor) -> Tensor:
    """Mean word vector of each slot's sentence: B x W x D words, B x K x S indices (-1 pad) -> B x K x D.

    Built as a (B x K x W) averaging matrix times the words, which avoids materialising B x K x S x D.
    A slot with no index gives the zero vector. Repeated indices count as often as they appear.
    """
    words = word_embeddings.shape[1]
    present = sentence_index >= 0
    if bool((sentence_index >= words).any()):
        raise ValueError(f"sentence_index points past the {words} word positions of word_embeddings")
    counts = torch.zeros(*sentence_index.shape[:2], words, dtype=word_embeddings.dtype, device=word_embeddings.device)
    counts.scatter_add_(2, sentence_index.long().clamp_min(0), present.to(word_embeddings.dtype))
    averaging = counts / counts.sum(dim=2, keepdim=True).clamp_min(1.0)
    return averaging @ word_embeddings


def arsa_loss(patch_map: Tensor, boxes: Tensor, box_valid: Tensor, word_embeddings: Tensor, sentence_index: Tensor,
              temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """Anatomical region-sentence alignment: an InfoNCE between each image's regions and their sentences.

    Shapes: ``patch_map`` B x D x H x W (any grid; L2-normalised per position), ``boxes`` B x K x 4
    ``(x1, y1, x2, y2)`` in that grid's units, ``box_valid`` B x K bool, ``word_embeddings`` B x W x D
    (L2-normalised; position 0 = first word, [CLS] removed), ``sentence_index`` B x K x S word positions
    (-1 = padding). Slot k of an image pairs box k with sentence k.

    Per image, the K x K logits region_k . sentence_l / tau are open only between two valid slots or two padded
    slots (so nothing is ever contrasted across images, and no row is all -inf); padded slots carry no target.
    Cross-entropy over rows (region -> sentence) plus over columns (sentence -> region), each averaged over all
    valid slots of the batch. A batch without any valid slot returns an exact zero that is still attached to the
    inputs' graph (the plain mean would be NaN).
    """
    if patch_map.dim() != 4 or boxes.dim() != 3 or boxes.shape[-1] != 4:
        raise ValueError(f"expected patch_map B x D x H x W and boxes B x K x 4, got {tuple(patch_map.shape)} "
                         f"and {tuple(boxes.shape)}")
    batch, slots = boxes.shape[:2]
    if box_valid.shape != (batch, slots) or sentence_index.shape[:2] != (batch, slots) \
            or word_embeddings.shape[0] != batch or patch_map.shape[0] != batch:
        raise ValueError("patch_map, boxes, box_valid, word_embeddings and sentence_index disagree on B or K")
    box_valid = box_valid.bool()
    regions = region_features(patch_map, boxes, box_valid)
    sentences = sentence_features(word_embeddings, sentence_index)
    logits = regions @ sentences.transpose(1, 2) / temperature  # B x K(region) x K(sentence)
    open_pairs = box_valid.unsqueeze(2) == box_valid.unsqueeze(1)
    logits = logits.masked_fill(~open_pairs, float("-inf"))

    own_slot = torch.arange(slots, device=logits.device).expand(batch, slots)
    targets = torch.where(box_valid, own_slot, torch.full_like(own_slot, IGNORE_INDEX)).reshape(-1)
    valid_count = box_valid.sum().clamp_min(1).to(logits.dtype)
    region_to_sentence = F.cross_entropy(logits.reshape(batch * slots, slots), targets,
                                         ignore_index=IGNORE_INDEX, reduction="sum")
    sentence_to_region = F.cross_entropy(logits.transpose(1, 2).reshape(batch * slots, slots), targets,
                                         ignore_index=IGNORE_INDEX, reduction="sum")
    return (region_to_sentence + sentence_to_region) / valid_count


# ---------------------------------------------------------------------------------------------- IRL


def irl_loss(tag_logits: Tensor, tags: Tensor, *, mask_uncertain: bool = False) -> Tensor:
    """Image-tag recognition: mean BCE-with-logits over B x C, tags in {1, 0, -1} with -1 counted as 0 (the
    release). ``mask_uncertain`` leaves the -1 entries out instead (mean over the others), so that the "ignore"
    hedged policy differs from "negative"; a batch with nothing but -1 entries then gives an attached zero."""
    if tag_logits.shape != tags.shape:
        raise ValueError(f"tag_logits {tuple(tag_logits.shape)} and tags {tuple(tags.shape)} differ in shape")
    targets = _positive_tags(tags, tag_logits.dtype)
    if not mask_uncertain:
        return F.binary_cross_entropy_with_logits(tag_logits, targets)
    return _masked_bce(tag_logits, targets, (tags != -1).to(tag_logits.dtype))


def _masked_bce(logits: Tensor, targets: Tensor, keep: Tensor) -> Tensor:
    """Mean BCE-with-logits over the entries where ``keep`` is 1."""
    per_entry = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (per_entry * keep).sum() / keep.sum().clamp_min(1.0)


# ---------------------------------------------------------------------------------------------- ERL


def erl_targets(tags: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Soft image-report targets from tags: row-L1-normalise(0.8 I + 0.2 G + 1e-6), B x C tags -> B x B.

    G is the cosine similarity of the binarised tag vectors (-1 -> 0); an image without any positive tag has a
    zero row and column in G (including G_bb = 0), so its target is mostly its own report.
    """
    # -1 -> 0 is right under every hedged policy, "ignore" included: G is built from positives only, and a 0 adds
    # nothing to a dot product or a norm, so an uncertain tag is already left out of the soft labels, exactly as
    # masking it would; only IRL, whose BCE scores every entry, needs ``mask_uncertain``.
    if tags.dim() != 2:
        raise ValueError(f"expected B x C tags, got {tuple(tags.shape)}")
    unit = F.normalize(_positive_tags(tags, dtype or torch.get_default_dtype()), dim=1)
    similarity = unit @ unit.t()
    eye = torch.eye(tags.shape[0], dtype=similarity.dtype, device=similarity.device)
    raw = ERL_SELF_WEIGHT * eye + ERL_TAG_WEIGHT * similarity + ERL_EPSILON
    return raw / raw.sum(dim=1, keepdim=True)


def _symmetric_kl(targets: Tensor, logits: Tensor) -> Tensor:
    """1/2 [KL(T || P) + KL(P || T)], P = softmax_row(logits); 'batchmean': sum over columns, mean over rows."""
    log_predicted = F.log_softmax(logits, dim=1)
    log_targets = targets.log()
    rows = logits.shape[0]
    forward = (targets * (log_targets - log_predicted)).sum() / rows
    backward = (log_predicted.exp() * (log_predicted - log_targets)).sum() / rows
    return 0.5 * (forward + backward)


def erl_loss(image_global: Tensor, report_global: Tensor, tags: Tensor,
             temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """Tag-based soft-label alignment on the IRA logits S = V T^T / tau.

    1/2 [symKL(T, softmax(S)) + symKL(T, softmax(S^T))] with the same targets T (``erl_targets``) for the
    image->report and report->image directions; gradients flow through the predictions in both KL terms.
    """
    _check_pair(image_global, report_global)
    if tags.shape[0] != image_global.shape[0]:
        raise ValueError(f"tags have {tags.shape[0]} rows for a batch of {image_global.shape[0]}")
    logits = image_global @ report_global.t() / temperature
    targets = erl_targets(tags, logits.dtype)
    return 0.5 * (_symmetric_kl(targets, logits) + _symmetric_kl(targets, logits.t()))


# ---------------------------------------------------------------------------------------------- total


@dataclass(frozen=True)
class LossWeights:
    """Weights of the total loss; the released code runs 1, 1, 5, 1 (for training and validation alike)."""

    ira: float = 1.0
    arsa: float = 1.0
    irl: float = 5.0
    erl: float = 1.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def weight(self, name: str) -> float:
        if name not in self.names():
            raise ConfigError(f"unknown loss {name!r}; known: {', '.join(self.names())}")
        return float(getattr(self, name))


def total_loss(parts: dict[str, Tensor], weights: LossWeights, enabled: set[str]) -> Tensor:
    """Weighted sum of the enabled parts (the ablations switch losses off by leaving them out of ``enabled``).

    Parts that are present but not enabled are ignored (the trainer may still log them). Summed in a fixed
    order so that the result is bit-for-bit reproducible.
    """
    if not enabled:
        raise ConfigError("no loss is enabled")
    unknown = sorted(set(enabled) - set(LossWeights.names()))
    if unknown:
        raise ConfigError(f"unknown losses {unknown}; known: {', '.join(LossWeights.names())}")
    missing = sorted(name for name in enabled if name not in parts)
    if missing:
        raise ValueError(f"enabled losses {missing} were not computed")
    ordered = [name for name in LossWeights.names() if name in enabled]
    total = weights.weight(ordered[0]) * parts[ordered[0]]
    for name in ordered[1:]:
        total = total + weights.weight(name) * parts[name]
    return total
