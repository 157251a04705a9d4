"""Zero-shot classification: versioned prompt files, the model's text tower, scores over the whole split.

Each class has affirmed and negated prompts (``asgbench/tasks/prompts/<dataset>.<version>.json``). The
"cosine" scorer (MGCA, ASG, MedCLIP) embeds every prompt with the text tower and its projection, averages
the unit vectors per side, and scores an image by a softmax over (affirmed, negated) similarities. All
images of a split are embedded first and scored together: nothing is normalised per mini-batch. F1 and
accuracy use per-class thresholds chosen on val; the number MedKLIP's code reports (best-F1 threshold
picked on test itself) is added under a separate, labelled name.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from asgbench.config import WEIGHTS_ENV
from asgbench.encoders.model import Encoder
from asgbench.encoders.text import load_tokenizer
from asgbench.errors import ConfigError, DataLayoutError, MissingDependencyError
from asgbench.tasks import metrics as m
from asgbench.tasks.data import TaskData
from asgbench.tasks.protocols import ProtocolJob, ZeroShotProtocol
from asgbench.tasks.scoring import Outcome, best_f1_threshold, predictions_table, score_classification

TEMPERATURE = 0.07  # MGCA's softmax temperature; only the ranking matters for AUC, thresholds come from val


@dataclass(frozen=True)
class PromptSet:
    version: str
    classes: dict[str, dict[str, list[str]]]
    sha256: str


def load_prompts(dataset: str, version: str, labels: tuple[str, ...]) -> PromptSet:
    """The prompt file of a dataset; every label of the task must have affirmed prompts."""
    import hashlib

    name = f"{dataset}.{version}.json"
    source = resources.files("asgbench.tasks") / "prompts" / name
    if not source.is_file():
        raise ConfigError(f"no zero-shot prompts {name} (dataset {dataset}, prompt version {version})")
    raw = source.read_bytes()
    data = json.loads(raw)
    classes = data.get("classes", {})
    missing = [label for label in labels if not classes.get(label, {}).get("positive")]
    if missing:
        raise DataLayoutError(f"prompts/{name}: no positive prompts for {missing}")
    return PromptSet(data.get("version", version), {label: classes[label] for label in labels}, hashlib.sha256(raw).hexdigest())


def tokenizer_folder(encoder: Encoder) -> Path:
    """Beside the checkpoint (asgbench's own ASG files), else ``$ASGBENCH_WEIGHTS/<tokenizer>``."""
    name = encoder.config.tokenizer
    if not name:
        raise ConfigError(f"{encoder.config.name}: its config names no tokenizer, so prompts cannot be encoded")
    candidates = []
    if encoder.report.file:
        candidates.append(Path(encoder.report.file).parent / name)
    if os.environ.get(WEIGHTS_ENV):
        candidates.append(Path(os.environ[WEIGHTS_ENV]) / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise MissingDependencyError(f"{encoder.config.name}: tokenizer folder {name!r} not found (looked in "
                                 f"{', '.join(map(str, candidates)) or f'${WEIGHTS_ENV}, which is not set'}); "
                                 "put the tokenizer files (vocab.txt or tokenizer.json) there")


def _part(encoder: Encoder, *names: str):
    for name in names:
        if name in encoder.parts:
            return encoder.parts[name]
    raise ConfigError(f"{encoder.config.name}: none of the parts {names} were loaded; zero-shot needs them")


def embed_texts(encoder: Encoder, tokenizer, texts: list[str], device: str) -> torch.Tensor:
    """Unit-norm text embeddings in the joint space."""
    tower = _part(encoder, "text").to(device).eval()
    projection = _part(encoder, "text_global_projection", "text_projection").to(device).eval()
    limit = getattr(getattr(tower, "config", None), "max_position_embeddings", 512)
    tokens = tokenizer(texts, padding=True, truncation=True, max_length=min(limit, 128), return_tensors="pt").to(device)
    if getattr(tower.config, "type_vocab_size", 2) < 2:
        tokens.pop("token_type_ids", None)
    with torch.inference_mode():
        out = tower(**tokens, output_hidden_states=encoder.config.text_pooling == "medclip")
        if encoder.config.text_pooling == "medclip":
            hidden = out.hidden_states
            pooled = torch.stack([hidden[1], hidden[2], hidden[-1]]).mean(dim=(0, 2))
        elif encoder.config.text_pooling == "mean":   # asgbench pre-training with text.pooling=mean
            mask = tokens["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        else:
            pooled = out.last_hidden_state[:, 0]
        return F.normalize(projection(pooled).float(), dim=-1)


def embed_images(encoder: Encoder, data: TaskData, image_ids: list[str], device: str, batch_size: int,
                 progress: Callable[[int], None] | None = None) -> torch.Tensor:
    projection = _part(encoder, "image_global_projection", "image_projection").to(device).eval()
    encoder = encoder.to(device).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(image_ids), batch_size):
            batch = torch.from_numpy(data.store.batch(image_ids[start : start + batch_size])).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                out.append(F.normalize(projection(encoder(encoder.preprocess(batch))).float(), dim=-1).cpu())
            if progress:
                progress(min(start + batch_size, len(image_ids)))
    return torch.cat(out)


def class_scores(images: torch.Tensor, class_embeddings: list[tuple[torch.Tensor, torch.Tensor | None]]) -> np.ndarray:
    """Probability of "affirmed" per class: softmax over (affirmed, negated) similarities, or the similarity."""
    columns = []
    for affirmed, negated in class_embeddings:
        positive = images @ affirmed
        if negated is None:
            columns.append(positive)
        else:
            logits = torch.stack([positive, images @ negated], dim=1) / TEMPERATURE
            columns.append(logits.softmax(dim=1)[:, 0])
    return torch.stack(columns, dim=1).numpy().astype(np.float64)


def run_zero_shot(encoder: Encoder, data: TaskData, spec: ZeroShotProtocol, job: ProtocolJob) -> Outcome:
    task, seed, device, progress = data.task, job.seed, job.device, job.progress
    if encoder.config.zero_shot is None or not encoder.has("zero-shot"):
        why = encoder.report.disabled.get("zero-shot", "the model has no text side")
        raise ConfigError(f"{encoder.config.name} cannot run zero-shot: {why}")
    if encoder.config.zero_shot != "cosine":
        raise ConfigError(f"{encoder.config.name}: its zero-shot scorer {encoder.config.zero_shot!r} is not available in this "
                          "version (scorers: cosine); its linear probe and segmentation run")
    prompts = load_prompts(task.dataset, spec.prompts, task.labels)
    tokenizer = load_tokenizer(tokenizer_folder(encoder))
    started = time.perf_counter()
    class_embeddings = []
    for label in task.labels:
        sides = prompts.classes[label]
        affirmed = F.normalize(embed_texts(encoder, tokenizer, sides["positive"], device).mean(0), dim=0).cpu()
        negated = (F.normalize(embed_texts(encoder, tokenizer, sides["negative"], device).mean(0), dim=0).cpu()
                   if sides.get("negative") else None)
        class_embeddings.append((affirmed, negated))
    scores = {}
    for name in ("val", "test"):
        split = data.splits[name]
        report = (lambda done, name=name, total=len(split): progress(f"embed {name}", done, total)) if progress else None
        scores[name] = class_scores(embed_images(encoder, data, split.image_ids, device, spec.batch_size, report), class_embeddings)
    val, test = data.splits["val"], data.splits["test"]
    outputs = len(task.labels)
    thresholds = np.array([best_f1_threshold(val.targets[:, j], scores["val"][:, j]) for j in range(outputs)])
    metrics, per_class = score_classification(task, test.targets, scores["test"], test.patients, thresholds=thresholds, seed=seed)
    # MedKLIP's way, for comparison with published zero-shot numbers: best-F1 threshold picked on test itself.
    test_thresholds = np.array([best_f1_threshold(test.targets[:, j], scores["test"][:, j]) for j in range(outputs)])
    predicted = (scores["test"] >= test_thresholds[None, :]).astype(int)
    metrics["f1_test_threshold"] = {"value": float(np.mean([m.f1(test.targets[:, j], predicted[:, j]) for j in range(outputs)])),
                                    "ci95": None, "note": "threshold chosen on the test split (MedKLIP's code); not a clean estimate"}
    metrics["accuracy_test_threshold"] = {
        "value": float(np.mean([m.accuracy(test.targets[:, j], predicted[:, j]) for j in range(outputs)])),
        "ci95": None, "note": "at the test-chosen threshold above"}
    return Outcome(
        metrics=metrics, per_class=per_class,
        predictions=predictions_table(test.image_ids, test.patients, task.labels, test.targets, scores["test"], False),
        selection={"thresholds_from": "val", "prompt_version": prompts.version, "prompt_sha256": prompts.sha256,
                   "scorer": encoder.config.zero_shot, "text_pooling": encoder.config.text_pooling},
        timings={"zero_shot_s": time.perf_counter() - started},
        extra={"headline": task.metric},
    )
