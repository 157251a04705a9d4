"""Zero-shot classification: the model's own scorer over whole splits, thresholds chosen on val.

The scorer is the one the model's authors use (:mod:`asgbench.tasks.scorers`, named by the model's
config), reading its method's versioned prompt set. All images of a split are scored first and the
metrics computed on the whole split: nothing is normalised per mini-batch. F1 and accuracy use per-class
thresholds chosen on val; the number MedKLIP's code reports (best-F1 threshold picked on test itself) is
added under a separate, labelled name.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError
from asgbench.tasks import metrics as m
from asgbench.tasks.data import TaskData
from asgbench.tasks.protocols import ProtocolJob, ZeroShotProtocol
from asgbench.tasks.scorers import SCORERS, ClassScorer, ScorerInputs
from asgbench.tasks.scorers.prompts import load_prompts
from asgbench.tasks.scoring import Outcome, best_f1_threshold, predictions_table, score_classification


def score_split(encoder: Encoder, scorer: ClassScorer, data: TaskData, image_ids: list[str], device: str,
                batch_size: int, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Scores of every image of a list, batch by batch, as float64 (images x classes)."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(image_ids), batch_size):
            ids = image_ids[start : start + batch_size]
            batch = torch.from_numpy(data.store.batch(ids)).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                out.append(scorer.score(encoder.preprocess(batch, data.store.content_boxes(ids))).float().cpu())
            if progress:
                progress(min(start + batch_size, len(image_ids)))
    return torch.cat(out).numpy().astype(np.float64)


def run_zero_shot(encoder: Encoder, data: TaskData, spec: ZeroShotProtocol, job: ProtocolJob) -> Outcome:
    task, seed, device, progress = data.task, job.seed, job.device, job.progress
    if encoder.config.zero_shot is None or not encoder.has("zero-shot"):
        why = encoder.report.disabled.get("zero-shot", "the model has no text side")
        raise ConfigError(f"{encoder.config.name} cannot run zero-shot: {why}")
    entry = SCORERS.get(encoder.config.zero_shot)
    prompts = load_prompts(entry.prompt_family, task.dataset, spec.prompts, task.labels)
    started = time.perf_counter()
    encoder = encoder.to(device).eval()
    scorer = entry.build(encoder, ScorerInputs(task.labels, prompts, device, spec.text_positions))
    scores = {}
    for name in ("val", "test"):
        split = data.splits[name]
        report = (lambda done, name=name, total=len(split): progress(f"embed {name}", done, total)) if progress else None
        scores[name] = score_split(encoder, scorer, data, split.image_ids, device, spec.batch_size, report)
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
        selection={"thresholds_from": "val", "prompt_family": prompts.family, "prompt_version": prompts.version,
                   "prompt_sha256": prompts.sha256, "scorer": entry.name, **scorer.details},
        timings={"zero_shot_s": time.perf_counter() - started},
        extra={"headline": task.metric},
    )
