"""The label-efficiency plot: a task's headline metric against the training fraction, one line per row.

Each point is the mean over the row's runs at that fraction; its bar is the 95 % bootstrap interval of that
mean (test patients and runs resampled, from the runs' per-image outputs). A point whose runs have no outputs
shows its run's own interval when it is a single run (the same patient bootstrap), and no bar otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.errors import AsgbenchError
from asgbench.tables.aggregate import ROW_KEY, RowKey, aggregate, row_keys
from asgbench.tables.build import row_labels
from asgbench.tables.layout import FRACTIONS, METRIC_NAMES
from asgbench.tables.outputs import NO_OUTPUTS, RunOutputs

MARKERS = "osD^v<>ph*"
BAR_LABEL = "bars: 95% CI of the mean (bootstrap over test patients and runs)"


def point_interval(runs: pd.DataFrame, run_ids: tuple[str, ...], metric: str,
                   outputs: RunOutputs) -> tuple[float, float] | None:
    """The interval of one plotted mean (fractions, not percent); None when nothing supports one."""
    interval = outputs.mean_interval(run_ids, metric)
    if interval is not None:
        return interval
    if len(run_ids) == 1:
        row = runs[(runs["run_id"] == run_ids[0]) & (runs["metric"] == metric)].iloc[0]
        if not (math.isnan(row["ci_low"]) or math.isnan(row["ci_high"])):
            return float(row["ci_low"]), float(row["ci_high"])
    return None


@dataclass(frozen=True)
class Curve:
    """One row's line: the mean over its runs at each fraction and that mean's interval (percent; None: no bar)."""

    label: str
    fractions: tuple[int, ...]
    means: tuple[float, ...]
    intervals: tuple[tuple[float, float] | None, ...]


def curves(frame: pd.DataFrame, task: str, outputs: RunOutputs = NO_OUTPUTS) -> tuple[str, tuple[Curve, ...]]:
    """The metric's name and one curve per row, in the rows' order: what :func:`label_efficiency_plot` draws."""
    runs = frame[(frame["task"] == task) & frame["headline"]] if not frame.empty else frame
    if runs.empty:
        raise AsgbenchError(f"no results for task {task!r} to plot")
    stats = aggregate(runs)
    keys = sorted(row_keys(stats), key=lambda key: (key.order, key))
    labels = row_labels(keys, ablation=False)
    by_row = {RowKey(*values): rows for values, rows in stats.groupby(ROW_KEY, sort=False, dropna=False)}
    drawn = []
    for key in keys:
        mine = by_row[key].sort_values("fraction")
        intervals = [point_interval(runs, tuple(ids), str(metric), outputs)
                     for ids, metric in zip(mine["run_ids"], mine["metric"])]
        drawn.append(Curve(labels[key], tuple(int(f) for f in mine["fraction"]),
                           tuple(100 * float(v) for v in mine["mean"]),
                           tuple(None if i is None else (100 * i[0], 100 * i[1]) for i in intervals)))
    metric = str(stats["metric"].iloc[0])
    return METRIC_NAMES.get(metric, metric), tuple(drawn)


def label_efficiency_plot(frame: pd.DataFrame, task: str, path: str | Path, outputs: RunOutputs = NO_OUTPUTS) -> Path:
    """Headline metric against training fraction (log axis), one line per row, with the intervals above."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    metric, lines = curves(frame, task, outputs)
    figure = Figure(figsize=(6.4, 4.4))
    axes = figure.add_subplot()
    for number, curve in enumerate(lines):
        fractions, mean = np.array(curve.fractions, dtype=float), np.array(curve.means)
        (line,) = axes.plot(fractions, mean, marker=MARKERS[number // 10 % 10], label=curve.label)
        shown = np.array([interval is not None for interval in curve.intervals])
        if shown.any():                  # no bar, rather than a zero-width one, where no interval exists
            low = np.array([i[0] for i in curve.intervals if i is not None])
            high = np.array([i[1] for i in curve.intervals if i is not None])
            axes.errorbar(fractions[shown], mean[shown], capsize=3, fmt="none", ecolor=line.get_color(),
                          yerr=[(mean[shown] - low).clip(min=0), (high - mean[shown]).clip(min=0)])
    missing = sum(interval is None for curve in lines for interval in curve.intervals)
    axes.set_xscale("log")
    axes.set_xticks(list(FRACTIONS))
    axes.set_xticklabels([str(f) for f in FRACTIONS])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("training data (%)")
    note = f"; none at {missing} point{'s' if missing > 1 else ''} without per-image outputs" if missing else ""
    axes.set_ylabel(f"{metric} (%), mean over runs\n{BAR_LABEL}{note}", fontsize="small")
    axes.set_title(task)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, format="png", bbox_inches="tight")
    return path
