"""Which rows of a table column are significantly below the column's best row.

Every measured row is compared with the column's best (highest mean) row on the same test images: the
difference of their means over runs is bootstrapped from the runs' per-image outputs, patients and runs
resampled (:func:`asgbench.tasks.paired.pooled_difference`), and the row is below the best when the
two-sided 95 % interval of ``row - best`` lies entirely under 0. Each row is tested against the best on its
own, without a multiplicity correction. A row whose runs (or the best's) have no per-image outputs, or were
scored on another test list than the best's, is not tested and says why; published rows never are.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asgbench.errors import AsgbenchError
from asgbench.tables.outputs import BOOTSTRAP_SEED, RunOutputs
from asgbench.tasks.paired import pooled_difference

CONFIDENCE = 0.95
NO_OUTPUTS = "no per-image outputs"
OTHER_IMAGES = "other test images than the best row"
UNDEFINED = "a metric undefined on every resample"


@dataclass(frozen=True)
class CellRuns:
    """A measured cell: its mean (any unit, only compared) and the runs it pools."""

    mean: float
    run_ids: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """``below``: True / False when tested, None when not (``untested`` says why; "" for nothing to test)."""

    below: bool | None = None
    untested: str = ""
    interval: tuple[float, float] | None = None


def best_index(cells: Sequence[CellRuns | None]) -> int | None:
    """The cell with the highest mean (the first of equal ones); None without two measured cells."""
    measured = [i for i, cell in enumerate(cells) if cell is not None]
    if len(measured) < 2:
        return None
    return max(measured, key=lambda i: (cells[i].mean, -i))


def column_verdicts(cells: Sequence[CellRuns | None], metric: str, outputs: RunOutputs) -> tuple[Verdict, ...]:
    """One verdict per cell of a column (None: no measured value there)."""
    verdicts = [Verdict() for _ in cells]
    best = best_index(cells)
    if best is None:
        return tuple(verdicts)
    reference = outputs.runs(cells[best].run_ids, metric)
    verdicts[best] = Verdict(False)
    for i, cell in enumerate(cells):
        if cell is None or i == best:
            continue
        runs = outputs.runs(cell.run_ids, metric)
        if reference is None or runs is None:
            verdicts[i] = Verdict(untested=NO_OUTPUTS)
            continue
        if len({run.resamples for run in runs + reference}) > 1:
            verdicts[i] = Verdict(untested=OTHER_IMAGES)
            continue
        try:
            difference = pooled_difference(runs, reference, seed=BOOTSTRAP_SEED)
        except AsgbenchError:                   # the metric is undefined on every resample
            verdicts[i] = Verdict(untested=UNDEFINED)
            continue
        low, high = difference.interval(CONFIDENCE)
        verdicts[i] = Verdict(high < 0, interval=(low, high))
    return tuple(verdicts)


@dataclass(frozen=True)
class Tested:
    """How many measured cells of a table were compared with their column's best, and why others were not."""

    tested: int = 0
    below: int = 0
    untested: tuple[tuple[str, int], ...] = ()     # (reason, count)

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> Tested:
        reasons: dict[str, int] = {}
        for verdict in verdicts:
            if verdict.untested:
                reasons[verdict.untested] = reasons.get(verdict.untested, 0) + 1
        return cls(sum(v.below is not None for v in verdicts), sum(v.below is True for v in verdicts),
                   tuple(sorted(reasons.items())))
