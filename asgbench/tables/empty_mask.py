"""The segmentation table's floor: the Dice of predicting no mask at all, and which cells do not clear it.

Per-image Dice scores an image whose mask and prediction are both empty as 1, so a model that predicts nothing
scores the share of test images without a lesion. The table prints that empty-mask baseline as a row (from the
``empty_mask_dice`` its runs record on their own test lists; 0 on lesion images, whose Dice predicting nothing
is 0) and marks a Dice cell whose paired difference ``dice - empty mask`` (``dice_minus_empty``, bootstrapped
on the run's own patient resamples) does not lie above 0 in every run of the cell. Runs written before those
metrics existed leave the row's cell empty and their cells untested.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from asgbench.tables.layout import EMPTY_MASK_DICE, EMPTY_MASK_LABEL, LESION_DICE, Column
from asgbench.tables.model import Cell, Row

MINUS_EMPTY = "dice_minus_empty"
HEADLINE_DICE = "dice"


def _values(runs: pd.DataFrame, metric: str, run_ids: set[str]) -> pd.DataFrame:
    return runs[(runs["metric"] == metric) & runs["run_id"].isin(run_ids)]


def empty_mask_row(runs: pd.DataFrame, run_ids: set[str], columns: tuple[Column, ...]) -> Row | None:
    """The empty-mask baseline over the table's runs (mean over runs where test lists differ); None without one."""
    if runs.empty or not run_ids:
        return None
    recorded = _values(runs, EMPTY_MASK_DICE, run_ids).groupby(["task", "fraction"])["value"].mean()
    cells = []
    for column in columns:
        value = recorded.get((column.task, column.fraction))
        if value is None or math.isnan(value):
            cells.append(Cell())
        elif column.metric == HEADLINE_DICE:
            cells.append(Cell(100 * float(value)))
        elif column.metric == LESION_DICE:
            cells.append(Cell(0.0))
        else:
            cells.append(Cell())
    return Row(EMPTY_MASK_LABEL, False, tuple(cells), baseline=True) if any(c.mean is not None for c in cells) else None


def not_above_empty(runs: pd.DataFrame, run_ids: tuple[str, ...]) -> bool | None:
    """True when some run's paired 95 % CI of ``dice - empty mask`` reaches 0 or below; None when a run lacks it."""
    lows = _values(runs, MINUS_EMPTY, set(run_ids)).drop_duplicates("run_id").set_index("run_id")["ci_low"]
    if any(run_id not in lows.index or math.isnan(lows[run_id]) for run_id in run_ids):
        return None
    return bool((lows.loc[list(run_ids)] <= 0).any())


def floor_cell(cell: Cell, column: Column, runs: pd.DataFrame, run_ids: tuple[str, ...] | None) -> Cell:
    """``cell`` with its empty-mask verdict when it is a measured headline Dice; unchanged otherwise."""
    if column.metric != HEADLINE_DICE or cell.mean is None or not run_ids:
        return cell
    return replace(cell, floor=not_above_empty(runs, run_ids))
