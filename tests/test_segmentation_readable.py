"""Segmentation that can be read: Dice on lesion images, the empty-mask baseline and the paired difference
model - empty on the same bootstrap resamples, the table's empty-mask row and marks, and progress lines that
say where training stands."""
from __future__ import annotations

import numpy as np
import pytest

from asgbench.progress import EpochProgress, epoch_line
from asgbench.tables import build_table, collect, render_table
from asgbench.tables.layout import EMPTY_MASK_LABEL
from asgbench.tasks import metrics as m
from result_files import make_result

N_IMAGES = 40


def _truth(seed: int = 0) -> np.ndarray:
    """40 masks of 8 x 8, 15 with a lesion (a 2 x 3 block), the rest empty."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((N_IMAGES, 8, 8), dtype=bool)
    for i in rng.choice(N_IMAGES, 15, replace=False):
        masks[i, 2:4, 3:6] = True
    return masks


def _patients() -> list[str]:
    return [f"p{i // 2}" for i in range(N_IMAGES)]   # two images per patient: resamples draw patients, not images


def test_predicting_nothing_scores_the_empty_share_and_differs_from_the_baseline_by_zero():
    truth = _truth()
    lesion = truth.reshape(N_IMAGES, -1).any(1)
    dice = m.dice_per_image(truth, np.zeros_like(truth))
    reading = m.read_segmentation(dice, lesion, patients=_patients(), seed=3)
    assert reading.empty_mask.value == pytest.approx(1 - 15 / N_IMAGES)
    assert reading.empty_mask.value == pytest.approx(dice.mean())
    assert reading.minus_empty.value == 0.0
    assert (reading.minus_empty.low, reading.minus_empty.high) == (0.0, 0.0)
    assert reading.lesion_dice.value == 0.0


def test_dice_on_lesion_images_leaves_the_empty_images_out():
    truth = _truth()
    lesion = truth.reshape(N_IMAGES, -1).any(1)
    dice = np.where(lesion, 0.3, 1.0)
    reading = m.read_segmentation(dice, lesion, patients=_patients())
    assert reading.lesion_dice.value == pytest.approx(0.3)
    assert reading.lesion_dice.low == pytest.approx(0.3) and reading.lesion_dice.high == pytest.approx(0.3)
    changed = m.read_segmentation(np.where(lesion, 0.3, 0.0), lesion, patients=_patients())
    assert changed.lesion_dice.value == pytest.approx(0.3)                  # empty images' Dice does not enter it
    assert changed.minus_empty.value == pytest.approx(0.3 * lesion.mean() - (1 - lesion.mean()))


def test_the_paired_interval_uses_the_headline_resamples():
    """By hand: the headline bootstrap's resamples (metrics.resamples), model minus empty mask on each."""
    truth = _truth(1)
    lesion = truth.reshape(N_IMAGES, -1).any(1)
    dice = np.random.default_rng(7).uniform(0, 1, N_IMAGES)
    patients, seed = _patients(), 5
    reading = m.read_segmentation(dice, lesion, patients=patients, seed=seed)
    empty = np.where(lesion, 0.0, 1.0)
    by_hand = [dice[i].mean() - empty[i].mean() for i in m.resamples(N_IMAGES, patients, m.BOOTSTRAP_SAMPLES, seed)]
    low, high = np.percentile(by_hand, [2.5, 97.5])
    assert (reading.minus_empty.low, reading.minus_empty.high) == (pytest.approx(low), pytest.approx(high))
    lesion_by_hand = [dice[i][lesion[i]].mean() for i in m.resamples(N_IMAGES, patients, m.BOOTSTRAP_SAMPLES, seed)
                      if lesion[i].any()]
    assert (reading.lesion_dice.low, reading.lesion_dice.high) == \
        tuple(pytest.approx(v) for v in np.percentile(lesion_by_hand, [2.5, 97.5]))
    # the headline's own interval comes from the same resamples: the difference's bounds are not its bounds shifted
    headline = m.bootstrap(lambda i: float(dice[i].mean()), N_IMAGES, patients=patients, seed=seed)
    assert reading.minus_empty.value == pytest.approx(headline.value - empty.mean())
    independent = m.read_segmentation(dice, lesion, patients=patients, seed=seed + 1)
    assert independent.minus_empty.low != pytest.approx(low)


def _segmentation_result(model: str, dice: float, low: float) -> dict:
    result = make_result(model, "siim-seg", 10, 0, dice)
    result["metrics"].update({"dice_positive_images": {"value": dice - 0.3, "ci95": [dice - 0.35, dice - 0.25]},
                              "empty_mask_dice": {"value": 0.6, "ci95": [0.55, 0.65]},
                              "dice_minus_empty": {"value": dice - 0.6, "ci95": [low, dice - 0.6 + 0.05]}})
    return result


def test_the_table_shows_the_empty_mask_row_lesion_dice_and_which_cells_do_not_beat_it():
    old = make_result("convirt", "siim-seg", 10, 0, 0.7)     # a result from before the baseline: untested, unmarked
    frame = collect([_segmentation_result("asg-r50", 0.7, 0.05), _segmentation_result("mgca-r50", 0.62, -0.01), old])
    table = build_table("segmentation", frame, include_reported=False)
    siim_dice_10 = [c.fraction == 10 and c.task == "siim-seg" and c.metric == "dice" for c in table.columns].index(True)
    lesion_10 = [c.fraction == 10 and c.metric == "dice_positive_images" and c.task == "siim-seg"
                 for c in table.columns].index(True)
    baseline = table.row(EMPTY_MASK_LABEL)
    assert baseline.baseline and baseline.cells[siim_dice_10].mean == pytest.approx(60.0)
    assert baseline.cells[lesion_10].mean == 0.0 and baseline.cells[siim_dice_10].mark == ""
    assert table.row("asg-r50").cells[siim_dice_10].floor is False
    assert table.row("mgca-r50").cells[siim_dice_10].floor is True
    assert table.row("convirt").cells[siim_dice_10].floor is None
    assert table.row("asg-r50").cells[lesion_10].mean == pytest.approx(40.0)
    markdown = render_table(table, "md")
    assert "62.0 ∅" in markdown and "70.0 ∅" not in markdown and "Empty mask (predicts nothing)" in markdown
    assert "Dice on lesion images" in table.caption and "share of test images without a lesion" in table.caption


def test_a_progress_line_says_epoch_val_dice_elapsed_and_eta():
    first = EpochProgress(epoch=1, max_epochs=4, epochs_left=3, elapsed_s=2.0, epoch_s=0.0)
    assert "epoch 1/4" in first.phase() and first.eta_s() is None and "ETA after the first epoch" in first.phase()
    later = EpochProgress(epoch=3, max_epochs=4, epochs_left=1, elapsed_s=65.0, epoch_s=30.0, last_score=0.5423)
    line = epoch_line(later, 5, 16)
    assert "epoch 3/4" in line and "val Dice 54.2 %" in line and "1 min 05 s elapsed" in line
    assert "ETA ≤ 1 min 00 s" in line and line.endswith("batch 5/16")
    assert later.eta_s(0.5) == pytest.approx(45.0)


def test_segmentation_reports_progress_with_the_last_val_dice(monkeypatch):
    """The protocol's own progress state after two epochs: their mean time and the second epoch's val Dice."""
    from asgbench.tasks import segmentation
    from asgbench.tasks.protocols import protocol_for

    spec = protocol_for("segmentation", "segmentation-demo")
    clock = iter([100.0])
    monkeypatch.setattr(segmentation.time, "perf_counter", lambda: next(clock))
    state = segmentation._epoch_progress(spec, 3, [{"val_dice": 0.4}, {"val_dice": 0.55}], started=40.0,
                                         loop_started=60.0, epochs_timed=2)
    assert state.epoch_s == pytest.approx(20.0) and state.elapsed_s == pytest.approx(60.0)
    eta = (spec.max_epochs - 3 + 1) * 20                      # this epoch and every later one at 20 s each
    assert f"epoch 3/{spec.max_epochs}" in state.phase() and "val Dice 55.0 %" in state.phase()
    expected = f"{eta // 60} min {eta % 60:02d} s" if eta >= 60 else f"{eta} s"
    assert f"ETA ≤ {expected}" in state.phase()
