"""The ASG README's tables as data: which sections exist, their column groups, titles and row blocks.

Everything that decides where a number is printed lives here, once, so that the published numbers
(:mod:`asgbench.tables.reported`), the table builder and the renderers agree on it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from asgbench.data.splits.protocol import FRACTIONS
from asgbench.tasks.protocols import LINEAR_PROBE, SEGMENTATION, ZERO_SHOT

# -- sections -------------------------------------------------------------------------------------------
LINEAR_PROBE_TABLE = "linear-probe"
ZERO_SHOT_TABLE = "zero-shot"
SEGMENTATION_TABLE = "segmentation"   # the README's table name (it happens to spell like the evaluation kind)
ABLATION_TABLE = "ablation"
SECTIONS = (LINEAR_PROBE_TABLE, ZERO_SHOT_TABLE, SEGMENTATION_TABLE, ABLATION_TABLE)

# The evaluation kind whose runs fill a section; the ablation table takes several kinds, by checkpoint.
SECTION_KINDS: Mapping[str, str | None] = MappingProxyType({
    LINEAR_PROBE_TABLE: LINEAR_PROBE, ZERO_SHOT_TABLE: ZERO_SHOT, SEGMENTATION_TABLE: SEGMENTATION,
    ABLATION_TABLE: None})
SECTION_TITLES: Mapping[str, str] = MappingProxyType({
    LINEAR_PROBE_TABLE: "Linear probe classification (frozen encoder)",
    ZERO_SHOT_TABLE: "Zero-shot classification",
    SEGMENTATION_TABLE: "Segmentation (U-Net / SETR-PUP on the pre-trained encoder)",
    ABLATION_TABLE: "Ablation of the ASG pre-training objectives"})
# Sections whose rows fall into the README's blocks; the others print one block without a heading.
BLOCKED_SECTIONS = (LINEAR_PROBE_TABLE, SEGMENTATION_TABLE)

# -- row blocks -------------------------------------------------------------------------------------------
# The keys are asgbench.encoders.config.GROUPS (not imported: that package imports torch), in print order.
BLOCK_TITLES: Mapping[str, str | None] = MappingProxyType({"init": None, "CNN": "CNN-based", "ViT": "ViT-based"})

# -- ablation rows ---------------------------------------------------------------------------------------
OBJECTIVE_ORDER = ("ira", "arsa", "irl", "erl")
ABLATION_ORDER = (("ira",), ("ira", "arsa"), ("ira", "irl"), ("ira", "irl", "erl"), ("ira", "arsa", "irl", "erl"))

# -- columns ----------------------------------------------------------------------------------------------
ZERO_SHOT_METRICS = ("auc", "f1", "accuracy")
# Segmentation's readable companions of the headline Dice (asgbench.tasks.metrics.read_segmentation): Dice on the
# test images with a lesion has columns of its own; the empty-mask baseline is a row of the segmentation table.
LESION_DICE = "dice_positive_images"
EMPTY_MASK_DICE = "empty_mask_dice"
EMPTY_MASK_LABEL = "Empty mask (predicts nothing)"
METRIC_NAMES: Mapping[str, str] = MappingProxyType({"auc": "AUC", "accuracy": "ACC", "f1": "F1", "dice": "Dice",
                                                    LESION_DICE: "Dice on lesion images"})
DATASET_NAMES: Mapping[str, str] = MappingProxyType({
    "nih": "NIH X-ray", "chexpert": "CheXpert", "rsna": "RSNA", "covidx": "COVIDx", "siim": "SIIM"})


@dataclass(frozen=True, order=True)
class Column:
    """One number's place: a task, the metric printed for it and the training fraction (zero-shot: 100)."""

    task: str
    metric: str
    fraction: int


@dataclass(frozen=True)
class ColumnGroup:
    """A header spanning several columns, e.g. "NIH X-ray (AUC)" over 1 %, 10 %, 100 %."""

    title: str
    short: str
    columns: tuple[Column, ...]
    subtitles: tuple[str, ...]


def fraction_columns(tasks: tuple[tuple[str, str], ...]) -> tuple[Column, ...]:
    """(task, metric) pairs -> one column per pair and training fraction."""
    return tuple(Column(task, metric, fraction) for task, metric in tasks for fraction in FRACTIONS)


def zero_shot_columns(task: str) -> tuple[Column, ...]:
    """A zero-shot task prints its three metrics, all at fraction 100."""
    return tuple(Column(task, metric, 100) for metric in ZERO_SHOT_METRICS)


LINEAR_PROBE_COLUMNS = fraction_columns((("nih-lp", "auc"), ("chexpert-lp", "auc"), ("rsna-lp", "auc"),
                                         ("covidx-lp", "accuracy")))
SEGMENTATION_COLUMNS = fraction_columns((("siim-seg", "dice"), ("rsna-seg", "dice")))   # the published ones
SEGMENTATION_TABLE_COLUMNS = fraction_columns((("siim-seg", "dice"), ("siim-seg", LESION_DICE), ("rsna-seg", "dice"),
                                               ("rsna-seg", LESION_DICE)))
ABLATION_COLUMNS = fraction_columns((("nih-lp", "auc"), ("covidx-lp", "accuracy"), ("rsna-seg", "dice")))
RSNA_ZERO_SHOT_COLUMNS = zero_shot_columns("rsna-zs")
NIH_ZERO_SHOT_COLUMNS = zero_shot_columns("nih-zs")

# task -> (group title, short title for one-line headers)
TASK_TITLES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "nih-lp": ("NIH X-ray (AUC)", "NIH AUC"), "chexpert-lp": ("CheXpert (AUC)", "CheXpert AUC"),
    "rsna-lp": ("RSNA (AUC)", "RSNA AUC"), "covidx-lp": ("COVIDx (ACC)", "COVIDx ACC"),
    "siim-seg": ("SIIM (Dice)", "SIIM Dice"), "rsna-seg": ("RSNA (Dice)", "RSNA Dice")})
ZERO_SHOT_SUBTITLES = tuple(METRIC_NAMES[metric] for metric in ZERO_SHOT_METRICS)
# (task, metric) -> titles, for a task's columns of another metric than its headline
METRIC_TITLES: Mapping[tuple[str, str], tuple[str, str]] = MappingProxyType({
    ("siim-seg", LESION_DICE): ("SIIM (Dice, lesion images)", "SIIM lesion Dice"),
    ("rsna-seg", LESION_DICE): ("RSNA (Dice, lesion images)", "RSNA lesion Dice")})


def fraction_group(task: str, metric: str, title: str, short: str) -> ColumnGroup:
    columns = tuple(Column(task, metric, fraction) for fraction in FRACTIONS)
    return ColumnGroup(title, short, columns, tuple(f"{fraction}%" for fraction in FRACTIONS))


def zero_shot_group(task: str, title: str, short: str) -> ColumnGroup:
    return ColumnGroup(title, short, zero_shot_columns(task), ZERO_SHOT_SUBTITLES)


def _groups_of(columns: tuple[Column, ...]) -> tuple[ColumnGroup, ...]:
    tasks = dict.fromkeys((column.task, column.metric) for column in columns)
    return tuple(fraction_group(task, metric, *METRIC_TITLES.get((task, metric), TASK_TITLES[task]))
                 for task, metric in tasks)


LAYOUTS: Mapping[str, tuple[ColumnGroup, ...]] = MappingProxyType({
    LINEAR_PROBE_TABLE: _groups_of(LINEAR_PROBE_COLUMNS),
    ZERO_SHOT_TABLE: (zero_shot_group("rsna-zs", "RSNA", "RSNA"), zero_shot_group("nih-zs", "NIH X-ray", "NIH")),
    SEGMENTATION_TABLE: _groups_of(SEGMENTATION_TABLE_COLUMNS),
    ABLATION_TABLE: _groups_of(ABLATION_COLUMNS),
})


def extra_group(kind: str, task: str, dataset: str, metric: str) -> ColumnGroup:
    """The columns of a task that has results but no published column (titled by its dataset)."""
    title = DATASET_NAMES.get(dataset, dataset)
    if kind == ZERO_SHOT:
        return zero_shot_group(task, title, title)
    metric_name = METRIC_NAMES.get(metric, metric)
    return fraction_group(task, metric, f"{title} ({metric_name})", f"{title} {metric_name}")
