"""Turning a split's scores into metrics with CIs, per-class values and a per-image predictions table.

Shared by the linear probe and zero-shot so both report the same metrics the same way: AUC over the whole
split (macro over classes that have both outcomes), accuracy and F1 at thresholds fixed before the test
split is looked at, each with a patient-level bootstrap interval.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from asgbench.tasks import metrics as m
from asgbench.tasks.specs import TaskSpec


@dataclass
class Outcome:
    """What a protocol produced on the test split, before the run adds its provenance."""

    metrics: dict[str, dict]                       # name -> {"value", "ci95", "bootstrap_samples"}
    per_class: dict[str, dict[str, float | None]]  # metric -> label -> value
    predictions: pd.DataFrame
    selection: dict = field(default_factory=dict)  # what was chosen on val (hyper-parameters, epoch, thresholds)
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def headline(self) -> dict:
        return self.metrics[self.extra["headline"]]


def best_f1_threshold(targets: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximises F1 on these predictions (predict positive when score >= threshold)."""
    if targets.sum() == 0:
        return float("inf")
    precision, recall, thresholds = precision_recall_curve(targets, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    return float(thresholds[int(np.argmax(f1))])


def _one_hot(targets: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[targets]


def predictions_table(image_ids: list[str], patients: list[str], labels: tuple[str, ...], targets: np.ndarray,
                      scores: np.ndarray, multiclass: bool) -> pd.DataFrame:
    table = pd.DataFrame({"image_id": image_ids, "patient_id": patients})
    y = _one_hot(targets, len(labels)) if multiclass else targets
    for j, label in enumerate(labels):
        table[f"target:{label}"] = y[:, j].astype(np.int8)
        table[f"score:{label}"] = scores[:, j].astype(np.float32)
    return table


def score_classification(task: TaskSpec, targets: np.ndarray, scores: np.ndarray, patients: list[str], *,
                         thresholds: np.ndarray | None = None, seed: int = 0) -> tuple[dict, dict]:
    """Metrics with CIs and per-class values; ``thresholds`` (from val) define F1 and binary accuracy."""
    labels = task.labels
    metrics: dict[str, dict] = {}
    per_class: dict[str, dict[str, float | None]] = {}
    if task.multiclass:
        y = _one_hot(targets, len(labels))
        metrics["accuracy"] = m.bootstrap_accuracy(targets, scores.argmax(1), patients=patients, seed=seed).to_dict()
        metrics["auc"] = m.bootstrap_macro_auc(y, scores, patients=patients, seed=seed).to_dict()
        per_class["auc"] = dict(zip(labels, m.auc_per_class(y, scores)))
        return metrics, per_class
    metrics["auc"] = m.bootstrap_macro_auc(targets, scores, patients=patients, seed=seed).to_dict()
    per_class["auc"] = dict(zip(labels, m.auc_per_class(targets, scores)))
    cut = np.full(len(labels), 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    predicted = (scores >= cut[None, :]).astype(np.int64)

    # every class is scored on the same images, so the mean of per-class accuracies is the accuracy of all cells
    metrics["accuracy"] = m.bootstrap_accuracy(targets, predicted, patients=patients, seed=seed).to_dict()
    metrics["f1"] = m.bootstrap_macro_f1(targets, predicted, patients=patients, seed=seed).to_dict()
    per_class["accuracy"] = {label: m.accuracy(targets[:, j], predicted[:, j]) for j, label in enumerate(labels)}
    per_class["f1"] = {label: m.f1(targets[:, j], predicted[:, j]) for j, label in enumerate(labels)}
    per_class["threshold"] = {label: float(cut[j]) for j, label in enumerate(labels)}
    return metrics, per_class
