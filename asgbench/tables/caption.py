"""A table's caption: what is measured, how, how many runs, and the settings every run of a task shared.

Settings that every row of a task has in common (a non-default evaluation protocol such as
``segmentation-demo``, or the same overrides) describe the task's columns, not its rows: they move from the
row labels into the caption, and the rows they kept apart merge.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from asgbench.tables.layout import (ABLATION_TABLE, EMPTY_MASK_LABEL, METRIC_NAMES, SECTION_TITLES, SEGMENTATION_TABLE,
                                    ZERO_SHOT_TABLE, ColumnGroup)
from asgbench.tables.model import BELOW_SIGN, FLOOR_SIGN
from asgbench.tables.significance import Tested
from asgbench.tasks.metrics import BOOTSTRAP_SAMPLES

REPORTED_NOTE = ("Italic rows marked (reported) are the ASG README's published numbers, measured on the authors' "
                 "own splits and protocols")
BELOW_NOTE = (f"{BELOW_SIGN}: significantly below the column's best measured row: the two-sided 95 % CI of row - best "
              "lies below 0 (paired bootstrap on the same test images from the runs' per-image outputs, "
              f"{BOOTSTRAP_SAMPLES:,} resamples of patients and of each row's runs; each row against the best alone).")


INTERVAL_NOTE = (f"[low, high]: the 95 % CI of the cell's mean (bootstrap of {BOOTSTRAP_SAMPLES:,} resamples of the test "
                 "patients and of the cell's runs, from their per-image outputs): the test-set uncertainty, where the "
                 "± sd is the spread between runs; a cell without one has no per-image outputs or is not recomputable "
                 "from them.")
SEGMENTATION_NOTE = ("Dice: mean per-image Dice over all test images, an image whose mask and prediction are both "
                     "empty scoring 1; Dice on lesion images: the same mean over the test images whose mask is not empty "
                     "(not tested against the best row).")
EMPTY_MASK_NOTE = (f"The row {EMPTY_MASK_LABEL} is the Dice of predicting no mask on every test image: the share of "
                   "test images without a lesion, and 0 on lesion images; a model shows localisation only where it beats "
                   f"that row. {FLOOR_SIGN}: not significantly above the empty mask: the 95 % CI of the paired difference "
                   "Dice - empty mask (bootstrap of the run's test patients, the same resamples for both) does not lie "
                   "above 0 in every run of the cell; cells whose runs do not record it are not marked.")
NO_EMPTY_MASK_NOTE = ("No run here records the empty-mask baseline (results written before it existed), so no cell "
                      f"is tested against it ({FLOOR_SIGN}).")


@dataclass(frozen=True, order=True)
class SharedSetting:
    """What every run of one task used: its evaluation protocol ("" when the runs differ) and overrides."""

    eval_protocol: str
    overrides: str = ""

    def describe(self) -> str:
        if not self.eval_protocol:
            return f"the overrides {self.overrides}"
        return f"the evaluation protocol {self.eval_protocol}" + (f" with overrides {self.overrides}"
                                                                   if self.overrides else "")


def shared_settings(here: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, SharedSetting]]:
    """Clear what every row of a task shares (a non-default evaluation protocol, the same overrides) from those
    rows and return it per task for the caption; a setting only some rows of a task have stays in their labels."""
    if here.empty:
        return here, {}
    here = here.copy()
    shared = {}
    for task, rows in here.groupby("task"):
        variants, overrides = set(rows["eval_protocol_variant"]), set(rows["overrides"])
        protocol_shared = len(variants) == 1 and variants != {""}
        overrides_shared = len(overrides) == 1 and overrides != {""}
        if not (protocol_shared or overrides_shared):
            continue
        protocols = set(rows["eval_protocol"])
        shared[str(task)] = SharedSetting(protocols.pop() if len(protocols) == 1 else "",
                                          overrides.pop() if overrides_shared else "")
        cleared = ["eval_protocol_variant"] * protocol_shared + ["overrides"] * overrides_shared
        here.loc[here["task"] == task, cleared] = ""
    return here, shared


def _plural(word: str, values: list[str]) -> str:
    return f"{word}{'s' if len(values) > 1 else ''} {', '.join(values)}"


def _runs_sentence(here: pd.DataFrame) -> list[str]:
    splits = sorted(set(here["split_protocol"]))
    protocols = sorted(set(here["eval_protocol"]))
    parts = [f"{_plural('Split protocol', splits)}; {_plural('evaluation protocol', protocols)}."]
    seeded = here[here["pretrain_seeds"] > 1] if "pretrain_seeds" in here else here.iloc[:0]
    if not seeded.empty:
        seeds = sorted(set(int(n) for n in seeded["pretrain_seeds"]))
        counted = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
        models = ", ".join(sorted(set(seeded["model"])))
        parts.append(f"Rows pre-trained with several seeds ({models}: {counted} seeds) show the mean over all their "
                     "runs ± the sd over pre-training seeds (of each seed's mean); other rows ± the sd over runs.")
    counts = sorted(set(int(n) for n in here["n"]))
    if counts == [1]:
        parts.append("One run per cell (no sd).")
    elif len(counts) == 1:
        parts.append(f"Mean ± sd over {counts[0]} runs (seeds × split draws).")
    else:
        parts.append(f"Mean ± sd over {counts[0]}–{counts[-1]} runs per cell (seeds × split draws; "
                     "no sd where a cell has one run).")
    parts.append("Best measured value per column in bold, second underlined.")
    return parts


def _shared_sentences(shared: Mapping[str, SharedSetting]) -> list[str]:
    tasks_of: dict[SharedSetting, list[str]] = defaultdict(list)
    for task, setting in shared.items():
        tasks_of[setting].append(task)
    return [f"Every {' and '.join(sorted(tasks))} run used {setting.describe()}." for setting, tasks in tasks_of.items()]


def _significance_sentences(tested: Tested, include_reported: bool) -> list[str]:
    """The legend of the below-best mark, and which cells it could not judge (no mark there means untested)."""
    untested = [f"{count} measured cell{'s' if count > 1 else ''} ({reason})" for reason, count in tested.untested]
    if include_reported:
        untested.append("the published rows (no per-image outputs)")
    parts = [BELOW_NOTE]
    if untested:
        parts.append(f"Not tested, so never marked: {'; '.join(untested)}.")
    return parts


def _data_sentence(synthetic: tuple[int, int]) -> list[str]:
    """Numbers from the synthetic look-alike suite say so, whatever else the table holds."""
    count, total = synthetic
    if not count:
        return []
    which = "All runs" if count == total else f"{count} of {total} runs"
    return [f"{which} measured on asgbench's synthetic look-alike suite, not on the real datasets."]


def caption(name: str, here: pd.DataFrame, groups: tuple[ColumnGroup, ...], include_reported: bool,
            shared: Mapping[str, SharedSetting] | None = None, tested: Tested | None = None,
            synthetic: tuple[int, int] = (0, 0), empty_mask: bool = False, intervals: bool = False) -> str:
    metrics = ", ".join(dict.fromkeys(METRIC_NAMES.get(c.metric, c.metric) for g in groups for c in g.columns))
    parts = [f"{SECTION_TITLES[name]}: test-set {metrics} in %."] + _data_sentence(synthetic)
    parts += ["No measured runs yet."] if here.empty else _runs_sentence(here)
    if not here.empty and intervals:
        parts.append(INTERVAL_NOTE)
    if not here.empty:
        parts += _significance_sentences(tested or Tested(), include_reported)
    parts += _shared_sentences(shared or {})
    if name == SEGMENTATION_TABLE and not here.empty:
        parts += [SEGMENTATION_NOTE, EMPTY_MASK_NOTE if empty_mask else NO_EMPTY_MASK_NOTE]
    if name == ZERO_SHOT_TABLE:
        parts.append("F1 and ACC at the threshold chosen on val; runs at fraction 100 only.")
    if name == ABLATION_TABLE:
        parts.append("Rows: asgbench-trained ASG checkpoints by pre-training objectives (ARSA alignment in brackets).")
    if include_reported:
        parts.append(REPORTED_NOTE + ("; † and # are its two unexplained ARSA variants." if name == ABLATION_TABLE
                                      else "."))
    return " ".join(parts)
