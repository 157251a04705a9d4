"""Paired comparisons from per-image predictions, checked against scikit-learn on explicit resamples, and the
pooled comparison of several runs per model against the single-run one and cases whose answer is known."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from asgbench.errors import DataLayoutError
from asgbench.tasks import metrics as m
from asgbench.tasks.paired import (ScoredImages, paired_difference, point_value, pooled_difference, resample_run,
                                   weighted_metric)


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


# -- several runs per model: pooled_difference ------------------------------------------------------------
def _sorted_images(n: int = 300, seed: int = 0, signal: float = 1.0) -> ScoredImages:
    """One binary label, ids already in image-id order (so every resampling path draws the same resamples)."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, 1)) < 0.4).astype(np.int8)
    scores = (signal * targets + rng.standard_normal((n, 1))).astype(np.float32)
    return ScoredImages(tuple(f"img{i:05d}" for i in range(n)), tuple(f"p{i // 2:05d}" for i in range(n)), targets,
                        scores)


def test_one_run_each_gives_exactly_the_paired_difference():
    good = _sorted_images(seed=1)
    poor = good.with_scores(good.scores + 0.8 * np.random.default_rng(2).standard_normal(good.scores.shape))
    pooled = pooled_difference([resample_run("auc", poor)], [resample_run("auc", good)])
    single = paired_difference("auc", poor, good)
    assert pooled.difference == pytest.approx(single.difference, abs=1e-12)
    assert pooled.interval() == pytest.approx(single.interval(), abs=1e-12)
    assert pooled.interval()[1] < 0                         # the noisier outputs are worse, and the CI says so


def test_a_fixed_reference_gives_the_runs_own_bootstrap_interval_shifted():
    images = _sorted_images(seed=3)
    own = m.bootstrap_macro_auc(images.targets, images.scores, patients=images.patients)
    above = pooled_difference([resample_run("auc", images)], 0.5)
    assert above.difference == pytest.approx(own.value - 0.5, abs=1e-12)
    assert above.interval() == pytest.approx((own.low - 0.5, own.high - 0.5), abs=1e-12)


def _runs_with_levels(improvement: float) -> tuple[list[ScoredImages], list[ScoredImages]]:
    """Three trainings (split draw 0-2) whose AUC levels differ widely; the second model is the first with its
    scores moved towards the truth by ``improvement`` on every image, so it is better in every training."""
    base = _sorted_images(n=400, seed=7, signal=0.0)
    rng = np.random.default_rng(8)
    first, second = [], []
    for signal in (2.0, 1.0, 0.3):
        scores = signal * base.targets + rng.standard_normal(base.scores.shape)
        first.append(base.with_scores(scores))
        second.append(base.with_scores(scores + improvement * (2 * base.targets - 1)))
    return first, second


def test_runs_with_the_same_split_draws_and_seeds_are_compared_pairwise():
    first, second = _runs_with_levels(0.15)
    old = [resample_run("auc", images, (draw, 0)) for draw, images in enumerate(first)]
    new = [resample_run("auc", images, (draw, 0)) for draw, images in enumerate(second)]
    levels = [run.value for run in old]
    assert max(levels) - min(levels) > 0.2                  # the trainings differ far more than the models do
    matched = pooled_difference(new, old)
    assert 0 < matched.difference < 0.1 and matched.interval()[0] > 0
    # the same runs, but the second model's trainings are not the first's: the spread of levels enters both means
    unmatched = pooled_difference([resample_run("auc", images, (draw, 1)) for draw, images in enumerate(second)], old)
    assert unmatched.difference == pytest.approx(matched.difference, abs=1e-12)
    assert unmatched.interval()[0] < 0 < unmatched.interval()[1]


def test_identical_models_differ_by_exactly_zero_and_other_test_lists_are_refused():
    first, _ = _runs_with_levels(0.0)
    runs = [resample_run("auc", images, (draw, 0)) for draw, images in enumerate(first)]
    same = pooled_difference(runs, runs)
    assert same.difference == 0 and same.interval() == (0.0, 0.0)
    elsewhere = _sorted_images(n=399, seed=7)
    with pytest.raises(DataLayoutError, match="same test images"):
        pooled_difference([resample_run("auc", elsewhere)], runs)
    # the resamples follow the image ids, not the order of the file: a shuffled copy is the same run
    order = np.random.default_rng(0).permutation(len(first[0].image_ids))
    shuffled = ScoredImages(tuple(np.array(first[0].image_ids)[order]), tuple(np.array(first[0].patients)[order]),
                            first[0].targets[order], first[0].scores[order])
    assert np.array_equal(resample_run("auc", shuffled).resampled, runs[0].resampled)


def test_a_model_worse_on_average_over_unsteady_trainings_is_not_significantly_worse():
    first, _ = _runs_with_levels(0.0)                        # three trainings: AUC 0.91, 0.75, 0.60
    runs = [resample_run("auc", images, (draw, 0)) for draw, images in enumerate(first)]
    steady = first[0].with_scores(1.4 * first[0].targets + np.random.default_rng(9).standard_normal((400, 1)))
    other = [resample_run("auc", steady, (0, 5))]               # one training of another model: AUC 0.83
    pooled = pooled_difference(runs, other)
    assert pooled.difference < -0.03
    assert pooled.interval()[0] < 0 < pooled.interval()[1]   # the spread of the trainings is in the interval
    test_set_only = np.mean([run.resampled for run in runs], axis=0) - other[0].resampled
    assert np.percentile(test_set_only, 97.5) < 0             # the test images alone would call it worse
