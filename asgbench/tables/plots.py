"""The label-efficiency plot: a task's headline metric against the training fraction, one line per row."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from asgbench.errors import AsgbenchError
from asgbench.tables.aggregate import ROW_KEY, RowKey, aggregate, row_keys
from asgbench.tables.build import row_labels
from asgbench.tables.layout import FRACTIONS, METRIC_NAMES

MARKERS = "osD^v<>ph*"


def label_efficiency_plot(frame: pd.DataFrame, task: str, path: str | Path) -> Path:
    """Headline metric against training fraction (log axis), one line per model; error bars are the runs'
    bootstrap 95 % CIs, averaged over runs (available even for a single run, unlike an sd)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    runs = frame[(frame["task"] == task) & frame["headline"]] if not frame.empty else frame
    if runs.empty:
        raise AsgbenchError(f"no results for task {task!r} to plot")
    stats = aggregate(runs)
    keys = sorted(row_keys(stats), key=lambda key: (key.order, key))
    labels = row_labels(keys, ablation=False)
    metric = METRIC_NAMES.get(stats["metric"].iloc[0], stats["metric"].iloc[0])
    figure = Figure(figsize=(6.4, 4.4))
    axes = figure.add_subplot()
    by_row = {RowKey(*values): rows for values, rows in stats.groupby(ROW_KEY, sort=False, dropna=False)}
    for number, key in enumerate(keys):
        mine = by_row[key].sort_values("fraction")
        mean = 100 * mine["mean"].to_numpy(dtype=float)
        below = (mean - 100 * mine["ci_low"].to_numpy(dtype=float)).clip(min=0)
        above = (100 * mine["ci_high"].to_numpy(dtype=float) - mean).clip(min=0)
        axes.errorbar(mine["fraction"].to_numpy(dtype=float), mean, yerr=[below, above], capsize=3,
                      marker=MARKERS[number // 10 % 10], label=labels[key])
    axes.set_xscale("log")
    axes.set_xticks(list(FRACTIONS))
    axes.set_xticklabels([str(f) for f in FRACTIONS])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("training data (%)")
    axes.set_ylabel(f"{metric} (%), mean over runs\nbars: bootstrap 95% CI, averaged over runs")
    axes.set_title(task)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, format="png", bbox_inches="tight")
    return path
