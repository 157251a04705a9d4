"""Paired comparisons of two runs on the same test images, from their per-image predictions.

Two models (or a run and its reference) scored on the same images are compared by the patient-level
bootstrap of their *difference*: each resample draws patients with replacement and both metrics are
computed on the same resampled images, so the spread reflects how the two differ image by image rather
than how each varies alone. Every metric is computed for all resamples at once from image weights (how
often each image occurs in a resample), with the same resamples :mod:`asgbench.tasks.metrics` uses.
A model with several runs (seeds, split draws) is compared by the mean over its runs
(:func:`pooled_difference`), with its runs resampled as well as the patients.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from asgbench.errors import DataLayoutError
from asgbench.tasks import metrics as m

RECOMPUTABLE = ("auc", "accuracy", "f1", "dice")


@dataclass(frozen=True)
class ScoredImages:
    """One run's per-image outputs on its test list: enough to recompute its headline metrics."""

    image_ids: tuple[str, ...]
    patients: tuple[str, ...]
    targets: np.ndarray               # images x classes, 0/1 (one-hot for a multi-class task); images x 0 for Dice
    scores: np.ndarray                # images x classes, float32; images x 1 per-image Dice for segmentation
    multiclass: bool = False
    thresholds: tuple[float, ...] = ()  # per class, chosen on val (binary accuracy and F1)

    @property
    def is_dice(self) -> bool:
        return self.targets.shape[1] == 0

    def digest(self) -> str:
        """sha256 of the image ids and the scores' float32 bytes: equal digests mean bit-identical outputs."""
        h = hashlib.sha256("\n".join(self.image_ids).encode())
        h.update(np.ascontiguousarray(self.scores, dtype=np.float32).tobytes())
        return h.hexdigest()

    def aligned_to(self, other: ScoredImages) -> ScoredImages:
        """These outputs in ``other``'s image order; an error when the two test lists differ."""
        if self.image_ids == other.image_ids:
            return self
        if set(self.image_ids) != set(other.image_ids):
            missing = sorted(set(other.image_ids) - set(self.image_ids))[:3]
            raise DataLayoutError(f"the two runs were scored on different test images (e.g. {missing or 'extra images'}); "
                                  "a paired comparison needs the same test list")
        order = pd.Index(self.image_ids).get_indexer(other.image_ids)
        return ScoredImages(other.image_ids, tuple(np.asarray(self.patients)[order]), self.targets[order],
                            self.scores[order], self.multiclass, self.thresholds)

    @classmethod
    def from_predictions(cls, table: pd.DataFrame, result: dict) -> ScoredImages:
        """From a run's predictions table and result file (as :mod:`asgbench.results` writes them)."""
        ids, patients = tuple(table["image_id"].astype(str)), tuple(table["patient_id"].astype(str))
        if "dice" in table.columns:
            return cls(ids, patients, np.zeros((len(table), 0), dtype=np.int8),
                       table[["dice"]].to_numpy(dtype=np.float32))
        labels = result["task"]["labels"]
        thresholds = result.get("per_class", {}).get("threshold", {})
        return cls(ids, patients, table[[f"target:{label}" for label in labels]].to_numpy(dtype=np.int8),
                   table[[f"score:{label}" for label in labels]].to_numpy(dtype=np.float32),
                   bool(result["task"].get("multiclass", False)),
                   tuple(float(thresholds[label]) for label in labels) if thresholds else ())

    def to_json(self) -> dict:
        return {"image_ids": list(self.image_ids), "patients": list(self.patients), "targets": self.targets.tolist(),
                "scores": self.scores.astype(np.float32).astype(float).tolist(), "multiclass": self.multiclass,
                "thresholds": list(self.thresholds)}

    @classmethod
    def from_json(cls, data: dict) -> ScoredImages:
        n = len(data["image_ids"])
        targets = np.asarray(data["targets"], dtype=np.int8).reshape(n, -1)
        scores = np.asarray(data["scores"], dtype=np.float32).reshape(n, -1)
        return cls(tuple(data["image_ids"]), tuple(data["patients"]), targets, scores, bool(data["multiclass"]),
                   tuple(float(t) for t in data.get("thresholds", ())))

    def with_scores(self, scores: np.ndarray) -> ScoredImages:
        return ScoredImages(self.image_ids, self.patients, self.targets, np.asarray(scores, dtype=np.float32),
                            self.multiclass, self.thresholds)


def weighted_metric(metric: str, images: ScoredImages, weights: np.ndarray) -> np.ndarray:
    """``metric`` for each row of image weights (resamples x images); NaN where a resample leaves it undefined."""
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    total = weights.sum(axis=1)
    if metric == "dice":
        return weights @ images.scores[:, 0].astype(np.float64) / total
    if metric == "auc":
        per_column = m.weighted_auc_columns(images.targets, images.scores, weights)
        defined = np.isfinite(per_column).any(axis=1)
        out = np.full(len(weights), np.nan)
        with np.errstate(invalid="ignore"):
            out[defined] = np.nanmean(per_column[defined], axis=1)
        return out
    if metric == "accuracy" and images.multiclass:
        correct = images.targets[np.arange(len(images.targets)), images.scores.argmax(1)].astype(np.float64)
        return weights @ correct / total
    if not images.thresholds:
        raise DataLayoutError(f"{metric} needs the val-chosen thresholds, which this run's result does not record")
    predicted = images.scores >= np.asarray(images.thresholds, dtype=np.float32)[None, :]
    truth = images.targets.astype(bool)
    if metric == "accuracy":
        return weights @ (predicted == truth).mean(axis=1) / total
    if metric == "f1":
        tp, fp, fn = (weights @ (predicted & truth), weights @ (predicted & ~truth), weights @ (~predicted & truth))
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        return per_class.mean(axis=1)
    raise DataLayoutError(f"metric {metric!r} cannot be recomputed from predictions (known: {', '.join(RECOMPUTABLE)})")


def point_value(metric: str, images: ScoredImages) -> float:
    return float(weighted_metric(metric, images, np.ones((1, len(images.image_ids))))[0])


@dataclass(frozen=True)
class PairedDifference:
    """``new - reference`` of one metric: the point value and its bootstrap distribution (same resamples)."""

    metric: str
    difference: float
    resampled: np.ndarray

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Two-sided percentile interval."""
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(self.resampled, [tail, 100 - tail])
        return float(low), float(high)

    def upper_bound(self, confidence: float = 0.95) -> float:
        """One-sided upper bound: the difference is below it with this confidence."""
        return float(np.percentile(self.resampled, confidence * 100))

    def lower_bound(self, confidence: float = 0.95) -> float:
        return float(np.percentile(self.resampled, (1 - confidence) * 100))

    @property
    def p_value(self) -> float:
        """Two-sided bootstrap p-value of a zero difference."""
        return float(min(1.0, 2 * min((self.resampled <= 0).mean(), (self.resampled >= 0).mean())))


def resample_weights(images: ScoredImages, samples: int, seed: int) -> np.ndarray:
    return m.resample_counts(len(images.image_ids), images.patients, samples, seed)


def paired_difference(metric: str, new: ScoredImages, reference: ScoredImages, *, samples: int = m.BOOTSTRAP_SAMPLES,
                      seed: int = 0) -> PairedDifference:
    """The patient-level paired bootstrap of ``metric(new) - metric(reference)`` on the reference's images."""
    new = new.aligned_to(reference)
    weights = resample_weights(reference, samples, seed)
    differences = weighted_metric(metric, new, weights) - weighted_metric(metric, reference, weights)
    differences = differences[np.isfinite(differences)]
    if not len(differences):
        raise DataLayoutError(f"{metric} is undefined on every bootstrap resample of these test images")
    return PairedDifference(metric, point_value(metric, new) - point_value(metric, reference), differences)


# -- several runs per model (seeds, split draws) -------------------------------------------------------------
RunKey = tuple[int, int]   # (split draw, seed): runs of two models with the same key were trained on the same list


@dataclass(frozen=True)
class ResampledRun:
    """One run's metric on its test images and on every bootstrap resample of them.

    The resamples are drawn on the images in image-id order, so every run scored on the same test list (same
    ids and patients) gets the same resamples whatever order its file lists them in; ``resamples`` names them.
    Computed once per run, it serves every comparison the run takes part in.
    """

    metric: str
    key: RunKey
    value: float
    resampled: np.ndarray             # one value per resample; NaN where the resample leaves it undefined
    resamples: str                    # digest of (image ids, patients, resample count, seed)


def resample_run(metric: str, images: ScoredImages, key: RunKey = (0, 0), *, samples: int = m.BOOTSTRAP_SAMPLES,
                 seed: int = 0) -> ResampledRun:
    order = np.argsort(np.asarray(images.image_ids, dtype=object), kind="stable")
    ids = tuple(np.asarray(images.image_ids, dtype=object)[order])
    patients = tuple(str(p) for p in np.asarray(images.patients, dtype=object)[order])
    canonical = ScoredImages(ids, patients, images.targets[order], images.scores[order], images.multiclass,
                             images.thresholds)
    digest = hashlib.sha256("\n".join(ids + ("",) + patients + (f"{samples}:{seed}",)).encode()).hexdigest()
    resampled = weighted_metric(metric, canonical, resample_weights(canonical, samples, seed))
    return ResampledRun(metric, (int(key[0]), int(key[1])), point_value(metric, canonical), resampled, digest)


def _pooled(runs: tuple[ResampledRun, ...], picks: np.ndarray) -> np.ndarray:
    """Per resample, the mean over the picked runs (picks: resamples x runs, indices into ``runs``)."""
    table = np.stack([run.resampled for run in runs])             # runs x resamples
    return table[picks, np.arange(table.shape[1])[:, None]].mean(axis=1)


def pooled_difference(new: Sequence[ResampledRun], reference: Sequence[ResampledRun] | float, *,
                      seed: int = 0) -> PairedDifference:
    """Mean over ``new``'s runs minus the mean over ``reference``'s runs (or minus a fixed value such as chance).

    Each bootstrap resample takes the same resampled test images for every run of both models, and draws each
    model's runs with replacement: the same draws for both when their runs have the same keys (the runs then
    share split draws and seeds, and the comparison is paired by run too), independent draws otherwise. The
    interval therefore holds the test-set and the run-to-run variation of the two means; with one run each
    it is :func:`paired_difference`'s.
    """
    new = tuple(new)
    if not new:
        raise DataLayoutError("a pooled comparison needs at least one run on each side")
    metric, resamples = new[0].metric, new[0].resamples
    fixed = not isinstance(reference, Sequence)
    others = () if fixed else tuple(reference)
    if not fixed and not others:
        raise DataLayoutError("a pooled comparison needs at least one run on each side")
    for run in new + others:
        if run.resamples != resamples or run.metric != metric:
            raise DataLayoutError(f"the runs were not scored on the same test images (or not by the same metric, "
                                  f"{run.metric} vs {metric}); a paired comparison needs the same test list")
    count = len(new[0].resampled)
    rng = np.random.default_rng(seed)
    new_picks = rng.integers(0, len(new), (count, len(new)))
    if fixed:
        differences = _pooled(new, new_picks) - float(reference)
        point = float(np.mean([run.value for run in new])) - float(reference)
    else:
        keys = [run.key for run in new]
        matched = sorted(keys) == sorted(run.key for run in others) and len(set(keys)) == len(keys)
        if matched:
            by_key = {run.key: run for run in others}
            others, other_picks = tuple(by_key[key] for key in keys), new_picks
        else:
            other_picks = rng.integers(0, len(others), (count, len(others)))
        differences = _pooled(new, new_picks) - _pooled(others, other_picks)
        point = float(np.mean([run.value for run in new]) - np.mean([run.value for run in others]))
    differences = differences[np.isfinite(differences)]
    if not len(differences):
        raise DataLayoutError(f"{metric} is undefined on every bootstrap resample of these test images")
    return PairedDifference(metric, point, differences)
