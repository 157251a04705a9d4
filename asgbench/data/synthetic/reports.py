"""MIMIC-style free-text reports written from an image's ground truth, with what each sentence states.

The text keeps MIMIC's file layout (a centred FINAL REPORT line, section headers that start with one
space, lines wrapped at 79 characters, ``___`` for de-identified spans). Sentences use varied phrasing,
region synonyms with laterality, explicit negatives, hedges, normal statements and comparison
boilerplate. Every sentence records its <anatomical region, tag, existence> triplets (regions are Chest
ImaGenome names, tags are ASG's 40) and its Chest ImaGenome attribute strings, so that a report parser
can be scored and scene graphs written.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np

from asgbench.data.synthetic.truth import PRESENT, Finding, ImageTruth
from asgbench.vocab import UNSPECIFIED

KIND_TAG = {
    "consolidation": "consolidation", "pneumonia": "pneumonia", "infiltration": "infiltration", "lung_opacity": "opacity",
    "covid19": "opacity", "atelectasis": "atelectasis", "effusion": "pleural effusion", "pneumothorax": "pneumothorax",
    "cardiomegaly": "cardiomegaly", "enlarged_cardiomediastinum": "enlarged cardiomediastinum", "edema": "edema",
    "nodule": "nodule", "mass": "mass", "emphysema": "emphysema", "fibrosis": "scar", "pleural_thickening": "pleural thicken",
    "hernia": "hernia", "fracture": "fracture",
}
# Chest ImaGenome (category, label) for each tag, used in scene-graph attribute strings.
IMAGENOME_ATTRIBUTE = {
    "consolidation": ("anatomicalfinding", "consolidation"), "pneumonia": ("disease", "pneumonia"),
    "infiltration": ("anatomicalfinding", "infiltration"), "opacity": ("anatomicalfinding", "lung opacity"),
    "atelectasis": ("anatomicalfinding", "atelectasis"), "pleural effusion": ("anatomicalfinding", "pleural effusion"),
    "pneumothorax": ("anatomicalfinding", "pneumothorax"), "cardiomegaly": ("anatomicalfinding", "enlarged cardiac silhouette"),
    "enlarged cardiomediastinum": ("anatomicalfinding", "mediastinal widening"),
    "edema": ("anatomicalfinding", "pulmonary edema/hazy opacity"), "nodule": ("anatomicalfinding", "mass/nodule (not otherwise specified)"),
    "mass": ("anatomicalfinding", "mass/nodule (not otherwise specified)"), "emphysema": ("disease", "copd/emphysema"),
    "scar": ("anatomicalfinding", "pleural/parenchymal scarring"), "pleural thicken": ("anatomicalfinding", "pleural/parenchymal scarring"),
    "hernia": ("anatomicalfinding", "hernia"), "fracture": ("anatomicalfinding", "rib fracture"),
}
# device -> (tag, region, Chest ImaGenome attribute, phrasings)
DEVICE_FACTS = {
    "endotracheal tube": ("tube", "trachea", ("tubesandlines", "endotracheal tube"),
                          ("An endotracheal tube terminates approximately {cm} cm above the carina.",
                           "The endotracheal tube is in standard position, {cm} cm above the carina.")),
    "central line": ("line", "svc", ("tubesandlines", "ij line"),
                     ("A right internal jugular central venous line terminates in the mid SVC.",
                      "Right IJ line tip is in the SVC.")),
    "pacemaker": ("pacemaker", "right atrium", ("device", "cardiac pacer and wires"),
                  ("A left-sided pacemaker is present with leads terminating in the right atrium and right ventricle.",
                   "Dual-lead pacemaker device is again seen.")),
    "enteric tube": ("tube", "abdomen", ("tubesandlines", "enteric tube"),
                     ("An enteric tube courses below the diaphragm with its tip in the stomach.",
                      "The nasogastric tube passes into the stomach.")),
    "chest tube": ("tube", "left lung", ("tubesandlines", "chest tube"),
                   ("A left-sided chest tube is in place.", "Left pleural drain is unchanged in position.")),
}
FINDING_WORDS = {
    "consolidation": ("consolidation", "airspace consolidation"),
    "pneumonia": ("pneumonia",),
    "infiltration": ("infiltrate", "patchy infiltrates"),
    "lung_opacity": ("opacity", "hazy opacity", "patchy opacity"),
    "atelectasis": ("atelectasis", "subsegmental atelectasis", "plate-like atelectasis"),
    "effusion": ("pleural effusion", "effusion"),
    "pneumothorax": ("pneumothorax",),
    "nodule": ("nodule", "nodular opacity"),
    "mass": ("mass", "lobulated mass"),
    "fibrosis": ("scarring", "fibrotic scarring"),
    "pleural_thickening": ("pleural thickening",),
    "fracture": ("rib fracture", "healing rib fracture"),
}
REGION_WORDS = {
    "right upper lung zone": ("right upper lobe", "right upper lung"),
    "right mid lung zone": ("right mid lung", "right perihilar region"),
    "right lower lung zone": ("right lower lobe", "right lung base", "right base"),
    "left upper lung zone": ("left upper lobe", "left upper lung"),
    "left mid lung zone": ("left mid lung", "lingula"),
    "left lower lung zone": ("left lower lobe", "left lung base", "left base", "retrocardiac region"),
    "right apical zone": ("right apex", "right apical region"),
    "left apical zone": ("left apex", "left apical region"),
    "right costophrenic angle": ("right costophrenic angle", "right base"),
    "left costophrenic angle": ("left costophrenic angle", "left base"),
    "right hilar structures": ("right hilum", "right hilar region"),
    "left hilar structures": ("left hilum", "left hilar region"),
    "right lung": ("right lung", "right hemithorax"),
    "left lung": ("left lung", "left hemithorax"),
}
SEVERITY = {"effusion": ("small", "moderate", "large"), "pneumothorax": ("small", "moderate", "large")}
GENERIC_SEVERITY = ("mild", "moderate", "severe")
# Where a finding is meant when a sentence names no side (Chest ImaGenome attaches such phrases to both).
DEFAULT_REGIONS = {
    "pleural effusion": ("right costophrenic angle", "left costophrenic angle"),
    "pneumothorax": ("right lung", "left lung"), "consolidation": ("right lung", "left lung"),
    "pneumonia": ("right lung", "left lung"), "edema": ("right lung", "left lung"), "opacity": ("right lung", "left lung"),
    "cardiomegaly": ("cardiac silhouette",), "enlarged cardiomediastinum": ("mediastinum",), "fracture": (UNSPECIFIED,),
}
TAG_NAMES = {"pleural effusion": "pleural effusion", "pneumothorax": "pneumothorax", "consolidation": "focal consolidation",
             "edema": "pulmonary edema", "pneumonia": "pneumonia"}
LUNG_KINDS = {"consolidation", "pneumonia", "infiltration", "lung_opacity", "covid19", "atelectasis", "edema", "nodule",
              "mass", "fibrosis", "emphysema", "pneumothorax", "effusion"}


@dataclass
class Sentence:
    text: str
    section: str                                                     # findings | impression
    triplets: list[tuple[str, str, str]] = field(default_factory=list)  # (region, tag, existence)
    attributes: list[tuple[str, str]] = field(default_factory=list)     # (region, "category|yes/no|label")


@dataclass
class Report:
    text: str
    sentences: list[Sentence]


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


def _severity_word(finding: Finding) -> str:
    words = SEVERITY.get(finding.kind, GENERIC_SEVERITY)
    return words[0 if finding.severity < 0.6 else 1 if finding.severity < 0.85 else 2]


def _attribute(tag: str, existence: str) -> str:
    category, label = IMAGENOME_ATTRIBUTE[tag]
    return f"{category}|{'no' if existence == 'absent' else 'yes'}|{label}"


def _sentence(text: str, section: str, facts: list[tuple[str, str, str]]) -> Sentence:
    text = text[0].upper() + text[1:]
    attributes = [(region, _attribute(tag, existence)) for region, tag, existence in facts if tag in IMAGENOME_ATTRIBUTE]
    return Sentence(text, section, list(facts), attributes)


def describe(finding: Finding, rng: np.random.Generator) -> list[Sentence]:
    """The sentence(s) a radiologist would write about ``finding``."""
    existence = "present" if finding.certainty == PRESENT else "uncertain"
    if finding.kind == "support_devices":
        sentences = []
        for device in finding.devices:
            tag, region, (category, label), phrasings = DEVICE_FACTS[device]
            text = _pick(rng, phrasings).format(cm=int(rng.integers(3, 6)))
            sentences.append(Sentence(text, "findings", [(region, tag, "present")], [(region, f"{category}|yes|{label}")]))
        return sentences
    tag = KIND_TAG[finding.kind]
    if finding.kind == "cardiomegaly":
        text = _pick(rng, ("The heart is {s}ly enlarged.", "{S} cardiomegaly.", "Heart size is {s}ly enlarged.")) if existence == "present" \
            else _pick(rng, ("The heart size is borderline enlarged.", "Possible mild cardiomegaly."))
        s = _severity_word(finding)
        return [_sentence(text.format(s=s, S=s.capitalize()), "findings", [("cardiac silhouette", tag, existence)])]
    if finding.kind == "enlarged_cardiomediastinum":
        text = "The cardiomediastinal silhouette is widened." if existence == "present" else "The mediastinum may be slightly widened."
        return [_sentence(text, "findings", [("mediastinum", tag, existence)])]
    if finding.kind in ("edema", "covid19", "emphysema"):
        regions = ("right lung", "left lung")
        if finding.kind == "edema":
            text = _pick(rng, ("There is {s} pulmonary edema.", "Perihilar haziness and vascular congestion are consistent with {s} pulmonary edema.")) \
                if existence == "present" else _pick(rng, ("Mild pulmonary edema cannot be excluded.", "Possible mild interstitial edema."))
        elif finding.kind == "covid19":
            text = "Multifocal patchy opacities are seen in both lungs, predominantly peripheral." if existence == "present" \
                else "Subtle bilateral peripheral opacities may represent infection."
        else:
            text = "The lungs are hyperinflated with emphysematous change." if existence == "present" else "Possible emphysema."
        return [_sentence(text.format(s=_severity_word(finding)), "findings", [(r, tag, existence) for r in regions])]
    if finding.kind == "hernia":
        text = "A hiatal hernia is seen behind the heart." if existence == "present" else "A retrocardiac density may represent a hiatal hernia."
        return [_sentence(text, "findings", [("mediastinum", tag, existence)])]
    severity = _severity_word(finding)
    if finding.kind in ("effusion", "pneumothorax"):
        side = "left" if finding.region.startswith("left") else "right"
        name = "pleural effusion" if finding.kind == "effusion" else _pick(rng, ("pneumothorax", "apical pneumothorax"))
        if existence == "present":
            text = _pick(rng, ("There is a {sev} {side} {name}.", "{Sev} {side} {name}.", "A {sev} {side} {name} is present."))
        else:
            text = _pick(rng, ("A tiny {side} {name} cannot be excluded.", "Possible trace {side} {name}."))
        text = text.format(sev=severity, Sev=severity.capitalize(), side=side, name=name)
        return [_sentence(text, "findings", [(finding.region, tag, existence)])]
    word = _pick(rng, FINDING_WORDS[finding.kind])
    where = _pick(rng, REGION_WORDS.get(finding.region, (finding.region,)))
    if existence == "present":
        templates = ("There is {sev} {word} in the {where}.", "{Sev} {word} is seen in the {where}.",
                     "{Where} {word} is noted.", "There is {word} at the {where}.")
        if finding.kind in ("nodule", "mass", "fracture"):
            templates = ("A {word} is seen in the {where}.", "There is a {word} projecting over the {where}.")
    else:
        templates = ("{Word} in the {where} cannot be excluded.", "Possible {word} in the {where}.",
                     "Subtle opacity in the {where} may represent {word}.")
    text = _pick(rng, templates).format(sev=severity, Sev=severity.capitalize(), word=word, Word=word.capitalize(), where=where,
                                        Where=where[0].upper() + where[1:])
    facts = [(finding.region, tag, existence)]
    if "opacity" in text and tag != "opacity" and existence == "uncertain":
        facts.append((finding.region, "opacity", "present"))
    return [_sentence(text, "findings", facts)]


def _negatives(truth: ImageTruth, rng: np.random.Generator) -> list[Sentence]:
    absent = [t for t, kind in (("pleural effusion", "effusion"), ("pneumothorax", "pneumothorax"), ("consolidation", "consolidation"),
                                ("edema", "edema"), ("pneumonia", "pneumonia")) if not truth.has(kind)]
    if "consolidation" in absent and any(truth.has(k) for k in ("pneumonia", "infiltration", "lung_opacity", "covid19")):
        absent.remove("consolidation")
    rng.shuffle(absent)
    sentences = []
    while absent:
        group = absent[: int(rng.integers(1, 3))]
        absent = absent[len(group):]
        names = " or ".join(TAG_NAMES[t] for t in group)
        text = _pick(rng, ("No {n}.", "There is no {n}.", "No evidence of {n}.", "No {n} is seen."))
        facts = [(region, t, "absent") for t in group for region in DEFAULT_REGIONS[t]]
        sentences.append(_sentence(text.format(n=names), "findings", facts))
        if rng.random() < 0.35:
            break
    return sentences


def _normal_statements(truth: ImageTruth, rng: np.random.Generator) -> list[Sentence]:
    sentences = []
    if not any(truth.has(k) for k in LUNG_KINDS):
        text = _pick(rng, ("The lungs are clear.", "Lungs are clear bilaterally.", "The lungs are well expanded and clear."))
        sentences.append(_sentence(text, "findings", [("right lung", "opacity", "absent"), ("left lung", "opacity", "absent")]))
    if not truth.has("cardiomegaly") and not truth.has("enlarged_cardiomediastinum"):
        text = _pick(rng, ("Heart size is normal.", "The cardiomediastinal silhouette is within normal limits.",
                           "The heart is normal in size."))
        facts = [("cardiac silhouette", "cardiomegaly", "absent")]
        if "mediastinal" in text:
            facts.append(("mediastinum", "enlarged cardiomediastinum", "absent"))
        sentences.append(_sentence(text, "findings", facts))
    if not truth.has("fracture") and rng.random() < 0.5:
        sentences.append(_sentence(_pick(rng, ("No acute osseous abnormality.", "No displaced rib fracture is seen.")),
                                   "findings", [(UNSPECIFIED, "fracture", "absent")]))
    return sentences


def _impression(truth: ImageTruth, findings: list[Sentence], rng: np.random.Generator) -> list[Sentence]:
    main = [f for f in truth.findings if f.kind != "support_devices"]
    if not main:
        return [Sentence(_pick(rng, ("No acute cardiopulmonary process.", "No acute intrathoracic abnormality.")), "impression")]
    sentences = []
    for finding in main[:3]:
        described = next(s for s in findings if any(t[1] == KIND_TAG[finding.kind] for t in s.triplets))
        facts = [t for t in described.triplets if t[1] == KIND_TAG[finding.kind]]
        tag = KIND_TAG[finding.kind]
        if finding.certainty == PRESENT:
            regions = {r for r, _, _ in facts}
            where = ""
            if len(regions) == 1 and finding.region in REGION_WORDS:
                where = finding.region.split()[0] if finding.kind in ("effusion", "pneumothorax") else _pick(rng, REGION_WORDS[finding.region])
                where += " "
            text = f"{_severity_word(finding)} {where}{FINDING_WORDS.get(finding.kind, (tag,))[0]}."
        else:
            text = f"Findings concerning for {FINDING_WORDS.get(finding.kind, (tag,))[0]}, clinical correlation recommended."
        sentences.append(_sentence(text, "impression", facts))
    return sentences


def write_report(truth: ImageTruth, rng: np.random.Generator, *, view: str = "PA") -> Report:
    """A MIMIC-layout report for ``truth``."""
    described = [s for f in truth.findings for s in describe(f, rng)]
    findings = described + _negatives(truth, rng) + _normal_statements(truth, rng)
    order = rng.permutation(len(findings))
    findings = [findings[i] for i in order]
    comparison = rng.random() < 0.4
    if comparison:
        findings.insert(0, Sentence(_pick(rng, ("Compared to the prior study, there is no significant interval change.",
                                                "As compared to the previous radiograph, the overall appearance is similar.")), "findings"))
    impression = _impression(truth, described, rng)
    exam = "CHEST (PA AND LAT)" if view == "PA" else "CHEST (PORTABLE AP)"

    def block(parts: list[Sentence], numbered: bool = False) -> str:
        if numbered and len(parts) > 1:
            lines = []
            for k, sentence in enumerate(parts, start=1):
                lines.extend(textwrap.wrap(f"{k}. {sentence.text}", width=77))
            return "\n".join(" " + line for line in lines)
        return "\n".join(" " + line for line in textwrap.wrap(" ".join(s.text for s in parts), width=77))

    text = (
        f"{'FINAL REPORT':>45}\n"
        f" EXAMINATION:  {exam}\n \n"
        " INDICATION:  ___ with shortness of breath, evaluate for acute process\n \n"
        f" TECHNIQUE:  Chest {'PA and lateral' if view == 'PA' else 'portable AP'}\n \n"
        f" COMPARISON:  {'___' if comparison else 'None.'}\n \n"
        f" FINDINGS: \n \n{block(findings)}\n \n"
        f" IMPRESSION: \n \n{block(impression, numbered=True)}\n"
    )
    return Report(text=text, sentences=findings + impression)
