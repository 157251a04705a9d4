"""The one ground-truth record per synthetic image, from which pixels, labels and reports all follow."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PRESENT = "present"
UNCERTAIN = "uncertain"

# Canonical finding kinds the renderer can draw, with the regions where each is typically placed.
LUNG_ZONES = tuple(f"{side} {zone} lung zone" for side in ("right", "left") for zone in ("upper", "mid", "lower"))
LOWER_ZONES = ("right lower lung zone", "left lower lung zone")
FINDING_REGIONS: dict[str, tuple[str, ...]] = {
    "consolidation": LUNG_ZONES,
    "pneumonia": LUNG_ZONES,
    "infiltration": LUNG_ZONES,
    "lung_opacity": LUNG_ZONES,
    "covid19": ("right lung", "left lung"),
    "atelectasis": LOWER_ZONES + ("right mid lung zone", "left mid lung zone"),
    "effusion": ("right costophrenic angle", "left costophrenic angle"),
    "pneumothorax": ("right apical zone", "left apical zone", "right upper lung zone", "left upper lung zone"),
    "cardiomegaly": ("cardiac silhouette",),
    "enlarged_cardiomediastinum": ("mediastinum",),
    "edema": ("right hilar structures", "left hilar structures"),
    "nodule": LUNG_ZONES,
    "mass": LUNG_ZONES + ("right hilar structures", "left hilar structures"),
    "emphysema": ("right lung", "left lung"),
    "fibrosis": LOWER_ZONES + ("right mid lung zone", "left mid lung zone"),
    "pleural_thickening": ("right apical zone", "left apical zone", "right lung", "left lung"),
    "hernia": ("mediastinum",),
    "fracture": ("right mid lung zone", "left mid lung zone", "right upper lung zone", "left upper lung zone"),
    "support_devices": ("svc", "trachea"),
}
FINDING_KINDS = tuple(FINDING_REGIONS)
DEVICES = ("endotracheal tube", "central line", "pacemaker", "enteric tube", "chest tube")


def choose_devices(rng: np.random.Generator) -> tuple[str, ...]:
    """A plausible set of support devices (at least one)."""
    chosen = tuple(d for d, p in zip(DEVICES, (0.5, 0.55, 0.3, 0.35, 0.12)) if rng.random() < p)
    return chosen or (DEVICES[int(rng.integers(len(DEVICES)))],)


@dataclass
class Finding:
    """One finding of one image: where it is, how marked, and how sure the (synthetic) reader is."""

    kind: str
    region: str
    severity: float = 0.6
    certainty: str = PRESENT
    boxes: tuple[tuple[float, float, float, float], ...] = ()  # output-pixel boxes that must contain it
    mask: np.ndarray | None = field(default=None, repr=False)  # output-pixel mask that defines it
    devices: tuple[str, ...] = ()  # support_devices only: which devices are present (see DEVICES)
    contrast: float = 1.0          # airspace findings: density gain over the default drawing (RSNA's boxed opacities)

    def __post_init__(self) -> None:
        if self.kind not in FINDING_REGIONS:
            raise ValueError(f"unknown synthetic finding kind {self.kind!r}")
        if self.kind == "support_devices" and not self.devices:
            raise ValueError("a support_devices finding must name its devices")


@dataclass
class ImageTruth:
    """Everything the renderer and the label/report writers need to know about one image."""

    image_id: str
    height: int
    width: int
    view: str = "PA"
    seed: int = 0
    findings: list[Finding] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    def has(self, kind: str, *, include_uncertain: bool = True) -> bool:
        return any(f.kind == kind and (include_uncertain or f.certainty == PRESENT) for f in self.findings)


def choose_region(kind: str, rng: np.random.Generator) -> str:
    regions = FINDING_REGIONS[kind]
    return regions[int(rng.integers(len(regions)))]


def make_finding(kind: str, rng: np.random.Generator, severity: float | None = None, certainty: str = PRESENT,
                 region: str | None = None) -> Finding:
    """A finding of ``kind`` in a typical region (devices chosen for support_devices)."""
    if severity is None:
        severity = float(rng.uniform(0.45, 1.0)) if certainty == PRESENT else float(rng.uniform(0.25, 0.45))
    devices = choose_devices(rng) if kind == "support_devices" else ()
    return Finding(kind, region or choose_region(kind, rng), severity, certainty=certainty, devices=devices)
