"""The numbers the ASG authors published, as data, so that tables can print them beside ours.

Source: the "Results" section of the ASG README (github.com/ASGMVLP/ASGMVLP_CODE; copy in
``shared/reference/asg-readme.md``): linear probe, zero-shot (RSNA), segmentation and ablation tables.
The NIH zero-shot row is not in that README copy; it comes from the method notes (``asg-method.md`` §6.5),
which cite the same authors. Values are percentages exactly as printed (``9.00`` is stored as 9.0); the
published bold/underline marks are not kept. The README calls the authors' method "Ours"; rows keep that
name in ``method`` and display as "ASG". Where each number goes (its :class:`Column`) is
:mod:`asgbench.tables.layout`'s business.

Published rows were measured with the authors' own splits and protocols (MGCA's, KAD's for NIH), so they
are context, not targets that asgbench's numbers must equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from asgbench.tables.layout import (ABLATION_COLUMNS, ABLATION_TABLE, LINEAR_PROBE_COLUMNS, LINEAR_PROBE_TABLE,
                                    NIH_ZERO_SHOT_COLUMNS, RSNA_ZERO_SHOT_COLUMNS, SEGMENTATION_COLUMNS,
                                    SEGMENTATION_TABLE, ZERO_SHOT_TABLE, Column)

README = "ASG README (asg-readme.md)"
METHOD_NOTES = "asg-method.md §6.5 (not in the README copy)"

Group = Literal["init", "CNN", "ViT"]


@dataclass(frozen=True)
class ReportedRow:
    """One published table row; ``model`` is the asgbench registry name it corresponds to, if any."""

    table: str                        # one of asgbench.tables.layout.SECTIONS
    method: str
    group: Group | None
    model: str | None
    values: dict[Column, float] = field(compare=False)
    objectives: tuple[str, ...] = ()
    arsa_variant: str | None = None  # the README's ARSA† / ARSA# marks; what distinguishes them is unpublished
    source: str = README
    note: str = ""

    @property
    def label(self) -> str:
        if self.table == ABLATION_TABLE:
            names = [o.upper() + ((self.arsa_variant or "") if o == "arsa" else "") for o in self.objectives]
            return "+".join(names)
        return "ASG" if self.method == "Ours" else self.method


def _values(columns: tuple[Column, ...], printed: str) -> dict[Column, float]:
    numbers = [float(token) for token in printed.split()]
    if len(numbers) != len(columns):
        raise ValueError(f"{len(numbers)} numbers for {len(columns)} columns: {printed!r}")
    return dict(zip(columns, numbers))


def _probe(method: str, group: Group, model: str | None, printed: str) -> ReportedRow:
    return ReportedRow(LINEAR_PROBE_TABLE, method, group, model, _values(LINEAR_PROBE_COLUMNS, printed))


def _segmentation(method: str, group: Group, model: str | None, printed: str) -> ReportedRow:
    return ReportedRow(SEGMENTATION_TABLE, method, group, model, _values(SEGMENTATION_COLUMNS, printed))


def _ablation(objectives: tuple[str, ...], arsa_variant: str | None, printed: str) -> ReportedRow:
    return ReportedRow(ABLATION_TABLE, "Ours", None, "asg-vit", _values(ABLATION_COLUMNS, printed),
                       objectives=objectives, arsa_variant=arsa_variant, note="ViT-B/16")


# Random and ImageNet init rows are ResNet-50 in MGCA's tables, which the ASG README copies.

REPORTED: tuple[ReportedRow, ...] = (
    # Linear probe: NIH AUC, CheXpert AUC, RSNA AUC, COVIDx ACC, each at 1 / 10 / 100 %.
    _probe("Random Init", "init", "random-r50", "52.1 54.6 55.3  56.1 62.6 65.7  58.9 69.4 74.1  50.5 60.3 70.0"),
    _probe("ImageNet Init", "init", "imagenet-r50", "67.0 67.5 71.6  74.4 79.7 81.4  74.9 74.5 76.3  64.8 78.8 86.3"),
    _probe("ConVIRT", "CNN", "convirt", "64.9 77.1 80.8  85.9 86.8 87.3  77.4 80.1 81.3  72.5 82.5 92.0"),
    _probe("GLoRIA", "CNN", "gloria", "59.7 74.3 80.0  87.1 88.7 88.0  87.0 89.4 90.2  66.5 80.5 88.0"),
    _probe("MedKLIP", "CNN", "medklip", "60.9 74.8 80.1  82.3 85.4 87.3  83.3 86.6 88.1  74.5 83.5 91.3"),
    _probe("MedCLIP", "CNN", "medclip-r50", "76.5 80.5 82.1  87.1 87.6 88.1  87.0 88.6 89.2  73.5 82.3 91.3"),
    _probe("KAD", "CNN", "kad", "78.7 80.7 82.5  87.2 88.6 88.7  86.7 88.7 89.9  73.5 83.0 90.5"),
    _probe("MGCA", "CNN", "mgca-r50", "77.7 80.8 82.6  87.6 88.0 88.2  87.6 88.6 89.8  72.0 83.5 90.5"),
    _probe("Ours", "CNN", "asg-r50", "77.0 81.0 82.9  87.7 88.2 88.7  87.2 88.8 89.7  77.3 84.8 93.3"),
    _probe("MRM", "ViT", "mrm", "78.0 82.1 83.2  88.5 88.5 88.7  87.2 88.7 89.7  79.0 85.5 92.5"),
    _probe("MGCA", "ViT", "mgca-vit", "78.9 82.1 83.5  88.8 89.1 89.7  88.6 89.5 90.0  74.8 84.8 92.3"),
    _probe("Ours", "ViT", "asg-vit", "79.5 82.2 83.6  87.9 89.0 89.0  88.4 89.5 90.2  81.3 87.0 93.3"),
    # Segmentation: SIIM Dice, RSNA Dice, each at 1 / 10 / 100 %.
    _segmentation("Random Init", "init", "random-r50", "9.00 28.6 54.3  6.90 10.6 18.5"),
    _segmentation("ImageNet Init", "init", "imagenet-r50", "10.2 35.5 63.5  34.8 39.9 64.0"),
    _segmentation("ConVIRT", "CNN", "convirt", "25.0 43.2 59.9  55.0 67.4 67.5"),
    _segmentation("GLoRIA", "CNN", "gloria", "37.4 57.1 64.2  60.3 68.7 68.3"),
    _segmentation("MedKLIP", "CNN", "medklip", "55.1 62.0 66.8  64.7 68.9 70.3"),
    _segmentation("MedCLIP", "CNN", "medclip-r50", "51.2 62.6 67.6  65.7 68.6 69.6"),
    _segmentation("KAD", "CNN", "kad", "58.4 68.2 69.9  67.9 68.5 70.3"),
    _segmentation("MGCA", "CNN", "mgca-r50", "49.7 59.3 64.2  63.0 68.3 69.8"),
    _segmentation("Ours", "CNN", "asg-r50", "60.7 66.7 73.6  68.4 69.9 72.6"),
    _segmentation("MRM", "ViT", "mrm", "68.3 69.5 72.2  69.5 69.2 70.6"),
    _segmentation("MGCA", "ViT", "mgca-vit", "60.1 65.4 69.6  69.3 70.0 72.3"),
    _segmentation("Ours", "ViT", "asg-vit", "71.9 74.7 75.6  71.7 72.3 72.8"),
    # Zero-shot: AUC, F1, ACC. The backbone of "Ours" is not stated (the released code trains ViT-B/16 only,
    # hence asg-vit).
    ReportedRow(ZERO_SHOT_TABLE, "BioViL", None, "biovil", _values(RSNA_ZERO_SHOT_COLUMNS, "83.8 58.1 77.8")),
    ReportedRow(ZERO_SHOT_TABLE, "MedKLIP", None, "medklip", _values(RSNA_ZERO_SHOT_COLUMNS, "84.5 61.6 74.2")),
    ReportedRow(ZERO_SHOT_TABLE, "Ours", None, "asg-vit",
                {**_values(RSNA_ZERO_SHOT_COLUMNS, "86.2 62.8 79.4"),
                 **_values(NIH_ZERO_SHOT_COLUMNS, "77.0 27.5 90.0")},
                note="NIH numbers from " + METHOD_NOTES),
    # Ablation (ViT): NIH AUC, COVIDx ACC, RSNA Dice, each at 1 / 10 / 100 %.
    _ablation(("ira",), None, "78.2 81.7 82.6  75.3 85.8 91.0  65.1 67.7 68.3"),
    _ablation(("ira", "arsa"), "†", "79.1 81.8 83.1  77.5 86.0 92.3  70.6 71.2 71.9"),
    _ablation(("ira", "arsa"), "#", "78.9 81.5 83.4  76.3 86.3 92.0  69.0 69.4 69.7"),
    _ablation(("ira", "irl"), None, "78.7 81.8 82.9  78.3 86.0 91.0  66.2 68.6 68.8"),
    _ablation(("ira", "irl", "erl"), None, "78.8 81.7 83.4  79.3 86.5 92.8  67.4 68.6 69.7"),
    _ablation(("ira", "arsa", "irl", "erl"), "†", "79.5 82.2 83.6  81.3 87.0 93.3  71.7 72.3 72.8"),
)


def reported_rows(table: str) -> list[ReportedRow]:
    """The published rows of one table, in the README's order."""
    return [row for row in REPORTED if row.table == table]
