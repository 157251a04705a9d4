"""MedKLIP zero-shot (Wu et al., ICCV 2023), as Sample_zero-shot_Classification_CXR14/test.py computes it.

- Queries: the 75 entity descriptions of ``observation explanation.json`` (committed as
  ``prompts/medklip/entities.<version>.json``, in the order of the code's ``original_class`` list), tokenized
  as MedKLIP's own tokenizer does (``[CLS] X`` without [SEP], 64 tokens with padding, longer texts truncated),
  embedded once by Bio_ClinicalBERT as the [CLS] vector of its last layer, then ``disease_embedding_layer`` (768 -> 256). The released checkpoint holds no BERT and
  no query embeddings (the model computes them in ``__init__``), so a local Bio_ClinicalBERT folder (config,
  weights, vocab) is read from beside the checkpoint or ``$ASGBENCH_WEIGHTS/Bio_ClinicalBERT``.
- Image: ResNet-50 to layer3 (14 x 14 x 1024 at 224 px), each position through ``res_l1``, ReLU, ``res_l2``.
- All 75 queries go through the 4-layer pre-norm decoder against the 196 patch embeddings; ``decoder.norm``,
  then ``classifier`` (256 -> 2); softmax over the 2 outputs, weight of output 1.
- A task label's score is that of its entity (``prompts/medklip/<dataset>.<version>.json`` names one
  entity per label, e.g. ``pneumonia`` for RSNA's Pneumonia, ``tail_abnorm_obs`` for NIH's Fibrosis).
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources

import torch
from torch import nn
from torch.nn import functional as F

from asgbench.encoders.text import load_tokenizer
from asgbench.errors import ConfigError, DataLayoutError
from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.query_decoder import (DecoderLayers, bert_from_folder, decoder_depth, load_strict,
                                                  one_query_per_label, positive_class)
from asgbench.tasks.scorers.text import part, weights_folder

MAX_LENGTH = 64            # get_tokenizer in the zero-shot test scripts
BERT_FOLDER = "Bio_ClinicalBERT"


class MedKLIPHead(nn.Module):
    """Everything of the released ``module.*`` keys but the ResNet, under the released names."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        patch, width = state["res_l1.weight"].shape[1], state["res_l2.weight"].shape[0]
        self.res_l1, self.res_l2 = nn.Linear(patch, patch), nn.Linear(patch, width)
        self.disease_embedding_layer = nn.Linear(state["disease_embedding_layer.weight"].shape[1], width)
        self.cl_fc = nn.Linear(width, state["cl_fc.weight"].shape[0])   # contrastive head of pre-training, unused here
        self.decoder = DecoderLayers(width, decoder_depth(state))
        self.decoder.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, state["classifier.weight"].shape[0])
        load_strict(self, state, "medklip query decoder")

    def forward(self, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """Patch tokens B x N x 1024 and embedded queries Q x 256 -> logits B x Q x 2."""
        memory = self.res_l2(F.relu(self.res_l1(tokens)))
        out = self.decoder(queries.unsqueeze(0).expand(tokens.shape[0], -1, -1), memory)
        return self.classifier(self.decoder.norm(out))


def load_entities(version: str) -> tuple[list[str], list[str], str]:
    """Entity names and descriptions in MedKLIP's order, and the file's sha256."""
    source = resources.files("asgbench.tasks") / "prompts" / "medklip" / f"entities.{version}.json"
    if not source.is_file():
        raise ConfigError(f"no MedKLIP entity book prompts/medklip/entities.{version}.json")
    raw = source.read_bytes()
    entities = json.loads(raw)["entities"]
    return [name for name, _ in entities], [text for _, text in entities], hashlib.sha256(raw).hexdigest()


def entity_embeddings(encoder, descriptions: list[str], device: str) -> torch.Tensor:
    """[CLS] of Bio_ClinicalBERT's last layer for each description (75 x 768), as MedKLIP's __init__ does."""
    folder = weights_folder(encoder, BERT_FOLDER, "Bio_ClinicalBERT (config.json, its weights and vocab.txt) to "
                            "embed MedKLIP's entity descriptions")
    bert = bert_from_folder(folder, encoder.config.name).to(device)
    ids, mask = cls_only_tokens(load_tokenizer(folder), descriptions)
    with torch.inference_mode():
        out = bert(input_ids=ids.to(device), attention_mask=mask.to(device))
    return out.last_hidden_state[:, 0].float()


def cls_only_tokens(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids as MedKLIP's own BertTokenizer (models/tokenization_bert.py, from ALBEF) builds them: ``[CLS] X``
    with no [SEP], X truncated to MAX_LENGTH - 1 word pieces, padded to MAX_LENGTH."""
    pieces = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=MAX_LENGTH - 1)["input_ids"]
    ids = torch.full((len(texts), MAX_LENGTH), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(texts), MAX_LENGTH), dtype=torch.long)
    for row, text_ids in enumerate(pieces):
        ids[row, : len(text_ids) + 1] = torch.tensor([tokenizer.cls_token_id, *text_ids])
        mask[row, : len(text_ids) + 1] = 1
    return ids, mask


def build(encoder, inputs: ScorerInputs) -> ClassScorer:
    head = MedKLIPHead(part(encoder, "query_decoder").state_dict()).to(inputs.device).eval()
    names, descriptions, book_sha = load_entities(inputs.prompts.version)
    wanted = one_query_per_label(inputs.prompts, inputs.labels, "medklip")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise DataLayoutError(f"medklip prompts: {unknown} are not MedKLIP entities")
    index = torch.tensor([names.index(name) for name in wanted], device=inputs.device)
    with torch.inference_mode():
        queries = head.disease_embedding_layer(entity_embeddings(encoder, descriptions, inputs.device))

    def score(images: torch.Tensor) -> torch.Tensor:
        tokens = encoder.encode(images).tokens
        return positive_class(head(tokens, queries.to(tokens.dtype)))[:, index]

    return ClassScorer(score, {"queries": "entity descriptions via Bio_ClinicalBERT [CLS]", "entities": wanted,
                               "entity_book_sha256": book_sha, "max_length": MAX_LENGTH})
