"""The task registry: which dataset, labels, protocol and metric each named task means.

A task's ``version`` goes into every result; change it whenever what the task computes changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from asgbench.registry import Registry
from asgbench.tasks.protocols import LINEAR_PROBE, SEGMENTATION, ZERO_SHOT
from asgbench.vocab import COMPETITION_TASKS, NIH_FINDINGS

# CheXpert's published uncertainty mapping (MGCA/GLoRIA): blanks -> 0, -1 -> 1 for these, -1 -> 0 otherwise.
CHEXPERT_UNCERTAIN_ONES = ("Atelectasis", "Edema", "Pleural Effusion")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    dataset: str
    kind: str                                   # an evaluation kind of asgbench.tasks.protocols.PROTOCOL_KINDS
    labels: tuple[str, ...]
    metric: str                                 # the headline metric: auc | accuracy | dice
    multiclass: bool = False                    # one softmax over labels (COVIDx) instead of independent sigmoids
    uncertain_ones: tuple[str, ...] = ()        # labels whose -1 becomes 1 (the rest become 0)
    list_prefix: str = ""                       # its own split lists' prefix where a split protocol has them
                                                # (RSNA segmentation: "seg_train", ... under mgca)
    mask_source: str | None = None              # segmentation: "rle", "boxes" or "mask_path"
    version: str = "1"
    description: str = ""
    extra_metrics: tuple[str, ...] = field(default_factory=tuple)


TASKS: Registry[TaskSpec] = Registry("task")


def _register(spec: TaskSpec) -> None:
    TASKS.register(spec.name, spec)


_register(TaskSpec("nih-lp", "nih", LINEAR_PROBE, NIH_FINDINGS, "auc", description="NIH ChestX-ray14, 14 findings, macro AUC"))
_register(TaskSpec("chexpert-lp", "chexpert", LINEAR_PROBE, COMPETITION_TASKS, "auc", uncertain_ones=CHEXPERT_UNCERTAIN_ONES,
                   description="CheXpert 5 competition labels (U-ones for Atelectasis, Edema, Effusion), macro AUC"))
_register(TaskSpec("rsna-lp", "rsna", LINEAR_PROBE, ("Pneumonia",), "auc", description="RSNA pneumonia, AUC"))
_register(TaskSpec("covidx-lp", "covidx", LINEAR_PROBE, ("normal", "pneumonia", "COVID-19"), "accuracy", multiclass=True,
                   description="COVIDx 3-class (A files) accuracy; B files (negative/positive) run as the binary variant",
                   extra_metrics=("auc",)))
_register(TaskSpec("rsna-zs", "rsna", ZERO_SHOT, ("Pneumonia",), "auc", extra_metrics=("f1", "accuracy"),
                   description="RSNA pneumonia zero-shot: AUC, F1 and ACC (threshold chosen on val)"))
_register(TaskSpec("nih-zs", "nih", ZERO_SHOT, NIH_FINDINGS, "auc", extra_metrics=("f1", "accuracy"),
                   description="NIH 14 findings zero-shot: macro AUC, F1, ACC"))
_register(TaskSpec("chexpert-zs", "chexpert", ZERO_SHOT, COMPETITION_TASKS, "auc", uncertain_ones=CHEXPERT_UNCERTAIN_ONES,
                   extra_metrics=("f1", "accuracy"), description="CheXpert 5 labels zero-shot: macro AUC, F1, ACC"))
_register(TaskSpec("siim-seg", "siim", SEGMENTATION, ("Pneumothorax",), "dice", mask_source="rle",
                   description="SIIM pneumothorax U-Net segmentation, Dice"))
_register(TaskSpec("rsna-seg", "rsna", SEGMENTATION, ("Pneumonia",), "dice", list_prefix="seg", mask_source="boxes",
                   description="RSNA pneumonia boxes as masks, U-Net segmentation, Dice"))
