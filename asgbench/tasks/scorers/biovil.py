"""BioViL zero-shot, as hi-ml-multimodal's ImageTextInferenceEngine computes similarities.

Text (TextInferenceEngine): prompts lose trailing "!?.", are tokenised with padding to the longest, and the
projected [CLS] embeddings (CXR-BERT's ``cls_projection_head``, unnormalised) of one side are averaged and
then L2-normalised. Image (ImageInferenceEngine): the patch projector applied to layer4, averaged over
positions, L2-normalised. A class scores the softmax weight of its affirmed side over the two cosine
similarities at temperature ``TEMPERATURE``; hi-ml's engine stops at the cosines, and any temperature gives
the same ranking, hence the same AUC and the same val-chosen thresholds.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from asgbench.tasks.scorers import ClassScorer, ScorerInputs
from asgbench.tasks.scorers.text import part, tokenizer_folder

TEMPERATURE = 1.0


def build(encoder, inputs: ScorerInputs) -> ClassScorer:
    from transformers import BertTokenizer

    from baselines.biovil import load_text

    folder = tokenizer_folder(encoder)
    parts, report = load_text(folder, encoder.config.name)
    bert, head = parts["text"].to(inputs.device).eval(), parts["text_projection"].to(inputs.device).eval()
    tokenizer = BertTokenizer.from_pretrained(str(folder))   # hi-ml's CXRBertTokenizer is a BertTokenizer
    projector = part(encoder, "image_projection").eval()

    def side(prompts: list[str]) -> torch.Tensor:
        tokens = tokenizer([p.rstrip("!?.") for p in prompts], add_special_tokens=True, padding="longest", return_tensors="pt")
        with torch.inference_mode():
            hidden = bert(input_ids=tokens["input_ids"].to(inputs.device),
                          attention_mask=tokens["attention_mask"].to(inputs.device)).last_hidden_state
            return F.normalize(head(hidden[:, 0]).float().mean(0), dim=0)

    classes = inputs.prompts.classes
    affirmed = torch.stack([side(classes[label]["positive"]) for label in inputs.labels], dim=1)
    negated = torch.stack([side(classes[label]["negative"]) for label in inputs.labels], dim=1)

    def score(images: torch.Tensor) -> torch.Tensor:
        embedded = F.normalize(projector(encoder.encode(images).maps["layer4"]).float(), dim=-1)
        logits = torch.stack([embedded @ affirmed, embedded @ negated], dim=-1) / TEMPERATURE
        return logits.softmax(dim=-1)[..., 0]

    return ClassScorer(score, {"temperature": TEMPERATURE, "text_folder": str(folder), "text_sha256": report.sha256})
