"""Metrics over a whole test set, with bootstrap confidence intervals that resample patients.

Every metric is computed once over all predictions (never averaged per mini-batch). Confidence intervals are
percentile bootstraps over patients (all images of a resampled patient come along), seeded, with at least
1,000 resamples; a paired bootstrap gives the difference between two runs on the same images.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import rankdata

BOOTSTRAP_SAMPLES = 1000


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks (1-based) down each column, ties given their average rank, from one argsort (scipy's rankdata
    ranks column by column); a NaN makes its column NaN, as in scipy."""
    if np.isnan(scores).any():
        return rankdata(scores, axis=0)
    columns = np.ascontiguousarray(scores.T)                  # sorting along contiguous rows is the fast way
    order = np.argsort(columns, axis=1)
    ordered = np.take_along_axis(columns, order, axis=1)
    positions = np.broadcast_to(np.arange(columns.shape[1]), columns.shape)
    starts = np.ones(columns.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]                    # each run of equal values begins here
    ends = np.ones(columns.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, positions, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, positions, columns.shape[1])[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(columns.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=1)
    return ranks.T


def auc_columns(targets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of every column at once (Mann-Whitney U with average ranks for ties); NaN where undefined."""
    targets = np.asarray(targets, dtype=bool).reshape(len(targets), -1)
    scores = np.asarray(scores)
    # float32 scores are ranked as they are: widening them would not change their order, only the sort's cost
    scores = scores.astype(np.float64, copy=False) if scores.dtype != np.float32 else scores
    ranks = _ranks(scores.reshape(len(scores), -1))
    positives = targets.sum(axis=0)
    negatives = len(targets) - positives
    rank_sum = (ranks * targets).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


def auc_per_class(targets: np.ndarray, scores: np.ndarray) -> list[float | None]:
    """ROC AUC per column; None where a column has only one class (undefined)."""
    return [None if np.isnan(v) else float(v) for v in auc_columns(targets, scores)]


def macro_auc(targets: np.ndarray, scores: np.ndarray) -> float:
    values = auc_columns(targets, scores)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def accuracy(targets: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(np.asarray(targets) == np.asarray(predictions)))


def macro_f1(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Mean over columns of each column's binary F1 (0 where a column has no true or predicted positive), at once."""
    targets, predictions = np.asarray(targets).astype(bool), np.asarray(predictions).astype(bool)
    true_positives = (targets & predictions).sum(axis=0)
    denominator = targets.sum(axis=0) + predictions.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_column = np.where(denominator > 0, 2 * true_positives / np.maximum(denominator, 1), 0.0)
    return float(per_column.mean())


def f1(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Binary F1 of the positive class; 0 when there are no true or predicted positives (sklearn's zero_division=0)."""
    targets, predictions = np.asarray(targets).astype(bool), np.asarray(predictions).astype(bool)
    true_positives = np.sum(targets & predictions)
    denominator = targets.sum() + predictions.sum()
    return float(2 * true_positives / denominator) if denominator else 0.0


def dice_per_image(masks: np.ndarray, predicted: np.ndarray, empty_score: float = 1.0) -> np.ndarray:
    """Dice of each image's binary masks; an image with both masks empty scores ``empty_score`` (MGCA rule: 1)."""
    masks = masks.reshape(len(masks), -1).astype(bool)
    predicted = predicted.reshape(len(predicted), -1).astype(bool)
    intersection = (masks & predicted).sum(axis=1)
    total = masks.sum(axis=1) + predicted.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(total == 0, empty_score, 2.0 * intersection / np.maximum(total, 1))
    return dice.astype(np.float64)


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    samples: int

    def to_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high], "bootstrap_samples": self.samples}


@dataclass(frozen=True)
class PatientGroups:
    """The test images grouped by patient (patients in sorted order): image indices of every group laid end to
    end, and where each group starts and how long it is, so a resample is gathered without a Python loop."""

    images: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, patients: tuple[str, ...] | None, n: int) -> PatientGroups:
        if patients is None:
            return cls(np.arange(n), np.arange(n), np.ones(n, dtype=np.int64))
        names, inverse = np.unique(np.asarray(patients, dtype=str), return_inverse=True)
        images = np.argsort(inverse, kind="stable")            # by patient, each patient's images in input order
        sizes = np.bincount(inverse, minlength=len(names))
        return cls(images, np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)

    def __len__(self) -> int:
        return len(self.sizes)

    def gather(self, picked: np.ndarray) -> np.ndarray:
        """The image indices of the picked groups, in the order picked (a group picked twice comes twice)."""
        sizes = self.sizes[picked]
        offsets = np.repeat(self.starts[picked] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        return self.images[offsets + np.arange(int(sizes.sum()))]

    def image_group(self) -> np.ndarray:
        """The group of each image."""
        group = np.empty(len(self.images), dtype=np.int64)
        group[self.images] = np.repeat(np.arange(len(self.sizes)), self.sizes)
        return group


@lru_cache(maxsize=4)
def _patient_draws(n: int, patients: tuple[str, ...] | None, samples: int, seed: int) -> tuple[PatientGroups, np.ndarray]:
    """The groups and the groups each resample picks (samples x groups): one seeded draw per resample, the
    single place the bootstrap's random stream is consumed."""
    groups = PatientGroups.of(patients, n)
    rng = np.random.default_rng(seed)
    picked = np.stack([rng.integers(0, len(groups), len(groups)) for _ in range(samples)]) if samples else \
        np.zeros((0, len(groups)), dtype=np.int64)
    picked.flags.writeable = False
    return groups, picked


def resamples(n: int, patients: Sequence[str] | None, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Image indices of each bootstrap resample: patients drawn with replacement, all their images kept."""
    yield from _resample_indices(n, None if patients is None else tuple(str(p) for p in patients), samples, seed)


def _resample_indices(n: int, patients: tuple[str, ...] | None, samples: int, seed: int) -> Iterator[np.ndarray]:
    """Drawn once per (test list, seed) and gathered lazily: a run bootstraps several metrics over the same
    resamples, and holding 1,000 index arrays of a large test list would cost more than gathering them."""
    groups, picked = _patient_draws(n, patients, samples, seed)
    for row in picked:
        index = groups.gather(row)
        index.flags.writeable = False
        yield index


def bootstrap(metric: Callable[[np.ndarray], float], n: int, *, patients: Sequence[str] | None = None,
              samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Interval:
    """95 % percentile interval of ``metric(indices)`` over resampled patients; undefined resamples are skipped."""
    values = []
    for index in resamples(n, patients, samples, seed):
        value = metric(index)
        if value is not None and np.isfinite(value):
            values.append(value)
    point = metric(np.arange(n))
    if not values:
        return Interval(float(point), float("nan"), float("nan"), 0)
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(point), float(low), float(high), len(values))


@lru_cache(maxsize=4)
def resample_counts(n: int, patients: tuple[str, ...] | None, samples: int, seed: int) -> np.ndarray:
    """How often each image occurs in each resample (samples x n): the same resamples as ``resamples``, counted
    per patient and spread to the patient's images."""
    groups, picked = _patient_draws(n, patients, samples, seed)
    flat = (np.arange(len(picked))[:, None] * len(groups) + picked).ravel()
    per_group = np.bincount(flat, minlength=len(picked) * len(groups)).reshape(len(picked), len(groups))
    counts = per_group[:, groups.image_group()]
    counts.flags.writeable = False
    return counts


CHUNK_ELEMENTS = 1 << 18   # weights per pass (2 MiB as float64): each pass stays in cache


def weighted_auc_columns(targets: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of every column for every row of image weights (resample x column; NaN where undefined).

    The Mann-Whitney count over positive-negative pairs, a tie counting one half, with each image standing for
    ``weights`` copies: the same number as ranking a resample that holds those copies, without ranking 1,000
    resamples one by one. Resamples go through a few at a time, their weights as bytes, so every pass works in
    cache: whole 1,000-row float64 temporaries made the cost grow as n^1.2; this is linear and ~4x faster.
    """
    targets = np.asarray(targets, dtype=bool).reshape(len(targets), -1)
    scores = np.asarray(scores, dtype=np.float64).reshape(len(scores), -1)
    weights = _compact(np.asarray(weights))
    out = np.full((len(weights), targets.shape[1]), np.nan)
    rows = max(1, CHUNK_ELEMENTS // max(1, targets.shape[0]))
    for column in range(targets.shape[1]):
        order = np.argsort(scores[:, column], kind="stable")
        ordered = scores[order, column]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])        # one group per distinct score
        ends = np.r_[starts[1:], len(order)]
        positive = targets[order, column]
        for first in range(0, len(weights), rows):
            # np.take, not w[:, index]: fancy indexing walks a column at a time, superlinear once rows leave cache
            w = np.take(weights[first:first + rows], order, axis=1).astype(np.float64)
            below_pos = _cumulative(np.where(positive, w, 0.0))                  # resamples x (images + 1)
            below_neg = _cumulative(np.where(positive, 0.0, w))
            pos = np.take(below_pos, ends, axis=1) - np.take(below_pos, starts, axis=1)
            lower_neg = np.take(below_neg, starts, axis=1)
            neg = np.take(below_neg, ends, axis=1) - lower_neg
            pairs = below_pos[:, -1] * below_neg[:, -1]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[first:first + rows, column] = np.where(
                    pairs > 0, (pos * (lower_neg + 0.5 * neg)).sum(axis=1) / pairs, np.nan)
    return out


def _compact(weights: np.ndarray) -> np.ndarray:
    """Whole-number weights in the narrowest unsigned type that holds them (resample counts fit a byte), so
    reordering a resample's weights moves an eighth of the memory; other weights as float64."""
    if weights.dtype.kind in "iu" and weights.size and weights.min() >= 0:
        return weights.astype(np.min_scalar_type(int(weights.max())), copy=False)
    return weights.astype(np.float64, copy=False)


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Running sums along each row with a leading zero: entry k is the sum of the row's first k images."""
    out = np.zeros((len(values), values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def bootstrap_macro_auc(targets: np.ndarray, scores: np.ndarray, *, patients: Sequence[str] | None = None,
                        samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Interval:
    """``bootstrap(lambda i: macro_auc(targets[i], scores[i]), ...)`` on the same resamples, all at once."""
    n = len(targets)
    counts = _counts_for(n, patients, samples, seed)
    per_column = weighted_auc_columns(targets, scores, counts)
    defined = np.isfinite(per_column).any(axis=1)
    with np.errstate(invalid="ignore"):
        values = np.nanmean(per_column[defined], axis=1) if defined.any() else np.zeros(0)
    point = macro_auc(targets, scores)
    if not len(values):
        return Interval(float(point), float("nan"), float("nan"), 0)
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(point), float(low), float(high), len(values))


def _counts_for(n: int, patients: Sequence[str] | None, samples: int, seed: int) -> np.ndarray:
    """:func:`resample_counts` for any sequence of patient names (the cache key needs a tuple of strings)."""
    return resample_counts(n, None if patients is None else tuple(str(p) for p in patients), samples, seed)


def bootstrap_accuracy(targets: np.ndarray, predictions: np.ndarray, *, patients: Sequence[str] | None = None,
                       samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Interval:
    """``bootstrap(lambda i: accuracy(targets[i], predictions[i]), ...)``, the same numbers from resample counts:
    whole-number sums divided once, as ``np.mean`` of each resample does, in time linear in the images."""
    equal = (np.asarray(targets) == np.asarray(predictions)).reshape(len(targets), -1)
    counts = _counts_for(len(equal), patients, samples, seed)
    values = (counts @ equal.sum(axis=1)) / (counts.sum(axis=1) * equal.shape[1])
    return percentile_interval(accuracy(targets, predictions), values)


def bootstrap_macro_f1(targets: np.ndarray, predictions: np.ndarray, *, patients: Sequence[str] | None = None,
                       samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Interval:
    """``bootstrap(lambda i: macro_f1(targets[i], predictions[i]), ...)`` from resample counts, the same numbers."""
    truth = np.asarray(targets).astype(bool).reshape(len(targets), -1)
    predicted = np.asarray(predictions).astype(bool).reshape(len(predictions), -1)
    counts = _counts_for(len(truth), patients, samples, seed)
    true_positives = counts @ (truth & predicted).astype(np.int64)          # resamples x columns
    denominator = counts @ truth.astype(np.int64) + counts @ predicted.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_column = np.where(denominator > 0, 2 * true_positives / np.maximum(denominator, 1), 0.0)
    return percentile_interval(macro_f1(targets, predictions), per_column.mean(axis=1))


# -- segmentation: what a Dice means beside predicting nothing ----------------------------------------------
def empty_mask_dice(lesion: np.ndarray) -> np.ndarray:
    """Per-image Dice of a model that predicts no mask at all: 1 on an image without a lesion (both masks
    empty), 0 on one with; its mean is the share of images without a lesion, the floor any model must clear."""
    return np.where(np.asarray(lesion, dtype=bool), 0.0, 1.0)


def resampled_means(values: np.ndarray, counts: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """The mean of ``values`` over the images of each resample (``counts``: resamples x images, as
    :func:`resample_counts` gives), restricted to the images in ``where``; NaN where a resample has none."""
    weights = counts if where is None else counts * np.asarray(where, dtype=bool)[None, :]
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = weights @ np.asarray(values, dtype=np.float64) / total
    return np.where(total > 0, means, np.nan)


def percentile_interval(point: float, resampled: np.ndarray) -> Interval:
    """95 % percentile interval of the finite resampled values around ``point`` (NaN bounds when none is)."""
    finite = resampled[np.isfinite(resampled)]
    if not len(finite):
        return Interval(float(point), float("nan"), float("nan"), 0)
    low, high = np.percentile(finite, [2.5, 97.5])
    return Interval(float(point), float(low), float(high), len(finite))


@dataclass(frozen=True)
class SegmentationReading:
    """What makes a segmentation Dice readable, every interval from the same patient resamples: Dice on the
    images with a lesion, the empty-mask baseline on the same images, and the paired difference model - empty."""

    lesion_dice: Interval
    empty_mask: Interval
    minus_empty: Interval

    def to_metrics(self) -> dict[str, dict]:
        """The result file's metric entries (``dice_positive_images`` keeps its name from older results)."""
        return {
            "dice_positive_images": {**self.lesion_dice.to_dict(),
                                     "note": "mean Dice over test images whose mask is not empty"},
            "empty_mask_dice": {**self.empty_mask.to_dict(),
                                "note": "Dice of predicting no mask on every test image: the share without a lesion"},
            "dice_minus_empty": {**self.minus_empty.to_dict(),
                                 "note": "paired: dice - empty_mask_dice on the same bootstrap resamples"},
        }


def read_segmentation(dice: np.ndarray, lesion: np.ndarray, *, patients: Sequence[str] | None = None,
                      samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> SegmentationReading:
    """Lesion-image Dice, empty-mask baseline and model - empty, bootstrapped on the resamples that
    :func:`bootstrap` draws for the headline Dice with the same patients and seed."""
    dice, lesion = np.asarray(dice, dtype=np.float64), np.asarray(lesion, dtype=bool)
    counts = _counts_for(len(dice), patients, samples, seed)
    empty = empty_mask_dice(lesion)
    lesion_point = float(dice[lesion].mean()) if lesion.any() else float("nan")
    return SegmentationReading(
        lesion_dice=percentile_interval(lesion_point, resampled_means(dice, counts, lesion)),
        empty_mask=percentile_interval(float(empty.mean()), resampled_means(empty, counts)),
        minus_empty=percentile_interval(float(dice.mean() - empty.mean()), resampled_means(dice - empty, counts)),
    )
