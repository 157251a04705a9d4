"""Paired comparisons from per-image predictions, checked against scikit-learn on explicit resamples."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from asgbench.errors import DataLayoutError
from asgbench.tasks import metrics as m
from asgbench.tasks.paired import ScoredImages, paired_difference, point_value, weighted_metric


def _images(n: int = 120, classes: int = 3, seed: int = 0, multiclass: bool = False, signal: float = 0.4) -> ScoredImages:
    rng = np.random.default_rng(seed)
    if multiclass:
        truth = rng.integers(0, classes, n)
        targets = np.eye(classes, dtype=np.int8)[truth]
    else:
        targets = (rng.random((n, classes)) < 0.4).astype(np.int8)
    scores = (signal * targets + rng.random((n, classes))).astype(np.float32)
    patients = tuple(str(i // 2) for i in range(n))          # two images per patient
    return ScoredImages(tuple(f"img{i}" for i in range(n)), patients, targets, scores, multiclass,
                        () if multiclass else (0.7,) * classes)


def test_resampled_metrics_equal_sklearn_on_the_explicitly_resampled_images():
    images = _images()
    weights = m.resample_counts(len(images.image_ids), images.patients, 5, 3)
    auc = weighted_metric("auc", images, weights)
    f1 = weighted_metric("f1", images, weights)
    predicted = (images.scores >= 0.7).astype(int)
    for row, counts in enumerate(weights):
        index = np.repeat(np.arange(len(counts)), counts)
        y, s = images.targets[index], images.scores[index]
        expected_auc = np.mean([roc_auc_score(y[:, j], s[:, j]) for j in range(y.shape[1])])
        assert auc[row] == pytest.approx(expected_auc, abs=1e-12)
        assert f1[row] == pytest.approx(f1_score(y, predicted[index], average="macro", zero_division=0), abs=1e-12)


def test_point_values_equal_the_run_metrics():
    images = _images(multiclass=True, seed=4)
    assert point_value("accuracy", images) == pytest.approx(m.accuracy(images.targets.argmax(1), images.scores.argmax(1)))
    assert point_value("auc", images) == pytest.approx(m.macro_auc(images.targets, images.scores))
    dice = ScoredImages(("a", "b", "c"), ("1", "2", "3"), np.zeros((3, 0), np.int8), np.array([[0.2], [1.0], [0.0]], np.float32))
    assert point_value("dice", dice) == pytest.approx(0.4)


def test_paired_difference_separates_a_better_model_and_is_zero_for_the_same_outputs():
    good = _images(n=400, classes=1, signal=1.5, seed=5)
    rng = np.random.default_rng(6)
    poor = good.with_scores(good.scores + 2.0 * rng.standard_normal(good.scores.shape))
    better = paired_difference("auc", good, poor)
    assert better.difference > 0 and better.lower_bound() > 0 and better.p_value < 0.01
    same = paired_difference("auc", good, good)
    assert same.difference == 0 and same.interval() == (0.0, 0.0)


def test_outputs_are_aligned_by_image_id_and_other_test_lists_are_refused():
    images = _images(n=20)
    order = np.random.default_rng(0).permutation(20)
    shuffled = ScoredImages(tuple(np.array(images.image_ids)[order]), tuple(np.array(images.patients)[order]),
                            images.targets[order], images.scores[order], False, images.thresholds)
    assert paired_difference("auc", shuffled, images).difference == 0.0
    other = ScoredImages(images.image_ids[:-1] + ("elsewhere",), images.patients, images.targets, images.scores, False,
                         images.thresholds)
    with pytest.raises(DataLayoutError, match="different test images"):
        paired_difference("auc", other, images)


def test_the_compact_copy_round_trips_bit_for_bit():
    images = _images(multiclass=True)
    again = ScoredImages.from_json(json.loads(json.dumps(images.to_json())))
    assert again.digest() == images.digest() and np.array_equal(again.targets, images.targets)
    assert again.with_scores(again.scores + 1e-6).digest() != images.digest()
