"""Translate between each dataset's label set and the renderer's finding kinds.

Where real metadata rows are sampled, their labels become findings to draw; where labels are generated
(MIMIC, CheXpert valid, COVIDx), findings are sampled first and labels derived from them, so pixels,
labels and reports always agree.
"""
from __future__ import annotations

import numpy as np

from asgbench.data.synthetic.truth import PRESENT, UNCERTAIN, Finding, ImageTruth, make_finding

NIH_KINDS = {
    "Atelectasis": "atelectasis", "Cardiomegaly": "cardiomegaly", "Effusion": "effusion",
    "Infiltration": "infiltration", "Mass": "mass", "Nodule": "nodule", "Pneumonia": "pneumonia",
    "Pneumothorax": "pneumothorax", "Consolidation": "consolidation", "Edema": "edema", "Emphysema": "emphysema",
    "Fibrosis": "fibrosis", "Pleural_Thickening": "pleural_thickening", "Hernia": "hernia",
}
# CheXpert/MIMIC label -> the kinds that show it (the first is drawn when the label comes from metadata).
CHEXPERT_KINDS = {
    "Enlarged Cardiomediastinum": ("enlarged_cardiomediastinum",),
    "Cardiomegaly": ("cardiomegaly",),
    "Lung Opacity": ("lung_opacity", "consolidation", "pneumonia", "infiltration", "atelectasis", "edema", "covid19"),
    "Lung Lesion": ("nodule", "mass"),
    "Edema": ("edema",),
    "Consolidation": ("consolidation",),
    "Pneumonia": ("pneumonia",),
    "Atelectasis": ("atelectasis",),
    "Pneumothorax": ("pneumothorax",),
    "Pleural Effusion": ("effusion",),
    "Pleural Other": ("pleural_thickening",),
    "Fracture": ("fracture",),
    "Support Devices": ("support_devices",),
}
SPECIFIC_OPACITIES = {"consolidation", "pneumonia", "infiltration", "atelectasis", "edema", "covid19"}


def findings_from_nih(labels: dict[str, float], rng: np.random.Generator) -> list[Finding]:
    return [make_finding(kind, rng) for label, kind in NIH_KINDS.items() if labels.get(label) == 1]


def findings_from_chexpert(labels: dict[str, float], rng: np.random.Generator) -> list[Finding]:
    """1 -> drawn; -1 (uncertain) -> drawn faintly half of the time, as the report hedged; else nothing."""
    findings: list[Finding] = []
    for label, kinds in CHEXPERT_KINDS.items():
        value = labels.get(label)
        if value not in (1, -1):
            continue
        kind = kinds[0] if label != "Lung Lesion" else kinds[int(rng.integers(2))]
        if label == "Lung Opacity" and any(labels.get(other) == 1 for other in ("Consolidation", "Pneumonia", "Atelectasis", "Edema")):
            continue  # the specific finding already draws the opacity
        if value == 1:
            findings.append(make_finding(kind, rng))
        elif rng.random() < 0.5:
            findings.append(make_finding(kind, rng, certainty=UNCERTAIN))
    return findings


def chexpert_labels(truth: ImageTruth, mentioned_negatives: set[str] = frozenset()) -> dict[str, float]:
    """CheXpert-style labels from ground truth: 1 present, -1 uncertain, 0 mentioned absent, NaN not mentioned."""
    labels: dict[str, float] = {}
    for label, kinds in CHEXPERT_KINDS.items():
        states = [f.certainty for f in truth.findings if f.kind in kinds]
        if PRESENT in states:
            labels[label] = 1.0
        elif UNCERTAIN in states:
            labels[label] = -1.0
        elif label in mentioned_negatives:
            labels[label] = 0.0
        else:
            labels[label] = float("nan")
    positive = any(v == 1.0 for k, v in labels.items() if k != "Support Devices")
    uncertain = any(v == -1.0 for k, v in labels.items() if k != "Support Devices")
    labels["No Finding"] = float("nan") if positive or uncertain else 1.0
    return labels


# Approximate MIMIC-CXR prevalences (per frontal image) of the findings the suite draws.
PRIOR = {
    "atelectasis": 0.14, "cardiomegaly": 0.13, "effusion": 0.16, "lung_opacity": 0.1, "consolidation": 0.05,
    "pneumonia": 0.07, "edema": 0.08, "pneumothorax": 0.04, "enlarged_cardiomediastinum": 0.04, "nodule": 0.04,
    "mass": 0.02, "fracture": 0.02, "support_devices": 0.18, "pleural_thickening": 0.02, "emphysema": 0.02,
    "fibrosis": 0.015, "hernia": 0.01,
}


def sample_findings(rng: np.random.Generator, prior: dict[str, float] = PRIOR, uncertain_rate: float = 0.12) -> list[Finding]:
    """Draw a plausible set of findings for one image from independent prevalences."""
    findings = []
    for kind, rate in prior.items():
        if rng.random() < rate:
            certainty = UNCERTAIN if rng.random() < uncertain_rate and kind != "support_devices" else PRESENT
            findings.append(make_finding(kind, rng, certainty=certainty))
    if any(f.kind in SPECIFIC_OPACITIES for f in findings):
        findings = [f for f in findings if f.kind != "lung_opacity"]
    return findings
