"""Metrics agree with scikit-learn; bootstrap intervals behave like intervals."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from asgbench.tasks import metrics as m
from asgbench.tasks.scoring import best_f1_threshold


@pytest.fixture
def predictions():
    rng = np.random.default_rng(3)
    targets = (rng.random((400, 5)) < [0.1, 0.3, 0.5, 0.02, 0.7]).astype(int)
    scores = np.round(targets * 0.4 + rng.random((400, 5)), 1)  # rounding makes many ties
    return targets, scores


def test_auc_matches_sklearn_per_class_and_macro(predictions):
    targets, scores = predictions
    expected = [roc_auc_score(targets[:, j], scores[:, j]) for j in range(5)]
    assert m.auc_per_class(targets, scores) == pytest.approx(expected, abs=1e-12)
    assert m.macro_auc(targets, scores) == pytest.approx(np.mean(expected), abs=1e-12)


def test_auc_is_undefined_for_a_single_class_column(predictions):
    targets, scores = predictions
    targets = targets.copy()
    targets[:, 3] = 0
    per_class = m.auc_per_class(targets, scores)
    assert per_class[3] is None
    assert m.macro_auc(targets, scores) == pytest.approx(np.mean([v for v in per_class if v is not None]))


def test_accuracy_and_f1_match_sklearn(predictions):
    targets, scores = predictions
    for j in range(5):
        predicted = (scores[:, j] >= 0.7).astype(int)
        assert m.accuracy(targets[:, j], predicted) == pytest.approx(accuracy_score(targets[:, j], predicted))
        assert m.f1(targets[:, j], predicted) == pytest.approx(f1_score(targets[:, j], predicted, zero_division=0))
    assert m.f1(np.zeros(5), np.zeros(5)) == 0.0


def test_best_f1_threshold_reaches_the_best_f1(predictions):
    targets, scores = predictions
    threshold = best_f1_threshold(targets[:, 1], scores[:, 1])
    best = m.f1(targets[:, 1], scores[:, 1] >= threshold)
    for candidate in np.unique(scores[:, 1]):
        assert m.f1(targets[:, 1], scores[:, 1] >= candidate) <= best + 1e-12


def test_dice_per_image_and_the_empty_rule():
    truth = np.zeros((3, 4, 4), dtype=np.uint8)
    predicted = np.zeros_like(truth)
    truth[0, :2] = 1
    predicted[0, :1] = 1            # 4 of 8 pixels: Dice 2*4/(8+4)
    predicted[1, 0, 0] = 1          # empty truth, non-empty prediction: 0
    dice = m.dice_per_image(truth, predicted)  # image 2: both empty -> 1
    assert dice == pytest.approx([8 / 12, 0.0, 1.0])


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)

    def interval(n):
        y = rng.integers(0, 2, n)
        s = y * 0.8 + rng.random(n)
        return m.bootstrap(lambda i: m.macro_auc(y[i], s[i]), n, seed=1)

    small, large = interval(100), interval(3000)
    for ci in (small, large):
        assert ci.low <= ci.value <= ci.high
        assert ci.samples >= 990
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_bootstrap_resamples_patients_not_images():
    """Every resample holds each drawn patient's images all together, so counts come in whole patients."""
    sizes = np.array([1, 2, 3, 4] * 10)                      # patients with 1 to 4 images each
    patients = np.repeat(np.arange(len(sizes)), sizes).astype(str)
    n = len(patients)
    for index in m.resamples(n, patients, samples=50, seed=0):
        counts = np.bincount(index, minlength=n)
        for patient in range(len(sizes)):
            mine = counts[patients == str(patient)]
            assert (mine == mine[0]).all()                 # a patient's images are drawn together, never apart
    image_level = next(iter(m.resamples(n, None, samples=1, seed=0)))
    counts = np.bincount(image_level, minlength=n)
    torn = [len(set(counts[patients == str(p)])) > 1 for p in range(len(sizes)) if sizes[p] > 1]
    assert any(torn)                                       # the image-level bootstrap does split patients


def test_patient_bootstrap_is_wider_than_image_bootstrap_when_a_patient_repeats_one_outcome():
    """Correlated images within a patient carry less information: the patient-level CI must be wider."""
    rng = np.random.default_rng(1)
    outcome = rng.integers(0, 2, 60).astype(float)
    values = np.repeat(outcome, 5)                          # five identical images per patient
    patients = np.repeat(np.arange(60), 5).astype(str)
    by_patient = m.bootstrap(lambda i: float(values[i].mean()), len(values), patients=patients, seed=0)
    by_image = m.bootstrap(lambda i: float(values[i].mean()), len(values), seed=0)
    assert (by_patient.high - by_patient.low) > 1.8 * (by_image.high - by_image.low)


def test_a_short_segmentation_list_is_repeated_to_the_epoch_minimum():
    from asgbench.tasks.segmentation import epoch_order

    rng = np.random.default_rng(0)
    assert sorted(epoch_order(rng, 5)) == list(range(5))            # no minimum: one permutation
    order = epoch_order(rng, 8, min_images=20)
    assert len(order) == 24 and all(sorted(order[k:k + 8]) == list(range(8)) for k in (0, 8, 16))
    assert not np.array_equal(order[:8], order[8:16])               # fresh orders, not one repeated
    assert len(epoch_order(rng, 840, min_images=128)) == 840         # a long list is left as it is
    assert len(epoch_order(rng, 0, min_images=128)) == 0


def test_a_long_segmentation_list_is_cut_to_a_fresh_subset_per_epoch():
    from asgbench.tasks.segmentation import epoch_order

    rng = np.random.default_rng(1)
    first, second = epoch_order(rng, 840, max_images=128), epoch_order(rng, 840, max_images=128)
    assert len(first) == len(second) == 128 and len(set(first)) == 128
    assert set(first) != set(second)                                # each epoch draws its own subset
    assert len(epoch_order(rng, 8, min_images=20, max_images=128)) == 24   # a short list is only repeated


@pytest.mark.parametrize("n, least, most", [(5, 0, 0), (8, 20, 0), (8, 20, 128), (840, 128, 0), (840, 0, 128),
                                             (840, 256, 256), (28, 256, 256), (0, 256, 256)])
def test_epoch_length_is_the_length_of_every_epoch_order(n, least, most):
    from asgbench.tasks.segmentation import epoch_length, epoch_order

    rng = np.random.default_rng(n + least)
    assert {len(epoch_order(rng, n, least, most)) for _ in range(3)} == {epoch_length(n, least, most)}


def test_macro_f1_is_the_mean_of_per_column_f1():
    rng = np.random.default_rng(3)
    targets = rng.random((60, 5)) < 0.3
    predictions = rng.random((60, 5)) < 0.4
    targets[:, 4] = predictions[:, 4] = False                       # a column with no positives at all scores 0
    expected = np.mean([f1_score(targets[:, j], predictions[:, j], zero_division=0) for j in range(5)])
    assert m.macro_f1(targets, predictions) == pytest.approx(expected)
    assert m.accuracy(targets, predictions) == pytest.approx(np.mean([accuracy_score(targets[:, j], predictions[:, j]) for j in range(5)]))


def test_the_vectorised_auc_bootstrap_equals_ranking_each_resample():
    from asgbench.tasks import metrics as m

    rng = np.random.default_rng(7)
    n = 150
    targets = rng.random((n, 4)) < [0.3, 0.05, 0.5, 0.02]                   # one rare column: undefined in some resamples
    scores = np.round(rng.random((n, 4)) + 0.4 * targets, 1)                # rounded: many ties
    patients = [f"p{i // 3}" for i in range(n)]                              # several images per patient
    one_by_one = m.bootstrap(lambda i: m.macro_auc(targets[i], scores[i]), n, patients=patients, seed=3)
    at_once = m.bootstrap_macro_auc(targets, scores, patients=patients, seed=3)
    assert at_once.samples == one_by_one.samples == 1000
    assert abs(at_once.value - one_by_one.value) < 1e-12
    assert abs(at_once.low - one_by_one.low) < 1e-12 and abs(at_once.high - one_by_one.high) < 1e-12


@pytest.mark.parametrize("patients_per_image", [None, 3])
def test_accuracy_and_f1_bootstraps_from_counts_equal_resampling_each_image_list(patients_per_image):
    rng = np.random.default_rng(11)
    n = 211
    targets = (rng.random((n, 4)) < [0.3, 0.05, 0.5, 0.0]).astype(int)    # a column without positives: F1 0
    predicted = (rng.random((n, 4)) < 0.3).astype(int)
    patients = None if patients_per_image is None else [f"p{i // patients_per_image}" for i in range(n)]
    for slow, fast in ((m.accuracy, m.bootstrap_accuracy), (m.macro_f1, m.bootstrap_macro_f1)):
        one_by_one = m.bootstrap(lambda i: slow(targets[i], predicted[i]), n, patients=patients, seed=4)
        assert fast(targets, predicted, patients=patients, seed=4) == one_by_one    # bit for bit
    classes, guess = rng.integers(0, 3, n), rng.integers(0, 3, n)               # multi-class accuracy
    assert m.bootstrap_accuracy(classes, guess, patients=patients, seed=4) == \
        m.bootstrap(lambda i: m.accuracy(classes[i], guess[i]), n, patients=patients, seed=4)


def test_patient_groups_gather_a_resample_in_the_order_its_patients_were_drawn():
    groups = m.PatientGroups.of(("b", "a", "b", "c", "a"), 5)                   # sorted: a -> 1, 4; b -> 0, 2; c -> 3
    assert groups.gather(np.array([1, 1, 2, 0])).tolist() == [0, 2, 0, 2, 3, 1, 4]
    assert groups.image_group().tolist() == [1, 0, 1, 2, 0]


def test_ranks_match_scipy_with_and_without_ties():
    from scipy.stats import rankdata

    from asgbench.tasks.metrics import _ranks

    rng = np.random.default_rng(11)
    distinct = rng.random((200, 5))
    tied = np.round(distinct, 1)
    all_equal = np.ones((7, 3))
    for scores in (distinct, tied, tied.astype(np.float32), all_equal, distinct[:, :1]):
        assert np.array_equal(_ranks(scores), rankdata(scores, axis=0))


def test_the_threshold_chosen_on_val_has_the_best_mean_dice_of_the_grid():
    from asgbench.tasks.segmentation import THRESHOLD_GRID, best_threshold

    truth = np.zeros((3, 4, 4), dtype=bool)
    truth[0, :2, :2] = True                                   # image 0 has a lesion; images 1 and 2 are empty
    probabilities = np.full((3, 4, 4), 0.1, dtype=np.float32)
    probabilities[0, :2, :2] = 0.7                            # the lesion scores 0.7, the background 0.1 ...
    probabilities[1, 0, 0] = 0.4                              # ... and one false alarm on an empty image 0.4
    threshold, dice = best_threshold(truth, probabilities)
    assert threshold == 0.45 and dice == 1.0                  # the lowest threshold above the false alarm
    for t in THRESHOLD_GRID:
        assert m.dice_per_image(truth, probabilities >= t).mean() <= dice
    nothing, empty_dice = best_threshold(truth, np.zeros((3, 4, 4), dtype=np.float32))
    assert (nothing, empty_dice) == (THRESHOLD_GRID[0], 2 / 3)   # no pixel at any threshold: the empty images score
