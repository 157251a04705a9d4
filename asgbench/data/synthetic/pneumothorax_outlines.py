"""Real pneumothorax outlines for the synthetic images whose dataset gives no mask (MIMIC, NIH, CheXpert).

SIIM's annotations are the pneumothorax outlines there are. SIIM's synthetic images draw their own; every other
dataset draws one of a reserved quarter of them (no outline is in both), chosen on the finding's side and sized
by its severity. So the MIMIC reports the encoder pre-trains on describe the same kind of lesion that SIIM
segmentation evaluates it on. Generator version 6 drew a geometric rim down the whole lateral chest wall
instead, larger than almost every real outline; pre-training on it did not help to find SIIM's apical crescents.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from asgbench.data.masks import SIIM_MASK_SHAPE, rle_runs, rle_union
from asgbench.data.synthetic import public_rows
from asgbench.data.synthetic.truth import Finding

RESERVED_ONE_IN = 4   # SIIM ImageIds whose hash is 0 modulo this are outlines for the other datasets, not SIIM images
JITTER = 0.1          # how far (as a share of the outlines on a side) the pick strays from the severity's rank


def reserved_for_other_datasets(image_id: str) -> bool:
    """True for the SIIM images whose outlines other datasets draw (the SIIM writer leaves them out)."""
    return hashlib.sha256(image_id.encode()).digest()[0] % RESERVED_ONE_IN == 0


@dataclass(frozen=True)
class Outline:
    """One reserved SIIM image's annotations (their union is the outline), with its size and side."""

    image_id: str
    rles: tuple[str, ...]
    area: int                 # pixels at 1024 x 1024 (overlapping annotations counted twice)
    side: str                 # the patient's side: "right" is the left half of the film

    def mask(self) -> np.ndarray:
        return rle_union(self.rles)


def _outline(image_id: str, rles: tuple[str, ...]) -> Outline:
    runs = [rle_runs(rle) for rle in rles]
    starts = np.concatenate([s for s, _ in runs])
    lengths = np.concatenate([n for _, n in runs])
    columns = (starts + lengths / 2) // SIIM_MASK_SHAPE[0]   # column-major: a run lies down one column
    centre = float(np.average(columns, weights=lengths))
    return Outline(image_id, rles, int(lengths.sum()), "right" if centre < SIIM_MASK_SHAPE[1] / 2 else "left")


@lru_cache(maxsize=1)
def outlines_by_side() -> dict[str, tuple[Outline, ...]]:
    """The reserved outlines on each side, smallest first."""
    table = public_rows.siim_rle()
    positive = table[(table["EncodedPixels"] != "-1") & table["ImageId"].map(reserved_for_other_datasets)]
    grouped = positive.groupby("ImageId", sort=True)["EncodedPixels"].apply(tuple)
    outlines = [_outline(image_id, rles) for image_id, rles in grouped.items()]
    return {side: tuple(sorted((o for o in outlines if o.side == side), key=lambda o: (o.area, o.image_id)))
            for side in ("right", "left")}


def outline_for(finding: Finding, seed: int) -> np.ndarray:
    """A 1024 x 1024 outline on ``finding``'s side whose size ranks where its severity does (0.25 -> smallest)."""
    side = "left" if finding.region.startswith("left") else "right"
    choices = outlines_by_side()[side]
    rank = np.clip((finding.severity - 0.25) / 0.75, 0.0, 1.0)
    jitter = np.random.default_rng([seed, 0x50_4E_58]).uniform(-JITTER, JITTER)
    index = int(round(np.clip(rank + jitter, 0.0, 1.0) * (len(choices) - 1)))
    return choices[index].mask()
