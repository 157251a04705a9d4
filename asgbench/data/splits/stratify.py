"""Patient-disjoint, label-stratified partitions and nested label-fraction draws.

Patients are the unit (all images of a patient land together); image counts are the weights, so a
"10 % split" holds about 10 % of the images. The partition is iterative stratification (Sechidis et al.,
2011): the rarest label is placed first, each patient going to the split that most lacks that label.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PatientTable:
    """Per patient: its image ids, image count, and positive-image counts per label."""

    patients: np.ndarray          # patient ids
    images: list[list[str]]       # image ids per patient
    sizes: np.ndarray             # images per patient
    positives: np.ndarray         # (patients, labels) positive images per patient

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, labels: Sequence[str]) -> PatientTable:
        ordered = frame.sort_values(["patient_id", "image_id"], kind="stable")
        patient_ids = ordered["patient_id"].astype(str).to_numpy()
        image_ids = ordered["image_id"].astype(str).to_numpy()
        starts = np.flatnonzero(np.r_[True, patient_ids[1:] != patient_ids[:-1]]) if len(patient_ids) else np.zeros(0, int)
        ends = np.r_[starts[1:], len(patient_ids)]
        images = [image_ids[a:b].tolist() for a, b in zip(starts, ends)]
        positive = (ordered[list(labels)].to_numpy(dtype=np.float64) == 1).astype(np.int64) if labels else np.zeros((len(ordered), 0), np.int64)
        counts = np.add.reduceat(positive, starts, axis=0) if len(starts) else np.zeros((0, len(labels)), np.int64)
        return cls(patient_ids[starts].astype(object), images, ends - starts, counts)

    def ids_of(self, members: np.ndarray) -> list[str]:
        return sorted(image for p in np.flatnonzero(members) for image in self.images[p])


def stratified_partition(table: PatientTable, proportions: Sequence[float], rng: np.random.Generator,
                         candidates: np.ndarray | None = None) -> np.ndarray:
    """Assign each candidate patient to one of ``len(proportions)`` groups; returns group index (-1 = not a candidate)."""
    n_patients = len(table.patients)
    candidates = np.ones(n_patients, bool) if candidates is None else candidates
    share = np.asarray(proportions, dtype=np.float64) / np.sum(proportions)
    assignment = np.full(n_patients, -1, dtype=np.int64)
    wanted_images = share * table.sizes[candidates].sum()
    wanted_labels = np.outer(share, table.positives[candidates].sum(axis=0)).astype(np.float64)
    unassigned = candidates.copy()
    order = rng.permutation(n_patients)

    def place(patient: int, group: int) -> None:
        assignment[patient] = group
        unassigned[patient] = False
        wanted_images[group] -= table.sizes[patient]
        wanted_labels[group] -= table.positives[patient]

    while True:
        remaining = table.positives[unassigned].sum(axis=0) if table.positives.shape[1] else np.zeros(0)
        open_labels = np.flatnonzero(remaining > 0)
        if open_labels.size == 0:
            break
        label = open_labels[np.argmin(remaining[open_labels])]
        for patient in order:
            if unassigned[patient] and table.positives[patient, label] > 0:
                need = wanted_labels[:, label]
                best = np.flatnonzero(need == need.max())
                if best.size > 1:
                    best = best[np.flatnonzero(wanted_images[best] == wanted_images[best].max())]
                place(int(patient), int(best[0] if best.size == 1 else rng.choice(best)))
    for patient in order:
        if unassigned[patient]:
            best = np.flatnonzero(wanted_images == wanted_images.max())
            place(int(patient), int(best[0] if best.size == 1 else rng.choice(best)))
    return assignment


def nested_fraction(table: PatientTable, parent: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified subset of the ``parent`` patients holding about ``fraction`` of their images.

    Every label with positives in the parent keeps at least one positive patient in the subset: the
    smallest such patient is moved in when stratification left a label empty (tiny sets, rare labels).
    """
    groups = stratified_partition(table, [fraction, 1.0 - fraction], rng, candidates=parent)
    chosen = groups == 0
    if not chosen.any():
        chosen[rng.choice(np.flatnonzero(parent))] = True
    for label in range(table.positives.shape[1]):
        has_label = table.positives[:, label] > 0
        if (has_label & parent).any() and not (has_label & chosen).any():
            options = np.flatnonzero(has_label & parent)
            smallest = options[table.sizes[options] == table.sizes[options].min()]
            chosen[rng.choice(smallest)] = True
    return chosen
