"""MIMIC-style free-text reports written from an image's ground truth, with the triplets each sentence states.

The report keeps MIMIC's file layout (a centred FINAL REPORT line, section headers that start with one
space, lines wrapped at 79 characters, ``___`` for de-identified spans). Every sentence records the
<anatomical region, finding, existence> triplets it expresses, so a report parser can be scored.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np

from asgbench.data.synthetic.truth import PRESENT, Finding, ImageTruth

# How findings are named in sentences; the first phrase is the canonical tag name.
PHRASES = {
    "consolidation": ("consolidation", "airspace consolidation"),
    "pneumonia": ("pneumonia", "a focal pneumonia"),
    "infiltration": ("infiltrate", "patchy infiltrates"),
    "lung_opacity": ("opacity", "an ill-defined opacity", "hazy opacity"),
    "covid19": ("multifocal opacities", "bilateral peripheral opacities"),
    "atelectasis": ("atelectasis", "subsegmental atelectasis", "plate-like atelectasis"),
    "effusion": ("pleural effusion", "a small effusion", "layering pleural fluid"),
    "pneumothorax": ("pneumothorax", "a small pneumothorax", "an apical pneumothorax"),
    "cardiomegaly": ("cardiomegaly", "an enlarged heart", "enlargement of the cardiac silhouette"),
    "enlarged_cardiomediastinum": ("widening of the mediastinum", "an enlarged cardiomediastinal silhouette"),
    "edema": ("pulmonary edema", "interstitial edema", "vascular congestion with edema"),
    "nodule": ("a nodule", "a small pulmonary nodule", "a nodular opacity"),
    "mass": ("a mass", "a lobulated mass"),
    "emphysema": ("emphysema", "hyperinflation with emphysematous change"),
    "fibrosis": ("fibrosis", "reticular fibrotic change"),
    "pleural_thickening": ("pleural thickening", "an apical pleural cap"),
    "hernia": ("a hiatal hernia", "a retrocardiac hiatal hernia"),
    "fracture": ("a rib fracture", "a healing rib fracture"),
    "support_devices": ("support devices", "a right internal jugular line", "monitoring and support devices"),
}
NEGATABLE = ("effusion", "pneumothorax", "consolidation", "edema", "pneumonia")


@dataclass
class Sentence:
    text: str
    section: str  # findings | impression
    triplets: list[tuple[str, str, str]] = field(default_factory=list)  # (region, finding kind, existence)


@dataclass
class Report:
    text: str
    sentences: list[Sentence]


def _location(region: str) -> str:
    return {"cardiac silhouette": "", "mediastinum": "", "svc": "", "trachea": ""}.get(region, f" in the {region}")


def describe(finding: Finding, rng: np.random.Generator) -> Sentence:
    phrase = PHRASES[finding.kind][int(rng.integers(len(PHRASES[finding.kind])))]
    where = _location(finding.region)
    if finding.certainty == PRESENT:
        text = f"There is {phrase}{where}." if not phrase.startswith(("a ", "an ")) else f"There is {phrase}{where}."
        existence = "present"
    else:
        templates = ("{p}{w} cannot be excluded.", "Findings{w} may represent {p}.", "Possible {p}{w}.")
        text = templates[int(rng.integers(len(templates)))].format(p=phrase, w=where)
        text = text[0].upper() + text[1:]
        existence = "uncertain"
    return Sentence(text, "findings", [(finding.region, finding.kind, existence)])


def write_report(truth: ImageTruth, rng: np.random.Generator, *, view: str = "PA") -> Report:
    """A MIMIC-layout report for ``truth``: findings described, common negatives stated, an impression."""
    sentences = [describe(f, rng) for f in truth.findings]
    absent = [k for k in NEGATABLE if not truth.has(k)]
    rng.shuffle(absent)
    negatives = absent[: int(rng.integers(1, 3))] if absent else []
    if negatives:
        names = " or ".join(PHRASES[k][0] for k in negatives)
        sentences.append(Sentence(f"There is no {names}.", "findings", [("unspecified", k, "absent") for k in negatives]))
    if not truth.has("cardiomegaly") and not truth.has("enlarged_cardiomediastinum"):
        sentences.append(Sentence("The cardiomediastinal silhouette is within normal limits.", "findings",
                                  [("cardiac silhouette", "cardiomegaly", "absent")]))
    present = [f for f in truth.findings if f.certainty == PRESENT]
    if present:
        names = ", ".join(PHRASES[f.kind][0] for f in present[:3])
        impression = Sentence(f"Findings consistent with {names}.", "impression",
                              [(f.region, f.kind, "present") for f in present[:3]])
    else:
        impression = Sentence("No acute cardiopulmonary process.", "impression", [])
    sentences.append(impression)
    exam = "CHEST (PA AND LAT)" if view == "PA" else "CHEST (PORTABLE AP)"

    def block(parts: list[Sentence]) -> str:
        wrapped = textwrap.wrap(" ".join(s.text for s in parts), width=77)
        return "\n".join(" " + line for line in wrapped)

    findings_block = block([s for s in sentences if s.section == "findings"])
    impression_block = block([s for s in sentences if s.section == "impression"])
    text = (
        f"{'FINAL REPORT':>45}\n"
        f" EXAMINATION:  {exam}\n \n"
        " INDICATION:  ___ with shortness of breath, evaluate for acute process\n \n"
        f" TECHNIQUE:  Chest {'PA and lateral' if view == 'PA' else 'portable AP'}\n \n"
        " COMPARISON:  None.\n \n"
        f" FINDINGS: \n \n{findings_block}\n \n"
        f" IMPRESSION: \n \n{impression_block}\n"
    )
    return Report(text=text, sentences=sentences)
